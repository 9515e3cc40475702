"""Stock T5X features keep working with AltUp: packing, dropout, bf16, remat."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.integration import common


def packed_batch():
  """Two examples packed per row, with T5X's segment ids and positions."""
  batch = common.make_batch(batch=2, enc_len=8, dec_len=6)
  enc_seg = np.array([[1, 1, 1, 1, 2, 2, 2, 0]] * 2, np.int32)
  dec_seg = np.array([[1, 1, 1, 2, 2, 0]] * 2, np.int32)
  batch['encoder_input_tokens'] *= (enc_seg > 0)
  batch['decoder_target_tokens'] *= (dec_seg > 0)
  batch['decoder_loss_weights'] = (dec_seg > 0).astype(np.float32)
  batch['encoder_segment_ids'] = enc_seg
  batch['decoder_segment_ids'] = dec_seg
  batch['encoder_positions'] = np.array([[0, 1, 2, 3, 0, 1, 2, 0]] * 2,
                                        np.int32)
  batch['decoder_positions'] = np.array([[0, 1, 2, 0, 1, 0]] * 2, np.int32)
  return batch


# Sequence-AltUp at stride 3 puts example 2 (positions 4-6) off the anchor
# grid 0, 3, 6.
EXTRA_BINDINGS = {'sequence': ('ALTUP_K = 3',)}


@pytest.mark.parametrize('variant', list(common.NEW_PARAMS))
@pytest.mark.parametrize('options,remat', [((), 'none'), (('scan',), 'full'),
                                           (('scan',), 'minimal')])
def test_packed_dropout_bf16_remat_train_step(variant, options, remat):
  batch = packed_batch()
  bindings = ("ACTIVATION_DTYPE = 'bfloat16'", 'DROPOUT_RATE = 0.1',
              f"t5_architecture.Encoder.layer_remat = '{remat}'",
              f"t5_architecture.Decoder.layer_remat = '{remat}'",
              'from flaxformer.architectures.t5 import t5_architecture')
  bindings = (bindings[-1],) + bindings[:-1] + EXTRA_BINDINGS.get(variant, ())
  with common.gin_model('tiny', variant, options, bindings) as model:
    params = common.init_params(model, batch)
    rng = jax.random.PRNGKey(3)
    (loss, _), grads = jax.value_and_grad(model.loss_fn, has_aux=True)(
        params, batch, rng)
    loss_again, _ = model.loss_fn(params, batch, jax.random.PRNGKey(4))
    # Segment ids must isolate packed examples: changing example 2's tokens
    # leaves example 1's logits unchanged.
    changed = dict(batch)
    changed['encoder_input_tokens'] = batch['encoder_input_tokens'].copy()
    changed['encoder_input_tokens'][:, 4:7] = 5
    ids = lambda b: (b['encoder_input_tokens'], b['decoder_input_tokens'],
                     b['decoder_target_tokens'])
    kw = lambda b: {k: b[k] for k in ('encoder_segment_ids',
                                      'decoder_segment_ids',
                                      'encoder_positions',
                                      'decoder_positions')}
    apply = lambda b: model.module.apply({'params': params}, *ids(b),
                                         **kw(b), enable_dropout=False)
    out, out_changed = apply(batch), apply(changed)
  assert out.dtype == jnp.float32  # logits in fp32, activations bf16
  assert np.isfinite(float(loss)) and float(loss) != float(loss_again)
  for path in common.NEW_PARAMS[variant]:
    leaves = [g for p, g in jax.tree_util.tree_flatten_with_path(grads)[0]
              if getattr(p[-1], 'key', None) == path]
    assert leaves and all(np.all(np.isfinite(g)) for g in leaves)
    assert any(np.abs(g).sum() > 0 for g in leaves)
  np.testing.assert_array_equal(out[:, :3], out_changed[:, :3])
  assert not np.array_equal(out[:, 3:5], out_changed[:, 3:5])
