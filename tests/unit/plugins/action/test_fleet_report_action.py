# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet_report action: the registered results of every host into the report files, what it
returns for notify, and what it refuses (the report itself: plugin_utils/test_report.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

import pytest

from ansible.errors import AnsibleActionFail, AnsibleError

from ansible_collections.fleetops.runbook.plugins.action.fleet_report import ActionModule, _problem_results

pytestmark = pytest.mark.report

OK_RESULT = {'status': 'OK', 'summary': 'OK: 1 OK', 'changed': False, 'metrics': ['x 1'], 'perfdata': 'x=1',
             'checks': [{'name': 'cpu', 'target': None, 'value': 3.0, 'unit': 'percent', 'warning': '70',
                         'critical': '85', 'status': 'OK', 'message': 'cpu is 3%'}]}
CRIT_RESULT = {'status': 'CRITICAL', 'summary': 'CRITICAL: disk / is 97% (critical 95)', 'metrics': ['x 1'],
               'perfdata': 'disk=97%', 'filesystems': [{'mount': '/'}], 'invocation': {'module_args': {}},
               'checks': [{'name': 'disk', 'target': '/', 'value': 97.0, 'unit': 'percent', 'warning': '85',
                           'critical': '95', 'status': 'CRITICAL', 'message': 'disk / is 97% (critical 95)'}]}
SKIPPED = {'skipped': True, 'changed': False, 'skip_reason': 'Conditional result was False'}


def hostvars():
    return {'web01': {'__daily_checks_resource': OK_RESULT, '__daily_checks_pg': SKIPPED},
            'db01': {'__daily_checks_resource': OK_RESULT, '__daily_checks_pg': CRIT_RESULT},
            'app01': {'__daily_checks_resource': 'not a result'}}


def run(make_action, dest, **args):
    args = dict({'checks': ['resource', 'pg'], 'hosts': ['web01', 'db01'], 'dest': str(dest)}, **args)
    return make_action(ActionModule, args).run(task_vars={'hostvars': hostvars()})


def test_the_report_is_written_and_summed_up(make_action, tmp_path):
    result = run(make_action, tmp_path, started=time.time() - 30)
    assert result['changed'] is False and 'failed' not in result
    assert result['paths']['html'] == str(tmp_path / 'daily_checks.html')
    assert os.path.isfile(result['paths']['json']) and os.path.isfile(result['paths']['history'])
    assert result['status'] == 'CRITICAL' and result['hosts'] == {'db01': 'CRITICAL', 'web01': 'OK'}
    assert result['summaries'] == {'db01': 'pg: CRITICAL: disk / is 97% (critical 95)'}
    assert result['failing_hosts'] == []
    assert result['msg'] == 'fleet report written to %s' % result['paths']['html']
    with open(result['paths']['json']) as handle:
        assert [h['host'] for h in json.load(handle)['hosts']] == ['db01', 'web01']


def test_results_for_notify_hold_the_problem_hosts_without_bulk(make_action, tmp_path):
    result = run(make_action, tmp_path)
    assert list(result['results']) == ['db01']
    pg = result['results']['db01']['pg']
    assert pg['status'] == 'CRITICAL' and pg['checks'] == CRIT_RESULT['checks']
    assert not set(pg) & {'metrics', 'perfdata', 'filesystems', 'invocation'}


def test_fail_on_fails_with_the_hosts_and_the_report(make_action, tmp_path):
    result = run(make_action, tmp_path, fail_on='critical', keep_history=False)
    assert result['failed'] is True and result['failing_hosts'] == ['db01']
    assert result['msg'] == '1 host(s) at or above CRITICAL: db01 (report: %s)' % (tmp_path / 'daily_checks.html')
    assert 'history' not in result['paths'] and not os.path.exists(tmp_path / 'history')


def test_hosts_not_in_the_inventory_and_non_results_are_unknown(make_action, tmp_path):
    result = run(make_action, tmp_path, hosts=['app01', 'gone01'], checks=['resource'])
    assert result['hosts'] == {'app01': 'UNKNOWN', 'gone01': 'UNKNOWN'}
    # A host whose every cell is empty is still handed to notify, with its summary.
    assert set(result['results']) == {'app01', 'gone01'}


def test_problem_results_name_a_check_that_left_no_result():
    report = {'hosts': [
        {'host': 'db01', 'status': 'UNKNOWN', 'summary': 'pg: no result',
         'results': {'pg': {'applicable': True, 'summary': 'no result'}, 'resource': {'applicable': False}}},
        {'host': 'web01', 'status': 'OK', 'summary': 'OK', 'results': {}},
        {'host': 'app01', 'status': 'UNKNOWN', 'summary': 'unreachable', 'results': {}},
    ]}
    out = _problem_results(report, {'db01': {'pg': None, 'resource': SKIPPED}, 'app01': {}})
    assert out == {'db01': {'pg': {'failed': True, 'msg': 'no result'}},
                   'app01': {'daily_checks': {'failed': True, 'msg': 'unreachable'}}}


@pytest.mark.parametrize('args, error, message', [
    ({'name': '../x'}, AnsibleError, "name: '../x' may hold only letters, digits, '.', '_' and '-'"),
    ({'checks': ['pg', 'disk space']}, AnsibleError, "checks: 'disk space' is not a valid check name"),
    ({'started': time.time() + 3600}, AnsibleError, 'lies in the future'),
    ({'started': -1}, AnsibleError, 'started'),
    ({'fail_on': 'sometimes'}, AnsibleActionFail, 'fail_on'),
])
def test_bad_arguments_are_refused_before_anything_is_written(make_action, tmp_path, args, error, message):
    with pytest.raises(error) as failed:
        run(make_action, tmp_path / 'out', **args)
    assert message in str(failed.value)
    assert not os.path.exists(tmp_path / 'out')


def test_a_file_that_is_not_a_report_is_not_overwritten(make_action, tmp_path):
    (tmp_path / 'daily_checks.html').write_text('<p>someone else\'s page</p>')
    with pytest.raises(AnsibleError):
        run(make_action, tmp_path)
    assert (tmp_path / 'daily_checks.html').read_text() == '<p>someone else\'s page</p>'
    assert not os.path.exists(tmp_path / 'daily_checks.json')
