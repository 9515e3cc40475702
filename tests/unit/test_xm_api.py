"""launch.xm_launch against the real xmanager API (only the Cloud boundary
faked): the objects it submits, for every accelerator it accepts."""

import shlex

import pytest

from launch import compose
from launch import xm_launch

xm = pytest.importorskip('xmanager.xm', reason="pip install -e '.[xm]'")
# pylint: disable=g-import-not-at-top
from xmanager import xm_local
# pylint: enable=g-import-not-at-top

ACCELERATORS = ([(f'{g}-8', None) for g in xm_launch.TPU_GENERATIONS]
                + [('v4-32', None)]
                + [(None, f'{g}:1') for g in xm_launch.GPUS])


def _spec(tpu, gpu):
  exp = compose.Experiment(
      size='base', variant='altup', altup_k=2, run='pretrain',
      task='altup_c4_span_corruption', model_dir='gs://b/run',
      feature_lengths={'inputs': 512, 'targets': 114}, train_steps=1000)
  return xm_launch.job_spec(exp, xm_launch.accelerator(tpu, gpu))


@pytest.mark.parametrize('tpu,gpu', ACCELERATORS)
def test_every_accepted_accelerator_builds_real_xmanager_objects(tpu, gpu):
  spec = _spec(tpu, gpu)
  objects = xm_launch.xm_objects(spec)
  packageable = objects['executable_spec']
  assert isinstance(packageable, xm.Packageable)
  assert isinstance(packageable.executor_spec, type(xm_local.Vertex.Spec()))
  container = packageable.executable_spec
  assert isinstance(container, xm.PythonContainer)
  assert container.base_image == 'python:3.11'
  assert list(container.docker_instructions) == spec['docker_instructions']
  assert container.path == compose.REPO
  assert list(container.entrypoint.commands) == [
      shlex.join(spec['entrypoint'])]
  executor = objects['executor']
  assert isinstance(executor, xm_local.Vertex)
  [(kind, count)] = spec['requirements'].items()
  assert executor.requirements.accelerator == xm.ResourceType[kind.upper()]
  assert executor.requirements.task_requirements[
      xm.ResourceType[kind.upper()]] == count


def test_submit_packages_the_container_and_adds_one_job(monkeypatch):
  """Everything up to the Cloud call is xmanager's own code."""
  calls = {}

  class FakeExperiment:
    """What xm_local.create_experiment returns, minus Vertex AI."""

    def __enter__(self):
      return self

    def __exit__(self, *args):
      return False

    def package(self, specs):
      calls['packaged'] = list(specs)
      return ['executable']

    def add(self, job):
      calls['job'] = job

  def fake_create_experiment(experiment_title):
    calls['title'] = experiment_title
    return FakeExperiment()

  monkeypatch.setattr(xm_local, 'create_experiment', fake_create_experiment)
  spec = _spec('v3-8', None)
  xm_launch.submit(spec)
  assert calls['title'] == spec['name']
  [packageable] = calls['packaged']
  assert isinstance(packageable.executable_spec, xm.PythonContainer)
  assert isinstance(calls['job'], xm.Job)
  assert calls['job'].executable == 'executable'
  assert calls['job'].executor.requirements.accelerator == xm.ResourceType.TPU_V3
