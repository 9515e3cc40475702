"""AltUp flax modules (altup_flaxformer/layers.py) around stand-in stock layers.

The stand-ins have the call signatures of flaxformer's EncoderLayer, Embed and
T5LayerNorm, so these tests need only jax and flax from the registry.
"""

from typing import Any

from flax import linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from altup_flaxformer import altup
from altup_flaxformer import config
from altup_flaxformer import layers


class StandInLayer(nn.Module):
  """Residual d -> d layer with EncoderLayer's signature."""
  shared_relative_position_bias: Any = None
  scanned: bool = False

  @nn.compact
  def __call__(self, inputs, encoder_mask=None, *, logit_mask=None,
               enable_dropout=True):
    y = inputs + nn.Dense(inputs.shape[-1], name='dense')(jnp.tanh(inputs))
    return (y, None) if self.scanned else y


class StandInNorm(nn.Module):

  @nn.compact
  def __call__(self, x, decode=False, prefill=False, prefill_lengths=None):
    scale = self.param('scale', nn.initializers.ones, (x.shape[-1],))
    return x * jax.lax.rsqrt(jnp.mean(x * x, -1, keepdims=True) + 1e-6) * scale


class Stack(nn.Module):
  """A stack of N wrapped layers in a Python loop, like flaxformer's."""
  num_layers: int
  altup_k: int
  selection: str = 'alternating'
  layer_input: str = 'input'

  def setup(self):
    self.layers = [
        layers.AltUpEncoderLayer(
            StandInLayer, altup_k=self.altup_k, selection=self.selection,
            layer_input=self.layer_input) for _ in range(self.num_layers)]

  def __call__(self, x):
    for layer in self.layers:
      x = layer(x, None, logit_mask=None, enable_dropout=False)
    return x


def _init(module, x):
  return module.init(jax.random.PRNGKey(0), x)


def _perturb(params, seed=0):
  """Random non-trivial p and g everywhere (the init is p=I, g=1)."""
  rng = np.random.RandomState(seed)
  def visit(tree):
    out = {}
    for name, sub in tree.items():
      if name in ('altup_predictor', 'altup_corrector'):
        out[name] = jnp.asarray(np.asarray(sub) + 0.3 * rng.randn(*sub.shape),
                                jnp.float32)
      elif isinstance(sub, dict):
        out[name] = visit(sub)
      else:
        out[name] = sub
    return out
  return visit(jax.tree_util.tree_map(lambda a: a, dict(params)))


@pytest.mark.parametrize('k', [2, 3])
def test_parameter_shapes_axes_and_counts(k):
  stack = Stack(num_layers=4, altup_k=k)
  variables = _init(stack, jnp.ones((2, 3, k * 8)))
  p = variables['params']['layers_0']
  assert p['altup_predictor'].shape == (k, k)
  assert p['altup_corrector'].shape == (k,)
  np.testing.assert_array_equal(p['altup_predictor'], np.eye(k))
  np.testing.assert_array_equal(p['altup_corrector'], np.ones(k))
  axes = variables['params_axes']['layers_0']
  assert axes['altup_predictor_axes'].names == ('altup_k_out', 'altup_k_in')
  assert axes['altup_corrector_axes'].names == ('altup_k_out',)
  # The stock layer's parameters stay at the stock path (shared scope).
  assert set(p) == {'dense', 'altup_predictor', 'altup_corrector'}
  n_altup = sum(v.size for l in variables['params'].values()
                for name, v in l.items() if name.startswith('altup_'))
  assert n_altup == layers.count_altup_parameters(4, k) == 4 * (k * k + k)


def test_k1_is_the_stock_layer_without_parameters():
  x = jax.random.normal(jax.random.PRNGKey(1), (2, 3, 8))
  wrapped = layers.AltUpEncoderLayer(StandInLayer, altup_k=1)
  variables = _init(wrapped, x)
  assert set(variables['params']) == {'dense'}
  stock = StandInLayer()
  np.testing.assert_array_equal(wrapped.apply(variables, x),
                                stock.apply(variables, x))


@pytest.mark.parametrize('selection', ['alternating', 'same'])
@pytest.mark.parametrize('layer_input', ['input', 'predicted'])
@pytest.mark.parametrize('k,n', [(2, 4), (3, 4), (4, 6)])
def test_stack_equals_algorithm_1_in_canonical_order(selection, layer_input,
                                                     k, n):
  """Rotating frame + canonical_coefficients == the paper's j* = l mod K loop."""
  d = 5
  x = jax.random.normal(jax.random.PRNGKey(2), (2, 3, k * d))
  stack = Stack(num_layers=n, altup_k=k, selection=selection,
                layer_input=layer_input)
  params = _perturb(_init(stack, x)['params'])
  out = np.asarray(stack.apply({'params': params}, x))

  p_c, g_c = altup.canonical_coefficients(
      *altup.stack_coefficients(params), selection=selection)
  blocks = np.asarray(x).reshape(2, 3, k, d)
  for l in range(n):
    j = altup.active_block(l, k, selection)
    x_hat = np.einsum('ij,btjd->btid', p_c[l], blocks)
    fed = blocks[:, :, j] if layer_input == 'input' else x_hat[:, :, j]
    y = np.asarray(StandInLayer().apply(
        {'params': params[f'layers_{l}']}, jnp.asarray(fed)))
    blocks = x_hat + g_c[l][None, None, :, None] * (y - x_hat[:, :, j])[:, :,
                                                                      None]
  stored = out.reshape(2, 3, k, d)
  shift = altup.final_rotation(n, k, selection)
  np.testing.assert_allclose(np.roll(stored, shift, axis=2), blocks,
                             rtol=2e-5, atol=2e-5)


def test_gradients_reach_predictor_and_corrector():
  k = 2
  x = jax.random.normal(jax.random.PRNGKey(3), (2, 3, k * 4))
  stack = Stack(num_layers=2, altup_k=k)
  params = _init(stack, x)['params']
  grads = jax.grad(lambda p: jnp.sum(stack.apply({'params': p}, x) ** 3))(
      params)
  for l in range(2):
    for name in ('altup_predictor', 'altup_corrector'):
      g = np.asarray(grads[f'layers_{l}'][name])
      assert np.all(np.isfinite(g)) and np.abs(g).sum() > 0, (l, name)


def test_scanned_stock_layer_returns_tuple():
  k = 2
  x = jax.random.normal(jax.random.PRNGKey(4), (1, 2, k * 4))
  wrapped = layers.AltUpEncoderLayer(
      lambda **kw: StandInLayer(scanned=True, **kw), altup_k=k)
  out = wrapped.apply(_init(wrapped, x), x)
  assert isinstance(out, tuple) and out[1] is None
  assert out[0].shape == x.shape


def test_recycled_embed_repeats_blocks_and_attends_d_wide():
  embed = layers.RecycledEmbed(lambda: nn.Embed(10, 4), altup_k=3)

  class Attend(nn.Module):
    @nn.compact
    def __call__(self, ids):
      emb = layers.RecycledEmbed(lambda: nn.Embed(10, 4, name='inner'),
                                 altup_k=3, name='token_embedder')
      wide = emb(ids)
      return wide, emb.attend(wide[..., :4])

  ids = jnp.array([[1, 2, 3]])
  variables = _init(embed, ids)
  assert variables['params']['embedding'].shape == (10, 4)
  wide = np.asarray(embed.apply(variables, ids))
  assert wide.shape == (1, 3, 12)
  np.testing.assert_array_equal(wide[..., :4], wide[..., 4:8])
  np.testing.assert_array_equal(wide[..., :4], wide[..., 8:])
  v = _init(Attend(), ids)
  assert set(v['params']['token_embedder']) == {'embedding'}
  _, logits = Attend().apply(v, ids)
  assert logits.shape == (1, 3, 10)


@pytest.mark.parametrize('collapse,width', [('sum', 4), ('mean', 4),
                                            ('concat', 12)])
def test_final_norm_collapses_then_normalises(collapse, width):
  norm = layers.AltUpFinalNorm(StandInNorm, altup_k=3, collapse=collapse,
                               num_layers=4)
  x = jax.random.normal(jax.random.PRNGKey(5), (2, 3, 12))
  variables = _init(norm, x)
  assert variables['params']['scale'].shape == (width,)
  y = norm.apply(variables, x)
  collapsed = altup.collapse_blocks(x, 3, collapse, unrotate_shift=1)
  np.testing.assert_allclose(y, StandInNorm().apply(variables, collapsed),
                             rtol=1e-6)


def test_recycled_identical_blocks_sum_normalises_like_one_block():
  norm = layers.AltUpFinalNorm(StandInNorm, altup_k=4, collapse='sum')
  h = jax.random.normal(jax.random.PRNGKey(6), (2, 3, 8))
  variables = _init(norm, jnp.tile(h, 4))
  np.testing.assert_allclose(norm.apply(variables, jnp.tile(h, 4)),
                             StandInNorm().apply(variables, h), rtol=1e-5,
                             atol=1e-6)


@pytest.mark.parametrize('kwargs,error,match', [
    (dict(altup_k=0), ValueError, 'ALTUP_K must be >= 1'),
    (dict(altup_k=2.0), TypeError, 'must be an int'),
    (dict(selection='random'), ValueError, "selection 'random'"),
    (dict(layer_input='output'), ValueError, "layer_input 'output'"),
])
def test_bad_layer_config_fails_at_construction(kwargs, error, match):
  with pytest.raises(error, match=match):
    layers.AltUpEncoderLayer(StandInLayer, **kwargs)


def test_widened_dim():
  assert config.widened_dim(64, 4) == 256


@pytest.mark.parametrize('k,error,match', [
    (0, ValueError, 'ALTUP_K must be >= 1'),
    (-2, ValueError, 'ALTUP_K must be >= 1'),
    (1.5, TypeError, 'must be an int'),
    ('2', TypeError, 'must be an int'),
    (True, TypeError, 'must be an int'),
])
def test_bad_k(k, error, match):
  with pytest.raises(error, match=match):
    config.check_k(k)


def test_bad_norm_and_embed_config_fail_at_construction():
  with pytest.raises(ValueError, match="collapse 'max'"):
    layers.AltUpFinalNorm(StandInNorm, collapse='max')
  with pytest.raises(ValueError, match='ALTUP_K=4 exceeds the 2 layers'):
    layers.AltUpFinalNorm(StandInNorm, altup_k=4, num_layers=2)
  with pytest.raises(ValueError, match='ALTUP_K must be >= 1'):
    layers.RecycledEmbed(lambda: nn.Embed(4, 2), altup_k=0)


def test_embedding_width_mismatch_names_the_fix():
  wrapped = layers.AltUpEncoderLayer(StandInLayer, altup_k=2, embed_dim=8)
  with pytest.raises(ValueError, match=r'ALTUP_K \* EMBED_DIM = 2 \* 8.*'
                     r'@config.widened_dim\(\)'):
    _init(wrapped, jnp.ones((1, 2, 8)))
