"""Reads T5X's TensorBoard summaries of a run into scalars and tables.

T5X writes `<model_dir>/train`, `<model_dir>/training_eval/<task>` and
`<model_dir>/inference_eval/<task>` event files (clu metric writers). Missing
runs or metrics read as None and print as blanks, never as zeros.
"""

import csv
import glob
import json
import os
from typing import Dict, List, Optional, Sequence, Tuple

from launch import compose

Series = List[Tuple[int, float]]


FLOOR_ROW = 'floor (no language)'  # the first row of a table with a floor


def _events(path: str):
  """Event protos of one events file (TensorFlow's reader, else TensorBoard's)."""
  try:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
  except ImportError:
    from tensorboard.backend.event_processing import event_file_loader  # pylint: disable=g-import-not-at-top
    yield from event_file_loader.EventFileLoader(path).Load()
    return
  for record in tf.data.TFRecordDataset(path):
    yield tf.compat.v1.Event.FromString(record.numpy())


def _number(value) -> Optional[float]:
  """The scalar of a Summary.Value (simple_value or 0-d tensor), else None."""
  kind = value.WhichOneof('value')
  if kind == 'simple_value':
    return float(value.simple_value)
  if kind == 'tensor' and not value.tensor.tensor_shape.dim:
    from tensorboard.util import tensor_util  # pylint: disable=g-import-not-at-top
    number = tensor_util.make_ndarray(value.tensor)
    if number.dtype.kind in 'fiu':
      return float(number)
  return None


def read_scalars(summary_dir: str) -> Dict[str, Series]:
  """tag -> [(step, value), ...] sorted by step, from every events file."""
  scalars: Dict[str, Dict[int, float]] = {}
  for path in sorted(glob.glob(os.path.join(summary_dir, 'events.out.*'))):
    for event in _events(path):
      for value in event.summary.value:
        number = _number(value)
        if number is not None:
          scalars.setdefault(value.tag, {})[int(event.step)] = number
  return {tag: sorted(v.items()) for tag, v in scalars.items()}


def last(series: Optional[Series]) -> Optional[float]:
  return series[-1][1] if series else None


def metric(model_dir: str, collection: str, tag: str) -> Optional[float]:
  """Last value of `tag` in <model_dir>/<collection>, None if absent."""
  directory = os.path.join(model_dir, collection)
  if not os.path.isdir(directory):
    return None
  return last(read_scalars(directory).get(tag))


def format_cell(value, digits: int = 4) -> str:
  """'' for None (a gap, never 0), ints with thousands separators."""
  if value is None:
    return ''
  if isinstance(value, int) and not isinstance(value, bool):
    return f'{value:,}'
  return f'{value:.{digits}g}'


def markdown_table(header: Sequence[str], rows: Sequence[Sequence]) -> str:
  lines = ['| ' + ' | '.join(header) + ' |',
           '|' + '|'.join('---' for _ in header) + '|']
  for row in rows:
    lines.append('| ' + ' | '.join(
        c if isinstance(c, str) else format_cell(c) for c in row) + ' |')
  return '\n'.join(lines)


def write_table(path_prefix: str, header, rows) -> str:
  """Writes <prefix>.md and <prefix>.csv; returns the Markdown."""
  md = markdown_table(header, rows)
  with open(path_prefix + '.md', 'w') as f:
    f.write(md + '\n')
  with open(path_prefix + '.csv', 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(header)
    for row in rows:
      writer.writerow(['' if c is None else c for c in row])
  return md


def benchmark_scores(finetune_dir: str) -> Dict[str, float]:
  """Metrics of one finetuning run from its inference_eval summaries.

  A single task gives its metrics (e.g. {'em': .., 'f1': ..}); a mixture
  gives {'average': ...}, the mean over tasks of each task's metric mean (the
  T5 paper's GLUE/SuperGLUE score).
  """
  root = os.path.join(finetune_dir, 'inference_eval')
  per_task = {}
  for task_dir in sorted(glob.glob(os.path.join(root, '*'))):
    if not os.path.isdir(task_dir):
      continue
    values = {tag.split('/', 1)[1]: last(s)
              for tag, s in read_scalars(task_dir).items()
              if tag.startswith('eval/') and s}
    if values:
      per_task[os.path.basename(task_dir)] = values
  if len(per_task) == 1:
    return next(iter(per_task.values()))
  if not per_task:
    return {}
  means = [sum(v.values()) / len(v) for v in per_task.values()]
  return {'average': sum(means) / len(means)}


def param_count(model_dir: str) -> Optional[int]:
  """Total parameters from T5X's model-info.txt."""
  path = os.path.join(model_dir, 'model-info.txt')
  if os.path.exists(path):
    for line in open(path):
      if line.startswith('Total number of parameters:'):
        return int(line.split(':')[1])
  return None


def quality_curve(exp) -> Series:
  """[(training seconds, held-out span accuracy)] of a pretraining run.

  Training time is step / steps-per-second (T5X's train timing), so curves of
  models trained on different machines or with interruptions compare fairly.
  """
  directory = os.path.join(exp.model_dir, 'training_eval', exp.task)
  speed = metric(exp.model_dir, 'train', 'timing/steps_per_second')
  if not speed or not os.path.isdir(directory):
    return []
  return [(step / speed, value) for step, value in
          read_scalars(directory).get('accuracy', [])]


def time_to_reach(curve: Series, quality: float) -> Optional[float]:
  """First time a (time, quality) curve reaches `quality` (linear between
  evaluations); None if it never does."""
  previous = None
  for t, q in curve:
    if q >= quality:
      if previous is None or previous[1] >= quality:
        return t
      (t0, q0) = previous
      return t0 + (t - t0) * (quality - q0) / (q - q0)
    previous = (t, q)
  return None


def speedup_at_equal_quality(curve: Series, baseline: Series
                             ) -> Optional[float]:
  """How much longer the baseline trains to reach this run's final quality.

  The paper's speed-up at equal accuracy: t_baseline(q) / t_model(q) with q
  the model's final quality; None where the baseline never reaches q within
  its run (or a curve is missing), never a made-up number.
  """
  if not curve or not baseline:
    return None
  quality = curve[-1][1]
  t_model, t_base = time_to_reach(curve, quality), time_to_reach(
      baseline, quality)
  return t_base / t_model if t_model and t_base else None


def sweep_table(jobs, floor: Optional[Dict] = None
                ) -> Tuple[List[str], List[List]]:
  """(header, rows): one row per model of a sweep (see launch.sweeps.Job).

  Every benchmark of the sweep gets its columns (sweeps.BENCHMARK_METRICS) even
  before any run of it exists; missing values are None. `floor`: launch.floor's
  result, shown as a first row.
  """
  from launch import sweeps  # pylint: disable=g-import-not-at-top
  models: Dict[str, Dict[str, object]] = {}
  benchmarks: Dict[str, List[str]] = {}
  for job in jobs:
    row = models.setdefault(job.model, {})
    exp = job.experiment
    if job.stage == 'pretrain':
      collection = f'training_eval/{exp.task}'
      row['size'], row['baseline'] = exp.size, exp.variant in compose.BASELINES
      row['family'] = 'moe' if exp.variant in compose.MOE_VARIANTS else 'dense'
      row['params'] = param_count(exp.model_dir)
      row['span accuracy'] = metric(exp.model_dir, collection, 'accuracy')
      row['span loss'] = metric(exp.model_dir, collection,
                                'cross_ent_loss_per_all_target_tokens')
      row['steps/s'] = metric(exp.model_dir, 'train',
                              'timing/steps_per_second')
      row['curve'] = quality_curve(exp)
    else:
      scores = benchmark_scores(exp.model_dir)
      names = benchmarks.setdefault(
          job.benchmark, list(sweeps.BENCHMARK_METRICS.get(job.benchmark, ())))
      for name, value in scores.items():
        if name not in names:
          names.append(name)
        row[f'{job.benchmark} {name}'] = value
  for row in models.values():  # speed relative to the same size's baseline
    base = next((r for r in models.values()                # (MoE: MoE's)
                 if r.get('baseline') and r.get('size') == row.get('size')
                 and r.get('family') == row.get('family')), None)
    if base and base.get('steps/s') and row.get('steps/s'):
      row['speed x'] = row['steps/s'] / base['steps/s']
    if base:
      row['speed-up at equal accuracy'] = speedup_at_equal_quality(
          row.get('curve'), base.get('curve'))
  header = ['model', 'params', 'span accuracy', 'span loss', 'steps/s',
            'speed x', 'speed-up at equal accuracy'] + [f'{b} {n}' for b, ns in benchmarks.items()
                          for n in ns]
  rows = [[name] + [row.get(h) for h in header[1:]]
          for name, row in models.items()]
  if floor:
    rows.insert(0, [FLOOR_ROW, None, floor['accuracy'], floor['loss']]
                + [None] * (len(header) - 4))
  return header, rows


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


def eval_series(exp, tag: str) -> Series:
  """[(step, value)] of a held-out metric of a pretraining run."""
  directory = os.path.join(exp.model_dir, 'training_eval', exp.task)
  if not os.path.isdir(directory):
    return []
  return read_scalars(directory).get(tag, [])


SPAN_LOSS = 'cross_ent_loss_per_all_target_tokens'


def run_rows(jobs) -> List[Dict[str, object]]:
  """One dict per (model, seed) of a sweep: its pretraining and finetuning
  metrics, with the accuracy and loss curves against steps."""
  runs: Dict[Tuple[str, int], Dict[str, object]] = {}
  for job in jobs:
    exp = job.experiment
    row = runs.setdefault((job.model, job.seed),
                          {'model': job.model, 'seed': job.seed})
    if job.stage == 'pretrain':
      accuracy, loss = eval_series(exp, 'accuracy'), eval_series(exp,
                                                                 SPAN_LOSS)
      row.update(params=param_count(exp.model_dir), accuracy_curve=accuracy,
                 loss_curve=loss, steps=exp.train_steps,
                 variant=exp.variant, size=exp.size)
      row['final step'] = accuracy[-1][0] if accuracy else None
      row['complete'] = row['final step'] == exp.train_steps
      row['early loss'] = loss[0][1] if loss else None
      row['final loss'] = last(loss)
      row['span accuracy'] = last(accuracy)
    else:
      for name, value in benchmark_scores(exp.model_dir).items():
        row[f'{job.benchmark} {name}'] = value
  return list(runs.values())


def _bench_rows(bench: Optional[Dict]) -> Dict[Tuple[str, int, int], Dict]:
  """benchmarks.altup_cost rows keyed by (variant, K, width multiple)."""
  rows = {}
  for row in (bench or {}).get('rows', []):
    widen = 1
    if row['model'].startswith('dense_'):
      widen = int(row['model'][len('dense_'):-1])
    variant = 'baseline' if widen > 1 else row['variant']
    rows[(variant, int(row['altup_k']), widen)] = row
  return rows


def bench_row(bench: Optional[Dict], run: Dict[str, object]
              ) -> Optional[Dict]:
  """The benchmark row measuring the model of `run` (None if not measured)."""
  widen = 2 if str(run.get('size', '')).endswith('_2d') else 1
  k = int(str(run['model']).split('_k')[1].split('_')[0])
  return _bench_rows(bench).get((run.get('variant'), k, widen))


def time_curve(curve: Series, step_seconds: Optional[float]) -> Series:
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
    run['speed-up'] = speedup_at_equal_quality(
        time_curve(run.get('accuracy_curve') or [], _seconds(run)),
        time_curve(base.get('accuracy_curve') or [], _seconds(base)))
  models: Dict[str, List[Dict]] = {}
  for run in runs:
    models.setdefault(str(run['model']), []).append(run)
  rows = []
  if floor:
    rows.append([FLOOR_ROW, '', '', '', '',
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
                 label='floor (no language)')
    ax.set_xlabel(label)
    ax.set_ylabel('span accuracy (held-out)')
    ax.grid(alpha=0.3)
  axes[0][0].legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)
  return path


def plot_quality_vs_time(jobs, path: str) -> Optional[str]:
  """Span accuracy against training time (the paper's figure), as PNG."""
  try:
    import matplotlib  # pylint: disable=g-import-not-at-top
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  except ImportError:
    return None
  fig, ax = plt.subplots(figsize=(6, 4))
  plotted = False
  for job in jobs:
    if job.stage != 'pretrain':
      continue
    curve = quality_curve(job.experiment)
    if not curve:
      continue
    ax.plot([t for t, _ in curve], [v for _, v in curve], 'o-',
            label=job.model)
    plotted = True
  if not plotted:
    plt.close(fig)
    return None
  ax.set_xlabel('training time (s) = step / steps per second')
  ax.set_ylabel('span accuracy (held-out)')
  ax.grid(alpha=0.3)
  ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=120)
  plt.close(fig)
  return path


def write_curves(jobs, path: str) -> None:
  """Every held-out evaluation of every run: model, seed, step, accuracy, loss."""
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['model', 'seed', 'step', 'span accuracy', 'span loss'])
    for run in run_rows(jobs):
      losses = dict(run.get('loss_curve') or [])
      for step, accuracy in run.get('accuracy_curve') or []:
        writer.writerow([run['model'], run['seed'], step, accuracy,
                         losses.get(step, '')])


def _load_json(path: str) -> Optional[Dict]:
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def seeded_report(jobs, root: str, out: str) -> str:
  """Writes a seeded sweep's tables and curves to `out`; returns the Markdown.

  Reads <root>/floor.json and <root>/benchmark/altup_cost.json when present
  (launch.sweeps measures both for sweeps with `measure`).
  """
  from launch import sweeps  # pylint: disable=g-import-not-at-top
  floor = _load_json(os.path.join(root, sweeps.FLOOR_FILE))
  bench = _load_json(os.path.join(root, sweeps.BENCHMARK_DIR,
                                  'altup_cost.json'))
  header, rows, run_header, run_rows_ = seeded_table(jobs, floor, bench)
  md = write_table(os.path.join(out, 'results'), header, rows)
  write_table(os.path.join(out, 'results_runs'), run_header, run_rows_)
  write_curves(jobs, os.path.join(out, 'curves.csv'))
  plot_seeded_curves(jobs, os.path.join(out, 'quality_vs_time.png'), floor,
                     bench)
  return md


def main(argv) -> None:
  """python -m launch.report --sweep_dir=<dir> [--sweep=<name>] [--output_dir=...]."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  from launch import sweeps  # pylint: disable=g-import-not-at-top
  del argv
  flag_values = flags.FLAGS
  sweep = sweeps.SWEEPS[flag_values.sweep]
  jobs = sweeps.expand(sweep, flag_values.sweep_dir)
  out = flag_values.output_dir or flag_values.sweep_dir
  os.makedirs(out, exist_ok=True)
  if sweep.seeds is not None:
    print(seeded_report(jobs, flag_values.sweep_dir, out))
    print(f'Wrote {out}/results.md, results.csv, results_runs.{{md,csv}}, '
          'curves.csv, quality_vs_time.png')
    return
  header, rows = sweep_table(jobs)
  print(write_table(os.path.join(out, 'results'), header, rows))
  png = plot_quality_vs_time(jobs, os.path.join(out, 'quality_vs_time.png'))
  print(f'Wrote {out}/results.md, results.csv' + (f', {png}' if png else ''))


def define_flags() -> None:
  from absl import flags  # pylint: disable=g-import-not-at-top
  from launch import sweeps  # pylint: disable=g-import-not-at-top
  flags.DEFINE_enum('sweep', 'offline_tiny', tuple(sweeps.SWEEPS),
                    'Which sweep laid out --sweep_dir (launch.sweeps).')
  flags.DEFINE_string('sweep_dir', None, 'Root directory of the sweep.')
  flags.DEFINE_alias('root', 'sweep_dir')
  flags.DEFINE_string('output_dir', None, 'Where to write (default: sweep_dir).')
  flags.mark_flag_as_required('sweep_dir')


def entry() -> None:
  from launch import cli  # pylint: disable=g-import-not-at-top
  cli.run(main, 'launch.report', define_flags)


if __name__ == '__main__':
  entry()
