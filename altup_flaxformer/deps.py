"""One clear error for the optional T5X stack (t5x, flaxformer and friends)."""

import importlib

# README's install command: the registry pins, then with --no-deps the
# packages whose own pins would replace them (t5x declares flax, optax and
# seqio at their GitHub HEADs) and the GitHub packages. flaxformer is an
# editable clone: its wheel lacks the gin configs our model gins include.
INSTALL_COMMAND = (
    'pip install -r requirements-t5x.txt'
    ' && pip install --no-deps -r requirements-nodeps.txt'
    ' && pip install --no-deps -r requirements-github.txt')
INSTALL_HINT = (
    f'{INSTALL_COMMAND}  (from the repository root; installs the pinned '
    'stack, and t5x, flaxformer (editable clone), airio, clu and jestimator '
    'from GitHub)')


def require(module: str):
  """Imports `module` or raises ImportError naming the install command."""
  try:
    return importlib.import_module(module)
  except ImportError as e:
    raise ImportError(
        f'{module} is needed here but could not be imported ({e}). '
        f'Install the T5X stack with: {INSTALL_HINT}') from e
