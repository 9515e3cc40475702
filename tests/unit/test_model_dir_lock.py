"""One process per model dir: launch.runner's lock and the sweeps that honour it."""

import os
import socket
import subprocess
import sys

import pytest

from launch import runner
from launch import sweeps


def test_lock_is_held_while_running_and_released_after(tmp_path):
  lock = tmp_path / 'run' / runner.LOCK_FILE
  with runner.model_dir_lock(str(tmp_path / 'run')):
    assert lock.read_text() == f'{socket.gethostname()} {os.getpid()}\n'
    with pytest.raises(runner.Busy, match=f'process {os.getpid()} .*delete '
                       f'{lock}'):
      with runner.model_dir_lock(str(tmp_path / 'run')):
        pass
  assert not lock.exists()


def test_lock_of_a_killed_process_is_taken_over(tmp_path):
  gone = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'],
                        capture_output=True, text=True, check=True)
  lock = tmp_path / runner.LOCK_FILE
  lock.write_text(f'{socket.gethostname()} {gone.stdout.strip()}\n')
  with runner.model_dir_lock(str(tmp_path)):
    assert lock.read_text().split() == [socket.gethostname(), str(os.getpid())]
  assert not lock.exists()


def test_lock_held_on_another_host_is_trusted(tmp_path):
  (tmp_path / runner.LOCK_FILE).write_text('other-host 1\n')
  with pytest.raises(runner.Busy, match='process 1 on other-host'):
    with runner.model_dir_lock(str(tmp_path)):
      pass


def test_sweep_skips_a_busy_run_and_what_depends_on_it(tmp_path, monkeypatch):
  jobs = sweeps.select(sweeps.expand(sweeps.SWEEPS['offline_study'],
                                     str(tmp_path)), ['tiny_altup_k2'], [0, 1])
  ran = []

  def fake_run(exp, log_path=None, echo=print):
    del log_path, echo
    if '/seed_0/' in exp.model_dir:  # another sweep is training seed 0
      raise runner.Busy(f'{exp.model_dir} is being trained by process 7')
    ran.append(exp.model_dir)
    os.makedirs(exp.model_dir, exist_ok=True)

  monkeypatch.setattr(runner, 'run', fake_run)
  busy, said = set(), []
  for job in jobs:
    sweeps.run_local(job, busy, echo=said.append)
  assert [os.path.relpath(d, tmp_path) for d in ran] == [
      'tiny_altup_k2/seed_1/pretrain', 'tiny_altup_k2/seed_1/finetune_sentiment']
  assert busy == {'tiny_altup_k2/seed_0/pretrain',
                  'tiny_altup_k2/seed_0/finetune_sentiment'}
  assert said[1] == ('  tiny_altup_k2/seed_0/pretrain is running elsewhere, '
                     'skipping')
  # Finished jobs are marked; the busy ones are not.
  assert [sweeps.finished(j) for j in jobs] == [False, False, True, True]
