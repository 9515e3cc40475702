"""launch.preflight and gin_text.check_overrides: faults found before a run
starts, each a ValueError naming the fix, with nothing written."""

import json
import os

import pytest

from launch import compose
from launch import gin_text
from launch import preflight

LENGTHS = {'inputs': 128, 'targets': 24}
TASK = 'altup_offline_byte_span_corruption'


def _exp(model_dir, **kw):
  base = dict(size='tiny', variant='altup', altup_k=2, run='pretrain',
              task=TASK, model_dir=str(model_dir), feature_lengths=LENGTHS,
              train_steps=10)
  base.update(kw)
  return compose.Experiment(**base)


def _orbax_checkpoint(path):
  """The files check_complete reads, as Orbax writes them."""
  (path / 'state').mkdir(parents=True)
  (path / '_CHECKPOINT_METADATA').write_text('{"init_timestamp_nsecs": 1}')
  (path / 'state' / '_METADATA').write_text('{"tree_metadata": {}}')
  (path / 'state' / 'manifest.ocdbt').write_bytes(b'\0' * 8)
  return path


def _trained(model_dir, exp, step=20):
  """A model dir as a train run of `exp` leaves it after `step`."""
  _orbax_checkpoint(model_dir / f'checkpoint_{step}')
  preflight.record(exp)


def test_a_run_resumes_its_own_model_dir(tmp_path):
  exp = _exp(tmp_path)
  _trained(tmp_path, exp)
  recorded = json.loads((tmp_path / 'experiment.json').read_text())
  assert recorded['variant'] == 'altup' and recorded['altup_k'] == 2
  assert recorded['vocabulary'] == 'bytes'
  preflight.check(exp)  # same model: resumes
  preflight.check(_exp(tmp_path, train_steps=50))  # longer: resumes too


@pytest.mark.parametrize('change, named', [
    (dict(altup_k=4), "altup_k 2 (this run: 4)"),
    (dict(variant='recycled'), "variant 'altup' (this run: 'recycled')"),
    (dict(size='tiny_2d'), "size 'tiny' (this run: 'tiny_2d')"),
    (dict(task='altup_offline_span_corruption'),
     "vocabulary 'bytes' (this run: 'offline')"),
    (dict(scan=True), 'scan False (this run: True)'),
    (dict(gin_overrides=(('ALTUP_SELECTION', "'same'"),)), 'model_overrides'),
])
def test_model_dir_of_another_model_is_refused(tmp_path, change, named):
  _trained(tmp_path, _exp(tmp_path))
  before = sorted(os.listdir(tmp_path))
  with pytest.raises(ValueError, match='holds checkpoints of another model') as e:
    preflight.check(_exp(tmp_path, **change))
  assert named in str(e.value) and '--model_dir' in str(e.value)
  assert sorted(os.listdir(tmp_path)) == before  # nothing written


def test_embedding_form_may_change_between_attempts(tmp_path):
  """One-hot and gather embeddings are the same model (COMPUTE_OPTIONS)."""
  _trained(tmp_path, _exp(tmp_path, options=('gather_embedding',)))
  preflight.check(_exp(tmp_path))
  assert json.loads((tmp_path / 'experiment.json').read_text())[
      'options'] == []


def test_resume_without_data_position_resumes_as_started(tmp_path):
  """A checkpoint written without the data iterator (save_dataset=False, or
  an earlier launcher) resumes without restoring one; T5X would fail."""
  exp = _exp(tmp_path)
  _trained(tmp_path, exp)
  (tmp_path / 'checkpoint_20' / 'dataset').mkdir()
  said = []
  resumed = preflight.resume_as_started(exp, echo=said.append)
  assert compose.gin_bindings(resumed)[compose.SAVE_DATASET] == 'False'
  assert 'holds no data position' in said[0] and '--model_dir' in said[0]
  # With the data position saved, the run resumes exactly.
  (tmp_path / 'checkpoint_20' / 'dataset' / 'train_ds-000-of-001.index'
   ).write_bytes(b'')
  assert preflight.resume_as_started(exp, echo=said.append) is exp
  assert len(said) == 1
  # A new model dir has nothing to resume.
  fresh = _exp(tmp_path / 'new')
  assert preflight.resume_as_started(fresh) is fresh


def test_model_dir_without_record_is_compared_on_t5x_config(tmp_path):
  """Runs started by hand: the shape macros of T5X's config.gin."""
  _orbax_checkpoint(tmp_path / 'checkpoint_5')
  (tmp_path / 'config.gin').write_text(
      'ALTUP_K = 2\nEMBED_DIM = 64\nNUM_HEADS = 4\nNUM_EMBEDDINGS = 384\n'
      "MODEL_DIR = '/elsewhere'\n")
  preflight.check(_exp(tmp_path))
  with pytest.raises(ValueError, match=r"EMBED_DIM '64' \(this run: '128'\)"):
    preflight.check(_exp(tmp_path, size='tiny_2d'))
  with pytest.raises(ValueError, match=r"ALTUP_K '2' \(this run: '4'\)"):
    preflight.check(_exp(tmp_path, altup_k=4))
  with pytest.raises(ValueError, match=r"ALTUP_K '2' \(this run: '1'\)"):
    preflight.check(_exp(tmp_path, variant='baseline', altup_k=1))


def test_dense_model_dir_without_record_resumes(tmp_path):
  """T5X's config.gin of a dense run binds ALTUP_K = 1 (baseline.gin)."""
  _orbax_checkpoint(tmp_path / 'checkpoint_5')
  (tmp_path / 'config.gin').write_text(
      'ALTUP_K = 1\nEMBED_DIM = 64\nNUM_HEADS = 4\nNUM_EMBEDDINGS = 384\n')
  preflight.check(_exp(tmp_path, variant='baseline', altup_k=1))
  with pytest.raises(ValueError) as e:
    preflight.check(_exp(tmp_path, altup_k=2))
  assert str(e.value).count('ALTUP_K') == 1
  assert "ALTUP_K '1' (this run: '2')" in str(e.value)


@pytest.mark.parametrize('damage, problem', [
    (lambda c: (c / 'state' / '_METADATA').write_text('{"tree_meta'),
     'state/_METADATA: JSONDecodeError'),
    (lambda c: (c / '_CHECKPOINT_METADATA').unlink(),
     '_CHECKPOINT_METADATA: FileNotFoundError'),
    (lambda c: (c / 'state' / 'manifest.ocdbt').unlink(),
     'state/manifest.ocdbt: missing'),
])
def test_corrupt_latest_checkpoint_names_the_one_to_move(tmp_path, damage,
                                                         problem):
  exp = _exp(tmp_path)
  _trained(tmp_path, exp, step=10)
  _orbax_checkpoint(tmp_path / 'checkpoint_20')
  damage(tmp_path / 'checkpoint_20')
  with pytest.raises(ValueError, match='incomplete or corrupt') as e:
    preflight.check(exp)
  message = str(e.value)
  assert problem in message
  assert f'mv {tmp_path}/checkpoint_20 {tmp_path}/checkpoint_20.corrupt' in (
      message)
  assert (tmp_path / 'checkpoint_10').is_dir()  # nothing removed
  # Moved aside as the message says: T5X resumes from checkpoint_10.
  os.rename(tmp_path / 'checkpoint_20', tmp_path / 'checkpoint_20.corrupt')
  preflight.check(exp)


def test_finetune_checkpoint_must_fit_the_model(tmp_path):
  altup = tmp_path / 'altup'
  _trained(altup, _exp(altup), step=30)
  dense = tmp_path / 'dense'
  _trained(dense, _exp(dense, variant='baseline', altup_k=1), step=30)
  wide = tmp_path / 'wide'
  _trained(wide, _exp(wide, variant='baseline', altup_k=1, size='tiny_2d'),
           step=30)
  (wide / 'config.gin').write_text('EMBED_DIM = 128\nNUM_HEADS = 8\n')
  (dense / 'config.gin').write_text('EMBED_DIM = 64\nNUM_HEADS = 4\n')

  def finetune(checkpoint, **kw):
    return _exp(tmp_path / 'ft', run='finetune', checkpoint=str(checkpoint),
                **kw)

  preflight.check(finetune(altup / 'checkpoint_30'))
  preflight.check(finetune(dense / 'checkpoint_30'))  # warm start: dense -> K=2
  with pytest.raises(ValueError, match=r'altup_k 2 \(this run: 4\)'):
    preflight.check(finetune(altup / 'checkpoint_30', altup_k=4))
  with pytest.raises(ValueError, match=r"EMBED_DIM '128' \(this run: '64'\)"):
    preflight.check(finetune(wide / 'checkpoint_30'))
  with pytest.raises(ValueError, match='does not exist'):
    preflight.check(finetune(altup / 'checkpoint_31'))
  (altup / 'checkpoint_30' / 'state' / '_METADATA').write_text('')
  with pytest.raises(ValueError, match='incomplete or corrupt'):
    preflight.check(finetune(altup / 'checkpoint_30'))
  assert not (tmp_path / 'ft').exists()


def test_missing_tfds_data_names_tfds_build(tmp_path, monkeypatch):
  pytest.importorskip('tensorflow_datasets')
  pytest.importorskip('t5')
  monkeypatch.setenv('TFDS_DATA_DIR', str(tmp_path / 'tfds'))
  exp = _exp(tmp_path / 'run', task='altup_glue_cola',
             feature_lengths={'inputs': 128, 'targets': 8})
  with pytest.raises(ValueError, match='not prepared') as e:
    preflight.check(exp)
  assert 'glue/cola:1.0.0' in str(e.value)
  assert f'tfds build glue/cola --data_dir={tmp_path}/tfds' in str(e.value)
  assert not (tmp_path / 'run').exists()


def test_misspelt_gin_macro_names_the_close_ones(tmp_path, monkeypatch):
  """Checked against the model gins and T5X's run gin (here a stand-in)."""
  runs = tmp_path / 't5x' / 'configs' / 'runs'
  runs.mkdir(parents=True)
  (runs / 'pretrain.gin').write_text('BATCH_SIZE = 128\nUSE_CACHED_TASKS = True\n')
  monkeypatch.setattr(gin_text, 'search_paths',
                      lambda: [compose.REPO, str(tmp_path)])
  compose.validate(_exp(tmp_path, gin_overrides=(
      ('ALTUP_SELECTION', "'same'"), ('USE_CACHED_TASKS', 'False'),
      ('train.eval_period', '5'))))
  with pytest.raises(ValueError, match='did you mean ALTUP_SELECTION'):
    compose.validate(_exp(tmp_path, gin_overrides=(
        ('ALTUP_SELECTON', "'same'"),)))
  with pytest.raises(ValueError, match='no gin file of this experiment '
                     'defines the macro NO_SUCH_THING'):
    compose.validate(_exp(tmp_path, gin_overrides=(('NO_SUCH_THING', '1'),)))


def test_macros_are_not_checked_without_the_run_gin(monkeypatch):
  monkeypatch.setattr(gin_text, 'search_paths', lambda: [compose.REPO])
  compose.validate(_exp('/tmp/m', gin_overrides=(('ALTUP_SELECTON', '1'),)))


def test_pretraining_runs_checkpoint_their_data_position():
  train = compose.gin_bindings(_exp('/tmp/m'))
  assert train[compose.SAVE_DATASET] == 'True'
  off = compose.gin_bindings(_exp('/tmp/m', gin_overrides=(
      (compose.SAVE_DATASET, 'False'),)))
  assert off[compose.SAVE_DATASET] == 'False'  # the user's choice wins
  infer = compose.gin_bindings(_exp('/tmp/m', run='infer', checkpoint='/c'))
  assert compose.SAVE_DATASET not in infer
  # Finetuning: T5X would restore the data position from the initial
  # checkpoint (another task's) too, and fail.
  finetune = compose.gin_bindings(_exp('/tmp/m', run='finetune',
                                       checkpoint='/c/checkpoint_5'))
  assert compose.SAVE_DATASET not in finetune
