"""Helpers of the integration tier (real t5x + flaxformer).

Importing this module skips the importing test module, naming the install
command, where t5x or flaxformer is missing; so every integration module
imports it before anything from t5x or flaxformer.

- Models from the public gins: `gin_model` parses size + variant (+ option)
  gins as t5x.train does and yields MODEL; `batch_for(size)` (`make_batch`,
  or `make_lm_batch` for a decoder-only size), `init_params`, `logits`,
  `cached_decode_logits` and `outputs` run it, for either family.
- Parameter trees: `perturb_altup`, `map_into`,
  `scanned_params_from_unscanned`.
- Real T5X runs: `tiny_experiment` + `run_t5x`, the command line
  `launch.compose.t5x_command` writes, on the in-memory task of
  tests/integration/tiny_task.py; `infer_rows` reads what t5x.infer wrote.
- Entry points in process: `run_absl_main` (the benchmark commands).
"""

import contextlib
import glob
import json
import os
import subprocess
import sys
import gin
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from altup_flaxformer import deps
from launch import compose
from launch import families

REASON = ('integration tier needs t5x and flaxformer (not on PyPI): '
          + deps.INSTALL_HINT)


def require_t5x_stack(*more: str) -> None:
  """Skips the calling test module unless t5x, flaxformer and `more` import."""
  for module in ('t5x', 'flaxformer') + more:
    pytest.importorskip(module, reason=REASON)


require_t5x_stack()

REPO = compose.REPO
TINY_VOCAB_GIN = 'tests/integration/tiny_vocab.gin'
DEVICES = 2  # CPU devices of the t5x subprocesses (tests/conftest.py's default)


# variant -> the per-layer parameters it adds to stock layers.
NEW_PARAMS = {
    'altup': ('altup_predictor', 'altup_corrector'),
    'recycled': ('altup_predictor', 'altup_corrector'),
    'routed': ('altup_predictor', 'altup_corrector', 'altup_routed_predictor',
               'altup_routed_corrector'),
    'sequence': ('altup_sequence_coefficients',),  # encoder layers only
}


def gin_files(size='tiny', variant='altup', options=(), tiny_vocab=True,
              extra_gins=()):
  """The launchers' model gins (`compose.model_gin_files`) + the test vocab,
  then `extra_gins` (e.g. a vocabulary gin of tasks/gin/)."""
  files = compose.model_gin_files(size, variant, options)
  return files + ([TINY_VOCAB_GIN] if tiny_vocab else []) + list(extra_gins)


@contextlib.contextmanager
def gin_model(size='tiny', variant='altup', options=(), bindings=(),
              tiny_vocab=True, extra_gins=()):
  """Parses size + variant (+ option) gins like t5x.train does; yields MODEL.

  `variant` is any launcher variant, MoE ones included (moe_altup, ...).
  flaxformer builds submodules from gin factories lazily (in every `setup`),
  so the config stays parsed while the block runs (query it there too).
  """
  from t5x import models, utils  # pylint: disable=g-import-not-at-top,unused-import
  gin.clear_config()
  gin.add_config_file_search_path(REPO)
  gin.parse_config_files_and_bindings(
      gin_files(size, variant, options, tiny_vocab, extra_gins),
      list(bindings),
      finalize_config=True)
  try:
    yield gin.query_parameter('%MODEL').scoped_configurable_fn()
  finally:
    gin.clear_config()


def make_batch(batch=2, enc_len=7, dec_len=5, vocab=128, seed=0):
  rng = np.random.RandomState(seed)
  enc = rng.randint(3, vocab, (batch, enc_len)).astype(np.int32)
  targets = rng.randint(3, vocab, (batch, dec_len)).astype(np.int32)
  dec_in = np.concatenate([np.zeros((batch, 1), np.int32), targets[:, :-1]], 1)
  return dict(encoder_input_tokens=enc, decoder_input_tokens=dec_in,
              decoder_target_tokens=targets,
              decoder_loss_weights=np.ones_like(targets, np.float32))


def batch_for(size, **kwargs):
  """`make_lm_batch(**kwargs)` for a decoder-only size, else
  `make_batch(**kwargs)`: the helpers below take either."""
  if families.is_decoder_only(size):
    return make_lm_batch(**kwargs)
  return make_batch(**kwargs)


def stacks(size) -> int:
  """Layer stacks of a size: 2 (encoder, decoder) or 1 (decoder-only)."""
  return 1 if families.is_decoder_only(size) else 2


def _is_lm(batch) -> bool:
  return 'encoder_input_tokens' not in batch


def init_params(model, batch, seed=0):
  if _is_lm(batch):
    return _lm_init_params(model, batch, seed)
  return model.module.init(
      jax.random.PRNGKey(seed), batch['encoder_input_tokens'],
      batch['decoder_input_tokens'], batch['decoder_target_tokens'],
      enable_dropout=False)['params']


def logits(model, params, batch):
  """Full forward pass: [batch, decoder length, vocab]."""
  if _is_lm(batch):
    return _lm_logits(model, params, batch)
  return model.module.apply(
      {'params': params}, batch['encoder_input_tokens'],
      batch['decoder_input_tokens'], batch['decoder_target_tokens'],
      enable_dropout=False)


def cached_decode_logits(model, params, batch):
  """Step-by-step decoding with the KV cache, as T5X's predict_batch does."""
  if _is_lm(batch):
    return _lm_cached_decode_logits(model, params, batch)
  module = model.module
  enc, dec_in = batch['encoder_input_tokens'], batch['decoder_input_tokens']
  length = dec_in.shape[1]
  _, variables = module.apply(
      {'params': params}, enc, jnp.ones_like(dec_in), jnp.ones_like(dec_in),
      decode=True, enable_dropout=False, mutable=['cache'])
  cache = variables['cache']
  encoded = module.apply({'params': params}, enc, enable_dropout=False,
                         method=module.encode)
  steps = []
  for t in range(length):
    step, variables = module.apply(
        {'params': params, 'cache': cache}, encoded, enc,
        dec_in[:, t:t + 1], dec_in[:, t:t + 1], enable_dropout=False,
        decode=True, max_decode_length=length, mutable=['cache'],
        method=module.decode)
    cache = variables['cache']
    steps.append(step)
  return jnp.concatenate(steps, axis=1)


def outputs(model, params, batch):
  """(full-forward logits, cached-decoding logits, predict_batch) as numpy.

  For a decoder-only model predict_batch prefills the inputs, then decodes
  greedily."""
  return (np.asarray(logits(model, params, batch)),
          np.asarray(cached_decode_logits(model, params, batch)),
          np.asarray(model.predict_batch(params, batch)))


def abstract_params_and_logits(model, size, length=8):
  """`jax.eval_shape` of init + full forward on a [2, length] batch: (params,
  logits) as shapes only, so the real sizes trace without memory."""
  x = jnp.ones((2, length), jnp.int32)
  args = (x, x) if families.is_decoder_only(size) else (x, x, x)
  def init_and_apply():
    params = model.module.init(jax.random.PRNGKey(0), *args,
                               enable_dropout=False)['params']
    return params, model.module.apply({'params': params}, *args,
                                      enable_dropout=False)
  return jax.eval_shape(init_and_apply)


def perturb_altup(params, scale=0.3, seed=0):
  """Non-trivial values for every AltUp parameter (p, g, router, sequence).

  The inits (p = I, g = 1, zero routing kernels, (1, 0, 1)) hide bugs.
  """
  rng = np.random.RandomState(seed)
  def f(path, x):
    if getattr(path[-1], 'key', '').startswith('altup_'):
      return x + scale * rng.randn(*x.shape).astype(np.float32)
    return x
  return jax.tree_util.tree_map_with_path(f, params)


def map_into(template, source):
  """Takes every leaf of `template` that `source` has at the same path."""
  def take(path, x):
    node = source
    for key in path:
      node = node.get(key.key) if isinstance(node, dict) else None
      if node is None:
        return x
    assert node.shape == x.shape, path
    return node
  return jax.tree_util.tree_map_with_path(take, template)


def scanned_params_from_unscanned(unscanned, scanned_template):
  """Stacks layers_<i> (and the shared relpos) on axis 1 like nn.scan."""
  if 'encoder' not in unscanned:
    return _scanned_lm_params_from_unscanned(unscanned, scanned_template)
  return _scanned_stacks(unscanned, scanned_template, ('encoder', 'decoder'))


def _scanned_stacks(unscanned, scanned_template, stack_names):
  out = {'token_embedder': unscanned['token_embedder']}
  for stack in stack_names:
    layers = sorted((k for k in unscanned[stack] if k.startswith('layers_')),
                    key=lambda k: int(k.split('_')[1]))

    def gather(path, template, stack=stack, layers=layers):
      keys = [p.key for p in path]
      per_layer = []
      for layer in layers:
        node = (unscanned[stack]['relpos_bias'] if keys[0] == 'relpos_bias'
                else unscanned[stack][layer][keys[0]])
        for key in keys[1:]:
          node = node[key]
        per_layer.append(node)
      stacked = jnp.stack(per_layer, axis=1)
      assert stacked.shape == template.shape, (keys, stacked.shape)
      return stacked

    out[stack] = {k: v for k, v in unscanned[stack].items()
                  if not k.startswith('layers_') and k != 'relpos_bias'}
    out[stack][stack] = jax.tree_util.tree_map_with_path(
        gather, scanned_template[stack][stack])
  return out


def tiny_experiment(variant, run, model_dir, *, size='tiny', altup_k=2,
                    gin_overrides=(), **kwargs) -> compose.Experiment:
  """A T5X job of a tiny size on tests/integration/tiny_task.py's task.

  Args:
    variant: a launcher variant (compose.VARIANTS).
    run: 'pretrain', 'finetune', 'eval' or 'infer'.
    model_dir: the model dir (train) or output dir (eval / infer).
    size: 'tiny' (T5.1.1), 't5_1_0_tiny' or 'lm_tiny' (decoder-only: the
      task's inputs and targets make it a prefix LM task).
    altup_k: K of the AltUp variants (the baselines get 1).
    gin_overrides: extra ('NAME', 'VALUE') bindings.
    **kwargs: other `compose.Experiment` fields.
  """
  from tests.integration import tiny_task  # pylint: disable=g-import-not-at-top
  return compose.Experiment(
      size=size, variant=variant,
      altup_k=1 if variant in compose.BASELINES else altup_k, run=run,
      task=tiny_task.TASK_NAME, model_dir=model_dir,
      feature_lengths=tiny_task.FEATURE_LENGTHS,
      # The launchers' task module is tasks.*; this task lives in the tests.
      gin_overrides=(('MIXTURE_OR_TASK_MODULE', repr(tiny_task.__name__)),)
      + tuple(gin_overrides), **kwargs)


def run_absl_main(main, define_flags, argv) -> None:
  """Runs an entry point in this process as `launch.cli.run` would: defines
  its flags, parses `argv` (argv[0] is the program name) and calls `main`;
  then removes those flags again, so that entry points which share flag
  names (--models, --batch, ...) can run in one test process."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  before = set(flags.FLAGS)
  define_flags()
  try:
    flags.FLAGS(argv)
    main(argv[:1])
  finally:
    for name in set(flags.FLAGS) - before:
      delattr(flags.FLAGS, name)


def infer_rows(infer_dir: str) -> list:
  """The rows of the predictions file `t5x.infer` wrote in `infer_dir`."""
  outputs = [f for f in glob.glob(os.path.join(infer_dir, '*-predict.jsonl*'))
             if not f.endswith('.COMPLETED')]
  assert outputs, os.listdir(infer_dir)
  with open(outputs[0]) as f:
    return [json.loads(line) for line in f]


def run_t5x(exp: compose.Experiment, extra_gin_files=()) -> str:
  """Runs `compose.t5x_command(exp)` + the test vocab on 2 CPU devices.

  Args:
    exp: e.g. `tiny_experiment(...)`.
    extra_gin_files: gins after the run gin, e.g. gin/runs/warm_start.gin.

  Returns:
    The run's stderr (T5X logs there); fails the test if the run fails.
  """
  cmd = (compose.t5x_command(exp, python=sys.executable)
         + [f'--gin_file={f}' for f in (TINY_VOCAB_GIN,) + tuple(
             extra_gin_files)])
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(
      [REPO, os.environ.get('PYTHONPATH', '')]),
             XLA_FLAGS=f'--xla_force_host_platform_device_count={DEVICES}')
  proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True,
                        text=True, timeout=600, check=False)
  assert proc.returncode == 0, proc.stderr[-4000:]
  return proc.stderr


# Decoder-only models (gin/models/lm_*.gin: flaxformer's DecoderOnly, T5X's
# DecoderOnlyModel).


def make_lm_batch(batch=2, prefix_len=3, length=7, vocab=128, seed=0):
  """A prefix LM batch in the shape of seqio's PrefixLMFeatureConverter.

  Each row is `length` tokens: `prefix_len` inputs, then targets. The loss
  weights cover the targets; `decoder_causal_attention` marks the inputs (and
  the first target position, whose input token is the last input), as the
  converter does. A causal LM batch is the same without the mask.
  """
  rng = np.random.RandomState(seed)
  targets = rng.randint(3, vocab, (batch, length)).astype(np.int32)
  dec_in = np.concatenate([np.zeros((batch, 1), np.int32), targets[:, :-1]], 1)
  positions = np.arange(length)[None, :].repeat(batch, 0)
  return dict(decoder_input_tokens=dec_in, decoder_target_tokens=targets,
              decoder_loss_weights=(positions >= prefix_len).astype(
                  np.float32),
              decoder_causal_attention=(positions <= prefix_len).astype(
                  np.int32))


def _lm_init_params(model, batch, seed=0):
  return model.module.init(
      jax.random.PRNGKey(seed), batch['decoder_input_tokens'],
      batch['decoder_target_tokens'], enable_dropout=False)['params']


def _lm_logits(model, params, batch):
  """Full forward pass of the causal (or, with a causal-attention mask and
  LM_INPUTS_BIDIRECTIONAL, prefix) LM: [batch, length, vocab]."""
  return model.module.apply(
      {'params': params}, batch['decoder_input_tokens'],
      batch['decoder_target_tokens'], enable_dropout=False)


def _lm_cached_decode_logits(model, params, batch):
  """Step-by-step causal decoding with the KV cache, as T5X's
  DecoderOnlyModel builds and uses its cache: [batch, length, vocab]."""
  module, dec_in = model.module, batch['decoder_input_tokens']
  length = dec_in.shape[1]
  _, variables = module.apply(
      {'params': params}, jnp.ones_like(dec_in), jnp.ones_like(dec_in),
      decode=True, enable_dropout=False, mutable=['cache'])
  cache, steps = variables['cache'], []
  for t in range(length):
    step, variables = module.apply(
        {'params': params, 'cache': cache}, dec_in[:, t:t + 1],
        dec_in[:, t:t + 1], enable_dropout=False, decode=True,
        max_decode_length=length, mutable=['cache'])
    cache = variables['cache']
    steps.append(step)
  return jnp.concatenate(steps, axis=1)


def _scanned_lm_params_from_unscanned(unscanned, scanned_template):
  """A decoder-only tree's token embedder lives in its one stack:
  {'decoder': {'token_embedder', ...}}."""
  decoder = dict(unscanned['decoder'])
  embedder = decoder.pop('token_embedder')
  template = dict(scanned_template['decoder'])
  template.pop('token_embedder')
  out = _scanned_stacks(
      {'token_embedder': embedder, 'decoder': decoder}, {'decoder': template},
      ('decoder',))
  return {'decoder': dict(out['decoder'], token_embedder=embedder)}
