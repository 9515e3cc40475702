"""The cost benchmark's results: rows, ratios, cost targets and the outputs.

`make_result` turns the timed models into one row per model (medians, ratios to
the first model, XLA's and the analytic FLOP counts) and checks the cost
targets; `write_outputs` writes altup_cost.{md,csv,json,png}.
"""

import dataclasses
import math
import statistics
from typing import Any, Dict, List, Sequence

from benchmarks import analytic
from benchmarks import spec as spec_lib
from launch import compose
from launch import tables

# Keys that also get a <key>_ratio column: the value over the first model's.
RATIO_KEYS = ('params', 'train_step_ms', 'train_step_min_ms', 'encoder_ms',
              'decode_ms_per_token', 'train_peak_mib', 'xla_train_gflop',
              'xla_forward_gflop', 'analytic_forward_gflop',
              'analytic_train_gflop')

# The Markdown table: (header, key, format[, scale]).
COLUMNS = [
    ('model', 'label', '{}'),
    ('params (M)', 'params', '{:.2f}', 1e-6),
    ('x', 'params_ratio', '{:.2f}'),
    ('train step ms', 'train_step_ms', '{:.1f}'),
    ('x', 'train_step_ms_ratio', '{:.3f}'),
    ('min ms', 'train_step_min_ms', '{:.1f}'),
    ('x', 'train_step_min_ms_ratio', '{:.3f}'),
    ('encoder ms', 'encoder_ms', '{:.2f}'),
    ('x', 'encoder_ms_ratio', '{:.3f}'),
    ('decode ms/token', 'decode_ms_per_token', '{:.2f}'),
    ('x', 'decode_ms_per_token_ratio', '{:.3f}'),
    ('train peak MiB', 'train_peak_mib', '{:.0f}'),
    ('x', 'train_peak_mib_ratio', '{:.2f}'),
    ('XLA train GFLOP', 'xla_train_gflop', '{:.1f}'),
    ('x', 'xla_train_gflop_ratio', '{:.4f}'),
    ('XLA fwd x', 'xla_forward_gflop_ratio', '{:.4f}'),
    ('analytic fwd x', 'analytic_forward_gflop_ratio', '{:.4f}'),
    ('analytic AltUp/layer %', 'analytic_altup_layer_overhead_pct', '{:.3f}'),
]
TARGET_HEADER = ('target', 'model', 'value', 'goal', 'met')
# A decoder-only model's 'encoder_ms' is the prefill of its inputs.
PREFILL_HEADER = 'prefill ms'


def columns(result: Dict[str, Any]) -> List[tuple]:
  """COLUMNS, the encoder column named PREFILL_HEADER for a decoder-only
  result."""
  if not _decoder_only(result):
    return list(COLUMNS)
  return [(PREFILL_HEADER,) + c[1:] if c[1] == 'encoder_ms' else c
          for c in COLUMNS]


def _decoder_only(result: Dict[str, Any]) -> bool:
  return bool(result['dims'][result['rows'][0]['model']].get('decoder_only'))


def _median(xs):
  return statistics.median(xs) if xs else float('nan')


def _ratio(a, b):
  try:
    return a / b if b else float('nan')
  except TypeError:
    return float('nan')


def model_row(cfg: spec_lib.BenchConfig, cm) -> Dict[str, Any]:
  """One timed measure.CompiledModel's row (without the ratios)."""
  a = analytic.analytic_macs(cm.dims, cm.spec.variant, cfg.inputs_length,
                             cfg.targets_length)
  return {
      'model': cm.spec.name,
      'label': cm.spec.label,
      'variant': cm.spec.variant,
      'altup_k': cm.spec.altup_k,
      'embed_dim': cm.dims['EMBED_DIM'],
      'params': cm.num_params,
      'train_step_ms': 1e3 * _median(cm.train_times),
      'train_step_min_ms': 1e3 * min(cm.train_times) if cm.train_times else float('nan'),
      'encoder_ms': 1e3 * _median(cm.encode_times),
      'decode_ms_per_token': 1e3 * _median(cm.decode_times),
      'train_peak_mib': cm.train_peak_bytes / 2**20,
      'decode_peak_mib': cm.decode_peak_bytes / 2**20,
      'xla_train_gflop': cm.train_flops / 1e9,
      'xla_forward_gflop': cm.forward_flops / 1e9,
      'xla_decode_mflop_per_token': cm.decode_flops / 1e6,
      'analytic_forward_gflop': 2 * cfg.batch * a['forward'] / 1e9,
      'analytic_train_gflop': 2 * cfg.batch * a['train'] / 1e9,
      'analytic_altup_layer_overhead_pct': 100 * a['altup_layer_overhead'],
      'final_loss': cm.losses[-1] if cm.losses else float('nan'),
      'compile_train_s': cm.compile_s['train'],
  }


def add_ratios(rows: Sequence[Dict[str, Any]]) -> None:
  """Adds <key>_ratio (RATIO_KEYS) to every row: its value over rows[0]'s."""
  base = rows[0]
  for row in rows:
    for key in RATIO_KEYS:
      row[f'{key}_ratio'] = _ratio(row[key], base[key])


def make_result(cfg: spec_lib.BenchConfig, machine: Dict[str, str],
           compiled: Sequence[Any]) -> Dict[str, Any]:
  """The benchmark's result: config, machine, dimensions, rows and targets."""
  rows = [model_row(cfg, cm) for cm in compiled]
  add_ratios(rows)
  return {'config': dataclasses.asdict(cfg), 'machine': machine,
          'dims': {cm.spec.name: dict(cm.dims) for cm in compiled},
          'rows': rows, 'targets': check_targets(cfg, rows)}


def check_targets(cfg: spec_lib.BenchConfig, rows) -> List[Dict[str, Any]]:
  """The cost targets, evaluated on whatever size was run."""
  by = {r['model']: r for r in rows}
  out = []

  def add(name, model, value, ok, goal):
    out.append({'target': name, 'model': model, 'value': value, 'goal': goal,
                'met': bool(ok) if not math.isnan(value) else None})

  if 'recycled_k2' in by:
    v = by['recycled_k2']['train_step_ms_ratio']
    add('train step (d embedding)', 'recycled_k2', v, v <= 1.05, '<= 1.05x')
    v = by['recycled_k2']['decode_ms_per_token_ratio']
    add('decode per token', 'recycled_k2', v, v <= 1.05, '<= 1.05x')
  if 'altup_k2' in by:
    v = by['altup_k2']['train_step_ms_ratio']
    add('train step (K*d embedding)', 'altup_k2', v, v <= 1.10, '<= 1.10x')
    v = by['altup_k2']['decode_ms_per_token_ratio']
    add('decode per token', 'altup_k2', v, v <= 1.05, '<= 1.05x')
  for r in rows:
    if r['variant'] in ('recycled', 'altup'):
      for kind in ('forward', 'train'):
        diff = r[f'xla_{kind}_gflop_ratio'] - r[f'analytic_{kind}_gflop_ratio']
        # XLA's cost analysis counts a while loop's body once, so scanned
        # models' FLOP counts are per layer body, not per step.
        add(f'XLA {kind} FLOP ratio - analytic ratio', r['model'],
            float('nan') if cfg.scan else diff, abs(diff) <= 0.01,
            'abs(diff) <= 0.01')
  if 'dense_2d' in by:
    v = by['dense_2d']['train_step_ms_ratio']
    add('dense-2d train step cost', 'dense_2d', v, v >= 3.0, '>= 3x')
    v = by['dense_2d']['xla_train_gflop_ratio']
    add('dense-2d train FLOPs', 'dense_2d', float('nan') if cfg.scan else v,
        v >= 3.0, '>= 3x')
  return out


def _fmt(row, col):
  fmt = col[2]
  v = row[col[1]]
  if len(col) > 3:
    v = v * col[3]
  if isinstance(v, float) and math.isnan(v):
    return 'n/a'
  return fmt.format(v)


def _target_cells(target: Dict[str, Any]) -> List[str]:
  met = {True: 'yes', False: '**no**', None: 'n/a'}[target['met']]
  value = 'n/a' if math.isnan(target['value']) else f'{target["value"]:.4f}'
  return [target['target'], target['model'], value, target['goal'], met]


def markdown(result: Dict[str, Any]) -> str:
  """The settings, one row per model (`columns`) and the cost targets."""
  cfg, m = result['config'], result['machine']
  base_dims = result['dims'][result['rows'][0]['model']]
  decoder_only = _decoder_only(result)
  layers = (f'{base_dims["NUM_DECODER_LAYERS"]}' if decoder_only else
            f'{base_dims["NUM_ENCODER_LAYERS"]}/{base_dims["NUM_DECODER_LAYERS"]}')
  lines = [
      f'### AltUp cost: {compose.size_label(cfg["size"])}, batch {cfg["batch"]}, '
      f'inputs {cfg["inputs_length"]}, targets {cfg["targets_length"]}',
      '',
      f'- Machine: {m["cpu"]}; jax {m["jax"]}; devices: {m["jax_devices"]}',
      f'- Shapes: d={base_dims["EMBED_DIM"]}, heads={base_dims["NUM_HEADS"]}x'
      f'{base_dims["HEAD_DIM"]}, d_ff={base_dims["MLP_DIM"]}, layers={layers}, '
      f'vocab={base_dims["NUM_EMBEDDINGS"]}, activations '
      f'{base_dims["ACTIVATION_DTYPE"]}, one-hot embedding: '
      f'{base_dims["one_hot_embed"]}, scan: {cfg["scan"]}',
      f'- Timing: median of {cfg["repeats"]} train steps / '
      f'{"prefills" if decoder_only else "encoder calls"} after '
      f'{cfg["warmup"]} warm-up rounds, and of {cfg["decode_repeats"]} x '
      f'{cfg["targets_length"]} decode steps; models interleaved.',
  ]
  if decoder_only:
    lines.append(
        f'- Decoder-only: prefix LM sequences of {cfg["inputs_length"]} + '
        f'{cfg["targets_length"]} tokens (loss on the targets); "prefill ms" '
        f'(column encoder_ms) is T5X\'s prefill of the {cfg["inputs_length"]}-'
        'token prefix, the decode steps run on the cache prefilled with the '
        'inputs.')
  if cfg['scan']:
    lines.append('- **--scan**: XLA counts a scanned (while-loop) layer body once, '
                 'so the XLA FLOP columns are not per-step counts; compare FLOPs '
                 'without --scan.')
  if cfg['gin_bindings']:
    lines.append(f'- Extra gin bindings: `{"; ".join(cfg["gin_bindings"])}`')
  cols = columns(result)
  models = tables.markdown_table(
      [c[0] for c in cols],
      [[_fmt(row, c) for c in cols] for row in result['rows']],
      align=[tables.LEFT] + [tables.RIGHT] * (len(cols) - 1))
  targets = tables.markdown_table(
      TARGET_HEADER, [_target_cells(t) for t in result['targets']],
      align=[tables.LEFT, tables.LEFT, tables.RIGHT, tables.LEFT, tables.LEFT])
  lines += ['', models, '', 'Cost targets:', '', targets]
  return '\n'.join(lines) + '\n'


def write_outputs(result: Dict[str, Any], output_dir: str) -> Dict[str, str]:
  """Writes altup_cost.{md,csv,json,png}; returns their paths by extension."""
  return tables.write_result(output_dir, 'altup_cost', result, markdown(result),
                             lambda path: plot(result, path))


def plot(result: Dict[str, Any], path: str):
  """Train step time against parameter count, one point per model."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  cfg = result['config']
  fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
  colors = {'baseline': 'tab:gray', 'recycled': 'tab:green', 'altup': 'tab:blue'}
  for i, row in enumerate(result['rows']):
    c = colors.get(row['variant'], 'tab:red')
    if row['variant'] == 'baseline' and row['model'] != 'baseline':
      c = 'tab:red'
    ax.scatter(row['params'] / 1e6, row['train_step_ms'], color=c, s=40, zorder=3)
    ax.annotate(f'{row["label"]} ({row["train_step_ms_ratio"]:.2f}x)',
                (row['params'] / 1e6, row['train_step_ms']),
                textcoords='offset points', fontsize=8,
                xytext=(5, 5) if i % 2 else (5, -12))  # near-equal rows apart
  ax.set_xlabel('parameters (M)')
  ax.set_ylabel('train step time (ms, median)')
  ax.set_title(f'{compose.size_label(cfg["size"])}: batch {cfg["batch"]}, '
               f'{cfg["inputs_length"]}/{cfg["targets_length"]} tokens', fontsize=10)
  ax.grid(True, alpha=0.3)
  ax.margins(x=0.25, y=0.15)
  fig.text(0.01, 0.01, result['machine']['cpu'], fontsize=6, color='gray')
  fig.tight_layout()
  fig.savefig(path)
  plt.close(fig)
