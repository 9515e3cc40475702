"""The decoder-only family (gin/models/lm_*.gin) with every variant it runs.

flaxformer's DecoderOnly around the T5.1.1 decoder stack, trained by T5X's
DecoderOnlyModel (gin/models/decoder_only.gin). The same properties as the
encoder-decoder's (test_gin_configs.py, test_equivalence.py): every gin
instantiates, K = 1 is the stock model bit for bit, Recycled-AltUp and routing
equal the baseline at init, cached decoding equals the full forward pass, and
scanned stacks equal unscanned ones.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from launch import compose
from launch import families
from tests.integration import common

VARIANTS = families.DECODER_ONLY_VARIANTS
# d_model per real size (flaxformer's T5.1.1 gins).
EMBED_DIMS = {'lm_small': 512, 'lm_base': 768, 'lm_large': 1024,
              'lm_xl': 2048}
D = 64  # EMBED_DIM of lm_tiny
LAYERS = compose.SIZE_LAYERS['lm_tiny']
PREFIX_LM = ('LM_INPUTS_BIDIRECTIONAL = True',)


def lm_model(variant, options=(), bindings=()):
  return common.gin_model('lm_tiny', variant, options, bindings)


def _k(variant):
  return 1 if variant == 'baseline' else 2


@pytest.mark.parametrize('variant', VARIANTS)
@pytest.mark.parametrize('options', [(), ('scan',), ('gather_embedding',)])
def test_lm_tiny_gin_config(variant, options):
  batch = common.make_lm_batch()
  with lm_model(variant, options) as model:
    params = common.lm_init_params(model, batch)
    out = common.lm_logits(model, params, batch)
    scores = model.score_batch(params, batch)
  assert out.shape == (2, 7, 128)
  assert scores.shape == (2,) and np.all(np.isfinite(scores))
  decoder = params['decoder']
  assert set(params) == {'decoder'}  # no encoder, the embedder in the stack
  k = _k(variant)
  assert decoder['token_embedder']['embedding'].shape == (
      128, D * (k if variant == 'altup' else 1))
  if not options:
    layer = decoder['layers_0']
    assert 'encoder_decoder_attention' not in layer
    assert ('altup_predictor' in layer) == (variant != 'baseline')
    assert ('altup_router_kernel' in layer) == (variant == 'routed')


@pytest.mark.parametrize('variant', VARIANTS)
def test_prefix_lm_attends_bidirectionally_over_the_inputs(variant):
  # pylint: disable=protected-access
  """LM_INPUTS_BIDIRECTIONAL = True: T5X passes the inputs region to the
  model, and a change of the last input token changes the logits at the
  earlier input positions (it does not with causal attention)."""
  batch = common.make_lm_batch()
  changed = dict(batch)
  changed['decoder_input_tokens'] = batch['decoder_input_tokens'].copy()
  changed['decoder_input_tokens'][:, 2] = 5  # the last input, prefix_len 3
  reads = {}
  for bindings in ((), PREFIX_LM):
    with lm_model(variant, bindings=bindings) as model:
      params = common.perturb_altup(common.lm_init_params(model, batch))
      logits = [np.asarray(model._compute_logits(params, b))
                for b in (batch, changed)]
    reads[bool(bindings)] = not np.allclose(logits[0][:, :2],
                                            logits[1][:, :2])
  assert reads == {False: False, True: True}


@pytest.mark.parametrize('size', tuple(EMBED_DIMS))
@pytest.mark.parametrize('variant', VARIANTS)
def test_lm_model_gin_config_symbolically(size, variant):
  d, n = EMBED_DIMS[size], compose.SIZE_LAYERS[size]
  with common.gin_model(size, variant, tiny_vocab=False) as model:
    def init_and_apply():
      x = jnp.ones((2, 8), jnp.int32)
      params = model.module.init(jax.random.PRNGKey(0), x, x,
                                 enable_dropout=False)['params']
      return params, model.module.apply({'params': params}, x, x,
                                        enable_dropout=False)
    params, out = jax.eval_shape(init_and_apply)
  assert out.shape == (2, 8, 32128)
  k = _k(variant)
  width = d * (k if variant == 'altup' else 1)
  decoder = params['decoder']
  assert decoder['token_embedder']['embedding'].shape == (32128, width)
  assert len([l for l in decoder if l.startswith('layers_')]) == n
  assert decoder['logits_dense']['kernel'].shape == (width, 32128)
  assert decoder['decoder_norm']['scale'].shape == (width,)


@pytest.mark.parametrize('variant', ['altup', 'recycled', 'routed'])
def test_k1_equals_stock_decoder_only(variant):
  """K = 1 builds the stock decoder-only tree and computes exactly the stock
  model: full forward, cached decoding and T5X's predict_batch (prefill of
  the inputs, then decoding)."""
  batch = common.make_lm_batch()
  with lm_model('baseline') as stock:
    params = common.lm_init_params(stock, batch)
    expected = common.lm_outputs(stock, params, batch)
  with lm_model(variant, bindings=('ALTUP_K = 1',)) as k1:
    k1_params = common.lm_init_params(k1, batch, seed=1)
    assert (jax.tree_util.tree_structure(params) ==
            jax.tree_util.tree_structure(k1_params))
    got = common.lm_outputs(k1, params, batch)
  for e, g in zip(expected, got):
    np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize('variant', ['recycled', 'routed'])
@pytest.mark.parametrize('k', [2, 4])
def test_at_init_equals_dense_decoder_only(variant, k):
  """Identical blocks at init (zero routing kernels): the dense model up to
  float32 rounding and RMSNorm's epsilon (see test_equivalence.py)."""
  batch = common.make_lm_batch()
  with lm_model('baseline') as stock:
    stock_params = common.lm_init_params(stock, batch)
    expected = common.lm_logits(stock, stock_params, batch)
  with lm_model(variant, bindings=(f'ALTUP_K = {k}',)) as model:
    params = common.map_into(common.lm_init_params(model, batch, seed=1),
                             stock_params)
    n_new = sum(x.size for x in jax.tree_util.tree_leaves(params)) - sum(
        x.size for x in jax.tree_util.tree_leaves(stock_params))
    static = k * k + k
    routed = D + D * k + k ** 3 + k * k if variant == 'routed' else 0
    assert n_new == LAYERS * (static + routed)
    got = common.lm_logits(model, params, batch)
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('variant,coefficients', [
    ('altup', 'static'), ('recycled', 'static'), ('routed', 'routed')])
@pytest.mark.parametrize('k', [2, 4])
@pytest.mark.parametrize('layer_input', ['input', 'predicted'])
def test_lm_cached_decoding_equals_full_forward(variant, coefficients, k,
                                                layer_input):
  batch = common.make_lm_batch()
  with lm_model(variant, bindings=(
      f'ALTUP_K = {k}', f"ALTUP_LAYER_INPUT = '{layer_input}'",
      f"ALTUP_COEFFICIENTS = '{coefficients}'")) as model:
    params = common.perturb_altup(common.lm_init_params(model, batch))
    full = common.lm_logits(model, params, batch)
    cached = common.lm_cached_decode_logits(model, params, batch)
  assert full.shape == (2, 7, 128)
  np.testing.assert_allclose(cached, full, rtol=1e-5, atol=2e-5)


@pytest.mark.parametrize('variant', ['altup', 'recycled', 'routed'])
def test_lm_scan_layers_equals_unscanned(variant):
  """flaxformer's Decoder scans its layers under DecoderOnly too
  (gin/options/scan.gin sets DecoderOnly.scan_layers for T5X's cache)."""
  batch = common.make_lm_batch()
  with lm_model(variant) as plain:
    params = common.perturb_altup(common.lm_init_params(plain, batch))
    expected = common.lm_outputs(plain, params, batch)
  with lm_model(variant, options=('scan',)) as scanned:
    template = common.lm_init_params(scanned, batch)
    scan_params = common.scanned_lm_params_from_unscanned(params, template)
    assert (jax.tree_util.tree_structure(scan_params) ==
            jax.tree_util.tree_structure(template))
    got = common.lm_outputs(scanned, scan_params, batch)
  np.testing.assert_allclose(got[0], expected[0], rtol=1e-5, atol=2e-5)
  np.testing.assert_allclose(got[1], expected[1], rtol=1e-5, atol=2e-5)
  np.testing.assert_array_equal(got[2], expected[2])
