"""Every size x variant (x scan) gin parses, finalizes and instantiates.

In the style of flaxformer's t5x/configs/t5/gin_configs_test.py: tiny models
run for real (init, apply, score_batch); the real sizes are traced
symbolically with jax.eval_shape, like flaxformer's longt5 config test. Every
gin opens with a header that names the AltUp macros it binds.
"""

import glob
import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from launch import compose
from tests.integration import common

SIZES = ('small', 'base', 'large', 'xl')
VARIANTS = compose.DENSE_VARIANTS
# d_model, layers per stack, vocabulary, per size (flaxformer's T5.1.1 gins).
SHAPES = {'small': (512, 8), 'base': (768, 12), 'large': (1024, 24),
          'xl': (2048, 24)}


def test_matrix_covers_every_gin_file():
  names = lambda d: sorted(os.path.basename(f)[:-4] for f in glob.glob(
      os.path.join(common.REPO, 'gin', d, '*.gin')))
  # Beside the sizes: the prelude, the rules and tiny's dimensions they include.
  assert names('models') == sorted(
      SIZES + ('tiny', 'tiny_2d', 'common', 'rules', 'tiny_dims'))
  assert names('moe/models') == sorted(compose.MOE_SIZES + ('rules',))
  # One file per launcher variant, dense and MoE.
  assert names('variants') == sorted(compose.VARIANTS)
  assert names('options') == ['gather_embedding', 'scan']


def _repo_gins():
  return sorted(glob.glob(os.path.join(common.REPO, 'gin', '**', '*.gin'),
                          recursive=True)
                + glob.glob(os.path.join(common.REPO, 'tasks', 'gin', '*.gin')))


def _header_and_macros(path, seen=()):
  """(the opening comment, ALTUP_* macros bound here or in repo includes)."""
  text = open(path).read()
  header = re.match(r'(?:#.*\n)+', text)
  macros = set(re.findall(r'^(ALTUP_[A-Z_]+)\s*=', text, re.M))
  for include in re.findall(r"^include '(gin/[^']+)'", text, re.M):
    if include not in seen:
      macros |= _header_and_macros(os.path.join(common.REPO, include),
                                   seen + (include,))[1]
  return header.group(0) if header else '', macros


@pytest.mark.parametrize('path', _repo_gins(),
                         ids=lambda p: os.path.relpath(p, common.REPO))
def test_gin_header_names_its_macros(path):
  """Each gin opens with a header (what it provides, what to override) that
  names every AltUp macro it binds, itself or through its includes."""
  header, macros = _header_and_macros(path)
  assert re.search(r'[Pp]rovides', header), 'header says not what it provides'
  assert 'overrid' in header, 'header says not what to override'
  missing = [m for m in sorted(macros) if m not in header]
  assert not missing, f'header does not name {missing}'


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
