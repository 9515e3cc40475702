"""AltUp math: predict, correct, block rotation and coefficient bookkeeping.

Everything AltUp computes on top of a stock transformer layer lives here, as
small pure functions on arrays, so that it can be read (and tested) without
flaxformer. Notation follows Algorithm 1 of Baykal et al. (2023):

  x = concat(x^1, ..., x^K), each block x^i of width d (per token).
  predict:  x_hat^i = sum_j p[i, j] * x^j                      (p: [K, K])
  compute:  y = L(x^{j*})   ('input' reading) or L(x_hat^{j*}) ('predicted')
  correct:  x_new^i = x_hat^i + g[i] * (y - x_hat^{j*})          (g: [K])

Layers store the wide representation as a flat [..., K*d] array and work in a
*rotating frame*: the active block is always at index 0, and after each layer
the block axis is rolled by -1 (`rotate_blocks`). In the frame of layer l,
stored block k is canonical block (k + l) mod K, so layer l computes canonical
block l mod K (round-robin, "alternating") without knowing its own index. This
keeps the layer signature stock, which is what lets flaxformer's `nn.scan` and
remat wrappers work unchanged. `canonical_coefficients` maps the stored
(rotating-frame) p and g back to the paper's block order. The settings'
choices and their checks are in `config.py`.
"""

import functools
from typing import Mapping, NamedTuple, Optional, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from altup_flaxformer import config


def split_blocks(x: jnp.ndarray, k: int) -> jnp.ndarray:
  """[..., K*d] -> [..., K, d]."""
  if x.shape[-1] % k:
    raise ValueError(
        f'AltUp input width {x.shape[-1]} is not a multiple of ALTUP_K={k}.')
  return x.reshape(x.shape[:-1] + (k, x.shape[-1] // k))


def merge_blocks(x: jnp.ndarray) -> jnp.ndarray:
  """[..., K, d] -> [..., K*d]."""
  return x.reshape(x.shape[:-2] + (x.shape[-2] * x.shape[-1],))


def _mix(x: jnp.ndarray, coefficients: jnp.ndarray) -> jnp.ndarray:
  """x_hat[..., i, :] = sum_j c[i, j] * x[..., j, :], as K^2 scaled adds.

  Scaled adds rather than a dot with contraction size K, so XLA fuses the
  predict, correct and roll passes into one elementwise loop.
  """
  k = x.shape[-2]
  c = coefficients.astype(x.dtype)
  rows = []
  for i in range(k):
    row = c[i, 0] * x[..., 0, :]
    for j in range(1, k):
      row = row + c[i, j] * x[..., j, :]
    rows.append(row)
  return jnp.stack(rows, axis=-2)


@jax.custom_vjp
def predict(x: jnp.ndarray, predictor: jnp.ndarray) -> jnp.ndarray:
  """Predicts every block as a linear combination of all blocks.

  Args:
    x: [..., K, d] blocks.
    predictor: [K, K] scalars (float32); row i mixes the blocks into block i.

  Returns:
    [..., K, d] predicted blocks x_hat, in x's dtype.

  The gradient of the K x K predictor is one dot over all tokens accumulated
  in float32 (a bf16 sum over batch * length * d elements would lose it).
  """
  return _mix(x, predictor)


def _predict_fwd(x, predictor):
  return _mix(x, predictor), (x, predictor)


def _predict_bwd(residuals, d_x_hat):
  x, predictor = residuals
  k, d = x.shape[-2:]
  d_predictor = jnp.einsum('nid,njd->ij', d_x_hat.reshape(-1, k, d),
                           x.reshape(-1, k, d),
                           preferred_element_type=jnp.float32)
  return (_mix(d_x_hat, predictor.T).astype(x.dtype),
          d_predictor.astype(predictor.dtype))


predict.defvjp(_predict_fwd, _predict_bwd)


def _correct(x_hat, y, corrector, active_block):
  delta = (y - x_hat[..., active_block, :])[..., None, :]
  return x_hat + corrector.astype(x_hat.dtype)[:, None] * delta


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def correct(x_hat: jnp.ndarray, y: jnp.ndarray, corrector: jnp.ndarray,
            active_block: int = 0) -> jnp.ndarray:
  """Spreads the computed update of the active block to all blocks.

  Args:
    x_hat: [..., K, d] predicted blocks.
    y: [..., d] output of the transformer layer for the active block.
    corrector: [K] scalars g (float32).
    active_block: index of the block the layer computed.

  Returns:
    [..., K, d] corrected blocks x_hat + g * (y - x_hat[active_block]).
    The gradient of g is accumulated in float32, as for `predict`.
  """
  return _correct(x_hat, y, corrector, active_block)


def _correct_fwd(x_hat, y, corrector, active_block):
  return (_correct(x_hat, y, corrector, active_block),
          (x_hat, y, corrector))


def _correct_bwd(active_block, residuals, d_out):
  x_hat, y, corrector = residuals
  k, d = x_hat.shape[-2:]
  delta = y - x_hat[..., active_block, :]
  d_corrector = jnp.einsum('nid,nd->i', d_out.reshape(-1, k, d),
                           delta.reshape(-1, d),
                           preferred_element_type=jnp.float32)
  d_delta = jnp.sum(corrector.astype(d_out.dtype)[:, None] * d_out, axis=-2)
  d_x_hat = d_out.at[..., active_block, :].add(-d_delta)
  # Cotangents in their primals' dtypes: a layer may return y in float32
  # while the blocks are bfloat16 (e.g. flaxformer's MoE layers), and then
  # the output, hence d_out, is float32.
  return (d_x_hat.astype(x_hat.dtype), d_delta.astype(y.dtype),
          d_corrector.astype(corrector.dtype))


correct.defvjp(_correct_fwd, _correct_bwd)


def rotate_blocks(x: jnp.ndarray, shift: int = -1) -> jnp.ndarray:
  """Rolls the block axis of [..., K, d] by `shift` (-1: next block to 0)."""
  return jnp.roll(x, shift, axis=-2)


def active_block(layer_index: int, altup_k: int, selection: str) -> int:
  """Canonical block computed by layer `layer_index` (paper's j*)."""
  config.check_choice('selection', selection, config.SELECTIONS)
  return layer_index % altup_k if selection == 'alternating' else 0


def final_rotation(num_layers: int, altup_k: int, selection: str) -> int:
  """Shift that takes the stack output from the rotating to canonical order."""
  return active_block(num_layers, altup_k, selection)


def collapse_blocks(x: jnp.ndarray, altup_k: int, method: str,
                    unrotate_shift: int = 0) -> jnp.ndarray:
  """Reduces the wide [..., K*d] stack output before the final norm.

  Args:
    x: [..., K*d] output of the last layer (rotating frame).
    altup_k: K.
    method: 'sum' or 'mean' (-> [..., d], in float32), or 'concat'
      (-> [..., K*d] in canonical block order).
    unrotate_shift: `final_rotation(num_layers, K, selection)`; only 'concat'
      depends on block order.

  Returns:
    The collapsed array.
  """
  config.check_choice('collapse', method, config.COLLAPSES)
  if altup_k == 1:
    return x
  blocks = split_blocks(x, altup_k)
  if method == 'concat':
    return merge_blocks(rotate_blocks(blocks, unrotate_shift))
  blocks = blocks.astype(jnp.float32)
  return blocks.sum(-2) if method == 'sum' else blocks.mean(-2)


def altup_update(x: jnp.ndarray, layer_fn, predictor: jnp.ndarray,
                 corrector: jnp.ndarray, *, layer_input: str = 'input',
                 rotate: bool = True, router: Optional['Router'] = None):
  """One AltUp layer in the rotating frame (active block at index 0).

  Args:
    x: [..., K*d] wide representation.
    layer_fn: maps a [..., d] block to (y [..., d], aux); aux is passed back.
    predictor: [K, K].
    corrector: [K].
    layer_input: 'input' feeds x^0 to the layer (paper reading, Q1);
      'predicted' feeds x_hat^0 (Gemma 3n).
    rotate: roll the blocks by -1 afterwards ('alternating' selection).
    router: token-dependent coefficients added to p and g (learned routing),
      or None (the paper's static p and g).

  Returns:
    ([..., K*d] new wide representation, aux).
  """
  config.check_choice('layer_input', layer_input, config.LAYER_INPUTS)
  k = predictor.shape[0]
  blocks = split_blocks(x, k)
  active = 0
  order = np.arange(k)
  if rotate:
    # Produce the output already rolled by -1 (no copy of the wide stream):
    # output row i is row (i + 1) % K, so the active block lands at K - 1.
    order = np.roll(order, -1)
    predictor, corrector, active = predictor[order], corrector[order], k - 1
  x_hat = predict(blocks, predictor)
  if router is not None:
    p_token = token_predictor(blocks[..., 0, :], router)[..., order, :]
    x_hat = x_hat + jnp.einsum('...ij,...jd->...id', p_token.astype(x.dtype),
                               blocks)
  y, aux = layer_fn(blocks[..., 0, :] if layer_input == 'input'
                    else x_hat[..., active, :])
  new = correct(x_hat, y, corrector, active)
  if router is not None:
    g_token = token_corrector(y, router)[..., order]
    delta = y - x_hat[..., active, :]
    new = new + g_token.astype(x.dtype)[..., None] * delta[..., None, :]
  return merge_blocks(new), aux


def canonical_coefficients(
    predictors: np.ndarray, correctors: np.ndarray,
    selection: str = 'alternating') -> Tuple[np.ndarray, np.ndarray]:
  """Maps stored per-layer p and g from the rotating frame to block order.

  In layer l's frame, stored index a is canonical block (a + l) mod K, so the
  canonical p_c[(a+l)%K, (b+l)%K] = p_l[a, b] and g_c[(a+l)%K] = g_l[a].

  Args:
    predictors: [N, K, K] stored predictors of the N layers of one stack.
    correctors: [N, K] stored correctors.
    selection: 'alternating' (rotating frame) or 'same' (no rotation).

  Returns:
    ([N, K, K], [N, K]) in canonical block order; row i of p_c predicts
    canonical block i, and the layer l computed block `active_block(l, K)`.
  """
  predictors, correctors = np.asarray(predictors), np.asarray(correctors)
  k = predictors.shape[-1]
  p_out, g_out = [], []
  for layer, (p, g) in enumerate(zip(predictors, correctors)):
    shift = active_block(layer, k, selection)
    p_out.append(np.roll(np.roll(p, shift, axis=0), shift, axis=1))
    g_out.append(np.roll(g, shift, axis=0))
  return np.stack(p_out), np.stack(g_out)


def stack_coefficients(params: Mapping, scanned_axis: int = 1):
  """Collects (predictors [N,K,K], correctors [N,K]) of one stack's params.

  Args:
    params: the params of one stack, e.g. `params['encoder']`. Unscanned
      stacks hold `layers_<i>/altup_predictor`; scanned ones hold the stacked
      `<scope>/altup_predictor` of shape [K, N, K] (scan axis 1).
    scanned_axis: the scan axis of stacked parameters.

  Returns:
    (predictors, correctors) as numpy arrays, or None if the stack has no
    AltUp parameters (K = 1 or a stock model).
  """
  layers = sorted((int(name.split('_')[-1]), sub)
                  for name, sub in params.items()
                  if name.startswith('layers_') and 'altup_predictor' in sub)
  if layers:
    return (np.stack([np.asarray(s['altup_predictor']) for _, s in layers]),
            np.stack([np.asarray(s['altup_corrector']) for _, s in layers]))
  for sub in params.values():
    if isinstance(sub, Mapping) and 'altup_predictor' in sub:
      p = np.moveaxis(np.asarray(sub['altup_predictor']), scanned_axis, 0)
      g = np.moveaxis(np.asarray(sub['altup_corrector']), scanned_axis, 0)
      return p, g
  return None


# --- Learned routing (token-dependent coefficients; Gemma 3n's form) --------


class Router(NamedTuple):
  """Parameters of token-dependent coefficients for one layer.

  p(token) = p + reshape(rho(x^{j*}) @ prediction, [K, K]) and
  g(token) = g + rho(y) @ correction, with the router
  rho(v) = tanh(((v / rms(v)) * scale) @ kernel / d)        (float32, [..., K])
  (Gemma 3n's form, see docs/variants.md). With `prediction` and `correction` zero the
  coefficients are the static p and g.

  Attributes:
    scale: [d] router RMSNorm scale.
    kernel: [d, K] router projection.
    prediction: [K, K*K]; output index K*i + j is p[i, j].
    correction: [K, K].
  """
  scale: jnp.ndarray
  kernel: jnp.ndarray
  prediction: jnp.ndarray
  correction: jnp.ndarray


def route(v: jnp.ndarray, scale: jnp.ndarray, kernel: jnp.ndarray,
          eps: float = 1e-6) -> jnp.ndarray:
  """rho(v): [..., d] -> [..., K] in (-1, 1), computed in float32."""
  v = v.astype(jnp.float32)
  d = v.shape[-1]
  normed = v * jax.lax.rsqrt(jnp.mean(v * v, -1, keepdims=True) + eps)
  return jnp.tanh((normed * scale.astype(jnp.float32)) @
                  kernel.astype(jnp.float32) / d)


def token_predictor(x_active: jnp.ndarray, router: Router) -> jnp.ndarray:
  """Token-dependent part of p: [..., d] -> [..., K, K] (float32)."""
  k = router.kernel.shape[-1]
  a = route(x_active, router.scale, router.kernel) @ router.prediction.astype(
      jnp.float32)
  return a.reshape(a.shape[:-1] + (k, k))


def token_corrector(y: jnp.ndarray, router: Router) -> jnp.ndarray:
  """Token-dependent part of g: [..., d] -> [..., K] (float32)."""
  return route(y, router.scale, router.kernel) @ router.correction.astype(
      jnp.float32)


# --- Sequence-AltUp (the AltUp idea on the sequence axis) -------------------
#
# Our reading (docs/variants.md has the details): with stride k, a layer runs
# on the anchors 0, k, 2k, ... only, then every position t is predicted from
# its own and its anchor s(t)'s input and corrected by the anchor's update:
#   x_hat_t = a1 * x_t + a2 * x_{s(t)}
#   y_t     = x_hat_t + b * (L(x_anchors)_{s(t)} - x_hat_{s(t)})
# Stride 1 is the stock layer.


def sequence_anchors(x: jnp.ndarray, stride: int) -> jnp.ndarray:
  """[B, T, ...] -> [B, ceil(T / stride), ...]: positions 0, k, 2k, ..."""
  return x[:, ::stride]


def anchor_mask(mask: Optional[jnp.ndarray], stride: int) -> Optional[
    jnp.ndarray]:
  """Attention mask among anchors: [B, H, T, T] -> [B, H, A, A]."""
  return None if mask is None else mask[:, :, ::stride, ::stride]


def anchor_choice(mask: Optional[jnp.ndarray], length: int, stride: int):
  """Which anchor each position uses, from the attention mask.

  Args:
    mask: [B, H, T, T] encoder self-attention mask (padding and packing; a
      position may attend to another iff both are real tokens of one segment),
      or None (every position sees every position).
    length: T.
    stride: k.

  Returns:
    (use_next [B, T] bool, has_anchor [B, T] bool); with no mask, every
    position uses the anchor at or before it.
  """
  if mask is None:
    return jnp.zeros((1, length), bool), jnp.ones((1, length), bool)
  to_anchor = mask[:, 0, :, ::stride] > 0                  # [B, T, A]
  prev = np.arange(length)[:, None] // stride              # [T, 1]
  anchors = np.arange(to_anchor.shape[-1])[None, :]        # [1, A]
  prev_hot, next_hot = prev == anchors, prev + 1 == anchors
  prev_ok = jnp.any(to_anchor & prev_hot, -1)
  next_ok = jnp.any(to_anchor & next_hot, -1)
  return ~prev_ok & next_ok, prev_ok | next_ok


def spread_anchors(z: jnp.ndarray, stride: int, length: int,
                   use_next: jnp.ndarray) -> jnp.ndarray:
  """Per-position value of its anchor: [B, A, d] -> [B, T, d] (no gather)."""
  prev = jnp.repeat(z, stride, axis=1)[:, :length]
  nxt = jnp.repeat(jnp.concatenate([z[:, 1:], z[:, -1:]], 1), stride,
                   axis=1)[:, :length]
  return jnp.where(use_next[..., None], nxt, prev)


def sequence_update(x: jnp.ndarray, y_anchors: jnp.ndarray,
                    coefficients: jnp.ndarray, stride: int,
                    use_next: jnp.ndarray,
                    has_anchor: jnp.ndarray) -> jnp.ndarray:
  """Predict and correct every position from the computed anchors.

  Args:
    x: [B, T, d] layer input.
    y_anchors: [B, A, d] layer output on `sequence_anchors(x, stride)`.
    coefficients: [3] float32 (a1, a2, b).
    stride: k.
    use_next, has_anchor: [B, T] from `anchor_choice`.

  Returns:
    [B, T, d] layer output for every position.
  """
  a1, a2, b = (c.astype(x.dtype) for c in coefficients)
  x_anchors = sequence_anchors(x, stride)
  length = x.shape[1]
  # x_hat at an anchor s is (a1 + a2) * x_s: its own anchor is itself.
  update = b * (y_anchors - (a1 + a2) * x_anchors)
  x_hat = a1 * x + a2 * spread_anchors(x_anchors, stride, length, use_next)
  update = spread_anchors(update, stride, length, use_next)
  return x_hat + jnp.where(has_anchor[..., None], update, 0).astype(x.dtype)
