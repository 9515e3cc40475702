"""AltUp on flaxformer's MoE T5 (SparseEncoder/SparseDecoder) by gin only.

gin/moe/models/tiny.gin (flaxformer's tokens-choose MoE gins, included; 2 experts)
composed with gin/variants/moe_{baseline,altup,recycled}.gin; T5X's MoE stack
(MoeEncoderDecoderModel; MoePjitPartitioner + MoeTrainer in the real t5x.train run).
"""

import os

from flax import traverse_util
import gin
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.integration import common

ALTUP_PARAMS = ('altup_predictor', 'altup_corrector')
# No token is dropped for capacity, so routing is per token and cached decoding
# (one token per group) routes exactly like the full forward pass.
NO_DROP = ['EVAL_EXPERT_CAPACITY_FACTOR=4.0', 'TRAIN_EXPERT_CAPACITY_FACTOR=4.0']


def flat(params):
  return {'/'.join(k): v for k, v in traverse_util.flatten_dict(params).items()}


@pytest.mark.parametrize('variant', ['moe_baseline', 'moe_recycled', 'moe_altup'])
def test_moe_gins_instantiate(variant):
  batch = common.make_batch()
  k = 1 if variant == 'moe_baseline' else 2
  with common.gin_model('tiny', variant, bindings=[f'ALTUP_K={k}']) as model:
    assert type(model).__name__ == 'MoeEncoderDecoderModel'
    params = common.init_params(model, batch)
    logits = np.asarray(common.logits(model, params, batch))
    assert logits.shape == (2, 5, 128) and np.isfinite(logits).all()
    scores = np.asarray(model.score_batch(params, batch))
    assert scores.shape == (2,) and np.isfinite(scores).all()
  names = flat(params)
  # 2 experts in the MIXED layout's sparse layers (1 and 3 of each stack).
  experts = [n for n in names if '/mlp/expert/' in n]
  assert experts and all(names[n].shape[0] == 2 for n in experts)
  altup = sorted(n for n in names if n.split('/')[-1] in ALTUP_PARAMS)
  if variant == 'moe_baseline':
    assert not altup
  else:
    assert len(altup) == 2 * 8  # p and g in every layer, dense and sparse
    for stack in ('encoder', 'decoder'):
      for layer in ('layers_1', 'layers_3'):  # the sparse (MoE) layers
        assert f'{stack}/{layer}/altup_predictor' in names
        assert f'{stack}/{layer}/mlp/router/router_weights/w/kernel' in names
  emb = names['token_embedder/embedding']
  assert emb.shape == (128, 128 if variant == 'moe_altup' else 64)


@pytest.mark.parametrize('variant', ['moe_recycled', 'moe_altup'])
def test_k1_equals_moe_baseline(variant):
  batch = common.make_batch()
  with common.gin_model('tiny', 'moe_baseline') as model:
    params = common.init_params(model, batch)
    want = common.outputs(model, params, batch)
  with common.gin_model('tiny', variant, bindings=['ALTUP_K=1']) as model:
    got_params = common.init_params(model, batch)
    assert jax.tree_util.tree_structure(got_params) == (
        jax.tree_util.tree_structure(params))  # the stock MoE tree, no p/g
    assert all(np.shape(v) == np.shape(flat(params)[n])
               for n, v in flat(got_params).items())
    got = common.outputs(model, params, batch)
  for w, g in zip(want, got):
    np.testing.assert_array_equal(g, w)


def test_recycled_init_equals_moe_baseline():
  batch = common.make_batch()
  with common.gin_model('tiny', 'moe_baseline') as model:
    params = common.init_params(model, batch)
    want = np.asarray(common.logits(model, params, batch))
  with common.gin_model('tiny', 'moe_recycled', bindings=['ALTUP_K=2']) as model:
    init = common.init_params(model, batch)
    got = np.asarray(common.logits(model, common.map_into(init, params), batch))
  np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


@pytest.mark.parametrize('variant,k', [('moe_altup', 2), ('moe_recycled', 2),
                                       ('moe_altup', 4)])
def test_cached_decode_equals_full_forward(variant, k):
  batch = common.make_batch()
  with common.gin_model('tiny', variant,
                        bindings=[f'ALTUP_K={k}'] + NO_DROP) as model:
    params = common.perturb_altup(common.init_params(model, batch))
    full = np.asarray(common.logits(model, params, batch))
    cached = np.asarray(common.cached_decode_logits(model, params, batch))
  np.testing.assert_allclose(cached, full, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize('variant', ['moe_altup', 'moe_recycled'])
def test_moe_t5x_train(tmp_path, variant):
  """Real `python -m t5x.train` with T5X's MoE pretrain run gin, 2 CPU devices."""
  model_dir = str(tmp_path / 'model')
  common.run_t5x(common.tiny_experiment(
      variant, 'pretrain', model_dir, train_steps=3, batch_size=8,
      num_partitions=1, gin_overrides=(('train.eval_period', '1000'),
                                       ('train.eval_steps', '1'))))
  assert os.path.isdir(os.path.join(model_dir, 'checkpoint_3'))
  info = open(os.path.join(model_dir, 'model-info.txt')).read()
  assert 'altup_predictor' in info and 'expert' in info
  config = open(os.path.join(model_dir, 'config.gin')).read()
  assert 'MoePjitPartitioner' in config and 'MoeTrainer' in config


@pytest.mark.parametrize('size,d,experts', [('small', 512, 32), ('base', 768, 64)])
@pytest.mark.parametrize('variant', ['moe_baseline', 'moe_recycled', 'moe_altup'])
def test_moe_size_gins_symbolically(size, d, experts, variant):
  """The full-size MoE gins (flaxformer's, included) compose; shapes only."""
  x = jnp.ones((2, 8), jnp.int32)
  with common.gin_model(size, variant, bindings=['NUM_MODEL_PARTITIONS=1'],
                        tiny_vocab=False) as model:
    params = jax.eval_shape(lambda: model.module.init(
        jax.random.PRNGKey(0), x, x, x, enable_dropout=False)['params'])
    factor_rules = gin.query_parameter(
        'adafactor.Adafactor.logical_factor_rules').scoped_configurable_fn()
  names = flat(params)
  k = 1 if variant == 'moe_baseline' else 2
  assert names['token_embedder/embedding'].shape == (
      32128, d * (k if variant == 'moe_altup' else 1))
  assert any(v.shape[0] == experts for n, v in names.items()
             if '/mlp/expert/' in n)
  assert (sum(n.endswith('altup_predictor') for n in names) > 0) == (k > 1)
  # T5X's MoE factor rules ('expert', ...) extended with the AltUp axes.
  assert 'expert' in factor_rules and 'altup_k_out' in factor_rules
