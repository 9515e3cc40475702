r"""What the models learned: AltUp's p and g per layer, and accuracy by token kind.

  python -m launch.coefficients --sweep=offline_study --root=/tmp/altup_study \
      [--output_dir=docs/study]

Accuracy by token kind (`accuracy_split.csv`, every finished pretraining run of
the sweep, baselines included): T5X's held-out span accuracy split into format
tokens (sentinels, EOS) and content tokens, on the same packed validation
batches T5X evaluates (`launch.floor.packed_batches`), from the final
checkpoint with the run's own model gins.

Coefficients:

Reads the final pretraining checkpoint of every AltUp run of a sweep
(`warm_start.load_checkpoint`: Orbax or legacy T5X), maps the stored coefficients from the rotating frame
to canonical block order (`altup.canonical_coefficients`) and writes
`coefficients.csv` (one row per run, stack and layer) and `coefficients.png`
(one heatmap per model, mean over seeds: rows are layers, columns p_ij then
g_i). At initialisation p = I and g = 1; Recycled-AltUp's K blocks stay equal
as long as every row of p sums to the same value and all g are equal.
"""

import csv
import os
import re
from typing import Dict, List, Optional, Sequence

import numpy as np

from altup_flaxformer import altup
from launch import compose

STACKS = ('encoder', 'decoder')
_SELECTION = re.compile(r"^ALTUP_SELECTION\s*=\s*'(\w+)'", re.M)


def run_selection(model_dir: str) -> str:
  """The ALTUP_SELECTION a T5X run used (its config.gin), else the default."""
  path = os.path.join(model_dir, 'config.gin')
  if os.path.exists(path):
    found = _SELECTION.findall(open(path).read())
    if found:
      return found[-1]
  return 'alternating'


def layer_rows(params: Dict, selection: str) -> List[Dict[str, object]]:
  """One dict per stack and layer: the canonical p (K x K) and g (K).

  Args:
    params: a model's parameters ({'encoder': ..., 'decoder': ...}).
    selection: the run's ALTUP_SELECTION.

  Returns:
    [{'stack', 'layer', 'active block', 'p': [K, K], 'g': [K]}], empty for a
    model without AltUp coefficients (baseline, Sequence-AltUp).
  """
  rows = []
  for stack in STACKS:
    found = altup.stack_coefficients(params.get(stack, {}))
    if found is None:
      continue
    p, g = altup.canonical_coefficients(*found, selection=selection)
    for layer in range(p.shape[0]):
      rows.append({'stack': stack, 'layer': layer,
                   'active block': altup.active_block(layer, p.shape[-1],
                                                      selection),
                   'p': p[layer], 'g': g[layer]})
  return rows


def csv_header(k: int) -> List[str]:
  return (['model', 'seed', 'stack', 'layer', 'active block']
          + [f'p{i}{j}' for i in range(k) for j in range(k)]
          + [f'g{i}' for i in range(k)] + ['max |p - I|', 'max |g - 1|'])


def csv_row(model: str, seed: int, row: Dict[str, object]) -> Dict[str, object]:
  """One layer's row, keyed by `csv_header(K)`'s columns of its own K."""
  p, g = np.asarray(row['p']), np.asarray(row['g'])
  values = ([model, seed, row['stack'], row['layer'], row['active block']]
            + [float(x) for x in p.reshape(-1)] + [float(x) for x in g]
            + [float(np.abs(p - np.eye(len(g))).max()),
               float(np.abs(g - 1).max())])
  return dict(zip(csv_header(len(g)), values))


def load_params(checkpoint_dir: str) -> Dict:
  """The model parameters of a T5X checkpoint_<step> dir (Orbax or legacy)."""
  from altup_flaxformer import warm_start  # pylint: disable=g-import-not-at-top
  return warm_start.load_checkpoint(checkpoint_dir)['target']


def collect(jobs) -> Dict[str, List[tuple]]:
  """model -> [(seed, layer rows)] for every finished AltUp pretraining run."""
  found: Dict[str, List[tuple]] = {}
  for job in jobs:
    exp = job.experiment
    ckpt = compose.final_checkpoint(exp)
    if job.stage != 'pretrain' or not os.path.isdir(ckpt):
      continue
    rows = layer_rows(load_params(ckpt), run_selection(exp.model_dir))
    if rows:
      found.setdefault(job.model, []).append((job.seed, rows))
  return found


def write_csv(found: Dict[str, List[tuple]], path: str) -> Optional[str]:
  """One CSV for every K: the columns are the largest K's, and a smaller K's
  rows leave the p_ij and g_i it lacks empty."""
  if not found:
    return None
  k = max(len(rows[0]['g']) for runs in found.values() for _, rows in runs)
  with open(path, 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=csv_header(k), restval='')
    writer.writeheader()
    for model, runs in found.items():
      for seed, rows in runs:
        for row in rows:
          writer.writerow(csv_row(model, seed, row))
  return path


def plot(found: Dict[str, List[tuple]], path: str) -> Optional[str]:
  """Heatmaps of p and g (mean over seeds), one panel per model."""
  if not found:
    return None
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, axes = plt.subplots(1, len(found), figsize=(3.2 * len(found), 3.6),
                           squeeze=False)
  for ax, (model, runs) in zip(axes[0], found.items()):
    per_seed = [np.stack([np.concatenate([np.asarray(r['p']).reshape(-1),
                                          np.asarray(r['g'])]) for r in rows])
                for _, rows in runs]
    mean = np.mean(per_seed, axis=0)
    k = len(runs[0][1][0]['g'])
    image = ax.imshow(mean, cmap='coolwarm', vmin=-2, vmax=2, aspect='auto')
    ax.set_xticks(range(k * k + k))
    ax.set_xticklabels([f'p{i}{j}' for i in range(k) for j in range(k)]
                       + [f'g{i}' for i in range(k)], rotation=90, fontsize=6)
    ax.set_yticks(range(len(runs[0][1])))
    ax.set_yticklabels([f'{r["stack"][:3]} {r["layer"]}' for r in runs[0][1]],
                       fontsize=6)
    ax.set_title(f'{model} (n={len(runs)})', fontsize=8)
  fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8)
  fig.savefig(path, dpi=120, bbox_inches='tight')
  plt.close(fig)
  return path


def model_bindings(exp) -> List[str]:
  """The gin macro bindings of a run that shape its model (ALTUP_K, the
  model's own overrides such as ALTUP_SELECTION), as 'NAME = value'."""
  run_only = (set(compose.MANAGED_MACROS) - {'ALTUP_K'}) | {
      'USE_CACHED_TASKS', 'BATCH_SIZE'}
  return [f'{name} = {value}' for name, value in
          compose.gin_bindings(exp).items()
          if name.isupper() and name not in run_only]


def run_accuracy_split(exp, batches, vocabulary) -> Dict[str, float]:
  """Format / content accuracy of a finished pretraining run's final model."""
  import gin  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  from launch import floor  # pylint: disable=g-import-not-at-top
  from t5x import models, utils  # pylint: disable=g-import-not-at-top,unused-import
  params = load_params(compose.final_checkpoint(exp))
  gin.clear_config()
  gin.add_config_file_search_path(compose.REPO)
  gin.parse_config_files_and_bindings(compose.gin_files(exp)[:-1],
                                      model_bindings(exp))
  try:
    model = gin.query_parameter('%MODEL').scoped_configurable_fn()
    logits = jax.jit(lambda b: model._compute_logits(params, b))  # pylint: disable=protected-access
    predictions = [np.asarray(logits(b)).argmax(-1) for b in batches]
  finally:
    gin.clear_config()
  return floor.split_accuracy(
      [b['decoder_target_tokens'] for b in batches],
      [b['decoder_loss_weights'] for b in batches], predictions,
      vocabulary.vocab_size, vocabulary.extra_ids)


def accuracy_split(jobs, path: str, eval_batches: int) -> Optional[str]:
  """Writes accuracy_split.csv for every finished pretraining run."""
  import seqio  # pylint: disable=g-import-not-at-top
  from launch import floor  # pylint: disable=g-import-not-at-top
  from tasks import vocab  # pylint: disable=g-import-not-at-top
  done = [j for j in jobs if j.stage == 'pretrain'
          and os.path.isdir(compose.final_checkpoint(j.experiment))]
  if not done:
    return None
  exp = done[0].experiment
  rows = []
  with vocab.use_vocabulary(
      compose.vocabulary_name(exp.task, exp.vocabulary)):
    __import__(compose.task_module(exp.task))
    vocabulary = seqio.get_mixture_or_task(
        exp.task).output_features['targets'].vocabulary
    batches = floor.packed_batches(exp.task, exp.feature_lengths,
                                   'validation', exp.batch_size, eval_batches)
    for job in done:
      split = run_accuracy_split(job.experiment, batches, vocabulary)
      rows.append([job.model, job.seed] + [split[k] for k in (
          'accuracy', 'format accuracy', 'content accuracy',
          'format fraction')])
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(['model', 'seed', 'span accuracy', 'format accuracy',
                     'content accuracy', 'format fraction'])
    writer.writerows(rows)
  return path


def main(argv: Sequence[str]) -> None:
  from absl import flags  # pylint: disable=g-import-not-at-top
  from launch import sweeps  # pylint: disable=g-import-not-at-top
  del argv
  f = flags.FLAGS
  out = f.output_dir or f.root
  os.makedirs(out, exist_ok=True)
  sweep = sweeps.SWEEPS[f.sweep]
  jobs = sweeps.expand(sweep, f.root)
  found = collect(jobs)
  written = [write_csv(found, os.path.join(out, 'coefficients.csv')),
             plot(found, os.path.join(out, 'coefficients.png')),
             accuracy_split(jobs, os.path.join(out, 'accuracy_split.csv'),
                            sweeps.eval_batches(sweep))]
  if not any(written):
    raise RuntimeError(f'no finished pretraining run under {f.root} for '
                       f'--sweep={f.sweep}.')
  print('Wrote ' + ', '.join(p for p in written if p))


def define_flags() -> None:
  from absl import flags  # pylint: disable=g-import-not-at-top
  from launch import sweeps  # pylint: disable=g-import-not-at-top
  flags.DEFINE_enum('sweep', 'offline_study', tuple(sweeps.SWEEPS),
                    'Which sweep laid out --root.')
  flags.DEFINE_string('root', None, 'Root directory of the sweep.')
  flags.DEFINE_string('output_dir', None, 'Where to write (default: root).')
  flags.mark_flag_as_required('root')


def entry() -> None:
  from launch import cli  # pylint: disable=g-import-not-at-top
  cli.run(main, 'launch.coefficients', define_flags)


if __name__ == '__main__':
  entry()
