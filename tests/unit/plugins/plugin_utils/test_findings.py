# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the human order, the grouping of findings across hosts and the changes since the
previous report."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import jsonschema
import pytest

from ansible_collections.fleetops.runbook.plugins.module_utils.status import (
    STATUS_CODES,
    URGENCY,
    most_urgent,
    urgency,
    worst,
)
from ansible_collections.fleetops.runbook.plugins.plugin_utils import notify as n
from ansible_collections.fleetops.runbook.plugins.plugin_utils.findings import (
    diff_findings,
    finding,
    group_findings,
    group_headline,
)
from ansible_collections.fleetops.runbook.plugins.plugin_utils.report import (
    FileRefused,
    build_fleet_report,
    headline,
    read_history,
    render_html,
    sparkline,
    write_report,
)

pytestmark = pytest.mark.report

SCHEMA = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'docs', 'fleet_report.schema.json')


def disk(status, value, warning='85', critical='95', target='/'):
    return {'name': 'disk', 'target': target, 'value': value, 'unit': 'percent', 'warning': warning,
            'critical': critical, 'status': status, 'message': 'disk %s is %s%%' % (target, value)}


def result(*checks):
    return {'status': worst(c['status'] for c in checks), 'summary': 'x', 'checks': list(checks)}


# --- the order --------------------------------------------------------------------------------

def test_human_order_puts_critical_first_and_keeps_the_exit_codes():
    assert URGENCY == ('CRITICAL', 'UNKNOWN', 'WARNING', 'OK')
    assert sorted(['OK', 'UNKNOWN', 'WARNING', 'CRITICAL'], key=urgency) == list(URGENCY)
    assert urgency(None) > urgency('OK')
    assert most_urgent(['UNKNOWN', 'CRITICAL', 'WARNING']) == 'CRITICAL'
    assert most_urgent(['UNKNOWN', 'WARNING']) == 'UNKNOWN'
    assert most_urgent([]) == 'OK'
    # One check's exit code (perfdata, Nagios) is unchanged: UNKNOWN is 3, the highest.
    assert STATUS_CODES == {'OK': 0, 'WARNING': 1, 'CRITICAL': 2, 'UNKNOWN': 3}
    assert worst(['UNKNOWN', 'CRITICAL']) == 'UNKNOWN'


def test_headline_counts_each_status_in_human_order():
    counts = {'OK': 5, 'WARNING': 41, 'CRITICAL': 3, 'UNKNOWN': 1}
    assert headline(counts, 50) == '3 critical, 1 unknown, 41 warning of 50 hosts'
    assert headline({'OK': 5, 'WARNING': 0, 'CRITICAL': 0, 'UNKNOWN': 0}, 5) == 'all 5 hosts OK'
    assert headline({'OK': 0, 'WARNING': 1, 'CRITICAL': 0, 'UNKNOWN': 0}, 1) == '1 warning of 1 host'


# --- grouping ---------------------------------------------------------------------------------

def test_same_check_status_and_range_on_several_hosts_is_one_group():
    items = [finding('web%02d' % i, 'resource', 'disk', 'WARNING', 'disk / is %d%%' % (86 + i), target='/',
                     note=' (warning 85)') for i in range(12)]
    items += [finding('db1', 'resource', 'disk', 'CRITICAL', 'disk / is 97%', target='/', note=' (critical 95)'),
              finding('db1', 'resource', 'disk', 'WARNING', 'disk /var is 88%', target='/var', note=' (warning 85)'),
              finding('db2', None, 'unreachable', 'UNKNOWN', 'unreachable: ssh timed out'),
              finding('db3', None, 'unreachable', 'UNKNOWN', 'unreachable: no route'),
              finding('web99', 'resource', 'disk', 'OK', 'disk / is 3%', target='/')]
    groups = group_findings(items)
    assert [(g['status'], g['label'], len(g['hosts'])) for g in groups] == [
        ('CRITICAL', 'resource: disk / CRITICAL (critical 95)', 1),
        # Unreachable hosts are one finding whatever the connection error says.
        ('UNKNOWN', 'host unreachable', 2),
        # Within a status, the biggest group first.
        ('WARNING', 'resource: disk / WARNING (warning 85)', 12),
        ('WARNING', 'resource: disk /var WARNING (warning 85)', 1),
    ]
    assert [m['host'] for m in groups[2]['hosts']][:3] == ['web00', 'web01', 'web02']
    assert group_headline(groups[2]) == ('resource: disk / WARNING (warning 85) on 12 hosts: '
                                         'web00, web01, web02, web03, web04 and 7 more')


def test_a_different_threshold_is_a_different_group():
    items = [finding('a', 'resource', 'disk', 'WARNING', 'm', target='/', note=' (warning 85)'),
             finding('b', 'resource', 'disk', 'WARNING', 'm', target='/', note=' (warning 90)')]
    assert len(group_findings(items)) == 2


# --- changes since the previous report ----------------------------------------------------------

def test_diff_marks_new_resolved_and_worsened():
    before = [finding('a', 'r', 'disk', 'WARNING', 'x', target='/'),
              finding('b', 'r', 'disk', 'WARNING', 'x', target='/'),
              finding('c', 'r', 'mem', 'WARNING', 'x'),
              finding('d', 'r', 'mem', 'UNKNOWN', 'x'),
              finding('e', 'r', 'mem', 'CRITICAL', 'x')]
    now = [finding('a', 'r', 'disk', 'WARNING', 'y', target='/'),     # same
           finding('b', 'r', 'disk', 'CRITICAL', 'y', target='/'),    # worse
           finding('d', 'r', 'mem', 'CRITICAL', 'y'),                 # UNKNOWN -> CRITICAL is worse
           finding('e', 'r', 'mem', 'UNKNOWN', 'y'),                  # CRITICAL -> UNKNOWN is not
           finding('f', 'r', 'disk', 'WARNING', 'y', target='/')]     # new
    changes = diff_findings(before, now)
    assert [(i['host'], i['was'], i['status']) for i in changes['new']] == [('f', None, 'WARNING')]
    assert [(i['host'], i['was'], i['status']) for i in changes['worsened']] == [
        ('b', 'WARNING', 'CRITICAL'), ('d', 'UNKNOWN', 'CRITICAL')]
    assert [i['host'] for i in changes['resolved']] == ['c']
    assert [i.get('change') for i in now] == [None, 'worsened', 'worsened', None, 'new']


def fleet_run(values):
    """One run's results: host -> {'resource': result}, disk / at the given percent."""
    out = {}
    for host, value in values.items():
        status = 'CRITICAL' if value >= 95 else 'WARNING' if value >= 85 else 'OK'
        out[host] = {'resource': result(disk(status, value))}
    return out


def test_report_carries_changes_groups_and_trends(tmp_path):
    dest = str(tmp_path)
    runs = [{'web-1': 80, 'web-2': 86, 'db-1': 90},
            {'web-1': 84, 'web-2': 87, 'db-1': 92},
            {'web-1': 88, 'web-2': 70, 'db-1': 97}]
    for number, values in enumerate(runs):
        started = 1000.0 + number * 86400
        report = build_fleet_report('daily', ['resource'], fleet_run(values), started, started + 5,
                                    history=read_history(dest, 'daily'))
        write_report(report, dest, 'daily')
    assert report['changes']['previous_at'] == '1970-01-02T00:16:45Z'
    assert [(c['host'], c['status'], c['was']) for c in report['changes']['new']] == [('web-1', 'WARNING', None)]
    assert [(c['host'], c['was']) for c in report['changes']['worsened']] == [('db-1', 'WARNING')]
    assert [(c['host'], c['status']) for c in report['changes']['resolved']] == [('web-2', 'WARNING')]
    assert [h['host'] for h in report['hosts']] == ['db-1', 'web-1', 'web-2']
    hosts = dict((h['host'], h) for h in report['hosts'])
    assert hosts['db-1']['trend'] == [['WARNING', 90], ['WARNING', 92], ['CRITICAL', 97]]
    assert hosts['web-2']['trend'] == [['WARNING', 86], ['WARNING', 87], ['OK', 70]]
    assert [(g['status'], [m['host'] for m in g['hosts']], [m.get('change') for m in g['hosts']])
            for g in report['groups']] == [('CRITICAL', ['db-1'], ['worsened']), ('WARNING', ['web-1'], ['new'])]
    with open(SCHEMA) as handle:
        jsonschema.validate(report, json.load(handle))
    page = render_html(report)
    # The changes are grouped like the findings: what, then on which hosts.
    assert '<b>1 new</b>: resource: disk / WARNING (warning 85) on 1 host: web-1' in page
    assert '<b>1 worsened</b>: resource: disk / CRITICAL (critical 95) on 1 host: db-1' in page
    assert '1 resolved' in page
    assert page.count('<svg ') == 3 and page.count('<polyline') == 3


def test_history_ignores_files_that_are_not_its_reports(tmp_path):
    history = tmp_path / 'history'
    history.mkdir()
    (history / 'daily-20261101T000000Z.json').write_text('not json')
    (history / 'daily-20261102T000000Z.json').write_text(json.dumps({'report': 'other', 'hosts': []}))
    (history / 'daily-20261103T000000Z.json').write_text(json.dumps({'report': 'daily', 'hosts': [], 'n': 3}))
    (history / 'daily-20261104T000000Z.json').symlink_to(history / 'daily-20261103T000000Z.json')
    assert [d['n'] for d in read_history(str(tmp_path), 'daily')] == [3]
    assert read_history(str(tmp_path / 'nothing'), 'daily') == []


def test_history_is_bounded_to_the_newest_runs(tmp_path):
    history = tmp_path / 'history'
    history.mkdir()
    for day in range(1, 21):
        (history / ('daily-202611%02dT000000Z.json' % day)).write_text(json.dumps({'report': 'daily', 'hosts': [], 'n': day}))
    assert [d['n'] for d in read_history(str(tmp_path), 'daily', runs=3)] == [18, 19, 20]


def test_runs_finished_in_the_same_second_each_keep_their_history(tmp_path):
    dest = str(tmp_path)
    for run in range(3):
        # Same finish second for all three: none replaces another's dated copy.
        report = build_fleet_report('daily', ['resource'], {'db-1': {'resource': None}}, 1000.0 + run / 10.0, 1000.5,
                                    history=read_history(dest, 'daily'))
        report['n'] = run
        paths = write_report(report, dest, 'daily')
    assert sorted(os.listdir(str(tmp_path / 'history'))) == [
        'daily-19700101T001640Z.json', 'daily-19700101T001640Z_01.json', 'daily-19700101T001640Z_02.json']
    assert paths['history'].endswith('_02.json')
    assert [d['n'] for d in read_history(dest, 'daily')] == [0, 1, 2]
    assert len(report['hosts'][0]['trend']) == 3


def test_history_refuses_rather_than_replaces_when_a_second_is_full(tmp_path):
    history = tmp_path / 'history'
    history.mkdir()
    names = ['daily-19700101T001640Z.json'] + ['daily-19700101T001640Z_%02d.json' % n for n in range(1, 100)]
    for name in names:
        (history / name).write_text('kept')
    report = build_fleet_report('daily', ['resource'], {'db-1': {'resource': None}}, 1000.0, 1000.5)
    with pytest.raises(FileRefused) as exc:
        write_report(report, str(tmp_path), 'daily')
    assert exc.value.msg == ('dest: 100 reports named daily already finished at 1970-01-01T00:16:40Z; '
                             'history/ keeps no more for that second')
    assert all((history / name).read_text() == 'kept' for name in names)
    assert not (tmp_path / 'daily.json').exists()


def test_sparkline_is_inline_svg_scaled_to_percent():
    svg = sparkline([['OK', 0.0], ['WARNING', 50.0], ['CRITICAL', 100.0]], width=64, height=16)
    assert svg.startswith('<svg width="64" height="16"')
    assert 'points="2.0,14.0 32.0,8.0 62.0,2.0"' in svg
    assert 'style="color:#a4161a"' in svg
    # A narrow band of values is drawn in a window of 20 points around it.
    assert 'points="2.0,10.4 62.0,5.6"' in sparkline([['WARNING', 86.0], ['WARNING', 94.0]])
    # Without any check in percent, the status levels are drawn.
    assert 'points="2.0,14.0 62.0,2.0"' in sparkline([['OK', None], ['CRITICAL', None]])


# --- the notification groups the same way ------------------------------------------------------

def test_notification_groups_findings_across_hosts_worst_first():
    results = dict(('web%02d' % i, result(disk('WARNING', 86 + i % 5))) for i in range(12))
    results['db1'] = result(disk('CRITICAL', 97))
    results['gone'] = {'unreachable': True, 'msg': 'ssh: timed out'}
    hosts = n.collect_findings(results)
    assert n.overall_status(hosts) == 'CRITICAL'
    message = n.Message('critical', 'Daily checks', None, hosts, 'k' * 32, 0, report='https://r.example/daily.html')
    assert message.overview() == '14 of 14 hosts need attention (1 CRITICAL, 1 UNKNOWN, 12 WARNING).'
    body = message.plain_text()
    assert body.index('disk / CRITICAL (critical 95) on 1 host') < body.index('unreachable: ssh: timed out on 1 host') \
        < body.index('disk / WARNING (warning 85) on 12 hosts')
    assert 'Report: https://r.example/daily.html' in body
    assert body.count('web03: disk / is 89%') == 1
    payload = message.slack_payload()
    sections = [b['text']['text'] for b in payload['attachments'][0]['blocks']]
    assert len(sections) == 3
    assert sections[0].startswith(':red_circle: *disk / CRITICAL (critical 95) on 1 host*')
    assert sections[2].startswith(':large_orange_circle: *disk / WARNING (warning 85) on 12 hosts*')
    assert '<https://r.example/daily.html|Fleet report>' in payload['blocks'][1]['text']['text']
