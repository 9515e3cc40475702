"""Real `python -m t5x.train`, then `t5x.infer`, for each decoder-only variant.

The launchers' commands (`launch.compose.t5x_command`:
gin/models/lm_tiny.gin, one gin/variants/*.gin, T5X's own run gins) plus
tests/integration/tiny_vocab.gin, on 2 CPU devices with T5X's model-parallel
CPU mesh. The in-memory task of tests/integration/tiny_task.py has inputs and
targets, so T5X's DecoderOnlyModel trains it as a prefix LM (seqio's
PrefixLMFeatureConverter) and infers by prefilling the inputs, then decoding.
"""

import glob
import os

import pytest

from launch import families
from tests.integration import common

STEPS = 4
PARTITIONS = 2
SIZE = 'lm_tiny'


@pytest.mark.parametrize('variant,scan', [
    (v, False) for v in families.DECODER_ONLY_VARIANTS] + [('altup', True)])
def test_lm_train_then_infer(tmp_path, variant, scan):
  model_dir = str(tmp_path / 'model')
  common.run_t5x(common.tiny_experiment(
      variant, 'pretrain', model_dir, size=SIZE, train_steps=STEPS,
      batch_size=8, num_partitions=PARTITIONS, scan=scan,
      gin_overrides=(('train.eval_period', '2'), ('train.eval_steps', '2'))))
  checkpoint = os.path.join(model_dir, f'checkpoint_{STEPS}')
  assert os.path.isdir(checkpoint)
  info = open(os.path.join(model_dir, 'model-info.txt')).read()
  assert 'decoder/token_embedder/embedding' in info
  assert 'encoder' not in info  # one stack
  new_param = ('altup_routed_predictor' if variant == 'routed'
               else 'altup_predictor')
  assert (new_param in info) == (variant != 'baseline')
  config = open(os.path.join(model_dir, 'config.gin')).read()
  assert 'models.DecoderOnlyModel' in config
  assert glob.glob(os.path.join(model_dir, 'train', 'events.out.tfevents*'))

  infer_dir = str(tmp_path / 'infer')
  common.run_t5x(common.tiny_experiment(
      variant, 'infer', infer_dir, size=SIZE, checkpoint=checkpoint,
      num_partitions=PARTITIONS, scan=scan))
  rows = common.infer_rows(infer_dir)
  assert len(rows) == 64
  assert all('prediction' in r for r in rows)
