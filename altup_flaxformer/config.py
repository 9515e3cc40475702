"""The settings that gin binds on the AltUp modules, and their validation.

Each string setting has one tuple of choices here (the gin macros of
gin/altup/layers.gin and gin/variants/altup.gin choose among them), and every
check raises an error that names the flag to fix. `widened_dim` is the K*d
embedding width of full AltUp, as a configurable (gin cannot multiply macros):

  embedding.Embed.features = @config.widened_dim()
"""

from typing import Sequence

import numpy as np

SELECTIONS = ('alternating', 'same')                 # ALTUP_SELECTION
LAYER_INPUTS = ('input', 'predicted')                # ALTUP_LAYER_INPUT
COLLAPSES = ('sum', 'mean', 'concat')                # ALTUP_DECODER_OUTPUT
COEFFICIENTS = ('static', 'routed')                  # ALTUP_COEFFICIENTS


def check_choice(name: str, value: str, choices: Sequence[str]) -> str:
  """Returns `value` if it is one of `choices`, else raises naming them."""
  if value not in choices:
    raise ValueError(
        f'Unknown AltUp {name} {value!r}; expected one of {tuple(choices)}.')
  return value


def _check_positive_int(value, name: str, fix: str) -> int:
  """Returns `value` as an int if it is an int >= 1; else raises with `fix`."""
  if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
    raise TypeError(f'{name} must be an int >= 1, got {value!r} '
                    f'({type(value).__name__}); {fix}.')
  if value < 1:
    raise ValueError(f'{name} must be >= 1, got {value}; {fix}.')
  return int(value)


def check_k(altup_k) -> int:
  """Returns `altup_k` if it is a usable number of blocks, else raises."""
  return _check_positive_int(
      altup_k, 'ALTUP_K', 'set e.g. --gin.ALTUP_K=2 (K=1 is the stock model)')


def check_stride(stride) -> int:
  """Returns `stride` if it is a usable Sequence-AltUp stride, else raises.

  gin/variants/sequence.gin binds the stride to ALTUP_K.
  """
  return _check_positive_int(
      stride, 'ALTUP_K (the Sequence-AltUp stride)',
      'set e.g. --gin.ALTUP_K=4 with gin/variants/sequence.gin (1 = the stock '
      'layer)')


def check_k_fits(altup_k: int, num_layers: int, name: str = 'ALTUP_K',
                 where: str = 'of the stack',
                 selection: str = 'alternating') -> int:
  """Returns `altup_k` unless some block would never be computed.

  With alternating selection, layer i updates block i mod K, so a stack of
  fewer than K layers leaves blocks untouched.

  Args:
    altup_k: K.
    num_layers: layers per stack.
    name: the setting to name in the error ('ALTUP_K', '--altup_k').
    where: what the layers belong to, for the error.
    selection: ALTUP_SELECTION ('same' computes block 0 only, by design).
  """
  if selection == 'alternating' and altup_k > num_layers:
    raise ValueError(
        f'{name}={altup_k} exceeds the {num_layers} layers {where}: with '
        'alternating selection some blocks would never be computed. Use '
        f'{name} <= {num_layers}.')
  return altup_k


def widened_dim(d: int, k: int) -> int:
  """Width K*d of the wide representation (gin cannot multiply macros)."""
  return check_k(k) * int(d)
