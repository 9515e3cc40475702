"""An in-memory SeqIO task for integration tests: reverse a random id sequence.

Registered as `test_reverse`, outside the repository's `altup_` names, so that
`tasks.registered_names()` (the launchers' task list, which tests check against
the model gins' vocabularies) is the same whichever test modules ran before in
the process; pass-through vocabulary of 128 ids (matches
`VOCABULARY`/`NUM_EMBEDDINGS` in tiny_vocab.gin), splits train/validation/test,
64 examples of 8 ids each (FEATURE_LENGTHS leave room for EOS).
"""

import numpy as np
import seqio
import tensorflow as tf

VOCAB_SIZE = 128
VOCABULARY = seqio.PassThroughVocabulary(size=VOCAB_SIZE, eos_id=1)
TASK_NAME = 'test_reverse'
FEATURE_LENGTHS = {'inputs': 16, 'targets': 16}


def _examples(split, shuffle_files=False, seed=None):
  del shuffle_files, seed
  rng = np.random.RandomState({'train': 0, 'validation': 1, 'test': 2}[split])
  ids = rng.randint(3, VOCAB_SIZE, size=(64, 8)).astype(np.int32)
  return tf.data.Dataset.from_tensor_slices(
      {'inputs': ids, 'targets': ids[:, ::-1].copy()})


def sequence_accuracy(targets, predictions):
  return {'sequence_accuracy': 100.0 * float(np.mean(
      [list(t) == list(p) for t, p in zip(targets, predictions)]))}


if TASK_NAME not in seqio.TaskRegistry.names():
  features = {k: seqio.Feature(VOCABULARY, add_eos=True)
              for k in ('inputs', 'targets')}
  seqio.TaskRegistry.add(
      TASK_NAME,
      source=seqio.FunctionDataSource(
          _examples, splits=('train', 'validation', 'test')),
      preprocessors=[seqio.preprocessors.append_eos_after_trim],
      output_features=features,
      metric_fns=[sequence_accuracy])
