"""The cost benchmark's analytic matmul count (pure arithmetic, no jax).

`dims` are a model's dimensions as benchmarks.spec.parse_gin reads them from
its gins: EMBED_DIM, NUM_HEADS, HEAD_DIM, MLP_DIM, NUM_ENCODER_LAYERS,
NUM_DECODER_LAYERS, NUM_EMBEDDINGS, ALTUP_K, one_hot_embed, mlp_inputs,
(full AltUp) decoder_output and decoder_only (absent: an encoder-decoder).
"""

from typing import Any, Dict, Tuple


def _encoder_decoder_layers(dims: Dict[str, Any], li: int, lt: int
                            ) -> Tuple[int, int, int]:
  """(layer multiply-adds, tokens x layers, logit positions) of one example
  of an encoder-decoder: li encoder tokens through NUM_ENCODER_LAYERS
  self-attention + MLP layers, lt decoder tokens through NUM_DECODER_LAYERS
  self-attention + cross-attention + MLP layers, logits at the lt targets."""
  d, dff = dims['EMBED_DIM'], dims['MLP_DIM']
  da = dims['NUM_HEADS'] * dims['HEAD_DIM']
  ne, nd = dims['NUM_ENCODER_LAYERS'], dims['NUM_DECODER_LAYERS']
  mlp = (dims['mlp_inputs'] + 1) * d * dff
  enc_layer = 4 * d * da + mlp + 2 * li * da
  dec_layer = 6 * d * da + mlp + 2 * lt * da + 2 * li * da
  cross_kv = 2 * d * da  # per encoder token per decoder layer
  layers = li * (ne * enc_layer + nd * cross_kv) + lt * nd * dec_layer
  return layers, li * ne + lt * nd, lt


def _decoder_only_layers(dims: Dict[str, Any], li: int, lt: int
                         ) -> Tuple[int, int, int]:
  """(layer multiply-adds, tokens x layers, logit positions) of one example
  of a decoder-only model (a prefix LM sequence of li + lt tokens): every
  token through NUM_DECODER_LAYERS self-attention + MLP layers (scores and
  values over all li + lt positions, masked or not), logits at every position
  (T5X's DecoderOnlyModel computes them all; the loss weights pick the
  targets)."""
  d, dff = dims['EMBED_DIM'], dims['MLP_DIM']
  da = dims['NUM_HEADS'] * dims['HEAD_DIM']
  nd, n = dims['NUM_DECODER_LAYERS'], li + lt
  mlp = (dims['mlp_inputs'] + 1) * d * dff
  layer = 4 * d * da + mlp + 2 * n * da
  return n * nd * layer, n * nd, n


def analytic_macs(dims: Dict[str, Any], variant: str, inputs_length: int,
                  targets_length: int) -> Dict[str, float]:
  """Matmul multiply-adds of one example's forward pass, by part.

  Counts the dense projections, attention scores/values, the token embedding
  (a [vocab x width] matmul when `one_hot`, else free) and the logits layer
  (K*d wide for full AltUp with `decoder_output` 'concat', else d).
  AltUp adds (K^2 + K) * d per token per layer (predict: K^2 d; correct: K d).
  Norms, softmax, biases and the optimizer are left out. A decoder-only model
  (`dims['decoder_only']`) runs one sequence of inputs_length +
  targets_length tokens through its one stack.
  """
  d = dims['EMBED_DIM']
  vocab = dims['NUM_EMBEDDINGS']
  k = dims['ALTUP_K'] if variant != 'baseline' else 1
  stack = (_decoder_only_layers if dims.get('decoder_only')
           else _encoder_decoder_layers)
  layers, token_layers, logit_positions = stack(dims, inputs_length,
                                                targets_length)
  full = variant == 'altup'
  emb_width = k * d if full else d
  concat = full and dims.get('decoder_output', 'concat') == 'concat'
  logits_width = k * d if concat else d  # ALTUP_DECODER_OUTPUT='concat'
  altup = token_layers * (k * k + k) * d if k > 1 else 0
  tokens = inputs_length + targets_length
  embed = tokens * vocab * emb_width if dims['one_hot_embed'] else 0
  logits = logit_positions * logits_width * vocab
  fwd = layers + altup + embed + logits
  # Backward: 2x forward, except that the embedding has no input gradient.
  train = 3 * (layers + altup + logits) + 2 * embed
  return {'layers': layers, 'altup': altup, 'embed': embed, 'logits': logits,
          'forward': fwd, 'train': train,
          'altup_layer_overhead': altup / layers}
