"""The decoder-only family (gin/models/lm_*.gin) with every variant it runs.

flaxformer's DecoderOnly around the T5.1.1 decoder stack, trained by T5X's
DecoderOnlyModel (gin/models/decoder_only.gin). What is the family's own: every
variant gin instantiates on lm_tiny and a prefix LM attends bidirectionally
over its inputs. The real sizes are traced symbolically in
test_gin_configs.py. The numerical equivalences the encoder-decoder
families have (K = 1 is the stock model bit for bit, Recycled-AltUp and routing
equal the baseline at init, cached decoding equals the full forward pass,
scanned stacks equal unscanned ones) run on lm_tiny in test_equivalence.py.
"""

import numpy as np
import pytest

from launch import families
from tests.integration import common

VARIANTS = families.DECODER_ONLY_VARIANTS
D = 64  # EMBED_DIM of lm_tiny
PREFIX_LM = ('LM_INPUTS_BIDIRECTIONAL = True',)


def lm_model(variant, options=(), bindings=()):
  return common.gin_model('lm_tiny', variant, options, bindings)


def _k(variant):
  return 1 if variant == 'baseline' else 2


@pytest.mark.parametrize('variant', VARIANTS)
@pytest.mark.parametrize('options', [(), ('scan',), ('gather_embedding',)])
def test_lm_tiny_gin_config(variant, options):
  batch = common.batch_for('lm_tiny')
  with lm_model(variant, options) as model:
    params = common.init_params(model, batch)
    out = common.logits(model, params, batch)
    scores = model.score_batch(params, batch)
  assert out.shape == (2, 7, 128)
  assert scores.shape == (2,) and np.all(np.isfinite(scores))
  decoder = params['decoder']
  assert set(params) == {'decoder'}  # no encoder, the embedder in the stack
  k = _k(variant)
  assert decoder['token_embedder']['embedding'].shape == (
      128, D * (k if variant == 'altup' else 1))
  if not options:
    layer = decoder['layers_0']
    assert 'encoder_decoder_attention' not in layer
    assert ('altup_predictor' in layer) == (variant != 'baseline')
    assert ('altup_router_kernel' in layer) == (variant == 'routed')


@pytest.mark.parametrize('variant', VARIANTS)
def test_prefix_lm_attends_bidirectionally_over_the_inputs(variant):
  # pylint: disable=protected-access
  """LM_INPUTS_BIDIRECTIONAL = True: T5X passes the inputs region to the
  model, and a change of the last input token changes the logits at the
  earlier input positions (it does not with causal attention)."""
  batch = common.batch_for('lm_tiny')
  changed = dict(batch)
  changed['decoder_input_tokens'] = batch['decoder_input_tokens'].copy()
  changed['decoder_input_tokens'][:, 2] = 5  # the last input, prefix_len 3
  reads = {}
  for bindings in ((), PREFIX_LM):
    with lm_model(variant, bindings=bindings) as model:
      params = common.perturb_altup(common.init_params(model, batch))
      logits = [np.asarray(model._compute_logits(params, b))
                for b in (batch, changed)]
    reads[bool(bindings)] = not np.allclose(logits[0][:, :2],
                                            logits[1][:, :2])
  assert reads == {False: False, True: True}
