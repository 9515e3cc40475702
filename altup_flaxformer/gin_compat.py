"""Makes `include 'flaxformer/...'` and `include 't5x/...'` resolve with gin.

gin-config 0.5.0 tries, for every search path, a "system path" reader that
maps `a/b/c/file.gin` to the Python package `a.b.c`. That reader crashes
(`TypeError` on namespace folders without `__init__.py`, such as
`flaxformer/t5x/configs/t5/models`, or `AttributeError` when `importlib.util`
was not imported yet) instead of moving on, so stock flaxformer/t5x gins only
include from a checkout in the working directory.

Importing this module (gin/models/common.gin does, the first include of every
size gin) installs a reader that resolves `<package>/<path inside it>` through
the installed top-level package's folder(s) and makes the other readers'
existence checks fail softly. Idempotent; no effect on paths that already
resolve.
"""

import importlib.util
import logging
import os
from typing import Optional

import gin

from altup_flaxformer import deps


def package_file(path: str) -> Optional[str]:
  """'flaxformer/t5x/configs/t5/models/x.gin' -> its file in the package."""
  if os.path.isabs(path):
    return None
  top, _, rest = path.partition('/')
  if not top or not rest:
    return None
  try:
    spec = importlib.util.find_spec(top)
  except (ImportError, ValueError):
    return None
  for folder in (spec.submodule_search_locations or []) if spec else []:
    candidate = os.path.join(folder, rest)
    if os.path.isfile(candidate):
      return candidate
  return None


def _open_package_file(path):
  return open(package_file(path))


def _soft(exists_fn):
  def exists(path):
    try:
      return exists_fn(path)
    except Exception:  # pylint: disable=broad-except
      return False
  exists.altup_soft = True
  return exists


FLAXFORMER_GIN = 'flaxformer/t5x/configs/t5/models/t5_1_1_base.gin'
MISSING_FLAXFORMER_GINS = (
    'flaxformer is installed without its gin configs (its wheel omits '
    'flaxformer/t5x/configs/**). Install it as an editable clone: '
    f'`{deps.INSTALL_HINT}`, or add the folder that holds a '
    'flaxformer checkout to --gin_search_paths.')


def install() -> None:
  """Registers the package reader right after gin's plain-file reader."""
  if importlib.util.find_spec('flaxformer') and not package_file(
      FLAXFORMER_GIN):
    logging.warning(MISSING_FLAXFORMER_GINS)
  readers = gin.config._FILE_READERS  # pylint: disable=protected-access
  if any(reader is _open_package_file for reader, _ in readers):
    return
  readers[:] = [(r, e if getattr(e, 'altup_soft', False) else _soft(e))
                for r, e in readers]
  readers.insert(1, (_open_package_file, lambda p: package_file(p) is not None))


install()
