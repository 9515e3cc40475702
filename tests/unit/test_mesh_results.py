"""The mesh-cost table's pure parts (no jax, no t5x): the grid, the memory
estimate, capacity flags, the largest-batch estimate and baseline ratios."""

import math

import pytest

from benchmarks import mesh
from benchmarks import mesh_results
from benchmarks import spec

GIB = mesh_results.GIB


def _raw(batch, temp, state=3 * GIB, flops=1e12):
  """compile_case-shaped numbers: state donated (aliased), `temp` temporaries."""
  return {'batch': batch, 'params': 10**8, 'param_bytes': 2 * state // 3,
          'optimizer_bytes': state // 3, 'peak_bytes': float(state),
          'argument_bytes': state + 1000, 'output_bytes': state,
          'alias_bytes': state, 'temp_bytes': temp, 'flops': flops,
          'compile_s': 1.0}


def test_grid_puts_baseline_first_and_caps_model_partitions():
  grid = mesh.cases(['small', 'xl'], ['altup_k2', 'baseline'], [2, 8],
                    [False, True])
  assert len(grid) == 2 * 2 * 2 * 2
  assert [c.model for c in grid[:2]] == ['baseline', 'altup_k2']
  xl2 = [c for c in grid if c.size == 'xl' and c.devices == 2][0]
  assert xl2.model_parallel == 2 and xl2.data_parallel == 1
  xl8 = [c for c in grid if c.size == 'xl' and c.devices == 8][0]
  assert xl8.model_parallel == mesh.MODEL_PARALLEL['xl']
  assert xl8.mesh_label == f'{8 // xl8.model_parallel}x{xl8.model_parallel}'
  custom = mesh.cases(['large'], ['baseline'], [32], [True], {'large': 4})
  assert custom[0].model_parallel == 4 and custom[0].data_parallel == 8


def test_case_validation():
  with pytest.raises(ValueError, match='do not divide'):
    mesh.Case('small', 'baseline', 8, 3).validate()
  with pytest.raises(ValueError, match='not a multiple'):
    mesh.Case('small', 'baseline', 8, 1, batch=12).validate()


def test_memory_estimate_counts_donated_state_once():
  r = _raw(256, temp=5 * GIB)
  assert mesh_results.memory_bytes(r) == 3 * GIB + 1000 + 5 * GIB


def test_capacity_flags():
  caps = {'small_dev': 4, 'big_dev': 40}
  assert mesh_results.exceeds(5 * GIB, caps) == 'small_dev'
  assert mesh_results.exceeds(41 * GIB, caps) == 'small_dev, big_dev'
  assert mesh_results.exceeds(3 * GIB, caps) == 'none'
  assert mesh_results.fits(4 * GIB, 4 * GIB)
  assert not mesh_results.fits(4 * GIB + 1, 4 * GIB)


def test_largest_batch_scale_and_fit():
  data = 8
  big = _raw(256, temp=8 * GIB)  # 32 examples per device
  fit = mesh_results.batch_fit(big, None, data)
  assert fit['method'] == 'scale'
  assert fit['slope'] == pytest.approx(8 * GIB / 32)
  cap = 16 * GIB
  n = mesh_results.largest_batch(fit, cap, data)
  assert n % data == 0
  per_dev = n // data
  assert fit['fixed'] + fit['slope'] * per_dev <= cap
  assert fit['fixed'] + fit['slope'] * (per_dev + 1) > cap
  # Two compiles: half the temporaries are batch independent.
  small = _raw(128, temp=6 * GIB)
  fit2 = mesh_results.batch_fit(big, small, data)
  assert fit2['method'] == 'fit'
  assert fit2['slope'] == pytest.approx(2 * GIB / 16)
  assert mesh_results.largest_batch(fit2, cap, data) > n
  # Not even one example fits.
  assert mesh_results.largest_batch(fit, 2 * GIB, data) == 0


def test_rows_ratios_to_the_baseline_of_their_group():
  caps = {'tiny_dev': 1, 'huge_dev': 1000}
  rows = []
  for devices in (2, 4):
    for name, temp, flops in (('baseline', 2 * GIB, 1e12),
                              ('altup_k2', 3 * GIB, 1.5e12)):
      case = mesh.Case('small', name, devices, 1, False, batch=8)
      rows.append(mesh_results.make_row(
          case, spec.parse_model(name), _raw(8, temp, flops=flops * devices),
          capacities=caps))
  mesh_results.add_ratios(rows)
  for base, altup in (rows[:2], rows[2:]):
    assert base['memory_bytes_ratio'] == 1.0 and base['flops_ratio'] == 1.0
    assert altup['flops_ratio'] == pytest.approx(altup['flops'] / base['flops'])
    assert altup['memory_bytes_ratio'] == pytest.approx(
        altup['memory_bytes'] / base['memory_bytes'])
  for r in rows:
    assert r['exceeds'] == 'tiny_dev' and not r['fits_tiny_dev']
    assert r['fits_huge_dev'] and r['max_batch_huge_dev'] > r['batch']
  table = mesh_results.markdown_table(rows, caps)
  assert 'max batch huge_dev (est.)' in table
  assert table.count('\n') == len(rows) + 1
  lone = mesh_results.make_row(mesh.Case('base', 'altup_k2', 2, 1, batch=8),
                               spec.parse_model('altup_k2'), _raw(8, GIB))
  mesh_results.add_ratios([lone])
  assert math.isnan(lone['flops_ratio'])  # no baseline in its group


def test_analytic_count_per_device_and_the_scan_mark():
  dims = dict(EMBED_DIM=8, NUM_HEADS=2, HEAD_DIM=4, MLP_DIM=16,
              NUM_ENCODER_LAYERS=2, NUM_DECODER_LAYERS=2, NUM_EMBEDDINGS=100,
              ALTUP_K=2, one_hot_embed=True, mlp_inputs=2)
  rows = []
  for name in ('baseline', 'altup_k2'):
    spec_ = spec.parse_model(name)
    case = mesh.Case('small', name, 8, 2, True, batch=16, inputs_length=6,
                     targets_length=4)
    rows.append(mesh_results.make_row(case, spec_, _raw(16, GIB), dims=dims))
    macs = mesh_results.analytic.analytic_macs(dims, spec_.variant, 6, 4)
    # 16 examples over 4 data shards, matmuls split over 2 model partitions.
    assert rows[-1]['analytic_flops'] == 2 * macs['train'] * 4 / 2
  mesh_results.add_ratios(rows)
  assert rows[1]['analytic_flops_ratio'] > 1.0
  table = mesh_results.markdown_table(rows, {'v3': 16})
  assert table.count(mesh_results.SCAN_MARK) == 2 * len(rows)  # FLOPs and x
