"""The benchmark's analytic multiply-add count (pure arithmetic, no t5x)."""

from benchmarks import altup_cost

DIMS = dict(EMBED_DIM=8, NUM_HEADS=2, HEAD_DIM=4, MLP_DIM=16,
            NUM_ENCODER_LAYERS=2, NUM_DECODER_LAYERS=2, NUM_EMBEDDINGS=100,
            ALTUP_K=2, one_hot_embed=False, mlp_inputs=2)


def macs(variant, **kw):
  return altup_cost.analytic_macs(dict(DIMS, **kw), variant, 6, 4)


def test_altup_term_is_k2_plus_k_d_per_token_per_layer():
  # (6 input tokens x 2 encoder layers + 4 targets x 2 decoder layers) x 6 x 8
  assert macs('recycled')['altup'] == (6 * 2 + 4 * 2) * (2 * 2 + 2) * 8
  assert macs('baseline')['altup'] == 0
  assert macs('recycled')['layers'] == macs('baseline')['layers']


def test_logits_width_follows_the_decoder_output():
  assert macs('altup')['logits'] == 4 * (2 * 8) * 100  # concat: K*d
  assert macs('altup', decoder_output='sum')['logits'] == 4 * 8 * 100
  assert macs('recycled')['logits'] == macs('baseline')['logits']


def test_one_hot_embedding_counts_the_table_width():
  base = macs('baseline', one_hot_embed=True)['embed']
  assert base == (6 + 4) * 100 * 8
  assert macs('altup', one_hot_embed=True)['embed'] == 2 * base
  assert macs('altup')['embed'] == 0  # a gather is free
