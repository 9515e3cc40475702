"""Numerical equivalences of AltUp models built from the public gin files."""

import pytest

from tests.integration import common  # pylint: disable=g-import-not-at-top
common.require_t5x_stack()

import jax  # pylint: disable=g-import-not-at-top
import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top



def cached_decode_logits(model, params, batch):
  """Step-by-step decoding with the KV cache, as T5X's predict_batch does."""
  module = model.module
  enc, dec_in = batch['encoder_input_tokens'], batch['decoder_input_tokens']
  length = dec_in.shape[1]
  _, variables = module.apply(
      {'params': params}, enc, jnp.ones_like(dec_in), jnp.ones_like(dec_in),
      decode=True, enable_dropout=False, mutable=['cache'])
  cache = variables['cache']
  encoded = module.apply({'params': params}, enc, enable_dropout=False,
                         method=module.encode)
  steps = []
  for t in range(length):
    step, variables = module.apply(
        {'params': params, 'cache': cache}, encoded, enc,
        dec_in[:, t:t + 1], dec_in[:, t:t + 1], enable_dropout=False,
        decode=True, max_decode_length=length, mutable=['cache'],
        method=module.decode)
    cache = variables['cache']
    steps.append(step)
  return jnp.concatenate(steps, axis=1)


def outputs(model, params, batch):
  return (np.asarray(common.logits(model, params, batch)),
          np.asarray(cached_decode_logits(model, params, batch)),
          np.asarray(model.predict_batch(params, batch)))


def map_into(template, source):
  """Takes every leaf of `template` that `source` has at the same path."""
  def take(path, x):
    node = source
    for key in path:
      node = node.get(key.key) if isinstance(node, dict) else None
      if node is None:
        return x
    assert node.shape == x.shape, path
    return node
  return jax.tree_util.tree_map_with_path(take, template)


@pytest.mark.parametrize('variant', ['altup', 'recycled'])
def test_k1_equals_stock_t5(variant):
  """K = 1 builds the stock tree and computes exactly the stock model."""
  batch = common.make_batch()
  with common.gin_model(variant='baseline') as stock:
    params = common.init_params(stock, batch)
    expected = outputs(stock, params, batch)
  with common.gin_model(variant=variant, bindings=('ALTUP_K = 1',)) as k1:
    k1_params = common.init_params(k1, batch, seed=1)
    assert (jax.tree_util.tree_structure(params) ==
            jax.tree_util.tree_structure(k1_params))
    got = outputs(k1, params, batch)
  for e, g in zip(expected, got):
    np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize('k', [2, 4])
def test_recycled_at_init_equals_baseline(k):
  """Identical blocks at init; the sum before RMSNorm removes the K factor.

  Tolerance 1e-5: the only differences are float32 rounding and RMSNorm's
  epsilon seeing K^2 * mean(h^2) instead of mean(h^2).
  """
  batch = common.make_batch()
  with common.gin_model(variant='baseline') as stock:
    stock_params = common.init_params(stock, batch)
    expected = common.logits(stock, stock_params, batch)
  with common.gin_model(variant='recycled',
                        bindings=(f'ALTUP_K = {k}',)) as recycled:
    params = map_into(common.init_params(recycled, batch, seed=1),
                      stock_params)
    n_new = sum(x.size for x in jax.tree_util.tree_leaves(params)) - sum(
        x.size for x in jax.tree_util.tree_leaves(stock_params))
    assert n_new == 8 * (k * k + k)  # 4 + 4 layers of (K^2 + K) scalars
    got = common.logits(recycled, params, batch)
  np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('variant', ['altup', 'recycled'])
@pytest.mark.parametrize('k', [2, 4])
@pytest.mark.parametrize('layer_input', ['input', 'predicted'])
def test_cached_decoding_equals_full_forward(variant, k, layer_input):
  batch = common.make_batch(dec_len=6)
  with common.gin_model(
      variant=variant, bindings=(f'ALTUP_K = {k}',
                                 f"ALTUP_LAYER_INPUT = '{layer_input}'")
  ) as model:
    params = common.perturb_altup(common.init_params(model, batch))
    full = common.logits(model, params, batch)
    cached = cached_decode_logits(model, params, batch)
  assert not np.allclose(full[:, 1:], full[:, :-1])  # a real sequence
  np.testing.assert_allclose(cached, full, rtol=1e-5, atol=2e-5)


def scanned_params_from_unscanned(unscanned, scanned_template):
  """Stacks layers_<i> (and the shared relpos) on axis 1 like nn.scan."""
  out = {'token_embedder': unscanned['token_embedder']}
  for stack in ('encoder', 'decoder'):
    layers = sorted((k for k in unscanned[stack] if k.startswith('layers_')),
                    key=lambda k: int(k.split('_')[1]))

    def gather(path, template, stack=stack, layers=layers):
      keys = [p.key for p in path]
      per_layer = []
      for layer in layers:
        node = (unscanned[stack]['relpos_bias'] if keys[0] == 'relpos_bias'
                else unscanned[stack][layer][keys[0]])
        for key in keys[1:]:
          node = node[key]
        per_layer.append(node)
      stacked = jnp.stack(per_layer, axis=1)
      assert stacked.shape == template.shape, (keys, stacked.shape)
      return stacked

    out[stack] = {k: v for k, v in unscanned[stack].items()
                  if not k.startswith('layers_') and k != 'relpos_bias'}
    out[stack][stack] = jax.tree_util.tree_map_with_path(
        gather, scanned_template[stack][stack])
  return out


@pytest.mark.parametrize('variant', ['baseline', 'altup', 'recycled'])
def test_scan_layers_equals_unscanned(variant):
  batch = common.make_batch()
  with common.gin_model(variant=variant) as plain:
    params = common.perturb_altup(common.init_params(plain, batch))
    expected = outputs(plain, params, batch)
  with common.gin_model(variant=variant, options=('scan',)) as scanned:
    template = common.init_params(scanned, batch)
    scan_params = scanned_params_from_unscanned(params, template)
    assert (jax.tree_util.tree_structure(scan_params) ==
            jax.tree_util.tree_structure(template))
    got = outputs(scanned, scan_params, batch)
  np.testing.assert_allclose(got[0], expected[0], rtol=1e-5, atol=2e-5)
  np.testing.assert_allclose(got[1], expected[1], rtol=1e-5, atol=2e-5)
  np.testing.assert_array_equal(got[2], expected[2])
