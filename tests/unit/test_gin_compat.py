"""gin-config include resolution through installed packages (gin_compat)."""

import os
import re
import sys

import gin
import pytest

from altup_flaxformer import gin_compat
from launch.compose import REPO



@pytest.fixture
def namespace_package(tmp_path, monkeypatch):
  """pkg/__init__.py with a gin file in a folder that has no __init__.py."""
  pkg = tmp_path / 'altup_nspkg_test'
  (pkg / 'configs' / 'models').mkdir(parents=True)
  (pkg / '__init__.py').write_text('')
  (pkg / 'configs' / 'models' / 'size.gin').write_text('SIZE = 3\n')
  (pkg / 'configs' / 'top.gin').write_text(
      "include 'altup_nspkg_test/configs/models/size.gin'\nTOP = %SIZE\n")
  monkeypatch.syspath_prepend(str(tmp_path))
  monkeypatch.chdir(tmp_path.parent)  # the checkout is not in the cwd
  yield pkg
  sys.modules.pop('altup_nspkg_test', None)
  gin.clear_config()


def test_package_file_resolves_namespace_folders(namespace_package):
  found = gin_compat.package_file('altup_nspkg_test/configs/models/size.gin')
  assert found == str(namespace_package / 'configs' / 'models' / 'size.gin')
  assert gin_compat.package_file('altup_nspkg_test/configs/none.gin') is None
  assert gin_compat.package_file('no_such_package_xyz/a.gin') is None
  assert gin_compat.package_file('/abs/a.gin') is None


def test_include_through_installed_package_parses(namespace_package):
  gin_compat.install()
  gin_compat.install()  # idempotent
  gin.clear_config()
  gin.parse_config_file('altup_nspkg_test/configs/top.gin')
  assert gin.query_parameter('%SIZE') == 3


def test_missing_file_is_a_plain_gin_error(namespace_package):
  gin_compat.install()
  with pytest.raises(IOError, match='Unable to open file'):
    gin.parse_config_file('altup_nspkg_test/configs/models/missing.gin')


def test_missing_t5x_names_the_install_that_keeps_flaxformers_gins():
  from altup_flaxformer import deps  # pylint: disable=g-import-not-at-top
  with pytest.raises(ImportError,
                     match=r'pip install -r requirements-t5x\.txt'):
    deps.require('t5x_not_installed_anywhere')
  assert "'.[t5x]'" not in deps.INSTALL_HINT
  # The command the errors name is README's install command, whose files exist.
  with open(os.path.join(REPO, 'README.md')) as f:
    assert deps.INSTALL_COMMAND in f.read()
  for name in re.findall(r'-r (\S+)', deps.INSTALL_COMMAND):
    assert os.path.exists(os.path.join(REPO, name)), name
