"""AltUp math (altup_flaxformer/altup.py) against direct numpy computations."""

import numpy as np
import pytest

from altup_flaxformer import altup


def _rng(seed=0):
  return np.random.RandomState(seed)


@pytest.mark.parametrize('k', [1, 2, 3, 4])
def test_predict_matches_numpy(k):
  x = _rng().randn(2, 3, k, 5).astype(np.float32)
  p = _rng(1).randn(k, k).astype(np.float32)
  expected = np.einsum('ij,btjd->btid', p, x)
  np.testing.assert_allclose(altup.predict(x, p), expected, rtol=1e-5,
                             atol=1e-6)


@pytest.mark.parametrize('active', [0, 1, 2])
def test_correct_matches_numpy(active):
  k, d = 3, 4
  x_hat = _rng().randn(2, k, d).astype(np.float32)
  y = _rng(1).randn(2, d).astype(np.float32)
  g = _rng(2).randn(k).astype(np.float32)
  expected = np.stack([x_hat[:, i] + g[i] * (y - x_hat[:, active])
                       for i in range(k)], axis=1)
  np.testing.assert_allclose(altup.correct(x_hat, y, g, active), expected,
                             rtol=1e-5, atol=1e-6)


def test_identity_init_computes_active_block_exactly():
  """p = I, g = 1: the active block becomes L(x^j*), others get the same delta."""
  k, d = 2, 3
  x = _rng().randn(4, k * d).astype(np.float32)
  layer = lambda b: (2.0 * b + 1.0, None)
  new, _ = altup.altup_update(x, layer, np.eye(k, dtype=np.float32),
                              np.ones(k, np.float32), rotate=False)
  blocks, new_blocks = x.reshape(4, k, d), np.asarray(new).reshape(4, k, d)
  delta = (2.0 * blocks[:, 0] + 1.0) - blocks[:, 0]
  np.testing.assert_allclose(new_blocks[:, 0], 2.0 * blocks[:, 0] + 1.0,
                             rtol=1e-6)
  np.testing.assert_allclose(new_blocks[:, 1], blocks[:, 1] + delta, rtol=1e-6)


@pytest.mark.parametrize('layer_input', ['input', 'predicted'])
def test_altup_update_matches_algorithm_1(layer_input):
  k, d = 3, 4
  x = _rng().randn(5, k * d).astype(np.float32)
  p = _rng(1).randn(k, k).astype(np.float32)
  g = _rng(2).randn(k).astype(np.float32)
  w = _rng(3).randn(d, d).astype(np.float32)
  layer = lambda b: (np.tanh(b @ w), None)
  blocks = x.reshape(5, k, d)
  x_hat = np.einsum('ij,bjd->bid', p, blocks)
  fed = blocks[:, 0] if layer_input == 'input' else x_hat[:, 0]
  y = np.tanh(fed @ w)
  expected = x_hat + g[None, :, None] * (y - x_hat[:, 0])[:, None]
  expected = np.roll(expected, -1, axis=1).reshape(5, k * d)
  new, _ = altup.altup_update(x, layer, p, g, layer_input=layer_input)
  np.testing.assert_allclose(new, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('selection,expected', [
    ('alternating', [0, 1, 2, 0, 1, 2, 0]),
    ('same', [0, 0, 0, 0, 0, 0, 0]),
])
def test_active_block_round_robin(selection, expected):
  assert [altup.active_block(l, 3, selection) for l in range(7)] == expected


def test_canonical_coefficients_unrotate():
  k, n = 3, 4
  p = _rng().randn(n, k, k)
  g = _rng(1).randn(n, k)
  p_c, g_c = altup.canonical_coefficients(p, g)
  for l in range(n):
    for a in range(k):
      assert g_c[l, (a + l) % k] == g[l, a]
      for b in range(k):
        assert p_c[l, (a + l) % k, (b + l) % k] == p[l, a, b]
  p_same, g_same = altup.canonical_coefficients(p, g, 'same')
  np.testing.assert_array_equal(p_same, p)
  np.testing.assert_array_equal(g_same, g)


def test_collapse_blocks():
  x = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 12)  # K=3, d=4
  blocks = x.reshape(2, 3, 4)
  np.testing.assert_allclose(altup.collapse_blocks(x, 3, 'sum'),
                             blocks.sum(1))
  np.testing.assert_allclose(altup.collapse_blocks(x, 3, 'mean'),
                             blocks.mean(1))
  np.testing.assert_allclose(altup.collapse_blocks(x, 3, 'concat', 1),
                             np.roll(blocks, 1, axis=1).reshape(2, 12))
  np.testing.assert_array_equal(altup.collapse_blocks(x, 1, 'sum'), x)


def test_bad_choices_name_the_options():
  with pytest.raises(ValueError, match=r"selection 'random'.*'alternating'"):
    altup.active_block(0, 2, 'random')
  with pytest.raises(ValueError, match=r"collapse 'max'.*'concat'"):
    altup.collapse_blocks(np.zeros((1, 4)), 2, 'max')
  with pytest.raises(ValueError, match='not a multiple of ALTUP_K=3'):
    altup.split_blocks(np.zeros((1, 4)), 3)


def _reference_loss(x, y, p, g, w):
  """Predict + correct written with plain jnp ops (autodiff reference)."""
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  x_hat = jnp.einsum('ij,...jd->...id', p, x)
  out = x_hat + g[:, None] * (y - x_hat[..., 0, :])[..., None, :]
  return jnp.sum(jnp.tanh(out) * w)


def _altup_loss(x, y, p, g, w):
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  out = altup.correct(altup.predict(x, p), y, g)
  return jnp.sum(jnp.tanh(out.astype(jnp.float32)) * w)


def test_custom_gradients_match_autodiff():
  import jax  # pylint: disable=g-import-not-at-top
  k, d = 3, 6
  rng = _rng(7)
  args = [rng.randn(2, 5, k, d), rng.randn(2, 5, d), rng.randn(k, k),
          rng.randn(k), rng.randn(2, 5, k, d)]
  args = [np.asarray(a, np.float32) for a in args]
  got = jax.grad(_altup_loss, argnums=(0, 1, 2, 3))(*args)
  want = jax.grad(_reference_loss, argnums=(0, 1, 2, 3))(*args)
  for g, w in zip(got, want):
    np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


def _bf16_block_grads(shape, y_dtype, seed, argnums):
  """Gradients of `_altup_loss` on bf16 blocks x of `shape` (..., K, d) and
  those of the float32 autodiff reference, at p = I + 0.1 and g = 1."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  rng, k = _rng(seed), shape[-2]
  x = jnp.asarray(rng.randn(*shape), jnp.bfloat16)
  y = jnp.asarray(rng.randn(*shape[:-2], shape[-1]), y_dtype)
  w = jnp.asarray(rng.randn(*shape), jnp.float32)
  p, g = jnp.eye(k) + 0.1, jnp.ones(k)
  got = jax.grad(_altup_loss, argnums=argnums)(x, y, p, g, w)
  want = jax.grad(_reference_loss, argnums=argnums)(
      x.astype(jnp.float32), y.astype(jnp.float32), p, g, w)
  return got, want


def test_bf16_coefficient_gradients_accumulate_in_float32():
  """dL/dp and dL/dg sum over batch*length*d; a bf16 sum would lose them."""
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  got, want = _bf16_block_grads((16, 128, 2, 256), jnp.bfloat16, 8, (2, 3))
  for a, b in zip(got, want):
    assert a.dtype == jnp.float32
    np.testing.assert_allclose(a, b, rtol=2e-2, atol=2e-2 * np.abs(b).max())


def test_float32_layer_output_on_bf16_blocks_differentiates():
  """A layer may return y in float32 while the blocks are bf16 (flaxformer's
  MoE layers under bf16 activations); every cotangent keeps its primal's
  dtype, as jax.custom_vjp requires."""
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  got, want = _bf16_block_grads((4, 3, 2, 8), jnp.float32, 9, (0, 1, 2, 3))
  assert [a.dtype for a in got] == [jnp.bfloat16, jnp.float32, jnp.float32,
                                    jnp.float32]
  for a, b in zip(got, want):
    np.testing.assert_allclose(np.asarray(a, np.float32), b, rtol=3e-2,
                               atol=3e-2 * np.abs(b).max())
