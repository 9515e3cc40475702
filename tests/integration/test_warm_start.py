"""Warm start AltUp from a dense T5.1.1 checkpoint written by a real t5x.train.

A tiny baseline trains a few steps (`python -m t5x.train`); then Recycled-AltUp
restores it directly, and full AltUp restores it through
`python -m altup_flaxformer.warm_start`, both with gin/runs/warm_start.gin. T5X
saves the warm-started state before its first step (checkpoint_0): its logits
must equal the dense model's, and training must go on for a few steps.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from tests.integration import common  # pylint: disable=g-import-not-at-top
common.require_t5x_stack()

DENSE_STEPS = 4
WARM_STEPS = 3
K = 2


def _train(model_dir, variant, steps, extra_gins=(), bindings=()):
  """A tiny pretrain run (compose.t5x_command + `extra_gins`); its log."""
  return common.run_t5x(common.tiny_experiment(
      variant, 'pretrain', model_dir, altup_k=K, train_steps=steps,
      batch_size=8, num_partitions=2,
      gin_overrides=(('train.eval_period', '1000'), ('train.eval_steps', '1'))
      + tuple(bindings)), extra_gin_files=extra_gins)


def _params(checkpoint):
  from altup_flaxformer import warm_start  # pylint: disable=g-import-not-at-top
  return warm_start.load_checkpoint(checkpoint)['target']


def _logits(variant, params, bindings=()):
  batch = common.make_batch()
  with common.gin_model('tiny', variant, bindings=[f'ALTUP_K={K}'] + list(
      bindings) if variant != 'baseline' else ()) as model:
    return np.asarray(common.logits(model, params, batch))


@pytest.fixture(scope='module')
def dense(tmp_path_factory):
  """A dense tiny T5.1.1 checkpoint and its logits on a fixed batch."""
  model_dir = str(tmp_path_factory.mktemp('dense'))
  _train(model_dir, 'baseline', DENSE_STEPS)
  checkpoint = os.path.join(model_dir, f'checkpoint_{DENSE_STEPS}')
  assert os.path.isdir(checkpoint)
  params = _params(checkpoint)
  return checkpoint, params, _logits('baseline', params)


def _warm_start(tmp_path, variant, init_checkpoint, bindings=()):
  model_dir = str(tmp_path / f'warm_{variant}')
  log = _train(model_dir, variant, WARM_STEPS, ['gin/runs/warm_start.gin'],
               (('INITIAL_CHECKPOINT_PATH', repr(init_checkpoint)),)
               + tuple(tuple(b.split('=', 1)) for b in bindings))
  # T5X saves the restored state before the first step; the step restarts at 0.
  start = os.path.join(model_dir, 'checkpoint_0')
  end = os.path.join(model_dir, f'checkpoint_{WARM_STEPS}')
  assert os.path.isdir(start), (os.listdir(model_dir), log[-3000:])
  assert os.path.isdir(end), os.listdir(model_dir)
  return _params(start), _params(end)


def _check_altup_init_and_trained(start, end):
  from flax import traverse_util  # pylint: disable=g-import-not-at-top
  flat0 = traverse_util.flatten_dict(start)
  flat1 = traverse_util.flatten_dict(end)
  preds = [v for k, v in flat0.items() if k[-1] == 'altup_predictor']
  cors = [v for k, v in flat0.items() if k[-1] == 'altup_corrector']
  assert len(preds) == len(cors) == 8  # 4 + 4 layers, fresh p = I, g = 1
  for p in preds:
    np.testing.assert_array_equal(p, np.eye(K))
  for g in cors:
    np.testing.assert_array_equal(g, np.ones(K))
  moved = [k for k in flat0 if not np.array_equal(flat0[k], flat1[k])]
  assert len(moved) > len(flat0) // 2, 'continued training did not update params'


def test_recycled_warm_start_from_dense(tmp_path, dense):
  checkpoint, dense_params, dense_logits = dense
  start, end = _warm_start(tmp_path, 'recycled', checkpoint)
  from flax import traverse_util  # pylint: disable=g-import-not-at-top
  flat_dense = traverse_util.flatten_dict(dense_params)
  flat0 = traverse_util.flatten_dict(start)
  for k, v in flat_dense.items():  # every dense param restored unchanged
    np.testing.assert_array_equal(flat0[k], v, err_msg='/'.join(k))
  assert set(flat0) - set(flat_dense) == {
      k for k in flat0 if k[-1] in ('altup_predictor', 'altup_corrector')}
  np.testing.assert_allclose(_logits('recycled', start), dense_logits,
                             atol=1e-5, rtol=0)
  _check_altup_init_and_trained(start, end)


@pytest.mark.parametrize('variant', ['routed', 'sequence'])
def test_routed_and_sequence_warm_start_from_dense(tmp_path, dense, variant):
  """Both trees are the dense tree plus new leaves: no conversion needed."""
  checkpoint, dense_params, dense_logits = dense
  start, end = _warm_start(tmp_path, variant, checkpoint)
  from flax import traverse_util  # pylint: disable=g-import-not-at-top
  flat_dense = traverse_util.flatten_dict(dense_params)
  flat0 = traverse_util.flatten_dict(start)
  flat1 = traverse_util.flatten_dict(end)
  for k, v in flat_dense.items():
    np.testing.assert_array_equal(flat0[k], v, err_msg='/'.join(k))
  new = set(flat0) - set(flat_dense)
  assert new and all(k[-1].startswith('altup_') for k in new)
  if variant == 'routed':  # zero routing kernels: the dense model at step 0
    np.testing.assert_allclose(_logits('routed', start), dense_logits,
                               atol=1e-5, rtol=0)
  else:  # fresh (a1, a2, b) = (1, 0, 1) in the 4 encoder layers
    coefficients = [v for k, v in flat0.items()
                    if k[-1] == 'altup_sequence_coefficients']
    assert len(coefficients) == 4
    for c in coefficients:
      np.testing.assert_array_equal(c, [1., 0., 1.])
  moved = [k for k in flat0 if not np.array_equal(flat0[k], flat1[k])]
  assert len(moved) > len(flat0) // 2, 'continued training did not update params'


def _convert(tmp_path, checkpoint, decoder_output):
  out = str(tmp_path / f'converted_{decoder_output}')
  proc = subprocess.run(
      [sys.executable, '-m', 'altup_flaxformer.warm_start',
       f'--dense_checkpoint={checkpoint}', f'--output_dir={out}',
       f'--altup_k={K}', f'--decoder_output={decoder_output}'],
      env=dict(os.environ, PYTHONPATH=common.REPO), capture_output=True,
      text=True, timeout=300, check=False)
  assert proc.returncode == 0, proc.stderr[-4000:]
  path = proc.stdout.strip().splitlines()[-1]
  assert path == os.path.join(out, f'checkpoint_{DENSE_STEPS}')
  assert os.path.isdir(path)
  return path


@pytest.mark.parametrize('decoder_output', ['concat', 'sum'])
def test_full_altup_warm_start_via_converter(tmp_path, dense, decoder_output):
  checkpoint, dense_params, dense_logits = dense
  converted = _convert(tmp_path, checkpoint, decoder_output)
  widened = _params(converted)
  emb = widened['token_embedder']['embedding']
  assert emb.shape == (128, K * 64)
  # The converted checkpoint alone already reproduces the dense logits.
  bindings = [f"ALTUP_DECODER_OUTPUT='{decoder_output}'"]
  batch = common.make_batch()
  with common.gin_model('tiny', 'altup', bindings=[f'ALTUP_K={K}'] + bindings) as model:
    init = common.init_params(model, batch)
    from flax import traverse_util  # pylint: disable=g-import-not-at-top
    flat = traverse_util.flatten_dict(init)
    flat.update(traverse_util.flatten_dict(widened))
    assert set(flat) == set(traverse_util.flatten_dict(init))  # shapes/paths fit
    np.testing.assert_allclose(
        np.asarray(common.logits(model, traverse_util.unflatten_dict(flat), batch)),
        dense_logits, atol=1e-5, rtol=0)
  # ... and so does the state T5X restores from it, before training goes on.
  start, end = _warm_start(tmp_path, 'altup', converted, bindings)
  np.testing.assert_allclose(_logits('altup', start, bindings), dense_logits,
                             atol=1e-5, rtol=0)
  _check_altup_init_and_trained(start, end)


def test_widen_params_shapes_and_errors():
  from altup_flaxformer import warm_start  # pylint: disable=g-import-not-at-top
  rng = np.random.RandomState(0)
  params = {'token_embedder': {'embedding': rng.randn(10, 4)},
            'decoder': {'decoder_norm': {'scale': rng.randn(4)},
                        'logits_dense': {'kernel': rng.randn(4, 10)}}}
  flat = warm_start.widen_params(params, 3)
  np.testing.assert_array_equal(flat[warm_start.EMBEDDING][:, 8:],
                                params['token_embedder']['embedding'])
  assert flat[warm_start.DECODER_NORM].shape == (12,)
  # K stacked copies of kernel / K sum back to the dense kernel.
  np.testing.assert_allclose(
      flat[warm_start.LOGITS_KERNEL].reshape(3, 4, 10).sum(0),
      params['decoder']['logits_dense']['kernel'], rtol=1e-12)
  flat_sum = warm_start.widen_params(params, 3, 'sum')
  assert flat_sum[warm_start.LOGITS_KERNEL].shape == (4, 10)
  with pytest.raises(ValueError, match='altup_k'):
    warm_start.widen_params(params, 0)
  with pytest.raises(ValueError, match='decoder_output'):
    warm_start.widen_params(params, 2, 'mean')
  with pytest.raises(ValueError, match='tied logits'):
    warm_start.widen_params({'token_embedder': params['token_embedder']}, 2)
