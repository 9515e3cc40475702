"""benchmarks.soak: what it trains and what it reads from a checkpoint."""

import numpy as np

from benchmarks import soak
from launch import compose
from launch import jobs


def test_every_variant_trains_in_bf16_at_the_study_learning_rate():
  found = jobs.expand(soak.soak_sweep(1000, 8), '/tmp/soak')
  assert [j.model for j in found] == [
      'tiny_baseline_k1', 'tiny_altup_k2', 'tiny_altup_k4',
      'tiny_recycled_k2', 'tiny_routed_k2', 'tiny_sequence_k4',
      'tiny_moe_altup_k2']
  for job in found:
    exp = compose.validate(job.experiment, local=True)
    bindings = compose.gin_bindings(exp)
    assert exp.run == 'pretrain' and exp.train_steps == 1000
    assert bindings['ACTIVATION_DTYPE'] == "'bfloat16'"
    assert bindings[
        'utils.create_learning_rate_scheduler.base_learning_rate'] == '0.03'
    assert bindings['utils.SaveCheckpointConfig.period'] == '1000'


def test_coefficient_stats_finds_blowups_and_router_bounds():
  k = 2
  params = {
      'encoder': {
          'layers_0': {'altup_predictor': np.array([[1.5, -0.2], [0., 1.]]),
                       'altup_corrector': np.array([0.9, -1.25]),
                       'mlp': {'kernel': np.array([[1., np.nan], [np.inf, 0.]])},
                       # [K, K*K]: router output k moves p[i, j] (col K*i+j).
                       'altup_routed_predictor': np.array(
                           [[0.1, -0.3, 0., 0.], [0.2, 0.4, 0., 0.]]),
                       'altup_routed_corrector': np.zeros((k, k))}},
      'decoder': {'layers_0': {'altup_sequence_coefficients': np.array(
          [1., -0.5, 2.])}},
  }
  stats = soak.coefficient_stats(params)
  assert stats['non-finite params'] == 2
  assert stats['max |p|'] == 1.5 and stats['max |g|'] == 1.25
  assert np.isclose(stats['routed max |dp|'], 0.7)  # |-0.3| + |0.4|
  assert stats['routed max |dg|'] == 0.0
  assert stats['sequence max |coef|'] == 2.0


def test_a_baseline_has_no_coefficients():
  stats = soak.coefficient_stats({'encoder': {'layers_0': {
      'attention': {'kernel': np.ones((2, 2))}}}})
  assert stats == {'non-finite params': 0, 'max |p|': None, 'max |g|': None,
                   'routed max |dp|': None, 'routed max |dg|': None,
                   'sequence max |coef|': None}
