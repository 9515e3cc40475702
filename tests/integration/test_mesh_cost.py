"""Plumbing of `python -m benchmarks.mesh_cost` on the tiny model (no timings).

Runs the command's main once (module-scoped fixture) on the 2 fake CPU devices
of tests/conftest.py: tiny baseline and AltUp K=2, a (2 data x 1 model) mesh,
short shapes, and two made-up device capacities (0 GiB: everything exceeds
it; 1000 GiB: nothing does). Checks the written table against its own numbers:
one row per model, ratios to the baseline, the per-device state of a
data-parallel mesh (every parameter on every device), the capacity flags, and
that --resume compiles nothing again. Needs the real T5X stack.
"""

import csv
import json
import os

import pytest

from tests.integration import common  # pylint: disable=g-import-not-at-top
common.require_t5x_stack('seqio')
pytest.importorskip('matplotlib', reason='the table is plotted with matplotlib')

from benchmarks import mesh  # pylint: disable=g-import-not-at-top
from benchmarks import mesh_cost  # pylint: disable=g-import-not-at-top

ARGV = ['mesh_cost', '--sizes=tiny', '--models=baseline,altup_k2',
        '--devices=2', '--scan=off', '--batch=4', '--inputs_length=16',
        '--targets_length=8', '--num_embeddings=128', '--batch_fit=scale',
        '--capacity_gib=zero=0,huge=1000']


def _main(argv):
  common.run_absl_main(mesh_cost.main, mesh_cost.define_flags, argv)


@pytest.fixture(scope='module')
def out(tmp_path_factory):
  path = str(tmp_path_factory.mktemp('mesh_cost'))
  _main(ARGV + [f'--output_dir={path}'])
  return path


def _rows(out):
  with open(os.path.join(out, 'mesh_cost.csv')) as f:
    return list(csv.DictReader(f))


def test_one_row_per_model_with_the_reported_columns(out):
  rows = _rows(out)
  assert [r['model'] for r in rows] == ['baseline', 'altup_k2']
  for key in ('memory_bytes', 'flops', 'state_bytes', 'param_bytes',
              'optimizer_bytes', 'temp_bytes', 'xla_cpu_peak_bytes',
              'memory_bytes_ratio', 'flops_ratio', 'state_bytes_ratio',
              'exceeds', 'fits_zero', 'fits_huge', 'max_batch_zero',
              'max_batch_huge', 'batch_fit', 'mesh'):
    assert key in rows[0], key
  for r in rows:
    assert r['mesh'] == '2x1' and r['devices'] == '2'
    assert float(r['flops']) > 0 and float(r['temp_bytes']) > 0
    assert r['batch_fit'] == 'scale'


def test_ratios_are_over_the_baseline(out):
  base, altup = _rows(out)
  for key in ('memory_bytes', 'flops', 'state_bytes', 'temp_bytes'):
    assert float(base[f'{key}_ratio']) == 1.0
    assert float(altup[f'{key}_ratio']) == pytest.approx(
        float(altup[key]) / float(base[key]))
  # AltUp adds the K*d embedding and per-layer predict/correct work.
  assert int(altup['params']) > int(base['params'])
  assert float(altup['flops']) > float(base['flops'])


def test_data_parallel_devices_hold_every_parameter(out):
  for r in _rows(out):
    assert int(r['param_bytes']) == 4 * int(r['params'])  # float32, replicated
    assert int(r['state_bytes']) == int(r['param_bytes']) + int(
        r['optimizer_bytes'])
    assert int(r['memory_bytes']) >= int(r['state_bytes'])
    assert int(r['memory_bytes']) == (
        int(r['argument_bytes']) + int(r['output_bytes'])
        - int(r['alias_bytes']) + int(r['temp_bytes']))


def test_capacity_flags_and_largest_batch(out):
  for r in _rows(out):
    assert r['exceeds'] == 'zero'
    assert r['fits_zero'] == 'False' and r['fits_huge'] == 'True'
    assert int(r['max_batch_zero']) == 0
    assert int(r['max_batch_huge']) > int(r['batch'])
    assert int(r['max_batch_huge']) % int(r['data_parallel']) == 0


def test_markdown_json_and_plot(out):
  with open(os.path.join(out, 'mesh_cost.md')) as f:
    md = f.read()
  assert 'estimate' in md and 'not a TPU measurement' in md
  assert md.count('| T5.1.1 tiny |') == 2
  assert 'max batch huge (est.)' in md
  with open(os.path.join(out, 'mesh_cost.json')) as f:
    result = json.load(f)
  assert len(result['raw']) == 2 and len(result['cases']) == 2
  assert result['machine']['jax'] and result['machine']['t5x']
  assert os.path.getsize(os.path.join(out, 'mesh_cost.png')) > 1000


def test_resume_reuses_the_compiles(out, monkeypatch):
  before = _rows(out)

  def refuse(*args, **kwargs):
    raise AssertionError(f'compiled again: {args}')
  monkeypatch.setattr(mesh, 'compile_case', refuse)
  _main(ARGV + [f'--output_dir={out}', '--resume'])
  after = _rows(out)
  assert [(r['model'], r['memory_bytes'], r['flops']) for r in after] == [
      (r['model'], r['memory_bytes'], r['flops']) for r in before]
