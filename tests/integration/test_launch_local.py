"""A real tiny `python -m launch.local` pretrain (few steps) and the report over it."""

import os
import subprocess
import sys

import numpy as np
import pytest

from tests.integration import common  # pylint: disable=g-import-not-at-top
common.require_t5x_stack()

from launch import coefficients  # pylint: disable=g-import-not-at-top
from launch import compose  # pylint: disable=g-import-not-at-top
from launch import offline  # pylint: disable=g-import-not-at-top
from launch import report  # pylint: disable=g-import-not-at-top
from launch import sweeps  # pylint: disable=g-import-not-at-top

TASK = 'altup_offline_span_corruption'


def test_local_pretrain_then_report(tmp_path):
  try:
    offline.check_requirements()
  except ImportError as e:
    pytest.skip(f'offline data package missing: {e}')
  model_dir = tmp_path / 'tiny_altup_k2' / 'pretrain'
  proc = subprocess.run(
      [sys.executable, '-m', 'launch.local', '--size=tiny', '--variant=altup',
       '--altup_k=2', '--run=pretrain', f'--task={TASK}',
       '--train_steps=4', '--batch_size=4', f'--model_dir={model_dir}',
       '--gin.train.eval_period=4', '--gin.train.stats_period=2',
       '--gin.train.eval_steps=2', '--gin.utils.SaveCheckpointConfig.period=4'],
      cwd=compose.REPO, capture_output=True, text=True, check=False,
      env=dict(os.environ, PYTHONPATH=compose.REPO), timeout=540)
  assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
  assert 'step      4 train: loss=' in proc.stdout  # visible progress
  assert f'step      4 training_eval/{TASK}:' in proc.stdout
  assert (model_dir / 'checkpoint_4').is_dir()
  assert (model_dir / 't5x_pretrain.log').exists()

  accuracy = report.metric(str(model_dir), f'training_eval/{TASK}', 'accuracy')
  assert 0 <= accuracy <= 1
  assert report.metric(str(model_dir), 'train', 'timing/steps_per_second') > 0
  # The sweep report over this one run: its row filled, the others gaps.
  jobs = [j for j in sweeps.expand(sweeps.SWEEPS['offline_tiny'], str(tmp_path))]
  header, rows = report.sweep_table(jobs)
  table = {r[0]: dict(zip(header, r)) for r in rows}
  assert table['tiny_altup_k2']['span accuracy'] == pytest.approx(accuracy)
  assert table['tiny_altup_k2']['params']
  assert table['tiny_altup_k2']['sentiment accuracy'] is None
  assert table['tiny_baseline_k1']['span accuracy'] is None

  # What AltUp learned, read back from the real T5X checkpoint.
  rows = coefficients.layer_rows(
      coefficients.load_params(str(model_dir / 'checkpoint_4')),
      coefficients.run_selection(str(model_dir)))
  assert [(r['stack'], r['layer']) for r in rows] == [
      (s, l) for s in ('encoder', 'decoder') for l in range(4)]
  assert [r['active block'] for r in rows[:4]] == [0, 1, 0, 1]
  for row in rows:
    assert row['p'].shape == (2, 2) and row['g'].shape == (2,)
    # 4 Adafactor steps moved them off the identity init, a little.
    assert 0 < abs(row['p'] - np.eye(2)).max() < 0.5
