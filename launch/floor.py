r"""The floor: what a model that learned no language scores on span corruption.

  python -m launch.floor --task=altup_offline_span_corruption \
      --feature_lengths=inputs=128,targets=32 [--output=floor.json]

T5X's held-out span metrics (teacher-forced token accuracy and per-token
cross entropy over the packed `validation` targets) are computed here for two
models that know the span-corruption *format* but no language:

* accuracy: an oracle for the format, which emits the due sentinel (or EOS)
  wherever one is due, and elsewhere the most frequent non-sentinel target
  token of the train split.
* loss: the same oracle (probability 1 on a due sentinel / EOS, loss 0 there)
  with a unigram distribution over the train split's non-sentinel target
  tokens (add-one smoothed) everywhere else. Also printed: the plain unigram
  loss, which does not know where sentinels are due.

Both are optimistic (the oracle knows where spans end), so a model must learn
some language to beat them. The evaluation batches are T5X's `train_eval`
ones (validation split, no shuffling, seed 42, EncDecFeatureConverter with
packing); `--eval_batches` x `--batch_size` must match the runs (the sweeps'
`train.eval_steps` and `BATCH_SIZE`).
"""

import collections
import json
import math
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

EVAL_SEED = 42  # T5X's train_eval/utils.DatasetConfig.seed (pretrain.gin)


def is_format_token(token: int, vocab_size: int, extra_ids: int,
                    eos_id: int = 1) -> bool:
  """True for EOS and the sentinels (the last `extra_ids` ids of the vocab)."""
  return token == eos_id or token >= vocab_size - extra_ids


def target_counts(targets: Iterable[np.ndarray], weights: Iterable[np.ndarray]
                  ) -> collections.Counter:
  """Counts of every weighted (non-padding) target token."""
  counts = collections.Counter()
  for t, w in zip(targets, weights):
    counts.update(np.asarray(t)[np.asarray(w) > 0].tolist())
  return counts


def floor_metrics(train_counts: Mapping[int, int],
                  eval_targets: Sequence[np.ndarray],
                  eval_weights: Sequence[np.ndarray],
                  vocab_size: int, extra_ids: int) -> Dict[str, float]:
  """The floor's accuracy and losses on the evaluation targets.

  Args:
    train_counts: token -> count over the train split's target tokens.
    eval_targets: [batch, length] int arrays (decoder_target_tokens).
    eval_weights: matching [batch, length] loss weights (0 on padding).
    vocab_size: ids of the vocabulary (sentinels are the last `extra_ids`).
    extra_ids: number of sentinel ids.

  Returns:
    {'accuracy', 'loss', 'unigram_loss', 'tokens', 'format_fraction'}.
  """
  fmt = lambda t: is_format_token(t, vocab_size, extra_ids)
  content = {t: c for t, c in train_counts.items() if not fmt(t)}
  if not content:
    raise ValueError('The train targets hold no content tokens.')
  mode = max(content, key=lambda t: (content[t], -t))
  content_total = sum(content.values()) + vocab_size  # add-one smoothing
  all_total = sum(train_counts.values()) + vocab_size
  hits = loss = unigram_loss = n = n_format = 0
  for targets, weights in zip(eval_targets, eval_weights):
    for t in np.asarray(targets)[np.asarray(weights) > 0].tolist():
      n += 1
      unigram_loss -= math.log((train_counts.get(t, 0) + 1) / all_total)
      if fmt(t):
        hits += 1
        n_format += 1
      else:
        hits += t == mode
        loss -= math.log((content.get(t, 0) + 1) / content_total)
  if not n:
    raise ValueError('No evaluation target tokens.')
  return {'accuracy': hits / n, 'loss': loss / n,
          'unigram_loss': unigram_loss / n, 'tokens': n,
          'format_fraction': n_format / n}


def split_accuracy(targets: Sequence[np.ndarray], weights: Sequence[np.ndarray],
                   predictions: Sequence[np.ndarray], vocab_size: int,
                   extra_ids: int) -> Dict[str, float]:
  """Teacher-forced accuracy on format tokens (sentinels, EOS) and on content.

  Args:
    targets, weights, predictions: matching [batch, length] arrays per batch
      (predictions: the argmax of the logits).
    vocab_size, extra_ids: as for `floor_metrics`.

  Returns:
    {'accuracy', 'format accuracy', 'content accuracy', 'format fraction'}.
  """
  hits = {True: 0, False: 0}
  counts = {True: 0, False: 0}
  for t, w, p in zip(targets, weights, predictions):
    mask = np.asarray(w) > 0
    for target, guess in zip(np.asarray(t)[mask].tolist(),
                             np.asarray(p)[mask].tolist()):
      kind = is_format_token(target, vocab_size, extra_ids)
      counts[kind] += 1
      hits[kind] += target == guess
  total = counts[True] + counts[False]
  if not total:
    raise ValueError('No evaluation target tokens.')
  ratio = lambda a, b: a / b if b else float('nan')
  return {'accuracy': (hits[True] + hits[False]) / total,
          'format accuracy': ratio(hits[True], counts[True]),
          'content accuracy': ratio(hits[False], counts[False]),
          'format fraction': counts[True] / total}


def packed_batches(task: str, lengths: Mapping[str, int], split: str,
                 batch_size: int, num_batches: int, shuffle: bool = False,
                 seed: int = EVAL_SEED) -> List[Dict[str, np.ndarray]]:
  """T5X-style packed batches of a SeqIO task (EncDecFeatureConverter).

  With the defaults, T5X's `train_eval` batches of the split: no shuffling,
  seed 42 (pretrain.gin), so the first `num_batches` are what T5X evaluates.
  """
  import seqio  # pylint: disable=g-import-not-at-top
  ds = seqio.get_mixture_or_task(task).get_dataset(
      dict(lengths), split=split, shuffle=shuffle, seed=seed,
      use_cached=False)
  ds = seqio.EncDecFeatureConverter(pack=True)(ds, dict(lengths))
  ds = ds.batch(batch_size, drop_remainder=True).take(num_batches)
  return list(ds.as_numpy_iterator())


def _targets(batches) -> Tuple[list, list]:
  return ([b['decoder_target_tokens'] for b in batches],
          [b['decoder_loss_weights'] for b in batches])


def compute(task: str, lengths: Mapping[str, int], eval_batches: int,
            batch_size: int, train_batches: int = 100) -> Dict[str, object]:
  """The floor of `task` (a registered span-corruption task) on its first
  `eval_batches` validation batches."""
  import seqio  # pylint: disable=g-import-not-at-top
  import tasks  # pylint: disable=g-import-not-at-top,unused-import
  from launch import compose  # pylint: disable=g-import-not-at-top
  __import__(compose.task_module(task))
  vocab = seqio.get_mixture_or_task(task).output_features['targets'].vocabulary
  train = _targets(packed_batches(task, lengths, 'train', batch_size,
                                train_batches, shuffle=True, seed=0))
  evals = _targets(packed_batches(task, lengths, 'validation', batch_size,
                                eval_batches))
  result = floor_metrics(target_counts(*train), *evals,
                         vocab_size=vocab.vocab_size,
                         extra_ids=vocab.extra_ids)
  result.update(task=task, feature_lengths=dict(lengths),
                eval_batches=eval_batches, batch_size=batch_size)
  return result


def write(path: Optional[str], task: str, lengths: Mapping[str, int],
          eval_batches: int, batch_size: int,
          vocabulary: Optional[str] = None) -> Dict[str, object]:
  """Computes the floor with `vocabulary` (default: the task's, as the
  launchers choose it); writes JSON to `path`."""
  from launch import compose  # pylint: disable=g-import-not-at-top
  from tasks import vocab  # pylint: disable=g-import-not-at-top
  vocabulary = compose.vocabulary_name(task, vocabulary)
  with vocab.use_vocabulary(vocabulary):
    result = compute(task, lengths, eval_batches, batch_size)
  result['vocabulary'] = vocabulary
  if path:
    with open(path, 'w') as out:
      json.dump(result, out, indent=2)
      out.write('\n')
  return result


def main(argv: Sequence[str]) -> None:
  from absl import flags  # pylint: disable=g-import-not-at-top
  from launch import compose  # pylint: disable=g-import-not-at-top
  if len(argv) > 1:
    raise ValueError(f'unexpected arguments {argv[1:]}')
  f = flags.FLAGS
  lengths = (compose.parse_feature_lengths(f.feature_lengths)
             if f.feature_lengths else compose.default_feature_lengths(f.task))
  if not lengths:
    raise ValueError(f'no default feature lengths for {f.task!r}; set '
                     '--feature_lengths=inputs=...,targets=...')
  print(json.dumps(write(f.output, f.task, lengths, f.eval_batches,
                         f.batch_size, f.vocabulary), indent=2))


def define_flags() -> None:
  from absl import flags  # pylint: disable=g-import-not-at-top
  from launch import compose  # pylint: disable=g-import-not-at-top
  flags.DEFINE_string('task', 'altup_offline_byte_span_corruption',
                      'A registered span-corruption task.')
  flags.DEFINE_string('feature_lengths', None,
                      'e.g. inputs=128,targets=32 (default: the task\'s).')
  flags.DEFINE_enum('vocabulary', None, tuple(compose.VOCABULARY_GINS),
                    'The runs\' vocabulary (default: the task\'s).')
  flags.DEFINE_integer('eval_batches', 10, 'train.eval_steps of the runs.')
  flags.DEFINE_integer('batch_size', 32, 'BATCH_SIZE of the runs.')
  flags.DEFINE_string('output', None, 'Also write the JSON here.')


def entry() -> None:
  from launch import cli  # pylint: disable=g-import-not-at-top
  cli.run(main, 'launch.floor', define_flags)


if __name__ == '__main__':
  entry()
