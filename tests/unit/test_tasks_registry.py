"""Registration of the altup_* tasks and mixtures, and name lookup."""

import pytest

import tasks

seqio = pytest.importorskip('seqio', reason='the tasks are SeqIO tasks: pip install seqio')
pytest.importorskip('tensorflow', reason='SeqIO tasks need TensorFlow: pip install tensorflow-cpu')
pytest.importorskip(
    't5', reason=f'tasks reuse T5\'s preprocessors and metrics: {tasks.T5_PIP}')

# pylint: disable=g-import-not-at-top
import gin
from tasks import benchmarks
from tasks import offline
from tasks import vocab
# pylint: enable=g-import-not-at-top
from tests.unit import task_helpers

EXPECTED = list(tasks.NAMES)  # what launchers check names against


def test_every_expected_name_is_registered():
  assert tasks.registered_names() == EXPECTED
  assert sorted(benchmarks.TASKS + benchmarks.MIXTURES + offline.TASKS) == EXPECTED


def test_default_lengths_are_for_registered_names():
  assert set(tasks.FEATURE_LENGTHS) <= set(EXPECTED)
  assert offline.SENTIMENT_FEATURE_LENGTHS == {'inputs': 128, 'targets': 4}
  assert benchmarks.C4_FEATURE_LENGTHS == {'inputs': 512, 'targets': 114}


def test_lookup_by_name():
  task = tasks.get_mixture_or_task('altup_glue_sst2')
  assert isinstance(task, seqio.Task) and task.name == 'altup_glue_sst2'
  mixture = tasks.get_mixture_or_task('altup_glue_proportional')
  assert isinstance(mixture, seqio.Mixture)


def test_unknown_name_lists_registered_names():
  with pytest.raises(ValueError) as e:
    tasks.get_mixture_or_task('altup_glue_sst3')
  message = str(e.value)
  assert "'altup_glue_sst3'" in message
  for name in EXPECTED:
    assert name in message
  with pytest.raises(ValueError, match="Did you mean 'altup_squad'"):
    tasks.get_mixture_or_task('squad')


def test_no_clash_with_t5_names():
  # t5's own registrations (if imported) keep their names and vocabulary.
  import t5.data.mixtures  # pylint: disable=g-import-not-at-top,unused-import
  assert 'glue_sst2_v002' in seqio.TaskRegistry.names()
  assert tasks.registered_names() == EXPECTED
  ours = seqio.get_mixture_or_task('altup_glue_sst2')
  theirs = seqio.get_mixture_or_task('glue_sst2_v002')
  assert ours.output_features['targets'].vocabulary != (
      theirs.output_features['targets'].vocabulary)


def test_all_tasks_use_the_shared_vocabulary():
  for name in EXPECTED:
    for feature in seqio.get_mixture_or_task(name).output_features.values():
      assert feature.vocabulary == vocab.get_vocabulary()
      assert feature.vocabulary == vocab.get_vocabulary('t5')
      assert feature.add_eos


def test_gin_binding_switches_every_task_and_mixture():
  with vocab.use_vocabulary('offline') as offline_vocab:
    assert offline_vocab == vocab.get_vocabulary('offline')
    for name in EXPECTED:
      features = seqio.get_mixture_or_task(name).output_features
      assert all(f.vocabulary == offline_vocab for f in features.values())
  assert seqio.get_mixture_or_task('altup_squad').output_features[
      'inputs'].vocabulary == vocab.get_vocabulary('t5')
  gin.clear_config()


def test_features_and_metrics_follow_t5():
  task = seqio.get_mixture_or_task('altup_squad')
  assert not task.output_features['inputs'].required
  assert task.output_features['targets'].required
  from t5.evaluation import metrics  # pylint: disable=g-import-not-at-top
  from t5.data import postprocessors  # pylint: disable=g-import-not-at-top
  assert task.metric_fns == [metrics.squad]
  assert task._postprocess_fn is postprocessors.qa  # pylint: disable=protected-access
  trivia = seqio.get_mixture_or_task('altup_trivia_qa_closed_book')
  assert trivia.metric_fns == [metrics.trivia_qa]
  assert trivia._postprocess_fn is postprocessors.qa  # pylint: disable=protected-access
  assert task_helpers.task_tfds_name('altup_trivia_qa_closed_book') == (
      'trivia_qa/unfiltered.nocontext:1.1.0')
  for name, n_metrics in [('altup_glue_cola', 1), ('altup_glue_mrpc', 2),
                          ('altup_glue_stsb', 2), ('altup_super_glue_cb', 2),
                          ('altup_super_glue_multirc', 2),
                          ('altup_super_glue_record', 1),
                          ('altup_super_glue_wsc_simple_eval', 1),
                          ('altup_offline_sentiment', 1),
                          ('altup_glue_ax', 0),
                          ('altup_c4_span_corruption', 0)]:
    assert len(seqio.get_mixture_or_task(name).metric_fns) == n_metrics, name


def test_mixture_rates_are_t5s():
  from t5.data import glue_utils  # pylint: disable=g-import-not-at-top
  glue = seqio.get_mixture_or_task('altup_glue_proportional')
  rates = {t.name: glue.get_rate(t) for t in glue.tasks}
  assert rates['altup_glue_mnli'] == 392_702
  assert rates['altup_glue_sst2'] == 67_349
  assert 'altup_glue_wnli' not in rates  # learned via WSC/DPR, as in T5
  assert sorted(rates.values()) == sorted(
      glue_utils.get_glue_weight_mapping().values())
  sg = seqio.get_mixture_or_task('altup_super_glue_proportional')
  sg_rates = {t.name: sg.get_rate(t) for t in sg.tasks}
  assert sg_rates['altup_dpr_simple'] == 1_322
  assert sg_rates['altup_super_glue_wsc_simple_train'] == 259
  assert sg_rates['altup_super_glue_record'] == 138_854
  assert sorted(sg_rates.values()) == sorted(
      glue_utils.get_super_glue_weight_mapping().values())


def test_registration_is_idempotent():
  import importlib  # pylint: disable=g-import-not-at-top
  importlib.reload(benchmarks)
  importlib.reload(offline)
  assert tasks.registered_names() == EXPECTED
