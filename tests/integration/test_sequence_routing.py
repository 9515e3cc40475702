"""Sequence-AltUp and learned routing built from the public gin files."""

import pytest

from tests.integration import common  # pylint: disable=g-import-not-at-top
common.require_t5x_stack()

import jax  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top

from tests.integration import test_equivalence as eq  # pylint: disable=g-import-not-at-top


def test_sequence_stride_1_equals_stock_t5():
  batch = common.make_batch()
  with common.gin_model(variant='baseline') as stock:
    params = common.init_params(stock, batch)
    expected = eq.outputs(stock, params, batch)
  with common.gin_model(variant='sequence', bindings=('ALTUP_K = 1',)) as seq:
    assert (jax.tree_util.tree_structure(common.init_params(seq, batch)) ==
            jax.tree_util.tree_structure(params))
    got = eq.outputs(seq, params, batch)
  for e, g in zip(expected, got):
    np.testing.assert_array_equal(g, e)


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


@pytest.mark.parametrize('k', [2, 4])
def test_routed_at_init_equals_baseline(k):
  """Zero-initialised routing kernels: Recycled-AltUp, hence the baseline."""
  batch = common.make_batch()
  with common.gin_model(variant='baseline') as stock:
    stock_params = common.init_params(stock, batch)
    expected = common.logits(stock, stock_params, batch)
  with common.gin_model(variant='routed', bindings=(f'ALTUP_K = {k}',)) as m:
    params = eq.map_into(common.init_params(m, batch, seed=1), stock_params)
    n_new = sum(x.size for x in jax.tree_util.tree_leaves(params)) - sum(
        x.size for x in jax.tree_util.tree_leaves(stock_params))
    d = 64
    assert n_new == 8 * (k * k + k + d + d * k + k * k * k + k * k)
    got = common.logits(m, params, batch)
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('variant', ['routed', 'altup'])
def test_routed_cached_decoding_equals_full_forward(variant):
  batch = common.make_batch(dec_len=6)
  with common.gin_model(variant=variant, bindings=(
      "ALTUP_COEFFICIENTS = 'routed'",)) as model:
    params = common.perturb_altup(common.init_params(model, batch))
    full = common.logits(model, params, batch)
    cached = eq.cached_decode_logits(model, params, batch)
  np.testing.assert_allclose(cached, full, rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize('variant', ['routed', 'sequence'])
def test_scan_layers_equals_unscanned(variant):
  batch = common.make_batch()
  with common.gin_model(variant=variant) as plain:
    params = common.perturb_altup(common.init_params(plain, batch))
    expected = eq.outputs(plain, params, batch)
  with common.gin_model(variant=variant, options=('scan',)) as scanned:
    template = common.init_params(scanned, batch)
    scan_params = eq.scanned_params_from_unscanned(params, template)
    got = eq.outputs(scanned, scan_params, batch)
  np.testing.assert_allclose(got[0], expected[0], rtol=1e-5, atol=2e-5)
  np.testing.assert_allclose(got[1], expected[1], rtol=1e-5, atol=2e-5)
  np.testing.assert_array_equal(got[2], expected[2])
