"""The decoder-only family in the launchers: sizes, gins, validation, sweep."""

import os

import pytest

from launch import compose
from launch import families
from launch import grids
from launch import jobs
import tasks

LM_TASKS = ('altup_c4_lm', 'altup_c4_prefix_lm', 'altup_offline_lm',
            'altup_offline_prefix_lm')


def _exp(**kwargs):
  fields = dict(size='lm_tiny', variant='altup', altup_k=2, run='pretrain',
                task='altup_offline_lm', model_dir='/tmp/lm',
                feature_lengths={'targets': 128}, train_steps=10)
  fields.update(kwargs)
  return compose.Experiment(**fields)


@pytest.mark.parametrize('size,family,label', [
    ('lm_tiny', 'decoder-only', 'decoder-only tiny'),
    ('lm_xl', 'decoder-only', 'decoder-only xl'),
    ('small', 'T5.1.1', 'T5.1.1 small'),
    ('t5_1_0_3B', 'T5.1.0', 'T5.1.0 3B')])
def test_family_and_label(size, family, label):
  assert compose.family(size) == families.family(size) == family
  assert compose.size_label(size) == label
  assert not compose.tied_logits(size) or family == 'T5.1.0'


def test_every_decoder_only_size_has_a_gin_and_its_layers():
  for size in families.lm_sizes():
    assert compose.SIZE_LAYERS[size] == families.DECODER_ONLY_LAYERS[size]
    path = os.path.join(compose.REPO, 'gin', 'models', f'{size}.gin')
    assert os.path.exists(path), path
    text = open(path).read()
    assert "include 'gin/models/" in text
  # The decoder of the T5.1.1 size it is named after.
  for size in ('small', 'base', 'large', 'xl'):
    assert compose.SIZE_LAYERS[f'lm_{size}'] == compose.SIZE_LAYERS[size]


@pytest.mark.parametrize('variant', families.DECODER_ONLY_VARIANTS)
def test_decoder_only_command(variant):
  exp = compose.validate(_exp(variant=variant,
                              altup_k=1 if variant == 'baseline' else 2))
  args = compose.t5x_args(exp, repo='/r')
  assert args[1:4] == ['--gin_file=gin/models/lm_tiny.gin',
                       f'--gin_file=gin/variants/{variant}.gin',
                       '--gin_file=tasks/gin/offline_vocab.gin']
  assert args[4] == '--gin_file=t5x/configs/runs/pretrain.gin'
  assert "--gin.TASK_FEATURE_LENGTHS={'targets': 128}" in args
  assert "--gin.MIXTURE_OR_TASK_MODULE='tasks.offline'" in args
  assert compose.t5x_command(exp)[:3] == ['python', '-m', 't5x.train']


def test_decoder_only_scan_and_infer_use_the_stock_run_gins():
  exp = compose.validate(_exp(run='infer', checkpoint='/tmp/lm/checkpoint_10',
                              task='altup_offline_prefix_lm', scan=True,
                              feature_lengths={'inputs': 64,
                                               'targets': 64}))
  files = compose.gin_files(exp)
  assert files == ['gin/models/lm_tiny.gin', 'gin/variants/altup.gin',
                   'gin/options/scan.gin', 'tasks/gin/offline_vocab.gin',
                   't5x/configs/runs/infer.gin']


@pytest.mark.parametrize('variant', ['sequence', 'moe_altup', 'moe_baseline'])
def test_decoder_only_refuses_encoder_variants(variant):
  with pytest.raises(ValueError, match=f'--variant={variant} does not run on '
                     "the decoder-only size 'lm_tiny'; choose one of "
                     'baseline, altup, recycled, routed'):
    compose.validate(_exp(variant=variant,
                          altup_k=1 if variant == 'moe_baseline' else 2))


def test_task_shapes_match_the_family():
  with pytest.raises(ValueError, match='causal LM task: use a decoder-only '
                     'size'):
    compose.validate(_exp(size='tiny'))
  with pytest.raises(ValueError, match='needs a targets length'):
    compose.validate(_exp(feature_lengths={'inputs': 128}))
  # Prefix LM: inputs and targets on a decoder-only size.
  assert compose.validate(_exp(task='altup_offline_prefix_lm',
                               feature_lengths={'inputs': 64,
                                                'targets': 64}))


def test_k_is_checked_against_the_decoder_layers():
  assert compose.validate(_exp(altup_k=4))
  with pytest.raises(ValueError, match="exceeds the 4 layers per stack of "
                     "size 'lm_tiny'"):
    compose.validate(_exp(altup_k=5))


@pytest.mark.parametrize('task', LM_TASKS)
def test_lm_tasks_are_known_with_their_lengths(task):
  assert task in tasks.NAMES
  lengths = compose.default_feature_lengths(task)
  assert 'targets' in lengths
  assert ('inputs' in lengths) == ('prefix' in task)
  offline = task.startswith('altup_offline_')
  assert compose.task_module(task) == (
      'tasks.offline' if offline else 'tasks.benchmarks')
  assert compose.vocabulary_name(task) == ('offline' if offline else 't5')
  compose.validate(_exp(task=task, feature_lengths=lengths),
                   registered_tasks=tasks.NAMES)


def test_offline_lm_study_sweep():
  sweep = grids.SWEEPS['offline_lm_study']
  study = grids.SWEEPS['offline_study']
  assert sweep.sizes == ('lm_tiny',) and not sweep.measure
  assert sweep.seeds == study.seeds and sweep.vocabulary == 'bytes'
  assert sweep.pretrain_overrides == study.pretrain_overrides
  expanded = jobs.expand(sweep, '/s')
  pre = [j for j in expanded if j.stage == 'pretrain']
  assert {j.model for j in pre} == {
      'lm_tiny_baseline_k1', 'lm_tiny_altup_k2', 'lm_tiny_recycled_k2',
      'lm_tiny_routed_k2', 'lm_tiny_altup_k4'}
  assert len(pre) == 5 * len(sweep.seeds)
  for job in expanded:
    exp = compose.validate(job.experiment, local=True)
    args = compose.t5x_args(exp)
    assert '--gin_file=gin/models/lm_tiny.gin' in args
    assert '--gin_file=tasks/gin/byte_vocab.gin' in args
    if job.stage == 'pretrain':
      assert exp.task == 'altup_offline_lm'
      assert dict(exp.feature_lengths) == {'targets': 256}
    else:
      assert exp.task == 'altup_offline_sentiment'
      assert set(exp.feature_lengths) == {'inputs', 'targets'}
