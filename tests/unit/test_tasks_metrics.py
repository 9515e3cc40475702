"""Postprocessors + metrics of the altup_* tasks on known predictions.

Each case runs a seqio.Evaluator over in-memory examples (in the TFDS
source's exact structure) with fixed text predictions, so the chain
decode -> task postprocess_fn -> metric_fns is the one t5x runs.
Expected values are worked out by hand in the comments.
"""

import math

import pytest

import tasks

seqio = pytest.importorskip('seqio', reason='the tasks are SeqIO tasks: pip install seqio')
pytest.importorskip('tensorflow', reason='SeqIO tasks need TensorFlow: pip install tensorflow-cpu')
pytest.importorskip('tensorflow_datasets', reason='pip install tensorflow-datasets')
pytest.importorskip(
    't5', reason=f'tasks reuse T5\'s preprocessors and metrics: {tasks.T5_PIP}')

# pylint: disable=g-import-not-at-top
import gin
from tasks import benchmarks
from tasks import offline
from tasks import vocab
# pylint: enable=g-import-not-at-top
from tests.unit import task_helpers


@pytest.fixture(autouse=True)
def _offline_vocab():
  with vocab.use_vocabulary('offline'):
    yield
  gin.clear_config()


def _eval(task_name, raw, predictions, split='validation'):
  tfds_name = task_helpers.task_tfds_name(task_name)
  examples = [task_helpers.tfds_example(tfds_name, **r) for r in raw]
  return task_helpers.evaluate(task_name, examples, predictions, split=split)


def _approx(metrics):
  return {k: pytest.approx(float(v), abs=1e-4) for k, v in metrics.items()}


def test_sst2_accuracy():
  raw = [dict(sentence='Great.', label=1, idx=0),
         dict(sentence='Bad.', label=0, idx=1),
         dict(sentence='Fine.', label=1, idx=2)]
  assert _eval('altup_glue_sst2', raw, ['positive', 'negative', 'negative']) == (
      _approx({'accuracy': 200 / 3}))
  # An unparseable prediction becomes class -1, i.e. wrong.
  assert _eval('altup_glue_sst2', raw, ['positive', 'banana', 'positive']) == (
      _approx({'accuracy': 200 / 3}))


def test_cola_matthews_times_100():
  raw = [dict(sentence=f's{i}', label=l, idx=i)
         for i, l in enumerate([1, 0, 1, 0])]
  # TP=1 TN=2 FP=0 FN=1: (1*2 - 0*1) / sqrt(1 * 2 * 2 * 3) = 0.57735
  got = _eval('altup_glue_cola', raw, [
      'acceptable', 'unacceptable', 'unacceptable', 'unacceptable'])
  assert got == _approx({'matthews_corrcoef': 100 * 2 / math.sqrt(12)})


def test_mrpc_f1_with_invalid_and_accuracy():
  raw = [dict(sentence1='a', sentence2='b', label=l, idx=i)
         for i, l in enumerate([1, 0, 1])]
  # Invalid 'maybe' counts as wrong: preds [1, 1, 0] -> TP=1 FP=1 FN=1.
  got = _eval('altup_glue_mrpc', raw, ['equivalent', 'equivalent', 'maybe'])
  assert got == _approx({'f1': 50.0, 'accuracy': 100 / 3})


def test_stsb_pearson_and_spearman():
  raw = [dict(sentence1='a', sentence2='b', label=l, idx=i)
         for i, l in enumerate([0.0, 2.4, 5.0])]
  got = _eval('altup_glue_stsb', raw, ['0.2', '2.6', '4.4'])
  # Monotone -> Spearman 100; Pearson of (0, 2.4, 5) vs (0.2, 2.6, 4.4).
  x, y = [0.0, 2.4, 5.0], [0.2, 2.6, 4.4]
  mx, my = sum(x) / 3, sum(y) / 3
  cov = sum((a - mx) * (b - my) for a, b in zip(x, y))
  pearson = cov / math.sqrt(sum((a - mx) ** 2 for a in x) *
                            sum((b - my) ** 2 for b in y))
  assert got == _approx({'pearson_corrcoef': 100 * pearson,
                         'spearman_corrcoef': 100.0})


def test_cb_mean_3class_f1_and_accuracy():
  raw = [dict(premise='p', hypothesis='h', label=l, idx=i)
         for i, l in enumerate([0, 1, 2, 0])]
  # entailment F1 = 2/3 (1 of 2 found, 1 predicted), contradiction 1, neutral
  # 2/3 (1 correct + 1 false positive): mean 7/9; accuracy 3/4.
  got = _eval('altup_super_glue_cb', raw,
              ['entailment', 'contradiction', 'neutral', 'neutral'])
  assert got == _approx({'mean_3class_f1': 700 / 9, 'accuracy': 75.0})


def test_multirc_f1_over_answers_and_question_exact_match():
  raw = [dict(paragraph='P', question=f'q{q}', answer=f'a{a}', label=l,
              idx=dict(paragraph=0, question=q, answer=a))
         for q, a, l in [(0, 0, 1), (0, 1, 0), (1, 0, 1), (1, 1, 1)]]
  # Answers: targets 1 0 1 1, preds 1 0 1 0 -> F1 = 2*2/(2*2+0+1) = 0.8;
  # question 0 fully right, question 1 not -> exact match 50.
  got = _eval('altup_super_glue_multirc', raw, ['True', 'False', 'True', 'False'])
  assert got == _approx({'f1': 80.0, 'exact_match': 50.0})


def test_record_deduplicated_squad_max_over_answers():
  passage = 'Penguins live in Antarctica. Pigeons live in cities.'
  raw = [dict(passage=passage, query='A @placeholder swims.',
              entities=['Penguins', 'Pigeons', 'Antarctica'],
              answers=['Penguins', 'penguin'], idx=dict(passage=0, query=0)),
         dict(passage=passage, query='A @placeholder lives in a city.',
              entities=['Penguins', 'Pigeons', 'Antarctica'],
              answers=['Pigeons'], idx=dict(passage=0, query=1))]
  # 3 preprocessed examples (one per answer); counted once per query:
  # query 0 'penguin' matches an answer, query 1 'Antarctica' does not.
  got = _eval('altup_super_glue_record', raw,
              ['penguin', 'penguin', 'Antarctica'])
  assert got == _approx({'em': 50.0, 'f1': 50.0})


def test_wsc_simple_eval_compares_referents():
  text = 'The trophy does not fit in the suitcase because it is too big.'
  raw = [dict(text=text, span1_index=0, span1_text='The trophy', span2_index=9,
              span2_text='it', label=1, idx=0),
         dict(text=text, span1_index=6, span1_text='the suitcase',
              span2_index=9, span2_text='it', label=0, idx=1)]
  # The model names the referent; determiners and case are ignored.
  assert _eval(benchmarks.WSC_SIMPLE_EVAL, raw, ['trophy', 'Trophy']) == (
      _approx({'accuracy': 100.0}))
  assert _eval(benchmarks.WSC_SIMPLE_EVAL, raw, ['suitcase', 'a suitcase']) == (
      _approx({'accuracy': 0.0}))


def test_squad_em_f1_max_over_answers():
  raw = [dict(id='1', context='The cat sat on the mat.', question='Where?',
              answers=dict(text=['on the mat', 'the mat'],
                           answer_start=[12, 15])),
         dict(id='2', context='It rained in May.', question='When?',
              answers=dict(text=['in May', 'May'], answer_start=[10, 13]))]
  # 1: 'mat on floor' vs 'on mat' (articles dropped): P 2/3, R 1 -> F1 0.8.
  # 2: 'May' is an answer -> EM 1.
  got = _eval('altup_squad', raw, ['mat on floor', 'May'])
  assert got == _approx({'em': 50.0, 'f1': 90.0})


def test_trivia_qa_em_f1_over_aliases():
  def ex(question, value, aliases):
    return dict(question=question, answer=dict(value=value, aliases=aliases))
  raw = [ex('Red planet?', 'Mars', ['Mars', 'Planet Mars']),
         ex('Capital of France?', 'Paris', ['Paris', 'Paris, France'])]
  # 1: alias 'planet mars' -> EM. 2: 'the city of paris' -> 'city of paris'
  # vs 'paris': P 1/3, R 1 -> F1 0.5; vs 'paris france': P 1/3 R 1/2 -> 0.4.
  got = _eval('altup_trivia_qa_closed_book', raw,
              ['planet Mars', 'The city of Paris'], split='test')
  assert got == _approx({'em': 50.0, 'f1': 75.0})


def test_offline_sentiment_accuracy():
  import numpy as np  # pylint: disable=g-import-not-at-top
  raw = [dict(sentence=np.asarray(s, object), label=np.int64(l),
              idx=np.int32(i))
         for i, (s, l) in enumerate([('A delight.', 1), ('A mess.', 0),
                                     ('Forgettable.', 0), ('Superb.', 1)])]
  got = task_helpers.evaluate(offline.OFFLINE_SENTIMENT, raw,
                         ['positive', 'negative', 'positive', 'positive'])
  assert got == _approx({'accuracy': 75.0})
