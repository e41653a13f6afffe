# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""fleetops.runbook.notify through ansible-playbook, against a local Slack receiver and SMTP sink."""

from __future__ import annotations

import json
import os
import stat
import subprocess

import pytest
import yaml

from . import slack_receiver as slack
from .smtp_sink import SmtpSink

SECRET = slack.WEBHOOK_PATH.rsplit('/', 1)[1]


def result(status, *checks):
    """A status-model result as the check modules return it."""
    checks = [dict(name=name, target=target, value=value, unit='percent', status=st,
                   message='%s%s is %s%%' % (name, ' ' + target if target else '', value))
              for name, target, value, st in checks]
    return {'status': status, 'checks': checks, 'summary': '%s: ...' % status, 'changed': False}


FLEET = {
    'db1': result('CRITICAL', ('disk', '/var/lib/postgresql', 97, 'CRITICAL'), ('cpu', None, 12, 'OK')),
    'web1': result('WARNING', ('memory', None, 83, 'WARNING')),
    'web2': result('OK', ('memory', None, 40, 'OK')),
}


@pytest.fixture
def sink():
    server = SmtpSink().start()
    yield server
    server.stop()


@pytest.fixture
def state(tmp_path):
    return str(tmp_path / 'notify' / 'state.json')


def notify(hook, state, **args):
    """Task arguments with the receiver as webhook; Slack only unless told otherwise."""
    task_args = {'title': 'Daily checks', 'state_path': state, 'channels': ['slack'],
                 'slack': {'webhook_url': hook.url, 'allow_insecure_http': True}}
    for key, value in args.items():
        if isinstance(value, dict) and isinstance(task_args.get(key), dict):
            task_args[key] = dict(task_args[key], **value)
        else:
            task_args[key] = value
    return {k: v for k, v in task_args.items() if v is not None}


def assert_clean_failure(res, *words):
    assert res.get('failed') is True, res
    msg = res['msg']
    assert 'Traceback' not in msg and 'MODULE FAILURE' not in msg, msg
    for word in words:
        assert word in msg, msg
    assert SECRET not in json.dumps(res)


# --- payload shape ------------------------------------------------------------------------------

def test_fleet_mapping_is_one_grouped_message(ansible, hook, state):
    res = ansible.module('fleetops.runbook.notify', notify(hook, state, results=FLEET))
    assert res['changed'] is True and res['sent'] == ['slack'], res
    assert res['severity'] == 'critical' and res['status'] == 'CRITICAL'
    assert res['hosts_with_findings'] == ['db1', 'web1']
    assert len(hook.requests) == 1
    request = hook.requests[0]
    assert request.headers['Content-Type'].startswith('application/json')
    payload = request.json
    assert payload == res['notification']['slack']
    # Plain-text fallback for notifications and old clients.
    assert payload['text'].startswith('CRITICAL: Daily checks')
    assert '2 of 3 hosts need attention (1 CRITICAL, 1 WARNING)' in payload['text']
    assert 'db1, web1' in payload['text']
    header = payload['blocks'][0]
    assert header['type'] == 'header' and header['text']['type'] == 'plain_text'
    assert header['text']['text'] == ':rotating_light: CRITICAL: Daily checks'
    assert payload['blocks'][-1]['type'] == 'context'
    assert res['key'][:12] in payload['blocks'][-1]['elements'][0]['text']
    attachment, = payload['attachments']
    assert attachment['color'] == '#D0021B'
    sections = [b['text']['text'] for b in attachment['blocks']]
    # A section per finding with its hosts, most urgent first; the OK host and OK checks left out.
    assert len(sections) == 2
    assert sections[0].startswith(':red_circle: *disk /var/lib/postgresql CRITICAL on 1 host*')
    assert '\u2022 db1: disk /var/lib/postgresql is 97%' in sections[0]
    assert 'cpu' not in sections[0]
    assert sections[1] == ':large_orange_circle: *memory WARNING on 1 host*\n\u2022 web1: memory is 83%'


def test_colour_and_routing_per_severity(ansible, hook, state):
    tasks = [{'name': sev, 'fleetops.runbook.notify': notify(
        hook, state, channels=None, severity=sev, text='%s & <things>' % sev, title='Note')}
        for sev in ('warning', 'info')]
    # Warnings are routed to mail as well by default: send them to Slack only here.
    tasks[0]['fleetops.runbook.notify']['routing'] = {'warning': ['slack']}
    run = ansible.tasks(tasks)
    assert run.rc == 0, run
    assert [p['attachments'][0]['color'] for p in hook.payloads] == ['#F5A623', '#4A90D9']
    assert run.task('warning')['channels'] == ['slack']
    assert run.task('info')['channels'] == ['slack']
    # Text is escaped for Slack's mrkdwn.
    assert hook.payloads[0]['blocks'][1]['text']['text'] == 'warning &amp; &lt;things&gt;'
    assert 'blocks' not in hook.payloads[1]['attachments'][0]


def test_long_fleet_is_cut_for_slack(ansible, hook, state):
    fleet = dict(('host%02d' % i, result('WARNING', ('disk', '/', 85, 'WARNING'))) for i in range(30))
    res = ansible.module('fleetops.runbook.notify', notify(hook, state, results=fleet,
                                                           slack={'max_hosts': 5}))
    assert res['sent'] == ['slack'], res
    blocks = hook.payloads[0]['attachments'][0]['blocks']
    # The same finding on 30 hosts is one section: 5 hosts named, the rest counted.
    assert len(blocks) == 1
    lines = blocks[0]['text']['text'].split('\n')
    assert lines[0] == ':large_orange_circle: *disk / WARNING on 30 hosts*'
    assert lines[1:6] == ['\u2022 host%02d: disk / is 85%%' % i for i in range(5)]
    assert lines[6:] == ['_\u2026 and 25 more hosts_']
    assert 'and 20 more' in hook.payloads[0]['text']


# --- retries ------------------------------------------------------------------------------------

def test_429_honours_retry_after(ansible, hook, state):
    hook.answer(slack.rate_limited(1), slack.rate_limited(2))
    res = ansible.module('fleetops.runbook.notify', notify(hook, state, severity='info', text='hi'))
    assert res['sent'] == ['slack'], res
    assert len(hook.requests) == 3
    gaps = hook.gaps()
    assert gaps[0] >= 1.0 and gaps[1] >= 2.0, gaps
    attempts = res['delivery']['slack']['attempts']
    assert [a['status'] for a in attempts] == [429, 429, 200]
    assert [a.get('retry_after') for a in attempts] == [1.0, 2.0, None]


def test_429_without_retry_after_backs_off(ansible, hook, state):
    hook.answer(slack.rate_limited(None))
    res = ansible.module('fleetops.runbook.notify', notify(
        hook, state, severity='info', text='hi', slack={'backoff': 0.5}))
    assert res['sent'] == ['slack'], res
    assert hook.gaps()[0] >= 0.5


def test_429_longer_than_allowed_fails_at_once(ansible, hook, state):
    hook.answer(slack.rate_limited(600))
    res = ansible.module('fleetops.runbook.notify', notify(
        hook, state, severity='info', text='hi', slack={'max_retry_after': 5}))
    assert_clean_failure(res, 'HTTP 429', '600 s', 'slack.max_retry_after')
    assert len(hook.requests) == 1


def test_5xx_retried_with_growing_backoff_then_gives_up(ansible, hook, state):
    hook.answer(*[slack.server_error()] * 3)
    res = ansible.module('fleetops.runbook.notify', notify(
        hook, state, severity='warning', text='hi', slack={'retries': 2, 'backoff': 0.3}))
    assert_clean_failure(res, 'HTTP 500', 'internal_error', 'gave up after 3 attempts')
    assert len(hook.requests) == 3
    gaps = hook.gaps()
    assert gaps[0] >= 0.3 and gaps[1] >= 0.6, gaps
    assert res['sent'] == []
    assert [a['waited'] for a in res['delivery']['slack']['attempts'][:2]] == [0.3, 0.6]
    # Not delivered, so not recorded: the next run tries again.
    assert not os.path.exists(state) or json.load(open(state))['alerts'] == {}


def test_5xx_then_ok_is_delivered(ansible, hook, state):
    hook.answer(slack.server_error())
    res = ansible.module('fleetops.runbook.notify', notify(
        hook, state, severity='warning', text='hi', slack={'backoff': 0.1}))
    assert res['sent'] == ['slack'] and res['changed'] is True, res
    assert len(hook.requests) == 2


def test_other_4xx_fails_at_once_with_slack_text(ansible, hook, state):
    hook.answer(slack.invalid_payload())
    res = ansible.module('fleetops.runbook.notify', notify(hook, state, severity='critical', text='hi'))
    assert_clean_failure(res, 'HTTP 400', 'invalid_payload')
    assert len(hook.requests) == 1


def test_unreachable_webhook_is_retried_then_reported(ansible, hook, state):
    closed = 'http://127.0.0.1:%d/services/T/B/x' % slack_free_port()
    res = ansible.module('fleetops.runbook.notify', notify(
        hook, state, severity='info', text='hi',
        slack={'webhook_url': closed, 'retries': 1, 'backoff': 0.1}))
    assert_clean_failure(res, 'cannot reach the webhook', 'gave up after 2 attempts')


def slack_free_port():
    from .smtp_sink import free_port
    return free_port()


# --- de-duplication -----------------------------------------------------------------------------

def test_same_alert_is_not_repeated_within_the_window(ansible, hook, state):
    args = notify(hook, state, results=FLEET)
    first = ansible.module('fleetops.runbook.notify', args)
    second = ansible.module('fleetops.runbook.notify', args)
    assert first['sent'] == ['slack'] and first['changed'] is True
    assert second['sent'] == [] and second['suppressed'] == ['slack'] and second['changed'] is False
    assert second['key'] == first['key']
    assert len(hook.requests) == 1
    # New findings make a new alert; a changed measurement of the same finding does not.
    changed_value = dict(FLEET, db1=result('CRITICAL', ('disk', '/var/lib/postgresql', 98, 'CRITICAL')))
    third = ansible.module('fleetops.runbook.notify', notify(hook, state, results=changed_value))
    assert third['suppressed'] == ['slack'], third
    worse = dict(FLEET, web2=result('CRITICAL', ('memory', None, 95, 'CRITICAL')))
    fourth = ansible.module('fleetops.runbook.notify', notify(hook, state, results=worse))
    assert fourth['sent'] == ['slack'] and fourth['key'] != first['key']
    assert len(hook.requests) == 2
    # The state is private and holds no secret.
    mode = stat.S_IMODE(os.stat(state).st_mode)
    assert mode == 0o600, oct(mode)
    assert stat.S_IMODE(os.stat(os.path.dirname(state)).st_mode) == 0o700
    text = open(state).read()
    assert SECRET not in text and first['key'] in text


def test_window_zero_and_explicit_key(ansible, hook, state):
    tasks = [
        {'name': 'a', 'fleetops.runbook.notify': notify(hook, state, severity='info', text='one', key='k1')},
        {'name': 'b', 'fleetops.runbook.notify': notify(hook, state, severity='info', text='two', key='k1')},
        {'name': 'c', 'fleetops.runbook.notify': notify(hook, state, severity='info', text='two', key='k1',
                                                        dedup_window=0)},
    ]
    run = ansible.tasks(tasks)
    assert run.rc == 0, run
    assert run.task('a')['sent'] == ['slack']
    assert run.task('b')['suppressed'] == ['slack']
    assert run.task('c')['sent'] == ['slack']
    assert len(hook.requests) == 2


def test_whole_fleet_sends_one_message_not_one_per_host(ansible, hook, state, tmp_path):
    hosts = dict(('node%02d' % i, {'ansible_connection': 'local',
                                   'ansible_python_interpreter': '{{ ansible_playbook_python }}'})
                 for i in range(12))
    inventory = tmp_path / 'hosts.yml'
    inventory.write_text(yaml.safe_dump({'all': {'hosts': hosts}}))
    fleet = dict((h, result('CRITICAL', ('disk', '/', 99, 'CRITICAL'))) for h in hosts)
    # Every host runs the task (no run_once): the lock and the state let one of them send.
    run = ansible.tasks([{'name': 'notify', 'fleetops.runbook.notify': notify(hook, state, results=fleet)}],
                        hosts='all', inventory=inventory)
    assert run.rc == 0, run
    assert len(hook.requests) == 1
    sent = [run.task('notify', host=h)['sent'] for h in hosts]
    assert sent.count(['slack']) == 1 and sent.count([]) == 11
    sections = hook.payloads[0]['attachments'][0]['blocks']
    assert len(sections) == 1 and sections[0]['text']['text'].count('node') == 12
    assert hook.payloads[0]['text'].count('node') == 10


# --- nothing to say, check mode -----------------------------------------------------------------

def test_all_ok_sends_nothing_unless_a_digest_is_asked(ansible, hook, state):
    healthy = {'web2': FLEET['web2'], 'web3': FLEET['web2']}
    quiet = ansible.module('fleetops.runbook.notify', notify(hook, state, results=healthy))
    assert quiet['changed'] is False and quiet['sent'] == [] and quiet['status'] == 'OK', quiet
    assert hook.requests == []
    digest = ansible.module('fleetops.runbook.notify', notify(hook, state, results=healthy, ok_digest=True))
    assert digest['sent'] == ['slack'] and digest['severity'] == 'info', digest
    assert hook.payloads[0]['text'] == 'INFO: Daily checks All 2 hosts OK.'
    assert hook.payloads[0]['attachments'][0]['color'] == '#4A90D9'


def test_check_mode_sends_nothing_and_shows_the_message(ansible, hook, state, sink):
    args = notify(hook, state, results=FLEET, channels=None,
                  mail={'to': ['oncall@example.com'], 'host': '127.0.0.1', 'port': sink.port})
    res = ansible.module('fleetops.runbook.notify', args, check=True)
    assert res['changed'] is False and res['sent'] == [], res
    assert res['would_send'] == ['slack', 'mail']
    assert res['notification']['slack']['attachments'][0]['color'] == '#D0021B'
    assert res['notification']['mail']['subject'].startswith('[CRITICAL] Daily checks')
    assert hook.requests == [] and sink.messages == []
    assert not os.path.exists(os.path.dirname(state))
    # Once sent for real, check mode reports what de-duplication would hold back.
    ansible.module('fleetops.runbook.notify', args)
    again = ansible.module('fleetops.runbook.notify', args, check=True)
    assert again['would_send'] == [] and again['suppressed'] == ['slack', 'mail'], again


# --- mail ---------------------------------------------------------------------------------------

def test_critical_goes_to_slack_and_mail(ansible, hook, state, sink):
    res = ansible.module('fleetops.runbook.notify', notify(
        hook, state, results=FLEET, channels=None, report='/srv/reports/daily_checks.html',
        mail={'to': ['oncall@example.com', 'dba@example.com'], 'sender': 'alerts@example.com',
              'host': '127.0.0.1', 'port': sink.port, 'subject_prefix': '[prod]'}))
    assert res['sent'] == ['slack', 'mail'], res
    assert len(hook.requests) == 1 and len(sink.messages) == 1
    record = sink.messages[0]
    assert record['mail_from'] == 'alerts@example.com'
    assert record['rcpt_tos'] == ['oncall@example.com', 'dba@example.com']
    mail = sink.parsed()
    assert mail['Subject'] == '[prod] [CRITICAL] Daily checks - 2 of 3 hosts need attention (1 CRITICAL, 1 WARNING)'
    assert mail['X-Fleetops-Severity'] == 'critical' and mail['X-Fleetops-Alert-Key'] == res['key']
    assert res['delivery']['mail']['message_id'] == mail['Message-ID']
    body = mail.get_content().replace('\r\n', '\n')
    assert 'Report: /srv/reports/daily_checks.html' in body
    assert 'disk /var/lib/postgresql CRITICAL on 1 host\n  - db1: disk /var/lib/postgresql is 97%\n' in body
    assert 'memory WARNING on 1 host\n  - web1: memory is 83%\n' in body
    assert body.index('disk /var/lib/postgresql CRITICAL') < body.index('memory WARNING')
    assert 'web2' not in body
    assert 'Report: /srv/reports/daily_checks.html' in hook.payloads[0]['blocks'][1]['text']['text']


def test_mail_over_starttls_with_login(ansible, hook, state, tmp_path):
    key, cert = tmp_path / 'key.pem', tmp_path / 'cert.pem'
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
                    '-subj', '/CN=localhost', '-keyout', str(key), '-out', str(cert)],
                   check=True, capture_output=True)
    server = SmtpSink(certfile=str(cert), keyfile=str(key), user='alerts', password='s3cret-pw').start()
    try:
        base = {'to': ['oncall@example.com'], 'host': '127.0.0.1', 'port': server.port,
                'starttls': True, 'validate_certs': False, 'username': 'alerts'}
        run = ansible.tasks([
            {'name': 'good', 'fleetops.runbook.notify': notify(
                hook, state, channels=['mail'], severity='critical', text='x',
                mail=dict(base, password='s3cret-pw'))},
            {'name': 'bad', 'ignore_errors': True, 'fleetops.runbook.notify': notify(
                hook, state, channels=['mail'], severity='critical', text='y',
                mail=dict(base, password='wrong-pw'))},
        ], verbosity=3)
        assert run.task('good')['sent'] == ['mail'], run
        assert_clean_failure(run.task('bad'), 'mail.username', 'refused the login')
        assert [m['authenticated_as'] for m in server.messages] == ['alerts']
        assert server.messages[0]['tls'] is True
        # smtplib tries each mechanism the sink offers before giving up.
        outcomes = [a['success'] for a in server.auth_attempts]
        assert outcomes[0] is True and len(outcomes) >= 2 and not any(outcomes[1:]), outcomes
        assert all(a['tls'] for a in server.auth_attempts)
        assert 's3cret-pw' not in run.stdout + run.stderr
        assert 'wrong-pw' not in run.stdout + run.stderr
    finally:
        server.stop()


# --- bad input ----------------------------------------------------------------------------------

BAD = [
    ('unknown severity', {'severity': 'urgent', 'text': 'x'}, ['severity', 'urgent']),
    ('malformed url', {'severity': 'info', 'text': 'x', 'slack': {'webhook_url': 'hooks slack com'}},
     ['slack.webhook_url', 'malformed']),
    ('ftp url', {'severity': 'info', 'text': 'x', 'slack': {'webhook_url': 'ftp://127.0.0.1/services/x'}},
     ['slack.webhook_url', "scheme 'ftp'"]),
    ('no host', {'severity': 'info', 'text': 'x', 'slack': {'webhook_url': 'https:///services/x'}},
     ['slack.webhook_url', 'no host']),
    ('http refused', {'severity': 'info', 'text': 'x', 'slack': {'allow_insecure_http': False}},
     ['slack.webhook_url', 'plain http is refused']),
    ('no text nor results', {'severity': 'info'}, ['text or results']),
    ('text without severity', {'text': 'x'}, ['severity', 'required']),
    ('bad results', {'results': 'all good'}, ['results', 'got a string']),
    ('bad status', {'results': {'db1': {'status': 'BROKEN'}}}, ['results[db1].status', 'BROKEN']),
    ('mail without recipients', {'severity': 'critical', 'text': 'x', 'channels': None},
     ['mail.to', 'required']),
    ('bad routing', {'severity': 'info', 'text': 'x', 'routing': {'info': ['pager']}},
     ['routing.info', 'pager']),
    ('negative window', {'severity': 'info', 'text': 'x', 'dedup_window': -1}, ['dedup_window']),
    ('infinite mail timeout', {'severity': 'info', 'text': 'x', 'mail': {'timeout': float('inf')}},
     ['mail.timeout', 'finite']),
    ('nan mail timeout', {'severity': 'info', 'text': 'x', 'mail': {'timeout': float('nan')}},
     ['mail.timeout', 'finite']),
    ('huge mail timeout', {'severity': 'info', 'text': 'x', 'mail': {'timeout': 1e300}},
     ['mail.timeout', 'at most 86400']),
    ('nan slack timeout', {'severity': 'info', 'text': 'x', 'slack': {'timeout': float('nan')}},
     ['slack.timeout', 'finite']),
    ('infinite backoff', {'severity': 'info', 'text': 'x', 'slack': {'backoff': float('inf')}},
     ['slack.backoff', 'finite']),
]


def test_bad_input_fails_clearly_before_sending(ansible, hook, state):
    tasks = [{'name': name, 'ignore_errors': True, 'fleetops.runbook.notify': notify(hook, state, **args)}
             for name, args, words in BAD]
    run = ansible.tasks(tasks, verbosity=3)
    for name, args, words in BAD:
        assert_clean_failure(run.task(name), *words)
    assert hook.requests == []
    assert not os.path.exists(state)
    assert SECRET not in run.stdout + run.stderr


def test_webhook_url_never_shown(ansible, hook, state):
    hook.answer(slack.invalid_payload())
    run = ansible.tasks([
        {'name': 'fails', 'ignore_errors': True,
         'fleetops.runbook.notify': notify(hook, state, severity='info', text='x')},
        {'name': 'works', 'fleetops.runbook.notify': notify(hook, state, severity='info', text='y')},
    ], verbosity=4, callback='ansible.builtin.default')
    assert run.rc == 0, run
    assert 'invalid_payload' in run.stdout
    assert SECRET not in run.stdout + run.stderr
    assert len(hook.requests) == 2


# --- the state file is never destroyed --------------------------------------------------------

NOT_OURS = [
    ('not json', '{"half": ', 'is not JSON'),
    ('someone else\'s json', '{"settings": {"colour": "blue"}}', 'without the notify state marker'),
    ('a system file', 'root:x:0:0:root:/root:/bin/bash\n', 'is not JSON'),
]


@pytest.mark.parametrize('check', [False, True], ids=['run', 'check'])
def test_a_file_that_is_not_our_state_is_refused_untouched(ansible, hook, tmp_path, check):
    paths = {}
    for name, text, words in NOT_OURS:
        path = tmp_path / ('%s.json' % name.replace(' ', '_').replace("'", ''))
        path.write_text(text)
        os.chmod(str(path), 0o644)
        paths[name] = (path, os.stat(str(path)))
    tasks = [{'name': name, 'ignore_errors': True, 'fleetops.runbook.notify': notify(
        hook, str(paths[name][0]), severity='critical', text='disk full')} for name, text, words in NOT_OURS]
    run = ansible.tasks(tasks, check=check)
    for name, text, words in NOT_OURS:
        path, before = paths[name]
        assert_clean_failure(run.task(name), 'state_path', str(path), words, 'left untouched')
        after = os.stat(str(path))
        assert path.read_text() == text
        assert (after.st_ino, after.st_mode, after.st_size, after.st_mtime_ns) == (
            before.st_ino, before.st_mode, before.st_size, before.st_mtime_ns)
    # Nothing renamed aside, no lock or temporary file left beside them, nothing sent.
    assert sorted(os.listdir(str(tmp_path))) == sorted(p.name for p, st in paths.values())
    assert hook.requests == []


@pytest.mark.parametrize('check', [False, True], ids=['run', 'check'])
def test_devices_fifos_and_directories_are_refused_at_once(ansible, hook, tmp_path, check):
    fifo = tmp_path / 'fifo.json'
    os.mkfifo(str(fifo))
    directory = tmp_path / 'dir.json'
    directory.mkdir()
    link = tmp_path / 'link.json'
    link.symlink_to('/dev/zero')
    cases = [('dev zero', '/dev/zero', 'is a character device'), ('fifo', str(fifo), 'is a FIFO'),
             ('directory', str(directory), 'is a directory'),
             ('symlink', str(link), 'is a symbolic link to /dev/zero')]
    tasks = [{'name': name, 'ignore_errors': True, 'fleetops.runbook.notify': notify(
        hook, path, severity='critical', text='disk full')} for name, path, words in cases]
    # The timeout only guards against a hang; the assertions are on what came back.
    run = ansible.tasks(tasks, check=check, timeout=600)
    for name, path, words in cases:
        assert_clean_failure(run.task(name), 'state_path', path, words)
    assert sorted(os.listdir(str(tmp_path))) == ['dir.json', 'fifo.json', 'link.json']
    assert os.listdir(str(directory)) == []
    assert hook.requests == []


def test_state_of_the_previous_version_is_still_used(ansible, hook, state):
    args = notify(hook, state, severity='critical', text='disk full', key='disk-db1')
    os.makedirs(os.path.dirname(state), mode=0o700)
    # What the previous version wrote after sending this alert to Slack.
    with open(state, 'w') as handle:
        json.dump({'version': 1, 'alerts': {'disk-db1': {
            'severity': 'critical', 'title': 'Daily checks', 'sent': {'slack': 4102444800.0}}}}, handle)
    res = ansible.module('fleetops.runbook.notify', args)
    assert res['suppressed'] == ['slack'] and res['sent'] == [], res
    assert hook.requests == []
    res = ansible.module('fleetops.runbook.notify', dict(args, key='other'))
    assert res['sent'] == ['slack'], res
    data = json.load(open(state))
    assert data['format'] == 'fleetops.runbook.notify/state' and data['version'] == 1
    assert set(data['alerts']) == {'disk-db1', 'other'}


# --- mail login needs TLS -------------------------------------------------------------------------

def test_mail_login_without_tls_is_refused_unless_allowed_by_name(ansible, hook, state):
    server = SmtpSink(user='alerts', password='plain-pw').start()
    try:
        base = {'to': ['oncall@example.com'], 'host': '127.0.0.1', 'port': server.port,
                'username': 'alerts', 'password': 'plain-pw'}
        run = ansible.tasks([
            {'name': 'refused', 'ignore_errors': True, 'fleetops.runbook.notify': notify(
                hook, state, channels=['mail'], severity='critical', text='x', mail=base)},
            {'name': 'allowed', 'fleetops.runbook.notify': notify(
                hook, state, channels=['mail'], severity='critical', text='y',
                mail=dict(base, allow_plaintext_login=True))},
        ], verbosity=3)
        assert_clean_failure(run.task('refused'), 'mail.username', 'mail.allow_plaintext_login', 'clear text')
        assert run.task('allowed')['sent'] == ['mail'], run
        # The refused task never reached the relay: one session, the allowed one.
        assert [a['success'] for a in server.auth_attempts] == [True]
        assert [(m['authenticated_as'], m['tls']) for m in server.messages] == [('alerts', False)]
        assert 'plain-pw' not in run.stdout + run.stderr
    finally:
        server.stop()
