"""Composes the exact T5X command line of an AltUp experiment.

An `Experiment` names a size, a variant, K, a run (pretrain / finetune / eval /
infer) and a task; `t5x_command` turns it into

  python -m t5x.<mode> --gin_search_paths=<repo> --gin_file=gin/models/<size>.gin
      --gin_file=gin/variants/<variant>.gin [--gin_file=tasks/gin/<vocab>.gin]
      --gin_file=t5x/configs/runs/<run>.gin --gin.ALTUP_K=... --gin.X=...

`validate` rejects bad input before anything launches, with an error that
names the fix. Pure functions; nothing here imports t5x.
"""

import dataclasses
import os
import re
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from altup_flaxformer import config
from launch import families
from launch import gin_text
import tasks

REPO = gin_text.REPO

# Layers per stack of each size gin (gin/models/<size>.gin; the real sizes
# bind them in flaxformer's T5.1.1 and T5.1.0 gins, which `gin_text.gin_macros`
# reads where flaxformer is installed, as tests/unit/test_launch_commands.py
# does to check this table). tiny_2d is tiny with width, heads and MLP doubled: the
# "just widen it" reference. The t5_1_0_* sizes are the T5.1.0 family, the
# lm_* sizes decoder-only (`family`, launch/families.py).
SIZE_LAYERS = {'tiny': 4, 'small': 8, 'base': 12, 'large': 24, 'xl': 24,
               'tiny_2d': 4,
               't5_1_0_tiny': 4, 't5_1_0_small': 6, 't5_1_0_base': 12,
               't5_1_0_large': 24, 't5_1_0_3B': 24,
               **families.DECODER_ONLY_LAYERS}
T5_1_0_PREFIX = families.T5_1_0_PREFIX
# gin/options/<name>.gin, added after the model and variant gins.
OPTIONS = ('gather_embedding',)
# Options that change how the model computes, not its parameters or function:
# a run may resume or finetune under another choice.
COMPUTE_OPTIONS = ('gather_embedding',)
# --embedding: T5.1.1's one-hot matmul (TPU's SPMD-friendly form) or a gather
# (the same numbers at less cost where the table is not vocab-sharded: for
# full AltUp's K*d table on CPU and GPU, docs/benchmarks.md).
EMBEDDINGS = ('auto', 'one_hot', 'gather')
# Dense variants: gin/variants/<variant>.gin on gin/models/<size>.gin.
DENSE_VARIANTS = ('baseline', 'altup', 'recycled', 'routed', 'sequence')
# Sparse (MoE) variants: gin/variants/<variant>.gin on gin/moe/models/<size>.gin, with
# T5X's MoE run gins (t5x/contrib/moe/configs/runs/).
MOE_VARIANTS = ('moe_baseline', 'moe_altup', 'moe_recycled')
MOE_SIZES = ('tiny', 'small', 'base')
VARIANTS = DENSE_VARIANTS + MOE_VARIANTS
BASELINES = ('baseline', 'moe_baseline')


family = families.family  # 'T5.1.0', 'T5.1.1' or 'decoder-only'
size_label = families.size_label  # 'T5.1.1 small', 'decoder-only small', ...


def tied_logits(size: str) -> bool:
  """Whether the size's logits are tied to the token embedding (T5.1.0)."""
  return family(size) == 'T5.1.0'


def embedding_options(embedding: str, platform: str) -> Tuple[str, ...]:
  """The gin/options an --embedding choice adds on 'cpu', 'gpu' or 'tpu'.

  'auto' is the gather everywhere but on TPUs, which keep T5.1.1's one-hot
  matmul (T5X's choice for vocab-sharded tables).
  """
  if embedding not in EMBEDDINGS:
    raise ValueError(f'Unknown --embedding={embedding!r}; choose from '
                     f'{", ".join(EMBEDDINGS)}.')
  gather = embedding == 'gather' or (embedding == 'auto' and platform != 'tpu')
  return ('gather_embedding',) if gather else ()


def default_altup_k(variant: str) -> int:
  """K when --altup_k is not given: the ALTUP_K the variant's gins bind.

  Raises:
    ValueError: the variant's gins bind no ALTUP_K.
  """
  files = model_gin_files(MOE_SIZES[0], variant)
  k = gin_text.gin_macros(files).get('ALTUP_K')
  if k is None:
    raise ValueError(f'No ALTUP_K default in {", ".join(files)}; set '
                     '--altup_k.')
  return int(k)


# run -> (t5x entry point, T5X run gin)
RUNS = {
    'pretrain': ('train', 't5x/configs/runs/pretrain.gin'),
    'finetune': ('train', 't5x/configs/runs/finetune.gin'),
    'eval': ('eval', 't5x/configs/runs/eval.gin'),
    'infer': ('infer', 't5x/configs/runs/infer.gin'),
}
OFFLINE_PREFIX = 'altup_offline_'
# tasks.vocab names -> the gin that switches model and tasks to it (the model
# gins' own vocabulary, 't5', needs none).
VOCABULARY_GINS = {'t5': None, 'offline': 'tasks/gin/offline_vocab.gin',
                   'bytes': 'tasks/gin/byte_vocab.gin'}
# Tasks made for one vocabulary (ByT5's span lengths are in bytes).
TASK_VOCABULARIES = {'altup_offline_byte_span_corruption': 'bytes'}
# Macros the launcher sets itself; a --gin.X override of one is a conflict.
MANAGED_MACROS = ('ALTUP_K', 'MODEL_DIR', 'RANDOM_SEED', 'MIXTURE_OR_TASK_NAME',
                  'MIXTURE_OR_TASK_MODULE', 'TASK_FEATURE_LENGTHS',
                  'TRAIN_STEPS', 'BATCH_SIZE', 'INITIAL_CHECKPOINT_PATH',
                  'CHECKPOINT_PATH', 'train/utils.DatasetConfig.seed')
SAVE_DATASET = 'utils.SaveCheckpointConfig.save_dataset'
_GIN_OVERRIDE = re.compile(r'^--gin\.([A-Za-z_][\w./]*)=(.+)$', re.S)


@dataclasses.dataclass(frozen=True)
class Experiment:
  """One T5X job of the size x variant x K x run matrix.

  Attributes:
    size: gin/models/<size>.gin.
    variant: gin/variants/<variant>.gin.
    altup_k: K (1 for the baseline).
    run: 'pretrain', 'finetune', 'eval' or 'infer'.
    task: a registered altup_* SeqIO task or mixture.
    model_dir: MODEL_DIR (train) or the output dir (eval / infer).
    feature_lengths: TASK_FEATURE_LENGTHS, e.g. {'inputs': 128, 'targets': 32}.
    train_steps: TRAIN_STEPS (finetune: counts from the pretrained step).
    batch_size: BATCH_SIZE.
    checkpoint: INITIAL_CHECKPOINT_PATH (finetune) / CHECKPOINT_PATH.
    scan: add gin/options/scan.gin.
    options: other gin/options/<name>.gin files (see OPTIONS).
    vocabulary: a tasks.vocab name (VOCABULARY_GINS) for model and tasks
      (None: the task's, see `vocabulary_name`).
    seed: train runs: T5X's RANDOM_SEED (parameter init, dropout) and the
      train data's shuffle and span-corruption seed; recorded in the run's
      config.gin. Same command and seed: same run.
    num_partitions: T5X model-parallel partitions (None: the run gin's).
    gin_overrides: extra ('NAME', 'VALUE') gin bindings, passed as --gin.NAME=VALUE.
  """
  size: str
  variant: str
  altup_k: int
  run: str
  task: str
  model_dir: str
  feature_lengths: Optional[Mapping[str, int]] = None
  train_steps: Optional[int] = None
  batch_size: Optional[int] = None
  checkpoint: Optional[str] = None
  scan: bool = False
  options: Tuple[str, ...] = ()
  vocabulary: Optional[str] = None
  seed: int = 0
  num_partitions: Optional[int] = None
  gin_overrides: Tuple[Tuple[str, str], ...] = ()


def split_gin_overrides(argv: Sequence[str]) -> Tuple[List[str], Tuple]:
  """Splits `--gin.NAME=VALUE` entries off argv (before absl sees them).

  Returns:
    (the other arguments, (('NAME', 'VALUE'), ...)).

  Raises:
    ValueError: a malformed `--gin...` argument.
  """
  rest, overrides = [], []
  for arg in argv:
    if arg.startswith('--gin.'):
      match = _GIN_OVERRIDE.match(arg)
      if not match:
        raise ValueError(
            f'Malformed gin override {arg!r}; write --gin.NAME=VALUE, e.g. '
            "--gin.DROPOUT_RATE=0.1 or --gin.MODEL_DIR=\"'/tmp/run'\".")
      overrides.append((match.group(1), match.group(2)))
    else:
      rest.append(arg)
  return rest, tuple(overrides)


def validate(exp: Experiment, registered_tasks: Optional[Sequence[str]] = None,
             local: bool = False) -> Experiment:
  """Returns `exp` if it can launch; raises ValueError naming the fix."""
  def choose(what, value, choices):
    if value not in choices:
      raise ValueError(f'Unknown {what} {value!r}; choose one of '
                       f'{", ".join(choices)}.')
  choose('size', exp.size, tuple(SIZE_LAYERS))
  choose('variant', exp.variant, VARIANTS)
  choose('run', exp.run, tuple(RUNS))
  families.check(exp.size, exp.variant, exp.feature_lengths)
  k = exp.altup_k
  if isinstance(k, bool) or not isinstance(k, int) or k < 1:
    raise ValueError(f'--altup_k must be an int >= 1, got {k!r}.')
  if exp.variant in BASELINES and k != 1:
    raise ValueError(f'--variant={exp.variant} is the model without AltUp '
                     f'(K=1), got --altup_k={k}; use an AltUp variant (e.g. '
                     '--variant=altup) for K > 1.')
  if _is_moe(exp) and exp.size not in MOE_SIZES:
    raise ValueError(f'No MoE model gin for size {exp.size!r}; MoE variants '
                     f'come in {", ".join(MOE_SIZES)} (gin/moe/models/).')
  if _is_moe(exp) and exp.scan:
    raise ValueError('--scan is not available for MoE variants (flaxformer\'s '
                     'sparse stacks are not scanned); drop --scan.')
  # Sequence-AltUp's K is a stride along the sequence, not a block count.
  if exp.variant != 'sequence':
    config.check_k_fits(k, SIZE_LAYERS[exp.size], '--altup_k',
                        f'per stack of size {exp.size!r}',
                        _selection(exp))
  if (exp.variant == 'altup' and k > 1 and tied_logits(exp.size)
      and _decoder_output(exp) != 'concat'):
    raise ValueError(
        f'Size {exp.size!r} ties the logits to the token embedding, which '
        f'full AltUp makes K*d wide; ALTUP_DECODER_OUTPUT='
        f"'{_decoder_output(exp)}' gives a d-wide decoder output. Keep "
        "'concat' (the default), use --variant=recycled, or an untied T5.1.1 "
        'size.')
  for option in exp.options:
    choose('option', option, OPTIONS)
  if exp.vocabulary is not None:
    choose('vocabulary', exp.vocabulary, tuple(VOCABULARY_GINS))
  needed = TASK_VOCABULARIES.get(exp.task)
  if needed and vocabulary_name(exp.task, exp.vocabulary) != needed:
    raise ValueError(f'Task {exp.task!r} is made for the {needed!r} '
                     f'vocabulary; drop --vocabulary={exp.vocabulary} or use '
                     f'--vocabulary={needed}.')
  if isinstance(exp.seed, bool) or not isinstance(exp.seed, int) or (
      exp.seed < 0):
    raise ValueError(f'--seed must be an int >= 0, got {exp.seed!r}.')
  if registered_tasks is not None and exp.task not in registered_tasks:
    raise ValueError(f'Unknown task {exp.task!r}; registered: '
                     f'{", ".join(registered_tasks)}.')
  if not exp.feature_lengths:
    raise ValueError(f'No default feature lengths for task {exp.task!r}; set '
                     'them, e.g. --feature_lengths=inputs=128,targets=32.')
  if exp.run in ('pretrain', 'finetune') and not exp.train_steps:
    raise ValueError(f'--train_steps is required for --run={exp.run}.')
  if exp.run != 'pretrain' and not exp.checkpoint:
    raise ValueError(f'--checkpoint is required for --run={exp.run} (the '
                     'checkpoint_<step> dir to start from or evaluate).')
  if local and exp.model_dir.startswith('gs://'):
    raise ValueError(
        f'The local launcher cannot write {exp.model_dir}; use a local '
        '--model_dir, or launch.xm_launch for Cloud TPU jobs.')
  for name, _ in exp.gin_overrides:
    if name in MANAGED_MACROS:
      raise ValueError(
          f'--gin.{name} conflicts with the launcher flag that sets it; use '
          f'the flag ({_flag_for(name)}) instead.')
  gin_text.check_overrides(gin_files(exp), exp.gin_overrides)
  return exp


def _flag_for(macro: str) -> str:
  return {'ALTUP_K': '--altup_k', 'MODEL_DIR': '--model_dir',
          'MIXTURE_OR_TASK_NAME': '--task', 'MIXTURE_OR_TASK_MODULE': '--task',
          'TASK_FEATURE_LENGTHS': '--feature_lengths',
          'TRAIN_STEPS': '--train_steps', 'BATCH_SIZE': '--batch_size',
          'INITIAL_CHECKPOINT_PATH': '--checkpoint',
          'CHECKPOINT_PATH': '--checkpoint', 'RANDOM_SEED': '--seed',
          'train/utils.DatasetConfig.seed': '--seed'}[macro]


def vocabulary_name(task: str, vocabulary: Optional[str] = None) -> str:
  """The tasks.vocab name a task's runs use: `vocabulary` if given, else the
  task's own ('bytes' for the byte-level tasks, 'offline' for the other
  altup_offline_* tasks, 't5' for the rest)."""
  if vocabulary:
    return vocabulary
  if task in TASK_VOCABULARIES:
    return TASK_VOCABULARIES[task]
  return 'offline' if task.startswith(OFFLINE_PREFIX) else 't5'


def final_checkpoint(exp: Experiment) -> str:
  """<model_dir>/checkpoint_<train_steps>: what a finished train run leaves."""
  return os.path.join(exp.model_dir, f'checkpoint_{exp.train_steps}')


def task_module(task: str) -> str:
  """The module whose import registers `task`."""
  return 'tasks.offline' if task.startswith(OFFLINE_PREFIX) else (
      'tasks.benchmarks')


def _override(exp: Experiment, macro: str, default: str) -> str:
  """A string macro of `exp`: its --gin override, else `default`."""
  return dict(exp.gin_overrides).get(macro, repr(default)).strip('\'"')


def _selection(exp: Experiment) -> str:
  """ALTUP_SELECTION of `exp` (an override, else the gins' default)."""
  return _override(exp, 'ALTUP_SELECTION', 'alternating')


def _decoder_output(exp: Experiment) -> str:
  """ALTUP_DECODER_OUTPUT of `exp` (an override, else the gins' default)."""
  return _override(exp, 'ALTUP_DECODER_OUTPUT', 'concat')


def _is_moe(exp: Experiment) -> bool:
  return exp.variant in MOE_VARIANTS


def run_gin(exp: Experiment) -> str:
  """T5X's run gin of `exp.run` (the MoE stack's own for MoE variants)."""
  gin = RUNS[exp.run][1]
  return gin.replace('t5x/configs/', 't5x/contrib/moe/configs/') if _is_moe(
      exp) else gin


def model_gin_files(size: str, variant: str,
                    options: Sequence[str] = ()) -> List[str]:
  """The gins of one model: size, variant, then gin/options/<option>.gin.

  A variant is one file, gin/variants/<variant>.gin; the MoE variants' sizes
  are gin/moe/models/<size>.gin.
  """
  sizes = 'gin/moe/models' if variant in MOE_VARIANTS else 'gin/models'
  return ([f'{sizes}/{size}.gin', f'gin/variants/{variant}.gin']
          + [f'gin/options/{option}.gin' for option in options])


def gin_files(exp: Experiment) -> List[str]:
  """Every --gin_file of `exp`: model gins, vocabulary gin, T5X run gin."""
  options = (('scan',) if exp.scan else ()) + tuple(exp.options)
  files = model_gin_files(exp.size, exp.variant, options)
  vocabulary_gin = VOCABULARY_GINS[vocabulary_name(exp.task, exp.vocabulary)]
  if vocabulary_gin:
    files.append(vocabulary_gin)
  return files + [run_gin(exp)]


def _quote(value: str) -> str:
  return repr(str(value))


def gin_bindings(exp: Experiment) -> Dict[str, str]:
  """NAME -> gin value text of every binding the launcher passes."""
  b = {'MIXTURE_OR_TASK_NAME': _quote(exp.task),
       'MIXTURE_OR_TASK_MODULE': _quote(task_module(exp.task)),
       'TASK_FEATURE_LENGTHS': repr(dict(exp.feature_lengths))}
  if exp.variant not in BASELINES:
    b['ALTUP_K'] = str(exp.altup_k)
  if exp.run in ('pretrain', 'finetune'):
    b['MODEL_DIR'] = _quote(exp.model_dir)
    b['TRAIN_STEPS'] = str(exp.train_steps)
    b['USE_CACHED_TASKS'] = 'False'
    b['RANDOM_SEED'] = str(exp.seed)
    b['train/utils.DatasetConfig.seed'] = str(exp.seed)
    if exp.run == 'pretrain':
      # Checkpoint the train data's position with the model, so that a killed
      # run resumes on the batches it would have seen (T5X restores it only
      # where it saves it); without it a resumed run replays the data from
      # the start. Not for finetuning: T5X's checkpoint manager would then
      # also restore the data position from the initial checkpoint, another
      # task's, and fail. --gin.utils.SaveCheckpointConfig.save_dataset=False
      # turns it off.
      b[SAVE_DATASET] = 'True'
    if exp.batch_size:
      b['BATCH_SIZE'] = str(exp.batch_size)
  if exp.run == 'finetune':
    b['INITIAL_CHECKPOINT_PATH'] = _quote(exp.checkpoint)
  if exp.run == 'eval':
    b['CHECKPOINT_PATH'] = _quote(exp.checkpoint)
    b['EVAL_OUTPUT_DIR'] = _quote(exp.model_dir)
  if exp.run == 'infer':
    b['CHECKPOINT_PATH'] = _quote(exp.checkpoint)
    b['INFER_OUTPUT_DIR'] = _quote(exp.model_dir)
  if _is_moe(exp):
    # T5X's MoE run gins require NUM_MODEL_PARTITIONS or
    # MODEL_PARALLEL_SUBMESH; 1 is data and expert parallelism only.
    if 'MODEL_PARALLEL_SUBMESH' not in dict(exp.gin_overrides):
      b['NUM_MODEL_PARTITIONS'] = str(exp.num_partitions or 1)
  elif exp.num_partitions:
    b['partitioning.PjitPartitioner.num_partitions'] = str(exp.num_partitions)
  b.update(dict(exp.gin_overrides))
  return b


def t5x_args(exp: Experiment, repo: str = REPO) -> List[str]:
  """Arguments after `python -m t5x.<mode>`; `repo`: this repo's path there."""
  return ([f'--gin_search_paths={repo}']
          + [f'--gin_file={f}' for f in gin_files(exp)]
          + [f'--gin.{k}={v}' for k, v in gin_bindings(exp).items()])


def t5x_command(exp: Experiment, python: str = 'python') -> List[str]:
  """The full local command line, e.g. ['python', '-m', 't5x.train', ...]."""
  return [python, '-m', f't5x.{RUNS[exp.run][0]}'] + t5x_args(exp)


def default_feature_lengths(task: str) -> Optional[Dict[str, int]]:
  """TASK_FEATURE_LENGTHS when --feature_lengths is not given: the task's
  (tasks.FEATURE_LENGTHS), else None."""
  lengths = tasks.FEATURE_LENGTHS.get(task)
  return dict(lengths) if lengths else None


def parse_feature_lengths(text: str) -> Dict[str, int]:
  """'inputs=128,targets=32' -> {'inputs': 128, 'targets': 32}."""
  lengths = {}
  for part in filter(None, (p.strip() for p in text.split(','))):
    name, sep, value = part.partition('=')
    if not sep or not value.strip().isdigit():
      raise ValueError(f'Malformed --feature_lengths {text!r}; write e.g. '
                       'inputs=128,targets=32.')
    lengths[name.strip()] = int(value)
  return lengths
