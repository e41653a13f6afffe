# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible_collections.fleetops.runbook.plugins.plugin_utils.report import (
    build_fleet_report,
    write_report,
)
from ansible_collections.fleetops.runbook.plugins.plugin_utils.trend import (
    TrendError,
    analyse,
    capacity_trend,
    least_squares,
    since_last_drop,
)

pytestmark = pytest.mark.capacity

DAY = 86400.0
NOW = 1795000000.0  # 2026-11-18T11:06:40Z, fixed so every test is exact


def resource(disk, inodes=5.0, critical='95', target='/'):
    checks = []
    if disk is not None:
        checks.append({'name': 'disk', 'target': target, 'value': disk, 'unit': 'percent',
                       'warning': '85', 'critical': critical, 'status': 'OK', 'message': 'x'})
    checks.append({'name': 'inodes', 'target': target, 'value': inodes, 'unit': 'percent',
                   'warning': '85', 'critical': '95', 'status': 'OK', 'message': 'x'})
    checks.append({'name': 'memory', 'target': None, 'value': 40.0, 'unit': 'percent',
                   'warning': '80', 'critical': '90', 'status': 'OK', 'message': 'x'})
    return {'status': 'OK', 'summary': 'OK', 'checks': checks}


def pg(size):
    return {'status': 'OK', 'summary': 'OK', 'checks': [
        {'name': 'database_size', 'target': 'shop', 'value': size, 'unit': 'bytes',
         'warning': None, 'critical': None, 'status': 'OK', 'message': 'x'}]}


def write_day(directory, days_ago, host_results, name='daily_checks'):
    """A real fleet report, started ``days_ago`` days before NOW, in directory/history."""
    started = NOW - days_ago * DAY
    report = build_fleet_report(name, ['resource', 'pg_health'], host_results, started, started + 5)
    return write_report(report, str(directory), name)['history']


@pytest.fixture
def history(tmp_path):
    return tmp_path / 'history'


def trend(tmp_path, **kwargs):
    kwargs.setdefault('now', NOW)
    return capacity_trend(str(tmp_path / 'history'), **kwargs)


def test_least_squares_exact():
    slope, intercept = least_squares([(0, 1.0), (1, 3.0), (2, 5.0)])
    assert slope == pytest.approx(2.0) and intercept == pytest.approx(1.0)
    slope, intercept = least_squares([(0, 1.0), (1, 2.0), (2, 6.0)])
    assert slope == pytest.approx(2.5) and intercept == pytest.approx(0.5)
    assert least_squares([(1, 4.0), (1, 6.0)]) == (0.0, 5.0)


def test_linear_growth_days_to_critical_and_projection(tmp_path):
    # 50, 52, ... 58 % over 4 days: +2 %/day; the critical threshold 95 is 37 % away: 18.5 days.
    for day, value in enumerate((50.0, 52.0, 54.0, 56.0, 58.0)):
        write_day(tmp_path, 4 - day, {'db1': {'resource': resource(value)}})
    result = trend(tmp_path)
    assert len(result['files_read']) == 5 and result['files_skipped'] == []
    host = result['hosts']['db1']
    series = dict(((s['name'], s['target']), s) for s in host['series'])
    disk = series[('disk', '/')]
    assert disk['growth_per_day'] == pytest.approx(2.0)
    assert disk['last_value'] == 58.0
    assert disk['projected'] == pytest.approx(58.0 + 2.0 * 90)
    assert (disk['limit'], disk['limit_source']) == (95.0, 'critical threshold')
    assert disk['days_to_limit'] == 18.5
    assert disk['span_days'] == 4.0 and disk['samples'] == 5 and disk['judged'] is True
    checks = dict(((c['name'], c['target']), c) for c in host['checks'])
    assert checks[('disk', '/')]['value'] == 18.5
    assert checks[('disk', '/')]['status'] == 'CRITICAL'
    assert checks[('disk', '/')]['unit'] == 'days'
    assert 'reaches 95.0% in 18.5 days' in checks[('disk', '/')]['message']
    # inodes flat at 5 %: not growing, OK, no days to the limit.
    assert series[('inodes', '/')]['growth_per_day'] == 0.0
    assert series[('inodes', '/')]['days_to_limit'] is None
    assert checks[('inodes', '/')]['status'] == 'OK'
    assert host['status'] == 'CRITICAL'
    assert host['summary'].startswith('CRITICAL: disk / at 58.0%')
    # memory is not followed unless asked for.
    assert ('memory', None) not in series


def test_thresholds_and_limit_options(tmp_path):
    for day, value in enumerate((10.0, 11.0, 12.0)):
        write_day(tmp_path, 2 - day, {'h': {'resource': resource(value, critical='@90:100')}})
    # A critical range that is not a plain upper bound: the limit is 100 %.
    disk = trend(tmp_path)['hosts']['h']['series'][0]
    assert (disk['limit'], disk['limit_source'], disk['days_to_limit']) == (100.0, 'full', 88.0)
    result = trend(tmp_path, metrics=[{'name': 'disk', 'limit': 50}],
                   thresholds={'disk': {'warning': '40:', 'critical': '10:'}})
    host = result['hosts']['h']
    assert host['series'][0]['days_to_limit'] == 38.0
    assert host['series'][0]['limit_source'] == 'option'
    assert host['checks'][0]['status'] == 'WARNING' and host['checks'][0]['warning'] == '40:'
    assert trend(tmp_path)['hosts']['h']['checks'][0]['status'] == 'WARNING'  # 88 days < 90


def test_over_the_limit_is_zero_days(tmp_path):
    for day, value in enumerate((96.0, 96.0, 97.0)):
        write_day(tmp_path, 2 - day, {'h': {'resource': resource(value)}})
    disk = trend(tmp_path)['hosts']['h']
    assert disk['series'][0]['days_to_limit'] == 0.0
    assert disk['checks'][0]['status'] == 'CRITICAL'
    assert 'at or above the limit 95.0%' in disk['checks'][0]['message']


def test_bytes_without_limit_reported_not_judged_and_with_limit(tmp_path):
    gib = 1 << 30
    for day in range(4):
        write_day(tmp_path, 3 - day, {'db': {'pg_health': pg(10 * gib + day * gib)}})
    host = trend(tmp_path)['hosts']['db']
    size = host['series'][0]
    assert (size['name'], size['target'], size['unit']) == ('database_size', 'shop', 'bytes')
    assert size['growth_per_day'] == pytest.approx(gib)
    assert size['judged'] is False and size['reason'] == 'no limit for bytes'
    assert host['checks'][0]['status'] == 'OK' and host['checks'][0]['value'] is None
    assert 'not judged' in host['checks'][0]['message'] and '13.0 GiB' in host['checks'][0]['message']
    host = trend(tmp_path, metrics=[{'name': 'database_size', 'limit': 20 * gib}])['hosts']['db']
    assert host['series'][0]['days_to_limit'] == 7.0
    assert host['checks'][0]['status'] == 'CRITICAL'


def test_drop_restarts_the_series(tmp_path):
    # Growth of 5 %/day, a cleanup from 80 to 40, then 1 %/day.
    values = (65.0, 70.0, 75.0, 80.0, 40.0, 41.0, 42.0)
    for day, value in enumerate(values):
        write_day(tmp_path, len(values) - 1 - day, {'h': {'resource': resource(value)}})
    disk = trend(tmp_path)['hosts']['h']['series'][0]
    assert disk['samples'] == 7 and disk['samples_used'] == 3
    assert disk['growth_per_day'] == pytest.approx(1.0)
    assert disk['days_to_limit'] == 53.0
    assert disk['dropped_at'] == disk['first_at']
    # Without drop handling the fit over all samples would be meaningless; a small dip is no drop.
    samples = [(i * DAY, v, None) for i, v in enumerate((50.0, 49.0, 51.0))]
    assert since_last_drop(samples, 0.1) == (samples, None)


def test_too_few_samples_and_short_span_not_judged(tmp_path):
    write_day(tmp_path, 1, {'h': {'resource': resource(50.0)}})
    write_day(tmp_path, 0, {'h': {'resource': resource(60.0)}})
    host = trend(tmp_path)['hosts']['h']
    disk = host['series'][0]
    assert disk['judged'] is False and disk['reason'] == '2 sample(s), at least 3 needed'
    assert disk['growth_per_day'] is None and disk['last_value'] == 60.0
    assert host['status'] == 'OK'
    info = analyse([(0.0, 1.0, None), (3600.0, 2.0, None), (7200.0, 3.0, None)], 'percent', None,
                   90, 3, 0.1)
    assert info['judged'] is False and 'less than 1' in info['reason']
    # After a drop too few samples remain.
    info = analyse([(0.0, 50.0, '95'), (DAY, 60.0, '95'), (2 * DAY, 70.0, '95'), (3 * DAY, 10.0, '95')],
                   'percent', None, 90, 3, 0.1)
    assert info['reason'] == '1 sample(s) since the drop, at least 3 needed'


def test_hosts_missing_from_some_reports(tmp_path):
    write_day(tmp_path, 3, {'a': {'resource': resource(10.0)}, 'b': {'resource': resource(20.0)}})
    write_day(tmp_path, 2, {'a': {'resource': resource(11.0)}})  # b unreachable that day
    write_day(tmp_path, 1, {'a': {'resource': resource(12.0)}, 'b': {'resource': resource(22.0)}})
    write_day(tmp_path, 0, {'a': {'resource': None}, 'b': {'resource': resource(23.0)}})  # a skipped
    result = trend(tmp_path, hosts=['a', 'b', 'c'])
    a = result['hosts']['a']['series'][0]
    b = result['hosts']['b']['series'][0]
    assert (a['samples'], a['growth_per_day'], a['last_value']) == (3, 1.0, 12.0)
    assert b['samples'] == 3 and b['growth_per_day'] == pytest.approx(1.0)
    assert b['last_value'] == 23.0
    assert result['hosts']['c']['status'] == 'UNKNOWN'
    assert 'no samples of this host' in result['hosts']['c']['summary']
    assert sorted(trend(tmp_path)['hosts']) == ['a', 'b']


def test_malformed_and_foreign_files_are_skipped_and_named(tmp_path, history):
    for day, value in enumerate((10.0, 11.0, 12.0)):
        write_day(tmp_path, 2 - day, {'h': {'resource': resource(value)}})
    (history / 'daily_checks-20991231T000000Z.json').write_text('{"truncated": ')
    (history / 'daily_checks-broken.json').write_text('[1, 2]')
    weekly = json.loads(open(write_day(tmp_path, 0, {'h': {}}, name='weekly')).read())
    (history / 'daily_checks-weekly.json').write_text(json.dumps(weekly))
    future = dict(weekly, report='daily_checks', schema_version=7)
    (history / 'daily_checks-v7.json').write_text(json.dumps(future))
    bad_time = dict(weekly, report='daily_checks', started_at='yesterday')
    (history / 'daily_checks-time.json').write_text(json.dumps(bad_time))
    (history / 'daily_checks-binary.json').write_bytes(b'\xff\xfe\x00')
    result = trend(tmp_path)
    reasons = dict((os.path.basename(s['path']), s['reason']) for s in result['files_skipped'])
    assert reasons['daily_checks-20991231T000000Z.json'].startswith('not valid JSON')
    assert reasons['daily_checks-broken.json'] == 'not a fleet report (no JSON object)'
    assert reasons['daily_checks-weekly.json'] == "a report of 'weekly', not 'daily_checks'"
    assert reasons['daily_checks-v7.json'] == 'schema version 7, expected 1'
    assert 'not a UTC time stamp' in reasons['daily_checks-time.json']
    assert reasons['daily_checks-binary.json'].startswith('not valid JSON')
    assert len(result['files_read']) == 3
    assert result['hosts']['h']['series'][0]['growth_per_day'] == pytest.approx(1.0)


def test_window_by_started_at_not_mtime(tmp_path):
    paths = [write_day(tmp_path, days, {'h': {'resource': resource(value)}})
             for days, value in ((40, 90.0), (31, 80.0), (20, 10.0), (10, 20.0), (0, 30.0))]
    for path in paths:
        os.utime(path, (NOW, NOW))  # copied files: every mtime is recent
    result = trend(tmp_path)
    assert len(result['files_read']) == 3
    disk = result['hosts']['h']['series'][0]
    assert disk['samples'] == 3 and disk['growth_per_day'] == pytest.approx(1.0)
    assert disk['first_at'] == '2026-10-29T11:06:40Z'  # NOW - 20 days
    assert len(trend(tmp_path, window_days=35)['files_read']) == 4
    # A renamed file (no stamp in its name) is judged by started_at alone.
    os.rename(paths[0], str(tmp_path / 'history' / 'daily_checks-old.json'))
    assert len(trend(tmp_path)['files_read']) == 3


def test_memory_and_other_reports_by_option(tmp_path):
    for day in range(3):
        write_day(tmp_path, 2 - day, {'h': {'resource': resource(10.0)}}, name='nightly')
    result = trend(tmp_path, report='nightly', metrics=[{'name': 'memory'}], min_samples=2)
    memory = result['hosts']['h']['series'][0]
    assert (memory['name'], memory['target'], memory['limit']) == ('memory', None, 90.0)
    assert trend(tmp_path)['files_read'] == []


@pytest.mark.parametrize('kwargs, message', [
    ({'window_days': 0}, 'window: 0 is not a positive number of days'),
    ({'min_samples': 1}, 'min_samples: 1 is too small'),
    ({'drop_ratio': 1.5}, 'drop_ratio: 1.5 is not a fraction'),
    ({'horizon_days': -1}, 'horizon: -1'),
    ({'metrics': [{'name': 'load'}]}, "metrics[0].column: required for 'load'"),
    ({'metrics': [{'name': 'disk', 'limit': -3}]}, 'metrics[0].limit: -3 is not a positive number'),
    ({'metrics': [{'name': 'disk'}, {'name': 'disk'}]}, "metrics[1].name: 'disk' is listed twice"),
    ({'metrics': []}, 'metrics: name at least one metric'),
    ({'thresholds': {'disk': {'warning': 'soon'}}}, "thresholds.disk.warning: 'soon' is not a valid range"),
    ({'thresholds': {'cpu': {}}}, "thresholds: unknown check 'cpu'"),
])
def test_bad_options(tmp_path, history, kwargs, message):
    history.mkdir()
    with pytest.raises(TrendError) as err:
        trend(tmp_path, **kwargs)
    assert message in str(err.value)


def test_missing_directory_is_an_empty_history(tmp_path):
    result = trend(tmp_path, hosts=['h'])
    assert result['files_read'] == [] and result['hosts']['h']['status'] == 'UNKNOWN'
    assert result['hosts']['h']['checks'][0]['message'] == 'no daily_checks report in %s within 30 days' % (
        tmp_path / 'history')
    (tmp_path / 'history').write_text('a file')
    with pytest.raises(TrendError, match='history_dir: .* is not a directory'):
        trend(tmp_path)


def test_runs_of_the_same_second_are_all_samples_and_old_names_are_not_opened(tmp_path, history):
    write_day(tmp_path, 2, {'h': {'resource': resource(10.0)}})
    first = write_day(tmp_path, 1, {'h': {'resource': resource(11.0)}})
    second = write_day(tmp_path, 1, {'h': {'resource': resource(11.0)}})
    write_day(tmp_path, 0, {'h': {'resource': resource(12.0)}})
    assert os.path.basename(second) == os.path.basename(first)[:-len('.json')] + '_01.json'
    # Named as finished long before the window: never opened, so never reported as unreadable.
    (history / 'daily_checks-20000101T000000Z_01.json').write_text('not json')
    result = trend(tmp_path)
    assert len(result['files_read']) == 4 and result['files_skipped'] == []
    assert result['hosts']['h']['series'][0]['samples'] == 4
