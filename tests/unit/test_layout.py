# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tests/unit mirrors the tree it tests: plugins/<kind>/<name>.py is tested by
tests/unit/plugins/<kind>/test_<name>.py or test_<name>_<aspect>.py (the action plugins' files end
in _action: pytest imports test files by their base name, which must be unique), extensions/ by
tests/unit/extensions/, the roles' metadata by tests/unit/roles/. A plugin without a unit test file
is listed below with the tests that cover it instead."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os

import pytest

UNIT = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(UNIT))

# Plugins whose code needs a real server, real files or a whole play; their tests are there.
WITHOUT_UNIT_TESTS = {
    'doc_fragments/attributes.py': 'documentation only (ansible-test sanity validate-modules)',
    'doc_fragments/postgres.py': 'documentation only (ansible-test sanity validate-modules)',
    'module_utils/backup_verify.py': 'tests/integration/test_backup_verify.py',
    'modules/backup_verify.py': 'tests/integration/test_backup_verify.py',
    'modules/capacity_trend.py': 'documentation of the action plugin: action/test_capacity_trend_action.py',
    'modules/daily_checks_preflight.py': 'documentation of the action plugin: action/test_daily_checks_preflight_action.py',
    'modules/db_restore.py': 'tests/integration/test_db_restore.py',
    'modules/fleet_report.py': 'documentation of the action plugin: action/test_fleet_report_action.py',
    'modules/incident_evidence.py': 'tests/integration/test_incident_response.py',
    'modules/log_cleanup.py': 'tests/integration/test_maintenance.py',
    'modules/notify.py': 'documentation of the action plugin: action/test_notify_action.py',
    'modules/security_audit.py': 'tests/integration/test_maintenance.py',
}


def plugin_files():
    return sorted(os.path.relpath(p, os.path.join(ROOT, 'plugins'))
                  for p in glob.glob(os.path.join(ROOT, 'plugins', '*', '*.py'))
                  if os.path.basename(p) != '__init__.py')


def unit_test_files():
    return sorted(os.path.relpath(p, os.path.join(UNIT, 'plugins'))
                  for p in glob.glob(os.path.join(UNIT, 'plugins', '*', 'test_*.py')))


def mirrored_plugin(test, plugins):
    """The plugin a test file mirrors: the longest plugins/<kind>/<name>.py its name starts with."""
    kind, name = os.path.split(test)
    stem = name[len('test_'):-len('.py')]
    found = [p for p in plugins if os.path.dirname(p) == kind
             and (stem == os.path.basename(p)[:-3] or stem.startswith(os.path.basename(p)[:-3] + '_'))]
    return max(found, key=len) if found else None


def test_every_unit_test_file_mirrors_a_plugin():
    plugins = plugin_files()
    strays = [t for t in unit_test_files() if mirrored_plugin(t, plugins) is None]
    assert strays == [], 'tests/unit/plugins files named after no plugins/<kind>/<name>.py: %s' % strays


def test_every_plugin_has_a_unit_test_file_or_says_where_it_is_tested():
    plugins = plugin_files()
    covered = set(mirrored_plugin(t, plugins) for t in unit_test_files())
    missing = [p for p in plugins if p not in covered and p not in WITHOUT_UNIT_TESTS]
    assert missing == [], 'plugins without tests/unit/plugins/<kind>/test_<name>.py: %s' % missing


@pytest.mark.parametrize('plugin', sorted(WITHOUT_UNIT_TESTS))
def test_the_exceptions_are_current(plugin):
    assert os.path.isfile(os.path.join(ROOT, 'plugins', plugin)), '%s no longer exists' % plugin
    covered = set(mirrored_plugin(t, plugin_files()) for t in unit_test_files())
    assert plugin not in covered, '%s has a unit test file now: take it off WITHOUT_UNIT_TESTS' % plugin
    where = WITHOUT_UNIT_TESTS[plugin]
    if where.startswith('tests/'):
        assert os.path.isfile(os.path.join(ROOT, where)), where


def test_unit_test_file_names_are_unique():
    names = [os.path.basename(p) for p in glob.glob(os.path.join(UNIT, '**', 'test_*.py'), recursive=True)]
    assert sorted(set(n for n in names if names.count(n) > 1)) == []


def test_nothing_but_the_mirrored_trees_in_tests_unit():
    entries = sorted(e for e in os.listdir(UNIT) if e not in ('__pycache__', '.pytest_cache'))
    assert entries == ['extensions', 'plugins', 'requirements.txt', 'roles', 'test_layout.py']
