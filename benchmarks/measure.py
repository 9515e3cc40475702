"""Builds, compiles and times each model of the cost benchmark.

What is measured, and how, is benchmarks.altup_cost's docstring. A model is
built from its active gin config (benchmarks.spec.parse_gin) and its train
step, encoder (a decoder-only model's: the prefill of its inputs) and decode
step compiled (benchmarks.inference, one builder per family); XLA's cost and
memory analyses of the executables give the FLOP counts and peak memory.
Timing calls only compiled executables, so the models can be timed
round-robin.
"""

import json
import os
import platform
import time
from typing import Any, Dict, List, Sequence

from benchmarks import inference
from benchmarks import results
from benchmarks import spec as spec_lib
from launch import families


def machine_info() -> Dict[str, str]:
  """CPU model, jax devices and versions, for the results' header."""
  import jax  # pylint: disable=g-import-not-at-top
  cpu = platform.processor() or platform.machine()
  try:
    with open('/proc/cpuinfo') as f:
      for line in f:
        if line.startswith('model name'):
          cpu = line.split(':', 1)[1].strip()
          break
  except OSError:
    pass
  devices = jax.devices()
  return {
      'cpu': f'{cpu} ({os.cpu_count()} logical CPUs)',
      'jax_devices': ', '.join(sorted({f'{d.platform}:{d.device_kind}' for d in devices}))
                     + f' x{len(devices)} (benchmark uses {devices[0]})',
      'jax': jax.__version__,
      'python': platform.python_version(),
      'platform': platform.platform(),
  }


def make_batch(cfg: spec_lib.BenchConfig, seed: int):
  """Random tokens: encoder [batch, inputs_length], decoder [batch, targets_length]."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  rs = np.random.RandomState(seed)
  b, li, lt = cfg.batch, cfg.inputs_length, cfg.targets_length
  enc = rs.randint(1, cfg.num_embeddings, (b, li)).astype(np.int32)
  tgt = rs.randint(1, cfg.num_embeddings, (b, lt)).astype(np.int32)
  dec_in = np.concatenate([np.zeros((b, 1), np.int32), tgt[:, :-1]], axis=1)
  return {'encoder_input_tokens': enc, 'decoder_input_tokens': dec_in,
          'decoder_target_tokens': tgt,
          'decoder_loss_weights': np.ones_like(tgt, dtype=np.float32)}


def make_lm_batch(cfg: spec_lib.BenchConfig, seed: int):
  """Random tokens as a prefix LM batch (seqio's PrefixLMFeatureConverter):
  one sequence [batch, inputs_length + targets_length] of inputs then
  targets; the loss weights cover the targets, decoder_causal_attention the
  inputs and the first target position (whose input is the last input)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  rs = np.random.RandomState(seed)
  b, li = cfg.batch, cfg.inputs_length
  length = li + cfg.targets_length
  tgt = rs.randint(1, cfg.num_embeddings, (b, length)).astype(np.int32)
  dec_in = np.concatenate([np.zeros((b, 1), np.int32), tgt[:, :-1]], axis=1)
  positions = np.arange(length)[None, :].repeat(b, 0)
  return {'decoder_input_tokens': dec_in, 'decoder_target_tokens': tgt,
          'decoder_loss_weights': (positions >= li).astype(np.float32),
          'decoder_causal_attention': (positions <= li).astype(np.int32)}


def family_fns(cfg: spec_lib.BenchConfig):
  """(batch maker, inference builder) of cfg.size's family: make_batch and
  inference.encoder_decoder, or make_lm_batch and inference.decoder_only.
  The builder maps (model, params, batch) -> inference.Inference."""
  if families.is_decoder_only(cfg.size):
    return make_lm_batch, lambda m, p, b: inference.decoder_only(
        m, p, b, cfg.inputs_length)
  return make_batch, lambda m, p, b: inference.encoder_decoder(
      m, p, b, cfg.targets_length)


def xla_flops(cost) -> float:
  """'flops' of XLA's cost_analysis() (a dict, or a list of one); NaN if none."""
  if isinstance(cost, (list, tuple)):
    cost = cost[0] if cost else {}
  return float((cost or {}).get('flops', float('nan')))


def peak_bytes(mem) -> float:
  """Peak bytes of XLA's memory_analysis(): its peak, else arguments +
  outputs - aliased + temporaries; NaN if none."""
  if mem is None:
    return float('nan')
  peak = getattr(mem, 'peak_memory_in_bytes', 0) or 0
  if peak:
    return float(peak)
  return float(mem.argument_size_in_bytes + mem.output_size_in_bytes -
               mem.alias_size_in_bytes + mem.temp_size_in_bytes)


def init_train_state(model, batch, seed: int):
  """T5X's initial variables of `model` in a FlaxOptimTrainState (the model
  gin's optimizer_def); returns (state, number of parameters)."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from t5x import train_state as train_state_lib  # pylint: disable=g-import-not-at-top
  # A DecoderOnlyModel's batch has (and its init reads) the decoder's only.
  shapes = {k: batch[k].shape for k in ('encoder_input_tokens',
                                        'decoder_input_tokens') if k in batch}
  types = {k: jnp.int32 for k in shapes}
  variables = jax.jit(lambda r: model.get_initial_variables(r, shapes, types))(
      jax.random.PRNGKey(seed))
  num_params = int(sum(x.size for x in jax.tree_util.tree_leaves(variables['params'])))
  return (train_state_lib.FlaxOptimTrainState.create(model.optimizer_def, variables),
          num_params)


def compile_train_step(model, state, batch, learning_rate, dropout_rng):
  """T5X's loss_fn + grads + optimizer update, the state donated; returns
  the executable of (state, batch, lr, rng) -> (new state, loss)."""
  import jax  # pylint: disable=g-import-not-at-top
  from t5x import trainer as trainer_lib  # pylint: disable=g-import-not-at-top

  def train_step(state, batch, learning_rate, dropout_rng):
    new_state, metrics = trainer_lib.train_with_lr(
        state, batch, learning_rate, dropout_rng, model, num_microbatches=None)
    return new_state, metrics['loss'].compute()

  return jax.jit(train_step, donate_argnums=(0,)).lower(
      state, batch, learning_rate, dropout_rng).compile()


def forward_flops(model, params, batch) -> float:
  """XLA's FLOPs of the forward loss, lowered only (before optimisation)."""
  import jax  # pylint: disable=g-import-not-at-top
  fwd = jax.jit(lambda p, b: model.loss_fn(p, b, None)[0]).lower(params, batch)
  try:
    return xla_flops(fwd.cost_analysis())
  except Exception:  # pylint: disable=broad-except
    return xla_flops(fwd.compile().cost_analysis())


class CompiledModel:
  """One model's compiled train step, encoder (or prefill) and decode step,
  and its state.

  Everything that reads gin (model construction, tracing) happens in
  __init__, while this model's gin config is the active one; afterwards only
  compiled executables are called, so models can be timed round-robin.
  """

  def __init__(self, cfg: spec_lib.BenchConfig, spec: spec_lib.ModelSpec,
               dims: Dict[str, Any]):
    import gin  # pylint: disable=g-import-not-at-top
    import jax  # pylint: disable=g-import-not-at-top
    import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
    self.spec, self.dims, self.cfg = spec, dims, cfg
    self.compile_s = {}
    model = gin.query_parameter('%MODEL').scoped_configurable_fn()
    batch_fn, inference_fn = family_fns(cfg)
    self.batch = {k: jnp.asarray(v) for k, v in batch_fn(cfg, cfg.seed).items()}

    (self.state, self.num_params), self.compile_s['init'] = inference.timed(
        init_train_state, model, self.batch, cfg.seed)
    self.lr = jnp.asarray(1e-3, jnp.float32)
    self.rng = jax.random.PRNGKey(cfg.seed + 1)
    self.train_compiled, self.compile_s['train'] = inference.timed(
        compile_train_step, model, self.state, self.batch, self.lr, self.rng)
    self.train_flops = xla_flops(self.train_compiled.cost_analysis())
    self.train_peak_bytes = peak_bytes(self.train_compiled.memory_analysis())
    self.forward_flops = forward_flops(model, self.state.params, self.batch)

    self.infer = inference_fn(model, self.state.params, self.batch)
    self.compile_s.update(self.infer.compile_s)
    decode = self.infer.decode_compiled
    self.decode_peak_bytes = peak_bytes(decode.memory_analysis())
    self.decode_flops = xla_flops(decode.cost_analysis())

    self.train_times: List[float] = []
    self.encode_times: List[float] = []
    self.decode_times: List[float] = []
    self.losses: List[float] = []

  def time_train(self, record: bool):
    import jax  # pylint: disable=g-import-not-at-top
    t0 = time.perf_counter()
    self.state, loss = self.train_compiled(self.state, self.batch, self.lr, self.rng)
    jax.block_until_ready(self.state)
    loss = float(loss)
    dt = time.perf_counter() - t0
    self.losses.append(loss)
    if record:
      self.train_times.append(dt)

  def time_encode(self, record: bool):
    import jax  # pylint: disable=g-import-not-at-top
    t0 = time.perf_counter()
    out = self.infer.encode(self.state.params)
    jax.block_until_ready(out)
    if record:
      self.encode_times.append(time.perf_counter() - t0)

  def time_decode(self, record: bool):
    """Decodes targets_length tokens greedily from a fresh cache, per step."""
    import jax  # pylint: disable=g-import-not-at-top
    import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
    cache = jax.tree_util.tree_map(jnp.copy, self.infer.cache0)
    ids = self.infer.ids0
    params = self.state.params
    jax.block_until_ready((cache, params))
    for _ in range(self.cfg.targets_length):
      t0 = time.perf_counter()
      ids, cache = self.infer.decode_step(params, cache, ids)
      jax.block_until_ready(ids)
      jax.block_until_ready(cache)
      if record:
        self.decode_times.append(time.perf_counter() - t0)


def compile_models(cfg: spec_lib.BenchConfig,
                   specs: Sequence[spec_lib.ModelSpec]) -> List[CompiledModel]:
  """Parses each model's gins and compiles it, in turn; clears gin after."""
  import gin  # pylint: disable=g-import-not-at-top
  base_dims = spec_lib.parse_gin(cfg, spec_lib.ModelSpec('baseline', 'baseline'))
  compiled = []
  for spec in specs:
    print(f'[{spec.name}] building and compiling ...', flush=True)
    cm = CompiledModel(cfg, spec, spec_lib.parse_gin(cfg, spec, base_dims))
    print(f'[{spec.name}] params={cm.num_params:,} compile_s='
          + ', '.join(f'{k}={v:.1f}' for k, v in cm.compile_s.items()), flush=True)
    compiled.append(cm)
  gin.clear_config()
  return compiled


def time_round_robin(cfg: spec_lib.BenchConfig,
                     compiled: Sequence[CompiledModel]) -> None:
  """Train steps, encoder calls, then decodes: every round runs every model,
  so slow drift of a shared machine hits every model alike."""
  t_start = time.perf_counter()
  for r in range(cfg.warmup + cfg.repeats):
    for cm in compiled:
      cm.time_train(record=r >= cfg.warmup)
  for r in range(cfg.warmup + cfg.repeats):
    for cm in compiled:
      cm.time_encode(record=r >= cfg.warmup)
  for r in range(1 + cfg.decode_repeats):
    for cm in compiled:
      cm.time_decode(record=r >= 1)
  print(f'timing took {time.perf_counter() - t_start:.1f} s', flush=True)


def run_benchmark(cfg: spec_lib.BenchConfig) -> Dict[str, Any]:
  """Builds, compiles and times every model; returns rows and metadata."""
  specs = [spec_lib.parse_model(m) for m in cfg.models]
  if not specs:
    raise ValueError('--models is empty')
  machine = machine_info()
  print('Machine:', json.dumps(machine, indent=2), flush=True)
  compiled = compile_models(cfg, specs)
  time_round_robin(cfg, compiled)
  return results.make_result(cfg, machine, compiled)
