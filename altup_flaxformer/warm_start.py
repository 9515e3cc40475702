"""Warm start full AltUp (K*d embedding) from a dense T5.1.1 T5X checkpoint.

Recycled-AltUp needs no conversion: its parameter tree is the dense tree plus
`altup_predictor` / `altup_corrector`, so `gin/runs/warm_start.gin` restores a
dense checkpoint directly. Full AltUp widens the token embedding to K*d, and
(with the default `ALTUP_DECODER_OUTPUT='concat'`) the decoder's final norm and
logits read K*d. This converter writes a T5X checkpoint of the dense params with

  token_embedder/embedding    [V, d] -> [V, K*d]   tiled K times
  decoder/decoder_norm/scale  [d]    -> [K*d]      tiled K times   ('concat' only)
  decoder/logits_dense/kernel [d, V] -> [K*d, V]   tiled K times / K ('concat' only)

so that the AltUp model at its init (p = I, g = 1) carries K identical copies of
the dense hidden state and computes the dense model's logits (the final norm of
K identical blocks equals the norm of one; the K kernel copies, each divided by
K, sum to the dense kernel). The encoder's `sum` collapse gives K*x, which the
RMS norm maps back to the dense value up to its epsilon (relative ~1e-6).

The output holds params only (no optimizer state); restore it with
`gin/runs/warm_start.gin`, which initialises the AltUp p/g and all optimizer
state from scratch. Usage:

  python -m altup_flaxformer.warm_start \
    --dense_checkpoint=/path/dense/checkpoint_100000 \
    --output_dir=/path/altup_k2_init --altup_k=2 [--decoder_output=concat]

writes `<output_dir>/checkpoint_<dense step>` and prints its path.
"""

from typing import Any, Dict, Mapping, Tuple

import numpy as np

from altup_flaxformer import deps

EMBEDDING = ('token_embedder', 'embedding')
DECODER_NORM = ('decoder', 'decoder_norm', 'scale')
LOGITS_KERNEL = ('decoder', 'logits_dense', 'kernel')


def widen_params(params: Mapping[str, Any], altup_k: int,
                 decoder_output: str = 'concat') -> Dict[Tuple[str, ...], np.ndarray]:
  """Returns the flat (path tuple -> array) full-AltUp params for dense params.

  Args:
    params: the dense model's param tree (a T5X checkpoint's 'target').
    altup_k: K >= 1.
    decoder_output: the AltUp model's ALTUP_DECODER_OUTPUT: 'concat' also
      widens the decoder final norm and the logits kernel; 'sum' keeps them.

  Raises:
    ValueError: bad K / decoder_output, or a tree that is not a T5.1.1 one
      (missing embedding, tied logits with 'concat', already widened).
  """
  from flax import traverse_util  # pylint: disable=g-import-not-at-top
  if not isinstance(altup_k, int) or altup_k < 1:
    raise ValueError(f'altup_k must be an int >= 1, got {altup_k!r}')
  if decoder_output not in ('concat', 'sum'):
    raise ValueError(f"decoder_output must be 'concat' or 'sum', got {decoder_output!r}")
  flat = {k: np.asarray(v) for k, v in
          traverse_util.flatten_dict(dict(params)).items()}
  if EMBEDDING not in flat:
    raise ValueError(f'no {"/".join(EMBEDDING)} in the checkpoint; keys: '
                     f'{sorted("/".join(k) for k in flat)[:20]}...')
  if any(k[-1] in ('altup_predictor', 'altup_corrector') for k in flat):
    raise ValueError('the checkpoint already has AltUp parameters; '
                     'pass a dense (baseline) checkpoint')
  emb = flat[EMBEDDING]
  d = emb.shape[-1]
  flat[EMBEDDING] = np.tile(emb, (1, altup_k))
  if decoder_output == 'concat':
    if LOGITS_KERNEL not in flat:
      raise ValueError('no decoder/logits_dense/kernel: tied logits are not '
                       "supported with decoder_output='concat'")
    scale, kernel = flat[DECODER_NORM], flat[LOGITS_KERNEL]
    if scale.shape != (d,) or kernel.shape[0] != d:
      raise ValueError(f'decoder norm {scale.shape} / logits kernel '
                       f'{kernel.shape} do not match embedding width {d}')
    flat[DECODER_NORM] = np.tile(scale, altup_k)
    flat[LOGITS_KERNEL] = (np.tile(kernel, (altup_k, 1)) /
                           np.asarray(altup_k, kernel.dtype)).astype(kernel.dtype)
  return flat


def load_checkpoint(checkpoint: str) -> Dict[str, Any]:
  """Reads a T5X checkpoint_<step> dir (Orbax or legacy msgpack) as numpy.

  Returns T5X's state dict: {'target': params, 'state': {'step': ..., ...}}.
  t5x.train writes Orbax checkpoints by default (`use_orbax=True`); those are
  read with Orbax directly, every array as a host numpy array, so any device
  count works.
  """
  import os  # pylint: disable=g-import-not-at-top
  checkpoints = deps.require('t5x.checkpoints')
  if os.path.exists(os.path.join(checkpoint, 'checkpoint')):  # legacy T5X
    return checkpoints.load_t5x_checkpoint(checkpoint)
  import jax  # pylint: disable=g-import-not-at-top
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
  state_dir = os.path.join(checkpoint, 'state')
  if not os.path.isdir(state_dir):
    raise ValueError(f'not a T5X checkpoint_<step> directory: {checkpoint}')
  ckptr = ocp.PyTreeCheckpointer()
  meta = ckptr.metadata(state_dir)
  tree = getattr(meta, 'item_metadata', meta)
  tree = getattr(tree, 'tree', tree)
  restore_args = jax.tree.map(
      lambda _: ocp.RestoreArgs(restore_type=np.ndarray), tree,
      is_leaf=lambda x: not isinstance(x, dict))
  return ckptr.restore(state_dir,
                       args=ocp.args.PyTreeRestore(restore_args=restore_args))


def convert(dense_checkpoint: str, output_dir: str, altup_k: int,
            decoder_output: str = 'concat') -> str:
  """Reads a dense T5X checkpoint, writes the widened params; returns its path."""
  deps.require('t5x.checkpoints')
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from flax import traverse_util  # pylint: disable=g-import-not-at-top
  from flax.core import freeze  # pylint: disable=g-import-not-at-top
  from flax.linen import partitioning as flax_partitioning  # pylint: disable=g-import-not-at-top
  from t5x import checkpoints, partitioning, train_state  # pylint: disable=g-import-not-at-top

  state = load_checkpoint(dense_checkpoint)
  step = int(np.asarray(state['state']['step']))
  flat = widen_params(state['target'], altup_k, decoder_output)
  params = freeze(traverse_util.unflatten_dict(
      {k: jnp.asarray(v) for k, v in flat.items()}))
  # Written in T5X's legacy (msgpack + TensorStore) format, which t5x.train
  # restores with or without Orbax. Replicated logical axes (a checkpoint does
  # not record the model's): arrays are saved whole, T5X re-shards on restore.
  axes = freeze(traverse_util.unflatten_dict({
      k[:-1] + (k[-1] + '_axes',): flax_partitioning.AxisMetadata(
          names=(None,) * v.ndim) for k, v in flat.items()}))
  state_out = train_state.InferenceState(
      step=jnp.asarray(step, jnp.int32), params=params, params_axes=axes)
  partitioner = partitioning.PjitPartitioner(
      num_partitions=1, logical_axis_rules=())
  checkpointer = checkpoints.Checkpointer(
      state_out, partitioner, output_dir, save_dtype=None)
  checkpointer.save(state_out)
  return f'{output_dir.rstrip("/")}/checkpoint_{step}'


def main(argv) -> None:
  from absl import app  # pylint: disable=g-import-not-at-top
  from absl import flags  # pylint: disable=g-import-not-at-top
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  f = flags.FLAGS
  path = convert(f.dense_checkpoint, f.output_dir, f.altup_k, f.decoder_output)
  print(path)


def define_flags() -> None:
  """The converter's flags (defined when run as a program)."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  flags.DEFINE_string('dense_checkpoint', None,
                      'a dense T5.1.1 T5X checkpoint_<step> directory')
  flags.DEFINE_string('output_dir', None,
                      'writes <output_dir>/checkpoint_<step>')
  flags.DEFINE_integer('altup_k', 2, 'AltUp K (ALTUP_K of the target model)')
  flags.DEFINE_enum('decoder_output', 'concat', ['concat', 'sum'],
                    "the target model's ALTUP_DECODER_OUTPUT")
  flags.mark_flags_as_required(['dense_checkpoint', 'output_dir'])


def entry() -> None:
  from launch import cli  # pylint: disable=g-import-not-at-top
  cli.run(main, 'altup_flaxformer.warm_start', define_flags)


if __name__ == '__main__':
  entry()
