"""Faults with real T5X: a run killed with SIGKILL resumes, to the same
parameters as an uninterrupted run; bad input fails before anything runs.

`python -m launch.local` trains a tiny AltUp K=2 model (60 steps, a checkpoint
every 10) on the offline span-corruption task. The killed run's process group
(launcher and t5x.train) gets SIGKILL once its checkpoint_10 exists; rerunning
the same command resumes from its latest checkpoint. The launchers checkpoint
the train data's position with the model (compose.SAVE_DATASET), so the resumed
run sees the batches the uninterrupted one saw.
"""

import glob
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from tests.integration import common  # pylint: disable=g-import-not-at-top
common.require_t5x_stack()

from launch import coefficients  # pylint: disable=g-import-not-at-top
from launch import compose  # pylint: disable=g-import-not-at-top
from launch import offline  # pylint: disable=g-import-not-at-top
from launch import report  # pylint: disable=g-import-not-at-top

TASK = 'altup_offline_span_corruption'
STEPS, PERIOD = 60, 10


@pytest.fixture(autouse=True)
def _offline_data():
  try:
    offline.check_requirements()
  except ImportError as e:
    pytest.skip(f'offline data package missing: {e}')


def _command(model_dir, *extra):
  return [sys.executable, '-m', 'launch.local', '--size=tiny',
          '--variant=altup', '--altup_k=2', '--run=pretrain', f'--task={TASK}',
          '--seed=3', '--options=gather_embedding', f'--train_steps={STEPS}',
          '--batch_size=4', f'--model_dir={model_dir}',
          '--gin.train.eval_period=1000', '--gin.train.eval_steps=1',
          f'--gin.train.stats_period={PERIOD}',
          f'--gin.utils.SaveCheckpointConfig.period={PERIOD}', *extra]


def _env():
  return dict(os.environ, PYTHONPATH=compose.REPO)


def _run(model_dir, *extra):
  proc = subprocess.run(_command(model_dir, *extra), cwd=compose.REPO,
                        env=_env(), capture_output=True, text=True,
                        timeout=540, check=False)
  assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
  return proc


def _kill_after_first_checkpoint(model_dir, *extra):
  """Starts the command, SIGKILLs its process group once checkpoint_10 is
  written; returns the steps of the checkpoints left behind."""
  proc = subprocess.Popen(_command(model_dir, *extra), cwd=compose.REPO,
                          env=_env(), stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL, start_new_session=True)
  first = os.path.join(model_dir, f'checkpoint_{PERIOD}')
  deadline = time.time() + 540
  while not os.path.isdir(first):
    assert proc.poll() is None, f'run ended (exit {proc.returncode}) early'
    assert time.time() < deadline, 'no checkpoint within 9 minutes'
    time.sleep(0.05)
  os.killpg(proc.pid, signal.SIGKILL)
  proc.wait()
  return sorted(int(p.rsplit('_', 1)[1]) for p in glob.glob(
      os.path.join(model_dir, 'checkpoint_*')) if p.rsplit('_', 1)[1].isdigit())


def _final_params(model_dir):
  return coefficients.load_params(os.path.join(model_dir,
                                               f'checkpoint_{STEPS}'))


def _first_step_of_last_attempt(model_dir):
  """The first train step the newest events file (the resumed run) logged."""
  newest = max(glob.glob(os.path.join(model_dir, 'train', 'events.out.*')),
               key=os.path.getmtime)
  single = f'{model_dir}_newest_events'
  os.makedirs(single)
  os.symlink(newest, os.path.join(single, os.path.basename(newest)))
  return report.read_scalars(single)['loss'][0][0]


def _assert_resumed(model_dir, left):
  assert left and left[-1] < STEPS, left  # killed before the end
  # Resumed from the last checkpoint, not from step 0.
  assert _first_step_of_last_attempt(model_dir) > left[-1]


def test_killed_run_resumes_to_the_uninterrupted_parameters(tmp_path):
  straight, killed = tmp_path / 'straight', tmp_path / 'killed'
  _run(straight)
  left = _kill_after_first_checkpoint(killed)
  # The killed launcher's lock names a dead process: the rerun takes it over.
  assert (killed / 'RUNNING').exists()
  _run(killed)
  _assert_resumed(killed, left)
  assert not (killed / 'RUNNING').exists()
  want, got = _final_params(straight), _final_params(killed)
  same = jax.tree_util.tree_map(np.array_equal, want, got)
  assert all(jax.tree_util.tree_leaves(same))  # bit for bit
  # The resumed run's train losses after the kill are the straight run's.
  straight_loss = dict(report.read_scalars(str(straight / 'train'))['loss'])
  killed_loss = dict(report.read_scalars(str(killed / 'train'))['loss'])
  assert killed_loss == straight_loss


def test_without_data_checkpoints_a_resumed_run_replays_the_data(tmp_path):
  """What the default avoids: T5X restores the model but restarts the data."""
  off = f'--gin.{compose.SAVE_DATASET}=False'
  straight, killed = tmp_path / 'straight', tmp_path / 'killed'
  _run(straight, off)
  left = _kill_after_first_checkpoint(killed, off)
  _run(killed, off)
  _assert_resumed(killed, left)
  want, got = _final_params(straight), _final_params(killed)
  same = jax.tree_util.tree_map(np.array_equal, want, got)
  assert not all(jax.tree_util.tree_leaves(same))


def test_resuming_with_another_model_is_refused_before_t5x_starts(tmp_path):
  _run(tmp_path)
  before = sorted(os.listdir(tmp_path))
  proc = subprocess.run(
      [a.replace('--altup_k=2', '--altup_k=4') for a in _command(tmp_path)],
      cwd=compose.REPO, env=_env(), capture_output=True, text=True,
      timeout=300, check=False)
  assert proc.returncode == 1
  assert 'holds checkpoints of another model: altup_k 2 (this run: 4)' in (
      proc.stderr)
  assert sorted(os.listdir(tmp_path)) == before
