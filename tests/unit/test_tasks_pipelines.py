"""Every altup_* benchmark task's pipeline on in-memory examples, no network.

Two kinds of input, both in exactly the structure/dtypes the real TFDS
source yields:
* `tfds.testing.mock_data` (random values generated from the TFDS builder's
  own feature spec, code only) for every TFDS-backed task;
* hand-written examples (`tests/unit/task_helpers.tfds_example`, checked against the
  same spec) for T5's special cases, with the exact expected text.
The shared vocabulary is switched to the committed offline model
(the default one is on GCS), which also exercises the gin swap.
"""


import numpy as np
import pytest

import tasks

seqio = pytest.importorskip('seqio', reason='the tasks are SeqIO tasks: pip install seqio')
tf = pytest.importorskip('tensorflow', reason='SeqIO tasks need TensorFlow: pip install tensorflow-cpu')
tfds = pytest.importorskip('tensorflow_datasets', reason='pip install tensorflow-datasets')
pytest.importorskip(
    't5', reason=f'tasks reuse T5\'s preprocessors and metrics: {tasks.T5_PIP}')

# pylint: disable=g-import-not-at-top
import gin
from tasks import benchmarks
from tasks import vocab
# pylint: enable=g-import-not-at-top
from tests.unit import task_helpers

LENGTHS = {'inputs': 256, 'targets': 64}
EOS = 1


@pytest.fixture(autouse=True)
def offline_vocab():
  with vocab.use_vocabulary('offline') as v:
    yield v
  gin.clear_config()


def _text(x):
  return x.decode('utf-8') if isinstance(x, bytes) else x


def _check_tokens(ex, lengths, vocabulary):
  for key in ('inputs', 'targets'):
    ids = ex[key]
    assert ids.dtype == np.int32 and ids.ndim == 1, key
    assert 1 < len(ids) <= lengths[key], (key, len(ids))
    assert ids[-1] == EOS, key
    assert (ids[:-1] != EOS).all() and (ids > 0).all(), key
    assert ids.max() < vocabulary.vocab_size == vocab.num_embeddings('offline')
    pretokenized = ex.get(key + '_pretokenized')
    if pretokenized is not None and len(ids) < lengths[key]:
      assert vocabulary.decode(ids.tolist()) == ' '.join(
          _text(pretokenized).split()), key


# ----------------------------- mock TFDS data --------------------------------
# task -> (split, expected input prefix)
MOCKED = {
    'altup_c4_span_corruption': ('train', None),
    'altup_squad': ('validation', 'question: '),
    'altup_trivia_qa_closed_book': ('test', 'trivia_qa question: '),
    'altup_dpr_simple': ('train', 'wsc: '),
    **{benchmarks.glue_task_name(n): (
        {'ax': 'test', 'mnli_matched': 'validation',
         'mnli_mismatched': 'validation'}.get(n, 'train'),
        {'ax': 'mnli', 'mnli_matched': 'mnli', 'mnli_mismatched': 'mnli'}.get(
            n, n) + ' ') for n in benchmarks.GLUE_CONFIGS},
    **{benchmarks.super_glue_task_name(n): (
        'test' if n in ('axb', 'axg') else 'validation',
        ('rte' if n in ('axb', 'axg') else n) + ' ')
       for n in benchmarks.SUPER_GLUE_CONFIGS if 'wsc' not in n},
}


# Decoder-only LM tasks: documents packed into (inputs +) targets, EOS inside.
MOCKED_LM = (benchmarks.C4_LM, benchmarks.C4_PREFIX_LM)


def test_mock_table_covers_every_tfds_task():
  wsc = {benchmarks.WSC_SIMPLE_TRAIN, benchmarks.WSC_SIMPLE_EVAL}  # below
  assert sorted(set(MOCKED) | set(MOCKED_LM) | wsc) == benchmarks.TASKS


@pytest.fixture
def mock_tfds(monkeypatch):
  # seqio asks TFDS for the split names and sizes, which mock_data leaves
  # empty (there is no prepared dataset_info.json).
  monkeypatch.setattr(seqio.TfdsDataSource, 'num_input_examples',
                      lambda self, split: None)
  monkeypatch.setattr(
      seqio.TfdsDataSource, 'splits',
      property(lambda self: self._splits or ('train', 'validation', 'test')))
  with tfds.testing.mock_data(num_examples=4,
                              policy=tfds.testing.MockPolicy.USE_CODE):
    yield


@pytest.mark.parametrize('task_name', sorted(MOCKED))
def test_task_on_mock_tfds_data(task_name, mock_tfds, offline_vocab):
  del mock_tfds
  split, prefix = MOCKED[task_name]
  task = seqio.get_mixture_or_task(task_name)
  lengths = (benchmarks.C4_FEATURE_LENGTHS
             if task_name == benchmarks.C4_SPAN_CORRUPTION else LENGTHS)
  examples = list(task.get_dataset(lengths, split=split, shuffle=False,
                                   use_cached=False, seed=0).as_numpy_iterator())
  assert examples
  for ex in examples:
    _check_tokens(ex, lengths, offline_vocab)
    if prefix is not None:
      assert _text(ex['inputs_pretokenized']).startswith(prefix)


@pytest.mark.parametrize('task_name', MOCKED_LM)
def test_lm_task_on_mock_tfds_data(task_name, mock_tfds, offline_vocab):
  del mock_tfds
  task = seqio.get_mixture_or_task(task_name)
  lengths = tasks.FEATURE_LENGTHS[task_name]
  examples = list(task.get_dataset(lengths, split='train', shuffle=False,
                                   use_cached=False, seed=0).as_numpy_iterator())
  assert examples
  keys = ['inputs', 'targets'] if task_name == benchmarks.C4_PREFIX_LM else [
      'targets']
  for ex in examples:
    assert sorted(k for k in ex if k in ('inputs', 'targets')) == keys
    for key in keys:
      ids = ex[key]
      assert ids.dtype == np.int32 and ids.ndim == 1, key
      assert 0 < len(ids) <= lengths[key], (key, len(ids))
      assert (ids > 0).all() and ids.max() < offline_vocab.vocab_size, key


# ----------------------------- exact examples --------------------------------
def _run(task_name, raw_examples, split='validation', lengths=None, check=True):
  tfds_name = task_helpers.task_tfds_name(task_name)
  examples = [task_helpers.tfds_example(tfds_name, **r) for r in raw_examples]
  out = task_helpers.preprocess(task_name, examples, split=split,
                           sequence_length=lengths or LENGTHS)
  if check:
    for ex in out:
      _check_tokens(ex, lengths or LENGTHS, vocab.get_vocabulary())
  return out


def _pretok(out):
  return [(_text(e['inputs_pretokenized']), _text(e['targets_pretokenized']))
          for e in out]


def test_glue_sst2_text_and_unknown_label():
  out = _run('altup_glue_sst2', [
      dict(sentence='A gorgeous, witty film.', label=1, idx=7),
      dict(sentence='Dull and tired.', label=0, idx=8),
      dict(sentence='Unlabelled test sentence.', label=-1, idx=9)])
  assert _pretok(out) == [
      ('sst2 sentence: A gorgeous, witty film.', 'positive'),
      ('sst2 sentence: Dull and tired.', 'negative'),
      ('sst2 sentence: Unlabelled test sentence.', '<unk>')]
  assert [int(e['idx']) for e in out] == [7, 8, 9]


def test_glue_stsb_float_target_rounded_to_point_two():
  out = _run('altup_glue_stsb', [
      dict(sentence1='A man plays a guitar.', sentence2='A man plays music.',
           label=3.73, idx=0),
      dict(sentence1='A cat.', sentence2='A plane.', label=0.0, idx=1)])
  assert _pretok(out) == [
      ('stsb sentence1: A man plays a guitar. sentence2: A man plays music.',
       '3.8'),
      ('stsb sentence1: A cat. sentence2: A plane.', '0.0')]


def test_glue_mnli_and_qqp_fields():
  out = _run('altup_glue_mnli', [dict(
      premise='The cat sleeps.', hypothesis='An animal rests.', label=0)],
             split='train')
  assert _pretok(out) == [
      ('mnli hypothesis: An animal rests. premise: The cat sleeps.',
       'entailment')]
  out = _run('altup_glue_qqp', [dict(
      question1='How old is Rome?', question2='What is the age of Rome?',
      label=1)], split='train')
  assert _pretok(out) == [(
      'qqp question1: How old is Rome? question2: What is the age of Rome?',
      'duplicate')]


def test_super_glue_copa():
  out = _run('altup_super_glue_copa', [dict(
      premise='The man broke his toe.', choice1='He dropped a hammer on his '
      'foot.', choice2='He got a hole in his sock.', question='cause',
      label=0)])
  assert _pretok(out) == [(
      'copa choice1: He dropped a hammer on his foot. choice2: He got a hole '
      'in his sock. premise: The man broke his toe. question: cause',
      'choice1')]


def test_super_glue_multirc_keeps_group_ids():
  out = _run('altup_super_glue_multirc', [dict(
      paragraph='Sam went home. He ate.', question='What did Sam do?',
      answer='He ate', label=1,
      idx=dict(paragraph=3, question=5, answer=2))])
  assert _pretok(out) == [(
      'multirc question: What did Sam do? answer: He ate paragraph: Sam went '
      'home. He ate.', 'True')]
  assert int(out[0]['idx/question']) == 5  # grouping key for the metric


def test_super_glue_record_one_example_per_answer():
  out = _run('altup_super_glue_record', [dict(
      passage='Penguins live in Antarctica.\n@highlight\nThey swim',
      query='A @placeholder is a bird.',
      entities=['Penguins', 'Antarctica'],
      answers=['Penguins', 'penguin'],
      idx=dict(passage=1, query=2))])
  expected_inputs = ('record query: A @placeholder is a bird. entities: '
                     'Penguins, Antarctica passage: Penguins live in '
                     'Antarctica. They swim')
  assert _pretok(out) == [(expected_inputs, 'Penguins'),
                          (expected_inputs, 'penguin')]
  assert [a.tolist() for a in (out[0]['answers'], out[1]['answers'])] == [
      [b'Penguins', b'penguin']] * 2


def test_super_glue_wsc_simple_train_and_eval():
  raw = [
      dict(text='The trophy does not fit in the suitcase because it is too '
           'big.', span1_index=0, span1_text='The trophy', span2_index=9,
           span2_text='it', label=1, idx=0),
      dict(text='The trophy does not fit in the suitcase because it is too '
           'big.', span1_index=6, span1_text='the suitcase', span2_index=9,
           span2_text='it', label=0, idx=1)]
  inputs = ('wsc: The trophy does not fit in the suitcase because *it* is '
            'too big.')
  train = _run(benchmarks.WSC_SIMPLE_TRAIN, raw, split='train')
  assert _pretok(train) == [(inputs, 'The trophy')]  # correct referent only
  ev = _run(benchmarks.WSC_SIMPLE_EVAL, raw, split='validation')
  assert _pretok(ev) == [(inputs, 'The trophy'), (inputs, 'the suitcase')]
  assert [int(e['label']) for e in ev] == [1, 0]


def test_dpr_simple():
  out = _run(benchmarks.DPR_SIMPLE, [dict(
      sentence='Bob asked Tom if he can lend some money.', pronoun='he',
      candidates=['Bob', 'Tom'], label=1)], split='train')
  assert _pretok(out) == [
      ('wsc: Bob asked Tom if *he* can lend some money.', 'Tom')]


def test_squad_v11_pads_punctuation_and_keeps_all_answers():
  out = _run('altup_squad', [dict(
      id='q1', title='Cats', context='The cat (Felis catus) sat on the mat.',
      question='Where did the cat sit?',
      answers=dict(text=['on the mat', 'the mat'], answer_start=[22, 25]))])
  assert _pretok(out) == [(
      'question: Where did the cat sit ? context: The cat ( Felis catus ) sat '
      'on the mat . ', 'on the mat')]  # sic: T5's squad keeps this space
  assert out[0]['answers'].tolist() == [b'on the mat', b'the mat']


def test_trivia_qa_closed_book():
  out = _run('altup_trivia_qa_closed_book', [dict(
      question='Which planet is known as the Red Planet?', question_id='tq1',
      answer=dict(value='Mars', aliases=['Mars', 'Planet Mars'],
                  normalized_aliases=['mars', 'planet mars'],
                  normalized_value='mars', type='WikipediaEntity'))],
             split='test')
  assert _pretok(out) == [
      ('trivia_qa question: Which planet is known as the Red Planet ?', 'Mars')]
  assert out[0]['answers'].tolist() == [b'Mars', b'Mars', b'Planet Mars']
  assert 'context' not in _text(out[0]['inputs_pretokenized'])  # closed book


def _unmask(inputs, targets, vocabulary):
  """Reassembles the original tokens from a span-corruption pair."""
  first_sentinel = vocabulary.vocab_size - vocabulary.extra_ids
  is_sentinel = lambda t: t >= first_sentinel
  spans, current = {}, None
  for t in targets[:-1]:  # drop EOS
    if is_sentinel(t):
      current = spans.setdefault(t, [])
    else:
      current.append(t)
  out = []
  for t in inputs[:-1]:
    out.extend(spans[t] if is_sentinel(t) else [t])
  return out, spans


def test_span_corruption_masks_15_percent_in_spans(offline_vocab):
  text = ('The Eiffel Tower is a wrought-iron lattice tower on the Champ de '
          'Mars in Paris, France. It is named after the engineer Gustave '
          'Eiffel, whose company designed and built the tower from 1887 to '
          '1889. Locally nicknamed "La dame de fer", it was constructed as '
          'the centrepiece of the 1889 World\'s Fair, and to crown the '
          'centennial anniversary of the French Revolution.')
  out = _run(benchmarks.C4_SPAN_CORRUPTION,
             [dict(text=text, url='https://example.org', timestamp='2019')],
             split='train', lengths=benchmarks.C4_FEATURE_LENGTHS, check=False)
  assert len(out) == 1
  ex = out[0]
  _check_tokens(ex, benchmarks.C4_FEATURE_LENGTHS, offline_vocab)
  original = offline_vocab.encode(text)
  restored, spans = _unmask(ex['inputs'].tolist(), ex['targets'].tolist(),
                            offline_vocab)
  assert restored == original
  noise = sum(len(s) for s in spans.values())
  assert noise == round(0.15 * len(original))
  assert len(spans) == round(noise / 3.0)  # mean span length 3
  # Sentinels are used in T5's order: <extra_id_0> (the top id) first.
  assert sorted(spans, reverse=True) == list(spans)
  assert max(spans) == offline_vocab.vocab_size - 1


def test_span_corruption_splits_long_documents_at_568_tokens(offline_vocab):
  # T5.1.1: 512 input tokens come from 568-token chunks (114 targets).
  text = ' '.join(f'Sentence number {i} talks about topic {i % 7}.'
                  for i in range(150))
  out = _run(benchmarks.C4_SPAN_CORRUPTION, [dict(text=text)], split='train',
             lengths=benchmarks.C4_FEATURE_LENGTHS, check=False)
  n_tokens = len(offline_vocab.encode(text))
  assert len(out) == -(-n_tokens // 568)
  full = out[0]
  assert len(full['inputs']) == 512 and len(full['targets']) == 114
  restored, _ = _unmask(full['inputs'].tolist(), full['targets'].tolist(),
                        offline_vocab)
  assert restored == offline_vocab.encode(text)[:568]


def test_glue_mixture_samples_several_tasks(mock_tfds, offline_vocab):
  del mock_tfds
  converter = seqio.EncDecFeatureConverter(pack=False)
  ds = seqio.get_dataset(benchmarks.GLUE_MIXTURE, LENGTHS, converter,
                         dataset_split='train', shuffle=False, seed=1,
                         num_epochs=None)
  batch = list(ds.take(32).as_numpy_iterator())
  assert len(batch) == 32
  for ex in batch:
    assert ex['encoder_input_tokens'].shape == (LENGTHS['inputs'],)
    assert ex['decoder_target_tokens'].shape == (LENGTHS['targets'],)
    np.testing.assert_array_equal(ex['decoder_input_tokens'][1:],
                                  ex['decoder_target_tokens'][:-1])
    assert ex['decoder_input_tokens'][0] == 0
  prefixes = {offline_vocab.decode(ex['encoder_input_tokens'][:2].tolist())
              for ex in batch}
  assert len(prefixes) > 1, prefixes


def test_tfds_example_rejects_wrong_shapes():
  with pytest.raises(KeyError, match='sentense'):
    task_helpers.tfds_example('glue/sst2:1.0.0', sentense='typo')
  with pytest.raises(ValueError, match='rank'):
    task_helpers.tfds_example('squad/v1.1:3.0.0', answers=dict(text='not a list'))


