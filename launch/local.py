r"""Runs one AltUp experiment with real T5X on this machine (CPU or GPU).

  python -m launch.local --size=tiny --variant=altup --altup_k=2 \
      --run=pretrain --task=altup_offline_span_corruption \
      --feature_lengths=inputs=128,targets=32 --train_steps=300 \
      --model_dir=/tmp/altup_tiny [--gin.DROPOUT_RATE=0.1 ...] [--dry_run]

Starts `python -m t5x.<mode>` (same interpreter) with the composed gin files
and flags, prints one line per T5X metrics report while it runs, and keeps the
full log in <model_dir>/t5x_<run>.log. `--dry_run` prints the command only.
"""

import importlib.util
import shlex
from typing import Sequence

from absl import app
from absl import flags

from launch import cli
from launch import compose
from launch import experiment_flags
from launch import runner

FLAGS = flags.FLAGS


def define_flags() -> None:
  """The launcher's flags (defined when run as a program)."""
  experiment_flags.define(size='tiny', task='altup_offline_span_corruption')


def local_platform() -> str:
  """'tpu' on a Cloud TPU VM (libtpu installed), else 'cpu' ('gpu' picks the
  same embedding form). Found without importing jax."""
  return 'tpu' if importlib.util.find_spec('libtpu') else 'cpu'


def main(argv: Sequence[str], overrides=()) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  exp = compose.validate(
      experiment_flags.experiment(overrides, local_platform()),
      registered_tasks=experiment_flags.registered_tasks(), local=True)
  if FLAGS.dry_run:
    print(shlex.join(compose.t5x_command(exp)))
    return
  runner.run(exp)


def entry() -> None:
  cli.run(main, 'launch.local', define_flags, gin_overrides=True)


if __name__ == '__main__':
  entry()
