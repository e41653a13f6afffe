# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""capacity_trend over real report history: written by the report code, and by daily_checks.yml."""

from __future__ import annotations

import json
import time

import pytest

# The synthetic history is written by the collection's own report code, so the files are real reports.
from ansible_collections.fleetops.runbook.plugins.plugin_utils.report import (
    build_fleet_report,
    write_report,
)

from .emergency_helpers import failures, write_inventory
from .harness import REPO

pytestmark = pytest.mark.capacity

DAY = 86400.0


def disk(value, target='/'):
    return {'status': 'OK', 'summary': 'OK', 'checks': [
        {'name': 'disk', 'target': target, 'value': value, 'unit': 'percent', 'warning': '85',
         'critical': '95', 'status': 'OK', 'message': 'disk %s is %s%%' % (target, value)},
        {'name': 'inodes', 'target': target, 'value': 4.0, 'unit': 'percent', 'warning': '85',
         'critical': '95', 'status': 'OK', 'message': 'inodes %s is 4%%' % target}]}


def synthetic_history(reports, values):
    """One daily report a day, the newest an hour ago, for localhost."""
    now = time.time()
    for index, value in enumerate(values):
        started = now - 3600 - (len(values) - 1 - index) * DAY
        report = build_fleet_report('daily_checks', ['resource'], {'localhost': {'resource': disk(value)}},
                                    started, started + 4)
        write_report(report, str(reports), 'daily_checks')


def monthly(ansible, tmp_path, **extra):
    inventory = write_inventory(tmp_path / 'inventory.yml', {})
    variables = {'maintenance_report_dir': str(tmp_path / 'reports')}
    variables.update(extra)
    return ansible.playbook(REPO / 'playbooks' / 'monthly_maintenance.yml', inventory=inventory,
                            extra_vars=variables, args=('-e', 'ansible_become=false'))


def test_monthly_report_has_the_capacity_column(ansible, tmp_path):
    reports = tmp_path / 'reports'
    # +1.5 %/day from 70 %: the critical threshold 95 is 17.5 % away, 11.7 days.
    synthetic_history(reports, [70.0 - 1.5 * n for n in range(6, -1, -1)] + [71.5])
    (reports / 'history' / 'daily_checks-20261101T000000Z.json').write_text('{"cut off')
    result = monthly(ansible, tmp_path)
    assert result.rc == 0, failures(result)
    trend = result.task('Follow the capacity trend of the daily reports')
    assert len(trend['files_read']) == 8
    assert [s['reason'] for s in trend['files_skipped']] == [
        'not valid JSON: Unterminated string starting at: line 1 column 2 (char 1)']
    report = json.loads((reports / 'monthly_maintenance.json').read_text())
    assert report['checks'] == ['certificates', 'upgrades', 'capacity']
    cell = report['hosts'][0]['results']['capacity']
    assert cell['status'] == 'CRITICAL'
    checks = dict(((c['name'], c['target']), c) for c in cell['checks'])
    assert checks[('disk', '/')]['value'] == 15.7  # (95 - 71.5) / 1.5
    assert checks[('disk', '/')]['critical'] == '30:'
    assert checks[('inodes', '/')]['status'] == 'OK'
    assert 'disk / at 71.5%, +1.5% per day, reaches 95.0% in 15.7 days' in cell['summary']
    page = (reports / 'monthly_maintenance.html').read_text()
    assert '<th title="capacity">capacity</th>' in page
    assert 'reaches 95.0% in 15.7 days' in page

    # Thresholds from the role variables: 15.7 days is only a warning below 20.
    result = monthly(ansible, tmp_path, maintenance_capacity_thresholds={
        'disk': {'warning': '20:', 'critical': '10:'}})
    assert result.rc == 0, failures(result)
    cell = json.loads((reports / 'monthly_maintenance.json').read_text())['hosts'][0]['results']['capacity']
    assert cell['status'] == 'WARNING'


def test_monthly_without_history_and_switched_off(ansible, tmp_path):
    result = monthly(ansible, tmp_path)
    assert result.rc == 0, failures(result)
    cell = json.loads((tmp_path / 'reports' / 'monthly_maintenance.json').read_text())[
        'hosts'][0]['results']['capacity']
    assert cell['status'] == 'UNKNOWN'
    assert 'no daily_checks report in %s within 30 days' % (tmp_path / 'reports' / 'history') in cell['summary']

    # A host missing from the reports of the window.
    synthetic_history(tmp_path / 'reports', [10.0, 11.0, 12.0])
    history = tmp_path / 'reports' / 'history'
    for path in history.iterdir():
        path.write_text(path.read_text().replace('"localhost"', '"db7"'))
    result = monthly(ansible, tmp_path)
    assert result.rc == 0, failures(result)
    cell = json.loads((tmp_path / 'reports' / 'monthly_maintenance.json').read_text())[
        'hosts'][0]['results']['capacity']
    assert cell['status'] == 'UNKNOWN' and 'no samples of this host in the window' in cell['summary']

    result = monthly(ansible, tmp_path, maintenance_capacity_enabled=False)
    assert result.rc == 0, failures(result)
    cell = json.loads((tmp_path / 'reports' / 'monthly_maintenance.json').read_text())[
        'hosts'][0]['results']['capacity']
    assert cell['applicable'] is False and cell['status'] is None


def test_daily_checks_history_end_to_end(ansible, tmp_path):
    inventory = write_inventory(tmp_path / 'inventory.yml', {})
    reports = tmp_path / 'reports'
    for _run in range(3):
        result = ansible.playbook(REPO / 'playbooks' / 'daily_checks.yml', inventory=inventory,
                                  extra_vars={'daily_checks_report_dir': str(reports),
                                              'daily_checks_enabled': ['resource']})
        # Runs may finish within the same second: each keeps its own dated copy.
        assert result.rc == 0, failures(result)
    last = json.loads((reports / 'daily_checks.json').read_text())
    last_disk = [c for c in last['hosts'][0]['results']['resource']['checks']
                 if c['name'] == 'disk' and c['target'] == '/'][0]['value']
    trend = ansible.module('fleetops.runbook.capacity_trend', {
        'history_dir': str(reports / 'history'), 'min_samples': 2, 'metrics': [{'name': 'disk'}]})
    assert len(trend['files_read']) == 3 and trend['files_skipped'] == []
    host = trend['hosts']['localhost']
    root = [s for s in host['series'] if s['target'] == '/'][0]
    assert root['last_value'] == last_disk
    assert root['samples'] == 3 and root['unit'] == 'percent'
    # Three runs within a minute span less than a day: reported, not judged.
    assert root['judged'] is False and 'less than 1' in root['reason']
    assert host['status'] == 'OK'


def test_bad_input_names_the_option(ansible, tmp_path):
    history = tmp_path / 'history'
    history.mkdir()
    cases = [
        ({'window': 'soon'}, 'window'),
        ({'thresholds': {'disk': {'warning': 'soon'}}}, "thresholds.disk.warning: 'soon' is not a valid range"),
        ({'metrics': [{'name': 'load'}]}, "metrics[0].column: required for 'load'"),
        ({'metrics': [{'name': 'disk', 'size': 3}]}, 'size'),
        ({'min_samples': 1}, 'min_samples: 1 is too small'),
        ({'report': '../etc/passwd'}, "report: '../etc/passwd' may hold only"),
    ]
    tasks = []
    for index, (args, _message) in enumerate(cases):
        tasks.append({'name': 'case %d' % index, 'fleetops.runbook.capacity_trend': dict(
            {'history_dir': str(history)}, **args), 'ignore_errors': True})
    tasks.append({'name': 'relative', 'fleetops.runbook.capacity_trend': {
        'history_dir': 'galaxy.yml', 'hosts': ['localhost']}, 'ignore_errors': True})
    result = ansible.tasks(tasks)
    for index, (_args, message) in enumerate(cases):
        task = result.task('case %d' % index)
        assert task['failed'] is True and message in task['msg'], task
        assert 'Traceback' not in json.dumps(task)
    task = result.task('relative')
    # A relative history_dir is taken from the current directory, like fleet_report's dest.
    assert task['msg'] == 'history_dir: %s is not a directory' % (REPO / 'galaxy.yml')

    result = monthly(ansible, tmp_path, maintenance_capacity_window='a month')
    assert result.rc != 0
    assert 'maintenance_capacity_window' in result.stdout
    assert not (tmp_path / 'reports').exists()
