"""Logical-axis and Adafactor factor rules for AltUp parameters.

AltUp adds `altup_predictor` [K, K] with axes ('altup_k_out', 'altup_k_in') and
`altup_corrector` [K] with axes ('altup_k_out',) to every layer (scanned
stacks insert 'layers' at axis 1); learned routing adds a [d] and a [d, K]
router ('altup_embed', 'altup_k_in') and [K, K*K] / [K, K] kernels
('altup_k_in', 'altup_k_pair' / 'altup_k_out'); Sequence-AltUp adds [3]
('altup_sequence_coefficients',). All are small and replicated. T5X's PjitPartitioner maps unknown logical
names to replicated, but Adafactor's `logical_factor_rules` must name every
axis (a `KeyError` otherwise), and a scanned model needs factor rules at all,
because Adafactor's heuristic rejects parameters of rank > 2.

Gin usage (done by gin/models/rules.gin; gin/moe/models/rules.gin passes the
MoE rules as `base` and binds the MoE partitioner's rules):

  adafactor.Adafactor.logical_factor_rules = @sharding.logical_factor_rules()
  partitioning.standard_logical_axis_rules.additional_rules = \
      @sharding.additional_axis_rules()
"""

from typing import Mapping, Optional, Sequence, Tuple

from altup_flaxformer import deps

ALTUP_AXES = ('altup_k_out', 'altup_k_in',
              # learned routing: router scale/kernel, router -> p kernel
              'altup_embed', 'altup_k_pair',
              # Sequence-AltUp: (a1, a2, b)
              'altup_sequence_coefficients')


def additional_axis_rules() -> Sequence[Tuple[str, Optional[str]]]:
  """Logical -> mesh rules for AltUp axes: K is tiny, so replicate it."""
  return tuple((name, None) for name in ALTUP_AXES)


def logical_factor_rules(base: Optional[Mapping] = None):
  """Adafactor factor rules: `base` (default: T5X standard) + AltUp axes.

  Args:
    base: rules to extend, e.g. `adafactor_utils.logical_factor_rules()` for
      MoE models. Defaults to `adafactor.standard_logical_factor_rules()`.

  Returns:
    A frozen dict mapping logical axis names to `adafactor.FactorDim`; the
    AltUp parameters are never factored.
  """
  adafactor = deps.require('t5x.adafactor')
  from flax import core as flax_core  # pylint: disable=g-import-not-at-top
  rules = dict(flax_core.unfreeze(
      base if base is not None else adafactor.standard_logical_factor_rules()))
  rules.update({name: adafactor.FactorDim.NONE for name in ALTUP_AXES})
  return flax_core.freeze(rules)
