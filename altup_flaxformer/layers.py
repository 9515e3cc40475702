"""Flax modules that plug AltUp into stock flaxformer T5 through its factories.

Each module *wraps* a stock module built by a gin-bound factory and shares its
scope (`nn.share_scope`), so the stock gin bindings are reused as they are and
stock parameter and cache paths do not move (a dense checkpoint is a strict
subset of an AltUp/Recycled one). The AltUp math is in `altup.py`, the
settings' choices and checks in `config.py`.

  t5_architecture.Encoder/Decoder.layer_factory  -> AltUpEncoderLayer /
                                                    AltUpDecoderLayer
  EncoderDecoder.shared_token_embedder_factory   -> RecycledEmbed (Recycled);
  (decoder-only: Decoder.token_embedder_factory)    AltUpEmbed: stock Embed of
                                                    width K*d (full AltUp)
  Encoder/Decoder.layer_norm_factory             -> AltUpFinalNorm

The stack carries one flat [batch, length, K*d] array through the stock layer
loop (Python loop or `nn.scan`, with or without remat); see `altup.py` for the
rotating frame that makes block selection index-free.
"""

from typing import Any, Callable, Optional

from flax import linen as nn
from flax.linen import partitioning
import jax.numpy as jnp

from altup_flaxformer import altup
from altup_flaxformer import config

Initializer = Callable[..., Any]

PREDICTOR_AXES = ('altup_k_out', 'altup_k_in')
CORRECTOR_AXES = ('altup_k_out',)
# Learned routing (coefficients='routed').
ROUTER_SCALE_AXES = ('altup_embed',)
ROUTER_KERNEL_AXES = ('altup_embed', 'altup_k_in')
ROUTED_PREDICTION_AXES = ('altup_k_in', 'altup_k_pair')
ROUTED_CORRECTION_AXES = ('altup_k_in', 'altup_k_out')
# Sequence-AltUp: (a1, a2, b) per layer.
SEQUENCE_AXES = ('altup_sequence_coefficients',)


def identity_init(key, shape, dtype=jnp.float32):
  """p = I: every block predicts itself (the default, see notes Q2)."""
  del key
  return jnp.eye(shape[0], shape[1], dtype=dtype)


class _AltUpLayerBase(nn.Module):
  """Shared fields and parameters of the encoder and decoder wrappers.

  Attributes:
    layer_factory: builds the stock d-wide layer (e.g. `EncoderLayer`); it is
      called with `shared_relative_position_bias=...` like flaxformer does.
    altup_k: K, the number of d-wide blocks. K = 1 is the stock layer.
    selection: 'alternating' (layer l computes block l mod K) or 'same'
      (always block 0; the paper's ablation).
    layer_input: 'input' (the layer sees x^{j*}, paper reading) or
      'predicted' (the layer sees x_hat^{j*}, Gemma 3n).
    embed_dim: d; if set, the input width is checked to be K*d.
    predictor_init: initialiser of p [K, K] (default identity).
    corrector_init: initialiser of g [K] (default ones).
    coefficients: 'static' (p, g learned per layer; the paper) or 'routed'
      (plus token-dependent terms from a small router; Gemma 3n's form,
      `altup.Router`).
    router_init: initialiser of the router kernel [d, K].
    routed_init: initialiser of the router -> p [K, K*K] and router -> g
      [K, K] kernels; zeros (the default) make 'routed' equal 'static' at
      initialisation.
    shared_relative_position_bias: passed through to the stock layer.
  """
  layer_factory: Callable[..., nn.Module]
  altup_k: int = 2
  selection: str = 'alternating'
  layer_input: str = 'input'
  embed_dim: Optional[int] = None
  predictor_init: Initializer = identity_init
  corrector_init: Initializer = nn.initializers.ones
  coefficients: str = 'static'
  router_init: Initializer = nn.initializers.normal(stddev=0.02)
  routed_init: Initializer = nn.initializers.zeros
  shared_relative_position_bias: Optional[nn.Module] = None

  def __post_init__(self):
    config.check_k(self.altup_k)
    config.check_choice('selection', self.selection, config.SELECTIONS)
    config.check_choice('layer_input', self.layer_input, config.LAYER_INPUTS)
    config.check_choice('coefficients', self.coefficients, config.COEFFICIENTS)
    if self.coefficients == 'routed' and self.embed_dim is None:
      raise ValueError(
          "AltUp coefficients='routed' needs embed_dim (d) for its router; "
          'gin/altup/layers.gin binds it to %EMBED_DIM.')
    super().__post_init__()

  def setup(self):
    self.layer = self.layer_factory(
        shared_relative_position_bias=self.shared_relative_position_bias)
    nn.share_scope(self, self.layer)
    if self.altup_k > 1:
      k = self.altup_k
      self.predictor = partitioning.param_with_axes(
          'altup_predictor', self.predictor_init, (k, k), jnp.float32,
          axes=PREDICTOR_AXES)
      self.corrector = partitioning.param_with_axes(
          'altup_corrector', self.corrector_init, (k,), jnp.float32,
          axes=CORRECTOR_AXES)
      self.router = self._make_router() if self.coefficients == 'routed' else (
          None)

  def _make_router(self) -> altup.Router:
    """Routing parameters (coefficients='routed'); d is `embed_dim`."""
    d, k = self.embed_dim, self.altup_k
    param = partitioning.param_with_axes
    return altup.Router(
        scale=param('altup_router_scale', nn.initializers.ones, (d,),
                    jnp.float32, axes=ROUTER_SCALE_AXES),
        kernel=param('altup_router_kernel', self.router_init, (d, k),
                     jnp.float32, axes=ROUTER_KERNEL_AXES),
        prediction=param('altup_routed_predictor', self.routed_init,
                         (k, k * k), jnp.float32,
                         axes=ROUTED_PREDICTION_AXES),
        correction=param('altup_routed_corrector', self.routed_init, (k, k),
                         jnp.float32, axes=ROUTED_CORRECTION_AXES))

  def _check_width(self, x):
    width = x.shape[-1]
    if self.embed_dim is not None and width != self.altup_k * self.embed_dim:
      raise ValueError(
          f'AltUp layer got inputs of width {width}, expected ALTUP_K * '
          f'EMBED_DIM = {self.altup_k} * {self.embed_dim}. Full AltUp needs '
          'the token embedder to be K*d wide (gin/variants/altup.gin binds '
          'embedding.Embed.features = @config.widened_dim()); Recycled-AltUp '
          'needs RecycledEmbed (gin/variants/recycled.gin).')

  def _run(self, x, call_layer):
    """Applies AltUp around `call_layer(block) -> stock layer output`."""
    scanned = getattr(self.layer, 'scanned', False)
    if self.altup_k == 1:
      return call_layer(x)
    self._check_width(x)

    def layer_fn(block):
      out = call_layer(block)
      return (out[0], out[1:]) if scanned else (out, None)

    new, rest = altup.altup_update(
        x, layer_fn, self.predictor, self.corrector,
        layer_input=self.layer_input,
        rotate=self.selection == 'alternating',
        router=self.router)
    return (new,) + tuple(rest) if scanned else new


class AltUpEncoderLayer(_AltUpLayerBase):
  """AltUp around a stock encoder layer; signature of `EncoderLayer`."""

  def __call__(self, inputs, encoder_mask=None, *, logit_mask=None,
               enable_dropout: bool = True):
    """[batch, length, K*d] -> [batch, length, K*d] (a tuple when scanned)."""
    return self._run(inputs, lambda x: self.layer(
        x, encoder_mask, logit_mask=logit_mask, enable_dropout=enable_dropout))


class AltUpDecoderLayer(_AltUpLayerBase):
  """AltUp around a stock decoder layer; signature of `DecoderLayer`.

  The self-attention cache and relative-position cache are the stock layer's
  (d-wide); AltUp adds no cache variables.
  """

  def __call__(self, targets, encoded, decoder_mask=None,
               encoder_decoder_mask=None, *, logit_mask=None,
               enable_dropout: bool = True, decode: bool = False,
               max_decode_length: Optional[int] = None, prefill: bool = False,
               prefill_lengths=None, **kwargs):
    """[batch, length, K*d] -> [batch, length, K*d] (a tuple when scanned)."""
    return self._run(targets, lambda x: self.layer(
        x, encoded, decoder_mask, encoder_decoder_mask, logit_mask=logit_mask,
        enable_dropout=enable_dropout, decode=decode,
        max_decode_length=max_decode_length, prefill=prefill,
        prefill_lengths=prefill_lengths, **kwargs))


def sequence_init(key, shape, dtype=jnp.float32):
  """(a1, a2, b) = (1, 0, 1): a position gets its anchor's update."""
  del key
  assert tuple(shape) == (3,), shape
  return jnp.array([1., 0., 1.], dtype)


class SequenceAltUpEncoderLayer(nn.Module):
  """Sequence-AltUp around a stock encoder layer; signature of `EncoderLayer`.

  The wrapped layer runs on the anchors (positions 0, k, 2k, ...) only, with
  the attention mask restricted to them; every position is then predicted and
  corrected from its anchor (`altup.sequence_update`). Stride 1 is the stock
  layer (no parameters). Encoder only: a decoder's causal, token-by-token
  decoding has no anchors to share.

  Attributes:
    layer_factory: builds the wrapped stock `EncoderLayer`.
    stride: k; the layer computes ceil(T / k) of the T positions.
    coefficients_init: initialiser of (a1, a2, b) [3]; default (1, 0, 1):
      non-anchors get their anchor's update added to their own input.
    shared_relative_position_bias: passed through to the wrapped layer.
  """
  layer_factory: Callable[..., nn.Module]
  stride: int = 2
  coefficients_init: Initializer = sequence_init
  shared_relative_position_bias: Optional[nn.Module] = None

  def __post_init__(self):
    config.check_stride(self.stride)
    super().__post_init__()

  def setup(self):
    self.layer = self.layer_factory(
        shared_relative_position_bias=self.shared_relative_position_bias)
    nn.share_scope(self, self.layer)
    if self.stride > 1:
      self.coefficients = partitioning.param_with_axes(
          'altup_sequence_coefficients', self.coefficients_init, (3,),
          jnp.float32, axes=SEQUENCE_AXES)

  def __call__(self, inputs, encoder_mask=None, *, logit_mask=None,
               enable_dropout: bool = True):
    """[batch, length, width] -> same (a tuple when scanned)."""
    k = self.stride
    if k == 1:
      return self.layer(inputs, encoder_mask, logit_mask=logit_mask,
                        enable_dropout=enable_dropout)
    out = self.layer(
        altup.sequence_anchors(inputs, k), altup.anchor_mask(encoder_mask, k),
        logit_mask=(None if logit_mask is None
                    else altup.sequence_anchors(logit_mask, k)),
        enable_dropout=enable_dropout)
    scanned = getattr(self.layer, 'scanned', False)
    y = out[0] if scanned else out
    use_next, has_anchor = altup.anchor_choice(encoder_mask, inputs.shape[1], k)
    new = altup.sequence_update(inputs, y, self.coefficients, k, use_next,
                                has_anchor)
    if logit_mask is not None:
      new = logit_mask * new
    return (new,) + tuple(out[1:]) if scanned else new


class RecycledEmbed(nn.Module):
  """Recycled-AltUp token embedder: the d-wide embedding repeated K times.

  Wraps the stock embedder (same gin bindings, same `token_embedder/embedding`
  parameter), so `attend` (tied logits) still works on the d-wide table after
  the final norm collapses the blocks.

  Attributes:
    embedder_factory: builds the stock `embedding.Embed`.
    altup_k: K.
  """
  embedder_factory: Callable[[], nn.Module]
  altup_k: int = 2

  def __post_init__(self):
    config.check_k(self.altup_k)
    super().__post_init__()

  def setup(self):
    self.embedder = self.embedder_factory()
    nn.share_scope(self, self.embedder)

  def __call__(self, inputs, **kwargs):
    """[batch, length] ids -> [batch, length, K*d]."""
    return jnp.tile(self.embedder(inputs, **kwargs), self.altup_k)

  def attend(self, query):
    """[..., d] -> [..., vocab] logits against the d-wide table."""
    return self.embedder.attend(query)


class AltUpEmbed(nn.Module):
  """Full AltUp token embedder: the stock embedder, K*d wide (gin binds
  `embedding.Embed.features = @config.widened_dim()`).

  Wraps the stock embedder (same gin bindings, same `token_embedder/embedding`
  [vocab, K*d] parameter) and adds nothing to its lookup. Its `attend` is
  what flaxformer's decoder calls for tied logits (T5.1.0,
  `output_logits_factory = None`): the K*d decoder output of
  ALTUP_DECODER_OUTPUT='concat' against the K*d table, h E^T =
  sum_k h^k (E^k)^T, the sum of the per-block logits (flaxformer then divides
  by sqrt(K*d), the width it is given). A decoder output of another width
  ('sum' / 'mean' collapse to d) is refused with the fix instead of a
  shape error in `jnp.dot`.

  Attributes:
    embedder_factory: builds the stock `embedding.Embed`.
  """
  embedder_factory: Callable[[], nn.Module]

  def setup(self):
    self.embedder = self.embedder_factory()
    nn.share_scope(self, self.embedder)

  def __call__(self, inputs, **kwargs):
    """[batch, length] ids -> [batch, length, K*d]."""
    return self.embedder(inputs, **kwargs)

  def attend(self, query):
    """[..., K*d] -> [..., vocab] logits against the K*d table."""
    width = self.embedder.features
    if query.shape[-1] != width:
      raise ValueError(
          f'Tied logits read the {width}-wide AltUp token embedding, but the '
          f'decoder output is {query.shape[-1]} wide: with logits tied to the '
          "embedding (T5.1.0 sizes) full AltUp needs ALTUP_DECODER_OUTPUT="
          "'concat' (the default); for a d-wide output use "
          'gin/variants/recycled.gin or an untied T5.1.1 size.')
    return self.embedder.attend(query)


class AltUpFinalNorm(nn.Module):
  """Collapses the K blocks of a stack's output, then applies the stock norm.

  Bound as `Encoder.layer_norm_factory` / `Decoder.layer_norm_factory`, which
  flaxformer uses only for the final `encoder_norm` / `decoder_norm`.
  'sum' keeps the stock `[d]` norm scale (Recycled; the encoder output fed to
  cross-attention); 'concat' normalises the K*d vector in canonical block
  order (full AltUp's decoder, whose logits layer then reads K*d).

  Attributes:
    norm_factory: builds the stock `T5LayerNorm`.
    altup_k: K.
    collapse: 'sum', 'mean' or 'concat'.
    num_layers: layers in the stack; needed to undo the rotating frame for
      'concat' and to reject a K that leaves blocks never computed.
    selection: the layers' block selection.
  """
  norm_factory: Callable[[], nn.Module]
  altup_k: int = 2
  collapse: str = 'sum'
  num_layers: Optional[int] = None
  selection: str = 'alternating'

  def __post_init__(self):
    config.check_k(self.altup_k)
    config.check_choice('collapse', self.collapse, config.COLLAPSES)
    config.check_choice('selection', self.selection, config.SELECTIONS)
    if self.num_layers is not None:
      config.check_k_fits(self.altup_k, self.num_layers,
                          selection=self.selection)
    super().__post_init__()

  def setup(self):
    self.norm = self.norm_factory()
    nn.share_scope(self, self.norm)

  def __call__(self, x, decode: bool = False, prefill: bool = False,
               prefill_lengths=None):
    """[..., K*d] -> [..., d] ('sum'/'mean') or [..., K*d] ('concat')."""
    shift = (altup.final_rotation(self.num_layers, self.altup_k,
                                  self.selection)
             if self.num_layers is not None else 0)
    x = altup.collapse_blocks(x, self.altup_k, self.collapse, shift)
    return self.norm(x, decode=decode, prefill=prefill,
                     prefill_lengths=prefill_lengths)


def count_altup_parameters(num_layers: int, altup_k: int) -> int:
  """(K^2 + K) scalars per AltUp layer (0 for K = 1)."""
  return 0 if altup_k == 1 else int(num_layers * (altup_k**2 + altup_k))

