r"""Runs an AltUp experiment on a Cloud TPU VM or pod slice with gcloud.

  python -m launch.tpu_vm --tpu_name=altup-v4 --zone=us-central2-b --tpu=v4-32 \
      --size=base --variant=altup --altup_k=2 --run=pretrain \
      --task=altup_c4_span_corruption --train_steps=500000 --batch_size=256 \
      --model_dir=gs://bucket/base_altup_k2 [--gin.X=...] [--dry_run]

How most academic TPU users run T5X: create the TPU VM (unless
--skip_create), copy this repository's committed HEAD to every worker,
install README's pinned stack with the TPU's jax on every worker (unless
--noinstall), and run the same `python3 -m t5x.train` command on all workers
(`--worker=all`; on a pod slice every host runs it, and JAX joins them).
Each worker's log goes to <model_dir>/logs/<host>.log. `--dry_run` prints the
commands and runs nothing. Every flag is checked before any command runs.
"""

import re
import shlex
import subprocess
from typing import List, Optional, Sequence

from absl import app
from absl import flags

from altup_flaxformer import deps
from launch import cli
from launch import compose
from launch import experiment_flags
from launch import xm_launch

FLAGS = flags.FLAGS

# gcloud's --version (TPU software) per generation; see Cloud TPU's
# "TPU VM images" page. --runtime_version overrides it.
RUNTIME_VERSIONS = {'v2': 'tpu-ubuntu2204-base', 'v3': 'tpu-ubuntu2204-base',
                    'v4': 'tpu-ubuntu2204-base',
                    'v5litepod': 'v2-alpha-tpuv5-lite',
                    'v5e': 'v2-alpha-tpuv5-lite', 'v5p': 'v2-alpha-tpuv5',
                    'v6e': 'v2-alpha-tpuv6e'}
REMOTE_REPO = 'altup-t5x'  # in each worker's home directory
ARCHIVE = 'altup-t5x.tar.gz'
_NAME = re.compile(r'^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$')
_ZONE = re.compile(r'^[a-z]+-[a-z]+\d+-[a-z]$')


def define_flags() -> None:
  """The launcher's flags (defined when run as a program)."""
  experiment_flags.define(size='base', task='altup_c4_span_corruption')
  flags.DEFINE_string('tpu_name', None, 'TPU VM name (lower case, digits, -).')
  flags.DEFINE_string('zone', None, 'Cloud zone, e.g. us-central2-b.')
  flags.DEFINE_string('tpu', 'v3-8', 'Accelerator type, e.g. v3-8, v4-32, '
                      'v5litepod-16, v5p-8.')
  flags.DEFINE_string('runtime_version', None, 'TPU software version '
                      '(default: per generation, see RUNTIME_VERSIONS).')
  flags.DEFINE_string('project', None, 'Cloud project (default: gcloud\'s).')
  flags.DEFINE_bool('spot', False, 'Create a Spot (preemptible) TPU VM; a '
                    'rerun resumes from the last checkpoint in --model_dir.')
  flags.DEFINE_bool('skip_create', False, 'Use an existing TPU VM.')
  flags.DEFINE_bool('install', True, 'Copy the repository and install the '
                    'pinned stack on every worker first.')


def hosts(tpu: str) -> int:
  """Hosts (workers) of an accelerator type: 8 TPU cores or v5e chips each."""
  xm_launch.accelerator(tpu, None)  # ValueError naming the format
  return max(1, int(tpu.rsplit('-', 1)[1]) // 8)


def check(name: Optional[str], zone: Optional[str], tpu: str,
          model_dir: str) -> None:
  """Raises ValueError naming the fix for a bad name, zone, type or dir."""
  if not name or not _NAME.match(name):
    raise ValueError(f'Bad --tpu_name={name!r}: use 1-63 lower-case letters, '
                     'digits and "-", starting with a letter, e.g. '
                     '--tpu_name=altup-v4.')
  if not zone or not _ZONE.match(zone):
    raise ValueError(f'Bad --zone={zone!r}: write a Cloud zone such as '
                     'us-central2-b or europe-west4-a.')
  if hosts(tpu) > 1 and not model_dir.startswith('gs://'):
    raise ValueError(f'--tpu={tpu} has {hosts(tpu)} hosts, which must all '
                     f'write one model dir: use --model_dir=gs://..., not '
                     f'{model_dir}.')


def _gcloud(verb: Sequence[str], name: str, zone: str,
            project: Optional[str]) -> List[str]:
  return (['gcloud', 'compute', 'tpus', 'tpu-vm', *verb, name,
           f'--zone={zone}'] + ([f'--project={project}'] if project else []))


def commands(exp: compose.Experiment, name: str, zone: str, tpu: str,
             runtime_version: Optional[str] = None,
             project: Optional[str] = None, spot: bool = False,
             create: bool = True, install: bool = True) -> List[List[str]]:
  """Every command, in order: local ones, then gcloud ones."""
  generation = tpu.rsplit('-', 1)[0]
  cmds = []
  if create:
    cmds.append(_gcloud(['create'], name, zone, project) + [
        f'--accelerator-type={tpu}',
        f'--version={runtime_version or RUNTIME_VERSIONS[generation]}']
                + (['--spot'] if spot else []))
  if install:
    cmds.append(['git', '-C', compose.REPO, 'archive', '--format=tar.gz',
                 f'--output=/tmp/{ARCHIVE}', 'HEAD'])
    cmds.append(['gcloud', 'compute', 'tpus', 'tpu-vm', 'scp',
                 f'/tmp/{ARCHIVE}', f'{name}:{ARCHIVE}', f'--zone={zone}',
                 '--worker=all'] + ([f'--project={project}'] if project
                                    else []))
    cmds.append(_ssh(name, zone, project, install_script()))
  run = shlex.join(compose.t5x_command(exp, python='python3')[:3]
                   + compose.t5x_args(exp, repo='.'))
  log = f'{exp.model_dir}/logs/$(hostname).log'
  cmds.append(_ssh(name, zone, project, (
      f'cd ~/{REMOTE_REPO} && . ~/venv/bin/activate && {run} 2>&1 | tee '
      f'~/t5x.log; status=${{PIPESTATUS[0]}}; ' + (
          f'gsutil cp ~/t5x.log {log}; ' if exp.model_dir.startswith('gs://')
          else f'mkdir -p {exp.model_dir}/logs && cp ~/t5x.log {log}; ')
      + 'exit $status')))
  return cmds


def install_script() -> str:
  """What every worker runs once: unpack, venv, README's pins, TPU jax."""
  return (f'mkdir -p ~/{REMOTE_REPO} && tar -xzf ~/{ARCHIVE} -C '
          f'~/{REMOTE_REPO} && cd ~/{REMOTE_REPO} && python3 -m venv ~/venv '
          f'&& . ~/venv/bin/activate && {deps.INSTALL_COMMAND} && pip install '
          f"'jax[tpu]=={xm_launch.JAX_VERSION}' -f {xm_launch.LIBTPU_RELEASES}")


def _ssh(name: str, zone: str, project: Optional[str], command: str
         ) -> List[str]:
  return _gcloud(['ssh'], name, zone, project) + [
      '--worker=all', f'--command={command}']


def main(argv: Sequence[str], overrides=()) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  exp = compose.validate(experiment_flags.experiment(overrides, 'tpu'),
                         registered_tasks=experiment_flags.registered_tasks())
  check(FLAGS.tpu_name, FLAGS.zone, FLAGS.tpu, exp.model_dir)
  cmds = commands(exp, FLAGS.tpu_name, FLAGS.zone, FLAGS.tpu,
                  FLAGS.runtime_version, FLAGS.project, FLAGS.spot,
                  create=not FLAGS.skip_create, install=FLAGS.install)
  for cmd in cmds:
    print(shlex.join(cmd), flush=True)
    if not FLAGS.dry_run:
      if subprocess.run(cmd, check=False).returncode:
        raise RuntimeError(f'{shlex.join(cmd[:5])} failed; fix it and rerun '
                           '(with --skip_create if the VM exists).')


def entry() -> None:
  cli.run(main, 'launch.tpu_vm', define_flags, gin_overrides=True)


if __name__ == '__main__':
  entry()
