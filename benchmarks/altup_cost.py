r"""What AltUp costs on T5X: step time, latency, memory, parameters and FLOPs.

Measures, in one process and for the same model size and batch (T5.1.1;
T5.1.0 with the t5_1_0_* sizes; decoder-only with the lm_* sizes), the stock
baseline, Recycled-AltUp, full AltUp (K*d embedding) and a dense model of
twice the width ("dense-2d": EMBED_DIM, NUM_HEADS and MLP_DIM doubled):

  * train step: T5X's own `trainer.train_with_lr` (loss_fn + gradients +
    the model's Adafactor `optimizer_def` update on a `FlaxOptimTrainState`),
    jit-compiled with the train state donated; median wall time after warm-up;
  * encoder forward latency (`module.encode`, jit-compiled); for a
    decoder-only size, the prefill of the inputs instead (T5X's
    `DecoderOnlyModel._compute_kv_cache` on the inputs_length prefix);
  * per-token cached decode latency: one `module.decode(..., decode=True)`
    step (decoder-only: `module.apply(..., decode=True)`) on a cache
    initialised the way T5X's `_compute_kv_cache` does (decoder-only: the
    inputs prefilled), jit-compiled with the cache donated; median over all
    decode positions;
  * peak memory of the compiled train step (XLA `memory_analysis()`);
  * parameter count;
  * XLA's FLOP count (`cost_analysis()`) of the compiled train step and of the
    lowered forward loss, next to an analytic matmul count whose AltUp part is
    (K^2 + K) * d multiply-adds per token per layer.

A decoder-only model trains on prefix LM sequences of inputs_length +
targets_length tokens (seqio's PrefixLMFeatureConverter's layout, loss on the
targets) and decodes targets_length tokens after its inputs.

Timings are interleaved (round-robin over the models in every repeat) so that
slow drift of a shared machine hits every model alike.

Writes `altup_cost.md`, `altup_cost.csv`, `altup_cost.json` and
`altup_cost.png` (train step time vs parameter count) to --output_dir.

The mechanics live next to this command-line module: benchmarks.spec (models,
settings, gins), benchmarks.measure (building, compiling, timing),
benchmarks.analytic (the matmul count) and benchmarks.results (rows, targets,
outputs).

Usage:
  python -m benchmarks.altup_cost --size=small --output_dir=/tmp/altup_cost
  python -m benchmarks.altup_cost --size=tiny --repeats=1 --warmup=1
  python -m benchmarks.altup_cost --size=t5_1_0_small   # T5.1.0 (tied logits)
  python -m benchmarks.altup_cost --size=lm_small   # decoder-only (prefix LM)
  # gin/options/gather_embedding.gin for every model (extra --gin_bindings
  # also apply to every model):
  python -m benchmarks.altup_cost --gather_embedding
  # The flaxformer model alone (no t5x, seqio or TensorFlow; encoder-decoder
  # sizes), e.g. on a GPU:
  python -m benchmarks.altup_cost --model_only --bf16 --size=base \
      --models=baseline,altup_k2
"""

import sys
from typing import Any, Dict, Sequence

from absl import app
from absl import flags
from absl import logging

from benchmarks import measure
from benchmarks import results
from benchmarks import spec
from launch import compose

FLAGS = flags.FLAGS


def define_flags() -> None:
  """The command's absl flags (launch.cli.run defines them)."""
  flags.DEFINE_enum('size', 'small', spec.SIZES, 'Model size gin: gin/models/<size>.gin.')
  flags.DEFINE_integer('batch', None, 'Batch size (default 8; tiny sizes: 2).')
  flags.DEFINE_integer(
      'inputs_length', None, 'Encoder length; decoder-only: the prefix (inputs) '
      'length (default 128; tiny sizes: 16).')
  flags.DEFINE_integer(
      'targets_length', None, 'Decoder length = decode steps; decoder-only: '
      'targets after the prefix (default 32; tiny sizes: 8).')
  flags.DEFINE_list(
      'models', list(spec.DEFAULT_MODELS),
      'Models to compare: baseline, recycled_k<K>, altup_k<K>, dense_<W>d. '
      'Ratios are to the first one, which should be baseline.')
  flags.DEFINE_integer('warmup', 1, 'Untimed rounds before timing.')
  flags.DEFINE_integer('repeats', 3, 'Timed train-step / encoder rounds.')
  flags.DEFINE_integer(
      'decode_repeats', 1, 'Timed full decodes of targets_length tokens each.')
  flags.DEFINE_integer(
      'num_embeddings', None, f'Vocabulary size (default {spec.REAL_VOCAB}; tiny sizes: {spec.TINY_VOCAB}).')
  flags.DEFINE_integer(
      'num_layers', None, 'Override NUM_ENCODER_LAYERS and NUM_DECODER_LAYERS '
      '(decoder-only sizes: NUM_DECODER_LAYERS; default: the size gin\'s).')
  flags.DEFINE_bool('scan', False, 'Add gin/options/scan.gin (scanned layers, remat).')
  flags.DEFINE_bool(
      'gather_embedding', False,
      'Add gin/options/gather_embedding.gin for every model: the token embedding '
      'is a gather instead of the stock one-hot matmul (vocab x width '
      'multiply-adds per token, which full AltUp makes K times wider).')
  flags.DEFINE_multi_string(
      'gin_bindings', [], 'Extra gin bindings applied to every model (gin '
      'dynamic registration: pass the import too, e.g. --gin_bindings="from '
      'flaxformer.components import embedding").')
  flags.DEFINE_string('output_dir', '/tmp/altup_cost', 'Where results go.')
  flags.DEFINE_integer('seed', 0, 'PRNG seed for init and data.')
  flags.DEFINE_bool(
      'model_only', False, 'Only the flaxformer model of the gins, without t5x, '
      'seqio or TensorFlow (benchmarks.model_only): train step (forward, '
      'backward, optax Adafactor) and forward loss, timed; writes '
      'model_only.{md,csv,json}.')
  flags.DEFINE_bool('bf16', False, 'With --model_only: bfloat16 '
                    'parameters and activations.')


def config_from_flags() -> spec.BenchConfig:
  """The flags' BenchConfig; unset shapes take the size's defaults."""
  tiny = FLAGS.size in spec.TINY_SIZES
  pick = lambda v, default, tiny_default: v if v is not None else (
      tiny_default if tiny else default)
  return spec.BenchConfig(
      size=FLAGS.size,
      batch=pick(FLAGS.batch, 8, 2),
      inputs_length=pick(FLAGS.inputs_length, 128, 16),
      targets_length=pick(FLAGS.targets_length, 32, 8),
      models=tuple(FLAGS.models),
      warmup=FLAGS.warmup,
      repeats=FLAGS.repeats,
      decode_repeats=FLAGS.decode_repeats,
      num_embeddings=pick(FLAGS.num_embeddings, spec.REAL_VOCAB, spec.TINY_VOCAB),
      num_layers=FLAGS.num_layers,
      scan=FLAGS.scan,
      gather_embedding=FLAGS.gather_embedding,
      gin_bindings=tuple(FLAGS.gin_bindings),
      output_dir=FLAGS.output_dir,
      seed=FLAGS.seed)


def run(cfg: spec.BenchConfig) -> Dict[str, Any]:
  """Runs the benchmark, writes and prints the results; returns them."""
  if compose.REPO not in sys.path:
    sys.path.insert(0, compose.REPO)
  result = measure.run_benchmark(cfg)
  paths = results.write_outputs(result, cfg.output_dir)
  print()
  print(results.markdown(result))
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
  if FLAGS.model_only:
    deps.require('flaxformer')
    from benchmarks import model_only  # pylint: disable=g-import-not-at-top
    model_only.write_outputs(model_only.run_model_only(cfg, FLAGS.bf16),
                             cfg.output_dir)
    return
  if FLAGS.bf16:
    raise ValueError('--bf16 is a --model_only setting')
  deps.require('t5x')
  deps.require('flaxformer')
  run(cfg)


def entry() -> None:
  from launch import cli  # pylint: disable=g-import-not-at-top
  cli.run(main, 'benchmarks.altup_cost', define_flags)


if __name__ == '__main__':
  entry()
