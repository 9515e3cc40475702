"""The seeded study's report: mean ± std over seeds, per-run rows, curves.

For sweeps with a seed axis (a Sweep's `seeds`): one row per model in
the layout of Narang et al. (2021), one row per model and seed, every held-out
evaluation as CSV and the accuracy curves (mean with a ±std band). The runs'
summaries are read by launch.report; the models' cost comes from
benchmarks.altup_cost's JSON result for the sweep's shapes.
"""

import json
import os
from typing import Dict, List, Optional, Sequence, Tuple

from benchmarks import spec as bench_spec
from launch import compose
from launch import report
from launch import tables


def mean_std(values: Sequence[Optional[float]]
             ) -> Tuple[Optional[float], Optional[float], int]:
  """(mean, sample std, n) of the values that are not None; std None if n<2."""
  xs = [float(v) for v in values if v is not None]
  if not xs:
    return None, None, 0
  mean = sum(xs) / len(xs)
  if len(xs) < 2:
    return mean, None, len(xs)
  return mean, (sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) ** 0.5, len(
      xs)


def format_mean_std(values: Sequence[Optional[float]], digits: int = 4,
                    scale: float = 1.0) -> str:
  """'0.3512 ± 0.0021' over the seeds ('' when none; no ± for one seed)."""
  mean, std, n = mean_std(values)
  if mean is None:
    return ''
  text = f'{mean * scale:.{digits}f}'
  if std is not None:
    text += f' ± {std * scale:.{digits}f}'
  return text


def eval_series(exp, tag: str) -> report.Series:
  """[(step, value)] of a held-out metric of a pretraining run."""
  directory = os.path.join(exp.model_dir, 'training_eval', exp.task)
  if not os.path.isdir(directory):
    return []
  return report.read_scalars(directory).get(tag, [])


def run_rows(jobs) -> List[Dict[str, object]]:
  """One dict per (model, seed) of a sweep: its pretraining and finetuning
  metrics, with the accuracy and loss curves against steps."""
  runs: Dict[Tuple[str, int], Dict[str, object]] = {}
  for job in jobs:
    exp = job.experiment
    row = runs.setdefault((job.model, job.seed),
                          {'model': job.model, 'seed': job.seed})
    if job.stage == 'pretrain':
      accuracy = eval_series(exp, 'accuracy')
      loss = eval_series(exp, report.SPAN_LOSS)
      row.update(params=report.param_count(exp.model_dir),
                 accuracy_curve=accuracy,
                 loss_curve=loss, steps=exp.train_steps,
                 variant=exp.variant, size=exp.size)
      row['final step'] = accuracy[-1][0] if accuracy else None
      row['complete'] = row['final step'] == exp.train_steps
      row['early loss'] = loss[0][1] if loss else None
      row['final loss'] = report.last(loss)
      row['span accuracy'] = report.last(accuracy)
    else:
      for name, value in report.benchmark_scores(exp.model_dir).items():
        row[f'{job.benchmark} {name}'] = value
  return list(runs.values())


def _bench_rows(bench: Optional[Dict]) -> Dict[Tuple[str, int, int], Dict]:
  """benchmarks.altup_cost rows keyed by (variant, K, width multiple)."""
  rows = {}
  for row in (bench or {}).get('rows', []):
    spec = bench_spec.parse_model(row['model'])
    rows[(spec.variant, spec.altup_k, spec.widen)] = row
  return rows


def bench_row(bench: Optional[Dict], run: Dict[str, object]
              ) -> Optional[Dict]:
  """The benchmark row measuring the model of `run` (None if not measured).

  A run whose overrides change its parameters (e.g. ALTUP_DECODER_OUTPUT='sum'
  instead of the benchmark's 'concat') is another model: None.
  """
  widen = 2 if str(run.get('size', '')).endswith('_2d') else 1
  k = int(str(run['model']).split('_k')[1].split('_')[0])
  row = _bench_rows(bench).get((run.get('variant'), k, widen))
  if row and run.get('params') and row.get('params') not in (None,
                                                             run['params']):
    return None
  return row


def time_curve(curve: report.Series, step_seconds: Optional[float]
               ) -> report.Series:
  """[(step, q)] -> [(training seconds, q)] at a fixed time per step."""
  if not step_seconds:
    return []
  return [(step * step_seconds, q) for step, q in curve]


SEEDED_HEADER = ['model', 'seeds', 'params', 'XLA train GFLOP/step',
                 'step time (ms)', 'early loss', 'final loss',
                 'span accuracy', 'sentiment accuracy',
                 'speed-up at equal accuracy']


def seeded_table(jobs, floor: Optional[Dict] = None,
                 bench: Optional[Dict] = None
                 ) -> Tuple[List[str], List[List], List[str], List[List]]:
  """Mean ± std over seeds per model, in the layout of Narang et al. (2021).

  Args:
    jobs: a sweep's jobs (launch.sweeps.expand), seeds included.
    floor: launch.floor's result (a 'floor' row), or None.
    bench: benchmarks.altup_cost's JSON result for the sweep's shapes: the
      params' FLOPs and step time (one interleaved run, not the training
      runs' own timing), which also put the curves on a time axis for the
      speed-up at equal accuracy. None: those cells are blank.

  Returns:
    (header, rows) of the aggregated table and (header, rows) of the
    per-run table (one row per model and seed).
  """
  runs = run_rows(jobs)
  for run in runs:
    row = bench_row(bench, run)
    run['step ms'] = row['train_step_ms'] if row else None
    run['gflop'] = row['xla_train_gflop'] if row else None
  baselines = {(r['seed'], r.get('size')): r for r in runs
               if r.get('variant') in compose.BASELINES}
  for run in runs:
    base = baselines.get((run['seed'], run.get('size')))
    if base is None or base is run or not (run.get('complete')
                                           and base.get('complete')):
      continue
    run['speed-up'] = report.speedup_at_equal_quality(
        time_curve(run.get('accuracy_curve') or [], _seconds(run)),
        time_curve(base.get('accuracy_curve') or [], _seconds(base)))
  models: Dict[str, List[Dict]] = {}
  for run in runs:
    models.setdefault(str(run['model']), []).append(run)
  rows = []
  if floor:
    rows.append([report.FLOOR_ROW, '', '', '', '',
                 f'{floor["loss"]:.4f}', f'{floor["loss"]:.4f}',
                 f'{floor["accuracy"]:.4f}', '', ''])
  for model, group in models.items():
    # Only finished runs count; an unfinished one shows in the per-run table.
    done = [r for r in group if r.get('complete')]
    speedups = [r.get('speed-up') for r in done]
    n_speedup = sum(s is not None for s in speedups)
    speedup = format_mean_std(speedups, 2)
    if speedup and n_speedup < len(done):
      speedup += f' ({n_speedup}/{len(done)} seeds)'
    rows.append([
        model, len(done), group[0].get('params'),
        _fixed(group[0].get('gflop'), 3), _fixed(group[0].get('step ms'), 1),
        format_mean_std([r.get('early loss') for r in done]),
        format_mean_std([r.get('final loss') for r in done]),
        format_mean_std([r.get('span accuracy') for r in done]),
        format_mean_std([r.get('sentiment accuracy') for r in done], 2),
        speedup])
  run_header = ['model', 'seed', 'params', 'final step', 'early loss',
                'final loss', 'span accuracy', 'sentiment accuracy',
                'speed-up at equal accuracy']
  run_table = [[r['model'], r['seed'], r.get('params'), r.get('final step'),
                r.get('early loss'), r.get('final loss'),
                r.get('span accuracy'), r.get('sentiment accuracy'),
                r.get('speed-up')] for r in runs]
  return SEEDED_HEADER, rows, run_header, run_table


def _seconds(run: Dict[str, object]) -> Optional[float]:
  ms = run.get('step ms')
  return ms / 1e3 if ms else None


def _fixed(value: Optional[float], digits: int) -> str:
  return '' if value is None else f'{value:.{digits}f}'


def plot_seeded_curves(jobs, path: str, floor: Optional[Dict] = None,
                       bench: Optional[Dict] = None) -> Optional[str]:
  """Span accuracy against steps (and training time, with `bench`): the mean
  over seeds with a ±std band, one curve per model; the floor dashed."""
  try:
    import matplotlib  # pylint: disable=g-import-not-at-top
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  except ImportError:
    return None
  runs = [r for r in run_rows(jobs) if r.get('complete')]
  if not runs:
    return None
  axes_x = [('steps', lambda r: 1.0)]
  if bench:
    axes_x.append(('training time (s) at the benchmark\'s step time',
                   lambda r: (bench_row(bench, r) or {}).get(
                       'train_step_ms', float('nan')) / 1e3))
  fig, axes = plt.subplots(1, len(axes_x), figsize=(6 * len(axes_x), 4),
                           squeeze=False)
  models: Dict[str, List[Dict]] = {}
  for run in runs:
    models.setdefault(str(run['model']), []).append(run)
  for ax, (label, scale) in zip(axes[0], axes_x):
    for model, group in models.items():
      steps = sorted(set.intersection(*(
          {s for s, _ in r['accuracy_curve']} for r in group)))
      if not steps:
        continue
      values = [[dict(r['accuracy_curve'])[s] for r in group] for s in steps]
      mean = [mean_std(v)[0] for v in values]
      std = [mean_std(v)[1] or 0.0 for v in values]
      x = [s * scale(group[0]) for s in steps]
      line, = ax.plot(x, mean, 'o-', ms=3,
                      label=f'{model} (n={len(group)})')
      ax.fill_between(x, [m - d for m, d in zip(mean, std)],
                      [m + d for m, d in zip(mean, std)],
                      color=line.get_color(), alpha=0.2)
    if floor:
      ax.axhline(floor['accuracy'], color='k', ls='--', lw=1,
                 label=report.FLOOR_ROW)
    ax.set_xlabel(label)
    ax.set_ylabel('span accuracy (held-out)')
    ax.grid(alpha=0.3)
  axes[0][0].legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)
  return path


def write_curves(jobs, path: str) -> None:
  """Every held-out evaluation of every run: model, seed, step, accuracy, loss."""
  rows = []
  for run in run_rows(jobs):
    losses = dict(run.get('loss_curve') or [])
    rows += [[run['model'], run['seed'], step, accuracy, losses.get(step)]
             for step, accuracy in run.get('accuracy_curve') or []]
  tables.write_csv(path, ['model', 'seed', 'step', 'span accuracy',
                          'span loss'], rows)


def _load_json(path: str) -> Optional[Dict]:
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def seeded_report(jobs, root: str, out: str) -> str:
  """Writes a seeded sweep's tables and curves to `out`; returns the Markdown.

  Reads <root>/floor.json and <root>/benchmark/altup_cost.json when present
  (launch.jobs measures both for sweeps with `measure`).
  """
  from launch import jobs as jobs_lib  # pylint: disable=g-import-not-at-top
  floor = _load_json(os.path.join(root, jobs_lib.FLOOR_FILE))
  bench = _load_json(os.path.join(root, jobs_lib.BENCHMARK_DIR,
                                  'altup_cost.json'))
  header, rows, run_header, run_rows_ = seeded_table(jobs, floor, bench)
  md = tables.write_table(os.path.join(out, 'results'), header, rows)
  tables.write_table(os.path.join(out, 'results_runs'), run_header, run_rows_)
  write_curves(jobs, os.path.join(out, 'curves.csv'))
  plot_seeded_curves(jobs, os.path.join(out, 'quality_vs_time.png'), floor,
                     bench)
  return md

