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
import subprocess
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from absl import app
from absl import flags

from launch import cli
from launch import compose



@dataclasses.dataclass(frozen=True)
class Model:
  """One model of a sweep: a variant at K, optionally changed by gin bindings.

  Attributes:
    variant: compose.VARIANTS.
    k: ALTUP_K (1 for baselines).
    tag: suffix of the model's name (models differing only in `overrides`).
    overrides: extra ('NAME', 'VALUE') gin bindings of this model's jobs.
    size: the model's own size instead of the sweep's (e.g. the dense 2d
      reference, tiny_2d, in a tiny sweep).
  """
  variant: str
  k: int
  tag: str = ''
  overrides: Tuple[Tuple[str, str], ...] = ()
  size: Optional[str] = None


VARIANTS = (Model('baseline', 1), Model('altup', 2), Model('altup', 4),
            Model('recycled', 2))
# Beyond the paper's tables: Sequence-AltUp (stride 4, encoder), learned
# routing (Recycled + router), and AltUp on the sparse MoE T5 with its own MoE
# baseline.
EXTENSION_VARIANTS = (Model('baseline', 1), Model('sequence', 4),
                      Model('routed', 2), Model('moe_baseline', 1),
                      Model('moe_altup', 2), Model('moe_recycled', 2))
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
  variants: Tuple[Model, ...]
  pretrain_task: str
  pretrain_lengths: Dict[str, int]
  pretrain_steps: int
  finetunes: Tuple[Finetune, ...]
  finetune_steps: int
  batch_size: int
  # Extra gin bindings of every job (e.g. short eval periods for tiny runs).
  pretrain_overrides: Tuple[Tuple[str, str], ...] = ()
  finetune_overrides: Tuple[Tuple[str, str], ...] = ()
  # Seed axis: every model is trained once per seed, under
  # <root>/<model>/seed_<n>/ (None: seed 0, under <root>/<model>/).
  seeds: Optional[Tuple[int, ...]] = None
  # gin/options of every job (e.g. gather_embedding).
  options: Tuple[str, ...] = ()
  # tasks.vocab name of every job (None: each task's own, see
  # compose.vocabulary_name).
  vocabulary: Optional[str] = None
  # Local runs also measure, once, under the root: the floor of the
  # pretraining task (floor.json, launch.floor) and the models' cost at the
  # sweep's shapes (benchmark/altup_cost.json, benchmarks.altup_cost).
  measure: bool = False


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
                  variants: Tuple[Model, ...] = VARIANTS) -> Sweep:
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
                variants: Tuple[Model, ...]) -> Sweep:
  """The paper's protocol (C4 500k steps, then 50k on each benchmark)."""
  return Sweep(
      sizes=sizes, variants=variants,
      pretrain_task='altup_c4_span_corruption',
      pretrain_lengths={'inputs': 512, 'targets': 114},
      pretrain_steps=500_000, finetunes=PAPER_FINETUNES,
      finetune_steps=50_000, batch_size=256)


# The evidence study: the models differ only in the AltUp variant.
STUDY_VARIANTS = (
    Model('baseline', 1), Model('altup', 2), Model('recycled', 2),
    Model('altup', 4),
    # The paper's same-block ablation: every layer computes block 0.
    Model('altup', 2, 'same', (('ALTUP_SELECTION', "'same'"),)),
    # "Just widen it": the dense model of width 2d (gin/models/tiny_2d.gin).
    Model('baseline', 1, size='tiny_2d'),
)
STUDY_SEEDS = (0, 1, 2)
# Where AltUp K=2 might lose its edge at this scale, one reading at a time.
STUDY_ABLATIONS = (
    Model('baseline', 1), Model('altup', 2),
    # The decoder output collapsed to d (the stock logits layer).
    Model('altup', 2, 'sum', (('ALTUP_DECODER_OUTPUT', "'sum'"),)),
    # The layer sees the predicted block (Gemma 3n's form).
    Model('altup', 2, 'predicted', (('ALTUP_LAYER_INPUT', "'predicted'"),)),
)
STUDY_TASK = 'altup_offline_byte_span_corruption'
STUDY_PRETRAIN_STEPS = 1500  # one pass over the corpus (see docs/study)
STUDY_LEARNING_RATE = 0.03
# Held-out batches per evaluation: 50 x 32 examples, 71% of the validation
# split (10 batches gave curves whose noise hid their trend).
STUDY_EVAL_BATCHES = 50
STUDY_WARMUP_STEPS = 200


def study_sweep(pretrain_steps: int, finetune_steps: int, batch_size: int,
                learning_rate: float,
                seeds: Optional[Tuple[int, ...]] = STUDY_SEEDS,
                variants: Tuple[Model, ...] = STUDY_VARIANTS,
                byte_level: bool = True,
                eval_batches: int = STUDY_EVAL_BATCHES) -> Sweep:
  """The CPU evidence study: span corruption out of the trivial regime,
  several seeds, the floor and a wide dense reference.

  Differs from offline_tiny in what makes a tiny model learn on 2 cores
  (docs/study/README.md has the trials): ByT5's byte vocabulary and span
  corruption (mean span 20 bytes) on the offline corpus, the gather
  embedding (the one-hot matmul's function at less cost), more steps, 10
  evaluations per run, and a learning rate that warms up linearly over
  STUDY_WARMUP_STEPS to `learning_rate`, then decays linearly to 0 at the
  last step (T5X's `linear_decay` factor; T5X's default is 0.01 for the
  first 10k steps). Sentiment inputs are 256 bytes (99% of the reviews fit).
  Runs shorter than 1,000 steps warm up over a fifth of their steps.
  `seeds=None`: one run per model (seed 0) under <root>/<model>/, without the
  floor and benchmark (launch.offline, the study's short form).
  With `byte_level=False`: the study's first protocol, T5.1.1's span
  corruption on the offline SentencePiece vocabulary, which stays in the
  trivial regime at this budget (docs/study/sentencepiece/).
  """
  base = offline_sweep(pretrain_steps, finetune_steps, batch_size, variants)
  warmup = min(STUDY_WARMUP_STEPS, pretrain_steps // 5)
  schedule = (
      ('utils.create_learning_rate_scheduler.factors', "'linear_decay'"),
      ('utils.create_learning_rate_scheduler.base_learning_rate',
       str(learning_rate)),
      ('utils.create_learning_rate_scheduler.warmup_steps', str(warmup)),
      ('utils.create_learning_rate_scheduler.decay_factor',
       repr(1 / (pretrain_steps - warmup))))
  if byte_level:
    base = dataclasses.replace(
        base, vocabulary='bytes', pretrain_task=STUDY_TASK,
        pretrain_lengths=compose.default_feature_lengths(STUDY_TASK),
        finetunes=(Finetune('sentiment', 'altup_offline_sentiment',
                            {'inputs': 256, 'targets': 16}),))
  return dataclasses.replace(
      base, seeds=seeds, options=('gather_embedding',),
      measure=seeds is not None,
      pretrain_overrides=study_periods(pretrain_steps) + (
          ('train.eval_steps', str(eval_batches)),) + schedule,
      finetune_overrides=periods(finetune_steps) + (
          ('EVAL_STEPS', '10'),
          ('utils.create_learning_rate_scheduler.factors', "'constant'"),
          ('utils.create_learning_rate_scheduler.base_learning_rate',
           '0.003')))


def study_periods(n: int) -> Tuple[Tuple[str, str], ...]:
  """10 evaluations (curves) and 5 checkpoints (a killed run loses at most
  a fifth) of an n-step run; one of each at the end when n is not a multiple
  of 10 (T5X needs the checkpoint period to be a multiple of the eval
  period)."""
  tenth = n // 10 if n % 10 == 0 else n
  return (('train.eval_period', str(tenth)),
          ('utils.SaveCheckpointConfig.period', str(2 * tenth if tenth < n
                                                    else n)),
          ('train.stats_period', str(max(1, n // 10))))


SWEEPS = {
    'paper': paper_sweep(('small', 'base', 'large'), VARIANTS),
    'offline_tiny': offline_sweep(300, 600, 32),
    # MoE model gins exist for tiny, small and base.
    'extensions': paper_sweep(('small', 'base'), EXTENSION_VARIANTS),
    'offline_tiny_extensions': offline_sweep(300, 600, 32,
                                             EXTENSION_VARIANTS),
    'offline_study': study_sweep(STUDY_PRETRAIN_STEPS, 600, 32,
                                 STUDY_LEARNING_RATE),
    'offline_study_ablations': study_sweep(
        STUDY_PRETRAIN_STEPS, 600, 32, STUDY_LEARNING_RATE, seeds=(0,),
        variants=STUDY_ABLATIONS),
    # The first protocol: 3,000 steps, 10 evaluation batches
    # (docs/study/sentencepiece/).
    'offline_study_sentencepiece': study_sweep(
        2 * STUDY_PRETRAIN_STEPS, 600, 32, STUDY_LEARNING_RATE,
        byte_level=False, eval_batches=10),
}


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


def expand(sweep: Sweep, root: str) -> List[Job]:
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


def _model_jobs(sweep: Sweep, root: str, m: Model, size: str, model: str,
                run: str, seed: int) -> List[Job]:
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


def eval_batches(sweep: Sweep) -> int:
  """train.eval_steps of the sweep's pretraining (T5X's default: 20)."""
  return int(dict(sweep.pretrain_overrides).get('train.eval_steps', 20))


def benchmark_models(sweep: Sweep) -> List[str]:
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


def benchmark_command(sweep: Sweep, root: str, python: str = 'python'
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


def measure(sweep: Sweep, root: str, echo=print) -> None:
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


FLAGS = flags.FLAGS


def _seed(text: str) -> int:
  if not text.strip().isdigit():
    raise ValueError(f'--seeds takes ints >= 0, e.g. --seeds=0,1; got {text!r}.')
  return int(text)


def define_flags() -> None:
  flags.DEFINE_enum('sweep', 'offline_tiny', tuple(SWEEPS), 'Sweep to run.')
  flags.DEFINE_string('root', None, 'Root directory of the sweep.')
  flags.DEFINE_enum('launcher', 'local', ('local', 'xm'), 'Where jobs run.')
  flags.DEFINE_enum('stage', 'all', ('all', 'pretrain', 'finetune'),
                    'Which jobs to launch.')
  flags.DEFINE_string('tpu', 'v3-8', 'Cloud TPU type (xm launcher).')
  flags.DEFINE_string('gpu', None, 'GPU type:count (xm launcher).')
  flags.DEFINE_list('models', [], 'Only these models (names as in the '
                    'dry run, e.g. tiny_altup_k2); default: all.')
  flags.DEFINE_list('seeds', [], 'Only these seeds; default: all.')
  flags.DEFINE_bool('dry_run', False, 'List every job with its command.')
  flags.DEFINE_string('archive_to', None, 'Instead of running: copy the '
                      'finished jobs\' results (no checkpoints) there.')


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if not FLAGS.root:
    raise app.UsageError('--root is required.')
  sweep = SWEEPS[FLAGS.sweep]
  jobs = select(expand(sweep, FLAGS.root), FLAGS.models,
                [_seed(s) for s in FLAGS.seeds], FLAGS.stage)
  for job in jobs:
    compose.validate(job.experiment, local=FLAGS.launcher == 'local')
  if FLAGS.archive_to:
    for path in archive(jobs, FLAGS.root, FLAGS.archive_to):
      print(f'archived {path}')
    return
  if FLAGS.launcher == 'xm' and FLAGS.stage == 'all' and not FLAGS.dry_run:
    raise ValueError(
        'XManager jobs run concurrently, and finetuning needs the finished '
        'pretraining checkpoints: launch with --stage=pretrain, then with '
        '--stage=finetune once the pretrain jobs are done.')
  if FLAGS.launcher == 'xm':
    from launch import xm_launch  # pylint: disable=g-import-not-at-top
    requirements = xm_launch.accelerator(FLAGS.tpu, FLAGS.gpu)
  if (sweep.measure and FLAGS.launcher == 'local' and not FLAGS.dry_run
      and FLAGS.stage != 'finetune'):
    os.makedirs(FLAGS.root, exist_ok=True)
    measure(sweep, FLAGS.root)
  busy = set()  # jobs another process is running, and what depends on them
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
    run_local(job, busy)


def entry() -> None:
  cli.run(main, 'launch.sweeps', define_flags)


if __name__ == '__main__':
  entry()
