"""The benchmark's pure parts (no t5x): the analytic multiply-add count, the
model names, and the rows, targets and tables of an archived result."""

import csv
import json
import math
import os

import pytest

from benchmarks import analytic
from benchmarks import model_only
from benchmarks import results
from benchmarks import spec
from launch import compose

DIMS = dict(EMBED_DIM=8, NUM_HEADS=2, HEAD_DIM=4, MLP_DIM=16,
            NUM_ENCODER_LAYERS=2, NUM_DECODER_LAYERS=2, NUM_EMBEDDINGS=100,
            ALTUP_K=2, one_hot_embed=False, mlp_inputs=2)
# The study's cost benchmark (docs/study/README.md), archived with its runs.
ARCHIVE = os.path.join(compose.REPO, 'docs', 'study', 'runs', 'benchmark')


def macs(variant, **kw):
  return analytic.analytic_macs(dict(DIMS, **kw), variant, 6, 4)


def test_altup_term_is_k2_plus_k_d_per_token_per_layer():
  # (6 input tokens x 2 encoder layers + 4 targets x 2 decoder layers) x 6 x 8
  assert macs('recycled')['altup'] == (6 * 2 + 4 * 2) * (2 * 2 + 2) * 8
  assert macs('baseline')['altup'] == 0
  assert macs('recycled')['layers'] == macs('baseline')['layers']


def test_logits_width_follows_the_decoder_output():
  assert macs('altup')['logits'] == 4 * (2 * 8) * 100  # concat: K*d
  assert macs('altup', decoder_output='sum')['logits'] == 4 * 8 * 100
  assert macs('recycled')['logits'] == macs('baseline')['logits']


def test_one_hot_embedding_counts_the_table_width():
  base = macs('baseline', one_hot_embed=True)['embed']
  assert base == (6 + 4) * 100 * 8
  assert macs('altup', one_hot_embed=True)['embed'] == 2 * base
  assert macs('altup')['embed'] == 0  # a gather is free


def lm_macs(variant, **kw):
  # A decoder-only model: one stack of NUM_DECODER_LAYERS = 3 (no encoder).
  dims = dict(DIMS, NUM_ENCODER_LAYERS=0, NUM_DECODER_LAYERS=3,
              decoder_only=True, **kw)
  return analytic.analytic_macs(dims, variant, 6, 4)


def test_decoder_only_count_by_hand():
  # 10 tokens (6 inputs + 4 targets) x 3 layers, each per token: q, k, v, o
  # 4 x 8 x 8 = 256; gated MLP 3 x 8 x 16 = 384; scores and values over the
  # 10 positions 2 x 10 x 8 = 160. No cross-attention.
  layers = 10 * 3 * (256 + 384 + 160)
  base = lm_macs('baseline')
  assert base['layers'] == layers == 24000
  assert base['altup'] == 0 and base['embed'] == 0
  assert base['logits'] == 10 * 8 * 100  # logits at all 10 positions
  assert base['forward'] == layers + 8000
  assert base['train'] == 3 * (layers + 8000)
  one_hot = lm_macs('baseline', one_hot_embed=True)
  assert one_hot['embed'] == 10 * 100 * 8
  assert one_hot['train'] == 3 * (layers + 8000) + 2 * 8000


def test_decoder_only_altup_is_k2_plus_k_d_per_token_per_layer():
  for k in (2, 4):
    recycled = lm_macs('recycled', ALTUP_K=k)
    assert recycled['altup'] == 10 * 3 * (k * k + k) * 8
    assert recycled['layers'] == lm_macs('baseline')['layers']
    # Per token per layer: (K^2 + K) d over the layer's 800 multiply-adds.
    assert recycled['altup_layer_overhead'] == pytest.approx(
        (k * k + k) * 8 / 800)
  full = lm_macs('altup')
  assert full['logits'] == 10 * (2 * 8) * 100  # concat: K*d at every position
  assert lm_macs('altup', one_hot_embed=True)['embed'] == 10 * 100 * 16
  assert lm_macs('altup', decoder_output='sum')['logits'] == 10 * 8 * 100


def test_encoder_decoder_count_ignores_a_missing_family_key():
  assert macs('altup') == analytic.analytic_macs(
      dict(DIMS, decoder_only=False), 'altup', 6, 4)


def test_model_names():
  assert spec.parse_model('dense_2d') == spec.ModelSpec('dense_2d', 'baseline',
                                                        1, 2)
  assert spec.parse_model('recycled_k4').label == 'Recycled-AltUp K=4'
  assert spec.parse_model('dense_2d').label == 'dense-2d'
  with pytest.raises(ValueError, match='dense_<W>d'):
    spec.parse_model('altup')


def test_gin_files_are_the_launchers_model_gins():
  cfg = spec.BenchConfig(size='tiny', scan=True, gather_embedding=True)
  assert spec.gin_files(cfg, spec.parse_model('altup_k2')) == [
      'gin/models/tiny.gin', 'gin/variants/altup.gin', 'gin/options/scan.gin',
      'gin/options/gather_embedding.gin']
  bindings = spec.gin_bindings(cfg, spec.parse_model('dense_2d'),
                               {'EMBED_DIM': 8, 'NUM_HEADS': 2, 'MLP_DIM': 16})
  assert bindings[-3:] == ['EMBED_DIM = 16', 'NUM_HEADS = 4', 'MLP_DIM = 32']


def test_every_size_but_tiny_2d_is_benchmarked():
  assert spec.SIZES == tuple(s for s in compose.SIZE_LAYERS if s != 'tiny_2d')
  assert {'t5_1_0_tiny', 't5_1_0_small', 't5_1_0_3B'} <= set(spec.SIZES)
  assert {'lm_tiny', 'lm_small', 'lm_base', 'lm_large', 'lm_xl'} <= set(
      spec.SIZES)
  assert set(spec.TINY_SIZES) <= set(spec.SIZES)
  assert 'lm_tiny' in spec.TINY_SIZES
  assert spec.ENCODER_DECODER_SIZES == tuple(
      s for s in spec.SIZES if compose.family(s) != 'decoder-only')
  cfg = spec.BenchConfig(size='t5_1_0_small')
  assert spec.gin_files(cfg, spec.parse_model('recycled_k2')) == [
      'gin/models/t5_1_0_small.gin', 'gin/variants/recycled.gin']


def test_num_layers_binds_the_decoder_only_stack():
  cfg = spec.BenchConfig(size='lm_small', num_layers=2)
  bindings = spec.gin_bindings(cfg, spec.parse_model('altup_k2'))
  assert 'NUM_DECODER_LAYERS = 2' in bindings
  assert not any(b.startswith('NUM_ENCODER_LAYERS') for b in bindings)
  cfg = spec.BenchConfig(size='small', num_layers=2)
  assert {'NUM_ENCODER_LAYERS = 2', 'NUM_DECODER_LAYERS = 2'} <= set(
      spec.gin_bindings(cfg, spec.parse_model('baseline')))
  assert spec.gin_files(cfg, spec.parse_model('recycled_k2'))[0] == (
      'gin/models/small.gin')
  assert spec.gin_files(spec.BenchConfig(size='lm_tiny'),
                        spec.parse_model('altup_k2')) == [
                            'gin/models/lm_tiny.gin', 'gin/variants/altup.gin']


def test_model_only_refuses_decoder_only_sizes_by_name():
  with pytest.raises(ValueError, match='encoder-decoder sizes only.*tiny'):
    model_only.check_size('lm_tiny')
  model_only.check_size('tiny')


@pytest.fixture(name='archived')
def _archived():
  with open(os.path.join(ARCHIVE, 'altup_cost.json')) as f:
    return json.load(f)


def test_analytic_columns_of_the_archived_result(archived):
  cfg = archived['config']
  for row in archived['rows']:
    count = analytic.analytic_macs(archived['dims'][row['model']],
                                   row['variant'], cfg['inputs_length'],
                                   cfg['targets_length'])
    assert row['analytic_train_gflop'] == pytest.approx(
        2 * cfg['batch'] * count['train'] / 1e9)
    assert row['analytic_altup_layer_overhead_pct'] == pytest.approx(
        100 * count['altup_layer_overhead'])


def test_ratios_and_targets_of_the_archived_rows(archived):
  rows = [{k: v for k, v in r.items() if not k.endswith('_ratio')}
          for r in archived['rows']]
  results.add_ratios(rows)
  assert rows == archived['rows']
  assert all(r['train_step_ms_ratio'] == r['train_step_ms']
             / rows[0]['train_step_ms'] for r in rows)
  cfg = spec.BenchConfig(**dict(archived['config'], models=tuple(
      archived['config']['models'])))
  targets = results.check_targets(cfg, rows)
  assert targets == archived['targets']
  by_target = {(t['target'], t['model']): t for t in targets}
  dense = by_target[('dense-2d train step cost', 'dense_2d')]
  assert dense['value'] == rows[-1]['train_step_ms_ratio']
  assert dense['met'] == (dense['value'] >= 3.0)


def test_markdown_and_csv_of_the_archived_result(archived, tmp_path):
  md = results.markdown(archived)
  with open(os.path.join(ARCHIVE, 'altup_cost.md')) as f:
    assert md == f.read()
  lines = md.splitlines()
  header = lines.index('| ' + ' | '.join(c[0] for c in results.COLUMNS)
                       + ' |')
  assert lines[header + 1] == '|---' + '|---:' * (len(results.COLUMNS) - 1) + '|'
  for i, row in enumerate(archived['rows']):
    cells = lines[header + 2 + i].strip('| ').split(' | ')
    assert cells[0] == row['label']
    assert cells[1] == f'{row["params"] / 1e6:.2f}'
    assert cells[3] == f'{row["train_step_ms"]:.1f}'
  assert '| target | model | value | goal | met |' in lines
  pytest.importorskip('matplotlib', reason='the benchmark plots')
  paths = results.write_outputs(archived, str(tmp_path))
  with open(paths['csv']) as f:
    text = f.read()
  with open(os.path.join(ARCHIVE, 'altup_cost.csv')) as f:
    assert text == f.read()
  written = list(csv.DictReader(text.splitlines()))
  assert [r['model'] for r in written] == [r['model'] for r in
                                           archived['rows']]
  for got, row in zip(written, archived['rows']):
    assert list(got) == list(row)
    for key, value in row.items():
      if isinstance(value, float):
        assert float(got[key]) == value or (math.isnan(value) and math.isnan(
            float(got[key])))
      else:
        assert got[key] == str(value)
  with open(paths['png'], 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_markdown_names_the_t5_family(archived):
  assert results.markdown(archived).startswith('### AltUp cost: T5.1.1 tiny,')
  t5_1_0 = dict(archived, config=dict(archived['config'], size='t5_1_0_base'))
  assert results.markdown(t5_1_0).startswith(
      '### AltUp cost: T5.1.0 base, batch')
