"""Shared pytest setup.

Tests run on a CPU host with several virtual devices so that the integration
tier exercises T5X's partitioner like a small pod slice. The flag must be set
before jax is imported, hence here.
"""

import gc
import os
import sys

import pytest

_N = os.environ.get('ALTUP_TEST_DEVICES', '2')
if 'xla_force_host_platform_device_count' not in os.environ.get('XLA_FLAGS', ''):
  os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                             f' --xla_force_host_platform_device_count={_N}')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
  sys.path.insert(0, REPO)


@pytest.fixture(autouse=True, scope='module')
def release_compiled_programs():
  """Frees the XLA programs a test module compiled, when the module ends.

  README's test command runs both tiers in one process, and jax keeps every
  program it compiles (the integration tier builds hundreds of models from
  gins), so without this the process grows by GiBs over the tier.
  """
  yield
  jax = sys.modules.get('jax')
  if jax is not None:
    jax.clear_caches()
  gc.collect()
