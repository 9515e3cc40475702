"""Flax modules that plug AltUp into stock flaxformer T5 through its factories.

Each module *wraps* a stock module built by a gin-bound factory and shares its
scope (`nn.share_scope`), so the stock gin bindings are reused as they are and
stock parameter and cache paths do not move (a dense checkpoint is a strict
subset of an AltUp/Recycled one). The AltUp math is in `altup.py`.

  t5_architecture.Encoder/Decoder.layer_factory  -> AltUpEncoderLayer /
                                                    AltUpDecoderLayer
  EncoderDecoder.shared_token_embedder_factory   -> RecycledEmbed (Recycled);
                                                    stock Embed of width K*d
                                                    (full AltUp)
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

Initializer = Callable[..., Any]

PREDICTOR_AXES = ('altup_k_out', 'altup_k_in')
CORRECTOR_AXES = ('altup_k_out',)


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
    shared_relative_position_bias: passed through to the stock layer.
  """
  layer_factory: Callable[..., nn.Module]
  altup_k: int = 2
  selection: str = 'alternating'
  layer_input: str = 'input'
  embed_dim: Optional[int] = None
  predictor_init: Initializer = identity_init
  corrector_init: Initializer = nn.initializers.ones
  shared_relative_position_bias: Optional[nn.Module] = None

  def __post_init__(self):
    altup.check_k(self.altup_k)
    altup.check_choice('selection', self.selection, altup.SELECTIONS)
    altup.check_choice('layer_input', self.layer_input, altup.LAYER_INPUTS)
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

  def _check_width(self, x):
    width = x.shape[-1]
    if self.embed_dim is not None and width != self.altup_k * self.embed_dim:
      raise ValueError(
          f'AltUp layer got inputs of width {width}, expected ALTUP_K * '
          f'EMBED_DIM = {self.altup_k} * {self.embed_dim}. Full AltUp needs '
          'the token embedder to be K*d wide (gin/variants/altup.gin binds '
          'embedding.Embed.features = @altup.widened_dim()); Recycled-AltUp '
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
        rotate=self.selection == 'alternating')
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
    altup.check_k(self.altup_k)
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
    altup.check_k(self.altup_k)
    altup.check_choice('collapse', self.collapse, altup.COLLAPSES)
    altup.check_choice('selection', self.selection, altup.SELECTIONS)
    if (self.num_layers is not None and self.selection == 'alternating'
        and self.altup_k > self.num_layers):
      raise ValueError(
          f'ALTUP_K={self.altup_k} exceeds the {self.num_layers} layers of the '
          'stack: with alternating selection some blocks would never be '
          f'computed. Use ALTUP_K <= {self.num_layers}.')
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

