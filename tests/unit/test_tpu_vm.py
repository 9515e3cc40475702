"""launch.tpu_vm: the gcloud commands for a TPU VM or pod slice."""

import os
import shlex
import subprocess
import sys

import pytest

from altup_flaxformer import deps
from launch import compose
from launch import tpu_vm


def _exp(model_dir='gs://b/base_altup_k2'):
  return compose.Experiment(
      size='base', variant='altup', altup_k=2, run='pretrain',
      task='altup_c4_span_corruption', model_dir=model_dir,
      feature_lengths={'inputs': 512, 'targets': 114}, train_steps=500000,
      batch_size=256)


@pytest.mark.parametrize('tpu,hosts', [('v3-8', 1), ('v3-32', 4), ('v4-8', 1),
                                       ('v4-32', 4), ('v5litepod-16', 2),
                                       ('v5p-8', 1)])
def test_hosts_per_accelerator_type(tpu, hosts):
  assert tpu_vm.hosts(tpu) == hosts


def test_pod_slice_commands_run_on_every_worker():
  cmds = tpu_vm.commands(_exp(), 'altup-v4', 'us-central2-b', 'v4-32',
                         project='p', spot=True)
  create, archive, scp, install, run = cmds
  assert create == [
      'gcloud', 'compute', 'tpus', 'tpu-vm', 'create', 'altup-v4',
      '--zone=us-central2-b', '--project=p', '--accelerator-type=v4-32',
      '--version=tpu-ubuntu2204-base', '--spot']
  assert archive[:3] == ['git', '-C', compose.REPO] and archive[-1] == 'HEAD'
  assert scp[4:7] == ['scp', '/tmp/altup-t5x.tar.gz', 'altup-v4:altup-t5x.tar.gz']
  for cmd in (scp, install, run):
    assert '--worker=all' in cmd and '--zone=us-central2-b' in cmd
  script = install[-1]
  assert deps.INSTALL_COMMAND in script  # README's pinned stack
  assert "pip install 'jax[tpu]==0.10.2'" in script
  command = run[-1].split('=', 1)[1]
  assert 'python3 -m t5x.train --gin_search_paths=. ' in command
  assert '--gin_file=gin/variants/altup.gin' in command
  assert "'--gin.MODEL_DIR='\"'\"'gs://b/base_altup_k2'\"'\"''" in command
  assert 'gsutil cp ~/t5x.log gs://b/base_altup_k2/logs/$(hostname).log' in (
      command)
  assert command.endswith('exit $status')  # the run's exit code, not tee's
  # An existing VM, already installed: only the run.
  assert len(tpu_vm.commands(_exp(), 'altup-v4', 'us-central2-b', 'v4-32',
                             create=False, install=False)) == 1
  # v5e and v5p have their own TPU software.
  assert '--version=v2-alpha-tpuv5-lite' in tpu_vm.commands(
      _exp(), 'a', 'us-west4-a', 'v5litepod-16')[0]


@pytest.mark.parametrize('name,zone,tpu,model_dir,message', [
    ('Altup', 'us-central2-b', 'v4-8', 'gs://b/r', "Bad --tpu_name='Altup'"),
    (None, 'us-central2-b', 'v4-8', 'gs://b/r', 'Bad --tpu_name=None'),
    ('altup', 'uscentral', 'v4-8', 'gs://b/r', "Bad --zone='uscentral'"),
    ('altup', 'us-central2-b', 'v9-8', 'gs://b/r', "Unknown --tpu='v9-8'"),
    ('altup', 'us-central2-b', 'v4', 'gs://b/r', "Unknown --tpu='v4'"),
    ('altup', 'us-central2-b', 'v4-32', '/tmp/r', 'has 4 hosts, which must '
     'all write one model dir: use --model_dir=gs://'),
])
def test_bad_flags_name_the_fix(name, zone, tpu, model_dir, message):
  with pytest.raises(ValueError, match=message):
    tpu_vm.check(name, zone, tpu, model_dir)
  tpu_vm.check('altup', 'us-central2-b', 'v4-8', '/tmp/r')  # one host: fine


def _dry_run(model_dir):
  return subprocess.run(
      [sys.executable, '-m', 'launch.tpu_vm', '--tpu_name=altup-v4',
       '--zone=us-central2-b', '--tpu=v4-32', '--train_steps=1000',
       f'--model_dir={model_dir}', '--dry_run'], cwd=compose.REPO,
      capture_output=True, text=True, check=False,
      env=dict(os.environ, PYTHONPATH=compose.REPO))


def test_dry_run_prints_every_command_and_runs_none():
  proc = _dry_run('gs://b/run')
  assert proc.returncode == 0, proc.stderr[-2000:]
  lines = proc.stdout.splitlines()
  assert [shlex.split(l)[:5] for l in lines][0] == [
      'gcloud', 'compute', 'tpus', 'tpu-vm', 'create']
  assert len(lines) == 5
  bad = _dry_run('/tmp/run')
  assert bad.returncode != 0 and bad.stdout == ''
  assert bad.stderr.strip().startswith('launch.tpu_vm: --tpu=v4-32 has 4 hosts')
