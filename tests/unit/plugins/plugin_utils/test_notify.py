# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the notify building blocks (findings, messages, retry policy, state)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import email.utils
import json
import os
import stat

import pytest

from ansible_collections.fleetops.runbook.plugins.plugin_utils import notify as n


def res(status, *checks):
    return {'status': status, 'summary': status,
            'checks': [{'name': c, 'status': s, 'message': '%s is bad' % c, 'target': None} for c, s in checks]}


# --- findings -----------------------------------------------------------------------------------

def test_single_result_and_list_have_no_host():
    hosts = n.collect_findings([res('WARNING', ('cpu', 'WARNING')), res('OK', ('mem', 'OK'))])
    assert len(hosts) == 1 and hosts[0].host is None
    assert hosts[0].status == 'WARNING' and hosts[0].checked == 2
    assert [p['message'] for p in hosts[0].problems] == ['cpu is bad']


def test_loop_registered_result_is_unpacked():
    loop = {'changed': False, 'msg': 'All items completed',
            'results': [res('CRITICAL', ('a', 'CRITICAL')), {'skipped': True, 'skip_reason': 'x'}]}
    hosts = n.collect_findings({'h1': loop})
    assert hosts[0].host == 'h1' and hosts[0].status == 'CRITICAL' and hosts[0].checked == 1


def test_host_to_check_mapping_names_the_source():
    hosts = n.collect_findings({'db1': {'resource': res('OK', ('cpu', 'OK')),
                                        'postgres': res('WARNING', ('conn', 'WARNING'))}})
    problem, = hosts[0].problems
    assert problem['source'] == 'postgres'
    assert n.Message._problem_line(problem) == 'WARNING postgres: conn is bad'


def test_unreachable_and_failed_results_are_unknown():
    hosts = n.collect_findings({'gone': {'unreachable': True, 'msg': 'ssh: timeout'},
                                'broke': {'failed': True, 'msg': 'psycopg2 missing'},
                                'none': None})
    by_host = dict((h.host, h) for h in hosts)
    assert set(by_host) == {'gone', 'broke'}
    assert by_host['gone'].problems[0]['message'] == 'unreachable: ssh: timeout'
    assert by_host['broke'].status == 'UNKNOWN'
    assert n.STATUS_SEVERITY[n.overall_status(hosts)] == 'critical'


def test_min_status_filters_findings():
    hosts = n.collect_findings(res('CRITICAL', ('a', 'CRITICAL'), ('b', 'WARNING')), 'critical')
    assert [p['check'] for p in hosts[0].problems] == ['a']


@pytest.mark.parametrize('bad, words', [
    (42, 'got a number'),
    ({'h': [1]}, 'results[h][0]: expected a status-model result'),
    ({'h': {'status': 'FINE'}}, "results[h].status: 'FINE'"),
])
def test_bad_results(bad, words):
    with pytest.raises(n.NotifyError) as err:
        n.collect_findings(bad)
    assert words in err.value.msg


def test_alert_key_ignores_values_but_not_findings():
    a = n.collect_findings({'h': {'status': 'WARNING', 'checks': [
        {'name': 'disk', 'target': '/', 'value': 81, 'status': 'WARNING', 'message': 'disk / is 81%'}]}})
    b = n.collect_findings({'h': {'status': 'WARNING', 'checks': [
        {'name': 'disk', 'target': '/', 'value': 83, 'status': 'WARNING', 'message': 'disk / is 83%'}]}})
    c = n.collect_findings({'h': {'status': 'CRITICAL', 'checks': [
        {'name': 'disk', 'target': '/', 'value': 96, 'status': 'CRITICAL', 'message': 'disk / is 96%'}]}})
    key = n.alert_key('warning', 't', None, a)
    assert key == n.alert_key('warning', 't', None, b)
    assert key != n.alert_key('warning', 't', None, c)
    assert key != n.alert_key('warning', 'other title', None, a)


# --- messages -----------------------------------------------------------------------------------

def test_slack_limits_are_respected():
    problems = [('check%03d' % i, 'CRITICAL') for i in range(400)]
    hosts = n.collect_findings({'h%02d' % i: res('CRITICAL', *problems) for i in range(60)})
    message = n.Message('critical', 'T' * 300, 'x' * 5000, hosts, 'k' * 32, 0)
    payload = message.slack_payload()
    assert len(payload['blocks'][0]['text']['text']) <= n.SLACK_HEADER_MAX
    assert len(payload['blocks'][1]['text']['text']) <= n.SLACK_SECTION_MAX
    assert len(payload['text']) <= n.SLACK_FALLBACK_MAX
    detail = payload['attachments'][0]['blocks']
    assert len(payload['blocks']) + len(detail) <= 50
    assert all(len(b['elements'][0]['text'] if b['type'] == 'context' else b['text']['text'])
               <= n.SLACK_SECTION_MAX for b in detail)
    # One section per finding, its hosts listed up to max_hosts; the findings past Slack's room counted.
    assert detail[0]['text']['text'].startswith(':red_circle: *check000 CRITICAL on 60 hosts*\n\u2022 h00: check000 is bad')
    assert detail[0]['text']['text'].endswith('_\u2026 and 40 more hosts_')
    assert len(detail) == n.SLACK_MAX_GROUPS + 1
    assert detail[-1]['elements'][0]['text'].startswith('\u2026 and 360 more findings')
    # The mail keeps everything: the finding's title, then each of its 60 hosts.
    assert message.plain_text().count('check399') == 61


def test_mail_subject_and_headers():
    hosts = n.collect_findings({'a': res('WARNING', ('x', 'WARNING')), 'b': res('OK', ('x', 'OK'))})
    message = n.Message('warning', 'Daily\nchecks', None, hosts, 'abc', 0)
    mail = n.MailSender(to=['x@example.com'], sender='s@example.com').build(message)
    assert mail['Subject'] == '[WARNING] Daily checks - 1 of 2 hosts need attention (1 WARNING)'
    assert mail['Auto-Submitted'] == 'auto-generated'
    assert mail['X-Fleetops-Alert-Key'] == 'abc'


# --- webhook URL and retry policy ---------------------------------------------------------------

@pytest.mark.parametrize('url, allow, words', [
    ('', False, 'empty'),
    ('https://hooks.example.com/ services', False, 'white space'),
    ('hooks.example.com/services/x', False, 'scheme missing'),
    ('https://u:p@hooks.example.com/services/x', False, 'credentials'),
    ('https://hooks.example.com', False, 'no path'),
    ('https://hooks.example.com:99999/x', False, 'malformed'),
    ('http://127.0.0.1:8080/services/x', False, 'plain http is refused'),
])
def test_bad_webhook_urls(url, allow, words):
    with pytest.raises(n.NotifyError) as err:
        n.check_webhook_url(url, allow)
    assert words in err.value.msg and err.value.msg.startswith('slack.webhook_url: ')
    if url:
        assert url not in err.value.msg


def test_good_webhook_urls():
    n.check_webhook_url('https://hooks.slack.com/services/T0/B0/xyz')
    n.check_webhook_url('http://127.0.0.1:8080/services/x', allow_insecure_http=True)


def test_parse_retry_after():
    assert n.parse_retry_after('30') == 30.0
    assert n.parse_retry_after(' 1.5 ') == 1.5
    assert n.parse_retry_after('-3') == 0.0
    assert n.parse_retry_after(None) is None
    assert n.parse_retry_after('soon') is None
    date = email.utils.formatdate(1000120, usegmt=True)
    assert n.parse_retry_after(date, now=1000000) == 120.0


class Scripted(n.SlackSender):
    def __init__(self, answers, **kwargs):
        self.slept = []
        super(Scripted, self).__init__('https://hooks.example.com/services/secret', sleep=self.slept.append,
                                       clock=lambda: 1000.0, **kwargs)
        self.answers = list(answers)

    def _post(self, body):
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_backoff_doubles_and_is_capped():
    sender = Scripted([(500, 'x', None)] * 5, retries=4, backoff=1, max_backoff=5)
    with pytest.raises(n.NotifyError) as err:
        sender.send({'text': 'x'})
    assert sender.slept == [1, 2, 4, 5]
    assert 'gave up after 5 attempts' in err.value.msg and len(err.value.attempts) == 5


def test_retry_after_is_used_for_429():
    sender = Scripted([(429, 'rate_limited', '7'), (429, 'rate_limited', None), (200, 'ok', None)],
                      backoff=0.5)
    attempts = sender.send({'text': 'x'})
    assert sender.slept == [7.0, 1.0]
    assert [a['status'] for a in attempts] == [429, 429, 200]


def test_4xx_is_not_retried_and_url_is_hidden():
    sender = Scripted([(403, 'invalid_token for https://hooks.example.com/services/secret', None)])
    with pytest.raises(n.NotifyError) as err:
        sender.send({'text': 'x'})
    assert sender.slept == []
    assert 'HTTP 403 invalid_token for <webhook URL>' in err.value.msg


def test_network_errors_are_retried():
    from ansible.module_utils.six.moves.urllib.error import URLError
    sender = Scripted([URLError('connection refused'), (200, 'ok', None)], backoff=0.25)
    attempts = sender.send({'text': 'x'})
    assert sender.slept == [0.25]
    assert attempts[0]['error'] == 'connection refused'


# --- state --------------------------------------------------------------------------------------

def test_state_records_and_expires(tmp_path):
    now = [1000.0]
    path = str(tmp_path / 'sub' / 'state.json')
    with n.DedupStore(path, clock=lambda: now[0]) as store:
        assert not store.is_recent('k', 'slack', 60)
        store.record('k', 'slack', 'critical', 'T')
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    now[0] = 1030.0
    with n.DedupStore(path, clock=lambda: now[0]) as store:
        assert store.is_recent('k', 'slack', 60)
        assert not store.is_recent('k', 'mail', 60)
        assert not store.is_recent('k', 'slack', 0)
    now[0] = 1061.0
    with n.DedupStore(path, clock=lambda: now[0]) as store:
        assert not store.is_recent('k', 'slack', 60)
    # Old entries are pruned when the state is next saved.
    now[0] = 1000.0 + n.STATE_KEEP_SECONDS + 1
    with n.DedupStore(path, clock=lambda: now[0]) as store:
        store.record('other', 'mail', 'info', 'T')
    assert set(json.load(open(path))['alerts']) == {'other'}


FOREIGN = [
    ('{not json', 'is not JSON'),
    ('', 'is empty'),
    ('root:x:0:0:root:/root:/bin/bash\n', 'is not JSON'),
    ('{"alerts": {}}', 'without the notify state marker'),
    ('{"version": 1, "alerts": {}, "owner": "someone"}', 'without the notify state marker'),
    ('{"version": 1, "alerts": {"k": 3}}', 'without the notify state marker'),
    ('{"format": "fleetops.runbook.notify/state", "version": 7, "alerts": {}}', 'version 7'),
    ('[1, 2]', 'a list'),
    ('[' * 100000 + ']' * 100000, 'is not JSON'),
]


@pytest.mark.parametrize('text, words', FOREIGN)
def test_a_file_that_is_not_our_state_is_refused_and_left_alone(tmp_path, text, words):
    path = tmp_path / 'state.json'
    path.write_text(text)
    os.chmod(str(path), 0o644)
    before = os.stat(str(path))
    with pytest.raises(n.NotifyError) as info:
        with n.DedupStore(str(path)) as store:
            store.record('k', 'slack', 'critical', 'T')
    assert info.value.msg.startswith('state_path: %s ' % path) and words in info.value.msg, info.value.msg
    assert 'left untouched' in info.value.msg
    after = os.stat(str(path))
    assert path.read_text() == text
    assert (after.st_ino, after.st_mode, after.st_mtime_ns) == (before.st_ino, before.st_mode, before.st_mtime_ns)
    # Nothing was made beside it, not even the lock.
    assert sorted(os.listdir(str(tmp_path))) == ['state.json']


def test_too_large_a_file_is_refused_unread(tmp_path):
    path = tmp_path / 'state.json'
    body = json.dumps({'format': n.STATE_FORMAT, 'version': 1, 'alerts': {}})
    path.write_text(body + ' ' * n.STATE_MAX_BYTES)
    with pytest.raises(n.NotifyError) as info:
        n.DedupStore(str(path)).load()
    assert 'larger than 1 MiB' in info.value.msg and 'state_path' in info.value.msg
    assert path.stat().st_size == len(body) + n.STATE_MAX_BYTES


@pytest.mark.parametrize('kind', ['fifo', 'directory', 'device', 'symlink to device', 'symlink to state'])
def test_what_is_not_a_regular_file_is_refused_at_once(tmp_path, kind):
    path = tmp_path / 'state.json'
    if kind == 'fifo':
        os.mkfifo(str(path))
    elif kind == 'directory':
        path.mkdir()
    elif kind == 'device':
        path = '/dev/zero'
    elif kind == 'symlink to device':
        path.symlink_to('/dev/zero')
    else:
        real = tmp_path / 'real.json'
        real.write_text(json.dumps({'format': n.STATE_FORMAT, 'version': 1, 'alerts': {}}))
        path.symlink_to(real)
    with pytest.raises(n.NotifyError) as info:
        with n.DedupStore(str(path)):
            pass
    expected = {'fifo': 'is a FIFO', 'directory': 'is a directory', 'device': 'is a character device',
                'symlink to device': 'is a symbolic link to /dev/zero',
                'symlink to state': 'is a symbolic link to %s' % (tmp_path / 'real.json')}[kind]
    assert info.value.msg.startswith('state_path: %s' % path) and expected in info.value.msg, info.value.msg
    if kind != 'device':
        assert not os.path.exists(str(tmp_path / 'state.json.lock'))


def test_state_written_by_the_previous_version_is_taken_over(tmp_path):
    path = tmp_path / 'state.json'
    entry = {'severity': 'critical', 'title': 'T', 'sent': {'slack': 1000.0}}
    path.write_text(json.dumps({'version': 1, 'alerts': {'k': entry}}))
    with n.DedupStore(str(path), clock=lambda: 1030.0) as store:
        assert store.is_recent('k', 'slack', 60)
        store.record('k', 'mail', 'critical', 'T')
    data = json.load(open(str(path)))
    assert data['format'] == n.STATE_FORMAT and data['version'] == 1
    assert data['alerts']['k']['sent'] == {'slack': 1000.0, 'mail': 1030.0}
    assert stat.S_IMODE(os.stat(str(path)).st_mode) == 0o600


def test_a_file_that_appears_meanwhile_is_not_replaced(tmp_path):
    path = tmp_path / 'state.json'
    with pytest.raises(n.NotifyError) as info:
        with n.DedupStore(str(path)) as store:
            store.record('k', 'slack', 'critical', 'T')
            path.write_text('precious')
    assert 'appeared' in info.value.msg
    assert path.read_text() == 'precious'
    assert [p for p in os.listdir(str(tmp_path)) if p.startswith('.state-')] == []


def test_the_saved_state_stays_within_the_size_it_is_read_with(tmp_path):
    now = [1000.0]
    path = str(tmp_path / 'state.json')
    with n.DedupStore(path, clock=lambda: now[0]) as store:
        for i in range(12000):
            now[0] += 1
            store.record('key-%05d' % i, 'slack', 'critical', 'x' * 40)
    assert os.path.getsize(path) <= n.STATE_MAX_BYTES
    with n.DedupStore(path, clock=lambda: now[0]) as store:
        # The newest alerts are the ones kept.
        assert store.is_recent('key-11999', 'slack', 3600)
        assert not store.is_recent('key-00000', 'slack', 3600)


def test_mail_login_without_tls_is_refused_unless_allowed():
    with pytest.raises(n.NotifyError) as info:
        n.check_mail_login('alerts', starttls=False, use_ssl=False)
    assert 'mail.allow_plaintext_login' in info.value.msg and info.value.msg.startswith('mail.username')
    n.check_mail_login('alerts', starttls=False, use_ssl=False, allow_plaintext_login=True)
    n.check_mail_login('alerts', starttls=True, use_ssl=False)
    n.check_mail_login('alerts', starttls=False, use_ssl=True)
    n.check_mail_login(None, starttls=False, use_ssl=False)
