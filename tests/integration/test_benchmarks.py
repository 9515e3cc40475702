"""Plumbing of `python -m benchmarks.altup_cost` on the tiny models (no timing checks).

Runs the command's main function once per module-scoped fixture with the tiny
size (`outputs`) and the tiny decoder-only size (`lm_outputs`), scanned layers
(compiles in about half the time) and a single repeat, then checks the
written Markdown/CSV/JSON/PNG: one row per model, the same numbers in every
output, finite ratios, baseline ratios exactly 1, and plausible parameter and
FLOP counts. Needs the real T5X stack.
"""

import csv
import json
import math
import os

import pytest

from tests.integration import common  # pylint: disable=g-import-not-at-top
common.require_t5x_stack('seqio')
pytest.importorskip('matplotlib', reason='the benchmark plots with matplotlib')

from benchmarks import altup_cost  # pylint: disable=g-import-not-at-top
from benchmarks import results  # pylint: disable=g-import-not-at-top
from benchmarks import spec  # pylint: disable=g-import-not-at-top

MODELS = list(spec.DEFAULT_MODELS)
RATIO_KEYS = ('params_ratio', 'train_step_ms_ratio', 'encoder_ms_ratio',
              'decode_ms_per_token_ratio', 'train_peak_mib_ratio',
              'xla_train_gflop_ratio', 'xla_forward_gflop_ratio',
              'analytic_forward_gflop_ratio', 'analytic_train_gflop_ratio')


def _run_altup_cost(size, out):
  """altup_cost.main on `size` with tiny shapes, one repeat, scanned layers."""
  argv = ['altup_cost', f'--size={size}', '--batch=1', '--inputs_length=8',
          '--targets_length=4', '--warmup=0', '--repeats=1',
          '--decode_repeats=1', '--scan', f'--output_dir={out}']
  common.run_absl_main(altup_cost.main, altup_cost.define_flags, argv)
  return out


@pytest.fixture(scope='module')
def outputs(tmp_path_factory):
  return _run_altup_cost('tiny', str(tmp_path_factory.mktemp('altup_cost')))


@pytest.fixture(scope='module')
def lm_outputs(tmp_path_factory):
  return _run_altup_cost('lm_tiny', str(tmp_path_factory.mktemp('lm_cost')))


def _csv_rows(out):
  with open(os.path.join(out, 'altup_cost.csv')) as f:
    return list(csv.DictReader(f))


def _json(out):
  with open(os.path.join(out, 'altup_cost.json')) as f:
    return json.load(f)


def test_every_output_has_the_same_rows(outputs):
  result, rows = _json(outputs), _csv_rows(outputs)
  assert len(rows) == len(result['rows'])
  assert list(rows[0]) == list(result['rows'][0])  # every column, in order
  for row, expected in zip(rows, result['rows']):
    for key, value in expected.items():
      if isinstance(value, float) and math.isnan(value):
        assert math.isnan(float(row[key])), key
      elif isinstance(value, float):
        assert float(row[key]) == value, key
      else:
        assert row[key] == str(value), key
  with open(os.path.join(outputs, 'altup_cost.md')) as f:
    lines = f.read().splitlines()
  header = lines.index('| ' + ' | '.join(c[0] for c in results.COLUMNS)
                       + ' |')
  for i, row in enumerate(result['rows']):
    cells = lines[header + 2 + i].strip('| ').split(' | ')
    assert len(cells) == len(results.COLUMNS)
    assert cells[:2] == [row['label'], f'{row["params"] / 1e6:.2f}']
    assert cells[3] == f'{row["train_step_ms"]:.1f}'
  assert result['config']['size'] == 'tiny' and result['config']['scan']
  with open(os.path.join(outputs, 'altup_cost.png'), 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_one_row_per_model(outputs):
  rows = _csv_rows(outputs)
  assert [r['model'] for r in rows] == MODELS
  md = open(os.path.join(outputs, 'altup_cost.md')).read()
  for label in ('baseline', 'Recycled-AltUp K=2', 'AltUp K=2', 'AltUp K=4',
                'dense-2d'):
    assert f'| {label} |' in md, label
  assert 'Machine:' in md and 'Cost targets:' in md


def test_ratios_finite_and_baseline_is_one(outputs):
  rows = _csv_rows(outputs)
  for row in rows:
    for key in RATIO_KEYS:
      value = float(row[key])
      assert math.isfinite(value) and value > 0, (row['model'], key, value)
  for key in RATIO_KEYS:
    assert float(rows[0][key]) == 1.0, key


def test_model_shapes_and_costs_are_plausible(outputs):
  rows = {r['model']: r for r in _csv_rows(outputs)}
  params = {m: int(r['params']) for m, r in rows.items()}
  # Recycled adds (K^2 + K) scalars per layer, 4 + 4 layers in the tiny benchmark.
  assert params['recycled_k2'] - params['baseline'] == 8 * (4 + 2)
  assert params['dense_2d'] > 3 * params['baseline']
  assert params['baseline'] < params['altup_k2'] < params['altup_k4']
  assert int(rows['dense_2d']['embed_dim']) == 2 * int(rows['baseline']['embed_dim'])
  assert float(rows['dense_2d']['analytic_train_gflop_ratio']) > 3.0
  for model in ('recycled_k2', 'altup_k2', 'altup_k4'):
    r = rows[model]
    assert float(r['analytic_altup_layer_overhead_pct']) > 0
    # (Scanned: XLA counts the layer body once, so only the sign is checked.)
    assert float(r['xla_train_gflop_ratio']) > 1.0
    assert float(r['analytic_forward_gflop_ratio']) > 1.0
  for r in rows.values():
    assert math.isfinite(float(r['final_loss']))


def test_json_has_machine_and_targets(outputs):
  result = _json(outputs)
  assert result['machine']['cpu'] and result['machine']['jax']
  names = {t['target'] for t in result['targets']}
  assert 'train step (d embedding)' in names
  assert 'dense-2d train step cost' in names
  # Under --scan the FLOP targets are reported as not applicable, not failed.
  for t in result['targets']:
    if t['target'].startswith('XLA'):
      assert t['met'] is None


# The decoder-only size: prefix LM sequences of 8 + 4 tokens.


def test_lm_every_model_has_a_row(lm_outputs):
  rows = _csv_rows(lm_outputs)
  assert [r['model'] for r in rows] == MODELS
  result = _json(lm_outputs)
  assert result['config']['size'] == 'lm_tiny'
  for name, dims in result['dims'].items():
    assert dims['decoder_only'] and dims['NUM_ENCODER_LAYERS'] == 0, name
    assert dims['NUM_DECODER_LAYERS'] == 4, name
  md = open(os.path.join(lm_outputs, 'altup_cost.md')).read()
  assert md.startswith('### AltUp cost: decoder-only tiny, batch 1,')
  assert '| prefill ms |' in md and '| encoder ms |' not in md
  assert 'layers=4,' in md and 'Decoder-only: prefix LM' in md
  for label in ('baseline', 'Recycled-AltUp K=2', 'AltUp K=2', 'AltUp K=4',
                'dense-2d'):
    assert f'| {label} |' in md, label


def test_lm_params_are_ordered(lm_outputs):
  params = {r['model']: int(r['params']) for r in _csv_rows(lm_outputs)}
  assert params['baseline'] < params['altup_k2'] < params['altup_k4']
  # Recycled adds (K^2 + K) scalars per layer: 4 decoder layers, no encoder.
  assert params['recycled_k2'] - params['baseline'] == 4 * (4 + 2)
  assert params['dense_2d'] > 3 * params['baseline']


def test_lm_costs_and_timings_are_plausible(lm_outputs):
  rows = {r['model']: r for r in _csv_rows(lm_outputs)}
  # (Scanned: XLA counts the layer body once, so only the sign is checked.)
  for model in ('recycled_k2', 'altup_k2', 'altup_k4'):
    assert float(rows[model]['xla_train_gflop_ratio']) > 1.0, model
    assert float(rows[model]['analytic_forward_gflop_ratio']) > 1.0, model
  assert float(rows['dense_2d']['analytic_train_gflop_ratio']) > 3.0
  for model, r in rows.items():
    for key in ('decode_ms_per_token', 'encoder_ms', 'train_step_ms',
                'xla_decode_mflop_per_token'):
      value = float(r[key])
      assert math.isfinite(value) and value > 0, (model, key, value)
    assert math.isfinite(float(r['final_loss'])), model
  for key in RATIO_KEYS:
    assert float(rows['baseline'][key]) == 1.0, key
