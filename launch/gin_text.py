"""Gin files read as text: where a gin path resolves, the macros it binds.

The launchers check their gin lists without importing gin, t5x or
flaxformer: `find_gin` locates a gin path under this repository and the
installed flaxformer and t5x, `gin_macros` reads the one-line macro bindings
of a list of files (includes followed), and `check_overrides` refuses a
`--gin.NAME=` override of a macro no file defines.
"""

import difflib
import importlib.util
import os
import re
from typing import Dict, List, Optional, Sequence, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_INCLUDE = re.compile(r"^include\s+'([^']+)'")
_MACRO = re.compile(r'^([A-Z_][A-Z0-9_]*)\s*=\s*(.+?)\s*(?:#.*)?$')


def search_paths() -> List[str]:
  """Where includes resolve: this repository, then the parent dirs of
  flaxformer and t5x where they are installed (found without importing)."""
  roots = [REPO]
  for package in ('flaxformer', 't5x'):
    spec = importlib.util.find_spec(package)
    found = spec.submodule_search_locations if spec else None
    roots += [os.path.dirname(p) for p in found or ()]
  return roots


def find_gin(path: str) -> Optional[str]:
  """The file a gin path (e.g. 't5x/configs/runs/pretrain.gin') names under
  the search paths, or None where it is not installed."""
  return next((os.path.join(r, path) for r in search_paths()
               if os.path.isfile(os.path.join(r, path))), None)


def gin_macros(files: Sequence[str]) -> Dict[str, str]:
  """NAME -> value text of the one-line macro bindings of `files`.

  Reads the files in order, each include where it stands, the last binding
  winning, as gin does; a file found under no search path (T5X's run gins,
  flaxformer's without flaxformer) is skipped. No gin import, no parsing of
  multi-line values.

  Args:
    files: gin paths relative to a search path, e.g. `compose.gin_files(exp)`.

  Returns:
    e.g. {'NUM_ENCODER_LAYERS': '4', 'ALTUP_K': '2', ...}.
  """
  macros = {}

  def read(path):
    full = find_gin(path)
    if full is None:
      return
    with open(full) as f:
      for line in f:
        include, macro = _INCLUDE.match(line), _MACRO.match(line)
        if include:
          read(include.group(1))
        elif macro:
          macros[macro.group(1)] = macro.group(2)

  for path in files:
    read(path)
  return macros


def check_overrides(files: Sequence[str],
                    overrides: Sequence[Tuple[str, str]]) -> None:
  """Refuses a `--gin.NAME=` override of a macro no file of `files` defines.

  gin accepts a binding of an unused macro silently, so a misspelt one
  (`--gin.ALTUP_SELECTON=...`) would train the default model. Checked where
  the last file (T5X's run gin, which defines BATCH_SIZE, TRAIN_STEPS, ...)
  is installed; bindings of configurables (`--gin.train.eval_period=`) are
  gin's to check.

  Raises:
    ValueError: naming the closest defined macros.
  """
  if find_gin(files[-1]) is None:
    return
  defined = gin_macros(files)
  for name, _ in overrides:
    if '.' in name or '/' in name or name in defined:
      continue
    close = difflib.get_close_matches(name, defined, n=3)
    raise ValueError(
        f'--gin.{name}: no gin file of this experiment defines the macro '
        f'{name}' + (f'; did you mean {" or ".join(close)}?' if close else
                     '; see the macros of gin/ and T5X\'s run gin.'))
