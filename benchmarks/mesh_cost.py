r"""What AltUp costs per device at a user's scale: T5X train steps compiled
(never run) for a TPU-slice-shaped mesh of fake CPU devices.

For every size x model x device count x scan setting, builds the model from
this repository's gins (benchmarks.spec, as the cost benchmark does), and
compiles T5X's train step (`trainer.train_with_lr` with the gins' Adafactor)
through T5X's `PjitPartitioner` on a ('data', 'model') mesh of N devices
(benchmarks.mesh), at the paper's shapes: global batch 256, 512 input / 114
target tokens. Per device it reports XLA's memory estimate
(`memory_analysis()`), XLA's FLOPs of one step (`cost_analysis()`), the
parameter + optimizer-state bytes, their ratios to the baseline, the devices
(v3 16 GiB, v4 32 GiB, v5p 95 GiB) the estimate exceeds, and an estimate of
the largest global batch that fits (--batch_fit).

The memory figures are XLA:CPU's buffer assignment, an estimate of the
TPU's; CPU compiles of the same program need not match XLA:TPU's fusion and
layout choices.

The fake devices are XLA_FLAGS=--xla_force_host_platform_device_count=N,
which this command sets itself (to the largest of --devices) before jax is
imported. Results are written after every compile; --resume reuses the
compiles of an earlier mesh_cost.json in --output_dir.

Usage:
  python -m benchmarks.mesh_cost --sizes=small,base --devices=8,32
  python -m benchmarks.mesh_cost --sizes=tiny --models=baseline,altup_k2 \
      --devices=2 --scan=off --batch=8 --inputs_length=16 --targets_length=8
  python -m benchmarks.mesh_cost --sizes=xl --scan=on --model_parallel=xl=8
"""

import dataclasses
import functools
import json
import os
import sys
import time
from typing import Any, Dict, Sequence

from absl import flags
from absl import logging

from benchmarks import mesh
from benchmarks import mesh_results
from benchmarks import spec

FLAGS = flags.FLAGS


def define_flags() -> None:
  """The command's absl flags (launch.cli.run defines them)."""
  flags.DEFINE_list(
      'sizes', ['small', 'base', 'large'], 'Encoder-decoder size gins '
      f'(gin/models/<size>.gin): {", ".join(spec.ENCODER_DECODER_SIZES)}.')
  flags.DEFINE_list(
      'models', ['baseline', 'recycled_k2', 'altup_k2', 'altup_k4'],
      'Models (benchmarks.altup_cost\'s names): baseline, recycled_k<K>, '
      'altup_k<K>. Ratios are to baseline, compiled too.')
  flags.DEFINE_list('devices', ['8', '32'],
                    'Device counts of the slices (8: a v3-8).')
  flags.DEFINE_enum('scan', 'both', ('off', 'on', 'both'),
                    'gin/options/scan.gin: without, with, or both.')
  flags.DEFINE_list(
      'model_parallel', [], 'SIZE=M overrides of the model partitions per size '
      f'(default {mesh.MODEL_PARALLEL}; capped at the device count).')
  flags.DEFINE_integer('batch', mesh.PAPER_BATCH, 'Global batch.')
  flags.DEFINE_integer('inputs_length', mesh.PAPER_INPUTS, 'Encoder length.')
  flags.DEFINE_integer('targets_length', mesh.PAPER_TARGETS, 'Decoder length.')
  flags.DEFINE_integer('num_embeddings', spec.REAL_VOCAB,
                       'Vocabulary size.')
  flags.DEFINE_enum(
      'batch_fit', 'scale', ('scale', 'fit'),
      'Largest-batch estimate. scale: one compile; the temporaries taken as '
      'proportional to the batch (conservative). fit: a second compile at half '
      'the batch and a line through both estimates.')
  flags.DEFINE_list(
      'capacity_gib', [f'{k}={v}' for k, v in mesh_results.CAPACITY_GIB.items()],
      'DEVICE=GiB of device memory to check against.')
  flags.DEFINE_string('output_dir', '/tmp/mesh_cost', 'Where results go.')
  flags.DEFINE_bool('resume', False,
                    'Reuse compiles recorded in <output_dir>/mesh_cost.json.')

BATCH_FIT_DOC = {
    'scale': 'XLA\'s temporaries taken as proportional to the batch, the rest '
             'fixed; gradients are temporaries too, so this understates it',
    'fit': 'a line through XLA\'s estimates at the batch and at half of it',
}


def _pairs(items: Sequence[str], cast) -> Dict[str, Any]:
  out = {}
  for item in items:
    key, sep, value = item.partition('=')
    if not sep:
      raise ValueError(f'expected NAME=VALUE, got {item!r}')
    out[key.strip()] = cast(value)
  return out


def versions() -> Dict[str, str]:
  """jax, flax, flaxformer, t5x: installed versions (t5x: its pinned commit
  in requirements-github.txt and where it is installed)."""
  import importlib.metadata as md  # pylint: disable=g-import-not-at-top
  import t5x  # pylint: disable=g-import-not-at-top
  from launch import compose  # pylint: disable=g-import-not-at-top
  pin = ''
  try:
    with open(os.path.join(compose.REPO, 'requirements-github.txt')) as f:
      for line in f:
        if line.startswith('t5x @') and '@' in line.split('t5x @', 1)[1]:
          pin = line.rsplit('@', 1)[1].strip()[:12]
  except OSError:
    pass
  return {'flax': md.version('flax'), 'flaxformer': md.version('flaxformer'),
          't5x': f'{pin or "?"} (requirements-github.txt pin; installed from '
                 f'{os.path.dirname(os.path.dirname(t5x.__file__))})'}


def _key(case: mesh.Case, batch: int) -> str:
  return json.dumps([case.size, case.model, case.devices, case.model_parallel,
                     case.scan, batch, case.inputs_length, case.targets_length,
                     case.num_embeddings])


def _ordered(cases: Sequence[mesh.Case]) -> list:
  """Unique cases by size (spec.SIZES order), devices, scan; baseline first."""
  unique = list(dict.fromkeys(cases))
  return sorted(unique, key=lambda c: (
      spec.SIZES.index(c.size), c.devices, c.scan, c.model != 'baseline'))


def run(grid: Sequence[mesh.Case], output_dir: str, batch_fit: str,
        capacities: Dict[str, float], resume: bool = False) -> Dict[str, Any]:
  """Compiles every case (and its half batch with batch_fit='fit'), writes
  the outputs after each; returns the result. With `resume`, the cases of an
  earlier result in output_dir stay in the table and its compiles are reused.
  """
  from benchmarks import measure  # pylint: disable=g-import-not-at-top
  t_start = time.perf_counter()
  raw: Dict[str, Any] = {}
  earlier, wall_before = [], 0.0
  json_path = os.path.join(output_dir, 'mesh_cost.json')
  if resume and os.path.exists(json_path):
    with open(json_path) as f:
      old = json.load(f)
    raw = old.get('raw', {})
    earlier = [mesh.Case(**c) for c in old.get('cases', [])]
    wall_before = old.get('wall_s', 0.0)
  machine = dict(measure.machine_info(), **versions())
  first = grid[0]
  config = {'batch': first.batch, 'inputs_length': first.inputs_length,
            'targets_length': first.targets_length,
            'num_embeddings': first.num_embeddings, 'batch_fit': batch_fit,
            'batch_fit_doc': BATCH_FIT_DOC[batch_fit],
            'capacities': capacities}
  result = {}
  done = [c for c in earlier if _key(c, c.batch) in raw]
  for case in _ordered(grid):
    batches = [case.batch] + ([case.batch // 2] if batch_fit == 'fit' else [])
    for b in batches:
      key = _key(case, b)
      if key not in raw:
        print(f'[{case.size} {case.model} {case.devices} dev {case.mesh_label}'
              f' scan={case.scan} batch={b}] compiling ...', flush=True)
        raw[key] = mesh.compile_case(case, b)
        print(f'  {raw[key]["compile_s"]:.0f} s, memory '
              f'{mesh_results.memory_bytes(raw[key]) / 2**30:.2f} GiB/dev, '
              f'{raw[key]["flops"] / 1e12:.3f} TFLOP/dev', flush=True)
    done.append(case)
    result = _result(_ordered(done), raw, batch_fit, capacities)
    result.update(config=config, machine=machine,
                  wall_s=wall_before + time.perf_counter() - t_start)
    result['paths'] = mesh_results.write_outputs(result, output_dir)
  return result


@functools.lru_cache(maxsize=None)
def _dims(case: mesh.Case) -> Dict[str, Any]:
  """The model's dimensions from its gins (spec.parse_gin), for the
  analytic count."""
  import gin  # pylint: disable=g-import-not-at-top
  try:
    return spec.parse_gin(mesh.bench_config(case), spec.parse_model(case.model))
  finally:
    gin.clear_config()


def _result(cases: Sequence[mesh.Case], raw: Dict[str, Any], batch_fit: str,
            capacities: Dict[str, float]) -> Dict[str, Any]:
  """Rows (with ratios) of `cases` from their compiles in `raw`."""
  rows = []
  for case in cases:
    small = raw.get(_key(case, case.batch // 2)) if batch_fit == 'fit' else None
    rows.append(mesh_results.make_row(case, spec.parse_model(case.model),
                                      raw[_key(case, case.batch)], small,
                                      capacities, _dims(case)))
  mesh_results.add_ratios(rows)
  return {'rows': rows, 'raw': raw,
          'cases': [dataclasses.asdict(c) for c in cases]}


def grid_from_flags() -> list:
  scans = {'off': [False], 'on': [True], 'both': [False, True]}[FLAGS.scan]
  for size in FLAGS.sizes:
    if size not in spec.ENCODER_DECODER_SIZES:
      kind = 'a decoder-only size' if size in spec.SIZES else 'unknown'
      raise ValueError(
          f'size {size!r} is {kind}; benchmarks.mesh_cost compiles the '
          f'encoder-decoder sizes: {", ".join(spec.ENCODER_DECODER_SIZES)} '
          '(benchmarks.altup_cost measures the decoder-only ones)')
  for m in FLAGS.models:
    spec.parse_model(m)
  models = list(FLAGS.models)
  if 'baseline' not in models:
    models.insert(0, 'baseline')
  grid = mesh.cases(FLAGS.sizes, models, [int(d) for d in FLAGS.devices],
                    scans, _pairs(FLAGS.model_parallel, int),
                    batch=FLAGS.batch, inputs_length=FLAGS.inputs_length,
                    targets_length=FLAGS.targets_length,
                    num_embeddings=FLAGS.num_embeddings)
  for case in grid:
    case.validate()
  return grid


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise ValueError(f'unexpected arguments: {argv[1:]}')
  if not flags.FLAGS['verbosity'].present:
    logging.set_verbosity(logging.ERROR)  # Adafactor warns per parameter
  grid = grid_from_flags()
  mesh.set_fake_devices(max(c.devices for c in grid))
  from altup_flaxformer import deps  # pylint: disable=g-import-not-at-top
  from launch import compose  # pylint: disable=g-import-not-at-top
  deps.require('t5x')
  deps.require('flaxformer')
  if compose.REPO not in sys.path:
    sys.path.insert(0, compose.REPO)
  result = run(grid, FLAGS.output_dir, FLAGS.batch_fit,
               _pairs(FLAGS.capacity_gib, float), FLAGS.resume)
  print()
  print(mesh_results.markdown(result))
  print('Wrote', ', '.join(result['paths'].values()), flush=True)


def entry() -> None:
  from launch import cli  # pylint: disable=g-import-not-at-top
  cli.run(main, 'benchmarks.mesh_cost', define_flags)


if __name__ == '__main__':
  entry()
