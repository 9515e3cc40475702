r"""XManager launcher for AltUp experiments on Cloud TPU / GPU (Vertex AI).

  python -m launch.xm_launch --size=base --variant=altup --altup_k=2 \
      --run=pretrain --task=altup_c4_span_corruption \
      --feature_lengths=inputs=512,targets=114 --train_steps=500000 \
      --batch_size=256 --model_dir=gs://bucket/altup_base_k2 --tpu=v3-8 \
      [--gin.X=...] [--dry_run]

Same experiment flags as `launch.local` (the command is composed by
`launch.compose`), plus the accelerator (--tpu=v3-8 | v4-8 | v5litepod-8 |
v5p-8 ..., or --gpu=a100:8 | h100:8) and --tfds_data_dir. The container
installs t5x (with its TPU jax), flaxformer as an editable clone (its gin
configs are not in its wheel), and this repository with its [tasks] extra.
With --dry_run (no xmanager or credentials needed) it prints the job spec and
the `python -m t5x.main` command; otherwise it submits through xmanager's
Vertex executor, like t5x/scripts/xm_launch.py.
"""

import json
import re
import shlex
from typing import Any, Dict, List, Optional, Sequence

from absl import app
from absl import flags

from altup_flaxformer import deps
from launch import cli
from launch import compose
from launch import experiment_flags

FLAGS = flags.FLAGS


def define_flags() -> None:
  """The launcher's flags (defined when run as a program)."""
  experiment_flags.define(size='base', task='altup_c4_span_corruption')
  flags.DEFINE_string('tpu', 'v3-8', 'Cloud TPU type, e.g. v3-8, v4-32, '
                      'v5litepod-8, v5p-8. Ignored with --gpu.')
  flags.DEFINE_string('gpu', None, 'GPU type:count instead of a TPU, e.g. '
                      'a100:8 or h100:8.')
  flags.DEFINE_string('tfds_data_dir', None, 'TFDS data dir (gs://...).')
  flags.DEFINE_string('name', None, 'Experiment name (default: from flags).')


CONTAINER_REPO = '/workdir/altup-t5x'
# --tpu generation / --gpu type -> xmanager's ResourceType (lower case), as
# tests/unit/test_xm_api.py checks against the installed xmanager.
TPU_GENERATIONS = {'v2': 'tpu_v2', 'v3': 'tpu_v3', 'v4': 'tpu_v4',
                   'v5litepod': 'tpu_v5e', 'v5e': 'tpu_v5e', 'v5p': 'tpu_v5p',
                   'v6e': 'tpu_v6e'}
GPUS = {'v100': 'v100', 'a100': 'a100', 'a100_80gib': 'a100_80gib',
        'h100': 'h100', 'h200': 'h200', 't4': 't4', 'l4': 'l4_24th'}
_TPU = re.compile(r'^(v\d\w*)-(\d+)$')


def accelerator(tpu: Optional[str], gpu: Optional[str]) -> Dict[str, int]:
  """--tpu / --gpu -> xmanager JobRequirements keyword, e.g. {'tpu_v3': 8}."""
  if gpu:
    kind, _, count = gpu.partition(':')
    if kind not in GPUS or not count.isdigit() or int(count) < 1:
      raise ValueError(f'Malformed --gpu={gpu!r}; write TYPE:COUNT with TYPE '
                       f'one of {", ".join(GPUS)}, e.g. --gpu=a100:8.')
    return {GPUS[kind]: int(count)}
  match = _TPU.match(tpu or '')
  if not match or match.group(1) not in TPU_GENERATIONS:
    raise ValueError(f'Unknown --tpu={tpu!r}; write GENERATION-CORES with '
                     f'GENERATION one of {", ".join(TPU_GENERATIONS)}, e.g. '
                     '--tpu=v3-8 (the paper measured on TPUv3 with 8 cores).')
  return {TPU_GENERATIONS[match.group(1)]: int(match.group(2))}


def platform(requirements: Dict[str, int]) -> str:
  """'tpu' or 'gpu': the platform of `accelerator`'s requirements."""
  return 'tpu' if any(k.startswith('tpu') for k in requirements) else 'gpu'


JAX_VERSION = '0.10.2'  # = requirements-t5x.txt's jax[cpu] pin
LIBTPU_RELEASES = 'https://storage.googleapis.com/jax-releases/libtpu_releases.html'


def image_instructions(requirements: Dict[str, int]) -> List[str]:
  """Dockerfile lines after the base image (python:3.11): the same pinned
  stack as README's install command, with the accelerator's jax."""
  tpu = platform(requirements) == 'tpu'
  jax = (f"'jax[tpu]=={JAX_VERSION}' -f {LIBTPU_RELEASES}" if tpu
         else f"'jax[cuda12]=={JAX_VERSION}'")
  return [
      'RUN pip install --upgrade pip',
      f'COPY altup-t5x/ {CONTAINER_REPO}',
      f'WORKDIR {CONTAINER_REPO}',
      f'RUN {deps.INSTALL_COMMAND}',
      f'RUN pip install {jax}',
  ]


def job_spec(exp: compose.Experiment, requirements: Dict[str, int],
             tfds_data_dir: Optional[str] = None,
             name: Optional[str] = None) -> Dict[str, Any]:
  """Everything the XManager job needs, as plain data."""
  mode = compose.RUNS[exp.run][0]
  args = [f'--run_mode={mode}'] + compose.t5x_args(exp, repo=CONTAINER_REPO)
  if tfds_data_dir:
    args.append(f'--tfds_data_dir={tfds_data_dir}')
  return {
      'name': name or f'altup-{exp.size}-{exp.variant}-k{exp.altup_k}-'
                      f'{exp.run}',
      'base_image': 'python:3.11',
      'docker_instructions': image_instructions(requirements),
      'entrypoint': ['python3', '-m', 't5x.main'] + args,
      'requirements': requirements,
  }


def xm_objects(spec: Dict[str, Any]) -> Dict[str, Any]:
  """The xmanager objects of `spec`: what `submit` packages and adds, built
  without network or credentials (tests build them for every accelerator).

  Raises:
    ImportError: no xmanager (pip install -e '.[xm]').
    ValueError: an accelerator this xmanager does not know.
  """
  try:
    from xmanager import xm  # pylint: disable=g-import-not-at-top
    from xmanager import xm_local  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError("Submitting needs xmanager and Google Cloud "
                      "credentials: pip install -e '.[xm]' (or use "
                      "--dry_run).") from e
  unknown = [k for k in spec['requirements']
             if k.upper() not in xm.ResourceType.__members__]
  if unknown:
    raise ValueError(f'This xmanager has no accelerator {unknown}; '
                     'choose another --tpu/--gpu or upgrade xmanager.')
  return {
      'executable_spec': xm.python_container(
          executor_spec=xm_local.Vertex.Spec(), path=compose.REPO,
          base_image=spec['base_image'],
          docker_instructions=spec['docker_instructions'],
          entrypoint=xm.CommandList([shlex.join(spec['entrypoint'])])),
      'executor': xm_local.Vertex(
          requirements=xm.JobRequirements(**spec['requirements'])),
  }


def submit(spec: Dict[str, Any]) -> None:
  """Submits `spec` through xmanager's Vertex executor."""
  from xmanager import xm  # pylint: disable=g-import-not-at-top
  from xmanager import xm_local  # pylint: disable=g-import-not-at-top
  objects = xm_objects(spec)
  with xm_local.create_experiment(experiment_title=spec['name']) as exp:
    [executable] = exp.package([objects['executable_spec']])
    exp.add(xm.Job(executable=executable, executor=objects['executor']))


def main(argv: Sequence[str], overrides=()) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  requirements = accelerator(FLAGS.tpu, FLAGS.gpu)
  exp = compose.validate(
      experiment_flags.experiment(overrides, platform(requirements)),
      registered_tasks=experiment_flags.registered_tasks())
  spec = job_spec(exp, requirements,
                  FLAGS.tfds_data_dir, FLAGS.name)
  if FLAGS.dry_run:
    print(json.dumps(spec, indent=2))
    print(shlex.join(spec['entrypoint']))
    return
  xm_objects(spec)  # no xmanager, or an unknown accelerator: fail here
  submit(spec)


def entry() -> None:
  cli.run(main, 'launch.xm_launch', define_flags, gin_overrides=True)


if __name__ == '__main__':
  entry()
