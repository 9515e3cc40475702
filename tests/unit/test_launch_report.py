"""launch.report and launch.seeded over synthetic T5X-style summaries (clu's
SummaryWriter), and launch.tables."""

import csv
import os
import subprocess
import sys

import pytest

from launch import compose
from launch import report
from launch import seeded
from launch import sweeps
from launch import tables

metric_writers = pytest.importorskip(
    'clu.metric_writers', reason='needs clu (T5X writer): pip install clu')

PNG = b'\x89PNG\r\n\x1a\n'


def _write(directory, step_values):
  writer = metric_writers.SummaryWriter(str(directory))
  for step, values in step_values:
    writer.write_scalars(step, values)
  writer.flush()
  writer.close()


def _fake_sweep(root):
  """offline_tiny laid out under root: baseline complete, altup K=2 pretrain
  only, the other two models missing."""
  jobs = sweeps.expand(sweeps.SWEEPS['offline_tiny'], str(root))
  by_name = {j.name: j.experiment for j in jobs}
  for model, acc, speed in (('tiny_baseline_k1', 0.30, 4.0),
                            ('tiny_altup_k2', 0.35, 3.0)):
    pre = by_name[f'{model}/pretrain'].model_dir
    _write(os.path.join(pre, 'train'),
           [(150, {'timing/steps_per_second': speed - 1}),
            (300, {'timing/steps_per_second': speed})])
    _write(os.path.join(pre, 'training_eval', 'altup_offline_span_corruption'),
           [(150, {'accuracy': acc - 0.1,
                   'cross_ent_loss_per_all_target_tokens': 6.0}),
            (300, {'accuracy': acc,
                   'cross_ent_loss_per_all_target_tokens': 5.0})])
  fine = by_name['tiny_baseline_k1/finetune_sentiment'].model_dir
  _write(os.path.join(fine, 'inference_eval', 'altup_offline_sentiment'),
         [(500, {'eval/accuracy': 71.5})])
  return jobs


def test_sweep_table_reads_metrics_and_leaves_gaps(tmp_path):
  jobs = _fake_sweep(tmp_path)
  header, rows = report.sweep_table(jobs)
  assert header == ['model', 'params', 'span accuracy', 'span loss',
                    'steps/s', 'speed x', 'speed-up at equal accuracy',
                    'sentiment accuracy']
  table = {r[0]: dict(zip(header, r)) for r in rows}
  assert list(table) == ['tiny_baseline_k1', 'tiny_altup_k2', 'tiny_altup_k4',
                         'tiny_recycled_k2']
  base, altup = table['tiny_baseline_k1'], table['tiny_altup_k2']
  assert base['span accuracy'] == pytest.approx(0.30)
  assert base['span loss'] == pytest.approx(5.0)
  assert base['steps/s'] == pytest.approx(4.0)  # the last report
  assert base['speed x'] == pytest.approx(1.0)
  assert altup['speed x'] == pytest.approx(0.75)
  assert base['speed-up at equal accuracy'] == pytest.approx(1.0)
  # The baseline's curve never reaches altup's 0.35: a gap, not a number.
  assert altup['speed-up at equal accuracy'] is None
  assert base['sentiment accuracy'] == pytest.approx(71.5)
  assert altup['sentiment accuracy'] is None  # missing run: a gap
  assert all(v is None for k, v in table['tiny_altup_k4'].items()
             if k != 'model')
  md = tables.write_table(str(tmp_path / 'results'), header, rows)
  assert '| tiny_altup_k4 |  |  |  |  |  |  |  |' in md.splitlines()
  with open(tmp_path / 'results.csv') as f:
    csv_rows = list(csv.reader(f))
  assert csv_rows[3] == ['tiny_altup_k4', '', '', '', '', '', '', '']
  assert '0' not in csv_rows[3][1:]


def test_mixture_scores_average_over_tasks(tmp_path):
  for task, values in (('altup_glue_cola', {'eval/mcc': 40.0}),
                       ('altup_glue_mrpc', {'eval/f1': 80.0,
                                            'eval/accuracy': 70.0})):
    _write(tmp_path / 'inference_eval' / task, [(10, values)])
  assert report.benchmark_scores(str(tmp_path)) == {
      'average': pytest.approx((40.0 + 75.0) / 2)}
  assert report.benchmark_scores(str(tmp_path / 'none')) == {}


def test_report_cli_writes_markdown_csv_and_plot(tmp_path):
  _fake_sweep(tmp_path / 'sweep')
  out = tmp_path / 'out'
  proc = subprocess.run(
      [sys.executable, '-m', 'launch.report', f'--sweep_dir={tmp_path}/sweep',
       '--sweep=offline_tiny', f'--output_dir={out}'],
      cwd=compose.REPO, capture_output=True, text=True, check=False,
      env=dict(os.environ, PYTHONPATH=compose.REPO))
  assert proc.returncode == 0, proc.stderr[-2000:]
  md = (out / 'results.md').read_text()
  assert md in proc.stdout
  lines = md.splitlines()
  assert lines[0] == ('| model | params | span accuracy | span loss | steps/s '
                      '| speed x | speed-up at equal accuracy | sentiment '
                      'accuracy |')
  assert lines[2] == '| tiny_baseline_k1 |  | 0.3 | 5 | 4 | 1 | 1 | 71.5 |'
  assert lines[3] == '| tiny_altup_k2 |  | 0.35 | 5 | 3 | 0.75 |  |  |'
  with open(out / 'results.csv') as f:
    rows = list(csv.reader(f))
  assert rows[0] == lines[0].strip('| ').split(' | ')
  assert [r[0] for r in rows[1:]] == ['tiny_baseline_k1', 'tiny_altup_k2',
                                      'tiny_altup_k4', 'tiny_recycled_k2']
  assert float(rows[1][2]) == pytest.approx(0.30)  # the last evaluation
  assert float(rows[2][5]) == pytest.approx(0.75)  # 3 / 4 steps per second
  assert rows[2][6:] == ['', '']  # no speed-up, no finetuning: gaps
  try:
    import matplotlib  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    return
  assert (out / 'quality_vs_time.png').read_bytes()[:8] == PNG


def test_paper_sweep_table_has_every_benchmark_column_before_any_run(tmp_path):
  header, rows = report.sweep_table(
      sweeps.expand(sweeps.SWEEPS['paper'], str(tmp_path)))
  assert header[7:] == ['glue average', 'super_glue average', 'squad em',
                        'squad f1', 'trivia_qa em', 'trivia_qa f1']
  assert len(rows) == 12
  assert all(cell is None for row in rows for cell in row[1:])


def test_time_to_reach_interpolates_between_evaluations():
  curve = [(10.0, 0.2), (20.0, 0.4), (30.0, 0.5)]
  assert report.time_to_reach(curve, 0.3) == pytest.approx(15.0)
  assert report.time_to_reach(curve, 0.1) == 10.0
  assert report.time_to_reach(curve, 0.6) is None


def test_speedup_at_equal_quality():
  baseline = [(10.0, 0.2), (20.0, 0.4), (30.0, 0.5)]
  faster = [(8.0, 0.3), (16.0, 0.4)]  # reaches 0.4 at 16 s, baseline at 20 s
  assert report.speedup_at_equal_quality(faster, baseline) == pytest.approx(
      20.0 / 16.0)
  better = [(12.0, 0.6)]  # the baseline never gets there: no number
  assert report.speedup_at_equal_quality(better, baseline) is None
  assert report.speedup_at_equal_quality([], baseline) is None


def _fake_study(root, accuracies):
  """offline_study laid out under root with {(model, seed): [acc@steps]}."""
  sweep = sweeps.SWEEPS['offline_study']
  jobs = sweeps.expand(sweep, str(root))
  n = sweep.pretrain_steps
  for job in jobs:
    curve = accuracies.get((job.model, job.seed))
    if job.stage != 'pretrain' or curve is None:
      continue
    steps = [n * (i + 1) // len(curve) for i in range(len(curve))]
    _write(os.path.join(job.experiment.model_dir, 'training_eval',
                        job.experiment.task),
           [(s, {'accuracy': a,
                 'cross_ent_loss_per_all_target_tokens': 6.0 - 5 * a})
            for s, a in zip(steps, curve) if a is not None])
  return jobs


BENCH = {'rows': [
    {'model': 'baseline', 'variant': 'baseline', 'altup_k': 1,
     'train_step_ms': 100.0, 'xla_train_gflop': 1.0},
    {'model': 'altup_k2', 'variant': 'altup', 'altup_k': 2,
     'train_step_ms': 125.0, 'xla_train_gflop': 1.3},
    {'model': 'dense_2d', 'variant': 'baseline', 'altup_k': 1,
     'train_step_ms': 300.0, 'xla_train_gflop': 3.5}]}


def test_seeded_table_means_stds_floor_and_speedup_per_seed(tmp_path):
  jobs = _fake_study(tmp_path, {
      ('tiny_baseline_k1', 0): [0.30, 0.34, 0.40],
      ('tiny_baseline_k1', 1): [0.30, 0.34, 0.38],
      ('tiny_altup_k2', 0): [0.34, 0.36, 0.37],
      ('tiny_altup_k2', 1): [0.33, 0.38, 0.39],  # baseline 1 never gets there
      ('tiny_2d_baseline_k1', 0): [0.35, 0.40, 0.42],
      # Stopped after 2 of 3 evaluations: not a seed of the means yet.
      ('tiny_recycled_k2', 0): [0.30, 0.31, None]})
  floor = {'accuracy': 0.303, 'loss': 5.15}
  header, rows, run_header, runs = seeded.seeded_table(jobs, floor, BENCH)
  table = {r[0]: dict(zip(header, r)) for r in rows}
  assert list(table)[0] == 'floor (no language)'
  assert table['floor (no language)']['span accuracy'] == '0.3030'
  base, altup = table['tiny_baseline_k1'], table['tiny_altup_k2']
  assert base['seeds'] == 2 and base['span accuracy'] == '0.3900 ± 0.0141'
  assert base['step time (ms)'] == '100.0'
  assert altup['XLA train GFLOP/step'] == '1.300'
  # Evaluations at n/3, 2n/3 and n steps. Seed 0: altup reaches 0.37 at step
  # n (n x 125 ms); the baseline reaches 0.37 half-way between its steps 2n/3
  # and n (5n/6 x 100 ms): 0.67x. Seed 1: the baseline never reaches 0.39.
  assert altup['speed-up at equal accuracy'] == '0.67 (1/2 seeds)'
  assert table['tiny_2d_baseline_k1']['step time (ms)'] == '300.0'
  assert table['tiny_recycled_k2']['seeds'] == 0
  assert table['tiny_recycled_k2']['span accuracy'] == ''
  assert table['tiny_altup_k2_same']['seeds'] == 0  # not run: no numbers
  assert table['tiny_altup_k2_same']['span accuracy'] == ''
  per_run = {(r[0], r[1]): dict(zip(run_header, r)) for r in runs}
  n = sweeps.SWEEPS['offline_study'].pretrain_steps
  assert per_run[('tiny_recycled_k2', 0)]['final step'] == 2 * n // 3
  assert per_run[('tiny_recycled_k2', 0)]['speed-up at equal accuracy'] is None
  assert per_run[('tiny_altup_k2', 1)]['speed-up at equal accuracy'] is None
  assert per_run[('tiny_altup_k2', 0)]['early loss'] == pytest.approx(
      6.0 - 5 * 0.34)


def test_mean_std_formatting():
  assert seeded.mean_std([1.0, None, 3.0]) == (2.0, pytest.approx(2 ** 0.5),
                                               2)
  assert seeded.format_mean_std([0.5]) == '0.5000'  # one seed: no ±
  assert seeded.format_mean_std([None]) == ''


def test_seeded_report_cli_writes_tables_with_a_seed_column(tmp_path):
  _fake_study(tmp_path / 'study', {('tiny_baseline_k1', 0): [0.3, 0.32],
                                   ('tiny_recycled_k2', 0): [0.31, 0.33]})
  (tmp_path / 'study' / 'floor.json').write_text(
      '{"accuracy": 0.3, "loss": 5.1}')
  proc = subprocess.run(
      [sys.executable, '-m', 'launch.report',
       f'--sweep_dir={tmp_path}/study', '--sweep=offline_study'],
      cwd=compose.REPO, capture_output=True, text=True, check=False,
      env=dict(os.environ, PYTHONPATH=compose.REPO))
  assert proc.returncode == 0, proc.stderr[-2000:]
  study = tmp_path / 'study'
  md = (study / 'results.md').read_text()
  assert md in proc.stdout
  with open(study / 'results.csv') as f:
    table = list(csv.reader(f))
  assert table[0] == seeded.SEEDED_HEADER
  assert md.splitlines()[0] == '| ' + ' | '.join(seeded.SEEDED_HEADER) + ' |'
  results = {r[0]: dict(zip(table[0], r)) for r in table[1:]}
  assert list(results)[0] == 'floor (no language)'
  assert results['floor (no language)']['final loss'] == '5.1000'
  assert results['floor (no language)']['span accuracy'] == '0.3000'
  assert results['tiny_baseline_k1']['seeds'] == '1'
  assert results['tiny_baseline_k1']['span accuracy'] == '0.3200'  # no ±
  assert results['tiny_recycled_k2']['span accuracy'] == '0.3300'
  assert results['tiny_altup_k2']['seeds'] == '0'  # not run: no numbers
  assert results['tiny_altup_k2']['span accuracy'] == ''
  n = sweeps.SWEEPS['offline_study'].pretrain_steps
  with open(study / 'results_runs.csv') as f:
    runs = list(csv.reader(f))
  assert runs[0][:2] == ['model', 'seed']
  recycled = dict(zip(runs[0], runs[[r[0] for r in runs].index(
      'tiny_recycled_k2')]))
  assert recycled['seed'] == '0' and recycled['final step'] == str(n)
  assert float(recycled['span accuracy']) == pytest.approx(0.33)
  assert float(recycled['early loss']) == pytest.approx(6.0 - 5 * 0.31)
  with open(study / 'curves.csv') as f:
    curves = list(csv.reader(f))
  assert curves[0] == ['model', 'seed', 'step', 'span accuracy', 'span loss']
  assert [c[:3] for c in curves[1:]] == [  # two evaluations of two runs
      ['tiny_baseline_k1', '0', str(n // 2)], ['tiny_baseline_k1', '0', str(n)],
      ['tiny_recycled_k2', '0', str(n // 2)], ['tiny_recycled_k2', '0', str(n)]]
  for _, _, _, accuracy, loss in curves[1:]:
    assert float(loss) == pytest.approx(6.0 - 5 * float(accuracy))
  assert [float(c[3]) for c in curves[1:]] == pytest.approx(
      [0.3, 0.32, 0.31, 0.33])
  try:
    import matplotlib  # pylint: disable=g-import-not-at-top,unused-import
  except ImportError:
    return
  assert (study / 'quality_vs_time.png').read_bytes()[:8] == PNG


def test_read_scalars_keeps_the_last_value_of_a_resumed_step(tmp_path):
  _write(tmp_path, [(10, {'accuracy': 0.25}), (20, {'accuracy': 0.5})])
  # Resumed from step 10: a second events file rewrites step 20.
  _write(tmp_path, [(20, {'accuracy': 0.75}), (30, {'accuracy': 1.0})])
  assert len(list(tmp_path.glob('events.out.*'))) == 2
  assert report.read_scalars(str(tmp_path)) == {
      'accuracy': [(10, 0.25), (20, 0.75), (30, 1.0)]}
  assert report.read_scalars(str(tmp_path / 'missing')) == {}


def test_tables_align_columns_and_leave_gaps_blank(tmp_path):
  md = tables.markdown_table(('model', 'x'), [('a', 1234), ('b', None)],
                             align=[tables.LEFT, tables.RIGHT])
  assert md.splitlines() == ['| model | x |', '|---|---:|', '| a | 1,234 |',
                             '| b |  |']
  tables.write_csv(str(tmp_path / 't.csv'), ('model', 'x'),
                   [('a', 0.125), ('b', None)])
  assert (tmp_path / 't.csv').read_text().splitlines() == [
      'model,x', 'a,0.125', 'b,']


def test_benchmark_row_is_the_runs_own_model():
  """A run whose overrides change its parameters gets no benchmark cost."""
  from launch import seeded  # pylint: disable=g-import-not-at-top
  bench = {'rows': [{'model': 'altup_k2', 'params': 493296,
                     'train_step_ms': 460.0, 'xla_train_gflop': 8.4}]}
  run = {'model': 'tiny_altup_k2', 'variant': 'altup', 'size': 'tiny',
         'params': 493296}
  assert seeded.bench_row(bench, run)['train_step_ms'] == 460.0
  same = dict(run, model='tiny_altup_k2_same')  # same parameters, same cost
  assert seeded.bench_row(bench, same)['train_step_ms'] == 460.0
  summed = dict(run, model='tiny_altup_k2_sum', params=468656)  # d-wide logits
  assert seeded.bench_row(bench, summed) is None
  assert seeded.bench_row(bench, dict(run, variant='recycled')) is None
