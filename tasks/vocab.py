"""The one vocabulary definition shared by the SeqIO tasks and the model gins.

T5X's `train` refuses to run when the task's vocabulary differs from the
model's (`t5x.utils.verify_matching_vocabs`), and `seqio.SentencePieceVocabulary`
compares equal only when file path *and* `extra_ids` (and the other constructor
arguments) match. So both sides must get their vocabulary from here:

* the tasks in `tasks.benchmarks` resolve `get_vocabulary()` each time their
  `output_features` are read (see `SharedVocabularyTask`), so a gin binding
  of `tasks.vocab.get_vocabulary.name_or_path` swaps them together with
* a model gin that says `VOCABULARY = @tasks.vocab.get_vocabulary()`.

The default, 't5', is exactly what flaxformer's T5.1.1 gins (and so
gin/models/*.gin) use, `SentencePieceVocabulary(
"gs://t5-data/vocabs/cc_all.32000.100extra/sentencepiece.model")` with
`extra_ids=0` (its 100 sentinels are inside the file), so with no binding at
all the stock model gins match the tasks. 'offline' is the committed
8,092-piece model trained on the offline corpus (see `tasks.offline`), with
100 sentinel ids added by SeqIO: 8,192 ids, use `NUM_EMBEDDINGS = 8192`.
`tasks/gin/offline_vocab.gin` sets both macros. 'bytes' is ByT5's
`seqio.ByteVocabulary` with 100 sentinel ids on top (359 ids, use
`NUM_EMBEDDINGS = 384`), set by `tasks/gin/byte_vocab.gin`.
"""

import contextlib
import functools
import os
from typing import Optional

import gin

# T5's public vocabulary, as in flaxformer's t5x/configs/t5/models/t5_1_1_*.gin.
T5_VOCAB_PATH = 'gs://t5-data/vocabs/cc_all.32000.100extra/sentencepiece.model'
T5_EXTRA_IDS = 0  # the 100 sentinels are already pieces of the model file
T5_NUM_EMBEDDINGS = 32128  # 32,100 ids padded to a multiple of 128

# The offline vocabulary, built by `python -m tasks.build_offline_vocab`.
DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data')
OFFLINE_VOCAB_FILENAME = 'offline_en_8092.model'
OFFLINE_VOCAB_PATH = os.path.join(DATA_DIR, OFFLINE_VOCAB_FILENAME)
OFFLINE_PIECES = 8092  # SentencePiece pieces, pad=0 eos=1 unk=2 included
OFFLINE_EXTRA_IDS = 100  # sentinels <extra_id_0..99> added by seqio on top
OFFLINE_NUM_EMBEDDINGS = OFFLINE_PIECES + OFFLINE_EXTRA_IDS  # 8192 = 64 * 128

# ByT5's byte vocabulary (seqio.ByteVocabulary: pad/eos/unk + 256 bytes), here
# with 100 sentinel ids on top, as the SentencePiece vocabularies have them.
BYTES = 'bytes'
BYTES_EXTRA_IDS = 100
BYTES_NUM_EMBEDDINGS = 384  # 3 + 256 + 100 = 359 ids, padded as ByT5's 384

# name -> (sentencepiece model file or BYTES, extra_ids, NUM_EMBEDDINGS to use)
NAMED_VOCABULARIES = {
    't5': (T5_VOCAB_PATH, T5_EXTRA_IDS, T5_NUM_EMBEDDINGS),
    'offline': (OFFLINE_VOCAB_PATH, OFFLINE_EXTRA_IDS, OFFLINE_NUM_EMBEDDINGS),
    BYTES: (BYTES, BYTES_EXTRA_IDS, BYTES_NUM_EMBEDDINGS),
}
DEFAULT_VOCABULARY = 't5'


def resolve(name_or_path: str, extra_ids: Optional[int] = None):
  """Returns (sentencepiece model file or BYTES, extra_ids) for a name or a
  path."""
  if name_or_path in NAMED_VOCABULARIES:
    path, default_extra_ids, _ = NAMED_VOCABULARIES[name_or_path]
  elif name_or_path.endswith('.model') or os.sep in name_or_path or (
      '://' in name_or_path):
    path, default_extra_ids = name_or_path, 0
  else:
    raise ValueError(
        f'Unknown vocabulary {name_or_path!r}: use one of '
        f'{sorted(NAMED_VOCABULARIES)} or a path to a SentencePiece .model '
        'file (with extra_ids=100 if the file has no sentinel pieces).')
  return path, default_extra_ids if extra_ids is None else extra_ids


@functools.lru_cache(maxsize=None)
def _vocabulary(path: str, extra_ids: int):
  import seqio  # pylint: disable=g-import-not-at-top
  if path == BYTES:
    return seqio.ByteVocabulary(extra_ids=extra_ids)
  return seqio.SentencePieceVocabulary(path, extra_ids=extra_ids)


@gin.configurable(module='tasks.vocab')
def get_vocabulary(name_or_path: str = DEFAULT_VOCABULARY,
                   extra_ids: Optional[int] = None):
  """The shared SeqIO vocabulary (gin-configurable).

  Args:
    name_or_path: 't5' (default; T5's cc_all.32000.100extra, the model gins'
      vocabulary), 'offline' (tasks/data/offline_en_8092.model + 100 extra
      ids), 'bytes' (ByT5's byte vocabulary + 100 extra ids), or a path to a
      SentencePiece model file.
    extra_ids: overrides the number of sentinel ids SeqIO appends (default:
      0 for 't5' and for paths, 100 for 'offline').

  Returns:
    A vocabulary equal (in SeqIO's sense) to any other one this function
    returns for the same arguments; the model file is only read when the
    vocabulary is first used, so no network or file access happens here.
  """
  return _vocabulary(*resolve(name_or_path, extra_ids))


def num_embeddings(name_or_path: str = DEFAULT_VOCABULARY,
                   extra_ids: Optional[int] = None) -> int:
  """NUM_EMBEDDINGS for a vocabulary: its size rounded up to a multiple of 128.

  For the named vocabularies this needs no file access (32128 for 't5',
  8192 for 'offline'); for a path the model file is read.
  """
  if name_or_path in NAMED_VOCABULARIES and extra_ids is None:
    return NAMED_VOCABULARIES[name_or_path][2]
  size = get_vocabulary(name_or_path, extra_ids).vocab_size
  return -(-size // 128) * 128


_NAME_KEY = 'tasks.vocab.get_vocabulary.name_or_path'


@contextlib.contextmanager
def use_vocabulary(name_or_path):
  """Binds the shared vocabulary (for tasks and `@get_vocabulary()`) in a block.

  Args:
    name_or_path: as for `tasks.vocab.get_vocabulary`.

  Yields:
    The vocabulary now in use.
  """
  try:
    previous = gin.query_parameter(_NAME_KEY)
  except ValueError:
    previous = DEFAULT_VOCABULARY
  with gin.unlock_config():
    gin.bind_parameter(_NAME_KEY, name_or_path)
  try:
    yield get_vocabulary()
  finally:
    with gin.unlock_config():
      gin.bind_parameter(_NAME_KEY, previous)
