"""Model-only cost benchmark: our gins' flaxformer model without T5X.

Needs jax, flax, optax, gin-config, flaxformer and this package; never
imports t5x, seqio or TensorFlow (even where they are installed). The size
and variant gins (benchmarks.spec.gin_files) include flaxformer's T5 model
gins, which import seqio and t5x for the vocabulary, the optimizer and the
T5X model wrapper; `parse_gin_model_only` parses them with those imports
refused (`sys.modules[name] = None` while parsing) and gin's `skip_unknown`
naming their configurables (SKIPPED; a list: gin's `True` would also leave
the dynamically registered flaxformer references unresolved), so every
binding to t5x / seqio is dropped and the architecture
(%ARCHITECTURE, a flaxformer EncoderDecoder) is all that is built.

flaxformer.components.dense imports aqt's legacy Flax layers, two modules of
which (`hlo_utils`, `compute_cost_utils`: HLO cost annotations of quantized
convolutions) import TensorFlow's HLO proto at module level. No model here
calls them; `tensorflow_free_aqt` puts stand-ins for the two in sys.modules
(raising ImportError when used), so flaxformer imports without TensorFlow.

The train step mirrors T5X's EncoderDecoderModel.loss_fn and Adafactor:
token cross-entropy plus z-loss (1e-4), summed over the decoder's tokens
(loss_normalizing_factor None), gradients, and optax.adafactor (decay 0.8,
parameter-scaled, clipped at 1, factored above 128, T5X's defaults), jitted
with parameters and optimizer state donated. With `bf16`, parameters and
activations are bfloat16 (ACTIVATION_DTYPE and a cast after init).
"""

import contextlib
import dataclasses
import statistics
import sys
import time
from typing import Any, Dict, List, Sequence

from benchmarks import measure
from benchmarks import spec as spec_lib

BLOCKED = ('t5x', 'seqio', 'tensorflow')
Z_LOSS = 1e-4
# The t5x / seqio configurables the size gins (flaxformer's T5 model gins,
# gin/models/rules.gin) and spec.gin_bindings bind or reference.
SKIPPED = ('seqio.SentencePieceVocabulary', 'seqio.PassThroughVocabulary',
           'seqio.ByteVocabulary', 'adafactor.Adafactor',
           'models.EncoderDecoderModel',
           'partitioning.standard_logical_axis_rules')
AQT_TF_MODULES = ('aqt.jax_legacy.jax.hlo_utils',
                  'aqt.jax_legacy.jax.compute_cost_utils')


def tensorflow_free_aqt() -> None:
  """Stand-ins for aqt's TensorFlow-bound modules (AQT_TF_MODULES) unless
  they are imported already; using one raises ImportError."""
  import types  # pylint: disable=g-import-not-at-top
  for name in AQT_TF_MODULES:
    if name in sys.modules:
      continue
    module = types.ModuleType(name, 'Stand-in: the real module needs TensorFlow.')

    def missing(attr, name=name):
      if attr.startswith('__'):
        raise AttributeError(attr)
      raise ImportError(f'{name}.{attr} needs TensorFlow (not loaded by '
                        'benchmarks.model_only)')
    module.__getattr__ = missing
    sys.modules[name] = module


@contextlib.contextmanager
def refused_imports(names: Sequence[str] = BLOCKED):
  """`import name` (and its submodules) raises ImportError inside the block."""
  saved = {n: sys.modules[n] for n in names if n in sys.modules}
  for n in names:
    sys.modules[n] = None
  try:
    yield
  finally:
    for n in names:
      if n in saved:
        sys.modules[n] = saved[n]
      else:
        sys.modules.pop(n, None)


def parse_gin_model_only(cfg: spec_lib.BenchConfig, spec: spec_lib.ModelSpec,
                         bf16: bool = False) -> Dict[str, Any]:
  """spec_lib.parse_gin without t5x and seqio: their bindings are skipped."""
  # Macros whose values are t5x / seqio objects (gin refuses references it
  # cannot resolve, skipped or not): the architecture is all that is built.
  extra = ['VOCABULARY = None', 'OPTIMIZER = None', 'MODEL = None']
  extra += ["ACTIVATION_DTYPE = 'bfloat16'"] if bf16 else []
  cfg = dataclasses.replace(cfg, gin_bindings=tuple(cfg.gin_bindings) + tuple(extra))
  tensorflow_free_aqt()
  with refused_imports():
    return spec_lib.parse_gin(cfg, spec, skip_unknown=list(SKIPPED))


def check_size(size: str) -> None:
  """Refuses a size the model-only mode does not build (a decoder-only one:
  its loss and batch are the encoder-decoder's here)."""
  if size not in spec_lib.ENCODER_DECODER_SIZES:
    raise ValueError(
        f'--model_only builds the encoder-decoder sizes only '
        f'({", ".join(spec_lib.ENCODER_DECODER_SIZES)}); {size!r} is '
        'decoder-only: measure it with T5X (benchmarks.altup_cost without '
        '--model_only).')


def loss_fn(module, params, batch, dropout_rng):
  """T5X's summed cross-entropy + z-loss of the decoder targets (scalar)."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  logits = module.apply(
      {'params': params}, batch['encoder_input_tokens'],
      batch['decoder_input_tokens'], batch['decoder_target_tokens'],
      enable_dropout=dropout_rng is not None,
      rngs={'dropout': dropout_rng} if dropout_rng is not None else None)
  logits = logits.astype(jnp.float32)  # [batch, targets_length, vocab]
  log_z = jax.nn.logsumexp(logits, axis=-1)
  target = jnp.take_along_axis(
      logits, batch['decoder_target_tokens'][..., None], axis=-1)[..., 0]
  token_loss = log_z - target + Z_LOSS * jnp.square(log_z)
  return jnp.sum(token_loss * batch['decoder_loss_weights'])


def optimizer():
  import optax  # pylint: disable=g-import-not-at-top
  return optax.adafactor(learning_rate=1e-2, decay_rate=0.8,
                         multiply_by_parameter_scale=True,
                         clipping_threshold=1.0, min_dim_size_to_factor=128)


class ModelOnly:
  """One model's parameters, optimizer state and compiled steps.

  Built while the model's gin config is active (flaxformer reads gin in
  every `setup`); afterwards only compiled executables are called.
  """

  def __init__(self, cfg: spec_lib.BenchConfig, spec: spec_lib.ModelSpec,
               dims: Dict[str, Any], bf16: bool):
    import gin  # pylint: disable=g-import-not-at-top
    import jax  # pylint: disable=g-import-not-at-top
    import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
    self.spec, self.dims = spec, dims
    module = gin.query_parameter('%ARCHITECTURE').scoped_configurable_fn()
    self.batch = {k: jnp.asarray(v)
                  for k, v in measure.make_batch(cfg, cfg.seed).items()}
    b = self.batch
    variables = jax.jit(lambda r: module.init(
        r, b['encoder_input_tokens'], b['decoder_input_tokens'],
        b['decoder_target_tokens'], enable_dropout=False))(
            jax.random.PRNGKey(cfg.seed))
    params = variables['params']
    if bf16:
      params = jax.tree_util.tree_map(lambda x: x.astype(jnp.bfloat16), params)
    self.num_params = int(sum(x.size for x in jax.tree_util.tree_leaves(params)))
    tx = optimizer()
    opt_state = tx.init(params)
    self.rng = jax.random.PRNGKey(cfg.seed + 1)

    def train_step(params, opt_state, batch, rng):
      loss, grads = jax.value_and_grad(
          lambda p: loss_fn(module, p, batch, rng))(params)
      updates, opt_state = tx.update(grads, opt_state, params)
      params = jax.tree_util.tree_map(lambda p, u: (p + u).astype(p.dtype),
                                      params, updates)
      return params, opt_state, loss

    t0 = time.perf_counter()
    self.train = jax.jit(train_step, donate_argnums=(0, 1)).lower(
        params, opt_state, self.batch, self.rng).compile()
    self.compile_s = time.perf_counter() - t0
    self.forward = jax.jit(lambda p, bt: loss_fn(module, p, bt, None)).lower(
        params, self.batch).compile()
    self.train_flops = measure.xla_flops(self.train.cost_analysis())
    self.forward_flops = measure.xla_flops(self.forward.cost_analysis())
    mem = self.train.memory_analysis()
    self.train_memory = float(
        mem.argument_size_in_bytes + mem.output_size_in_bytes
        - mem.alias_size_in_bytes + mem.temp_size_in_bytes) if mem else float('nan')
    self.params, self.opt_state = params, opt_state
    self.train_times: List[float] = []
    self.forward_times: List[float] = []
    self.losses: List[float] = []

  def step(self, record: bool) -> None:
    """One train step and one forward loss, each timed to completion."""
    import jax  # pylint: disable=g-import-not-at-top
    t0 = time.perf_counter()
    self.params, self.opt_state, loss = self.train(
        self.params, self.opt_state, self.batch, self.rng)
    jax.block_until_ready((self.params, self.opt_state))
    dt = time.perf_counter() - t0
    self.losses.append(float(loss))
    t0 = time.perf_counter()
    jax.block_until_ready(self.forward(self.params, self.batch))
    if record:
      self.train_times.append(dt)
      self.forward_times.append(time.perf_counter() - t0)


def _median_ms(xs):
  return 1e3 * statistics.median(xs) if xs else float('nan')


def run_model_only(cfg: spec_lib.BenchConfig, bf16: bool = False
                   ) -> Dict[str, Any]:
  """Builds and compiles every model, times them round-robin; the rows have
  ratios to the first model."""
  import gin  # pylint: disable=g-import-not-at-top
  check_size(cfg.size)
  specs = [spec_lib.parse_model(m) for m in cfg.models]
  if any(s.widen != 1 for s in specs):
    raise ValueError('--model_only runs baseline, recycled_k<K> and altup_k<K>')
  built = []
  for spec in specs:
    print(f'[{spec.name}] building and compiling (model only) ...', flush=True)
    built.append(ModelOnly(cfg, spec, parse_gin_model_only(cfg, spec, bf16), bf16))
  gin.clear_config()
  for r in range(cfg.warmup + cfg.repeats):
    for m in built:
      m.step(record=r >= cfg.warmup)
  rows = []
  for m in built:
    rows.append({
        'model': m.spec.name, 'label': m.spec.label, 'params': m.num_params,
        'dtype': 'bfloat16' if bf16 else 'float32 params',
        'train_step_ms': _median_ms(m.train_times),
        'forward_ms': _median_ms(m.forward_times),
        'train_memory_mib': m.train_memory / 2**20,
        'xla_train_gflop': m.train_flops / 1e9,
        'xla_forward_gflop': m.forward_flops / 1e9,
        'first_loss': m.losses[0], 'last_loss': m.losses[-1],
        'compile_train_s': m.compile_s})
  for row in rows:
    for key in ('params', 'train_step_ms', 'forward_ms', 'train_memory_mib',
                'xla_train_gflop', 'xla_forward_gflop'):
      row[f'{key}_ratio'] = row[key] / rows[0][key] if rows[0][key] else float('nan')
  return {'config': dataclasses.asdict(cfg), 'bf16': bf16,
          'machine': measure.machine_info(), 'rows': rows}


def write_outputs(result: Dict[str, Any], output_dir: str) -> Dict[str, str]:
  """Writes model_only.{md,csv,json}; returns their paths by extension."""
  from launch import tables  # pylint: disable=g-import-not-at-top
  rows = result['rows']
  header = list(rows[0])
  md = tables.markdown_table(header, [[r[k] for k in header] for r in rows])
  print(md, flush=True)
  return tables.write_result(output_dir, 'model_only', result, md + '\n')
