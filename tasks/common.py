"""Registration helpers shared by `tasks.benchmarks` and `tasks.offline`."""

import collections
import dataclasses

import seqio

from tasks import vocab as vocab_lib


def output_features(vocabulary=None):
  """T5's DEFAULT_OUTPUT_FEATURES, on the shared vocabulary."""
  vocabulary = vocabulary or vocab_lib.get_vocabulary()
  return collections.OrderedDict([
      ('inputs', seqio.Feature(vocabulary=vocabulary, add_eos=True,
                               required=False)),
      ('targets', seqio.Feature(vocabulary=vocabulary, add_eos=True)),
  ])


class SharedVocabularyTask(seqio.Task):
  """A `seqio.Task` whose features use `tasks.vocab.get_vocabulary()`.

  The vocabulary is looked up each time `output_features` is read (by
  `get_dataset`, the preprocessors, mixtures, evaluators and
  `t5x.utils.verify_matching_vocabs`), not once at import, so a gin binding
  of `tasks.vocab.get_vocabulary.name_or_path` made after `import tasks.*`
  (as when t5x parses the gin files) switches the tasks together with a
  model gin that has `VOCABULARY = @tasks.vocab.get_vocabulary()`.
  """

  @property
  def output_features(self):
    vocabulary = vocab_lib.get_vocabulary()
    return collections.OrderedDict(
        (k, dataclasses.replace(f, vocabulary=vocabulary))
        for k, f in self._output_features.items())


def add_task(name, source, preprocessors, *, metric_fns=(),
             postprocess_fn=None, shuffle_buffer_size=None):
  """Registers `name` (replacing an earlier registration of it)."""
  if name in seqio.TaskRegistry.names():
    seqio.TaskRegistry.remove(name)
  kwargs = {}
  if shuffle_buffer_size is not None:
    kwargs['shuffle_buffer_size'] = shuffle_buffer_size
  return seqio.TaskRegistry.add(
      name,
      task_cls=SharedVocabularyTask,
      source=source,
      preprocessors=list(preprocessors),
      output_features=output_features(),
      metric_fns=list(metric_fns),
      postprocess_fn=postprocess_fn,
      **kwargs)


def add_mixture(name, tasks_and_rates, default_rate=None):
  """Registers mixture `name` (replacing an earlier registration of it)."""
  if name in seqio.MixtureRegistry.names():
    seqio.MixtureRegistry.remove(name)
  return seqio.MixtureRegistry.add(name, tasks_and_rates,
                                   default_rate=default_rate)
