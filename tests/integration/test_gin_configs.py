"""Every size x variant (x scan) gin parses, finalizes and instantiates.

In the style of flaxformer's t5x/configs/t5/gin_configs_test.py: tiny models
run for real (init, apply, score_batch); the real sizes are traced
symbolically with jax.eval_shape, like flaxformer's longt5 config test.
"""

import glob
import os

import pytest

from tests.integration import common  # pylint: disable=g-import-not-at-top
common.require_t5x_stack()

import jax  # pylint: disable=g-import-not-at-top
import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
import numpy as np  # pylint: disable=g-import-not-at-top


SIZES = ('small', 'base', 'large', 'xl')
VARIANTS = ('baseline', 'altup', 'recycled', 'routed', 'sequence')
# d_model, layers per stack, vocabulary, per size (flaxformer's T5.1.1 gins).
SHAPES = {'small': (512, 8), 'base': (768, 12), 'large': (1024, 24),
          'xl': (2048, 24)}


def test_matrix_covers_every_gin_file():
  names = lambda d: sorted(os.path.basename(f)[:-4] for f in glob.glob(
      os.path.join(common.REPO, 'gin', d, '*.gin')))
  assert names('models') == sorted(SIZES + ('tiny', 'tiny_2d', 'common'))
  assert names('variants') == sorted(VARIANTS)
  assert names('options') == ['gather_embedding', 'scan']


@pytest.mark.parametrize('variant', VARIANTS)
@pytest.mark.parametrize('options', [(), ('scan',), ('gather_embedding',)])
def test_tiny_model_gin_config(variant, options):
  batch = common.make_batch()
  with common.gin_model('tiny', variant, options) as model:
    params = common.init_params(model, batch)
    out = common.logits(model, params, batch)
    scores = model.score_batch(params, batch)
  assert out.shape == (2, 5, 128)
  assert scores.shape == (2,) and np.all(np.isfinite(scores))


def test_tiny_2d_doubles_every_width_of_tiny():
  batch = common.make_batch()
  shapes = {}
  for size in ('tiny', 'tiny_2d'):
    with common.gin_model(size, 'baseline') as model:
      params = common.init_params(model, batch)
      assert common.logits(model, params, batch).shape == (2, 5, 128)
    layer = params['encoder']['layers_0']
    shapes[size] = (params['token_embedder']['embedding'].shape[1],
                    layer['attention']['query']['kernel'].shape,
                    layer['mlp']['wi_0']['kernel'].shape)
  assert shapes['tiny'] == (64, (64, 64), (64, 128))  # 4 heads x 16
  assert shapes['tiny_2d'] == (128, (128, 128), (128, 256))  # 8 heads x 16


@pytest.mark.parametrize('size', SIZES)
@pytest.mark.parametrize('variant', VARIANTS)
def test_model_gin_config_symbolically(size, variant):
  d, n = SHAPES[size]
  with common.gin_model(size, variant, tiny_vocab=False) as model:
    def init_and_apply():
      x = jnp.ones((2, 8), jnp.int32)
      params = model.module.init(jax.random.PRNGKey(0), x, x, x,
                                 enable_dropout=False)['params']
      return params, model.module.apply({'params': params}, x, x, x,
                                        enable_dropout=False)
    params, out = jax.eval_shape(init_and_apply)
  assert out.shape == (2, 8, 32128)
  k = 1 if variant == 'baseline' else 2
  assert params['token_embedder']['embedding'].shape == (
      32128, d * (k if variant == 'altup' else 1))
  layer = params['encoder']['layers_0']
  assert ('altup_predictor' in layer) == (variant not in ('baseline',
                                                          'sequence'))
  assert ('altup_router_kernel' in layer) == (variant == 'routed')
  assert ('altup_sequence_coefficients' in layer) == (variant == 'sequence')
  assert 'altup_sequence_coefficients' not in params['decoder']['layers_0']
  assert len([l for l in params['decoder'] if l.startswith('layers_')]) == n
  logits_in = params['decoder']['logits_dense']['kernel'].shape[0]
  assert logits_in == d * (k if variant == 'altup' else 1)


@pytest.mark.parametrize('output,width', [('concat', 128), ('sum', 64)])
def test_altup_decoder_output(output, width):
  batch = common.make_batch()
  with common.gin_model('tiny', 'altup', bindings=(
      f"ALTUP_DECODER_OUTPUT = '{output}'",)) as model:
    params = common.init_params(model, batch)
    assert common.logits(model, params, batch).shape == (2, 5, 128)
  assert params['decoder']['logits_dense']['kernel'].shape == (width, 128)
  assert params['decoder']['decoder_norm']['scale'].shape == (width,)
  assert params['encoder']['encoder_norm']['scale'].shape == (64,)


def test_bad_decoder_output_names_the_choices():
  with pytest.raises(ValueError, match="collapse 'max'.*'concat'"):
    with common.gin_model('tiny', 'altup', bindings=(
        "ALTUP_DECODER_OUTPUT = 'max'",)) as model:
      common.init_params(model, common.make_batch())
