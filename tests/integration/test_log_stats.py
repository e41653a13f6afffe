# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""log_stats run through Ansible on logs the test writes, rotates and compresses while it runs.

The generator knows every line it wrote: the module's counts must equal its counts, and its
percentiles must be within the sketch's documented relative error (1%) of the exact ones.
"""

from __future__ import annotations

import gzip
import json
import math
import os
import random
import stat
import time

import pytest

pytestmark = pytest.mark.log_stats

MODULE = 'fleetops.runbook.log_stats'
ALPHA = 0.01
STATUSES = [200] * 80 + [301] * 5 + [404] * 8 + [400] * 2 + [500] * 3 + [503] * 2


class Written:
    """What the generator put in a window."""

    def __init__(self):
        self.requests = 0
        self.s4 = 0
        self.s5 = 0
        self.latencies = []
        self.clients = {}
        self.errors = 0

    def quantile(self, q):
        ordered = sorted(self.latencies)
        return ordered[int(math.floor(q * (len(ordered) - 1)))]


class AccessGen:
    def __init__(self, seed):
        self.rng = random.Random(seed)

    def lines(self, count, written, age=0):
        out = []
        now = time.time() - age
        for i in range(count):
            status = self.rng.choice(STATUSES)
            latency = round(self.rng.lognormvariate(-2.0, 1.2), 3)
            client = '192.0.2.%d' % self.rng.choice([1, 1, 1, 2, 3, 4, 5, 6])
            when = time.strftime('%d/%b/%Y:%H:%M:%S +0000', time.gmtime(now - (count - i) * 0.01))
            out.append('%s - - [%s] "GET /api/%d?id=%d HTTP/1.1" %d 512 "-" "gen/1.0" %.3f\n' % (
                client, when, i % 7, i, status, latency))
            written.requests += 1
            written.s4 += 400 <= status < 500
            written.s5 += status >= 500
            written.latencies.append(latency)
            written.clients[client] = written.clients.get(client, 0) + 1
        return ''.join(out)


def json_lines(rng, count, written, age=0):
    out = []
    now = time.time() - age
    for i in range(count):
        status = rng.choice(STATUSES)
        ms = rng.randint(1, 8000)
        level = 'error' if status >= 500 else 'info'
        out.append(json.dumps({'ts': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(now - (count - i) * 0.01)),
                               'http': {'code': status, 'path': '/v1/items/%d' % (i % 5)}, 'duration_ms': ms,
                               'ip': '198.51.100.%d' % (i % 3), 'severity': level,
                               'msg': 'backend failed' if level == 'error' else 'ok'}) + '\n')
        written.requests += 1
        written.s4 += 400 <= status < 500
        written.s5 += status >= 500
        written.errors += level == 'error'
        written.latencies.append(ms / 1000.0)
    return ''.join(out)


def append(path, text):
    with open(str(path), 'a') as handle:
        handle.write(text)


def rotate_plain(path):
    os.rename(str(path), str(path) + '.1')


def rotate_gz(path):
    with open(str(path), 'rb') as src, gzip.open(str(path) + '.1.gz', 'wb') as dst:
        dst.write(src.read())
    os.unlink(str(path))
    if os.path.exists(str(path) + '.1'):
        os.unlink(str(path) + '.1')


def check(result, name, target=None):
    found = [c for c in result['checks'] if c['name'] == name and (target is None or c['target'] == target)]
    assert len(found) == 1, (name, result['checks'])
    return found[0]


def only(result):
    """The figures of the one file of a run."""
    assert len(result['logs']) == 1, result['logs']
    return next(iter(result['logs'].values()))


def assert_matches(result, written, latency=True, path=None):
    log = result['logs'][path] if path else only(result)
    assert log['requests'] == written.requests, log
    assert log['status_4xx'] == written.s4
    assert log['status_5xx'] == written.s5
    assert log['unparsed'] == 0
    if latency:
        assert log['latency']['count'] == written.requests
        for q, key in ((0.5, 'p50'), (0.95, 'p95'), (0.99, 'p99')):
            exact = written.quantile(q)
            assert abs(log['latency'][key] - exact) <= ALPHA * exact + 1e-9, (key, log['latency'][key], exact)
        assert log['latency']['max'] == pytest.approx(max(written.latencies))
    rate = 100.0 * written.s5 / written.requests
    assert check(result, 'rate_5xx', log['path'])['value'] == pytest.approx(rate, abs=1e-4)


def test_access_log_since_last_run_through_rotation_and_gzip(ansible, tmp_path):
    log = tmp_path / 'access.log'
    state = tmp_path / 'state' / 'log_stats.state'
    state.parent.mkdir()
    gen = AccessGen(13)
    args = {'files': [{'path': str(log)}], 'state_file': str(state), 'fail_on': 'never', 'top': 3}

    first = Written()
    log.write_text(gen.lines(3000, first))
    result = ansible.module(MODULE, args)
    assert not result.get('failed'), result
    assert_matches(result, first)
    assert only(result)['notes'] == ['first run: the whole file is read']
    assert stat.S_IMODE(os.stat(str(state)).st_mode) == 0o600
    assert only(result)['top_clients'][0] == {'value': '192.0.2.1', 'count': first.clients['192.0.2.1']}
    assert only(result)['top_max_error'] == 0
    assert check(result, 'latency_p95')['warning'] == '2'
    assert check(result, 'rate_5xx')['critical'] == '5'
    # 5 % of the generated responses are 5xx: the seeds' critical level is 5 %, warning 1 %.
    assert check(result, 'rate_5xx')['status'] in ('WARNING', 'CRITICAL')

    # Lines after the run, then a rotation to .1 (logrotate with delaycompress), then new lines.
    second = Written()
    append(log, gen.lines(700, second))
    rotate_plain(log)
    log.write_text(gen.lines(500, second))
    result = ansible.module(MODULE, args)
    assert_matches(result, second)
    assert [(f['path'], f['rotated']) for f in only(result)['files']] == [(str(log) + '.1', True), (str(log), False)]

    # The same again, compressed straight to .1.gz (logrotate with compress, no delaycompress).
    third = Written()
    append(log, gen.lines(400, third))
    rotate_gz(log)
    log.write_text(gen.lines(250, third))
    result = ansible.module(MODULE, args)
    assert_matches(result, third)
    assert only(result)['files'][0]['path'] == str(log) + '.1.gz'

    # Nothing new: no request, and it says so.
    result = ansible.module(MODULE, args)
    assert only(result)['requests'] == 0 and result['status'] == 'OK'
    assert check(result, 'rate_5xx')['message'] == 'rate_5xx %s: no requests in the window' % log

    # Check mode reads but does not advance the state.
    fourth = Written()
    append(log, gen.lines(100, fourth))
    before = state.read_bytes()
    mtime = os.stat(str(state)).st_mtime_ns
    for dummy in range(2):
        result = ansible.module(MODULE, args, check=True)
        assert_matches(result, fourth)
        assert result['state_updated'] is False
    assert state.read_bytes() == before and os.stat(str(state)).st_mtime_ns == mtime
    result = ansible.module(MODULE, args)
    assert_matches(result, fourth)
    assert state.read_bytes() != before


def test_json_log_fields_units_errors_and_rotation(ansible, tmp_path):
    log = tmp_path / 'app.json'
    state = tmp_path / 'log_stats.state'
    rng = random.Random(4)
    args = {'files': [{'path': str(log)}], 'state_file': str(state), 'format': 'json', 'latency_unit': 'ms',
            'fields': {'status': 'http.code', 'latency': 'duration_ms', 'path': 'http.path', 'client': 'ip',
                       'level': 'severity', 'message': 'msg', 'time': 'ts'},
            'fail_on': 'never'}
    first = Written()
    log.write_text(json_lines(rng, 2000, first))
    result = ansible.module(MODULE, args)
    assert not result.get('failed'), result
    assert_matches(result, first)
    assert only(result)['errors'] == first.errors
    assert check(result, 'errors')['status'] == 'CRITICAL'
    assert only(result)['top_errors'][0] == {'value': 'backend failed', 'count': first.errors}
    assert only(result)['top_paths'][0]['value'].startswith('/v1/items/')

    second = Written()
    append(log, json_lines(rng, 300, second))
    rotate_gz(log)
    log.write_text(json_lines(rng, 200, second))
    result = ansible.module(MODULE, args)
    assert_matches(result, second)
    assert only(result)['errors'] == second.errors


def test_files_share_one_state_and_merge_thresholds(ansible, tmp_path):
    gen = AccessGen(21)
    api, web = tmp_path / 'api.log', tmp_path / 'web.log'
    state = tmp_path / 'log_stats.state'
    first_api, first_web = Written(), Written()
    api.write_text(gen.lines(500, first_api))
    web.write_text(gen.lines(300, first_web))
    args = {'files': [{'path': str(api)},
                      {'path': str(web), 'thresholds': {'rate_5xx': {'warning': '50'}, 'requests': {'critical': '1000:'}}}],
            'state_file': str(state), 'thresholds': {'rate_5xx': {'critical': '60'}}, 'fail_on': 'never'}
    result = ansible.module(MODULE, args)
    assert not result.get('failed'), result
    assert_matches(result, first_api, path=str(api))
    assert_matches(result, first_web, path=str(web))
    # The module's thresholds over the defaults, an entry's over the module's, level by level.
    assert (check(result, 'rate_5xx', str(api))['warning'], check(result, 'rate_5xx', str(api))['critical']) == ('1', '60')
    assert (check(result, 'rate_5xx', str(web))['warning'], check(result, 'rate_5xx', str(web))['critical']) == ('50', '60')
    assert check(result, 'requests', str(web))['status'] == 'CRITICAL'
    assert check(result, 'requests', str(api))['status'] == 'OK'
    assert result['status'] == 'CRITICAL'
    assert "'requests %s'=300;;1000:" % web in result['perfdata']
    assert sorted(json.loads(state.read_text())['files']) == sorted([str(api), str(web)])

    # One state for both: each file continues from its own offset.
    second_api, second_web = Written(), Written()
    append(api, gen.lines(40, second_api))
    append(web, gen.lines(25, second_web))
    rotate_plain(web)
    web.write_text(gen.lines(10, second_web))
    result = ansible.module(MODULE, args)
    assert_matches(result, second_api, path=str(api))
    assert_matches(result, second_web, path=str(web))
    assert result['logs'][str(web)]['files'][0]['path'] == str(web) + '.1'


def test_window_last_minutes_by_timestamps(ansible, tmp_path):
    gen = AccessGen(7)
    old, recent = Written(), Written()
    access = tmp_path / 'access.log'
    access.write_text(gen.lines(800, old, age=3 * 3600) + gen.lines(600, recent, age=60))
    app = tmp_path / 'app.log'
    stamp = time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(time.time() - 3 * 3600))
    fresh = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() - 60))
    app.write_text(''.join('%s ERROR old failure %d\n' % (stamp, i) for i in range(30))
                   + ''.join('%s INFO fine\n%s ERROR db timeout\nTraceback line\n' % (fresh, fresh) for i in range(12)))
    # Two files in one result, each with its own options over the module's.
    result = ansible.tasks([
        {'name': 'both', MODULE: {'files': [{'path': str(access)}, {'path': str(app), 'format': 'plain'}],
                                  'window_minutes': 60, 'fail_on': 'never'}},
        {'name': 'app pattern', MODULE: {'files': [{'path': str(app), 'window_minutes': 600,
                                                    'error_pattern': '^Traceback'}],
                                         'format': 'plain', 'window_minutes': 60, 'fail_on': 'never'}},
    ])
    both = result.task('both')
    assert sorted(both['logs']) == sorted([str(access), str(app)])
    assert_matches(both, recent, path=str(access))
    assert both['logs'][str(access)]['outside_window'] == 800
    assert both['logs'][str(access)]['window'] == 'last 60 minutes'
    app_log = both['logs'][str(app)]
    assert app_log['format'] == 'plain'
    assert app_log['errors'] == 12 and app_log['outside_window'] == 30
    # More than 10 ERROR lines (seed 003 monitor_errors.sh) is critical, and so is the whole result.
    assert check(both, 'errors', str(app))['status'] == 'CRITICAL'
    assert both['status'] == 'CRITICAL'
    assert [c['name'] for c in both['checks'] if c['target'] == str(app)] == ['unparsed', 'errors']
    assert all(c['target'] in (str(access), str(app)) for c in both['checks'])
    assert app_log['top_errors'] == [{'value': 'ERROR db timeout', 'count': 12}]
    pattern = result.task('app pattern')['logs'][str(app)]
    assert pattern['errors'] == 12 and pattern['window'] == 'last 600 minutes'


def test_foreign_state_refused_and_left_alone(ansible, tmp_path):
    log = tmp_path / 'access.log'
    log.write_text(AccessGen(1).lines(10, Written()))
    foreign = tmp_path / 'foreign.json'
    foreign.write_text('{"files": {}, "owner": "someone else"}\n')
    os.chmod(str(foreign), 0o644)
    for check_mode in (False, True):
        result = ansible.module(MODULE, {'files': [{'path': str(log)}], 'state_file': str(foreign)}, check=check_mode)
        assert result.get('failed'), result
        assert result['msg'].startswith('state_file: %s exists and is not a log_stats state file' % foreign)
    assert foreign.read_text() == '{"files": {}, "owner": "someone else"}\n'
    assert stat.S_IMODE(os.stat(str(foreign)).st_mode) == 0o644


def test_missing_or_refused_log_is_critical_and_the_others_are_read(ansible, tmp_path):
    fifo = tmp_path / 'access.fifo'
    os.mkfifo(str(fifo))
    missing = tmp_path / 'missing.log'
    log = tmp_path / 'access.log'
    written = Written()
    log.write_text(AccessGen(3).lines(200, written))
    state = tmp_path / 'log_stats.state'
    args = {'files': [{'path': str(fifo)}, {'path': str(missing)}, {'path': str(log)}],
            'state_file': str(state), 'fail_on': 'never'}
    # No writer ever opens the FIFO: a module that opened it for reading would wait forever.
    # The timeout is only a hang guard, several times what any run here takes.
    result = ansible.module(MODULE, args, timeout=600)
    assert not result.get('failed'), result
    assert result['status'] == 'CRITICAL'
    fifo_check = check(result, 'log_file', str(fifo))
    assert fifo_check['status'] == 'CRITICAL'
    assert fifo_check['message'] == 'files[0].path: %s is a FIFO, not a regular file' % fifo
    missing_check = check(result, 'log_file', str(missing))
    assert missing_check['status'] == 'CRITICAL'
    assert missing_check['message'] == 'files[1].path: cannot open %s: No such file or directory' % missing
    assert result['logs'][str(missing)]['error'] == missing_check['message']
    assert 'requests' not in result['logs'][str(missing)]
    # The readable log is still measured, and only its offset is kept.
    assert_matches(result, written, path=str(log))
    assert check(result, 'requests', str(log))['value'] == 200
    assert sorted(json.loads(state.read_text())['files']) == [str(log)]


@pytest.mark.parametrize('args,message', [
    ({'window_minutes': 0}, 'window_minutes: '),
    ({}, 'state_file: required for the window since the last run of files[0].path'),
    ({'window_minutes': 5, 'thresholds': {'latency_p95': {'warning': 'fast'}}}, 'thresholds.latency_p95.warning: '),
    ({'window_minutes': 5, 'thresholds': {'p95': {'warning': 1}}}, 'thresholds: unknown check'),
    ({'window_minutes': 5, 'fields': {'latencyy': 'x'}}, 'fields: unknown key'),
    ({'window_minutes': 5, 'fields': {'status': ''}}, 'fields.status: '),
    ({'window_minutes': 5, 'error_pattern': '(['}, 'error_pattern: '),
    ({'window_minutes': 5, 'top': 0}, 'top: '),
    ({'window_minutes': 5, 'top_capacity': 2}, 'top_capacity: '),
    ({'window_minutes': 5, 'files': []}, 'files: give at least one log file'),
    ({'window_minutes': 5, 'files': [{'window_minutes': 5}]}, 'missing required arguments: path found in files'),
    ({'window_minutes': 5, 'files': [{'path': 'LOG'}, {'path': 'LOG'}]},
     'files[1].path: LOG is already files[0].path'),
    ({'files': [{'path': 'LOG', 'window_minutes': -1}]}, 'files[0].window_minutes: '),
    ({'window_minutes': 5, 'files': [{'path': 'LOG', 'thresholds': {'errors': {'critical': 'x'}}}]},
     'files[0].thresholds.errors.critical: '),
    ({'window_minutes': 5, 'files': [{'path': 'LOG', 'thresholds': {'p99': {}}}]}, 'files[0].thresholds: unknown check'),
    ({'window_minutes': 5, 'files': [{'path': 'LOG', 'fields': {'latency': ' '}}]}, 'files[0].fields.latency: '),
    ({'window_minutes': 5, 'files': [{'path': 'LOG', 'error_pattern': '*'}]}, 'files[0].error_pattern: '),
    ({'window_minutes': 5, 'files': [{'path': 'LOG', 'error_level': ''}]}, 'files[0].error_level: '),
    ({'window_minutes': 5, 'files': [{'path': 'LOG', 'format': 'csv'}]}, 'value of format must be one of'),
])
def test_bad_input_names_the_parameter(ansible, tmp_path, args, message):
    log = tmp_path / 'access.log'
    log.write_text('')
    params = dict(args)
    files = params.pop('files', [{'path': 'LOG'}])
    params['files'] = [dict(entry, path=str(log)) if entry.get('path') == 'LOG' else entry for entry in files]
    result = ansible.module(MODULE, params)
    assert result.get('failed'), result
    assert result['msg'].startswith(message.replace('LOG', str(log))), result['msg']
    assert 'Traceback' not in result.get('module_stderr', '')


def test_unparsable_log_is_unknown_not_ok(ansible, tmp_path):
    log = tmp_path / 'error.log'
    log.write_text('2026/11/30 00:00:01 [error] 12#12: connect() failed\n' * 5)
    result = ansible.module(MODULE, {'files': [{'path': str(log)}], 'window_minutes': 10 ** 6, 'fail_on': 'never'})
    assert result['status'] == 'UNKNOWN' and only(result)['unparsed'] == 5
    state = tmp_path / 'state'
    result = ansible.module(MODULE, {'files': [{'path': str(log)}], 'state_file': str(state), 'fail_on': 'never'})
    assert result['status'] == 'UNKNOWN'
    assert check(result, 'requests')['message'] == \
        'requests %s: none of the 5 lines in the window parsed as combined-format log lines' % log


def test_state_file_in_missing_directory_names_the_parameter(ansible, tmp_path):
    log = tmp_path / 'access.log'
    log.write_text(AccessGen(2).lines(5, Written()))
    state = tmp_path / 'nowhere' / 'log_stats.state'
    result = ansible.module(MODULE, {'files': [{'path': str(log)}], 'state_file': str(state)})
    assert result.get('failed'), result
    assert result['msg'] == 'state_file: directory %s does not exist' % state.parent
    # A symbolic link as the state file is refused, not followed.
    target = tmp_path / 'elsewhere.json'
    target.write_text('{}')
    link = tmp_path / 'link.state'
    link.symlink_to(target)
    result = ansible.module(MODULE, {'files': [{'path': str(log)}], 'state_file': str(link)})
    assert result.get('failed'), result
    assert result['msg'].startswith('state_file: %s is a symbolic link' % link), result['msg']
    assert target.read_text() == '{}'
