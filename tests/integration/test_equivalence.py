"""Numerical equivalences of AltUp models built from the public gin files.

Each property is parametrized over the variants it holds for: K = 1 (or
stride 1) is the stock model, Recycled-AltUp and learned routing equal the
baseline at init, cached decoding equals the full forward pass, and scanned
stacks equal unscanned ones. The first three also on the T5.1.0 family
(t5_1_0_tiny: ReLU MLP, logits tied to the token embedding), and all four on
the decoder-only family (lm_tiny: flaxformer's DecoderOnly, whose
predict_batch prefills the inputs, then decodes).
"""

import jax
import numpy as np
import pytest

from launch import compose
from launch import families
from tests.integration import common

D = 64  # EMBED_DIM of gin/models/{tiny,t5_1_0_tiny,lm_tiny}.gin
SIZES = ('tiny', 't5_1_0_tiny')  # T5.1.1, T5.1.0
LM = 'lm_tiny'  # decoder-only
LM_VARIANTS = families.DECODER_ONLY_VARIANTS  # no Sequence-AltUp


def cases(variants, sizes=SIZES):
  """(size, variant) for the encoder-decoder `sizes`, and for lm_tiny with
  those of `variants` that the decoder-only family runs."""
  return ([(size, v) for size in sizes for v in variants]
          + [(LM, v) for v in variants if v in LM_VARIANTS])


def new_params_per_layer(variant, k, d=D):
  """Scalars a Recycled(-routed) layer adds to a stock one."""
  static = k * k + k                                  # p, g
  routed = d + d * k + k * k * k + k * k              # router scale, W_r, W_p, W_g
  return static + (routed if variant == 'routed' else 0)


@pytest.mark.parametrize('size,variant', cases(
    ['altup', 'recycled', 'routed', 'sequence']))
def test_k1_equals_stock_t5(size, variant):
  """K = 1 (Sequence-AltUp: stride 1) builds the stock tree and computes
  exactly the stock model (logits, cached decoding, predict_batch)."""
  batch = common.batch_for(size)
  with common.gin_model(size, variant='baseline') as stock:
    params = common.init_params(stock, batch)
    expected = common.outputs(stock, params, batch)
  with common.gin_model(size, variant=variant,
                        bindings=('ALTUP_K = 1',)) as k1:
    k1_params = common.init_params(k1, batch, seed=1)
    assert (jax.tree_util.tree_structure(params) ==
            jax.tree_util.tree_structure(k1_params))
    got = common.outputs(k1, params, batch)
  for e, g in zip(expected, got):
    np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize('size,variant', cases(['recycled', 'routed']))
@pytest.mark.parametrize('k', [2, 4])
def test_at_init_equals_baseline(size, variant, k):
  """Identical blocks at init (and zero routing kernels); the sum before
  RMSNorm removes the K factor.

  Tolerance 1e-5: the only differences are float32 rounding and RMSNorm's
  epsilon seeing K^2 * mean(h^2) instead of mean(h^2).
  """
  batch = common.batch_for(size)
  with common.gin_model(size, variant='baseline') as stock:
    stock_params = common.init_params(stock, batch)
    expected = common.logits(stock, stock_params, batch)
  with common.gin_model(size, variant=variant,
                        bindings=(f'ALTUP_K = {k}',)) as model:
    params = common.map_into(common.init_params(model, batch, seed=1),
                             stock_params)
    n_new = sum(x.size for x in jax.tree_util.tree_leaves(params)) - sum(
        x.size for x in jax.tree_util.tree_leaves(stock_params))
    layers = common.stacks(size) * compose.SIZE_LAYERS[size]
    assert n_new == layers * new_params_per_layer(variant, k)
    got = common.logits(model, params, batch)
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


CACHED_DECODING = [
    (size, variant, coefficients, k, layer_input)
    for variant, coefficients in (('altup', 'static'), ('recycled', 'static'),
                                  ('routed', 'routed'), ('altup', 'routed'))
    for k in (2, 4) for layer_input in ('input', 'predicted')
    for size in SIZES + (LM,)
    # T5.1.0: the static variants with the paper's layer input suffice (the
    # tied logits are the only difference from T5.1.1).
    if size != 't5_1_0_tiny' or (coefficients, layer_input) == (
        'static', 'input')]


@pytest.mark.parametrize('size,variant,coefficients,k,layer_input',
                         CACHED_DECODING)
def test_cached_decoding_equals_full_forward(size, variant, coefficients, k,
                                             layer_input):
  batch = (common.batch_for(size) if families.is_decoder_only(size)
           else common.make_batch(dec_len=6))
  with common.gin_model(
      size, variant=variant, bindings=(f'ALTUP_K = {k}',
                                 f"ALTUP_LAYER_INPUT = '{layer_input}'",
                                 f"ALTUP_COEFFICIENTS = '{coefficients}'")
  ) as model:
    params = common.perturb_altup(common.init_params(model, batch))
    full = common.logits(model, params, batch)
    cached = common.cached_decode_logits(model, params, batch)
  assert not np.allclose(full[:, 1:], full[:, :-1])  # a real sequence
  np.testing.assert_allclose(cached, full, rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize('size,variant', cases(
    ['baseline', 'altup', 'recycled', 'routed', 'sequence'], sizes=('tiny',)))
def test_scan_layers_equals_unscanned(size, variant):
  """gin/options/scan.gin scans flaxformer's stacks (DecoderOnly's too)."""
  batch = common.batch_for(size)
  with common.gin_model(size, variant=variant) as plain:
    params = common.perturb_altup(common.init_params(plain, batch))
    expected = common.outputs(plain, params, batch)
  with common.gin_model(size, variant=variant, options=('scan',)) as scanned:
    template = common.init_params(scanned, batch)
    scan_params = common.scanned_params_from_unscanned(params, template)
    assert (jax.tree_util.tree_structure(scan_params) ==
            jax.tree_util.tree_structure(template))
    got = common.outputs(scanned, scan_params, batch)
  np.testing.assert_allclose(got[0], expected[0], rtol=1e-5, atol=2e-5)
  np.testing.assert_allclose(got[1], expected[1], rtol=1e-5, atol=2e-5)
  np.testing.assert_array_equal(got[2], expected[2])
