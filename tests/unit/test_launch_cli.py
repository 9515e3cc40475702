"""The launchers' command lines: dry runs of launch.local and launch.xm_launch,
flag validation, and the embedding form each platform gets."""

import json
import os
import shlex
import subprocess
import sys

import pytest

from launch import compose


def _run_module(*args):
  """`python -m <args>` from the repository, as a user runs it."""
  return subprocess.run([sys.executable, '-m', *args], cwd=compose.REPO,
                        capture_output=True, text=True, check=False,
                        env=dict(os.environ, PYTHONPATH=compose.REPO))


@pytest.mark.parametrize('size,variant', [('small', 'recycled'),
                                          ('t5_1_0_small', 'altup'),
                                          ('t5_1_0_3B', 'recycled')])
def test_local_dry_run_prints_the_command(tmp_path, size, variant):
  proc = _run_module('launch.local', f'--size={size}',
       f'--variant={variant}', '--altup_k=4', '--run=pretrain',
       '--task=altup_c4_span_corruption', '--feature_lengths=inputs=512,'
       'targets=114', '--train_steps=100', f'--model_dir={tmp_path}',
       '--gin.DROPOUT_RATE=0.1', '--dry_run')
  assert proc.returncode == 0, proc.stderr[-2000:]
  out = proc.stdout.strip()
  assert out.startswith('python -m t5x.train --gin_search_paths=')
  assert f'--gin_file=gin/models/{size}.gin' in out
  assert f'--gin_file=gin/variants/{variant}.gin' in out
  assert '--gin.ALTUP_K=4' in out and '--gin.DROPOUT_RATE=0.1' in out
  # --embedding=auto on this machine (no TPU): the gather form.
  assert out.endswith('--gin_file=gin/options/gather_embedding.gin') or (
      '--gin_file=gin/options/gather_embedding.gin ' in out)


def test_embedding_choice_per_platform():
  assert compose.embedding_options('auto', 'cpu') == ('gather_embedding',)
  assert compose.embedding_options('auto', 'gpu') == ('gather_embedding',)
  assert compose.embedding_options('auto', 'tpu') == ()
  assert compose.embedding_options('one_hot', 'cpu') == ()
  assert compose.embedding_options('gather', 'tpu') == ('gather_embedding',)
  with pytest.raises(ValueError, match='choose from auto, one_hot, gather'):
    compose.embedding_options('dense', 'cpu')


@pytest.mark.parametrize('flags,gather', [
    (['--embedding=one_hot'], False), (['--embedding=gather'], True),
    (['--options=gather_embedding'], True)])
def test_local_embedding_flag(tmp_path, flags, gather):
  proc = _run_module('launch.local', '--variant=altup', *flags,
       '--train_steps=1', f'--model_dir={tmp_path}', '--dry_run')
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert proc.stdout.count('gin/options/gather_embedding.gin') == int(gather)


def test_local_refuses_one_hot_with_the_gather_option(tmp_path):
  proc = _run_module('launch.local', '--embedding=one_hot',
       '--options=gather_embedding', '--train_steps=1',
       f'--model_dir={tmp_path}', '--dry_run')
  assert proc.returncode != 0
  assert ('--options=gather_embedding contradicts --embedding=one_hot'
          in proc.stderr)


def test_local_rejects_bad_flags_before_launch():
  proc = _run_module('launch.local', '--variant=baseline',
       '--altup_k=2', '--model_dir=/tmp/x', '--train_steps=1', '--dry_run')
  assert proc.returncode != 0
  assert '--variant=baseline is the model without AltUp (K=1)' in proc.stderr


@pytest.mark.parametrize('flags,message', [
    (['--variant=altup', '--altup_k=0'], '--altup_k must be an int >= 1, got 0'),
    (['--variant=altup', '--seed=-3'], '--seed must be an int >= 0'),
    (['--variant=altup', '--options=fast'], "Unknown option 'fast'"),
])
def test_local_refuses_k0_negative_seed_and_unknown_options(flags, message):
  proc = _run_module('launch.local', *flags, '--model_dir=/tmp/x',
       '--train_steps=1', '--dry_run')
  assert proc.returncode != 0
  assert message in proc.stderr


def test_xm_dry_run_without_xmanager():
  proc = _run_module('launch.xm_launch', '--size=base',
       '--variant=altup', '--altup_k=2', '--train_steps=500000',
       '--model_dir=gs://b/run', '--tpu=v5p-8', '--gin.Z_LOSS=0.0',
       '--dry_run')
  assert proc.returncode == 0, proc.stderr[-2000:]
  # The spec (JSON), then the entry point as one shell line.
  spec, end = json.JSONDecoder().raw_decode(proc.stdout)
  assert proc.stdout[end:].strip() == shlex.join(spec['entrypoint'])
  assert spec['requirements'] == {'tpu_v5p': 8}
  assert spec['entrypoint'][:4] == ['python3', '-m', 't5x.main',
                                    '--run_mode=train']
  assert '--gin.Z_LOSS=0.0' in spec['entrypoint']
  # --embedding=auto on a TPU: T5.1.1's one-hot embedding (no option gin).
  assert not any('gin/options/' in a for a in spec['entrypoint'])
  # The image installs README's pinned stack, then the TPU's jax.
  assert spec['docker_instructions'][-2:] == [
      'RUN pip install -r requirements-t5x.txt && pip install --no-deps -r '
      'requirements-nodeps.txt && pip install --no-deps -r '
      'requirements-github.txt',
      "RUN pip install 'jax[tpu]==0.10.2' -f "
      'https://storage.googleapis.com/jax-releases/libtpu_releases.html']
  with open(os.path.join(compose.REPO, 'requirements-t5x.txt')) as f:
    assert 'jax[cpu]==0.10.2\n' in f.read()  # one jax version everywhere


def test_local_dry_run_uses_the_task_lengths_and_registry(tmp_path):
  proc = _run_module('launch.local', '--variant=baseline',
       '--run=finetune', '--task=altup_offline_sentiment',
       '--train_steps=500', '--checkpoint=/tmp/pre/checkpoint_300',
       f'--model_dir={tmp_path}', '--dry_run')
  assert proc.returncode == 0, proc.stderr[-2000:]
  cmd = shlex.split(proc.stdout)
  assert "--gin.TASK_FEATURE_LENGTHS={'inputs': 128, 'targets': 4}" in cmd
  assert "--gin.INITIAL_CHECKPOINT_PATH='/tmp/pre/checkpoint_300'" in cmd
  assert '--gin_file=t5x/configs/runs/finetune.gin' in cmd
  assert not any(a.startswith('--gin.ALTUP_K') for a in cmd)


# Every program of the repository (`python -m <module>`).
ENTRY_POINTS = ('launch.local', 'launch.xm_launch', 'launch.tpu_vm',
                'launch.sweeps', 'launch.offline', 'launch.report',
                'launch.floor', 'launch.coefficients', 'benchmarks.altup_cost',
                'benchmarks.mesh_cost', 'benchmarks.soak',
                'tasks.build_offline_vocab', 'altup_flaxformer.warm_start')
_IMPORT_ALL = '''
import importlib, json, sys
from absl import app, flags, logging  # absl's own flags (--pdb, --logtostderr)
before, out = set(flags.FLAGS), {}
for name in sys.argv[1:]:
  try:
    importlib.import_module(name)
  except ImportError as e:  # an optional dependency this venv lacks
    out[name] = 'ImportError: %s' % e
    continue
  out[name] = sorted(set(flags.FLAGS) - before)
print(json.dumps(out))
'''


def test_entry_points_define_no_flags_at_import():
  """Each program defines its absl flags in define_flags() (launch.cli.run
  calls it), so that one process can import them all, as the test suite
  does: two programs that defined --models at import could not be."""
  proc = subprocess.run([sys.executable, '-c', _IMPORT_ALL, *ENTRY_POINTS],
                        cwd=compose.REPO, capture_output=True, text=True,
                        check=False, env=dict(os.environ,
                                              PYTHONPATH=compose.REPO))
  assert proc.returncode == 0, proc.stderr[-2000:]
  out = json.loads(proc.stdout.strip().splitlines()[-1])
  imported = {m: new for m, new in out.items() if isinstance(new, list)}
  assert {'launch.local', 'launch.sweeps', 'benchmarks.altup_cost',
          'benchmarks.mesh_cost'} <= set(imported), out
  assert all(new == [] for new in imported.values()), imported
