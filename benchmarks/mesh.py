"""Compiles (never runs) T5X's partitioned train step on a slice-shaped mesh.

One `Case` is a model (benchmarks.spec's names) of one size on a
(data, model) mesh of `devices` CPU devices, with or without scanned layers.
`compile_case` parses the model's gins (benchmarks.spec.parse_gin, the same
gins launch.compose gives t5x.train), builds MODEL, lets T5X's
`utils.TrainStateInitializer` derive the global train state's shapes and
`PjitPartitioner.get_mesh_axes` its shardings (no parameter is allocated), and
lowers and compiles `trainer.train_with_lr` through `partitioner.partition`
exactly as `trainer.Trainer._partitioned_train_step` does (train state
donated, batch on PartitionSpec('data')). XLA's analyses of the executable
are per device: `memory_analysis()` (arguments, outputs, temporaries, peak)
and `cost_analysis()` (FLOPs of one device's partitioned program).

Devices are fake: XLA_FLAGS=--xla_force_host_platform_device_count=N, set
before jax is imported (benchmarks.mesh_cost does it). The memory figures are
XLA:CPU's buffer assignment, an estimate of XLA:TPU's.
"""

import dataclasses
import functools
import math
import os
import re
import time
from typing import Any, Dict, Optional, Sequence

from benchmarks import spec as spec_lib

# The paper's pretraining shapes (Baykal et al. 2023, section 5).
PAPER_BATCH, PAPER_INPUTS, PAPER_TARGETS = 256, 512, 114
# Model-parallel partitions per size a user would pick on a slice (the
# 'model' axis of T5X's ('data', 'model') mesh; the rest is data parallel).
# Up to large, T5X's run gins use num_partitions = 1; XL's ~3B parameters
# plus Adafactor state do not fit a 16 GiB core unsharded.
MODEL_PARALLEL = {'tiny': 1, 'small': 1, 'base': 1, 'large': 1, 'xl': 4,
                  't5_1_0_tiny': 1, 't5_1_0_small': 1, 't5_1_0_base': 1,
                  't5_1_0_large': 1, 't5_1_0_3B': 4}
_DEVICE_FLAG = '--xla_force_host_platform_device_count'


@dataclasses.dataclass(frozen=True)
class Case:
  """One compile: a model of one size on a (data, model) mesh."""
  size: str
  model: str  # benchmarks.spec model name: baseline, altup_k2, ...
  devices: int
  model_parallel: int = 1
  scan: bool = False
  batch: int = PAPER_BATCH
  inputs_length: int = PAPER_INPUTS
  targets_length: int = PAPER_TARGETS
  num_embeddings: int = spec_lib.REAL_VOCAB

  @property
  def data_parallel(self) -> int:
    return self.devices // self.model_parallel

  @property
  def mesh_label(self) -> str:
    return f'{self.data_parallel}x{self.model_parallel}'

  def validate(self) -> None:
    if self.devices % self.model_parallel:
      raise ValueError(f'{self.model_parallel} model partitions do not divide '
                       f'{self.devices} devices')
    if self.batch % self.data_parallel:
      raise ValueError(f'batch {self.batch} is not a multiple of the '
                       f'{self.data_parallel} data-parallel shards')


def bench_config(case: Case) -> spec_lib.BenchConfig:
  """The cost benchmark's settings for `case` (what spec.parse_gin reads)."""
  return spec_lib.BenchConfig(
      size=case.size, batch=case.batch, inputs_length=case.inputs_length,
      targets_length=case.targets_length, models=(case.model,),
      num_embeddings=case.num_embeddings, scan=case.scan)


def set_fake_devices(n: int) -> None:
  """Asks XLA:CPU for `n` devices; must run before jax is imported.

  Raises:
    RuntimeError: jax is already imported with fewer than `n` devices.
  """
  import sys  # pylint: disable=g-import-not-at-top
  if 'jax' in sys.modules:
    import jax  # pylint: disable=g-import-not-at-top
    if jax.device_count() < n:
      raise RuntimeError(
          f'jax was imported with {jax.device_count()} devices; {n} are needed '
          f'(start the program with XLA_FLAGS={_DEVICE_FLAG}={n}).')
    return
  flags = re.sub(_DEVICE_FLAG + r'=\d+', '', os.environ.get('XLA_FLAGS', ''))
  os.environ['XLA_FLAGS'] = f'{flags} {_DEVICE_FLAG}={n}'.strip()


def batch_shapes(case: Case, batch: Optional[int] = None):
  """A packed T5X batch (as span corruption's): ShapeDtypeStructs.

  encoder_* [batch, inputs_length], decoder_* [batch, targets_length]; int32
  tokens, segment ids and positions, float32 loss weights.
  """
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  b = batch or case.batch
  out = {}
  for prefix, length in (('encoder', case.inputs_length),
                         ('decoder', case.targets_length)):
    names = (['input_tokens', 'segment_ids', 'positions']
             + (['target_tokens'] if prefix == 'decoder' else []))
    for name in names:
      out[f'{prefix}_{name}'] = jax.ShapeDtypeStruct((b, length), jnp.int32)
  out['decoder_loss_weights'] = jax.ShapeDtypeStruct(
      (b, case.targets_length), jnp.float32)
  return out


@functools.lru_cache(maxsize=None)
def _partitioner_class():
  from jax.sharding import Mesh  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from t5x import partitioning  # pylint: disable=g-import-not-at-top

  class SlicePartitioner(partitioning.PjitPartitioner):
    """T5X's PjitPartitioner on a (data, model) mesh of the first N devices.

    On CPU, T5X's default_mesh puts every device on 'model'; a TPU slice with
    `num_partitions` = M has N / M data shards and M model partitions.
    """

    def __init__(self, devices: int, **kwargs):
      super().__init__(**kwargs)
      self._num_devices = devices

    @functools.cached_property
    def mesh(self) -> Mesh:
      import jax  # pylint: disable=g-import-not-at-top
      devs = np.array(jax.devices()[:self._num_devices])
      return Mesh(devs.reshape(-1, self._num_partitions), ('data', 'model'))

  return SlicePartitioner


def make_partitioner(case: Case):
  """T5X's PjitPartitioner (num_partitions = case.model_parallel) with the
  standard logical axis rules plus AltUp's, as gin/models/rules.gin binds."""
  from t5x import partitioning  # pylint: disable=g-import-not-at-top
  from altup_flaxformer import sharding  # pylint: disable=g-import-not-at-top
  rules = partitioning.standard_logical_axis_rules(
      additional_rules=sharding.additional_axis_rules())
  return _partitioner_class()(case.devices, num_partitions=case.model_parallel,
                              logical_axis_rules=rules)


def sharded_bytes(shapes, shardings) -> int:
  """Bytes one device holds of `shapes` (a pytree of ShapeDtypeStructs)
  sharded by `shardings` (the same pytree of jax Shardings; None: whole)."""
  import jax  # pylint: disable=g-import-not-at-top
  sizes = jax.tree_util.tree_map(
      lambda x, s: math.prod(s.shard_shape(x.shape) if s else x.shape)
      * x.dtype.itemsize, shapes, shardings)
  return int(sum(jax.tree_util.tree_leaves(sizes)))


def _train_step_fn(model, partitioner):
  """Trainer._partitioned_train_step's step: constant learning rate, the
  dropout rng folded with the step."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from t5x import trainer as trainer_lib  # pylint: disable=g-import-not-at-top

  def train_step(train_state, batch):
    return trainer_lib.train_with_lr(
        train_state, batch, learning_rate=jnp.float32(1e-2),
        dropout_rng=jax.random.fold_in(jax.random.PRNGKey(0), train_state.step),
        model=model, num_microbatches=None,
        data_partition_spec=partitioner.data_partition_spec)
  return train_step


def compile_case(case: Case, batch: Optional[int] = None) -> Dict[str, Any]:
  """Compiles `case`'s train step (global batch `batch`, default case.batch).

  Returns:
    Per-device numbers: 'peak_bytes', 'argument_bytes', 'output_bytes',
    'alias_bytes', 'temp_bytes' (memory_analysis), 'flops'
    (cost_analysis), 'param_bytes', 'optimizer_bytes' (the train state's
    shards), the global 'params' count, 'batch' and 'compile_s'.
  """
  import gin  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  from t5x import utils  # pylint: disable=g-import-not-at-top
  from benchmarks import measure  # pylint: disable=g-import-not-at-top
  case.validate()
  batch = batch or case.batch
  spec = spec_lib.parse_model(case.model)
  spec_lib.parse_gin(bench_config(case), spec)
  try:
    model = gin.query_parameter('%MODEL').scoped_configurable_fn()
    partitioner = make_partitioner(case)
    shapes = batch_shapes(case, batch)
    initializer = utils.TrainStateInitializer(
        optimizer_def=model.optimizer_def, init_fn=model.get_initial_variables,
        input_shapes={k: v.shape for k, v in shapes.items()},
        input_types={k: v.dtype for k, v in shapes.items()},
        partitioner=partitioner)
    state_shape = initializer.global_train_state_shape
    step = partitioner.partition(
        _train_step_fn(model, partitioner),
        in_axis_resources=(initializer.train_state_axes,
                           partitioner.data_partition_spec),
        out_axis_resources=(initializer.train_state_axes, None),
        donate_argnums=(0,))
    t0 = time.perf_counter()
    compiled = partitioner.compile(step, state_shape, shapes)
    compile_s = time.perf_counter() - t0
  finally:
    gin.clear_config()
  state_shardings = compiled.input_shardings[0][0]
  mem = compiled.memory_analysis()
  return {
      'batch': batch,
      'params': int(sum(x.size for x in
                        jax.tree_util.tree_leaves(state_shape.params))),
      'param_bytes': sharded_bytes(state_shape.params, state_shardings.params),
      'optimizer_bytes': sharded_bytes(state_shape.param_states,
                                       state_shardings.param_states),
      'peak_bytes': measure.peak_bytes(mem),
      'argument_bytes': int(mem.argument_size_in_bytes),
      'output_bytes': int(mem.output_size_in_bytes),
      'alias_bytes': int(mem.alias_size_in_bytes),
      'temp_bytes': int(mem.temp_size_in_bytes),
      'flops': measure.xla_flops(compiled.cost_analysis()),
      'compile_s': compile_s,
  }


def cases(sizes: Sequence[str], models: Sequence[str],
          devices: Sequence[int], scans: Sequence[bool],
          model_parallel: Optional[Dict[str, int]] = None,
          **shapes) -> list:
  """The grid, baseline first within each (size, devices, scan) group."""
  mp = dict(MODEL_PARALLEL, **(model_parallel or {}))
  order = sorted(models, key=lambda m: m != 'baseline')
  return [Case(size, m, n, min(mp.get(size, 1), n), scan, **shapes)
          for size in sizes for n in devices for scan in scans for m in order]
