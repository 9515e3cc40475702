"""Sequence-AltUp and learned routing against direct numpy computations.

Stand-in layers with flaxformer's EncoderLayer signature, so only jax and flax
from the registry are needed (the integration tier runs the real layers).
"""

from typing import Any

from flax import linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from altup_flaxformer import altup
from altup_flaxformer import layers


class MaskedMixLayer(nn.Module):
  """x + tanh(dense(mean of the positions the mask lets each one see))."""
  shared_relative_position_bias: Any = None
  scanned: bool = False

  @nn.compact
  def __call__(self, inputs, encoder_mask=None, *, logit_mask=None,
               enable_dropout=True):
    if encoder_mask is None:
      encoder_mask = jnp.ones(inputs.shape[:1] + (1,) + inputs.shape[1:2] * 2)
    m = encoder_mask[:, 0]
    mixed = (m @ inputs) / jnp.maximum(m.sum(-1, keepdims=True), 1.0)
    y = inputs + jnp.tanh(nn.Dense(inputs.shape[-1], name='dense')(mixed))
    return (y, None) if self.scanned else y


def packed_mask(segments):
  """[B, T] segment ids (0 = padding) -> [B, 1, T, T] encoder mask."""
  s = np.asarray(segments)
  m = (s[:, :, None] == s[:, None, :]) & (s[:, :, None] > 0)
  return jnp.asarray(m[:, None].astype(np.float32))


def reference_anchor(segments, stride):
  """Per position: its anchor index (prev if same segment, else next) or -1."""
  out = []
  for row in np.asarray(segments):
    anchors = []
    for t, seg in enumerate(row):
      prev, nxt = stride * (t // stride), stride * (t // stride + 1)
      if seg and row[prev] == seg:
        anchors.append(prev)
      elif seg and nxt < len(row) and row[nxt] == seg:
        anchors.append(nxt)
      else:
        anchors.append(-1)
    out.append(anchors)
  return np.array(out)


@pytest.mark.parametrize('stride', [2, 3, 4])
def test_sequence_update_equals_direct_computation(stride):
  rng = np.random.RandomState(stride)
  b, t, d = 2, 11, 5
  x = rng.randn(b, t, d).astype(np.float32)
  a = -(-t // stride)
  y_anchor = rng.randn(b, a, d).astype(np.float32)
  a1, a2, g = 0.7, 0.4, 1.3
  use_next, has = altup.anchor_choice(None, t, stride)
  out = altup.sequence_update(jnp.asarray(x), jnp.asarray(y_anchor),
                              jnp.array([a1, a2, g]), stride, use_next, has)
  expected = np.zeros_like(x)
  for pos in range(t):
    s = stride * (pos // stride)
    x_hat = a1 * x[:, pos] + a2 * x[:, s]
    expected[:, pos] = x_hat + g * (y_anchor[:, pos // stride]
                                    - (a1 + a2) * x[:, s])
  np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('stride', [2, 3, 4])
def test_anchor_choice_follows_packing_and_padding(stride):
  rng = np.random.RandomState(10 + stride)
  segments = []
  for _ in range(6):
    lengths = rng.randint(1, 7, size=4)
    row = np.concatenate([np.full(n, i + 1) for i, n in enumerate(lengths)])
    row = np.concatenate([row, np.zeros(16, int)])[:16]
    segments.append(row)
  segments = np.stack(segments)
  use_next, has = altup.anchor_choice(packed_mask(segments), 16, stride)
  ref = reference_anchor(segments, stride)
  np.testing.assert_array_equal(np.asarray(has), ref >= 0)
  prev = stride * (np.arange(16) // stride)
  np.testing.assert_array_equal(np.asarray(use_next)[ref >= 0],
                                (ref != prev[None, :])[ref >= 0])


def test_anchor_choice_example():
  # segments [1 1 1 | 2 2 2 2 | pad], stride 4: position 3's anchor 0 is in
  # segment 1, so it uses anchor 4; the padding position has no anchor.
  segments = np.array([[1, 1, 1, 2, 2, 2, 2, 0]])
  use_next, has = altup.anchor_choice(packed_mask(segments), 8, 4)
  np.testing.assert_array_equal(use_next[0], [0, 0, 0, 1, 0, 0, 0, 0])
  np.testing.assert_array_equal(has[0], [1, 1, 1, 1, 1, 1, 1, 0])


def _sequence_layer(stride, **kwargs):
  return layers.SequenceAltUpEncoderLayer(MaskedMixLayer, stride=stride,
                                          **kwargs)


def test_stride_1_is_the_wrapped_layer_without_parameters():
  x = jnp.asarray(np.random.RandomState(0).randn(2, 7, 4), jnp.float32)
  seq = _sequence_layer(1)
  params = seq.init(jax.random.PRNGKey(0), x, None)
  stock = MaskedMixLayer()
  stock_params = stock.init(jax.random.PRNGKey(0), x, None)
  assert jax.tree_util.tree_structure(params) == jax.tree_util.tree_structure(
      stock_params)
  np.testing.assert_array_equal(seq.apply(params, x, None),
                                stock.apply(params, x, None))


@pytest.mark.parametrize('stride', [2, 4])
def test_layer_runs_on_anchors_and_spreads_their_update(stride):
  rng = np.random.RandomState(stride)
  x = jnp.asarray(rng.randn(2, 10, 4), jnp.float32)
  segments = np.array([[1] * 10, [1] * 7 + [0] * 3])
  mask = packed_mask(segments)
  seq = _sequence_layer(stride)
  params = seq.init(jax.random.PRNGKey(1), x, mask)
  assert params['params']['altup_sequence_coefficients'].tolist() == [1, 0, 1]
  out = np.asarray(seq.apply(params, x, mask, enable_dropout=False))
  # The wrapped layer on the anchors alone, under the anchors' mask.
  y = np.asarray(MaskedMixLayer().apply(
      params, x[:, ::stride], mask[:, :, ::stride, ::stride]))
  xs = np.asarray(x)
  for row in range(2):
    for pos in range(10):
      if not segments[row, pos]:
        continue
      s = stride * (pos // stride)
      expected = xs[row, pos] + y[row, pos // stride] - xs[row, s]
      np.testing.assert_allclose(out[row, pos], expected, rtol=1e-5,
                                 atol=1e-5)


def test_packed_segments_do_not_see_each_other():
  rng = np.random.RandomState(3)
  segments = np.array([[1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 0, 0]])
  mask = packed_mask(segments)
  x = rng.randn(1, 12, 4).astype(np.float32)
  seq = _sequence_layer(4)
  params = seq.init(jax.random.PRNGKey(2), jnp.asarray(x), mask)
  params = jax.tree_util.tree_map(lambda a: a, params)
  params['params']['altup_sequence_coefficients'] = jnp.array([0.8, 0.3, 1.2])
  base = np.asarray(seq.apply(params, jnp.asarray(x), mask))
  for seg in (1, 2, 3):
    changed = x.copy()
    changed[0, segments[0] == seg] += 5.0
    out = np.asarray(seq.apply(params, jnp.asarray(changed), mask))
    others = (segments[0] != seg) & (segments[0] > 0)
    np.testing.assert_allclose(out[0, others], base[0, others], atol=1e-6)
    assert not np.allclose(out[0, segments[0] == seg],
                           base[0, segments[0] == seg])


def test_sequence_gradients_reach_coefficients():
  x = jnp.asarray(np.random.RandomState(4).randn(2, 9, 4), jnp.float32)
  seq = _sequence_layer(3)
  params = seq.init(jax.random.PRNGKey(0), x, None)
  loss = lambda p: jnp.sum(seq.apply(p, x, None) ** 2)
  g = np.asarray(jax.grad(loss)(params)['params'][
      'altup_sequence_coefficients'])
  # At (a1, a2, b) = (1, 0, 1), a2 cancels: its gradient is (1 - b) * ...
  assert g.shape == (3,) and g[0] != 0 and g[2] != 0 and g[1] == 0
  params['params']['altup_sequence_coefficients'] = jnp.array([1., 0., .5])
  g = np.asarray(jax.grad(loss)(params)['params'][
      'altup_sequence_coefficients'])
  assert np.all(g != 0)


@pytest.mark.parametrize('stride, error', [(0, ValueError), (2.0, TypeError),
                                           (True, TypeError)])
def test_bad_stride_names_the_fix(stride, error):
  with pytest.raises(
      error, match=r'ALTUP_K \(the Sequence-AltUp stride\).*--gin.ALTUP_K'):
    _sequence_layer(stride)


# --- learned routing --------------------------------------------------------


class ResidualLayer(nn.Module):
  shared_relative_position_bias: Any = None

  @nn.compact
  def __call__(self, inputs, encoder_mask=None, *, logit_mask=None,
               enable_dropout=True):
    return inputs + nn.Dense(inputs.shape[-1], name='dense')(jnp.tanh(inputs))


def _altup_layer(coefficients, k=2, d=4, **kwargs):
  return layers.AltUpEncoderLayer(ResidualLayer, altup_k=k, embed_dim=d,
                                  coefficients=coefficients, **kwargs)


def _randomise(params, names, seed=0, scale=0.5):
  rng = np.random.RandomState(seed)
  p = dict(params['params'])
  for name in names:
    p[name] = jnp.asarray(np.asarray(p[name]) +
                          scale * rng.randn(*p[name].shape), jnp.float32)
  return {'params': p}


@pytest.mark.parametrize('k', [2, 3])
def test_routed_equals_static_at_initialisation(k):
  x = jnp.asarray(np.random.RandomState(k).randn(2, 5, 4 * k), jnp.float32)
  static, routed = _altup_layer('static', k), _altup_layer('routed', k)
  p_routed = routed.init(jax.random.PRNGKey(0), x, None)
  p_routed = _randomise(p_routed, ['altup_predictor', 'altup_corrector',
                                   'altup_router_kernel'])
  p_static = {'params': {n: v for n, v in p_routed['params'].items()
                         if not n.startswith(('altup_router', 'altup_routed'))}}
  np.testing.assert_array_equal(routed.apply(p_routed, x, None),
                                static.apply(p_static, x, None))


def _rho(v, scale, kernel):
  d = v.shape[-1]
  normed = v / np.sqrt(np.mean(v * v, -1, keepdims=True) + 1e-6) * scale
  return np.tanh(normed @ kernel / d)


@pytest.mark.parametrize('selection', ['alternating', 'same'])
def test_routed_layer_equals_token_dependent_algorithm(selection):
  k, d = 3, 4
  x = np.random.RandomState(5).randn(2, 5, k * d).astype(np.float32)
  layer = _altup_layer('routed', k, d, selection=selection)
  params = layer.init(jax.random.PRNGKey(0), jnp.asarray(x), None)
  params = _randomise(params, ['altup_predictor', 'altup_corrector',
                               'altup_router_scale', 'altup_router_kernel',
                               'altup_routed_predictor',
                               'altup_routed_corrector'], scale=2.0)
  out = np.asarray(layer.apply(params, jnp.asarray(x), None))
  q = {n: np.asarray(v) for n, v in params['params'].items()}
  blocks = x.reshape(2, 5, k, d)
  rho_in = _rho(blocks[..., 0, :], q['altup_router_scale'],
                q['altup_router_kernel'])
  p_tok = q['altup_predictor'] + (rho_in @ q['altup_routed_predictor']
                                  ).reshape(2, 5, k, k)
  x_hat = np.einsum('btij,btjd->btid', p_tok, blocks)
  y = np.asarray(ResidualLayer().apply(
      {'params': {'dense': params['params']['dense']}},
      jnp.asarray(blocks[..., 0, :])))
  g_tok = q['altup_corrector'] + _rho(y, q['altup_router_scale'],
                                      q['altup_router_kernel']) @ q[
                                          'altup_routed_corrector']
  new = x_hat + g_tok[..., None] * (y - x_hat[..., 0, :])[..., None, :]
  if selection == 'alternating':
    new = np.roll(new, -1, axis=-2)
  np.testing.assert_allclose(out, new.reshape(2, 5, k * d), rtol=2e-5,
                             atol=2e-5)


def test_routed_parameters_axes_and_gradients():
  k, d = 2, 4
  x = jnp.asarray(np.random.RandomState(6).randn(2, 3, k * d), jnp.float32)
  layer = _altup_layer('routed', k, d)
  variables = layer.init(jax.random.PRNGKey(0), x, None)
  shapes = {n: v.shape for n, v in variables['params'].items()
            if n.startswith('altup_')}
  assert shapes == {'altup_predictor': (k, k), 'altup_corrector': (k,),
                    'altup_router_scale': (d,), 'altup_router_kernel': (d, k),
                    'altup_routed_predictor': (k, k * k),
                    'altup_routed_corrector': (k, k)}
  axes = variables['params_axes']
  assert axes['altup_routed_predictor_axes'].names == ('altup_k_in',
                                                       'altup_k_pair')
  grads = jax.grad(lambda p: jnp.sum(layer.apply(
      {'params': p}, x, None) ** 2))(variables['params'])
  for name in ('altup_routed_predictor', 'altup_routed_corrector'):
    assert np.any(np.asarray(grads[name]) != 0), name


def test_routed_needs_embed_dim_and_known_choice():
  with pytest.raises(ValueError, match='needs embed_dim'):
    layers.AltUpEncoderLayer(ResidualLayer, altup_k=2, coefficients='routed')
  with pytest.raises(ValueError, match="coefficients 'gated'"):
    _altup_layer('gated')
