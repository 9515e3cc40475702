"""The mesh-cost table: rows, ratios to the baseline, device capacities.

Pure functions over the numbers benchmarks.mesh.compile_case returns (no jax):
`make_row` turns one compile into a row, `add_ratios` divides by the
baseline of the same (size, devices, mesh, scan) group, `fits` and
`largest_batch` compare the per-device memory estimate with a device's
capacity; `write_outputs` writes mesh_cost.{md,csv,json,png}.

Memory estimate per device = arguments + outputs - aliased (donated) +
temporaries of XLA's buffer assignment (what XLA reports as the program's
total when it runs out of memory). XLA:CPU's own `peak_memory_in_bytes`
leaves the temporaries out, so it is kept in the CSV only.
"""

import math
from typing import Any, Dict, List, Optional, Sequence

from benchmarks import analytic
from launch import compose
from launch import tables

GIB = 2**30
# HBM per device (per core on v3, which Jax sees as one device).
CAPACITY_GIB = {'v3': 16, 'v4': 32, 'v5p': 95}
RATIO_KEYS = ('memory_bytes', 'flops', 'state_bytes', 'temp_bytes',
              'analytic_flops')
SCAN_MARK = ' †'
SCAN_NOTE = ('† XLA\'s cost analysis counts a while loop\'s body once, so a '
             'scanned stack\'s FLOPs are one layer\'s: compare the analytic '
             'count (matmuls only, benchmarks.analytic) across scan settings.')
GROUP_KEYS = ('size', 'devices', 'mesh', 'scan', 'batch')

# The Markdown table: (header, key, format).
COLUMNS = [
    ('size', 'size_label', '{}'),
    ('devices', 'devices', '{}'),
    ('mesh (data x model)', 'mesh', '{}'),
    ('scan', 'scan', '{}'),
    ('model', 'label', '{}'),
    ('params (M)', 'params_m', '{:.1f}'),
    ('params+opt GiB/dev', 'state_gib', '{:.2f}'),
    ('memory GiB/dev', 'memory_gib', '{:.2f}'),
    ('x', 'memory_bytes_ratio', '{:.3f}'),
    ('XLA TFLOP/step/dev', 'tflops', '{:.2f}'),
    ('x', 'flops_ratio', '{:.3f}'),
    ('analytic TFLOP/step/dev', 'analytic_tflops', '{:.2f}'),
    ('x', 'analytic_flops_ratio', '{:.3f}'),
    ('exceeds', 'exceeds', '{}'),
]  # then 'max batch <device> (est.)' per capacity, then 'compile s'


def columns(capacities: Dict[str, float]) -> List[tuple]:
  """COLUMNS, a largest-batch column per device, the compile time."""
  return (COLUMNS + [(f'max batch {name} (est.)', f'max_batch_{name}', '{}')
                     for name in capacities]
          + [('compile s', 'compile_s', '{:.0f}')])


def memory_bytes(r: Dict[str, Any]) -> int:
  """Per-device estimate: arguments + outputs - aliased + temporaries."""
  return (r['argument_bytes'] + r['output_bytes'] - r['alias_bytes']
          + r['temp_bytes'])


def fits(mem_bytes: float, capacity_bytes: float) -> bool:
  return mem_bytes <= capacity_bytes


def exceeds(mem_bytes: float, capacities: Dict[str, float]) -> str:
  """'v3' etc. for every device whose capacity (GiB) mem_bytes exceeds."""
  over = [name for name, gib in capacities.items()
          if not fits(mem_bytes, gib * GIB)]
  return ', '.join(over) if over else 'none'


def batch_fit(big: Dict[str, Any], small: Optional[Dict[str, Any]],
              data_parallel: int) -> Dict[str, float]:
  """Per-device memory as fixed + slope * (examples per device).

  With two compiles (`small` at a smaller batch) a line through both;
  otherwise the temporaries are taken as all activations (proportional to the
  batch), which overstates the slope (gradients are temporaries too) and so
  understates the largest batch.

  Returns:
    {'fixed': bytes, 'slope': bytes per example per device, 'method': str}.
  """
  b1, m1 = big['batch'] / data_parallel, memory_bytes(big)
  if small is not None and small['batch'] != big['batch']:
    b0, m0 = small['batch'] / data_parallel, memory_bytes(small)
    slope = (m1 - m0) / (b1 - b0)
    return {'fixed': m1 - slope * b1, 'slope': slope, 'method': 'fit'}
  slope = big['temp_bytes'] / b1
  return {'fixed': m1 - big['temp_bytes'], 'slope': slope, 'method': 'scale'}


def largest_batch(fit: Dict[str, float], capacity_bytes: float,
                  data_parallel: int) -> int:
  """Largest global batch (a multiple of data_parallel) whose estimate fits
  capacity_bytes; 0 when not even one example per device does."""
  if fit['slope'] <= 0:
    return 0 if fit['fixed'] > capacity_bytes else -1  # -1: unbounded
  per_device = math.floor((capacity_bytes - fit['fixed']) / fit['slope'])
  return max(per_device, 0) * data_parallel


def make_row(case, spec, r: Dict[str, Any],
             small: Optional[Dict[str, Any]] = None,
             capacities: Optional[Dict[str, float]] = None,
             dims: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
  """One compiled case's row (ratios come from add_ratios).

  Args:
    case: a benchmarks.mesh.Case.
    spec: its benchmarks.spec.ModelSpec.
    r: compile_case's numbers at case.batch.
    small: compile_case's numbers at a smaller batch, or None.
    capacities: device name -> GiB (default CAPACITY_GIB).
    dims: the model's dimensions (spec.parse_gin) for the analytic matmul
      count per device (benchmarks.analytic, the cost benchmark's: train
      multiply-adds x 2 x examples per device / model partitions); NaN
      without.
  """
  capacities = CAPACITY_GIB if capacities is None else capacities
  mem = memory_bytes(r)
  fit = batch_fit(r, small, case.data_parallel)
  flops = float('nan')
  if dims is not None:
    macs = analytic.analytic_macs(dims, spec.variant, case.inputs_length,
                                  case.targets_length)['train']
    flops = 2 * macs * case.batch / case.data_parallel / case.model_parallel
  row = {
      'size': case.size, 'size_label': compose.size_label(case.size),
      'devices': case.devices, 'mesh': case.mesh_label,
      'data_parallel': case.data_parallel,
      'model_parallel': case.model_parallel, 'scan': case.scan,
      'batch': case.batch, 'inputs_length': case.inputs_length,
      'targets_length': case.targets_length,
      'model': case.model, 'label': spec.label, 'variant': spec.variant,
      'altup_k': spec.altup_k, 'params': r['params'],
      'params_m': r['params'] / 1e6,
      'param_bytes': r['param_bytes'], 'optimizer_bytes': r['optimizer_bytes'],
      'state_bytes': r['param_bytes'] + r['optimizer_bytes'],
      'state_gib': (r['param_bytes'] + r['optimizer_bytes']) / GIB,
      'argument_bytes': r['argument_bytes'], 'output_bytes': r['output_bytes'],
      'alias_bytes': r['alias_bytes'], 'temp_bytes': r['temp_bytes'],
      'xla_cpu_peak_bytes': r['peak_bytes'],
      'memory_bytes': mem, 'memory_gib': mem / GIB,
      'flops': r['flops'], 'tflops': r['flops'] / 1e12,
      'analytic_flops': flops, 'analytic_tflops': flops / 1e12,
      'exceeds': exceeds(mem, capacities),
      'batch_fit': fit['method'],
      'compile_s': r['compile_s'] + (small['compile_s'] if small else 0.0),
  }
  for name, gib in capacities.items():
    row[f'fits_{name}'] = fits(mem, gib * GIB)
    row[f'max_batch_{name}'] = largest_batch(fit, gib * GIB,
                                             case.data_parallel)
  return row


def add_ratios(rows: Sequence[Dict[str, Any]]) -> None:
  """<key>_ratio (RATIO_KEYS): over the baseline row of the row's group
  (GROUP_KEYS); NaN where the group has no baseline."""
  base = {tuple(r[k] for k in GROUP_KEYS): r for r in rows
          if r['model'] == 'baseline'}
  for row in rows:
    b = base.get(tuple(row[k] for k in GROUP_KEYS))
    for key in RATIO_KEYS:
      row[f'{key}_ratio'] = (row[key] / b[key] if b and b[key]
                             else float('nan'))


def _cell(row, key, fmt):
  value = row.get(key)
  if value is None:
    return ''
  if isinstance(value, float) and math.isnan(value):
    return ''
  if key.startswith('max_batch') and value == -1:
    return 'any'
  if key in ('tflops', 'flops_ratio') and row.get('scan'):
    return fmt.format(value) + SCAN_MARK
  return fmt.format(value)


def markdown_table(rows: Sequence[Dict[str, Any]],
                   capacities: Dict[str, float]) -> str:
  cols = columns(capacities)
  return tables.markdown_table(
      [c[0] for c in cols],
      [[_cell(r, key, fmt) for _, key, fmt in cols] for r in rows])


def markdown(result: Dict[str, Any]) -> str:
  """The table with its header: shapes, machine, versions, wall time."""
  m, c = result['machine'], result['config']
  lines = [
      '# Per-device cost of AltUp on a TPU-slice-shaped mesh (compiled on CPU)',
      '',
      f'Global batch {c["batch"]}, {c["inputs_length"]} input / '
      f'{c["targets_length"]} target tokens (packed), vocabulary '
      f'{c["num_embeddings"]}; T5X train step (`trainer.train_with_lr`, the '
      'gins\' Adafactor) partitioned by T5X\'s PjitPartitioner and compiled, '
      'never run, on fake CPU devices.',
      '',
      '**Memory is XLA:CPU\'s buffer assignment for the partitioned program, '
      'an estimate of what XLA:TPU would allocate, not a TPU measurement.** '
      'Ratios (x) are to the baseline of the same size, mesh and scan setting. '
      f'Capacities: {", ".join(f"{k} {v:g} GiB" for k, v in c["capacities"].items())}. '
      '"max batch" is an estimate (' + c['batch_fit_doc'] + ').',
      '',
      markdown_table(result['rows'], c['capacities']),
      '',
      SCAN_NOTE,
      '',
      f'Machine: {m["cpu"]}; jax {m["jax"]}, flax {m["flax"]}, '
      f'flaxformer {m["flaxformer"]}, t5x {m["t5x"]}. '
      f'Wall time: {result["wall_s"] / 60:.1f} min.',
  ]
  return '\n'.join(lines) + '\n'


def write_outputs(result: Dict[str, Any], output_dir: str) -> Dict[str, str]:
  """Writes mesh_cost.{md,csv,json,png}; returns their paths by extension."""
  return tables.write_result(
      output_dir, 'mesh_cost', result, markdown(result),
      lambda path: plot(result['rows'], path, result['config']['capacities']))


def plot(rows: Sequence[Dict[str, Any]], path: str,
         capacities: Dict[str, float]) -> None:
  """Per-device memory estimate per configuration, one bar per model."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  groups: List[tuple] = []
  for r in rows:
    g = (r['size_label'], r['devices'], r['mesh'], r['scan'])
    if g not in groups:
      groups.append(g)
  models = []
  for r in rows:
    if r['label'] not in models:
      models.append(r['label'])
  width = 0.8 / max(len(models), 1)
  fig, ax = plt.subplots(figsize=(max(6.4, 1.1 * len(groups) + 2), 4.6),
                         dpi=120)
  for j, label in enumerate(models):
    xs, ys = [], []
    for i, g in enumerate(groups):
      for r in rows:
        if (r['size_label'], r['devices'], r['mesh'], r['scan']) == g and (
            r['label'] == label):
          xs.append(i + (j - (len(models) - 1) / 2) * width)
          ys.append(r['memory_gib'])
    ax.bar(xs, ys, width, label=label)
  for name, gib in capacities.items():
    ax.axhline(gib, ls='--', lw=0.8, color='gray')
    ax.text(-0.45, gib, f'{name} {gib:g} GiB', va='bottom', ha='left',
            fontsize=7, color='gray')
  ax.set_xticks(range(len(groups)))
  ax.set_xticklabels([f'{s}\n{n} dev {m}\n{"scan" if sc else "no scan"}'
                      for s, n, m, sc in groups], fontsize=7)
  ax.set_ylabel('memory estimate per device (GiB)')
  ax.set_yscale('log')
  ax.set_title('T5X train step, XLA:CPU estimate per device', fontsize=10)
  ax.legend(fontsize=7, loc='upper left', bbox_to_anchor=(0, 0.92))
  ax.grid(True, axis='y', alpha=0.3)
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)
