"""Reads T5X's TensorBoard summaries of a run into scalars and tables.

T5X writes `<model_dir>/train`, `<model_dir>/training_eval/<task>` and
`<model_dir>/inference_eval/<task>` event files (clu metric writers). Missing
runs or metrics read as None and print as blanks, never as zeros.

A sweep gets one row per model (`sweep_table`); a sweep with seeds gets the
seeded study's tables and curves (launch.seeded). Tables are written by
launch.tables.

Usage:
  python -m launch.report --sweep=offline_study --root=/tmp/altup_study \
      [--output_dir=docs/study]
"""

import glob
import os
from typing import Dict, List, Optional, Tuple

from launch import compose
from launch import tables

Series = List[Tuple[int, float]]


FLOOR_ROW = 'floor (no language)'  # the first row of a table with a floor
SPAN_LOSS = 'cross_ent_loss_per_all_target_tokens'  # T5X's held-out loss tag



def read_scalars(summary_dir: str) -> Dict[str, Series]:
  """tag -> [(step, value), ...] sorted by step, from every events file.

  TensorBoard's reader, every event kept, the files in name order: the
  scalars plugin's tags (T5X's `tf.summary.scalar`s and simple values alike).
  A step written twice (a run resumed from a checkpoint) keeps its last value.
  """
  # The 'launch' extra's tensorboard, imported here: launch.offline imports
  # this module without reading summaries.
  from tensorboard.backend.event_processing import plugin_event_accumulator as event_accumulator  # pylint: disable=g-import-not-at-top
  from tensorboard.plugins.scalar import metadata as scalar_metadata  # pylint: disable=g-import-not-at-top
  from tensorboard.util import tensor_util  # pylint: disable=g-import-not-at-top
  scalars: Dict[str, Dict[int, float]] = {}
  for path in sorted(glob.glob(os.path.join(summary_dir, 'events.out.*'))):
    accumulator = event_accumulator.EventAccumulator(
        path, size_guidance={event_accumulator.TENSORS: 0},
        purge_orphaned_data=False)
    accumulator.Reload()
    for tag in accumulator.Tags()[event_accumulator.TENSORS]:
      plugin = accumulator.SummaryMetadata(tag).plugin_data.plugin_name
      if plugin != scalar_metadata.PLUGIN_NAME:
        continue
      for event in accumulator.Tensors(tag):
        scalars.setdefault(tag, {})[event.step] = float(
            tensor_util.make_ndarray(event.tensor_proto))
  return {tag: sorted(v.items()) for tag, v in scalars.items()}


def last(series: Optional[Series]) -> Optional[float]:
  return series[-1][1] if series else None


def metric(model_dir: str, collection: str, tag: str) -> Optional[float]:
  """Last value of `tag` in <model_dir>/<collection>, None if absent."""
  directory = os.path.join(model_dir, collection)
  if not os.path.isdir(directory):
    return None
  return last(read_scalars(directory).get(tag))


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

  Every benchmark of the sweep gets its columns (tasks.BENCHMARK_METRICS) even
  before any run of it exists; missing values are None. `floor`: launch.floor's
  result, shown as a first row.
  """
  import tasks  # pylint: disable=g-import-not-at-top
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
      row['span loss'] = metric(exp.model_dir, collection, SPAN_LOSS)
      row['steps/s'] = metric(exp.model_dir, 'train',
                              'timing/steps_per_second')
      row['curve'] = quality_curve(exp)
    else:
      scores = benchmark_scores(exp.model_dir)
      names = benchmarks.setdefault(
          job.benchmark, list(tasks.BENCHMARK_METRICS.get(job.benchmark, ())))
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
    from launch import seeded  # pylint: disable=g-import-not-at-top
    print(seeded.seeded_report(jobs, flag_values.sweep_dir, out))
    print(f'Wrote {out}/results.md, results.csv, results_runs.{{md,csv}}, '
          'curves.csv, quality_vs_time.png')
    return
  header, rows = sweep_table(jobs)
  print(tables.write_table(os.path.join(out, 'results'), header, rows))
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
