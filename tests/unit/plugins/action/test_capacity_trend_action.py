# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The capacity_trend action over real report files (the trend itself: plugin_utils/test_trend.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

import pytest

from ansible.errors import AnsibleActionFail

from ansible_collections.fleetops.runbook.plugins.action.capacity_trend import ActionModule
from ansible_collections.fleetops.runbook.plugins.plugin_utils.report import build_fleet_report, write_report

pytestmark = pytest.mark.capacity

DAY = 86400.0


def disk(percent):
    return {'status': 'OK', 'summary': 'OK', 'checks': [
        {'name': 'disk', 'target': '/', 'value': percent, 'unit': 'percent', 'warning': '85',
         'critical': '95', 'status': 'OK', 'message': 'x'}]}


def write_days(directory, values):
    # Dated before this run, whenever it happens: the window is counted back from now.
    now = time.time()
    for days_ago, percent in values:
        started = now - days_ago * DAY
        report = build_fleet_report('daily_checks', ['resource'], {'web01': {'resource': disk(percent)}},
                                    started, started + 5)
        write_report(report, str(directory), 'daily_checks')


def test_a_growing_disk_is_projected(make_action, tmp_path):
    write_days(tmp_path, [(3, 80.0), (2, 82.0), (1, 84.0)])
    result = make_action(ActionModule, {'history_dir': str(tmp_path / 'history')}).run(task_vars={})
    assert result['changed'] is False and 'failed' not in result
    assert len(result['files_read']) == 3 and result['files_skipped'] == []
    assert list(result['hosts']) == ['web01']
    assert result['msg'] == 'capacity trend of 1 host(s) from 3 report(s)'
    assert result['history_dir'] == str(tmp_path / 'history')


def test_no_history_makes_named_hosts_unknown_and_fail_on_says_who(make_action, tmp_path):
    action = make_action(ActionModule, {'history_dir': str(tmp_path / 'none'), 'hosts': ['db01', 'web01'],
                                        'fail_on': 'unknown'})
    result = action.run(task_vars={})
    assert result['status'] == 'UNKNOWN' and result['failed'] is True
    assert result['failing_hosts'] == ['db01', 'web01']
    assert result['msg'] == '2 host(s) at or above UNKNOWN: db01, web01'


def test_no_host_at_all_is_unknown_not_ok(make_action, tmp_path):
    result = make_action(ActionModule, {'history_dir': str(tmp_path)}).run(task_vars={})
    assert result['status'] == 'UNKNOWN' and result['hosts'] == {}
    assert result['msg'] == 'capacity trend of 0 host(s) from 0 report(s)'


@pytest.mark.parametrize('args, message', [
    ({'report': '../etc/passwd'}, "report: '../etc/passwd' may hold only letters, digits, '.', '_' and '-'"),
    ({'window': 0}, 'window: 0.0 is not a positive number of days'),
    ({'min_samples': 1}, 'min_samples: 1 is too small'),
])
def test_bad_arguments_fail_by_name(make_action, tmp_path, args, message):
    result = make_action(ActionModule, dict({'history_dir': str(tmp_path)}, **args)).run(task_vars={})
    assert result['failed'] is True and result['msg'].startswith(message)


def test_a_file_as_history_dir_is_refused(make_action, tmp_path):
    path = tmp_path / 'file'
    path.write_text('x')
    result = make_action(ActionModule, {'history_dir': str(path)}).run(task_vars={})
    assert result['failed'] is True and result['msg'] == 'history_dir: %s is not a directory' % path


def test_wrong_types_are_refused_before_anything_is_read(make_action, tmp_path):
    with pytest.raises(AnsibleActionFail, match='window'):
        make_action(ActionModule, {'history_dir': str(tmp_path), 'window': 'a month'}).run(task_vars={})
