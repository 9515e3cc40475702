"""One clear error for the optional T5X stack (t5x, flaxformer and friends)."""

import importlib

INSTALL_HINT = (
    "pip install -e '.[t5x]'  (installs t5x, flaxformer, airio, clu and "
    "jestimator from GitHub; see README 'Install')")


def require(module: str):
  """Imports `module` or raises ImportError naming the install command."""
  try:
    return importlib.import_module(module)
  except ImportError as e:
    raise ImportError(
        f'{module} is needed here but could not be imported ({e}). '
        f'Install the T5X stack with: {INSTALL_HINT}') from e
