# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rulebook fleetops.runbook.incident_response run by the real ansible-rulebook (Java from
Debian), its source fleetops.runbook.alertmanager fed with HTTP posts shaped as Alertmanager's
webhook (version 4) sends them, the playbook run on two inventory hosts reached with the local
connection, and the notifications sent to a local Slack receiver.

ansible-rulebook runs one action at a time (the ruleset's sequential strategy): once the message of
an alert posted later has arrived, every alert posted before it has been dealt with. The tests
use that instead of waiting a while before saying that something did not happen.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest
import yaml

from .harness import ansible_env

pytestmark = pytest.mark.eda

TOKEN = 'eda-test-token-0123456789abcdef'
# Hang guards only: a run that takes longer is broken, not slow.
START_GUARD = 300
RUN_GUARD = 600
_canaries = iter(range(1, 1000))


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def wait_for(what, predicate, guard, log=None):
    deadline = time.monotonic() + guard
    while not predicate():
        if time.monotonic() > deadline:
            tail = log.read_text()[-6000:] if log and log.exists() else ''
            pytest.fail('hang guard: %s did not happen within %d s\n%s' % (what, guard, tail))
        time.sleep(0.5)


@pytest.fixture(scope='module')
def rulebook(tmp_path_factory, receiver):
    missing = [name for name in ('ansible-rulebook', 'java') if shutil.which(name) is None]
    if missing:
        pytest.fail('%s not found: make test-eda installs ansible-rulebook (requirements-dev.txt) '
                    'and Java 17 (openjdk-17-jre-headless)' % ' and '.join(missing))
    work = tmp_path_factory.mktemp('eda')
    token_file = work / 'token'
    token_file.write_text(TOKEN + '\n')
    os.chmod(token_file, 0o600)
    (work / 'logs').mkdir()
    (work / 'logs' / 'app.log').write_text('2026-11-23 03:12:40 ERROR upstream timed out\n')
    local = {'ansible_connection': 'local', 'ansible_python_interpreter': shutil.which('python') or 'python3',
             'ansible_become': False}
    inventory = work / 'inventory.yml'
    inventory.write_text(yaml.safe_dump({'all': {
        'vars': dict(local, **{
            'incident_response_host_dir': str(work / 'host'),
            'incident_response_controller_dir': str(work / 'controller'),
            'incident_response_evidence_collect': ['processes', 'logs'],
            'incident_response_log_paths': [str(work / 'logs' / '*.log')],
            'incident_response_auth_log_paths': [],
            'incident_response_notify_slack': {'webhook_url': receiver.url, 'allow_insecure_http': True},
            'incident_response_notify_routing': {'critical': ['slack'], 'warning': ['slack'], 'info': ['slack']},
            'incident_response_notify_state_path': str(work / 'notify-state.json'),
        }),
        'hosts': {'app1': {}, 'app2': {}},
        'children': {'web': {'hosts': {'app1': {}, 'app2': {}}}},
    }}, sort_keys=False))
    port = free_port()
    variables = work / 'vars.yml'
    variables.write_text(yaml.safe_dump({'fleetops_eda_port': port, 'fleetops_eda_token_file': str(token_file)}))
    log = work / 'ansible-rulebook.log'
    with open(log, 'wb') as out:
        process = subprocess.Popen(
            ['ansible-rulebook', '-i', str(inventory), '-r', 'fleetops.runbook.incident_response',
             '--vars', str(variables)],
            cwd=str(work), env=ansible_env(), stdout=out, stderr=subprocess.STDOUT)

    def listening():
        assert process.poll() is None, 'ansible-rulebook exited:\n' + log.read_text()[-6000:]
        try:
            socket.create_connection(('127.0.0.1', port), timeout=2).close()
            return True
        except OSError:
            return False
    try:
        wait_for('ansible-rulebook listening on port %d' % port, listening, START_GUARD, log)
        yield {'url': 'http://127.0.0.1:%d' % port, 'work': work, 'log': log, 'receiver': receiver}
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def alert(fingerprint, instance=None, alertname='HighErrorRate', severity='critical'):
    labels = {'alertname': alertname, 'severity': severity, 'job': 'shop'}
    if instance is not None:
        labels['instance'] = instance
    return {'status': 'firing', 'labels': labels,
            'annotations': {'summary': 'More than 5 % of the requests to shop fail'},
            'startsAt': '2026-11-23T03:12:45.118Z', 'endsAt': '0001-01-01T00:00:00Z',
            'generatorURL': 'http://prometheus.example:9090/graph?g0.expr=up', 'fingerprint': fingerprint}


def notification(*alerts):
    """A webhook notification as Alertmanager 0.2x sends it (payload version 4)."""
    return {'version': '4', 'groupKey': '{}:{alertname="HighErrorRate"}', 'truncatedAlerts': 0,
            'status': 'firing', 'receiver': 'fleetops-incident-response',
            'groupLabels': {'alertname': 'HighErrorRate'}, 'commonLabels': {'severity': 'critical'},
            'commonAnnotations': {}, 'externalURL': 'http://alertmanager.example:9093',
            'alerts': list(alerts)}


def post(bed, document, token=TOKEN, path='/alerts', authorization=None, body=None):
    headers = {'Content-Type': 'application/json', 'User-Agent': 'Alertmanager/0.27.0'}
    if authorization is not None:
        headers['Authorization'] = authorization
    elif token is not None:
        headers['Authorization'] = 'Bearer ' + token
    data = body if body is not None else json.dumps(document).encode('utf-8')
    request = urllib.request.Request(bed['url'] + path, data=data, headers=headers, method='POST')
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read().decode('utf-8'))
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read().decode('utf-8'))


def incident_id(fingerprint):
    return 'ALERT-%s-20261123031245118' % fingerprint


def messages(bed, fingerprint):
    return [r for r in bed['receiver'].requests if incident_id(fingerprint) in json.dumps(r.json)]


def wait_for_message(bed, fingerprint, count=1):
    wait_for('the notification of %s' % incident_id(fingerprint),
             lambda: len(messages(bed, fingerprint)) >= count, RUN_GUARD, bed['log'])


def drain(bed):
    """Post a canary alert that only notifies and wait for its message: everything posted before
    it has been dealt with (sequential actions)."""
    canary = 'canary%02d' % next(_canaries)
    assert post(bed, notification(alert(canary, instance='not-in-inventory:9100'))) == \
        (202, {'accepted': 1, 'throttled': 0})
    wait_for_message(bed, canary)


def evidence(bed, fingerprint):
    controller = bed['work'] / 'controller' / incident_id(fingerprint)
    return sorted(str(p.relative_to(controller)) for p in controller.glob('*/*.tar.gz'))


def test_without_the_token_nothing_runs(rulebook):
    document = notification(alert('unauth01', instance='app1:9100'))
    refused = [post(rulebook, document, token=None),
               post(rulebook, document, token='wrong-token'),
               post(rulebook, document, authorization='Basic ' + TOKEN),
               post(rulebook, document, authorization=TOKEN)]
    assert refused == [(401, {'error': 'unauthorized'})] * 4
    # the documented path only, POST only
    assert post(rulebook, document, path='/')[0] == 404
    status, answer = post(rulebook, None, body=b'{"alerts": [')
    assert status == 400 and 'not JSON' in answer['error']
    status, answer = post(rulebook, {'alerts': [{'labels': 'x', 'status': 'firing'}]})
    assert (status, answer) == (400, {'error': 'alerts[0] has no "labels" object'})
    status, answer = post(rulebook, None, body=b'{"alerts": [], "pad": "' + b'x' * (2 * 1024 * 1024) + b'"}')
    assert (status, answer) == (413, {'error': 'the body is larger than 1048576 bytes'})
    drain(rulebook)
    assert not (rulebook['work'] / 'controller' / incident_id('unauth01')).exists()
    assert not list((rulebook['work'] / 'host').glob('%s*' % incident_id('unauth01')))
    assert messages(rulebook, 'unauth01') == []
    assert TOKEN not in rulebook['log'].read_text()


def test_one_host_gets_its_evidence_once_and_repeats_are_throttled(rulebook):
    document = notification(alert('4f1c0de2a97b3e55', instance='app1:9100'))
    assert post(rulebook, document) == (202, {'accepted': 1, 'throttled': 0})
    wait_for_message(rulebook, '4f1c0de2a97b3e55')
    # Alertmanager repeats the notification (repeat_interval, group changes)
    assert post(rulebook, document) == (202, {'accepted': 0, 'throttled': 1})
    assert post(rulebook, document) == (202, {'accepted': 0, 'throttled': 1})
    drain(rulebook)
    assert [p.split('/')[0] for p in evidence(rulebook, '4f1c0de2a97b3e55')] == ['app1']
    assert len(list((rulebook['work'] / 'host' / incident_id('4f1c0de2a97b3e55')).glob('evidence-*.tar.gz'))) == 1
    record = json.loads((rulebook['work'] / 'controller' / incident_id('4f1c0de2a97b3e55') / 'incident.json').read_text())
    assert sorted(record['phases']['evidence']) == ['app1']
    assert record['phases']['evidence']['app1']['status'] == 'OK'
    [message] = messages(rulebook, '4f1c0de2a97b3e55')
    text = json.dumps(message.json)
    assert 'HighErrorRate on app1:9100' in text and 'More than 5 % of the requests to shop fail' in text
    assert 'not acted on' not in text


@pytest.mark.parametrize('fingerprint, instance, reason', [
    ('pattern01', 'all:9100', "names the inventory group 'all'"),
    ('pattern02', 'web*', 'not a plain host name'),
    ('pattern03', 'app1,app2', 'not a plain host name'),
    ('pattern04', 'web:9100', "names the inventory group 'web'"),
    ('pattern05', 'app[1:2]', 'not a plain host name'),
    ('pattern06', None, 'the alert has no instance label'),
], ids=['all', 'wildcard', 'list', 'group', 'range', 'no-instance'])
def test_an_alert_naming_no_single_host_touches_none_and_is_notified(rulebook, fingerprint, instance, reason):
    assert post(rulebook, notification(alert(fingerprint, instance=instance))) == (202, {'accepted': 1, 'throttled': 0})
    wait_for_message(rulebook, fingerprint)
    [message] = messages(rulebook, fingerprint)
    text = json.dumps(message.json)
    assert 'not acted on' in text and reason in text.replace('\\"', '"').replace("\\'", "'")
    assert not (rulebook['work'] / 'controller' / incident_id(fingerprint)).exists()
    assert not (rulebook['work'] / 'host' / incident_id(fingerprint)).exists()
