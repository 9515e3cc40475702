"""One clear error for the optional T5X stack (t5x, flaxformer and friends)."""

import importlib

# requirements-t5x.txt, not the `[t5x]` extra: flaxformer's wheel lacks the
# gin configs our model gins include, so it must be an editable clone.
INSTALL_HINT = (
    'pip install -r requirements-t5x.txt  (from the repository root; installs '
    't5x, flaxformer (editable clone), airio, clu and jestimator from GitHub)')


def require(module: str):
  """Imports `module` or raises ImportError naming the install command."""
  try:
    return importlib.import_module(module)
  except ImportError as e:
    raise ImportError(
        f'{module} is needed here but could not be imported ({e}). '
        f'Install the T5X stack with: {INSTALL_HINT}') from e
