"""Checks a T5X job's model dir, checkpoint and data before anything runs.

T5X finds these faults late, after minutes of start-up and compilation, and
reports them as a shape mismatch deep in a restore or a TFDS traceback. Here
each one is a ValueError that names the fix, raised before the launcher writes
anything (`launch.runner.run` calls `check` first):

- a model dir whose checkpoints hold another model (size, variant, K,
  vocabulary, scan, options): T5X would resume from them and fail on shapes,
  or, where the shapes agree, silently continue the other model;
- a finetune / eval / infer checkpoint of another size or vocabulary, or of
  another AltUp variant or K;
- a latest checkpoint that is incomplete or corrupt (T5X resumes from the
  latest one): the error names the checkpoint to move aside;
- a benchmark task whose TFDS data is not prepared.

What a run is: `<model_dir>/experiment.json`, written by `record` when a train
run starts. Model dirs without one (runs started by hand) are compared on the
shape macros of the `config.gin` T5X writes there.
"""

import dataclasses
import json
import os
import re
from typing import Dict, List, Optional, Tuple

from launch import compose
from launch import gin_text

EXPERIMENT_FILE = 'experiment.json'
T5X_CONFIG_FILE = 'config.gin'
# The macros that fix a model's parameter shapes (T5X writes their values
# into <model_dir>/config.gin).
SHAPE_MACROS = ('EMBED_DIM', 'NUM_HEADS', 'HEAD_DIM', 'MLP_DIM',
                'NUM_ENCODER_LAYERS', 'NUM_DECODER_LAYERS', 'NUM_EMBEDDINGS',
                'ALTUP_K')
# Of those, the ones a warm start (dense -> AltUp) keeps.
SIZE_MACROS = SHAPE_MACROS[:-1]
_CHECKPOINT_DIR = re.compile(r'^checkpoint_(\d+)$')


def model_options(options) -> List[str]:
  """The options that define a model (not compose.COMPUTE_OPTIONS)."""
  return sorted(o for o in options if o not in compose.COMPUTE_OPTIONS)


def model_fields(exp: compose.Experiment) -> Dict[str, object]:
  """What defines the model a run trains (its experiment.json)."""
  macros = gin_text.gin_macros(compose.model_gin_files(exp.size, exp.variant))
  return {
      'size': exp.size, 'variant': exp.variant, 'altup_k': exp.altup_k,
      'scan': exp.scan, 'options': model_options(exp.options),
      'vocabulary': compose.vocabulary_name(exp.task, exp.vocabulary),
      # Overrides of model macros (e.g. ALTUP_SELECTION, EMBED_DIM).
      'model_overrides': {k: v for k, v in exp.gin_overrides if k in macros},
  }


def shape_macros(exp: compose.Experiment) -> Dict[str, str]:
  """SHAPE_MACROS -> value text the run will bind (literal values only)."""
  files = compose.gin_files(exp)[:-1]  # model + vocabulary gins
  macros = gin_text.gin_macros(files)
  macros.update((k, v) for k, v in exp.gin_overrides)
  # A dense model's K is 1 (what gin/variants/baseline.gin binds).
  macros['ALTUP_K'] = ('1' if exp.variant in compose.BASELINES
                       else str(exp.altup_k))
  return {k: macros[k] for k in SHAPE_MACROS
          if k in macros and not macros[k].startswith(('%', '@'))}


def read_config_macros(run_dir: str) -> Optional[Dict[str, str]]:
  """SHAPE_MACROS found in <run_dir>/config.gin (T5X's), None if absent."""
  path = os.path.join(run_dir, T5X_CONFIG_FILE)
  if not os.path.isfile(path):
    return None
  return {k: v for k, v in gin_text.gin_macros([path]).items()
          if k in SHAPE_MACROS}


def read_record(run_dir: str) -> Optional[Dict[str, object]]:
  path = os.path.join(run_dir, EXPERIMENT_FILE)
  if not os.path.isfile(path):
    return None
  with open(path) as f:
    return json.load(f)


def record(exp: compose.Experiment) -> None:
  """Writes <model_dir>/experiment.json for a train run (once)."""
  path = os.path.join(exp.model_dir, EXPERIMENT_FILE)
  if exp.run in ('pretrain', 'finetune') and not os.path.exists(path):
    os.makedirs(exp.model_dir, exist_ok=True)
    with open(path, 'w') as f:
      json.dump(model_fields(exp), f, indent=2, sort_keys=True)


def checkpoint_steps(model_dir: str) -> List[int]:
  """Steps of the finished checkpoint_<step> dirs, ascending."""
  if not os.path.isdir(model_dir):
    return []
  return sorted(int(m.group(1)) for m in map(_CHECKPOINT_DIR.match,
                                             os.listdir(model_dir)) if m)


def _differences(found: Dict, wanted: Dict, keys) -> List[Tuple]:
  return [(k, found.get(k), wanted.get(k)) for k in keys
          if k in found and found.get(k) != wanted.get(k)]


def _describe(diffs) -> str:
  return ', '.join(f'{k} {f!r} (this run: {w!r})' for k, f, w in diffs)


def check_model_dir(exp: compose.Experiment) -> None:
  """A train run's model dir holds no checkpoint of another model."""
  if exp.run not in ('pretrain', 'finetune') or not checkpoint_steps(
      exp.model_dir):
    return
  found = read_record(exp.model_dir)
  if found is not None:
    found = dict(found, options=model_options(found.get('options', ())))
    wanted = model_fields(exp)
    diffs = _differences(found, wanted, wanted)
  else:
    found = read_config_macros(exp.model_dir) or {}
    wanted = shape_macros(exp)
    diffs = _differences(found, wanted, SHAPE_MACROS)
  if diffs:
    raise ValueError(
        f'{exp.model_dir} holds checkpoints of another model: '
        f'{_describe(diffs)}. T5X would resume from them. Use another '
        '--model_dir, or the flags of the run that wrote it.')


def check_checkpoint(exp: compose.Experiment) -> None:
  """A finetune / eval / infer checkpoint exists and fits the model.

  Size and vocabulary must match. A dense checkpoint may warm-start an
  AltUp model (gin/runs/warm_start.gin); an AltUp one needs the same variant
  and K.
  """
  if exp.run == 'pretrain' or not exp.checkpoint or exp.checkpoint.startswith(
      'gs://'):
    return
  path = exp.checkpoint.rstrip('/')
  if not os.path.isdir(path):
    raise ValueError(f'--checkpoint {exp.checkpoint} does not exist; give a '
                     '<model_dir>/checkpoint_<step> directory.')
  check_complete(path)
  source = os.path.dirname(path)
  record_found = read_record(source)
  if record_found and record_found.get('variant') not in compose.BASELINES:
    wanted = model_fields(exp)
    diffs = _differences(record_found, wanted, ('variant', 'altup_k',
                                                 'vocabulary', 'size'))
  else:
    found = read_config_macros(source) or {}
    diffs = _differences(found, shape_macros(exp), SIZE_MACROS)
  if diffs:
    raise ValueError(
        f'--checkpoint {exp.checkpoint} is of another model: '
        f'{_describe(diffs)}. Choose the flags of the run that wrote it, or a '
        'checkpoint of this model.')


def check_complete(checkpoint_dir: str) -> None:
  """A checkpoint dir has Orbax's metadata and T5X's train state, readable.

  Catches a checkpoint cut short (a partial copy, a disk that filled up);
  the array data itself is read only by the restore.
  """
  legacy = os.path.join(checkpoint_dir, 'checkpoint')  # T5X's msgpack format
  if os.path.isfile(legacy):
    if not os.path.getsize(legacy):
      raise ValueError(f'Checkpoint {checkpoint_dir} is empty (checkpoint '
                       'file of 0 bytes); use another checkpoint.')
    return
  problems = []
  for name in ('_CHECKPOINT_METADATA', os.path.join('state', '_METADATA')):
    file = os.path.join(checkpoint_dir, name)
    try:
      with open(file) as f:
        json.load(f)
    except (OSError, ValueError) as e:
      problems.append(f'{name}: {type(e).__name__}')
  if not os.path.isfile(os.path.join(checkpoint_dir, 'state',
                                     'manifest.ocdbt')):
    problems.append('state/manifest.ocdbt: missing')
  if problems:
    raise ValueError(
        f'Checkpoint {checkpoint_dir} is incomplete or corrupt '
        f'({"; ".join(problems)}). Move it aside (mv {checkpoint_dir} '
        f'{checkpoint_dir}.corrupt) to resume from the checkpoint before it; '
        'nothing else in the model dir needs to change.')


def check_latest(model_dir: str) -> None:
  """The checkpoint a train run would resume from is complete."""
  steps = checkpoint_steps(model_dir)
  if steps:
    check_complete(os.path.join(model_dir, f'checkpoint_{steps[-1]}'))


def has_data_position(checkpoint_dir: str) -> bool:
  """Whether T5X saved the train data iterator in an Orbax checkpoint
  (dataset/train_ds-*; SaveCheckpointConfig.save_dataset)."""
  data = os.path.join(checkpoint_dir, 'dataset')
  return os.path.isdir(data) and any(
      name.startswith('train_ds') for name in os.listdir(data))


def resume_as_started(exp: compose.Experiment, echo=print
                      ) -> compose.Experiment:
  """`exp`, or `exp` without data-position checkpoints where it resumes a run
  whose latest checkpoint holds none.

  The launchers save the data position with every checkpoint, and T5X then
  restores it on resume: from a checkpoint written without it (a run started
  by an earlier version of the launchers, or with save_dataset=False) the
  restore would fail. Such a run resumes as it was started, its data stream
  from the beginning, and says so.
  """
  steps = checkpoint_steps(exp.model_dir)
  if (exp.run not in ('pretrain', 'finetune') or not steps
      or compose.gin_bindings(exp).get(compose.SAVE_DATASET) != 'True'):
    return exp
  latest = os.path.join(exp.model_dir, f'checkpoint_{steps[-1]}')
  if os.path.isfile(os.path.join(latest, 'checkpoint')) or has_data_position(
      latest):  # T5X's msgpack format: Orbax's data checkpoint does not apply
    return exp
  echo(f'[resume] {latest} holds no data position (saved without '
       f'{compose.SAVE_DATASET}): resuming as the run was started, its data '
       'from the beginning of the stream. For an exact run, start a new '
       '--model_dir.')
  return dataclasses.replace(exp, gin_overrides=exp.gin_overrides + (
      (compose.SAVE_DATASET, 'False'),))


def check_task_data(exp: compose.Experiment) -> None:
  """The TFDS data of a benchmark task is prepared (local runs).

  Imports TensorFlow and the task registrations, so it runs only for TFDS
  tasks (not the altup_offline_* ones, whose data come with pip packages).
  """
  if compose.task_module(exp.task) != 'tasks.benchmarks':
    return
  import seqio  # pylint: disable=g-import-not-at-top
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  import tasks.benchmarks  # pylint: disable=g-import-not-at-top,unused-import
  task = seqio.get_mixture_or_task(exp.task)
  leaves = task.tasks if isinstance(task, seqio.Mixture) else [task]
  for leaf in leaves:
    loader = getattr(leaf.source, 'tfds_dataset', None)
    if loader is None:
      continue
    data_dir = loader.data_dir or os.environ.get(
        'TFDS_DATA_DIR', os.path.expanduser('~/tensorflow_datasets'))
    builder = tfds.builder(loader.name, data_dir=data_dir)
    if not builder.is_prepared():
      raise ValueError(
          f'Task {exp.task!r} reads TFDS {loader.name}, which is not prepared '
          f'under {data_dir}. Prepare it (tfds build {loader.name.split(":")[0]}'
          f' --data_dir={data_dir}), or point TFDS_DATA_DIR at a dir that '
          'holds it.')


def check(exp: compose.Experiment) -> None:
  """Every check above that applies to `exp` (a validated Experiment)."""
  check_model_dir(exp)
  if exp.run in ('pretrain', 'finetune'):
    check_latest(exp.model_dir)
  check_checkpoint(exp)
  check_task_data(exp)
