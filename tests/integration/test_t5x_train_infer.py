"""Real `python -m t5x.train`, then `t5x.infer` / `t5x.eval`, per variant.

Every command is the launchers' (`launch.compose.t5x_command`: a size gin of
one family, one gin/variants/*.gin, T5X's own run gins) plus
tests/integration/tiny_vocab.gin, on 2 CPU devices with T5X's model-parallel
CPU mesh; the in-memory task is tests/integration/tiny_task.py. The families:
tiny (T5.1.1), t5_1_0_tiny (T5.1.0: logits tied to the token embedding, K·d
wide for full AltUp) and lm_tiny (decoder-only: T5X's DecoderOnlyModel trains
the task's inputs + targets as a prefix LM, seqio's PrefixLMFeatureConverter,
and infers by prefilling the inputs, then decoding).
"""

import glob
import os

import pytest

from launch import families
from tests.integration import common

STEPS = 4
PARTITIONS = 2


def train(tmp_path, variant, scan=False, size='tiny'):
  model_dir = str(tmp_path / 'model')
  common.run_t5x(common.tiny_experiment(
      variant, 'pretrain', model_dir, size=size, train_steps=STEPS,
      batch_size=8,
      num_partitions=PARTITIONS, scan=scan,
      gin_overrides=(('train.eval_period', '2'), ('train.eval_steps', '2'))))
  return model_dir


def check_model_dir(model_dir, size, variant):
  """The final checkpoint, the parameters the variant adds (model-info.txt),
  the family's model class (config.gin) and TensorBoard summaries."""
  assert os.path.isdir(os.path.join(model_dir, f'checkpoint_{STEPS}'))
  info = open(os.path.join(model_dir, 'model-info.txt')).read()
  new_param = {'sequence': 'altup_sequence_coefficients',
               'routed': 'altup_routed_predictor'}.get(variant,
                                                       'altup_predictor')
  assert (new_param in info) == (variant != 'baseline')
  config = open(os.path.join(model_dir, 'config.gin')).read()
  if families.is_decoder_only(size):
    assert 'decoder/token_embedder/embedding' in info
    assert 'encoder' not in info  # one stack
    assert 'models.DecoderOnlyModel' in config
  else:
    assert 'encoder/' in info  # layers_<i>, or the stacked (scanned) layers
    assert 'models.EncoderDecoderModel' in config
  assert glob.glob(os.path.join(model_dir, 'train', 'events.out.tfevents*'))


@pytest.mark.parametrize('size,variant,scan', [
    ('tiny', 'baseline', False), ('tiny', 'altup', False),
    ('tiny', 'recycled', False), ('tiny', 'altup', True),
    ('tiny', 'routed', False), ('tiny', 'sequence', False),
    ('t5_1_0_tiny', 'baseline', False), ('t5_1_0_tiny', 'altup', False),
    ('t5_1_0_tiny', 'recycled', False)] + [
        ('lm_tiny', v, False) for v in families.DECODER_ONLY_VARIANTS] + [
            ('lm_tiny', 'altup', True)])
def test_train_then_infer(tmp_path, size, variant, scan):
  model_dir = train(tmp_path, variant, scan, size)
  check_model_dir(model_dir, size, variant)
  infer_dir = str(tmp_path / 'infer')
  common.run_t5x(common.tiny_experiment(
      variant, 'infer', infer_dir, size=size,
      checkpoint=os.path.join(model_dir, f'checkpoint_{STEPS}'),
      num_partitions=PARTITIONS, scan=scan))
  rows = common.infer_rows(infer_dir)
  assert len(rows) == 64
  assert all('prediction' in r for r in rows)


@pytest.mark.parametrize('size,variant', [
    ('tiny', 'recycled'), ('t5_1_0_tiny', 'altup'), ('lm_tiny', 'altup')])
def test_train_then_eval(tmp_path, size, variant):
  """t5x.eval's inference evaluation: decodes the validation split and
  scores it with the task's metric."""
  model_dir = train(tmp_path, variant, size=size)
  eval_dir = str(tmp_path / 'eval')
  common.run_t5x(common.tiny_experiment(
      variant, 'eval', eval_dir, size=size,
      checkpoint=os.path.join(model_dir, f'checkpoint_{STEPS}'),
      num_partitions=PARTITIONS,
      gin_overrides=(('utils.DatasetConfig.split', "'validation'"),)))
  metrics = glob.glob(os.path.join(eval_dir, 'inference_eval', '*metrics*'))
  assert metrics, os.listdir(eval_dir)
  text = open(metrics[0]).read()
  assert 'sequence_accuracy' in text
