"""What a newcomer meets first: install files, entry points, README."""

import importlib.metadata
import os
import re
import subprocess
import sys

import pytest

from altup_flaxformer import deps
from launch import compose

REPO = compose.REPO
BIN = os.path.dirname(sys.executable)
PROGRAMS = ('offline', 'local', 'xm-launch', 'tpu-vm', 'sweeps', 'report',
            'floor', 'coefficients', 'cost')


def _text(path):
  with open(os.path.join(REPO, path)) as f:
    return f.read()


def _run_hiding(hide, module, args):
  """`python -m module args` with the modules in `hide` unimportable."""
  code = ('import runpy, sys\n'
          f'for m in {list(hide)!r}: sys.modules[m] = None\n'
          f'sys.argv = {[module] + list(args)!r}\n'
          f'runpy.run_module({module!r}, run_name="__main__")\n')
  return subprocess.run([sys.executable, '-c', code], cwd=REPO,
                        capture_output=True, text=True, check=False,
                        env=dict(os.environ, PYTHONPATH=REPO))


def test_entry_points_run_from_any_directory(tmp_path):
  """Installed as README says, the launchers need no cwd or PYTHONPATH."""
  dist = importlib.metadata.distribution('altup-t5x')
  scripts = {e.name for e in dist.entry_points if e.group == 'console_scripts'}
  assert scripts == {f'altup-{p}' for p in PROGRAMS}
  env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
  proc = subprocess.run(
      [sys.executable, '-m', 'launch.local', '--dry_run', '--train_steps=5',
       f'--model_dir={tmp_path / "run"}'],
      cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert f'--gin_search_paths={REPO}' in proc.stdout
  assert not (tmp_path / 'run').exists()


def test_a_dry_run_imports_no_tensorflow(tmp_path):
  proc = subprocess.run(
      [sys.executable, '-X', 'importtime', '-m', 'launch.local', '--dry_run',
       '--task=altup_glue_proportional', '--train_steps=5',
       f'--model_dir={tmp_path}/run'], cwd=REPO, capture_output=True,
      text=True, check=False, env=dict(os.environ, PYTHONPATH=REPO))
  assert proc.returncode == 0, proc.stderr[-2000:]
  imported = {l.split('|')[-1].strip() for l in proc.stderr.splitlines()
              if l.startswith('import time:')}
  assert 'absl.flags' in imported  # the import log was read
  assert not {m for m in imported if m.split('.')[0] in (
      'tensorflow', 'seqio', 'jax')}


@pytest.mark.parametrize('module,args', [
    ('launch.local', ['--train_steps=5', '--model_dir={run}']),
    ('launch.offline', ['--model_dir={run}']),
    ('launch.sweeps', ['--sweep=offline_tiny', '--root={run}',
                       '--models=tiny_baseline_k1']),
    ('benchmarks.altup_cost', ['--size=tiny', '--output_dir={run}']),
])
def test_without_t5x_every_entry_point_fails_at_once_naming_the_install(
    tmp_path, module, args):
  run = tmp_path / 'run'
  proc = _run_hiding(('t5x', 'flaxformer'), module,
                     [a.format(run=run) for a in args])
  assert proc.returncode != 0
  error = proc.stderr.strip().splitlines()
  assert len(error) == 1 and deps.INSTALL_COMMAND in error[0], error[-5:]
  assert not run.exists()  # nothing written


def test_offline_dry_run_prints_the_jobs_and_writes_nothing(tmp_path):
  proc = subprocess.run(
      [sys.executable, '-m', 'launch.offline', f'--model_dir={tmp_path}/run',
       '--dry_run'], cwd=REPO, capture_output=True, text=True, check=False,
      env=dict(os.environ, PYTHONPATH=REPO))
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert proc.stdout.count('python -m t5x.train') == 4
  assert '[tiny_altup_k2/finetune_sentiment]' in proc.stdout
  assert not (tmp_path / 'run').exists()


def test_one_tensorflow():
  """tensorflow-cpu next to seqio's tensorflow would install TF twice."""
  for path in ('setup.py', 'requirements-t5x.txt', 'requirements-nodeps.txt',
               'requirements-github.txt'):
    lines = [l for l in _text(path).splitlines() if not l.startswith('#')]
    assert not any('tensorflow-cpu' in l for l in lines), path
  assert 'tensorflow==' in _text('requirements-t5x.txt')


def test_github_packages_are_pinned_to_commits():
  pins = [l for l in _text('requirements-github.txt').splitlines()
          if 'git+https://' in l]
  assert len(pins) == 5
  for line in pins:
    assert re.search(r'@[0-9a-f]{40}(#|$)', line), line


def _tracked_text_files():
  out = subprocess.run(['git', 'ls-files'], cwd=REPO, capture_output=True,
                       text=True, check=True).stdout.split()
  return [f for f in out if f.endswith(('.py', '.md', '.gin', '.txt', '.toml'))
          and '/runs/' not in f and os.path.exists(os.path.join(REPO, f))]


def test_readme_is_lean_and_its_links_exist():
  readme = _text('README.md')
  assert len(readme.splitlines()) <= 250
  for link in re.findall(r'\]\(((?!https?:)[^)#]+)\)', readme):
    assert os.path.exists(os.path.join(REPO, link)), link


def test_the_repository_speaks_of_itself_only():
  """No work-item numbers or notes that live outside the repository."""
  internal = re.compile(r'\b[Ii]ssue \d+\b|notes \u00a7|\.\./shared|'
                        r'[Tt]argets of issue')
  found = [f for f in _tracked_text_files() if internal.search(_text(f))]
  assert not found
