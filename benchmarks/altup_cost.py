r"""What AltUp costs on T5X: step time, latency, memory, parameters and FLOPs.

Measures, in one process and for the same model size and batch, the stock
T5.1.1 baseline, Recycled-AltUp, full AltUp (K*d embedding) and a dense model
of twice the width ("dense-2d": EMBED_DIM, NUM_HEADS and MLP_DIM doubled):

  * train step: T5X's own `trainer.train_with_lr` (loss_fn + gradients +
    the model's Adafactor `optimizer_def` update on a `FlaxOptimTrainState`),
    jit-compiled with the train state donated; median wall time after warm-up;
  * encoder forward latency (`module.encode`, jit-compiled);
  * per-token cached decode latency: one `module.decode(..., decode=True)`
    step on a cache initialised the way T5X's `_compute_kv_cache` does,
    jit-compiled with the cache donated; median over all decode positions;
  * peak memory of the compiled train step (XLA `memory_analysis()`);
  * parameter count;
  * XLA's FLOP count (`cost_analysis()`) of the compiled train step and of the
    lowered forward loss, next to an analytic matmul count whose AltUp part is
    (K^2 + K) * d multiply-adds per token per layer.

Timings are interleaved (round-robin over the models in every repeat) so that
slow drift of a shared machine hits every model alike.

Writes `altup_cost.md`, `altup_cost.csv`, `altup_cost.json` and
`altup_cost.png` (train step time vs parameter count) to --output_dir.

Usage:
  python -m benchmarks.altup_cost --size=small --output_dir=/tmp/altup_cost
  python -m benchmarks.altup_cost --size=tiny --repeats=1 --warmup=1
  # gin/options/gather_embedding.gin for every model (extra --gin_bindings
  # also apply to every model):
  python -m benchmarks.altup_cost --gather_embedding
"""

import csv
import dataclasses
import json
import math
import os
import platform
import re
import statistics
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

from absl import app
from absl import flags
from absl import logging

from launch import compose

REPO = compose.REPO

SIZES = ('tiny', 'small', 'base', 'large', 'xl')
DEFAULT_MODELS = ('baseline', 'recycled_k2', 'altup_k2', 'altup_k4',
                  'dense_2d')
# Sizes whose shapes are T5's own (vocabulary 32128); tiny uses 128.
REAL_VOCAB = 32128
TINY_VOCAB = 128

_SIZE = flags.DEFINE_enum('size', 'small', SIZES, 'Model size gin: gin/models/<size>.gin.')
_BATCH = flags.DEFINE_integer('batch', None, 'Batch size (default 8; tiny: 2).')
_INPUTS = flags.DEFINE_integer('inputs_length', None, 'Encoder length (default 128; tiny: 16).')
_TARGETS = flags.DEFINE_integer('targets_length', None, 'Decoder length = decode steps (default 32; tiny: 8).')
_MODELS = flags.DEFINE_list(
    'models', list(DEFAULT_MODELS),
    'Models to compare: baseline, recycled_k<K>, altup_k<K>, dense_<W>d. '
    'Ratios are to the first one, which should be baseline.')
_WARMUP = flags.DEFINE_integer('warmup', 1, 'Untimed rounds before timing.')
_REPEATS = flags.DEFINE_integer('repeats', 3, 'Timed train-step / encoder rounds.')
_DECODE_REPEATS = flags.DEFINE_integer(
    'decode_repeats', 1, 'Timed full decodes of targets_length tokens each.')
_NUM_EMBEDDINGS = flags.DEFINE_integer(
    'num_embeddings', None, f'Vocabulary size (default {REAL_VOCAB}; tiny: {TINY_VOCAB}).')
_NUM_LAYERS = flags.DEFINE_integer(
    'num_layers', None, 'Override NUM_ENCODER_LAYERS and NUM_DECODER_LAYERS '
    '(default: the size gin\'s).')
_SCAN = flags.DEFINE_bool('scan', False, 'Add gin/options/scan.gin (scanned layers, remat).')
_GATHER_EMBEDDING = flags.DEFINE_bool(
    'gather_embedding', False,
    'Add gin/options/gather_embedding.gin for every model: the token embedding '
    'is a gather instead of the stock T5.1.1 one-hot matmul (vocab x width '
    'multiply-adds per token, which full AltUp makes K times wider).')
_GIN_BINDINGS = flags.DEFINE_multi_string(
    'gin_bindings', [], 'Extra gin bindings applied to every model (gin '
    'dynamic registration: pass the import too, e.g. --gin_bindings="from '
    'flaxformer.components import embedding").')
_OUTPUT_DIR = flags.DEFINE_string('output_dir', '/tmp/altup_cost', 'Where results go.')
_SEED = flags.DEFINE_integer('seed', 0, 'PRNG seed for init and data.')


@dataclasses.dataclass(frozen=True)
class ModelSpec:
  """One benchmarked model: a variant gin, ALTUP_K and a width multiplier."""
  name: str
  variant: str  # baseline | recycled | altup
  altup_k: int = 1
  widen: int = 1

  @property
  def label(self) -> str:
    if self.variant == 'recycled':
      return f'Recycled-AltUp K={self.altup_k}'
    if self.variant == 'altup':
      return f'AltUp K={self.altup_k}'
    return 'baseline' if self.widen == 1 else f'dense-{self.widen}d'


def parse_model(name: str) -> ModelSpec:
  """'baseline' | 'recycled_k2' | 'altup_k4' | 'dense_2d' -> ModelSpec."""
  if name == 'baseline':
    return ModelSpec(name, 'baseline')
  m = re.fullmatch(r'(recycled|altup)_k(\d+)', name)
  if m:
    return ModelSpec(name, m.group(1), int(m.group(2)))
  m = re.fullmatch(r'dense_(\d+)d', name)
  if m:
    return ModelSpec(name, 'baseline', 1, int(m.group(1)))
  raise ValueError(f'Unknown model {name!r}; expected baseline, recycled_k<K>, '
                   'altup_k<K> or dense_<W>d.')


@dataclasses.dataclass
class BenchConfig:
  size: str = 'small'
  batch: int = 8
  inputs_length: int = 128
  targets_length: int = 32
  models: Sequence[str] = DEFAULT_MODELS
  warmup: int = 1
  repeats: int = 3
  decode_repeats: int = 1
  num_embeddings: int = REAL_VOCAB
  num_layers: Optional[int] = None
  scan: bool = False
  gather_embedding: bool = False
  gin_bindings: Sequence[str] = ()
  output_dir: str = '/tmp/altup_cost'
  seed: int = 0


def config_from_flags() -> BenchConfig:
  tiny = _SIZE.value == 'tiny'
  pick = lambda v, default, tiny_default: v if v is not None else (
      tiny_default if tiny else default)
  return BenchConfig(
      size=_SIZE.value,
      batch=pick(_BATCH.value, 8, 2),
      inputs_length=pick(_INPUTS.value, 128, 16),
      targets_length=pick(_TARGETS.value, 32, 8),
      models=tuple(_MODELS.value),
      warmup=_WARMUP.value,
      repeats=_REPEATS.value,
      decode_repeats=_DECODE_REPEATS.value,
      num_embeddings=pick(_NUM_EMBEDDINGS.value, REAL_VOCAB, TINY_VOCAB),
      num_layers=_NUM_LAYERS.value,
      scan=_SCAN.value,
      gather_embedding=_GATHER_EMBEDDING.value,
      gin_bindings=tuple(_GIN_BINDINGS.value),
      output_dir=_OUTPUT_DIR.value,
      seed=_SEED.value)


# ----------------------------------------------------------------------------
# Machine
# ----------------------------------------------------------------------------


def machine_info() -> Dict[str, str]:
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


# ----------------------------------------------------------------------------
# Gin
# ----------------------------------------------------------------------------

DIM_MACROS = ('EMBED_DIM', 'NUM_HEADS', 'HEAD_DIM', 'MLP_DIM',
              'NUM_ENCODER_LAYERS', 'NUM_DECODER_LAYERS', 'NUM_EMBEDDINGS',
              'ACTIVATION_DTYPE')


def parse_gin(cfg: BenchConfig, spec: ModelSpec,
              base_dims: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
  """Parses the gins of `spec` (replacing any config); returns its dimensions."""
  import gin  # pylint: disable=g-import-not-at-top
  gin.clear_config()
  gin.add_config_file_search_path(REPO)
  files = [f'gin/models/{cfg.size}.gin', f'gin/variants/{spec.variant}.gin']
  if cfg.scan:
    files.append('gin/options/scan.gin')
  if cfg.gather_embedding:
    files.append('gin/options/gather_embedding.gin')
  v = cfg.num_embeddings
  bindings = [
      'from __gin__ import dynamic_registration',
      'import seqio',
      f'NUM_EMBEDDINGS = {v}',
      'VOCABULARY = @seqio.PassThroughVocabulary()',
      f'seqio.PassThroughVocabulary.size = {v}',
  ]
  if spec.variant != 'baseline':
    bindings.append(f'ALTUP_K = {spec.altup_k}')
  if cfg.num_layers:
    bindings += [f'NUM_ENCODER_LAYERS = {cfg.num_layers}',
                 f'NUM_DECODER_LAYERS = {cfg.num_layers}']
  if spec.widen != 1:
    if base_dims is None:
      raise ValueError('dense widening needs the base dimensions')
    w = spec.widen
    bindings += [f'EMBED_DIM = {w * base_dims["EMBED_DIM"]}',
                 f'NUM_HEADS = {w * base_dims["NUM_HEADS"]}',
                 f'MLP_DIM = {w * base_dims["MLP_DIM"]}']
  bindings += list(cfg.gin_bindings)
  gin.parse_config_files_and_bindings(files, bindings, finalize_config=True)
  dims = {m: gin.query_parameter(f'%{m}') for m in DIM_MACROS}
  dims['ALTUP_K'] = spec.altup_k
  dims['one_hot_embed'] = bool(_query(gin, 'embedding.Embed.one_hot', False))
  dims['mlp_inputs'] = len(_query(gin, 'dense.MlpBlock.activations', ('relu',)))
  # Full AltUp's decoder output: 'concat' (K*d norm and logits) or 'sum' (d).
  dims['decoder_output'] = (_query(gin, '%ALTUP_DECODER_OUTPUT', 'concat')
                            if spec.variant == 'altup' else 'sum')
  dims['gin_files'] = files
  return dims


def _query(gin, name, default):
  try:
    return gin.query_parameter(name)
  except (ValueError, KeyError):
    return default


# ----------------------------------------------------------------------------
# Analytic cost (matmul multiply-adds per example)
# ----------------------------------------------------------------------------


def analytic_macs(dims: Dict[str, Any], variant: str, inputs_length: int,
                  targets_length: int) -> Dict[str, float]:
  """Matmul multiply-adds of one example's forward pass, by part.

  Counts the dense projections, attention scores/values, the token embedding
  (a [vocab x width] matmul when `one_hot`, else free) and the logits layer
  (K*d wide for full AltUp with `decoder_output` 'concat', else d).
  AltUp adds (K^2 + K) * d per token per layer (predict: K^2 d; correct: K d).
  Norms, softmax, biases and the optimizer are left out.
  """
  d = dims['EMBED_DIM']
  da = dims['NUM_HEADS'] * dims['HEAD_DIM']
  dff = dims['MLP_DIM']
  ne, nd = dims['NUM_ENCODER_LAYERS'], dims['NUM_DECODER_LAYERS']
  vocab = dims['NUM_EMBEDDINGS']
  k = dims['ALTUP_K'] if variant != 'baseline' else 1
  li, lt = inputs_length, targets_length
  mlp = (dims['mlp_inputs'] + 1) * d * dff
  full = variant == 'altup'
  emb_width = k * d if full else d
  concat = full and dims.get('decoder_output', 'concat') == 'concat'
  logits_width = k * d if concat else d  # ALTUP_DECODER_OUTPUT='concat'
  enc_layer = 4 * d * da + mlp + 2 * li * da
  dec_layer = 6 * d * da + mlp + 2 * lt * da + 2 * li * da
  cross_kv = 2 * d * da  # per encoder token per decoder layer
  layers = li * (ne * enc_layer + nd * cross_kv) + lt * nd * dec_layer
  altup = (li * ne + lt * nd) * (k * k + k) * d if k > 1 else 0
  embed = (li + lt) * vocab * emb_width if dims['one_hot_embed'] else 0
  logits = lt * logits_width * vocab
  fwd = layers + altup + embed + logits
  # Backward: 2x forward, except that the embedding has no input gradient.
  train = 3 * (layers + altup + logits) + 2 * embed
  return {'layers': layers, 'altup': altup, 'embed': embed, 'logits': logits,
          'forward': fwd, 'train': train,
          'altup_layer_overhead': altup / layers}


# ----------------------------------------------------------------------------
# Building, compiling and timing one model
# ----------------------------------------------------------------------------


def _flops(cost) -> float:
  if isinstance(cost, (list, tuple)):
    cost = cost[0] if cost else {}
  return float((cost or {}).get('flops', float('nan')))


def _peak_bytes(mem) -> float:
  if mem is None:
    return float('nan')
  peak = getattr(mem, 'peak_memory_in_bytes', 0) or 0
  if peak:
    return float(peak)
  return float(mem.argument_size_in_bytes + mem.output_size_in_bytes -
               mem.alias_size_in_bytes + mem.temp_size_in_bytes)


def make_batch(cfg: BenchConfig, seed: int):
  import numpy as np  # pylint: disable=g-import-not-at-top
  rs = np.random.RandomState(seed)
  b, li, lt = cfg.batch, cfg.inputs_length, cfg.targets_length
  enc = rs.randint(1, cfg.num_embeddings, (b, li)).astype(np.int32)
  tgt = rs.randint(1, cfg.num_embeddings, (b, lt)).astype(np.int32)
  dec_in = np.concatenate([np.zeros((b, 1), np.int32), tgt[:, :-1]], axis=1)
  return {'encoder_input_tokens': enc, 'decoder_input_tokens': dec_in,
          'decoder_target_tokens': tgt,
          'decoder_loss_weights': np.ones_like(tgt, dtype=np.float32)}


class CompiledModel:
  """One model's compiled train step, encoder and decode step, and its state.

  Everything that reads gin (model construction, tracing) happens in
  __init__, while this model's gin config is the active one; afterwards only
  compiled executables are called, so models can be timed round-robin.
  """

  def __init__(self, cfg: BenchConfig, spec: ModelSpec, dims: Dict[str, Any]):
    import gin  # pylint: disable=g-import-not-at-top
    import jax  # pylint: disable=g-import-not-at-top
    import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
    from t5x import train_state as train_state_lib  # pylint: disable=g-import-not-at-top
    from t5x import trainer as trainer_lib  # pylint: disable=g-import-not-at-top

    self.spec, self.dims, self.cfg = spec, dims, cfg
    self.compile_s = {}
    model = gin.query_parameter('%MODEL').scoped_configurable_fn()
    module = model.module
    batch = {k: jnp.asarray(v) for k, v in make_batch(cfg, cfg.seed).items()}
    self.batch = batch
    lt = cfg.targets_length
    shapes = {'encoder_input_tokens': batch['encoder_input_tokens'].shape,
              'decoder_input_tokens': batch['decoder_input_tokens'].shape}
    types = {k: jnp.int32 for k in shapes}

    t0 = time.perf_counter()
    variables = jax.jit(lambda r: model.get_initial_variables(r, shapes, types))(
        jax.random.PRNGKey(cfg.seed))
    self.num_params = int(sum(x.size for x in jax.tree_util.tree_leaves(variables['params'])))
    state = train_state_lib.FlaxOptimTrainState.create(model.optimizer_def, variables)
    self.compile_s['init'] = time.perf_counter() - t0

    # Train step: T5X's loss_fn + grads + optimizer update.
    def train_step(state, batch, learning_rate, dropout_rng):
      new_state, metrics = trainer_lib.train_with_lr(
          state, batch, learning_rate, dropout_rng, model, num_microbatches=None)
      return new_state, metrics['loss'].compute()

    self.lr = jnp.asarray(1e-3, jnp.float32)
    self.rng = jax.random.PRNGKey(cfg.seed + 1)
    t0 = time.perf_counter()
    lowered = jax.jit(train_step, donate_argnums=(0,)).lower(state, batch, self.lr, self.rng)
    self.train_compiled = lowered.compile()
    self.compile_s['train'] = time.perf_counter() - t0
    self.train_flops = _flops(self.train_compiled.cost_analysis())
    self.train_peak_bytes = _peak_bytes(self.train_compiled.memory_analysis())
    self.state = state

    # Forward loss (lowered only: XLA's pre-optimisation FLOP count).
    fwd = jax.jit(lambda p, b: model.loss_fn(p, b, None)[0]).lower(state.params, batch)
    try:
      self.forward_flops = _flops(fwd.cost_analysis())
    except Exception:  # pylint: disable=broad-except
      self.forward_flops = _flops(fwd.compile().cost_analysis())

    # Encoder forward.
    def encode(params, tokens):
      return module.apply({'params': params}, tokens, enable_dropout=False,
                          method=module.encode)

    t0 = time.perf_counter()
    self.encode_compiled = jax.jit(encode).lower(
        state.params, batch['encoder_input_tokens']).compile()
    self.compile_s['encode'] = time.perf_counter() - t0
    self.encoded = self.encode_compiled(state.params, batch['encoder_input_tokens'])

    # Cache as T5X's EncoderDecoderModel._compute_kv_cache builds it (no prompt).
    def init_cache(params, enc_tokens, dec_tokens):
      _, variables = module.apply(
          {'params': params},
          encoder_input_tokens=jnp.ones_like(enc_tokens),
          decoder_input_tokens=jnp.ones_like(dec_tokens),
          decoder_target_tokens=jnp.ones_like(dec_tokens),
          mutable=['cache'], decode=True, enable_dropout=False)
      return variables['cache']

    self.init_cache = jax.jit(init_cache)
    self.cache0 = self.init_cache(state.params, batch['encoder_input_tokens'],
                                  batch['decoder_input_tokens'])

    # One cached decode step, as T5X's _compute_logits_from_slice, + greedy pick.
    def decode_step(params, cache, encoded, raw_inputs, ids):
      logits, new_vars = module.apply(
          {'params': params, 'cache': cache}, encoded, raw_inputs, ids, ids,
          enable_dropout=False, decode=True, max_decode_length=lt,
          mutable=['cache'], method=module.decode)
      next_ids = jnp.argmax(logits[:, -1, :], axis=-1).astype(jnp.int32)[:, None]
      return next_ids, new_vars['cache']

    self.ids0 = jnp.zeros((cfg.batch, 1), jnp.int32)
    t0 = time.perf_counter()
    self.decode_compiled = jax.jit(decode_step, donate_argnums=(1,)).lower(
        state.params, self.cache0, self.encoded, batch['encoder_input_tokens'],
        self.ids0).compile()
    self.compile_s['decode'] = time.perf_counter() - t0
    self.decode_peak_bytes = _peak_bytes(self.decode_compiled.memory_analysis())
    self.decode_flops = _flops(self.decode_compiled.cost_analysis())

    self.train_times: List[float] = []
    self.encode_times: List[float] = []
    self.decode_times: List[float] = []
    self.losses: List[float] = []

  def time_train(self, record: bool):
    t0 = time.perf_counter()
    self.state, loss = self.train_compiled(self.state, self.batch, self.lr, self.rng)
    import jax  # pylint: disable=g-import-not-at-top
    jax.block_until_ready(self.state)
    loss = float(loss)
    dt = time.perf_counter() - t0
    self.losses.append(loss)
    if record:
      self.train_times.append(dt)

  def time_encode(self, record: bool):
    import jax  # pylint: disable=g-import-not-at-top
    t0 = time.perf_counter()
    out = self.encode_compiled(self.state.params, self.batch['encoder_input_tokens'])
    jax.block_until_ready(out)
    if record:
      self.encode_times.append(time.perf_counter() - t0)

  def time_decode(self, record: bool):
    """Decodes targets_length tokens greedily from a fresh cache, per step."""
    import jax  # pylint: disable=g-import-not-at-top
    import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
    cache = jax.tree_util.tree_map(jnp.copy, self.cache0)
    ids = self.ids0
    params = self.state.params
    raw = self.batch['encoder_input_tokens']
    jax.block_until_ready((cache, params))
    for _ in range(self.cfg.targets_length):
      t0 = time.perf_counter()
      ids, cache = self.decode_compiled(params, cache, self.encoded, raw, ids)
      jax.block_until_ready(ids)
      jax.block_until_ready(cache)
      if record:
        self.decode_times.append(time.perf_counter() - t0)


# ----------------------------------------------------------------------------
# Running, reporting
# ----------------------------------------------------------------------------


def _median(xs):
  return statistics.median(xs) if xs else float('nan')


def _ratio(a, b):
  try:
    return a / b if b else float('nan')
  except TypeError:
    return float('nan')


def run_benchmark(cfg: BenchConfig) -> Dict[str, Any]:
  """Builds, compiles and times every model; returns rows and metadata."""
  specs = [parse_model(m) for m in cfg.models]
  if not specs:
    raise ValueError('--models is empty')
  machine = machine_info()
  print('Machine:', json.dumps(machine, indent=2), flush=True)

  base_dims = parse_gin(cfg, ModelSpec('baseline', 'baseline'))
  compiled: List[CompiledModel] = []
  for spec in specs:
    print(f'[{spec.name}] building and compiling ...', flush=True)
    dims = parse_gin(cfg, spec, base_dims)
    cm = CompiledModel(cfg, spec, dims)
    print(f'[{spec.name}] params={cm.num_params:,} compile_s='
          + ', '.join(f'{k}={v:.1f}' for k, v in cm.compile_s.items()), flush=True)
    compiled.append(cm)
  import gin  # pylint: disable=g-import-not-at-top
  gin.clear_config()

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

  rows = []
  for cm in compiled:
    a = analytic_macs(cm.dims, cm.spec.variant, cfg.inputs_length, cfg.targets_length)
    rows.append({
        'model': cm.spec.name,
        'label': cm.spec.label,
        'variant': cm.spec.variant,
        'altup_k': cm.spec.altup_k,
        'embed_dim': cm.dims['EMBED_DIM'],
        'params': cm.num_params,
        'train_step_ms': 1e3 * _median(cm.train_times),
        'train_step_min_ms': 1e3 * min(cm.train_times) if cm.train_times else float('nan'),
        'encoder_ms': 1e3 * _median(cm.encode_times),
        'decode_ms_per_token': 1e3 * _median(cm.decode_times),
        'train_peak_mib': cm.train_peak_bytes / 2**20,
        'decode_peak_mib': cm.decode_peak_bytes / 2**20,
        'xla_train_gflop': cm.train_flops / 1e9,
        'xla_forward_gflop': cm.forward_flops / 1e9,
        'xla_decode_mflop_per_token': cm.decode_flops / 1e6,
        'analytic_forward_gflop': 2 * cfg.batch * a['forward'] / 1e9,
        'analytic_train_gflop': 2 * cfg.batch * a['train'] / 1e9,
        'analytic_altup_layer_overhead_pct': 100 * a['altup_layer_overhead'],
        'final_loss': cm.losses[-1] if cm.losses else float('nan'),
        'compile_train_s': cm.compile_s['train'],
    })
  base = rows[0]
  for row in rows:
    for key in ('params', 'train_step_ms', 'train_step_min_ms', 'encoder_ms', 'decode_ms_per_token',
                'train_peak_mib', 'xla_train_gflop', 'xla_forward_gflop',
                'analytic_forward_gflop', 'analytic_train_gflop'):
      row[f'{key}_ratio'] = _ratio(row[key], base[key])
  return {'config': dataclasses.asdict(cfg), 'machine': machine,
          'dims': {cm.spec.name: {k: v for k, v in cm.dims.items()}
                   for cm in compiled},
          'rows': rows, 'targets': check_targets(cfg, rows)}


def check_targets(cfg: BenchConfig, rows) -> List[Dict[str, Any]]:
  """The cost targets, evaluated on whatever size was run."""
  by = {r['model']: r for r in rows}
  out = []

  def add(name, model, value, ok, goal):
    out.append({'target': name, 'model': model, 'value': value, 'goal': goal,
                'met': bool(ok) if not math.isnan(value) else None})

  if 'recycled_k2' in by:
    v = by['recycled_k2']['train_step_ms_ratio']
    add('train step (d embedding)', 'recycled_k2', v, v <= 1.05, '<= 1.05x')
    v = by['recycled_k2']['decode_ms_per_token_ratio']
    add('decode per token', 'recycled_k2', v, v <= 1.05, '<= 1.05x')
  if 'altup_k2' in by:
    v = by['altup_k2']['train_step_ms_ratio']
    add('train step (K*d embedding)', 'altup_k2', v, v <= 1.10, '<= 1.10x')
    v = by['altup_k2']['decode_ms_per_token_ratio']
    add('decode per token', 'altup_k2', v, v <= 1.05, '<= 1.05x')
  for r in rows:
    if r['variant'] in ('recycled', 'altup'):
      for kind in ('forward', 'train'):
        diff = r[f'xla_{kind}_gflop_ratio'] - r[f'analytic_{kind}_gflop_ratio']
        # XLA's cost analysis counts a while loop's body once, so scanned
        # models' FLOP counts are per layer body, not per step.
        add(f'XLA {kind} FLOP ratio - analytic ratio', r['model'],
            float('nan') if cfg.scan else diff, abs(diff) <= 0.01,
            'abs(diff) <= 0.01')
  if 'dense_2d' in by:
    v = by['dense_2d']['train_step_ms_ratio']
    add('dense-2d train step cost', 'dense_2d', v, v >= 3.0, '>= 3x')
    v = by['dense_2d']['xla_train_gflop_ratio']
    add('dense-2d train FLOPs', 'dense_2d', float('nan') if cfg.scan else v,
        v >= 3.0, '>= 3x')
  return out


COLUMNS = [
    # (header, key, format)
    ('model', 'label', '{}'),
    ('params (M)', 'params', '{:.2f}', 1e-6),
    ('x', 'params_ratio', '{:.2f}'),
    ('train step ms', 'train_step_ms', '{:.1f}'),
    ('x', 'train_step_ms_ratio', '{:.3f}'),
    ('min ms', 'train_step_min_ms', '{:.1f}'),
    ('x', 'train_step_min_ms_ratio', '{:.3f}'),
    ('encoder ms', 'encoder_ms', '{:.2f}'),
    ('x', 'encoder_ms_ratio', '{:.3f}'),
    ('decode ms/token', 'decode_ms_per_token', '{:.2f}'),
    ('x', 'decode_ms_per_token_ratio', '{:.3f}'),
    ('train peak MiB', 'train_peak_mib', '{:.0f}'),
    ('x', 'train_peak_mib_ratio', '{:.2f}'),
    ('XLA train GFLOP', 'xla_train_gflop', '{:.1f}'),
    ('x', 'xla_train_gflop_ratio', '{:.4f}'),
    ('XLA fwd x', 'xla_forward_gflop_ratio', '{:.4f}'),
    ('analytic fwd x', 'analytic_forward_gflop_ratio', '{:.4f}'),
    ('analytic AltUp/layer %', 'analytic_altup_layer_overhead_pct', '{:.3f}'),
]


def _fmt(row, col):
  fmt = col[2]
  v = row[col[1]]
  if len(col) > 3:
    v = v * col[3]
  if isinstance(v, float) and math.isnan(v):
    return 'n/a'
  return fmt.format(v)


def markdown(result: Dict[str, Any]) -> str:
  cfg, m = result['config'], result['machine']
  base_dims = result['dims'][result['rows'][0]['model']]
  lines = [
      f'### AltUp cost: T5.1.1 {cfg["size"]}, batch {cfg["batch"]}, '
      f'inputs {cfg["inputs_length"]}, targets {cfg["targets_length"]}',
      '',
      f'- Machine: {m["cpu"]}; jax {m["jax"]}; devices: {m["jax_devices"]}',
      f'- Shapes: d={base_dims["EMBED_DIM"]}, heads={base_dims["NUM_HEADS"]}x'
      f'{base_dims["HEAD_DIM"]}, d_ff={base_dims["MLP_DIM"]}, layers='
      f'{base_dims["NUM_ENCODER_LAYERS"]}/{base_dims["NUM_DECODER_LAYERS"]}, '
      f'vocab={base_dims["NUM_EMBEDDINGS"]}, activations '
      f'{base_dims["ACTIVATION_DTYPE"]}, one-hot embedding: '
      f'{base_dims["one_hot_embed"]}, scan: {cfg["scan"]}',
      f'- Timing: median of {cfg["repeats"]} train steps / encoder calls after '
      f'{cfg["warmup"]} warm-up rounds, and of {cfg["decode_repeats"]} x '
      f'{cfg["targets_length"]} decode steps; models interleaved.',
  ]
  if cfg['scan']:
    lines.append('- **--scan**: XLA counts a scanned (while-loop) layer body once, '
                 'so the XLA FLOP columns are not per-step counts; compare FLOPs '
                 'without --scan.')
  if cfg['gin_bindings']:
    lines.append(f'- Extra gin bindings: `{"; ".join(cfg["gin_bindings"])}`')
  lines += ['', '| ' + ' | '.join(c[0] for c in COLUMNS) + ' |',
            '|' + '|'.join(['---'] + ['---:'] * (len(COLUMNS) - 1)) + '|']
  for row in result['rows']:
    lines.append('| ' + ' | '.join(_fmt(row, c) for c in COLUMNS) + ' |')
  lines += ['', 'Cost targets:', '',
            '| target | model | value | goal | met |', '|---|---|---:|---|---|']
  for t in result['targets']:
    met = {True: 'yes', False: '**no**', None: 'n/a'}[t['met']]
    value = 'n/a' if math.isnan(t['value']) else f'{t["value"]:.4f}'
    lines.append(f'| {t["target"]} | {t["model"]} | {value} | '
                 f'{t["goal"]} | {met} |')
  return '\n'.join(lines) + '\n'


def write_outputs(result: Dict[str, Any], output_dir: str) -> Dict[str, str]:
  os.makedirs(output_dir, exist_ok=True)
  paths = {ext: os.path.join(output_dir, f'altup_cost.{ext}')
           for ext in ('md', 'csv', 'json', 'png')}
  with open(paths['md'], 'w') as f:
    f.write(markdown(result))
  rows = result['rows']
  with open(paths['csv'], 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
    writer.writeheader()
    writer.writerows(rows)
  with open(paths['json'], 'w') as f:
    json.dump(result, f, indent=2, default=str)
  plot(result, paths['png'])
  return paths


def plot(result: Dict[str, Any], path: str):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  cfg = result['config']
  fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
  colors = {'baseline': 'tab:gray', 'recycled': 'tab:green', 'altup': 'tab:blue'}
  for i, row in enumerate(result['rows']):
    c = colors.get(row['variant'], 'tab:red')
    if row['variant'] == 'baseline' and row['model'] != 'baseline':
      c = 'tab:red'
    ax.scatter(row['params'] / 1e6, row['train_step_ms'], color=c, s=40, zorder=3)
    ax.annotate(f'{row["label"]} ({row["train_step_ms_ratio"]:.2f}x)',
                (row['params'] / 1e6, row['train_step_ms']),
                textcoords='offset points', fontsize=8,
                xytext=(5, 5) if i % 2 else (5, -12))  # near-equal rows apart
  ax.set_xlabel('parameters (M)')
  ax.set_ylabel('train step time (ms, median)')
  ax.set_title(f'T5.1.1 {cfg["size"]}: batch {cfg["batch"]}, '
               f'{cfg["inputs_length"]}/{cfg["targets_length"]} tokens', fontsize=10)
  ax.grid(True, alpha=0.3)
  ax.margins(x=0.25, y=0.15)
  fig.text(0.01, 0.01, result['machine']['cpu'], fontsize=6, color='gray')
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)


def run(cfg: BenchConfig) -> Dict[str, Any]:
  """Runs the benchmark, writes and prints the results; returns them."""
  if REPO not in sys.path:
    sys.path.insert(0, REPO)
  result = run_benchmark(cfg)
  paths = write_outputs(result, cfg.output_dir)
  print()
  print(markdown(result))
  print('Wrote', ', '.join(paths.values()), flush=True)
  result['paths'] = paths
  return result


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if not flags.FLAGS['verbosity'].present:
    # T5X's Adafactor warns once per unfactored parameter; keep the output short.
    logging.set_verbosity(logging.ERROR)
  from altup_flaxformer import deps  # pylint: disable=g-import-not-at-top
  cfg = config_from_flags()
  deps.require('t5x')
  deps.require('flaxformer')
  run(cfg)


def entry() -> None:
  from launch import cli  # pylint: disable=g-import-not-at-top
  cli.run(main, 'benchmarks.altup_cost')


if __name__ == '__main__':
  entry()
