r"""bf16 soak: does any variant blow up over a long run in bfloat16?

  python -m benchmarks.soak --root=/tmp/altup_soak --output_dir=docs/soak

Trains every variant (baseline, AltUp K=2 and K=4, Recycled-AltUp K=2, routed
K=2, Sequence-AltUp stride 4, MoE + AltUp K=2) at the tiny size with bfloat16
activations (ACTIVATION_DTYPE) for --steps steps with real T5X, on the evidence
study's data and learning rate (ByT5's span corruption of the offline corpus;
warm-up to 0.03, then a linear decay), resumably (finished runs are skipped;
`launch.jobs.run_local`). Then it reads each run's train losses and final
checkpoint and writes soak.{md,csv}: per variant, non-finite losses and
parameters, the first and last train loss (cross-entropy per target
token, T5X's `cross_ent_loss_per_all_target_tokens`), and the largest AltUp coefficients
(|p|, |g|; for `routed` the bound on its token-dependent change of p and g,
sum_k |W[k, :]| with the router's outputs in (-1, 1); for `sequence` its
(a1, a2, b)). A stable run has no non-finite value, a last loss below its
first, and coefficients of order 1.
"""

import os
from typing import Dict, List, Sequence

from absl import flags
import numpy as np

from launch import cli
from launch import compose
from launch import grids
from launch import jobs as jobs_lib
from launch import report
from launch import tables

FLAGS = flags.FLAGS

MODELS = (grids.Model('baseline', 1), grids.Model('altup', 2),
          grids.Model('altup', 4), grids.Model('recycled', 2),
          grids.Model('routed', 2), grids.Model('sequence', 4),
          grids.Model('moe_altup', 2))
HEADER = ['model', 'steps', 'non-finite losses', 'non-finite params',
          'first loss', 'last loss', 'max |p|', 'max |g|',
          'routed max |dp|', 'routed max |dg|', 'sequence max |coef|']


def define_flags() -> None:
  flags.DEFINE_string('root', '/tmp/altup_soak', 'Where the runs train.')
  flags.DEFINE_string('output_dir', None, 'Where soak.{md,csv} go '
                      '(default: --root).')
  flags.DEFINE_integer('steps', 1000, 'Train steps per variant.')
  flags.DEFINE_integer('batch_size', 8, 'Batch size.')
  flags.DEFINE_list('models', [], 'Only these models (e.g. tiny_altup_k2).')


def soak_sweep(steps: int, batch_size: int) -> grids.Sweep:
  """Every variant, pretraining only, bf16 activations."""
  task = grids.STUDY_TASK
  return grids.Sweep(
      sizes=('tiny',), variants=MODELS, pretrain_task=task,
      pretrain_lengths=compose.default_feature_lengths(task),
      pretrain_steps=steps, finetunes=(), finetune_steps=0,
      batch_size=batch_size, vocabulary='bytes',
      pretrain_overrides=(
          ('ACTIVATION_DTYPE', "'bfloat16'"), ('train.eval_period', str(steps)),
          ('train.eval_steps', '1'),
          ('utils.SaveCheckpointConfig.period', str(steps)),
          ('train.stats_period', str(max(1, steps // 20))))
      + grids.study_schedule(steps, grids.STUDY_LEARNING_RATE))


def _abs_max(arrays: Sequence[np.ndarray]) -> float:
  return max((float(np.abs(a).max()) for a in arrays), default=None)


def coefficient_stats(params: Dict) -> Dict[str, object]:
  """Non-finite parameter count and the largest AltUp coefficients.

  Args:
    params: a model's parameters (T5X checkpoint 'target').
  """
  found: Dict[str, List[np.ndarray]] = {}
  nonfinite = 0

  def visit(node, name=''):
    nonlocal nonfinite
    if isinstance(node, dict):
      for key, sub in node.items():
        visit(sub, key)
      return
    value = np.asarray(node, np.float32)
    nonfinite += int(np.size(value) - np.isfinite(value).sum())
    if name.startswith('altup_'):
      found.setdefault(name, []).append(value)

  visit(params)
  # |rho| < 1: a router output moves p[i, j] by at most sum_k |W[k, K*i+j]|.
  bound = lambda ws: max((float(np.abs(w).sum(-2).max()) for w in ws),
                         default=None)
  return {
      'non-finite params': nonfinite,
      'max |p|': _abs_max(found.get('altup_predictor', [])),
      'max |g|': _abs_max(found.get('altup_corrector', [])),
      'routed max |dp|': bound(found.get('altup_routed_predictor', [])),
      'routed max |dg|': bound(found.get('altup_routed_corrector', [])),
      'sequence max |coef|': _abs_max(
          found.get('altup_sequence_coefficients', [])),
  }


def row(job: jobs_lib.Job) -> List[object]:
  """One table row of a finished soak run."""
  from launch import coefficients  # pylint: disable=g-import-not-at-top
  exp = job.experiment
  scalars = report.read_scalars(os.path.join(exp.model_dir, 'train'))
  # T5X's 'loss' (summed, with the z-loss) and the per-token cross-entropy.
  logged = [np.array([v for _, v in scalars.get(tag, [])], np.float64)
            for tag in ('loss', report.SPAN_LOSS)]
  per_token = scalars.get(report.SPAN_LOSS, [])
  stats = coefficient_stats(coefficients.load_params(
      compose.final_checkpoint(exp)))
  cells = {'model': job.model, 'steps': per_token[-1][0] if per_token else None,
           'non-finite losses': sum(int((~np.isfinite(v)).sum())
                                    for v in logged),
           'first loss': per_token[0][1] if per_token else None,
           'last loss': per_token[-1][1] if per_token else None, **stats}
  return [cells[h] for h in HEADER]


def main(argv: Sequence[str]) -> None:
  del argv
  jobs = jobs_lib.select(jobs_lib.expand(
      soak_sweep(FLAGS.steps, FLAGS.batch_size), FLAGS.root),
                         models=FLAGS.models)
  busy = set()
  for job in jobs:
    print(f'[{job.name}]')
    jobs_lib.run_local(job, busy)
  rows = [row(j) for j in jobs if jobs_lib.finished(j)]
  output_dir = FLAGS.output_dir or FLAGS.root
  os.makedirs(output_dir, exist_ok=True)
  print(tables.write_table(os.path.join(output_dir, 'soak'), HEADER, rows))


def entry() -> None:
  cli.run(main, 'benchmarks.soak', define_flags)


if __name__ == '__main__':
  entry()
