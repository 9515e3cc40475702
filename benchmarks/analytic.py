"""The cost benchmark's analytic matmul count (pure arithmetic, no jax).

`dims` are a model's dimensions as benchmarks.spec.parse_gin reads them from
its gins: EMBED_DIM, NUM_HEADS, HEAD_DIM, MLP_DIM, NUM_ENCODER_LAYERS,
NUM_DECODER_LAYERS, NUM_EMBEDDINGS, ALTUP_K, one_hot_embed, mlp_inputs and
(full AltUp) decoder_output.
"""

from typing import Any, Dict


def analytic_macs(dims: Dict[str, Any], variant: str, inputs_length: int,
                  targets_length: int) -> Dict[str, float]:
  """Matmul multiply-adds of one example's forward pass, by part.

  Counts the dense projections, attention scores/values, the token embedding
  (a [vocab x width] matmul when `one_hot`, else free) and the logits layer
  (K*d wide for full AltUp with `decoder_output` 'concat', else d).
  AltUp adds (K^2 + K) * d per token per layer (predict: K^2 d; correct: K d).
  Norms, softmax, biases and the optimizer are left out.
  """
  d = dims['EMBED_DIM']
  da = dims['NUM_HEADS'] * dims['HEAD_DIM']
  dff = dims['MLP_DIM']
  ne, nd = dims['NUM_ENCODER_LAYERS'], dims['NUM_DECODER_LAYERS']
  vocab = dims['NUM_EMBEDDINGS']
  k = dims['ALTUP_K'] if variant != 'baseline' else 1
  li, lt = inputs_length, targets_length
  mlp = (dims['mlp_inputs'] + 1) * d * dff
  full = variant == 'altup'
  emb_width = k * d if full else d
  concat = full and dims.get('decoder_output', 'concat') == 'concat'
  logits_width = k * d if concat else d  # ALTUP_DECODER_OUTPUT='concat'
  enc_layer = 4 * d * da + mlp + 2 * li * da
  dec_layer = 6 * d * da + mlp + 2 * lt * da + 2 * li * da
  cross_kv = 2 * d * da  # per encoder token per decoder layer
  layers = li * (ne * enc_layer + nd * cross_kv) + lt * nd * dec_layer
  altup = (li * ne + lt * nd) * (k * k + k) * d if k > 1 else 0
  embed = (li + lt) * vocab * emb_width if dims['one_hot_embed'] else 0
  logits = lt * logits_width * vocab
  fwd = layers + altup + embed + logits
  # Backward: 2x forward, except that the embedding has no input gradient.
  train = 3 * (layers + altup + logits) + 2 * embed
  return {'layers': layers, 'altup': altup, 'embed': embed, 'logits': logits,
          'forward': fwd, 'train': train,
          'altup_layer_overhead': altup / layers}
