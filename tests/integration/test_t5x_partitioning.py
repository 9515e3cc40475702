"""AltUp under T5X's real PjitPartitioner, Adafactor and Trainer on 2+ CPU devices.

tests/conftest.py sets XLA_FLAGS=--xla_force_host_platform_device_count=2
(override with ALTUP_TEST_DEVICES). T5X's CPU mesh puts every device on the
'model' axis (model parallel); `DataParallelPartitioner` builds the
('data', 'model') = (N, 1) mesh a data-parallel pod slice would have.
"""

import functools

import jax
from jax.sharding import Mesh, PartitionSpec
import numpy as np
import pytest

from altup_flaxformer import sharding
from tests.integration import common  # before t5x: skips this module without it
from t5x import partitioning  # pylint: disable=g-bad-import-order
from t5x import trainer as trainer_lib  # pylint: disable=g-bad-import-order
from t5x import utils  # pylint: disable=g-bad-import-order

BATCH, LENGTH = 8, 16


class DataParallelPartitioner(partitioning.PjitPartitioner):
  """All devices on the 'data' axis."""

  @functools.cached_property
  def mesh(self) -> Mesh:
    return Mesh(np.array(jax.devices()).reshape(-1, 1), ('data', 'model'))


def _batches(seed=0):
  rng = np.random.RandomState(seed)
  while True:
    targets = rng.randint(3, 128, (BATCH, LENGTH)).astype(np.int32)
    yield dict(
        encoder_input_tokens=rng.randint(3, 128, (BATCH, LENGTH)).astype(
            np.int32),
        decoder_input_tokens=np.concatenate(
            [np.zeros((BATCH, 1), np.int32), targets[:, :-1]], 1),
        decoder_target_tokens=targets,
        decoder_loss_weights=np.ones((BATCH, LENGTH), np.float32))


def _paths(tree, leaf_name):
  flat = jax.tree_util.tree_flatten_with_path(
      tree, is_leaf=lambda x: isinstance(x, PartitionSpec))[0]
  return {'/'.join(str(getattr(k, 'key', k)) for k in path): v
          for path, v in flat if getattr(path[-1], 'key', None) == leaf_name}


def _lm_batches(seed=0):
  """Causal LM batches: T5X's DecoderOnlyModel reads the decoder features."""
  for batch in _batches(seed):
    yield {k: v for k, v in batch.items() if k.startswith('decoder_')}


def train_with_t5x(model, partitioner, steps=3, batches=_batches):
  """T5X's TrainStateInitializer + Trainer, as t5x.train wires them."""
  shapes = {k: (BATCH, LENGTH) for k in next(batches())}
  initializer = utils.TrainStateInitializer(
      optimizer_def=model.optimizer_def,
      init_fn=model.get_initial_variables, input_shapes=shapes,
      partitioner=partitioner)
  state = initializer.from_scratch(jax.random.PRNGKey(0))
  before = jax.device_get(state.params)
  trainer = trainer_lib.Trainer(
      model, train_state=state, partitioner=partitioner, eval_names=[],
      summary_dir=None, train_state_axes=initializer.train_state_axes,
      rng=jax.random.PRNGKey(1), learning_rate_fn=lambda step: 0.05,
      num_microbatches=None)
  metrics = trainer.train(batches(), num_steps=steps)
  metrics = metrics.result() if hasattr(metrics, 'result') else metrics
  metrics = {k: getattr(v, 'value', v) for k, v in metrics.items()}
  return (initializer.train_state_axes, before,
          jax.device_get(trainer.train_state.params), metrics)


RULES = dict(logical_axis_rules=partitioning.standard_logical_axis_rules(
    additional_rules=sharding.additional_axis_rules()))


@pytest.mark.parametrize('variant', list(common.NEW_PARAMS))
@pytest.mark.parametrize('options', [(), ('scan',)])
@pytest.mark.parametrize('mesh', ['model_parallel', 'data_parallel'])
def test_train_steps_with_t5x_partitioner(variant, options, mesh):
  n = jax.device_count()
  assert n >= 2, 'run under tests/conftest.py (2+ virtual CPU devices)'
  if mesh == 'model_parallel':
    partitioner = partitioning.PjitPartitioner(num_partitions=n, **RULES)
    assert partitioner.mesh.shape['model'] == n
  else:
    partitioner = DataParallelPartitioner(num_partitions=1, **RULES)
    assert partitioner.mesh.shape['data'] == n
  with common.gin_model('tiny', variant, options) as model:
    axes, before, after, metrics = train_with_t5x(model, partitioner)

  names = common.NEW_PARAMS[variant]
  num_layers = 4 if variant == 'sequence' else 8  # encoder only / both stacks
  for name in names:
    specs = _paths(axes.params, name)
    assert len(specs) == ((num_layers // 4) if options else num_layers), name
    for spec in specs.values():
      assert all(a is None for a in spec)  # AltUp parameters replicated
  mlp = _paths(axes.params, 'kernel')
  wi = [s for p, s in mlp.items() if 'wi_0' in p][0]
  assert 'model' in tuple(wi)  # d_ff sharded over 'model' (size N or 1)
  assert partitioner.data_partition_spec == PartitionSpec('data')

  assert np.isfinite(float(metrics['loss']))
  for name in names:  # Adafactor updates every new parameter
    for path, p in _paths(after, name).items():
      assert not np.allclose(p, _paths(before, name)[path]), path


@pytest.mark.parametrize('variant', ['altup', 'recycled', 'routed'])
@pytest.mark.parametrize('options', [(), ('scan',)])
def test_decoder_only_train_steps_with_t5x_partitioner(variant, options):
  """The decoder-only family (gin/models/lm_tiny.gin) under T5X's model-
  parallel mesh: AltUp parameters replicated, the stock ones sharded as
  T5X's rules say, Adafactor updates every new parameter."""
  n = jax.device_count()
  assert n >= 2, 'run under tests/conftest.py (2+ virtual CPU devices)'
  partitioner = partitioning.PjitPartitioner(num_partitions=n, **RULES)
  with common.gin_model('lm_tiny', variant, options) as model:
    axes, before, after, metrics = train_with_t5x(model, partitioner,
                                                  batches=_lm_batches)
  names = common.NEW_PARAMS[variant]
  for name in names:
    specs = _paths(axes.params, name)
    assert len(specs) == (1 if options else 4), name  # one decoder stack
    assert all(path.startswith('decoder/') for path in specs)
    for spec in specs.values():
      assert all(a is None for a in spec)
  wi = [s for p, s in _paths(axes.params, 'kernel').items() if 'wi_0' in p][0]
  assert 'model' in tuple(wi)
  embedding = _paths(axes.params, 'embedding')
  assert list(embedding) == ['decoder/token_embedder/embedding']
  assert np.isfinite(float(metrics['loss']))
  for name in names:
    for path, p in _paths(after, name).items():
      assert not np.allclose(p, _paths(before, name)[path]), path
