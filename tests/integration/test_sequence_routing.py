"""Sequence-AltUp's anchors and packing, built from the public gin files.

The properties it shares with the other variants (stride 1 = stock, scan =
unscanned) are parametrized in test_equivalence.py; learned routing's too.
"""

import numpy as np
import pytest

from tests.integration import common


@pytest.mark.parametrize('stride', [2, 4])
def test_sequence_anchor_tokens_see_only_anchors(stride):
  """Changing a non-anchor token changes only its own encoder output."""
  batch = common.make_batch(enc_len=9)
  with common.gin_model(variant='sequence',
                        bindings=(f'ALTUP_K = {stride}',)) as model:
    params = common.perturb_altup(common.init_params(model, batch))
    encode = lambda b: np.asarray(model.module.apply(
        {'params': params}, b['encoder_input_tokens'], enable_dropout=False,
        method=model.module.encode))
    base = encode(batch)
    changed = dict(batch)
    changed['encoder_input_tokens'] = batch['encoder_input_tokens'].copy()
    changed['encoder_input_tokens'][:, 1] += 1  # position 1: not an anchor
    out = encode(changed)
    changed['encoder_input_tokens'][:, 0] += 1  # position 0: an anchor
    out_anchor = encode(changed)
  others = [t for t in range(9) if t != 1]
  np.testing.assert_allclose(out[:, others], base[:, others], atol=1e-6)
  assert not np.allclose(out[:, 1], base[:, 1])
  assert not np.allclose(out_anchor[:, others], base[:, others])


def test_sequence_first_packed_example_equals_it_alone():
  """Packing: the example on the anchor grid computes as if unpacked."""
  batch = common.make_batch(batch=2, enc_len=10, dec_len=4)
  alone = dict(batch)
  alone['encoder_input_tokens'] = batch['encoder_input_tokens'].copy()
  alone['encoder_input_tokens'][:, 5:] = 0  # example 1 = positions 0-4
  packed = dict(alone)
  packed['encoder_input_tokens'] = batch['encoder_input_tokens'].copy()
  packed['encoder_input_tokens'][:, 9] = 0
  packed['encoder_segment_ids'] = np.array([[1] * 5 + [2] * 4 + [0]] * 2,
                                           np.int32)
  packed['encoder_positions'] = np.array([list(range(5)) + list(range(4))
                                          + [0]] * 2, np.int32)
  packed['decoder_segment_ids'] = np.ones((2, 4), np.int32)
  packed['decoder_positions'] = np.array([list(range(4))] * 2, np.int32)
  with common.gin_model(variant='sequence', bindings=('ALTUP_K = 2',)) as m:
    params = common.perturb_altup(common.init_params(m, batch))
    def run(b, packing):
      kw = {k: b[k] for k in ('encoder_segment_ids', 'decoder_segment_ids',
                              'encoder_positions', 'decoder_positions')
            } if packing else {}
      return np.asarray(m.module.apply(
          {'params': params}, b['encoder_input_tokens'],
          b['decoder_input_tokens'], b['decoder_target_tokens'], **kw,
          enable_dropout=False))
    np.testing.assert_allclose(run(packed, True), run(alone, False),
                               rtol=1e-5, atol=1e-5)
