"""`python -m benchmarks.altup_cost --model_only` on the tiny size, in a
subprocess that refuses t5x, seqio and TensorFlow (no timing checks).

The subprocess puts a finder first on sys.meta_path that records and refuses
any import of those packages, runs the command (baseline and AltUp K=2, fp32
parameters; AltUp K=2 again with --bf16), and reports the refused attempts
and which of the packages ended up in sys.modules: both must be empty, even
where the packages are installed. Needs flaxformer and optax, not t5x.
"""

import csv
import json
import math
import os
import subprocess
import sys

import pytest

pytest.importorskip('flaxformer', reason='the model-only mode builds flaxformer models')
pytest.importorskip('optax', reason='the model-only mode updates with optax.adafactor')

from launch import compose  # pylint: disable=g-import-not-at-top

CHILD = r'''
import json, runpy, sys
BLOCKED = ('t5x', 'seqio', 'tensorflow')
attempts = []

class Refuse:
  def find_spec(self, name, path=None, target=None):
    if name.split('.')[0] in BLOCKED:
      attempts.append(name)
      raise ImportError(f'refused by the test: {name}')
    return None

sys.meta_path.insert(0, Refuse())
sys.argv = ['altup_cost'] + json.loads(sys.argv[1])
code = 0
try:
  runpy.run_module('benchmarks.altup_cost', run_name='__main__')
except SystemExit as e:
  code = e.code
loaded = sorted(m for m in sys.modules
                if m.split('.')[0] in BLOCKED and sys.modules[m] is not None)
print('CHILD_RESULT ' + json.dumps(
    {'code': code, 'attempts': attempts, 'loaded': loaded}))
'''

SHAPES = ['--size=tiny', '--batch=2', '--inputs_length=8', '--targets_length=4',
          '--warmup=0', '--repeats=2']


def _run(out, *args):
  argv = SHAPES + [f'--output_dir={out}', '--model_only'] + list(args)
  env = dict(os.environ, PYTHONPATH=compose.REPO + os.pathsep
             + os.environ.get('PYTHONPATH', ''))
  proc = subprocess.run([sys.executable, '-c', CHILD, json.dumps(argv)],
                        cwd=compose.REPO, env=env, capture_output=True,
                        text=True, timeout=1800)
  lines = [l for l in proc.stdout.splitlines() if l.startswith('CHILD_RESULT ')]
  assert lines, proc.stdout[-3000:] + proc.stderr[-3000:]
  child = json.loads(lines[-1].split(' ', 1)[1])
  assert child['code'] in (0, None), proc.stderr[-3000:]
  with open(os.path.join(out, 'model_only.csv')) as f:
    return child, list(csv.DictReader(f))


@pytest.fixture(scope='module')
def fp32(tmp_path_factory):
  return _run(str(tmp_path_factory.mktemp('model_only')),
              '--models=baseline,altup_k2')


def test_no_t5x_seqio_or_tensorflow(fp32):
  child, _ = fp32
  assert child['attempts'] == []
  assert child['loaded'] == []


def test_rows_train_and_ratios(fp32):
  _, rows = fp32
  assert [r['model'] for r in rows] == ['baseline', 'altup_k2']
  base, altup = rows
  assert int(altup['params']) > int(base['params'])  # K*d embedding, p and g
  for r in rows:
    assert r['dtype'] == 'float32 params'
    for key in ('train_step_ms', 'forward_ms', 'xla_train_gflop',
                'xla_forward_gflop', 'train_memory_mib'):
      assert float(r[key]) > 0, key
    # Training FLOPs exceed the forward loss's (backward + update).
    assert float(r['xla_train_gflop']) > float(r['xla_forward_gflop'])
    assert math.isfinite(float(r['first_loss']))
    assert math.isfinite(float(r['last_loss']))
    assert float(r['last_loss']) != float(r['first_loss'])  # it trained
  for key in ('params', 'xla_train_gflop', 'train_memory_mib'):
    assert float(base[f'{key}_ratio']) == 1.0
    assert float(altup[f'{key}_ratio']) == pytest.approx(
        float(altup[key]) / float(base[key]), rel=1e-3)


def test_bf16(tmp_path):
  child, rows = _run(str(tmp_path), '--models=altup_k2', '--bf16')
  assert child['attempts'] == [] and child['loaded'] == []
  (row,) = rows
  assert row['dtype'] == 'bfloat16'
  assert math.isfinite(float(row['last_loss']))
