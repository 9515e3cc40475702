"""Real `python -m t5x.train`, then `t5x.infer` / `t5x.eval`, per variant.

Everything goes through the public gin files (gin/models/tiny.gin, one
gin/variants/*.gin, T5X's own run gins) on 2 CPU devices with T5X's
model-parallel CPU mesh; the in-memory task is tests/integration/tiny_task.py.
"""

import glob
import json
import os
import subprocess
import sys

import pytest

from tests.integration import common  # pylint: disable=g-import-not-at-top
common.require_t5x_stack()


STEPS = 4
TASK_FLAGS = [
    "--gin.MIXTURE_OR_TASK_NAME='altup_test_reverse'",
    "--gin.MIXTURE_OR_TASK_MODULE='tests.integration.tiny_task'",
    "--gin.TASK_FEATURE_LENGTHS={'inputs': 16, 'targets': 16}",
]


def run_t5x(mode, variant, run_gin, flags, options=()):
  env = dict(os.environ, PYTHONPATH=os.pathsep.join(
      [common.REPO, os.environ.get('PYTHONPATH', '')]),
             XLA_FLAGS='--xla_force_host_platform_device_count=2')
  files = common.gin_files('tiny', variant, options) + [run_gin]
  cmd = ([sys.executable, '-m', f't5x.{mode}',
          f'--gin_search_paths={common.REPO}']
         + [f'--gin_file={f}' for f in files] + TASK_FLAGS
         + ['--gin.partitioning.PjitPartitioner.num_partitions=2'] + flags)
  proc = subprocess.run(cmd, env=env, capture_output=True, text=True,
                        timeout=600, check=False)
  assert proc.returncode == 0, proc.stderr[-4000:]
  return proc.stderr


def train(tmp_path, variant, options=()):
  model_dir = str(tmp_path / 'model')
  run_t5x('train', variant, 't5x/configs/runs/pretrain.gin', [
      f"--gin.MODEL_DIR='{model_dir}'", f'--gin.TRAIN_STEPS={STEPS}',
      '--gin.BATCH_SIZE=8', '--gin.USE_CACHED_TASKS=False',
      '--gin.train.eval_period=2', '--gin.train.eval_steps=2',
      '--gin.ALTUP_K=2'], options)
  return model_dir


@pytest.mark.parametrize('variant,options', [
    ('baseline', ()), ('altup', ()), ('recycled', ()), ('altup', ('scan',)),
    ('routed', ()), ('sequence', ())])
def test_train_then_infer(tmp_path, variant, options):
  model_dir = train(tmp_path, variant, options)
  checkpoint = os.path.join(model_dir, f'checkpoint_{STEPS}')
  assert os.path.isdir(checkpoint)
  info = open(os.path.join(model_dir, 'model-info.txt')).read()
  new_param = {'sequence': 'altup_sequence_coefficients',
               'routed': 'altup_routed_predictor'}.get(variant,
                                                       'altup_predictor')
  assert (new_param in info) == (variant != 'baseline')
  assert glob.glob(os.path.join(model_dir, 'train', 'events.out.tfevents*'))

  infer_dir = str(tmp_path / 'infer')
  run_t5x('infer', variant, 't5x/configs/runs/infer.gin', [
      f"--gin.CHECKPOINT_PATH='{checkpoint}'",
      f"--gin.INFER_OUTPUT_DIR='{infer_dir}'", '--gin.ALTUP_K=2'], options)
  outputs = [f for f in glob.glob(os.path.join(infer_dir, '*-predict.jsonl*'))
             if not f.endswith('.COMPLETED')]
  assert outputs, os.listdir(infer_dir)
  rows = [json.loads(l) for l in open(outputs[0])]
  assert len(rows) == 64
  assert all('prediction' in r for r in rows)


def test_train_then_eval(tmp_path):
  model_dir = train(tmp_path, 'recycled')
  eval_dir = str(tmp_path / 'eval')
  run_t5x('eval', 'recycled', 't5x/configs/runs/eval.gin', [
      f"--gin.CHECKPOINT_PATH='{model_dir}/checkpoint_{STEPS}'",
      f"--gin.EVAL_OUTPUT_DIR='{eval_dir}'", '--gin.ALTUP_K=2',
      "--gin.utils.DatasetConfig.split='validation'"])
  metrics = glob.glob(os.path.join(eval_dir, 'inference_eval', '*metrics*'))
  assert metrics, os.listdir(eval_dir)
  text = open(metrics[0]).read()
  assert 'sequence_accuracy' in text
