"""Launch command composition, validation, progress and result tables."""

import glob
import importlib.util
import itertools
import os
import re

import pytest

from launch import compose
from launch import families
from launch import gin_text
from launch import report
from launch import runner
from launch import tables

LENGTHS = {'inputs': 128, 'targets': 32}

def _exp(**kw):
  base = dict(size='tiny', variant='altup', altup_k=2, run='pretrain',
              task='altup_offline_span_corruption', model_dir='/tmp/m',
              feature_lengths=LENGTHS, train_steps=10, checkpoint='/tmp/c')
  base.update(kw)
  return compose.Experiment(**base)


MATRIX = [(size, variant, run) for size, variant, run in itertools.product(
    compose.SIZE_LAYERS, compose.VARIANTS, compose.RUNS)
          if (variant not in compose.MOE_VARIANTS or size in compose.MOE_SIZES)
          and (not families.is_decoder_only(size)
               or variant in families.DECODER_ONLY_VARIANTS)]


@pytest.mark.parametrize('size,variant,run', MATRIX)
def test_command_for_every_size_variant_run(size, variant, run):
  k = 1 if variant in compose.BASELINES else 2
  exp = compose.validate(_exp(size=size, variant=variant, altup_k=k, run=run,
                              task='altup_c4_span_corruption'))
  cmd = compose.t5x_command(exp)
  assert cmd[:3] == ['python', '-m', f't5x.{compose.RUNS[run][0]}']
  files = [a.split('=', 1)[1] for a in cmd if a.startswith('--gin_file=')]
  if variant in compose.MOE_VARIANTS:  # MoE size gin, variant gin, MoE run
    assert files[2:] == [f't5x/contrib/moe/configs/runs/{run}.gin']
  else:
    assert files == [f'gin/models/{size}.gin', f'gin/variants/{variant}.gin',
                     compose.RUNS[run][1]]
  for f in files[:2]:
    assert os.path.exists(os.path.join(compose.REPO, f))
  assert ('--gin.ALTUP_K=2' in cmd) == (variant not in compose.BASELINES)
  assert "--gin.MIXTURE_OR_TASK_MODULE='tasks.benchmarks'" in cmd
  assert ('--gin.TRAIN_STEPS=10' in cmd) == (run in ('pretrain', 'finetune'))
  assert ("--gin.INITIAL_CHECKPOINT_PATH='/tmp/c'" in cmd) == (
      run == 'finetune')


def test_every_variant_gin_is_launchable():
  launched = {compose.gin_files(_exp(variant=v, altup_k=1))[1]
              for v in compose.VARIANTS}
  on_disk = {os.path.relpath(f, compose.REPO) for d in ('variants', 'moe')
             for f in glob.glob(os.path.join(compose.REPO, 'gin', d, '*.gin'))
             if os.path.basename(f) != 'layers.gin'}
  assert launched == on_disk


def test_moe_partitions_and_sequence_stride():
  exp = compose.validate(_exp(variant='moe_altup', num_partitions=2))
  assert '--gin.NUM_MODEL_PARTITIONS=2' in compose.t5x_args(exp)
  # T5X's MoE run gins require one of these; without --num_partitions, 1.
  exp = compose.validate(_exp(variant='moe_altup'))
  assert '--gin.NUM_MODEL_PARTITIONS=1' in compose.t5x_args(exp)
  exp = compose.validate(_exp(variant='moe_altup', gin_overrides=(
      ('MODEL_PARALLEL_SUBMESH', '(1, 1, 1, 2)'),)))
  assert not any('NUM_MODEL_PARTITIONS' in a for a in compose.t5x_args(exp))
  # Sequence-AltUp's K is a stride: larger than the layer count is fine.
  exp = compose.validate(_exp(variant='sequence', altup_k=8))
  assert '--gin.ALTUP_K=8' in compose.t5x_args(exp)
  assert [compose.default_altup_k(v) for v in (
      'baseline', 'moe_baseline', 'altup', 'routed', 'sequence')] == [
          1, 1, 2, 2, 4]


def test_size_layers_are_the_size_gins():
  if importlib.util.find_spec('flaxformer') is None:
    pytest.skip('flaxformer binds the T5.1.1 and T5.1.0 layer counts: '
                'pip install -r requirements-github.txt')
  models = [(size, 'baseline') for size in compose.SIZE_LAYERS]
  models += [(size, 'moe_baseline') for size in compose.MOE_SIZES]
  for size, variant in models:
    files = compose.gin_files(_exp(size=size, variant=variant, altup_k=1))
    macros = gin_text.gin_macros(files)
    layers = str(compose.SIZE_LAYERS[size])
    assert (macros['NUM_ENCODER_LAYERS'], macros['NUM_DECODER_LAYERS']) == (
        layers, layers), files
    # The size gin's header states the same "<enc>/<dec> layers".
    with open(os.path.join(compose.REPO, files[0])) as f:
      header = f.read().split('\ninclude', 1)[0]
    stated = re.findall(r'(\d+)/(\d+) layers', header)
    assert stated[:1] in ([], [(layers, layers)]), (files[0], stated)


@pytest.mark.parametrize('size,family', [
    ('tiny', 'T5.1.1'), ('xl', 'T5.1.1'), ('tiny_2d', 'T5.1.1'),
    ('t5_1_0_tiny', 'T5.1.0'), ('t5_1_0_small', 'T5.1.0'),
    ('t5_1_0_3B', 'T5.1.0')])
def test_size_family(size, family):
  assert compose.family(size) == family
  assert compose.tied_logits(size) == (family == 'T5.1.0')
  assert compose.size_label(size) == (
      f'{family} {size.removeprefix("t5_1_0_")}')


def test_t5_1_0_sizes_are_launchable():
  t5_1_0 = [s for s in compose.SIZE_LAYERS if compose.family(s) == 'T5.1.0']
  assert sorted(t5_1_0) == sorted(
      f't5_1_0_{s}' for s in ('tiny', 'small', 'base', 'large', '3B'))
  for size in t5_1_0:
    assert os.path.exists(os.path.join(compose.REPO, 'gin', 'models',
                                       f'{size}.gin'))
  # K up to the layers per stack: 6 for T5.1.0 Small (8 for T5.1.1 Small).
  assert compose.validate(_exp(size='t5_1_0_small', altup_k=6))
  with pytest.raises(ValueError, match="exceeds the 6 layers per stack of "
                     "size 't5_1_0_small'"):
    compose.validate(_exp(size='t5_1_0_small', altup_k=7))


def test_tied_logits_need_the_concat_decoder_output():
  """Full AltUp's K*d table meets a d-wide decoder output only on the T5.1.0
  sizes (tied logits); Recycled and the untied T5.1.1 sizes are fine."""
  summed = (('ALTUP_DECODER_OUTPUT', "'sum'"),)
  with pytest.raises(ValueError, match="ties the logits to the token "
                     "embedding.*ALTUP_DECODER_OUTPUT='sum'.*Keep 'concat'"):
    compose.validate(_exp(size='t5_1_0_tiny', gin_overrides=summed))
  for kw in (dict(size='tiny', gin_overrides=summed),
             dict(size='t5_1_0_tiny'),
             dict(size='t5_1_0_tiny', altup_k=1, gin_overrides=summed),
             dict(size='t5_1_0_tiny', gin_overrides=(
                 ('ALTUP_DECODER_OUTPUT', "'concat'"),))):
    assert compose.validate(_exp(**kw))


def test_gin_macros_follow_includes_and_the_last_binding_wins(tmp_path,
                                                              monkeypatch):
  (tmp_path / 'a.gin').write_text("A = 1\nB = 'x'  # note\n")
  (tmp_path / 'b.gin').write_text("include 'a.gin'\nA = 2\n"
                                  "include 'missing.gin'\n")
  monkeypatch.setattr(gin_text, 'REPO', str(tmp_path))
  assert gin_text.gin_macros(['b.gin']) == {'A': '2', 'B': "'x'"}
  assert gin_text.gin_macros(['b.gin', 'a.gin'])['A'] == '1'


def test_offline_task_adds_offline_vocabulary_and_overrides_pass_through():
  exp = _exp(scan=True, num_partitions=2,
             gin_overrides=(('DROPOUT_RATE', '0.1'),))
  args = compose.t5x_args(exp)
  assert args.index('--gin_file=gin/options/scan.gin') < args.index(
      '--gin_file=tasks/gin/offline_vocab.gin')
  assert "--gin.MIXTURE_OR_TASK_MODULE='tasks.offline'" in args
  assert "--gin.TASK_FEATURE_LENGTHS={'inputs': 128, 'targets': 32}" in args
  assert '--gin.partitioning.PjitPartitioner.num_partitions=2' in args
  assert args[-1] == '--gin.DROPOUT_RATE=0.1'


@pytest.mark.parametrize('kw,match', [
    (dict(size='huge'), "Unknown size 'huge'; choose one of tiny, small"),
    (dict(variant='moe'), "Unknown variant 'moe'"),
    (dict(variant='moe_altup', size='large'), 'No MoE model gin for size'),
    (dict(variant='moe_baseline', altup_k=2), 'without AltUp'),
    (dict(variant='moe_recycled', scan=True), 'drop --scan'),
    (dict(run='export'), "Unknown run 'export'"),
    (dict(altup_k=0), 'must be an int >= 1'),
    (dict(altup_k=2.0), 'must be an int >= 1'),
    (dict(variant='baseline', altup_k=2), 'without AltUp \\(K=1\\)'),
    (dict(altup_k=8), 'exceeds the 4 layers'),
    (dict(feature_lengths=None), 'set them, e.g. --feature_lengths=inputs=128'),
    (dict(train_steps=None), '--train_steps is required'),
    (dict(run='infer', checkpoint=None), '--checkpoint is required'),
    (dict(gin_overrides=(('ALTUP_K', '4'),)), 'use the flag \\(--altup_k\\)'),
    (dict(gin_overrides=(('RANDOM_SEED', '4'),)), 'use the flag \\(--seed\\)'),
    (dict(seed=-1), '--seed must be an int >= 0'),
    (dict(options=('fast',)), "Unknown option 'fast'; choose one of "
     'gather_embedding'),
    (dict(vocabulary='byte'), "Unknown vocabulary 'byte'; choose one of "
     't5, offline, bytes'),
    (dict(task='altup_offline_byte_span_corruption', vocabulary='offline'),
     "made for the 'bytes' vocabulary; drop --vocabulary=offline"),
])
def test_bad_input_names_the_fix(kw, match):
  with pytest.raises(ValueError, match=match):
    compose.validate(_exp(**kw))


def test_unknown_task_and_gs_dir_with_local_launcher():
  with pytest.raises(ValueError, match="Unknown task 'c4'; registered: a, b"):
    compose.validate(_exp(task='c4'), registered_tasks=['a', 'b'])
  with pytest.raises(ValueError, match='local launcher cannot write gs://b'):
    compose.validate(_exp(model_dir='gs://b/run'), local=True)
  assert compose.validate(_exp(model_dir='gs://b/run'))  # fine for TPU jobs


def test_vocabulary_follows_the_task_unless_given():
  def vocab_gins(**kw):
    return [a for a in compose.t5x_args(_exp(**kw))
            if a.startswith('--gin_file=tasks/gin/')]
  assert vocab_gins() == ['--gin_file=tasks/gin/offline_vocab.gin']
  byte_task = _exp(task='altup_offline_byte_span_corruption')
  assert compose.validate(byte_task).vocabulary is None
  assert vocab_gins(task='altup_offline_byte_span_corruption') == [
      '--gin_file=tasks/gin/byte_vocab.gin']
  # Finetuning a byte-level model: the same task, the model's vocabulary.
  assert vocab_gins(task='altup_offline_sentiment', vocabulary='bytes') == [
      '--gin_file=tasks/gin/byte_vocab.gin']
  assert vocab_gins(task='altup_squad') == []
  assert compose.default_feature_lengths(
      'altup_offline_byte_span_corruption') == {'inputs': 128, 'targets': 24}


def test_seed_and_options_reach_t5x():
  args = compose.t5x_args(_exp(seed=3, options=('gather_embedding',)))
  assert '--gin.RANDOM_SEED=3' in args
  assert '--gin.train/utils.DatasetConfig.seed=3' in args
  assert args.index('--gin_file=gin/options/gather_embedding.gin') < (
      args.index('--gin_file=tasks/gin/offline_vocab.gin'))
  # Every train run has an explicit seed (T5X's default picks one at random).
  assert '--gin.RANDOM_SEED=0' in compose.t5x_args(_exp())
  assert not any('SEED' in a for a in compose.t5x_args(_exp(run='infer')))


def test_split_gin_overrides():
  rest, overrides = compose.split_gin_overrides(
      ['prog', '--size=tiny', "--gin.MODEL_DIR='/x'", '--gin.A.b=1'])
  assert rest == ['prog', '--size=tiny']
  assert overrides == (('MODEL_DIR', "'/x'"), ('A.b', '1'))
  with pytest.raises(ValueError, match='Malformed gin override'):
    compose.split_gin_overrides(['--gin.NOVALUE'])


def test_parse_feature_lengths():
  assert compose.parse_feature_lengths('inputs=512, targets=114') == {
      'inputs': 512, 'targets': 114}
  with pytest.raises(ValueError, match='Malformed --feature_lengths'):
    compose.parse_feature_lengths('inputs:512')


def test_progress_line_from_t5x_log():
  line = ('I1125 logging_writer.py:49] [60] collection=training_eval/task '
          'accuracy=0.259968, cross_ent_loss=5394.4, loss=5394.5, '
          'timing/steps_per_second=2.1, effective_batch_size/decoder=32.0')
  assert runner.progress_line(line) == (
      '  step     60 training_eval/task: loss=5394, accuracy=0.26, '
      'timing/steps_per_second=2.1')
  assert runner.progress_line('I1125 train.py:528] Running eval.') is None


def test_markdown_table_leaves_missing_values_blank(tmp_path):
  md = tables.write_table(str(tmp_path / 'r'), ('model', 'acc'),
                          [('a', 0.5), ('b', None)])
  assert md.splitlines()[-1] == '| b |  |'
  assert (tmp_path / 'r.csv').read_text().splitlines() == [
      'model,acc', 'a,0.5', 'b,']


def test_read_scalars_from_summaries_written_like_t5x(tmp_path):
  tf = pytest.importorskip('tensorflow', reason='pip install tensorflow-cpu')
  writer = tf.summary.create_file_writer(str(tmp_path))
  with writer.as_default():
    for step, value in ((10, 0.5), (20, 0.75)):
      tf.summary.scalar('accuracy', value, step=step)
  writer.flush()
  scalars = report.read_scalars(str(tmp_path))
  assert scalars['accuracy'] == [(10, 0.5), (20, 0.75)]
  assert report.metric(str(tmp_path.parent), tmp_path.name, 'accuracy') == 0.75
  assert report.metric(str(tmp_path), 'missing', 'accuracy') is None


@pytest.mark.parametrize('tpu,gpu,expected', [
    ('v3-8', None, {'tpu_v3': 8}), ('v4-32', None, {'tpu_v4': 32}),
    ('v5litepod-8', None, {'tpu_v5e': 8}), (None, 'h100:8', {'h100': 8})])
def test_accelerators(tpu, gpu, expected):
  assert xm_launch_module().accelerator(tpu, gpu) == expected


def test_bad_accelerators_name_the_format():
  xm = xm_launch_module()
  with pytest.raises(ValueError, match='Unknown --tpu=.v9-8.'):
    xm.accelerator('v9-8', None)
  with pytest.raises(ValueError, match='Malformed --gpu=.a100.'):
    xm.accelerator(None, 'a100')


def xm_launch_module():
  from launch import xm_launch  # pylint: disable=g-import-not-at-top
  return xm_launch


def test_feature_lengths_default_per_task():
  assert compose.default_feature_lengths('altup_offline_sentiment') == {
      'inputs': 128, 'targets': 4}
  assert compose.default_feature_lengths('altup_c4_span_corruption') == {
      'inputs': 512, 'targets': 114}
  assert compose.default_feature_lengths('altup_glue_cola') is None
  with pytest.raises(ValueError, match="No default feature lengths for task "
                     "'altup_glue_cola'; set them"):
    compose.validate(_exp(task='altup_glue_cola', feature_lengths=None))

