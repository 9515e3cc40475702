"""Every size x variant (x scan) gin parses, finalizes and instantiates.

In the style of flaxformer's t5x/configs/t5/gin_configs_test.py: tiny models
run for real (init, apply, score_batch); the real sizes are traced
symbolically with jax.eval_shape, like flaxformer's longt5 config test. Every
gin opens with a header that names the AltUp macros it binds.
"""

import glob
import os
import re

import numpy as np
import pytest

from launch import compose
from launch import families
from tests.integration import common

# The real sizes: T5.1.1 (untied logits), then T5.1.0 (logits tied to the
# token embedding); their layers per stack are compose.SIZE_LAYERS'.
SIZES = ('small', 'base', 'large', 'xl', 't5_1_0_small', 't5_1_0_base',
         't5_1_0_large', 't5_1_0_3B')
# The CPU sizes of each family (tiny dims on T5.1.1 / T5.1.0 small).
TINY_SIZES = ('tiny', 't5_1_0_tiny')
VARIANTS = compose.DENSE_VARIANTS
# d_model per size (flaxformer's gins).
EMBED_DIMS = {'small': 512, 'base': 768, 'large': 1024, 'xl': 2048,
              't5_1_0_small': 512, 't5_1_0_base': 768, 't5_1_0_large': 1024,
              't5_1_0_3B': 1024, 'lm_small': 512, 'lm_base': 768,
              'lm_large': 1024, 'lm_xl': 2048}
# Every real size with every variant of its family (decoder-only: the decoder
# of the T5.1.1 size of the same name, without Sequence-AltUp).
SYMBOLIC = [(size, v) for size in SIZES for v in VARIANTS] + [
    (size, v) for size in ('lm_small', 'lm_base', 'lm_large', 'lm_xl')
    for v in families.DECODER_ONLY_VARIANTS]
D = 64  # EMBED_DIM of the tiny sizes


def test_matrix_covers_every_gin_file():
  names = lambda d: sorted(os.path.basename(f)[:-4] for f in glob.glob(
      os.path.join(common.REPO, 'gin', d, '*.gin')))
  # Beside the sizes: the prelude, the rules and tiny's dimensions they include,
  # and the decoder-only architecture of the lm_* sizes (test_decoder_only.py).
  lm_sizes = families.lm_sizes()
  assert names('models') == sorted(
      SIZES + TINY_SIZES + lm_sizes
      + ('tiny_2d', 'common', 'rules', 'tiny_dims', 'decoder_only'))
  assert sorted(SIZES + TINY_SIZES + lm_sizes + ('tiny_2d',)) == sorted(
      compose.SIZE_LAYERS)
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


@pytest.mark.parametrize('size', TINY_SIZES)
@pytest.mark.parametrize('variant', VARIANTS)
@pytest.mark.parametrize('options', [(), ('scan',), ('gather_embedding',)])
def test_tiny_model_gin_config(size, variant, options):
  batch = common.make_batch()
  with common.gin_model(size, variant, options) as model:
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


@pytest.mark.parametrize('size,variant', SYMBOLIC)
def test_model_gin_config_symbolically(size, variant):
  d, n = EMBED_DIMS[size], compose.SIZE_LAYERS[size]
  with common.gin_model(size, variant, tiny_vocab=False) as model:
    params, out = common.abstract_params_and_logits(model, size)
  assert out.shape == (2, 8, 32128)
  k = 1 if variant == 'baseline' else 2
  width = d * (k if variant == 'altup' else 1)  # the stack's carried width
  decoder = params['decoder']
  if families.is_decoder_only(size):  # one stack, its own token embedder
    assert 'encoder' not in params
    embedder, layer = decoder['token_embedder'], decoder['layers_0']
  else:
    embedder, layer = params['token_embedder'], params['encoder']['layers_0']
    assert ('altup_sequence_coefficients' in layer) == (variant == 'sequence')
    assert 'altup_sequence_coefficients' not in decoder['layers_0']
  assert embedder['embedding'].shape == (32128, width)
  assert ('altup_predictor' in layer) == (variant not in ('baseline',
                                                          'sequence'))
  assert ('altup_router_kernel' in layer) == (variant == 'routed')
  assert len([l for l in decoder if l.startswith('layers_')]) == n
  if compose.tied_logits(size):  # T5.1.0: logits read the embedding table
    assert 'logits_dense' not in decoder
    assert decoder['layers_0']['mlp']['wi']['kernel'].shape[0] == d
  else:
    assert decoder['logits_dense']['kernel'].shape == (width, 32128)
  assert decoder['decoder_norm']['scale'].shape == (width,)


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


@pytest.mark.parametrize('variant,k', [
    ('baseline', 1), ('altup', 2), ('altup', 4), ('recycled', 2),
    ('routed', 2), ('sequence', 4)])
def test_tied_logits_reading(variant, k):
  """T5.1.0's tied logits: flaxformer's decoder calls the token embedder's
  `attend` on the final-norm output h and divides by sqrt(h's width). Full
  AltUp: h is K*d wide ('concat') and the table [vocab, K*d], so the logits
  are the sum over blocks of h^k (E^k)^T, divided by sqrt(K*d). The other
  variants: h is d wide (Recycled: the K blocks summed) against the stock
  d-wide table, divided by sqrt(d)."""
  batch = common.make_batch()
  bindings = ['from __gin__ import dynamic_registration',
              'from flaxformer.architectures.t5 import t5_architecture',
              't5_architecture.Decoder.sow_intermediates = True',
              f'ALTUP_K = {k}']
  with common.gin_model('t5_1_0_tiny', variant, bindings=bindings) as model:
    params = common.perturb_altup(common.init_params(model, batch))
    out, state = model.module.apply(
        {'params': params}, batch['encoder_input_tokens'],
        batch['decoder_input_tokens'], batch['decoder_target_tokens'],
        enable_dropout=False, mutable=['intermediates'])
  h = np.asarray(state['intermediates']['decoder']['pre_logits_layer'][0])
  table = np.asarray(params['token_embedder']['embedding'])
  width = D * (k if variant == 'altup' else 1)
  assert h.shape[-1] == table.shape[1] == width
  assert 'logits_dense' not in params['decoder']
  per_block = [h[..., b * D:(b + 1) * D] @ table[:, b * D:(b + 1) * D].T
               for b in range(width // D)]
  np.testing.assert_allclose(out, sum(per_block) / np.sqrt(width),
                             rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('output', ['sum', 'mean'])
def test_tied_logits_refuse_a_d_wide_altup_output(output):
  """A d-wide decoder output cannot read full AltUp's K*d table."""
  with pytest.raises(ValueError, match="needs ALTUP_DECODER_OUTPUT='concat'"):
    with common.gin_model('t5_1_0_tiny', 'altup', bindings=(
        f"ALTUP_DECODER_OUTPUT = '{output}'",)) as model:
      common.init_params(model, common.make_batch())
