r"""The paper's experiment grid as data, runnable through either launcher.

  python -m launch.sweeps --sweep=paper --root=gs://bucket/altup --dry_run
  python -m launch.sweeps --sweep=paper --root=gs://bucket/altup --tpu=v3-8 \
      --stage=pretrain          # then, when pretraining is done: --stage=finetune
  python -m launch.sweeps --sweep=offline_tiny --root=/tmp/altup_sweep \
      --launcher=local          # the scaled-down sweep, on this CPU

Sweeps:
  paper: T5.1.1 small, base, large x {baseline, AltUp K=2, AltUp K=4,
    Recycled-AltUp K=2}; C4 span-corruption pretraining (500k steps, batch
    256, 512/114 tokens), then finetuning from checkpoint_500000 for 50k
    steps (batch 256) on GLUE, SuperGLUE, SQuAD and closed-book TriviaQA
    (T5X counts finetuning steps from the pretrained step: TRAIN_STEPS=550k).
    Everything the paper does not state is T5X's default.
  offline_tiny: the tiny size and the same four variants on the offline
    corpus (300 steps) and the offline sentiment task (600 steps).
  extensions / offline_tiny_extensions: the same two protocols (small and
    base / tiny) for the variants beyond the paper's tables: Sequence-AltUp
    (stride 4), learned routing (K=2), and the MoE baseline, MoE + AltUp K=2
    and MoE + Recycled-AltUp K=2.

Layout: <root>/<size>_<variant>_k<K>/{pretrain,finetune_<benchmark>}.
`python -m launch.report --sweep_dir=<root> --sweep=<name>` rebuilds the tables.
"""

import dataclasses
import os
import shlex
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from absl import app
from absl import flags

from launch import compose

VARIANTS = (('baseline', 1), ('altup', 2), ('altup', 4), ('recycled', 2))
# Beyond the paper's tables (issue 5): Sequence-AltUp (stride 4, encoder),
# learned routing (Recycled + router), and AltUp on the sparse MoE T5 with its
# own MoE baseline.
EXTENSION_VARIANTS = (('baseline', 1), ('sequence', 4), ('routed', 2),
                      ('moe_baseline', 1), ('moe_altup', 2),
                      ('moe_recycled', 2))
# The columns launch.report shows per finetuning benchmark (mixtures: the mean
# over tasks of each task's metric mean, as the T5 paper's GLUE score).
BENCHMARK_METRICS = {'glue': ('average',), 'super_glue': ('average',),
                     'squad': ('em', 'f1'), 'trivia_qa': ('em', 'f1'),
                     'sentiment': ('accuracy',)}


@dataclasses.dataclass(frozen=True)
class Finetune:
  """A finetuning benchmark: task or mixture, lengths."""
  name: str
  task: str
  feature_lengths: Dict[str, int]


@dataclasses.dataclass(frozen=True)
class Sweep:
  """A grid of models, each pretrained then finetuned on every benchmark."""
  sizes: Tuple[str, ...]
  variants: Tuple[Tuple[str, int], ...]
  pretrain_task: str
  pretrain_lengths: Dict[str, int]
  pretrain_steps: int
  finetunes: Tuple[Finetune, ...]
  finetune_steps: int
  batch_size: int
  # Extra gin bindings of every job (e.g. short eval periods for tiny runs).
  pretrain_overrides: Tuple[Tuple[str, str], ...] = ()
  finetune_overrides: Tuple[Tuple[str, str], ...] = ()


def periods(n: int) -> Tuple[Tuple[str, str], ...]:
  """An n-step run: 3 evaluations (quality-vs-time curve), 1 checkpoint.

  T5X needs the checkpoint period to be a multiple of the eval period; the
  train metrics are logged ~6 times (visible progress).
  """
  evals = n // 3 if n % 3 == 0 else n
  return (('train.eval_period', str(evals)),
          ('utils.SaveCheckpointConfig.period', str(n)),
          ('train.stats_period', str(max(1, n // 6))))


def offline_sweep(pretrain_steps: int, finetune_steps: int,
                  batch_size: int,
                  variants: Tuple[Tuple[str, int], ...] = VARIANTS) -> Sweep:
  """The tiny size on the offline corpus and sentiment task, on a CPU.

  Finetuning uses a constant learning rate of 3e-3 instead of T5X's 1e-3
  (tuned for large models): at 1e-3 the tiny models still predict the
  majority label after 200 steps.
  """
  return Sweep(
      sizes=('tiny',), variants=variants,
      pretrain_task='altup_offline_span_corruption',
      pretrain_lengths={'inputs': 128, 'targets': 32},
      pretrain_steps=pretrain_steps,
      finetunes=(Finetune('sentiment', 'altup_offline_sentiment',
                          {'inputs': 128, 'targets': 4}),),
      finetune_steps=finetune_steps, batch_size=batch_size,
      pretrain_overrides=periods(pretrain_steps) + (
          ('train.eval_steps', '10'),),
      finetune_overrides=periods(finetune_steps) + (
          ('EVAL_STEPS', '10'),
          ('utils.create_learning_rate_scheduler.base_learning_rate',
           '0.003')))


PAPER_FINETUNES = (
    Finetune('glue', 'altup_glue_proportional',
             {'inputs': 512, 'targets': 84}),
    Finetune('super_glue', 'altup_super_glue_proportional',
             {'inputs': 512, 'targets': 84}),
    Finetune('squad', 'altup_squad', {'inputs': 512, 'targets': 64}),
    Finetune('trivia_qa', 'altup_trivia_qa_closed_book',
             {'inputs': 128, 'targets': 32}),
)


def paper_sweep(sizes: Tuple[str, ...],
                variants: Tuple[Tuple[str, int], ...]) -> Sweep:
  """The paper's protocol (C4 500k steps, then 50k on each benchmark)."""
  return Sweep(
      sizes=sizes, variants=variants,
      pretrain_task='altup_c4_span_corruption',
      pretrain_lengths={'inputs': 512, 'targets': 114},
      pretrain_steps=500_000, finetunes=PAPER_FINETUNES,
      finetune_steps=50_000, batch_size=256)


SWEEPS = {
    'paper': paper_sweep(('small', 'base', 'large'), VARIANTS),
    'offline_tiny': offline_sweep(300, 600, 32),
    # MoE model gins exist for tiny, small and base.
    'extensions': paper_sweep(('small', 'base'), EXTENSION_VARIANTS),
    'offline_tiny_extensions': offline_sweep(300, 600, 32,
                                             EXTENSION_VARIANTS),
}


@dataclasses.dataclass(frozen=True)
class Job:
  name: str                      # e.g. 'base_altup_k2/finetune_glue'
  model: str                     # e.g. 'base_altup_k2'
  stage: str                     # 'pretrain' or 'finetune'
  benchmark: Optional[str]       # finetune benchmark name
  experiment: compose.Experiment
  depends_on: Optional[str]      # job name that must finish first


def model_name(size: str, variant: str, k: int) -> str:
  return f'{size}_{variant}_k{k}'


def expand(sweep: Sweep, root: str) -> List[Job]:
  """Every job of `sweep` under `root`, each pretrain before its finetunes."""
  jobs = []
  for size in sweep.sizes:
    for variant, k in sweep.variants:
      model = model_name(size, variant, k)
      pre_dir = os.path.join(root, model, 'pretrain')
      pretrain = compose.Experiment(
          size=size, variant=variant, altup_k=k, run='pretrain',
          task=sweep.pretrain_task, model_dir=pre_dir,
          feature_lengths=sweep.pretrain_lengths,
          train_steps=sweep.pretrain_steps, batch_size=sweep.batch_size,
          gin_overrides=sweep.pretrain_overrides)
      jobs.append(Job(f'{model}/pretrain', model, 'pretrain', None, pretrain,
                      None))
      for ft in sweep.finetunes:
        experiment = compose.Experiment(
            size=size, variant=variant, altup_k=k, run='finetune',
            task=ft.task, model_dir=os.path.join(root, model,
                                                 f'finetune_{ft.name}'),
            feature_lengths=ft.feature_lengths,
            train_steps=sweep.pretrain_steps + sweep.finetune_steps,
            batch_size=sweep.batch_size,
            checkpoint=os.path.join(pre_dir,
                                    f'checkpoint_{sweep.pretrain_steps}'),
            gin_overrides=sweep.finetune_overrides)
        jobs.append(Job(f'{model}/finetune_{ft.name}', model, 'finetune',
                        ft.name, experiment, f'{model}/pretrain'))
  return jobs


def finished(job: Job) -> bool:
  exp = job.experiment
  return os.path.isdir(os.path.join(exp.model_dir,
                                    f'checkpoint_{exp.train_steps}'))


FLAGS = flags.FLAGS


def define_flags() -> None:
  flags.DEFINE_enum('sweep', 'offline_tiny', tuple(SWEEPS), 'Sweep to run.')
  flags.DEFINE_string('root', None, 'Root directory of the sweep.')
  flags.DEFINE_enum('launcher', 'local', ('local', 'xm'), 'Where jobs run.')
  flags.DEFINE_enum('stage', 'all', ('all', 'pretrain', 'finetune'),
                    'Which jobs to launch.')
  flags.DEFINE_string('tpu', 'v3-8', 'Cloud TPU type (xm launcher).')
  flags.DEFINE_string('gpu', None, 'GPU type:count (xm launcher).')
  flags.DEFINE_bool('dry_run', False, 'List every job with its command.')


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if not FLAGS.root:
    raise app.UsageError('--root is required.')
  jobs = [j for j in expand(SWEEPS[FLAGS.sweep], FLAGS.root)
          if FLAGS.stage in ('all', j.stage)]
  for job in jobs:
    compose.validate(job.experiment, local=FLAGS.launcher == 'local')
  if FLAGS.launcher == 'xm' and FLAGS.stage == 'all' and not FLAGS.dry_run:
    raise ValueError(
        'XManager jobs run concurrently, and finetuning needs the finished '
        'pretraining checkpoints: launch with --stage=pretrain, then with '
        '--stage=finetune once the pretrain jobs are done.')
  if FLAGS.launcher == 'xm':
    from launch import xm_launch  # pylint: disable=g-import-not-at-top
    requirements = xm_launch.accelerator(FLAGS.tpu, FLAGS.gpu)
  for i, job in enumerate(jobs, 1):
    after = f' (after {job.depends_on})' if job.depends_on else ''
    print(f'[{i}/{len(jobs)}] {job.name}{after}')
    if FLAGS.launcher == 'xm':
      spec = xm_launch.job_spec(job.experiment, requirements,
                                name=job.name.replace('/', '-'))
      print('  ' + shlex.join(spec['entrypoint']))
      if not FLAGS.dry_run:
        xm_launch.submit(spec)
      continue
    print('  ' + shlex.join(compose.t5x_command(job.experiment)))
    if FLAGS.dry_run:
      continue
    if finished(job):
      print('  already finished, skipping')
      continue
    from launch import runner  # pylint: disable=g-import-not-at-top
    runner.run(job.experiment)


if __name__ == '__main__':
  define_flags()

  def _checked(argv):
    try:
      main(argv)
    except (ImportError, ValueError, RuntimeError) as e:
      sys.exit(f'launch.sweeps: {e}')
  app.run(_checked)
