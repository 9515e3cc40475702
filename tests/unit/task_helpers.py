"""Helpers of the task tests: altup_* tasks on in-memory examples.

Needs seqio and TensorFlow (and `t5` for the task modules), no network:
pair these with `tasks.vocab.use_vocabulary('offline')`, since the default
't5' vocabulary lives on GCS.
"""

import contextlib
import functools

import seqio
import tensorflow as tf

def examples_dataset(examples):
  """A tf.data.Dataset of the given example dicts (ragged-friendly)."""
  datasets = [tf.data.Dataset.from_tensors(ex) for ex in examples]
  return functools.reduce(lambda a, b: a.concatenate(b), datasets)


@contextlib.contextmanager
def inject_examples(task_name, per_split_examples):
  """Replaces the source of a task by in-memory examples, within a block.

  Like `seqio.test_utils.DataInjector`, but for several examples per split.

  Args:
    task_name: a registered task.
    per_split_examples: {split: [example dict, ...]}, each example shaped like
      one the task's real source yields.

  Yields:
    The task.
  """
  task = seqio.get_mixture_or_task(task_name)
  saved = task._source  # pylint: disable=protected-access

  def dataset_fn(split, shuffle_files=False, seed=None):
    del shuffle_files, seed
    return examples_dataset(per_split_examples[split])

  task._source = seqio.FunctionDataSource(  # pylint: disable=protected-access
      dataset_fn, splits=list(per_split_examples))
  try:
    yield task
  finally:
    task._source = saved  # pylint: disable=protected-access


def preprocess(task_name, examples, split='validation', sequence_length=None,
               seed=0):
  """The task's preprocessed (tokenized) examples for in-memory inputs."""
  with inject_examples(task_name, {split: examples}) as task:
    ds = task.get_dataset(sequence_length, split=split, shuffle=False,
                          use_cached=False, seed=seed)
    return list(ds.as_numpy_iterator())


def evaluate(task_name, examples, predictions, split='validation',
             sequence_length=None):
  """Runs the task's postprocessor and metrics on given text predictions.

  Args:
    task_name: a registered task.
    examples: raw examples, as the task's source yields them.
    predictions: one predicted target string per *preprocessed* example.
    split: split to inject the examples under.
    sequence_length: optional feature lengths.

  Returns:
    {metric name: value} of the task's metric_fns.
  """
  task = seqio.get_mixture_or_task(task_name)
  vocabulary = task.output_features['targets'].vocabulary

  class _Predict(seqio.evaluation.PredictFnCallable):

    def __call__(self, dataset=None, model_feature_lengths=None):
      # Like a model's decodes: ids + EOS, padded with 0 to one length.
      ids = [vocabulary.encode(p) + [vocabulary.eos_id] for p in predictions]
      width = max(len(x) for x in ids)
      return list(enumerate(x + [0] * (width - len(x)) for x in ids))

  with inject_examples(task_name, {split: examples}):
    evaluator = seqio.Evaluator(
        task_name,
        feature_converter=seqio.EncDecFeatureConverter(pack=False),
        eval_split=split,
        sequence_length=sequence_length,
        use_memory_cache=False)
    n = sum(1 for _ in evaluator.cached_task_datasets[task_name])
    if n != len(predictions):
      raise ValueError(f'{task_name}: {n} preprocessed examples but '
                       f'{len(predictions)} predictions')
    return evaluator.evaluate(compute_metrics=True,
                              predict_fn=_Predict())[0].result()[task_name]


def tfds_tensor_info(tfds_name):
  """{feature: tfds TensorInfo} (nested) of a TFDS dataset, from code only."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  return tfds.builder(tfds_name).info.features.get_tensor_info()


def tfds_example(tfds_name, **values):
  """An example exactly in the structure, dtypes and ranks TFDS yields.

  Fields not given are filled with empty strings / zeros / empty sequences.

  Args:
    tfds_name: e.g. 'glue/sst2:1.0.0' (only the builder code is used).
    **values: field values; nested features (e.g. squad's `answers`) as dicts.

  Returns:
    A nested dict of numpy values.

  Raises:
    KeyError: a value for a field the dataset does not have.
    ValueError: a value of the wrong rank.
  """
  import numpy as np  # pylint: disable=g-import-not-at-top

  def build(info, given, path):
    if isinstance(info, dict):
      given = {} if given is _MISSING else given
      unknown = set(given) - set(info)
      if unknown:
        raise KeyError(f'{tfds_name} has no field(s) '
                       f'{sorted(path + k for k in unknown)}')
      return {k: build(v, given.get(k, _MISSING), path + k + '/')
              for k, v in info.items()}
    dtype = info.dtype.as_numpy_dtype if info.dtype != tf.string else object
    if given is _MISSING:
      shape = tuple(0 if d is None else d for d in info.shape)
      return (np.full(shape, b'', object) if info.dtype == tf.string
              else np.zeros(shape, dtype))
    value = np.asarray(given, dtype=dtype)
    if value.ndim != len(info.shape):
      raise ValueError(f'{tfds_name}: {path[:-1]} has rank '
                       f'{len(info.shape)}, got {value!r}')
    return value

  return build(tfds_tensor_info(tfds_name), values, '')


_MISSING = object()


def task_tfds_name(task_name):
  """The TFDS name ('glue/sst2:1.0.0') of a TFDS-backed task."""
  return seqio.get_mixture_or_task(task_name).source.tfds_dataset.name
