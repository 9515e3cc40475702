"""launch.coefficients: learned p and g per layer, in canonical block order."""

import csv

import numpy as np
import pytest

from altup_flaxformer import altup
from launch import coefficients


def _stack(predictors, correctors):
  return {f'layers_{i}': {'altup_predictor': p, 'altup_corrector': g}
          for i, (p, g) in enumerate(zip(predictors, correctors))}


def test_layer_rows_undo_the_rotating_frame():
  k, n = 2, 3
  rng = np.random.default_rng(0)
  canonical_p = rng.normal(size=(n, k, k))
  canonical_g = rng.normal(size=(n, k))
  # Stored in layer l's frame: stored[a, b] = canonical[(a+l)%K, (b+l)%K].
  stored_p = np.stack([np.roll(np.roll(p, -l, 0), -l, 1)
                       for l, p in enumerate(canonical_p)])
  stored_g = np.stack([np.roll(g, -l) for l, g in enumerate(canonical_g)])
  params = {'encoder': _stack(stored_p, stored_g),
            'decoder': {'layers_0': {'mlp': {}}}}  # no AltUp: no rows
  rows = coefficients.layer_rows(params, 'alternating')
  assert [(r['stack'], r['layer'], r['active block']) for r in rows] == [
      ('encoder', 0, 0), ('encoder', 1, 1), ('encoder', 2, 0)]
  for row, p, g in zip(rows, canonical_p, canonical_g):
    np.testing.assert_allclose(row['p'], p)
    np.testing.assert_allclose(row['g'], g)
  same = coefficients.layer_rows(params, 'same')
  assert [r['active block'] for r in same] == [0, 0, 0]
  np.testing.assert_allclose(same[1]['p'], stored_p[1])  # no rotation


def test_csv_row_reports_distance_from_init(tmp_path):
  row = {'stack': 'decoder', 'layer': 1, 'active block': 1,
         'p': np.array([[1.0, 0.25], [0.0, 1.0]]), 'g': np.array([1.0, 0.5])}
  assert coefficients.csv_row('tiny_altup_k2', 2, row) == {
      'model': 'tiny_altup_k2', 'seed': 2, 'stack': 'decoder', 'layer': 1,
      'active block': 1, 'p00': 1.0, 'p01': 0.25, 'p10': 0.0, 'p11': 1.0,
      'g0': 1.0, 'g1': 0.5, 'max |p - I|': 0.25, 'max |g - 1|': 0.5}
  found = {'tiny_altup_k2': [(2, [row])]}
  path = coefficients.write_csv(found, str(tmp_path / 'c.csv'))
  with open(path) as f:
    assert list(csv.reader(f))[1][:4] == ['tiny_altup_k2', '2', 'decoder', '1']
  pytest.importorskip('matplotlib', reason='plots: pip install matplotlib')
  png = coefficients.plot(found, str(tmp_path / 'c.png'))
  assert (tmp_path / 'c.png').stat().st_size > 0 and png


def test_csv_of_two_ks_keeps_every_value_under_its_column(tmp_path):
  """K=2 and K=4 runs in one CSV: the K=4 header, and each K=2 value under
  its own p_ij / g_i (the K=4-only columns empty)."""
  k2 = {'stack': 'encoder', 'layer': 0, 'active block': 0,
        'p': np.array([[1.0, 0.25], [0.5, 1.0]]), 'g': np.array([0.75, 0.5])}
  k4 = {'stack': 'encoder', 'layer': 0, 'active block': 0,
        'p': np.eye(4) * 2, 'g': np.full(4, 3.0)}
  path = coefficients.write_csv(
      {'tiny_altup_k4': [(0, [k4])], 'tiny_altup_k2': [(0, [k2])]},
      str(tmp_path / 'c.csv'))
  with open(path) as f:
    reader = csv.DictReader(f)
    assert reader.fieldnames == coefficients.csv_header(4)
    rows = {r['model']: r for r in reader}
  got = rows['tiny_altup_k2']
  assert [got[c] for c in ('p00', 'p01', 'p10', 'p11', 'g0', 'g1')] == [
      '1.0', '0.25', '0.5', '1.0', '0.75', '0.5']
  assert got['p02'] == got['p23'] == got['g3'] == ''
  assert got['max |p - I|'] == '0.5' and got['max |g - 1|'] == '0.5'
  assert rows['tiny_altup_k4']['p33'] == '2.0'
  assert rows['tiny_altup_k4']['max |g - 1|'] == '2.0'


def test_run_selection_reads_the_runs_config(tmp_path):
  assert coefficients.run_selection(str(tmp_path)) == 'alternating'
  (tmp_path / 'config.gin').write_text(
      "ALTUP_K = 2\nALTUP_SELECTION = 'same'\n")
  assert coefficients.run_selection(str(tmp_path)) == 'same'
  assert altup.active_block(3, 2, 'same') == 0
