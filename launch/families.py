"""The model families of the size gins, and what each one can run.

A size names one gin/models/<size>.gin, whose family is read off its name:

* T5.1.1 (`small`, ..., `tiny`): flaxformer's T5.1.1 encoder-decoder (gated
  GELU, untied logits);
* T5.1.0 (`t5_1_0_<size>`): T5.1.0 (ReLU MLP, logits tied to the token
  embedding);
* decoder-only (`lm_<size>`): the decoder of T5.1.1 <size> as a flaxformer
  `DecoderOnly` language model, trained by T5X's `DecoderOnlyModel`
  (gin/models/decoder_only.gin). Its tasks are causal LM ('targets' only) or
  prefix LM ('inputs' + 'targets'); T5X picks seqio's LM or PrefixLM feature
  converter from the task's feature lengths.

Pure functions and tables; `launch.compose` uses them (nothing here imports
t5x).
"""

from typing import Dict, Optional, Tuple

T5_1_0 = 'T5.1.0'
T5_1_1 = 'T5.1.1'
DECODER_ONLY = 'decoder-only'

# Size gins named T5_1_0_PREFIX<size> are T5.1.0; DECODER_ONLY_PREFIX<size>
# are decoder-only; the others are T5.1.1.
T5_1_0_PREFIX = 't5_1_0_'
DECODER_ONLY_PREFIX = 'lm_'

# Layers of each decoder-only size gin: NUM_DECODER_LAYERS of the T5.1.1 size
# it takes its decoder from (tiny: gin/models/tiny_dims.gin).
DECODER_ONLY_LAYERS = {'lm_tiny': 4, 'lm_small': 8, 'lm_base': 12,
                       'lm_large': 24, 'lm_xl': 24}
# The variants whose wrappers are layer-level (gin/variants/<variant>.gin work
# on the decoder-only stack unchanged). Sequence-AltUp wraps encoder layers
# only, and the MoE variants need flaxformer's sparse encoder-decoder.
DECODER_ONLY_VARIANTS = ('baseline', 'altup', 'recycled', 'routed')


def family(size: str) -> str:
  """T5_1_0, T5_1_1 or DECODER_ONLY: the family of gin/models/<size>.gin."""
  if size.startswith(DECODER_ONLY_PREFIX):
    return DECODER_ONLY
  return T5_1_0 if size.startswith(T5_1_0_PREFIX) else T5_1_1


def is_decoder_only(size: str) -> bool:
  return family(size) == DECODER_ONLY


def size_label(size: str) -> str:
  """'T5.1.1 small', 'T5.1.0 3B', 'decoder-only small', ... for titles."""
  prefix = {T5_1_0: T5_1_0_PREFIX, DECODER_ONLY: DECODER_ONLY_PREFIX}.get(
      family(size), '')
  return f'{family(size)} {size.removeprefix(prefix)}'


def check(size: str, variant: str,
          feature_lengths: Optional[Dict[str, int]] = None) -> None:
  """Refuses a variant or task shape that `size`'s family cannot run.

  Args:
    size: a size gin name (compose.SIZE_LAYERS).
    variant: a variant gin name (compose.VARIANTS).
    feature_lengths: TASK_FEATURE_LENGTHS of the run, if known.

  Raises:
    ValueError: naming the fix.
  """
  if not is_decoder_only(size):
    if feature_lengths and 'inputs' not in feature_lengths:
      raise ValueError(
          f'Size {size!r} is an encoder-decoder; a task with targets only '
          f'(feature lengths {dict(feature_lengths)}) is a causal LM task: '
          f'use a decoder-only size ({", ".join(DECODER_ONLY_LAYERS)}).')
    return
  if variant not in DECODER_ONLY_VARIANTS:
    raise ValueError(
        f'--variant={variant} does not run on the decoder-only size {size!r}; '
        f'choose one of {", ".join(DECODER_ONLY_VARIANTS)} (or an '
        'encoder-decoder size).')
  if feature_lengths and 'targets' not in feature_lengths:
    raise ValueError(
        f'A decoder-only run needs a targets length, got '
        f'{dict(feature_lengths)}; e.g. --feature_lengths=targets=512 (causal '
        'LM) or inputs=256,targets=256 (prefix LM).')


def lm_sizes() -> Tuple[str, ...]:
  """The decoder-only size names, smallest first."""
  return tuple(DECODER_ONLY_LAYERS)
