"""The offline main job (launch.offline) end to end with real T5X, few steps."""

import importlib.util
import os

import pytest

from tests.integration import common  # pylint: disable=g-import-not-at-top
common.require_t5x_stack()

from launch import offline  # pylint: disable=g-import-not-at-top


def test_offline_run_pretrains_finetunes_and_reports(tmp_path):
  try:
    offline.check_requirements()
  except ImportError as e:
    pytest.skip(f'offline data package missing: {e}')
  settings = offline.Settings('tiny', ('baseline', 'altup'), 2, 6, 6, 8)
  lines = []
  md = offline.run_all(settings, str(tmp_path), echo=lines.append)
  header, _, *rows = md.splitlines()
  assert [c.strip() for c in header.strip('|').split('|')] == [
      'model', 'params', 'span accuracy', 'span loss', 'steps/s', 'speed x',
      'speed-up at equal accuracy', 'sentiment accuracy']
  cells = [[c.strip() for c in r.strip('|').split('|')] for r in rows]
  assert [c[0] for c in cells] == ['floor (no language)', 'tiny_baseline_k1',
                                   'tiny_altup_k2']
  floor, *cells = cells
  assert 0.1 < float(floor[2]) < 0.4 and float(floor[3]) > 0  # bytes
  assert (tmp_path / 'floor.json').exists()
  for row in cells:
    # nothing missing (the speed-up is blank where the baseline never
    # reaches the model's accuracy)
    assert all(row[:6] + row[7:]), row
    assert 0 <= float(row[2]) <= 1 and float(row[3]) > 0
    assert 0 <= float(row[7]) <= 100
  assert float(cells[0][5]) == 1.0 and float(cells[0][6]) == 1.0
  assert int(cells[1][1].replace(',', '')) > int(cells[0][1].replace(',', ''))
  assert any(' train: loss=' in l for l in lines)  # visible progress
  for name in ('results.md', 'results.csv'):
    assert os.path.exists(tmp_path / name), name
  if importlib.util.find_spec('matplotlib'):
    assert os.path.exists(tmp_path / 'quality_vs_time.png')
  # Rerunning the same settings resumes: every stage is already finished.
  again = []
  assert offline.run_all(settings, str(tmp_path), echo=again.append) == md
  assert sum('already finished' in l for l in again) == 4
