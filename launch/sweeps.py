r"""The paper's experiment grid as data, runnable through either launcher.

  python -m launch.sweeps --sweep=paper --root=gs://bucket/altup --dry_run
  python -m launch.sweeps --sweep=paper --root=gs://bucket/altup --tpu=v3-8 \
      --stage=pretrain          # then, when pretraining is done: --stage=finetune
  python -m launch.sweeps --sweep=offline_tiny --root=/tmp/altup_sweep \
      --launcher=local          # the scaled-down sweep, on this CPU

Sweeps:
  paper: T5.1.1 small, base, large x {baseline, AltUp K=2, AltUp K=4,
    Recycled-AltUp K=2}; C4 span-corruption pretraining (500k steps, batch
    256, 512/114 tokens), then finetuning from checkpoint_500000 for 50k
    steps (batch 256) on GLUE, SuperGLUE, SQuAD and closed-book TriviaQA
    (T5X counts finetuning steps from the pretrained step: TRAIN_STEPS=550k).
    Everything the paper does not state is T5X's default.
  paper_t5_1_0: the same grid on T5.1.0 small, base, large (ReLU MLP, logits
    tied to the token embedding; gin/models/t5_1_0_<size>.gin).
  offline_tiny: the tiny size and the same four variants on the offline
    corpus (300 steps) and the offline sentiment task (600 steps).
  extensions / offline_tiny_extensions: the same two protocols (small and
    base / tiny) for the variants beyond the paper's tables: Sequence-AltUp
    (stride 4), learned routing (K=2), and the MoE baseline, MoE + AltUp K=2
    and MoE + Recycled-AltUp K=2.
  offline_lm_study: the decoder-only counterpart of offline_study: lm_tiny
    (flaxformer's DecoderOnly, gin/models/lm_tiny.gin) x {baseline, AltUp K=2
    and K=4, Recycled-AltUp K=2, routed K=2}, byte-level causal LM on the
    offline corpus (altup_offline_lm, 256 bytes), then sentiment as a prefix
    LM, 3 seeds, the study's schedule.

Layout: <root>/<size>_<variant>_k<K>/{pretrain,finetune_<benchmark>}.
`python -m launch.report --sweep_dir=<root> --sweep=<name>` rebuilds the tables.
The sweeps are data in launch/grids.py; launch/jobs.py expands and runs them.
"""

import os
import shlex
from typing import Sequence

from absl import app
from absl import flags

from launch import cli
from launch import compose
# The sweeps' API, importable from here: the sweeps as data (launch.grids)
# and their jobs (launch.jobs).
# pylint: disable=g-multiple-import,unused-import
from launch.grids import (SWEEPS, STUDY_LEARNING_RATE, Model, Sweep,
                          study_sweep)
from launch.jobs import (BENCHMARK_DIR, FLOOR_FILE, Job, archive,
                         benchmark_command, benchmark_models, eval_batches,
                         expand, finished, mark_done, measure, run_local,
                         select)
# pylint: enable=g-multiple-import,unused-import


FLAGS = flags.FLAGS


def _seed(text: str) -> int:
  if not text.strip().isdigit():
    raise ValueError(f'--seeds takes ints >= 0, e.g. --seeds=0,1; got {text!r}.')
  return int(text)


def define_flags() -> None:
  flags.DEFINE_enum('sweep', 'offline_tiny', tuple(SWEEPS), 'Sweep to run.')
  flags.DEFINE_string('root', None, 'Root directory of the sweep.')
  flags.DEFINE_enum('launcher', 'local', ('local', 'xm'), 'Where jobs run.')
  flags.DEFINE_enum('stage', 'all', ('all', 'pretrain', 'finetune'),
                    'Which jobs to launch.')
  flags.DEFINE_string('tpu', 'v3-8', 'Cloud TPU type (xm launcher).')
  flags.DEFINE_string('gpu', None, 'GPU type:count (xm launcher).')
  flags.DEFINE_list('models', [], 'Only these models (names as in the '
                    'dry run, e.g. tiny_altup_k2); default: all.')
  flags.DEFINE_list('seeds', [], 'Only these seeds; default: all.')
  flags.DEFINE_bool('dry_run', False, 'List every job with its command.')
  flags.DEFINE_string('archive_to', None, 'Instead of running: copy the '
                      'finished jobs\' results (no checkpoints) there.')


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if not FLAGS.root:
    raise app.UsageError('--root is required.')
  sweep = SWEEPS[FLAGS.sweep]
  jobs = select(expand(sweep, FLAGS.root), FLAGS.models,
                [_seed(s) for s in FLAGS.seeds], FLAGS.stage)
  for job in jobs:
    compose.validate(job.experiment, local=FLAGS.launcher == 'local')
  if FLAGS.archive_to:
    for path in archive(jobs, FLAGS.root, FLAGS.archive_to):
      print(f'archived {path}')
    return
  if FLAGS.launcher == 'xm' and FLAGS.stage == 'all' and not FLAGS.dry_run:
    raise ValueError(
        'XManager jobs run concurrently, and finetuning needs the finished '
        'pretraining checkpoints: launch with --stage=pretrain, then with '
        '--stage=finetune once the pretrain jobs are done.')
  if FLAGS.launcher == 'xm':
    from launch import xm_launch  # pylint: disable=g-import-not-at-top
    requirements = xm_launch.accelerator(FLAGS.tpu, FLAGS.gpu)
  if (sweep.measure and FLAGS.launcher == 'local' and not FLAGS.dry_run
      and FLAGS.stage != 'finetune'):
    os.makedirs(FLAGS.root, exist_ok=True)
    measure(sweep, FLAGS.root)
  busy = set()  # jobs another process is running, and what depends on them
  for i, job in enumerate(jobs, 1):
    after = f' (after {job.depends_on})' if job.depends_on else ''
    print(f'[{i}/{len(jobs)}] {job.name}{after}')
    if FLAGS.launcher == 'xm':
      spec = xm_launch.job_spec(job.experiment, requirements,
                                name=job.name.replace('/', '-'))
      print('  ' + shlex.join(spec['entrypoint']))
      if not FLAGS.dry_run:
        xm_launch.submit(spec)
      continue
    print('  ' + shlex.join(compose.t5x_command(job.experiment)))
    if FLAGS.dry_run:
      continue
    run_local(job, busy)


def entry() -> None:
  cli.run(main, 'launch.sweeps', define_flags)


if __name__ == '__main__':
  entry()
