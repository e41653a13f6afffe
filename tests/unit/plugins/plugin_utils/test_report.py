# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import jsonschema
import pytest

from ansible_collections.fleetops.runbook.plugins.module_utils.regular_file import FileRefused
from ansible_collections.fleetops.runbook.plugins.plugin_utils.report import (
    build_fleet_report,
    cell_from_result,
    render_html,
    write_report,
)

pytestmark = pytest.mark.report

SCHEMA = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'docs', 'fleet_report.schema.json')

OK_RESULT = {'status': 'OK', 'summary': 'OK: 5 OK', 'changed': False,
             'checks': [{'name': 'cpu', 'target': None, 'value': 3.0, 'unit': 'percent',
                         'warning': '70', 'critical': '85', 'status': 'OK', 'message': 'cpu is 3%'}]}
CRIT_RESULT = {'status': 'CRITICAL', 'summary': 'CRITICAL: disk / is 97% (critical 95)', 'failed': False,
               'checks': [{'name': 'disk', 'target': '/', 'value': 97.0, 'unit': 'percent',
                           'warning': '85', 'critical': '95', 'status': 'CRITICAL',
                           'message': 'disk / is 97% (critical 95)', 'labels': {'fstype': 'ext4'}}]}
WARN_RESULT = {'status': 'WARNING', 'summary': 'WARNING: x', 'checks': []}
UNREACHABLE = {'unreachable': True, 'msg': 'Failed to connect to the host via ssh: timed out', 'changed': False}
MODULE_ERROR = {'failed': True, 'msg': "thresholds.cpu.warning: 'x' is not a valid range"}
SKIPPED = {'skipped': True, 'changed': False, 'skip_reason': 'Conditional result was False'}


def fleet():
    return {
        'web01': {'resource': OK_RESULT, 'pg': SKIPPED},
        'db01': {'resource': WARN_RESULT, 'pg': CRIT_RESULT},
        'db02': {'resource': OK_RESULT, 'pg': MODULE_ERROR},
        'app01': {'resource': UNREACHABLE, 'pg': None},
        'cache01': {},
    }


def test_cells():
    assert cell_from_result(None)['status'] is None
    assert cell_from_result(SKIPPED) == {'status': None, 'applicable': False, 'unreachable': False,
                                         'summary': 'skipped: Conditional result was False'}
    cell = cell_from_result(UNREACHABLE)
    assert (cell['status'], cell['unreachable']) == ('UNKNOWN', True)
    assert 'timed out' in cell['summary']
    cell = cell_from_result(MODULE_ERROR)
    assert cell['status'] == 'UNKNOWN' and 'thresholds.cpu.warning' in cell['summary']
    assert cell_from_result(CRIT_RESULT)['checks'][0]['value'] == 97.0


def test_report_order_counts_and_failing():
    report = build_fleet_report('daily_checks', ['resource', 'pg'], fleet(), 1000.0, 1012.5, 'critical')
    # People's order: CRITICAL first, then what could not be checked.
    assert [h['host'] for h in report['hosts']] == ['db01', 'app01', 'cache01', 'db02', 'web01']
    assert [h['status'] for h in report['hosts']] == ['CRITICAL', 'UNKNOWN', 'UNKNOWN', 'UNKNOWN', 'OK']
    assert report['counts'] == {'OK': 1, 'WARNING': 0, 'CRITICAL': 1, 'UNKNOWN': 3}
    # The exit-code worst stays where fail_on and machines read it; the headline is for people.
    assert report['status'] == 'UNKNOWN'
    assert report['headline'] == {'status': 'CRITICAL', 'text': '1 critical, 3 unknown of 5 hosts'}
    assert report['failing_hosts'] == ['db01', 'app01', 'cache01', 'db02']
    assert report['duration_seconds'] == 12.5
    assert report['started_at'] == '1970-01-01T00:16:40Z'
    hosts = dict((h['host'], h) for h in report['hosts'])
    assert hosts['app01']['reachable'] is False
    assert hosts['web01']['summary'] == 'OK: all checks passed'
    assert hosts['app01']['summary'] == 'unreachable: Failed to connect to the host via ssh: timed out'
    assert hosts['db01']['summary'] == 'pg: CRITICAL: disk / is 97% (critical 95); resource: WARNING: x'
    assert hosts['web01']['results']['pg']['applicable'] is False


def test_fail_on_levels():
    assert build_fleet_report('r', ['resource'], fleet(), 0, 1, 'never')['failing_hosts'] == []
    warn = build_fleet_report('r', ['resource', 'pg'], fleet(), 0, 1, 'warning')['failing_hosts']
    assert 'db01' in warn and 'web01' not in warn
    unknown = build_fleet_report('r', ['resource', 'pg'], fleet(), 0, 1, 'unknown')['failing_hosts']
    assert 'db01' not in unknown and 'app01' in unknown


def test_report_matches_schema_and_files(tmp_path):
    report = build_fleet_report('daily_checks', ['resource', 'pg'], fleet(), 1000.0, 1003.0)
    with open(SCHEMA) as handle:
        jsonschema.validate(report, json.load(handle))
    paths = write_report(report, str(tmp_path / 'out'), 'daily_checks')
    with open(paths['json']) as handle:
        assert json.load(handle) == json.loads(json.dumps(report))
    assert os.path.exists(paths['history'])
    page = open(paths['html']).read()
    assert page.startswith('<!DOCTYPE html>') and page.rstrip().endswith('</html>')
    # Self-contained: nothing is fetched, no URL at all.
    assert 'http' not in page and ' src=' not in page and '<link' not in page and '@import' not in page


def test_html_escapes_everything():
    hostile = {'<script>alert(1)</script>': {'resource': {
        'status': 'WARNING', 'summary': '<img src=x onerror=alert(1)>', 'checks': [
            {'name': '<b>', 'target': '"', 'value': '<i>', 'unit': '', 'warning': None,
             'critical': None, 'status': 'WARNING', 'message': '</td>'}]}}}
    page = render_html(build_fleet_report('r', ['resource'], hostile, 0, 1))
    assert page.count('<script') == 2 and '<script>alert' not in page
    assert '<img' not in page
    assert '&lt;script&gt;alert(1)&lt;/script&gt;' in page
    # The checks a cell unfolds to are JSON inside a script element: no '<' can end it early.
    data = page.split('<script type="application/json" id="d">', 1)[1].split('</script>', 1)[0]
    assert '<' not in data
    assert json.loads(data)['h'][0][0][0] == ['W', '<b> "', '<i>', '-', '-', '</td>']


def test_html_rows_worst_first():
    page = render_html(build_fleet_report('r', ['resource', 'pg'], fleet(), 0, 1))
    assert page.index('class="h">db01<') < page.index('class="h">app01<') < page.index('class="h">web01<')
    assert page.count('<tr id="h') == 5
    # Every applicable or not cell unfolds: one entry per host and column in the page's data.
    data = json.loads(page.split('id="d">', 1)[1].split('</script>', 1)[0])
    assert data['c'] == ['resource', 'pg'] and [len(h) for h in data['h']] == [2] * 5
    assert data['h'][0][1] == [['C', 'disk /', '97.0%', '85', '95', 'disk / is 97% (critical 95)']]


def test_a_host_missing_from_the_inventory_is_unknown_with_the_reason():
    report = build_fleet_report('daily', ['resources'], {'web1': {'resources': OK_RESULT}, 'wbe1': {'resources': None}},
                                1000.0, 1010.0, 'critical', missing_hosts=['wbe1'])
    hosts = dict((h['host'], h) for h in report['hosts'])
    assert hosts['wbe1']['status'] == 'UNKNOWN'
    assert hosts['wbe1']['summary'] == 'UNKNOWN: this host is not in the inventory'
    assert hosts['web1']['status'] == 'OK'
    assert report['status'] == 'UNKNOWN' and report['failing_hosts'] == ['wbe1']
    assert report['groups'][0]['label'] == 'UNKNOWN: this host is not in the inventory'
    assert report['counts']['UNKNOWN'] == 1
    with open(SCHEMA) as handle:
        jsonschema.validate(report, json.load(handle))


def test_a_report_replaces_only_its_own_files(tmp_path):
    out = tmp_path / 'out'
    first = build_fleet_report('daily_checks', ['resource', 'pg'], fleet(), 1000.0, 1003.0)
    write_report(first, str(out), 'daily_checks')
    second = build_fleet_report('daily_checks', ['resource', 'pg'], fleet(), 2000.0, 2003.0)
    paths = write_report(second, str(out), 'daily_checks')
    assert json.load(open(paths['json']))['started_at'] == second['started_at']
    # Someone else's files under the same names are left alone, and nothing is written.
    for name, text in (('daily_checks.json', '{"settings": true}\n'), ('daily_checks.html', '<html>mine</html>\n')):
        other = tmp_path / ('other-' + name.split('.')[1])
        other.mkdir()
        (other / name).write_text(text)
        with pytest.raises(FileRefused) as exc:
            write_report(second, str(other), 'daily_checks')
        assert exc.value.msg == ('dest: %s exists and is not a report that fleet_report wrote; it is left '
                                 'untouched (choose another dest or name)' % (other / name))
        assert sorted(p.name for p in other.iterdir()) == [name] and (other / name).read_text() == text
    linked = tmp_path / 'linked'
    linked.mkdir()
    (linked / 'daily_checks.json').symlink_to(paths['json'])
    with pytest.raises(FileRefused) as exc:
        write_report(second, str(linked), 'daily_checks')
    assert 'is a symbolic link' in exc.value.msg
