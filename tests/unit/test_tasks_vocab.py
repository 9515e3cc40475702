"""tasks.vocab: the shared vocabulary and the committed offline model."""

import os

import pytest

gin = pytest.importorskip('gin', reason='tasks.vocab needs gin-config')
seqio = pytest.importorskip(
    'seqio', reason='task vocabularies are seqio objects: pip install seqio')
spm = pytest.importorskip('sentencepiece', reason='pip install sentencepiece')

from tasks import vocab  # pylint: disable=g-import-not-at-top

# What flaxformer's t5_1_1 gins (and so gin/models/*.gin) bind as VOCABULARY.
MODEL_GIN_VOCAB = 'gs://t5-data/vocabs/cc_all.32000.100extra/sentencepiece.model'


@pytest.fixture(autouse=True)
def _clean_gin():
  gin.clear_config()
  yield
  gin.clear_config()


def test_default_equals_the_model_gins_vocabulary():
  # Equality compares path, extra_ids and the other constructor arguments;
  # nothing is loaded (the file is on GCS), so this needs no network.
  default = vocab.get_vocabulary()
  assert default == seqio.SentencePieceVocabulary(MODEL_GIN_VOCAB)
  assert default == vocab.get_vocabulary('t5')
  assert default.extra_ids == 0
  # ... and differs from the one t5's own tasks use (the vocabulary trap).
  assert default != seqio.SentencePieceVocabulary(
      'gs://t5-data/vocabs/cc_all.32000/sentencepiece.model', extra_ids=100)
  assert vocab.num_embeddings('t5') == 32128


def test_offline_vocabulary_layout():
  v = vocab.get_vocabulary('offline')
  assert v == seqio.SentencePieceVocabulary(vocab.OFFLINE_VOCAB_PATH,
                                            extra_ids=100)
  assert (v.pad_id, v.eos_id, v.unk_id) == (0, 1, 2)
  assert v.tokenizer.bos_id() == -1
  raw = spm.SentencePieceProcessor(model_file=vocab.OFFLINE_VOCAB_PATH)
  assert raw.get_piece_size() == vocab.OFFLINE_PIECES == 8092
  assert v.tokenizer.get_piece_size() == 8192  # seqio appends the sentinels
  assert v.vocab_size == vocab.OFFLINE_NUM_EMBEDDINGS == 8192
  assert vocab.num_embeddings('offline') == 8192
  assert 8192 % 128 == 0
  # Sentinels at the top, in T5's order (extra_id_0 is the last id).
  assert v.decode([8191]) == '<extra_id_0>'
  assert v.decode([8092]) == '<extra_id_99>'
  assert v.encode('<extra_id_0>') == [8191]
  assert [v.tokenizer.id_to_piece(i) for i in range(3)] == [
      '<pad>', '</s>', '<unk>']


def test_offline_vocabulary_file():
  size = os.path.getsize(vocab.OFFLINE_VOCAB_PATH)
  assert 100_000 < size < 600_000, size
  from sentencepiece import sentencepiece_model_pb2  # pylint: disable=g-import-not-at-top
  proto = sentencepiece_model_pb2.ModelProto.FromString(
      open(vocab.OFFLINE_VOCAB_PATH, 'rb').read())
  assert proto.normalizer_spec.name == 'nmt_nfkc'  # as T5's cc_all.32000
  assert proto.trainer_spec.model_type == proto.trainer_spec.UNIGRAM
  assert proto.trainer_spec.model_prefix == 'offline_en_8092'  # reproducible


def test_offline_vocabulary_tokenizes_english_compactly():
  v = vocab.get_vocabulary('offline')
  text = ('The government announced on Tuesday that the economy grew by 2% '
          'in the third quarter, driven by exports and consumer spending.')
  ids = v.encode(text)
  assert v.decode(ids) == text
  assert 2 not in ids  # no <unk>
  assert len(ids) <= 1.4 * len(text.split()), len(ids)
  # NFKC normalisation, like T5's vocabulary.
  assert v.decode(v.encode('ﬁnance')) == 'finance'


def test_gin_binding_swaps_the_vocabulary():
  gin.bind_parameter('tasks.vocab.get_vocabulary.name_or_path', 'offline')
  assert vocab.get_vocabulary() == vocab.get_vocabulary('offline')
  gin.clear_config()
  assert vocab.get_vocabulary() == vocab.get_vocabulary('t5')


def test_gin_macro_in_a_config_string():
  gin.parse_config("""
      from __gin__ import dynamic_registration
      import tasks.vocab
      VOCABULARY = @tasks.vocab.get_vocabulary()
      tasks.vocab.get_vocabulary.name_or_path = 'offline'
  """)
  macro = gin.query_parameter('%VOCABULARY').scoped_configurable_fn()
  assert macro == vocab.get_vocabulary('offline')
  assert vocab.get_vocabulary() == macro  # what the tasks see


def test_paths_and_extra_ids():
  v = vocab.get_vocabulary(vocab.OFFLINE_VOCAB_PATH, extra_ids=100)
  assert v == vocab.get_vocabulary('offline')
  assert vocab.get_vocabulary(vocab.OFFLINE_VOCAB_PATH).extra_ids == 0
  assert vocab.get_vocabulary('offline', extra_ids=10).vocab_size == 8102
  assert vocab.num_embeddings('offline', extra_ids=10) == 8192  # rounded up


def test_unknown_name_lists_the_choices():
  with pytest.raises(ValueError, match=r"'offline', 't5'"):
    vocab.get_vocabulary('t5_small')


def test_offline_vocabulary_covers_ascii_and_t5_label_strings():
  v = vocab.get_vocabulary('offline')
  ascii_text = ''.join(chr(c) for c in range(33, 127))
  assert v.decode(v.encode(ascii_text)) == ascii_text
  labels = ['not_equivalent', 'not_entailment', 'not_duplicate', 'unacceptable',
            'contradiction', 'choice1', 'choice2', 'True', 'False', '<unk>',
            'record query: @placeholder', 'It costs £5 — or €6, “she” said.']
  for text in labels:
    ids = v.encode(text)
    assert 2 not in ids and v.decode(ids) == text, text
