"""A sweep's jobs: expanded, selected, run here, archived, measured.

`expand` turns a `launch.grids.Sweep` into T5X jobs (`Job`: a
compose.Experiment and the job it waits for) under a root directory:
<root>/<size>_<variant>_k<K>[/seed_<n>]/{pretrain,finetune_<benchmark>}.
`run_local` runs one here, resumably; `archive` copies finished results;
`measure` writes a sweep's floor and cost benchmark next to its runs.
"""

import dataclasses
import os
import shlex
import subprocess
import sys
from typing import List, Optional, Sequence

from launch import compose
from launch import grids


@dataclasses.dataclass(frozen=True)
class Job:
  name: str                      # e.g. 'base_altup_k2/finetune_glue'
  model: str                     # e.g. 'base_altup_k2'
  stage: str                     # 'pretrain' or 'finetune'
  benchmark: Optional[str]       # finetune benchmark name
  experiment: compose.Experiment
  depends_on: Optional[str]      # job name that must finish first
  seed: int = 0


def model_name(size: str, variant: str, k: int, tag: str = '') -> str:
  return f'{size}_{variant}_k{k}' + (f'_{tag}' if tag else '')


def expand(sweep: grids.Sweep, root: str) -> List[Job]:
  """Every job of `sweep` under `root`, each pretrain before its finetunes.

  Seed-major: every model's first seed comes before any model's second, so a
  sweep stopped part-way has comparable models.
  """
  jobs = []
  for seed in sweep.seeds or (0,):
    seen = set()
    for size in sweep.sizes:
      for m in sweep.variants:
        model = model_name(m.size or size, m.variant, m.k, m.tag)
        if model in seen:  # a model with its own size runs once
          continue
        seen.add(model)
        run = model if sweep.seeds is None else f'{model}/seed_{seed}'
        jobs += _model_jobs(sweep, root, m, m.size or size, model, run, seed)
  return jobs


def select(jobs: Sequence[Job], models: Sequence[str] = (),
           seeds: Sequence[int] = (), stage: str = 'all') -> List[Job]:
  """The jobs of these models, seeds and stage (empty: all of them).

  Raises:
    ValueError: a model or seed the sweep does not have.
  """
  for what, wanted, have in (('model', models, {j.model for j in jobs}),
                             ('seed', seeds, {j.seed for j in jobs})):
    unknown = [w for w in wanted if w not in have]
    if unknown:
      raise ValueError(f'Unknown {what}(s) {unknown} for this sweep; it has '
                       f'{", ".join(map(str, sorted(have)))}.')
  return [j for j in jobs if (not models or j.model in models)
          and (not seeds or j.seed in seeds) and stage in ('all', j.stage)]


def _model_jobs(sweep: grids.Sweep, root: str, m: grids.Model, size: str,
                model: str, run: str, seed: int) -> List[Job]:
  """The pretraining job of one model and seed, then its finetunings."""
  pre_dir = os.path.join(root, run, 'pretrain')
  common = dict(size=size, variant=m.variant, altup_k=m.k,
                batch_size=sweep.batch_size, options=sweep.options,
                vocabulary=sweep.vocabulary, seed=seed)
  pretrain = compose.Experiment(
      run='pretrain', task=sweep.pretrain_task, model_dir=pre_dir,
      feature_lengths=sweep.pretrain_lengths,
      train_steps=sweep.pretrain_steps,
      gin_overrides=sweep.pretrain_overrides + m.overrides, **common)
  jobs = [Job(f'{run}/pretrain', model, 'pretrain', None, pretrain, None,
              seed)]
  for ft in sweep.finetunes:
    experiment = compose.Experiment(
        run='finetune', task=ft.task,
        model_dir=os.path.join(root, run, f'finetune_{ft.name}'),
        feature_lengths=ft.feature_lengths,
        train_steps=sweep.pretrain_steps + sweep.finetune_steps,
        checkpoint=os.path.join(pre_dir, f'checkpoint_{sweep.pretrain_steps}'),
        gin_overrides=sweep.finetune_overrides + m.overrides, **common)
    jobs.append(Job(f'{run}/finetune_{ft.name}', model, 'finetune', ft.name,
                    experiment, f'{run}/pretrain', seed))
  return jobs


DONE_FILE = 'DONE'  # written by the local launcher when a job finishes


def finished(job: Job) -> bool:
  """The job's final checkpoint is there, or its DONE marker (archived runs
  keep their summaries and the marker, not their checkpoints)."""
  exp = job.experiment
  return os.path.isdir(compose.final_checkpoint(exp)) or os.path.exists(
      os.path.join(exp.model_dir, DONE_FILE))


def mark_done(job: Job) -> None:
  with open(os.path.join(job.experiment.model_dir, DONE_FILE), 'w') as f:
    f.write(f'{job.experiment.train_steps}\n')


def archive(jobs: Sequence[Job], root: str, dest: str) -> List[str]:
  """Copies finished jobs' results (summaries, config.gin, model-info.txt,
  DONE; no checkpoints, logs or per-example predictions) from under `root` to
  the same place under `dest`, e.g. to commit a study's raw results. Returns
  the copied dirs."""
  import shutil  # pylint: disable=g-import-not-at-top
  copied = []
  for job in jobs:
    if not finished(job):
      continue
    src = job.experiment.model_dir
    target = os.path.join(dest, os.path.relpath(src, root))
    shutil.copytree(src, target, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(
                        'checkpoint_*', '*.log', '*-[0-9]*.jsonl'))
    if not os.path.exists(os.path.join(target, DONE_FILE)):
      with open(os.path.join(target, DONE_FILE), 'w') as f:
        f.write(f'{job.experiment.train_steps}\n')
    copied.append(target)
  return copied


def run_local(job: Job, busy: set, echo=print) -> None:
  """Runs `job` here unless it is finished, or it or the job it depends on
  is being run by another process (then its name joins `busy`), e.g. when
  two sweeps over different seeds share a root."""
  from launch import runner  # pylint: disable=g-import-not-at-top
  if finished(job):
    echo('  already finished, skipping')
    return
  if job.depends_on in busy:
    echo(f'  {job.depends_on} is running elsewhere, skipping')
    busy.add(job.name)
    return
  try:
    runner.run(job.experiment)
  except runner.Busy as e:
    echo(f'  skipping: {e}')
    busy.add(job.name)
    return
  mark_done(job)


FLOOR_FILE = 'floor.json'
BENCHMARK_DIR = 'benchmark'


def eval_batches(sweep: grids.Sweep) -> int:
  """train.eval_steps of the sweep's pretraining (T5X's default: 20)."""
  return int(dict(sweep.pretrain_overrides).get('train.eval_steps', 20))


def benchmark_models(sweep: grids.Sweep) -> List[str]:
  """benchmarks.altup_cost's --models for the sweep's dense models."""
  names = []
  for m in sweep.variants:
    if m.size and m.size.endswith('_2d'):
      name = 'dense_2d'
    elif m.variant == 'baseline':
      name = 'baseline'
    elif m.variant in ('altup', 'recycled'):
      name = f'{m.variant}_k{m.k}'
    else:
      continue
    if name not in names:
      names.append(name)
  return names


def benchmark_command(sweep: grids.Sweep, root: str, python: str = 'python'
                      ) -> List[str]:
  """The cost benchmark at the sweep's size, batch, lengths and options."""
  from tasks import vocab  # pylint: disable=g-import-not-at-top
  vocabulary = compose.vocabulary_name(sweep.pretrain_task, sweep.vocabulary)
  return [python, '-m', 'benchmarks.altup_cost', f'--size={sweep.sizes[0]}',
          f'--batch={sweep.batch_size}',
          f'--inputs_length={sweep.pretrain_lengths["inputs"]}',
          f'--targets_length={sweep.pretrain_lengths["targets"]}',
          f'--num_embeddings={vocab.num_embeddings(vocabulary)}',
          f'--models={",".join(benchmark_models(sweep))}',
          '--repeats=5', f'--output_dir={os.path.join(root, BENCHMARK_DIR)}'
          ] + (['--gather_embedding'] if 'gather_embedding' in sweep.options
               else [])


def measure(sweep: grids.Sweep, root: str, echo=print) -> None:
  """Computes the sweep's floor and cost benchmark unless already there."""
  floor_file = os.path.join(root, FLOOR_FILE)
  if os.path.exists(floor_file):
    echo(f'[floor] {floor_file} exists, skipping')
  else:
    from launch import floor  # pylint: disable=g-import-not-at-top
    echo(f'[floor] computing {floor_file}')
    floor.write(floor_file, sweep.pretrain_task, sweep.pretrain_lengths,
                eval_batches(sweep), sweep.batch_size, sweep.vocabulary)
  bench_file = os.path.join(root, BENCHMARK_DIR, 'altup_cost.json')
  if os.path.exists(bench_file):
    echo(f'[benchmark] {bench_file} exists, skipping')
    return
  cmd = benchmark_command(sweep, root, python=sys.executable)
  echo('[benchmark] ' + shlex.join(cmd))
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(
      p for p in (compose.REPO, os.environ.get('PYTHONPATH')) if p))
  proc = subprocess.run(cmd, cwd=compose.REPO, env=env, check=False,
                        capture_output=True, text=True)
  if proc.returncode:
    raise RuntimeError('The cost benchmark failed:\n' + proc.stdout[-2000:]
                       + proc.stderr[-2000:])
