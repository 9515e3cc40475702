"""The sweeps as data: models, protocols and the named sweeps (SWEEPS).

Each `Sweep` is a grid of models (`Model`: a variant at K) pretrained on one
task, then finetuned on each benchmark (`Finetune`); `launch.jobs` expands it
into T5X jobs and `python -m launch.sweeps` runs them (its docstring lists
the sweeps). Feature lengths are the tasks' own (tasks.FEATURE_LENGTHS)
unless a protocol says otherwise.
"""

import dataclasses
from typing import Dict, Optional, Tuple

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


@dataclasses.dataclass(frozen=True)
class Finetune:
  """A finetuning benchmark: task or mixture, lengths."""
  name: str
  task: str
  feature_lengths: Dict[str, int]


def task_finetune(name: str, task: str) -> Finetune:
  """Finetuning benchmark `name` on `task` at the task's lengths."""
  return Finetune(name, task, compose.default_feature_lengths(task))


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
  task = 'altup_offline_span_corruption'
  return Sweep(
      sizes=('tiny',), variants=variants, pretrain_task=task,
      pretrain_lengths=compose.default_feature_lengths(task),
      pretrain_steps=pretrain_steps,
      finetunes=(task_finetune('sentiment', 'altup_offline_sentiment'),),
      finetune_steps=finetune_steps, batch_size=batch_size,
      pretrain_overrides=periods(pretrain_steps) + (
          ('train.eval_steps', '10'),),
      finetune_overrides=periods(finetune_steps) + (
          ('EVAL_STEPS', '10'),
          ('utils.create_learning_rate_scheduler.base_learning_rate',
           '0.003')))


PAPER_FINETUNES = (
    task_finetune('glue', 'altup_glue_proportional'),
    task_finetune('super_glue', 'altup_super_glue_proportional'),
    task_finetune('squad', 'altup_squad'),
    task_finetune('trivia_qa', 'altup_trivia_qa_closed_book'),
)


def paper_sweep(sizes: Tuple[str, ...],
                variants: Tuple[Model, ...]) -> Sweep:
  """The paper's protocol (C4 500k steps, then 50k on each benchmark)."""
  task = 'altup_c4_span_corruption'
  return Sweep(
      sizes=sizes, variants=variants, pretrain_task=task,
      pretrain_lengths=compose.default_feature_lengths(task),
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
# The study's sentiment lengths, not the task's (128 / 4 tokens of the offline
# vocabulary): in bytes, 99% of the reviews fit in 256 inputs.
STUDY_SENTIMENT_LENGTHS = {'inputs': 256, 'targets': 16}


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
  first 10k steps). Sentiment at STUDY_SENTIMENT_LENGTHS.
  Runs shorter than 1,000 steps warm up over a fifth of their steps.
  `seeds=None`: one run per model (seed 0) under <root>/<model>/, without the
  floor and benchmark (launch.offline, the study's short form).
  With `byte_level=False`: the study's first protocol, T5.1.1's span
  corruption on the offline SentencePiece vocabulary, which stays in the
  trivial regime at this budget (docs/study/sentencepiece/).
  """
  base = offline_sweep(pretrain_steps, finetune_steps, batch_size, variants)
  schedule = study_schedule(pretrain_steps, learning_rate)
  if byte_level:
    base = dataclasses.replace(
        base, vocabulary='bytes', pretrain_task=STUDY_TASK,
        pretrain_lengths=compose.default_feature_lengths(STUDY_TASK),
        finetunes=(Finetune('sentiment', 'altup_offline_sentiment',
                            STUDY_SENTIMENT_LENGTHS),))
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


def study_schedule(steps: int, learning_rate: float
                   ) -> Tuple[Tuple[str, str], ...]:
  """The study's learning rate as gin bindings: linear warm-up over
  STUDY_WARMUP_STEPS (a fifth of shorter runs) to `learning_rate`, then a
  linear decay to 0 at `steps`."""
  warmup = min(STUDY_WARMUP_STEPS, steps // 5)
  return (
      ('utils.create_learning_rate_scheduler.factors', "'linear_decay'"),
      ('utils.create_learning_rate_scheduler.base_learning_rate',
       str(learning_rate)),
      ('utils.create_learning_rate_scheduler.warmup_steps', str(warmup)),
      ('utils.create_learning_rate_scheduler.decay_factor',
       repr(1 / (steps - warmup))))


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


# The decoder-only counterpart of the study (gin/models/lm_tiny.gin): the
# layer-level variants, causal LM on the offline corpus in bytes.
LM_STUDY_VARIANTS = (Model('baseline', 1), Model('altup', 2),
                     Model('recycled', 2), Model('routed', 2),
                     Model('altup', 4))
LM_STUDY_TASK = 'altup_offline_lm'
# 256 bytes a sequence, about the study's 128 + 24 bytes per example in
# tokens the model reads and predicts.
LM_STUDY_LENGTHS = {'targets': 256}


def lm_study_sweep(pretrain_steps: int, finetune_steps: int, batch_size: int,
                   learning_rate: float,
                   seeds: Optional[Tuple[int, ...]] = STUDY_SEEDS) -> Sweep:
  """`study_sweep`'s protocol on the decoder-only tiny size: byte-level
  causal LM pretraining (LM_STUDY_TASK at LM_STUDY_LENGTHS), then the
  sentiment task as a prefix LM (review as inputs, label as targets; T5X
  picks seqio's PrefixLM converter from the lengths), same schedule, seeds
  and evaluations. The floor and cost benchmark are the encoder-decoder's
  span-corruption ones, so this sweep measures neither."""
  study = study_sweep(pretrain_steps, finetune_steps, batch_size,
                      learning_rate, seeds, LM_STUDY_VARIANTS)
  return dataclasses.replace(
      study, sizes=('lm_tiny',), pretrain_task=LM_STUDY_TASK,
      pretrain_lengths=dict(LM_STUDY_LENGTHS), measure=False)


SWEEPS = {
    'paper': paper_sweep(('small', 'base', 'large'), VARIANTS),
    # The same grid on the T5.1.0 family (ReLU MLP, tied logits), whose
    # small/base/large/3B naming the paper's sizes match.
    'paper_t5_1_0': paper_sweep(('t5_1_0_small', 't5_1_0_base',
                                 't5_1_0_large'), VARIANTS),
    'offline_tiny': offline_sweep(300, 600, 32),
    # MoE model gins exist for tiny, small and base.
    'extensions': paper_sweep(('small', 'base'), EXTENSION_VARIANTS),
    'offline_tiny_extensions': offline_sweep(300, 600, 32,
                                             EXTENSION_VARIANTS),
    'offline_study': study_sweep(STUDY_PRETRAIN_STEPS, 600, 32,
                                 STUDY_LEARNING_RATE),
    # Seed-major like the study: --seeds=0 gives every reading once,
    # --models=... --seeds=1,2 repeats the promising ones.
    'offline_study_ablations': study_sweep(
        STUDY_PRETRAIN_STEPS, 600, 32, STUDY_LEARNING_RATE,
        variants=STUDY_ABLATIONS),
    # The first protocol: 3,000 steps, 10 evaluation batches
    # (docs/study/sentencepiece/).
    'offline_study_sentencepiece': study_sweep(
        2 * STUDY_PRETRAIN_STEPS, 600, 32, STUDY_LEARNING_RATE,
        byte_level=False, eval_batches=10),
    'offline_lm_study': lm_study_sweep(STUDY_PRETRAIN_STEPS, 600, 32,
                                       STUDY_LEARNING_RATE),
}
