"""The cost benchmark's inference half: encoder (or prefill) and decode step.

One builder per model family compiles a model's encoder-side call and its
cached decode step, and returns them as an `Inference` with the same call
signatures for both families, so benchmarks.measure times them alike:

* `encoder_decoder`: `module.encode` of the encoder tokens, and one
  `module.decode` step on a cache initialised as T5X's
  EncoderDecoderModel._compute_kv_cache does (no prompt);
* `decoder_only`: the prefill of the inputs_length prefix (T5X's
  DecoderOnlyModel._compute_kv_cache: a forward over the prefix that fills
  the KV cache), and one `module.apply(..., decode=True)` step, as T5X's
  DecoderOnlyModel._compute_logits_from_slice, on the cache T5X builds for
  predict_batch (inputs + targets long, the inputs prefilled).

The decode step is greedy and donates its cache.
"""

import dataclasses
import time
from typing import Any, Callable, Dict, Mapping, Tuple


@dataclasses.dataclass
class Inference:
  """A model's compiled encoder (or prefill) and cached decode step.

  encode: params -> the encoder's output [batch, inputs_length, d] (or the
    prefilled cache).
  decode_step: (params, cache, ids [batch, 1]) -> (next ids [batch, 1],
    cache); the cache is donated.
  decode_compiled: the decode step's executable (for XLA's analyses).
  cache0: the cache the first decode step gets; ids0: its ids [batch, 1].
  compile_s: compile seconds by name ('encode', 'decode').
  """
  encode: Callable[[Any], Any]
  decode_step: Callable[[Any, Any, Any], Tuple[Any, Any]]
  decode_compiled: Any
  cache0: Any
  ids0: Any
  compile_s: Dict[str, float]


def timed(fn: Callable[..., Any], *args) -> Tuple[Any, float]:
  """(fn(*args), seconds it took): the benchmark's compile timings."""
  t0 = time.perf_counter()
  out = fn(*args)
  return out, time.perf_counter() - t0


# Encoder-decoder (T5X's EncoderDecoderModel).


def compile_encode(module, params, tokens):
  """The executable of (params, encoder tokens) -> encoded [batch, length, d]."""
  import jax  # pylint: disable=g-import-not-at-top

  def encode(params, tokens):
    return module.apply({'params': params}, tokens, enable_dropout=False,
                        method=module.encode)

  return jax.jit(encode).lower(params, tokens).compile()


def initial_cache(module, params, batch):
  """The decoder cache as T5X's EncoderDecoderModel._compute_kv_cache builds
  it (no prompt)."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  def init_cache(params, enc_tokens, dec_tokens):
    _, variables = module.apply(
        {'params': params},
        encoder_input_tokens=jnp.ones_like(enc_tokens),
        decoder_input_tokens=jnp.ones_like(dec_tokens),
        decoder_target_tokens=jnp.ones_like(dec_tokens),
        mutable=['cache'], decode=True, enable_dropout=False)
    return variables['cache']

  return jax.jit(init_cache)(params, batch['encoder_input_tokens'],
                             batch['decoder_input_tokens'])


def compile_decode_step(module, params, cache, encoded, raw_inputs, ids,
                        max_decode_length: int):
  """One cached decode step, as T5X's _compute_logits_from_slice, and the
  greedy next token; the cache donated. The executable maps (params, cache,
  encoded, raw inputs, ids [batch, 1]) -> (next ids [batch, 1], cache)."""
  import jax  # pylint: disable=g-import-not-at-top

  def decode_step(params, cache, encoded, raw_inputs, ids):
    logits, new_vars = module.apply(
        {'params': params, 'cache': cache}, encoded, raw_inputs, ids, ids,
        enable_dropout=False, decode=True, max_decode_length=max_decode_length,
        mutable=['cache'], method=module.decode)
    return _greedy(logits), new_vars['cache']

  return jax.jit(decode_step, donate_argnums=(1,)).lower(
      params, cache, encoded, raw_inputs, ids).compile()


def encoder_decoder(model, params, batch: Mapping[str, Any],
                    targets_length: int) -> Inference:
  """`module.encode` and `module.decode` steps of an EncoderDecoderModel.

  batch: encoder_input_tokens [batch, inputs_length], decoder_input_tokens
  [batch, targets_length]. The decode steps attend to the encoding of
  `params` (the initial ones) and start from position 0.
  """
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  module, tokens = model.module, batch['encoder_input_tokens']
  encode, encode_s = timed(compile_encode, module, params, tokens)
  encoded = encode(params, tokens)
  cache0 = initial_cache(module, params, batch)
  ids0 = jnp.zeros((tokens.shape[0], 1), jnp.int32)
  step, decode_s = timed(compile_decode_step, module, params, cache0,
                          encoded, tokens, ids0, targets_length)
  return Inference(
      encode=lambda p: encode(p, tokens),
      decode_step=lambda p, cache, ids: step(p, cache, encoded, tokens, ids),
      decode_compiled=step, cache0=cache0, ids0=ids0,
      compile_s={'encode': encode_s, 'decode': decode_s})


# Decoder-only (T5X's DecoderOnlyModel).


def prefill_fn(model):
  """(params, inputs [batch, n], causal attention [batch, n]) -> the cache
  of max length n with the inputs prefilled, as T5X's
  DecoderOnlyModel._compute_kv_cache (its logits are not computed)."""

  def prefill(params, inputs, causal_attention):
    cache, _ = model._compute_kv_cache(params, inputs, causal_attention)  # pylint: disable=protected-access
    return cache

  return prefill


def compile_lm_decode_step(module, params, cache, ids, max_decode_length: int):
  """One cached step of a DecoderOnly module, as T5X's
  DecoderOnlyModel._compute_logits_from_slice, and the greedy next token;
  the cache donated. The executable maps (params, cache, ids [batch, 1]) ->
  (next ids [batch, 1], cache)."""
  import jax  # pylint: disable=g-import-not-at-top

  def decode_step(params, cache, ids):
    logits, new_vars = module.apply(
        {'params': params, 'cache': cache}, ids, ids, enable_dropout=False,
        decode=True, max_decode_length=max_decode_length, mutable=['cache'])
    return _greedy(logits), new_vars['cache']

  return jax.jit(decode_step, donate_argnums=(1,)).lower(
      params, cache, ids).compile()


def decoder_only(model, params, batch: Mapping[str, Any],
                 inputs_length: int) -> Inference:
  """Prefill and decode steps of a DecoderOnlyModel on a prefix LM batch.

  batch: decoder_input_tokens and decoder_causal_attention [batch, length],
  length = inputs_length + targets_length (benchmarks.measure.make_lm_batch).
  `encode` prefills a cache with the first inputs_length decoder input
  tokens (BOS and the inputs but the last). The decode steps run on the cache
  T5X's predict_batch builds (max length `length`, the inputs prefilled, the
  cache index at inputs_length) from the last input token.
  """
  import jax  # pylint: disable=g-import-not-at-top
  dec_in, causal = batch['decoder_input_tokens'], batch['decoder_causal_attention']
  length = dec_in.shape[1]
  prefill = jax.jit(prefill_fn(model))
  prefix, prefix_causal = dec_in[:, :inputs_length], causal[:, :inputs_length]
  encode, encode_s = timed(
      lambda: prefill.lower(params, prefix, prefix_causal).compile())
  # predict_batch's prompt: the decoder inputs of the inputs region.
  cache0 = prefill(params, dec_in * causal, causal)
  ids0 = dec_in[:, inputs_length:inputs_length + 1]
  step, decode_s = timed(compile_lm_decode_step, model.module, params,
                          cache0, ids0, length)
  return Inference(
      encode=lambda p: encode(p, prefix, prefix_causal),
      decode_step=step, decode_compiled=step, cache0=cache0, ids0=ids0,
      compile_s={'encode': encode_s, 'decode': decode_s})


def _greedy(logits):
  """logits [batch, 1, vocab] -> argmax ids [batch, 1] (int32)."""
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  return jnp.argmax(logits[:, -1, :], axis=-1).astype(jnp.int32)[:, None]
