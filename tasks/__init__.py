"""SeqIO tasks for altup-t5x.

Importing `tasks` is cheap (no TensorFlow). The registrations live in

* `tasks.benchmarks`: the paper's pretraining and finetuning tasks (C4 span
  corruption, GLUE, SuperGLUE, SQuAD v1.1, closed-book TriviaQA) and C4
  causal and prefix LM for the decoder-only sizes, with T5's preprocessors,
  postprocessors and metrics, on TFDS sources;
* `tasks.offline`: `altup_offline_span_corruption`,
  `altup_offline_byte_span_corruption` (ByT5's, on bytes),
  `altup_offline_lm`, `altup_offline_prefix_lm` (decoder-only) and
  `altup_offline_sentiment`, real English text and labels from PyPI packages,
  for runs without TFDS data or network.

Every task's vocabulary is `tasks.vocab.get_vocabulary()` (gin-configurable).
Use `tasks.get_mixture_or_task(name)` to look one up by name. What launchers
need to know of the tasks lives here, readable without TensorFlow: their names
(`NAMES`), their feature lengths (`FEATURE_LENGTHS`) and the benchmarks'
headline metrics (`BENCHMARK_METRICS`).
"""

PREFIX = 'altup_'

# The `t5` package's own pins would replace the installed seqio (with
# seqio-nightly) and add tfds-nightly, mesh-tensorflow and transformers; the
# task modules only need t5's data/evaluation code and these.
T5_PIP = ('pip install --no-deps t5==0.9.4 && pip install babel editdistance '
          'nltk rouge-score sacrebleu scikit-learn')


# Every altup_* task and mixture the task modules register, so that launchers
# check a name without importing TensorFlow (tests/unit/test_tasks_registry.py
# checks it against the registries).
_GLUE = ('ax', 'cola', 'mnli', 'mnli_matched', 'mnli_mismatched', 'mrpc',
         'qnli', 'qqp', 'rte', 'sst2', 'stsb', 'wnli')
_SUPER_GLUE = ('axb', 'axg', 'boolq', 'cb', 'copa', 'multirc', 'record', 'rte',
               'wic', 'wsc_simple_eval', 'wsc_simple_train')
NAMES = tuple(sorted(
    ('altup_c4_span_corruption', 'altup_c4_lm', 'altup_c4_prefix_lm',
     'altup_offline_lm', 'altup_offline_prefix_lm', 'altup_squad',
     'altup_trivia_qa_closed_book',
     'altup_dpr_simple', 'altup_offline_span_corruption',
     'altup_offline_byte_span_corruption', 'altup_offline_sentiment',
     'altup_glue_proportional', 'altup_super_glue_proportional')
    + tuple(f'altup_glue_{n}' for n in _GLUE)
    + tuple(f'altup_super_glue_{n}' for n in _SUPER_GLUE)))


# TASK_FEATURE_LENGTHS of each task the launchers run without --feature_lengths
# (launch.compose.default_feature_lengths): T5.1.1's pretraining lengths for
# C4, T5's finetuning lengths for the benchmarks, and lengths for a tiny CPU
# model on the offline tasks.
FEATURE_LENGTHS = {
    'altup_c4_span_corruption': {'inputs': 512, 'targets': 114},
    'altup_glue_proportional': {'inputs': 512, 'targets': 84},
    'altup_super_glue_proportional': {'inputs': 512, 'targets': 84},
    'altup_squad': {'inputs': 512, 'targets': 64},
    'altup_trivia_qa_closed_book': {'inputs': 128, 'targets': 32},
    # T5.1.1's span corruption needs targets >= 29 at inputs 128.
    'altup_offline_span_corruption': {'inputs': 128, 'targets': 32},
    # ByT5's spans (mean 20 bytes): t5's random_spans_helper gives 24 targets.
    'altup_offline_byte_span_corruption': {'inputs': 128, 'targets': 24},
    # The longest input is 111 tokens of the offline vocabulary.
    'altup_offline_sentiment': {'inputs': 128, 'targets': 4},
    # Decoder-only (gin/models/lm_*.gin): causal LM has targets only, prefix
    # LM both (seqio's DecoderFeatureConverter packs them into one sequence).
    'altup_c4_lm': {'targets': 512},
    'altup_c4_prefix_lm': {'inputs': 512, 'targets': 512},
    'altup_offline_lm': {'targets': 128},
    'altup_offline_prefix_lm': {'inputs': 128, 'targets': 128},
}

# The metrics launch.report shows first for each finetuning benchmark (the
# sweeps' benchmark names; mixtures: the mean over tasks of each task's metric
# mean, as the T5 paper's GLUE score).
BENCHMARK_METRICS = {'glue': ('average',), 'super_glue': ('average',),
                     'squad': ('em', 'f1'), 'trivia_qa': ('em', 'f1'),
                     'sentiment': ('accuracy',)}


def import_all():
  """Registers every altup_* task and mixture (imports the task modules)."""
  # pylint: disable=g-import-not-at-top,unused-import
  import tasks.benchmarks
  import tasks.offline
  # pylint: enable=g-import-not-at-top,unused-import


def registered_names():
  """Sorted names of the registered altup_* tasks and mixtures."""
  import seqio  # pylint: disable=g-import-not-at-top
  import_all()
  return sorted(n for n in set(seqio.TaskRegistry.names()) |
                set(seqio.MixtureRegistry.names()) if n.startswith(PREFIX))


def get_mixture_or_task(name: str):
  """Returns the altup_* `seqio.Task` or `seqio.Mixture` called `name`.

  Raises:
    ValueError: unknown name; the message lists every registered altup_* name.
  """
  import seqio  # pylint: disable=g-import-not-at-top
  names = registered_names()
  if name not in names:
    hint = ''
    if not name.startswith(PREFIX) and PREFIX + name in names:
      hint = f' Did you mean {PREFIX + name!r}?'
    raise ValueError(
        f'Unknown task or mixture {name!r}.{hint} Registered altup_* tasks '
        f'and mixtures ({len(names)}): {", ".join(names)}')
  return seqio.get_mixture_or_task(name)
