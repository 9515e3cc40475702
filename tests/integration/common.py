"""Helpers of the integration tier (real t5x + flaxformer).

Test modules import this module first and call `require_t5x_stack()`, which
skips them, naming the install command, where t5x or flaxformer is missing.
"""

import contextlib
import os

import gin
import jax
import numpy as np
import pytest

from altup_flaxformer import deps

REASON = ('integration tier needs t5x and flaxformer (not on PyPI): '
          + deps.INSTALL_HINT)


def require_t5x_stack(*more: str) -> None:
  """Skips the calling test module unless t5x, flaxformer and `more` import."""
  for module in ('t5x', 'flaxformer') + more:
    pytest.importorskip(module, reason=REASON)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TINY_VOCAB_GIN = 'tests/integration/tiny_vocab.gin'


# variant -> the per-layer parameters it adds to stock layers.
NEW_PARAMS = {
    'altup': ('altup_predictor', 'altup_corrector'),
    'recycled': ('altup_predictor', 'altup_corrector'),
    'routed': ('altup_predictor', 'altup_corrector', 'altup_routed_predictor',
               'altup_routed_corrector'),
    'sequence': ('altup_sequence_coefficients',),  # encoder layers only
}


def gin_files(size='tiny', variant='altup', options=(), tiny_vocab=True):
  files = [f'gin/models/{size}.gin', f'gin/variants/{variant}.gin']
  files += [f'gin/options/{o}.gin' for o in options]
  return files + ([TINY_VOCAB_GIN] if tiny_vocab else [])


@contextlib.contextmanager
def gin_model(size='tiny', variant='altup', options=(), bindings=(),
              tiny_vocab=True):
  """Parses size + variant (+ option) gins like t5x.train does; yields MODEL.

  flaxformer builds submodules from gin factories lazily (in every `setup`),
  so the config must stay parsed while the model is used.
  """
  from t5x import models, utils  # pylint: disable=g-import-not-at-top,unused-import
  gin.clear_config()
  gin.add_config_file_search_path(REPO)
  gin.parse_config_files_and_bindings(
      gin_files(size, variant, options, tiny_vocab), list(bindings),
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


def init_params(model, batch, seed=0):
  return model.module.init(
      jax.random.PRNGKey(seed), batch['encoder_input_tokens'],
      batch['decoder_input_tokens'], batch['decoder_target_tokens'],
      enable_dropout=False)['params']


def logits(model, params, batch):
  return model.module.apply(
      {'params': params}, batch['encoder_input_tokens'],
      batch['decoder_input_tokens'], batch['decoder_target_tokens'],
      enable_dropout=False)


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
