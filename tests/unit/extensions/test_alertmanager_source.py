# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure logic of the event source fleetops.runbook.alertmanager: arguments, authentication,
signature, payload checks, splitting and the throttle. The server itself runs in
tests/integration/test_eda_rulebook.py under the real ansible-rulebook."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import importlib.util
import json
import os

import pytest

pytestmark = pytest.mark.eda

SOURCE = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'extensions', 'eda', 'plugins',
                      'event_source', 'alertmanager.py')
_spec = importlib.util.spec_from_file_location('fleetops_alertmanager_source', SOURCE)
am = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(am)

TOKEN = 'tok-0123456789'


class Headers(dict):
    """Case-insensitive enough for the tests: keys stored as given, looked up as given."""


def settings(**overrides):
    args = {'token': TOKEN}
    args.update(overrides)
    return am.parse_args(args)


def body(*alerts, **extra):
    document = {'version': '4', 'status': 'firing', 'receiver': 'r', 'groupKey': 'g', 'alerts': list(alerts)}
    document.update(extra)
    return json.dumps(document).encode('utf-8')


def alert(fingerprint='abc123', status='firing', **labels):
    return {'status': status, 'labels': dict({'alertname': 'A'}, **labels), 'annotations': {},
            'fingerprint': fingerprint, 'startsAt': '2026-11-23T03:12:45Z'}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_defaults_listen_on_loopback_port_5050():
    s = settings()
    assert (s['host'], s['port'], s['throttle_seconds'], s['max_body_bytes']) == ('127.0.0.1', 5050, 3600, 1048576)
    assert s['hmac_secret'] == ''


def test_the_token_is_required():
    with pytest.raises(am.ConfigError, match='token or token_file is required'):
        am.parse_args({})
    with pytest.raises(am.ConfigError, match='token or token_file is required'):
        am.parse_args({'token': '  ', 'token_file': ''})


def test_token_file_is_read_and_stripped(tmp_path):
    path = tmp_path / 'token'
    path.write_text(TOKEN + '\n')
    assert am.parse_args({'token_file': str(path)})['token'] == TOKEN
    path.write_text('\n')
    with pytest.raises(am.ConfigError, match='token_file .* is empty'):
        am.parse_args({'token_file': str(path)})
    with pytest.raises(am.ConfigError, match='token_file .*missing.* cannot be read'):
        am.parse_args({'token_file': str(tmp_path / 'missing')})
    with pytest.raises(am.ConfigError, match='give token or token_file, not both'):
        am.parse_args({'token': TOKEN, 'token_file': str(path)})


@pytest.mark.parametrize('name, value, message', [
    ('port', 'http', 'port must be an integer'),
    ('port', 70000, 'port must be between 1 and 65535'),
    ('throttle_seconds', -1, 'throttle_seconds must be between'),
    ('max_body_bytes', 10, 'max_body_bytes must be between'),
])
def test_bad_arguments_are_named(name, value, message):
    with pytest.raises(am.ConfigError, match=message):
        settings(**{name: value})


def test_rendered_strings_become_numbers():
    # ansible-rulebook renders "{{ ... }}" arguments to strings
    s = settings(port='5099', throttle_seconds='0', host='')
    assert (s['port'], s['throttle_seconds'], s['host']) == (5099, 0, '127.0.0.1')


@pytest.mark.parametrize('header, expected', [
    ('Bearer ' + TOKEN, True),
    ('bearer  ' + TOKEN + ' ', True),
    (None, False),
    ('', False),
    ('Bearer', False),
    ('Bearer ' + TOKEN + 'x', False),
    ('Bearer ' + TOKEN[:-1], False),
    ('Basic ' + TOKEN, False),
    (TOKEN, False),
    ('Bearer tök', False),
])
def test_bearer_token(header, expected):
    assert am.authorized(header, TOKEN) is expected


def test_an_empty_token_authorizes_nothing():
    assert am.authorized('Bearer ', '') is False


def test_signature():
    payload = b'{"alerts": []}'
    digest = hmac.new(b'secret', payload, hashlib.sha256).hexdigest()
    assert am.signed(payload, 'sha256=' + digest, 'secret')
    assert am.signed(payload, 'SHA256=' + digest.upper(), 'secret')
    assert not am.signed(payload + b' ', 'sha256=' + digest, 'secret')
    assert not am.signed(payload, 'sha1=' + digest, 'secret')
    assert not am.signed(payload, digest, 'secret')
    assert not am.signed(payload, None, 'secret')
    assert not am.signed(payload, 'sha256=ü', 'secret')


@pytest.mark.parametrize('raw, message', [
    (b'{"alerts": [', 'the body is not JSON'),
    (b'\xff\xfe', 'the body is not UTF-8'),
    (b'[]', 'must be a JSON object'),
    (b'{}', 'no "alerts" list'),
    (b'{"alerts": {}}', 'no "alerts" list'),
    (b'{"alerts": [1]}', r'alerts\[0\] is not an object'),
    (b'{"alerts": [{"status": "firing"}]}', r'alerts\[0\] has no "labels" object'),
    (b'{"alerts": [{"labels": {}}]}', r'alerts\[0\] has no "status"'),
    (b'{"alerts": [{"labels": {}, "status": "firing", "annotations": []}]}', 'annotations'),
])
def test_bad_payloads_say_why(raw, message):
    with pytest.raises(am.PayloadError, match=message):
        am.parse_payload(raw)


def test_one_event_per_alert_with_the_notification_around_it():
    document = am.parse_payload(body(alert('f1', instance='web1:9100'), alert('', instance='db1:9100')))
    events = am.split_alerts(document)
    assert [e['alert']['labels']['instance'] for e in events] == ['web1:9100', 'db1:9100']
    assert events[0]['alert']['fingerprint'] == 'f1'
    # a sender without fingerprints still gets a stable one, made of the labels
    assert len(events[1]['alert']['fingerprint']) == 16
    assert events[1]['alert']['fingerprint'] == am.split_alerts(document)[1]['alert']['fingerprint']
    assert events[0]['payload'] == {'version': '4', 'status': 'firing', 'receiver': 'r', 'groupKey': 'g'}


def test_throttle_one_event_per_window():
    clock = Clock()
    throttle = am.Throttle(60, clock=clock)
    assert [throttle.admit('a'), throttle.admit('a'), throttle.admit('b'), throttle.admit('a')] == [True, False, True, False]
    clock.now += 59.5
    assert throttle.admit('a') is False
    clock.now += 1
    assert throttle.admit('a') is True
    assert throttle.admit('a') is False


def test_throttle_zero_admits_everything():
    throttle = am.Throttle(0)
    assert [throttle.admit(key) for key in 'aaa'] == [True, True, True]


def test_throttle_memory_is_bounded():
    clock = Clock()
    throttle = am.Throttle(60, clock=clock, max_keys=3)
    for key in 'abcde':
        assert throttle.admit(key)
        clock.now += 1
    assert len(throttle._admitted) == 3
    assert throttle.admit('a') is True  # forgotten, the oldest
    assert throttle.admit('e') is False


def answer(s, throttle, method='POST', path='/alerts', authorization='Bearer ' + TOKEN, raw=None, headers=None):
    h = Headers(headers or {})
    if authorization is not None:
        h['Authorization'] = authorization
    return am.handle(s, throttle, method, path, h, raw if raw is not None else body(alert()))


def test_requests_are_answered_in_order_path_method_token_size_signature_payload():
    s = settings(max_body_bytes=2048, hmac_secret='secret')
    t = am.Throttle(60)
    assert answer(s, t, path='/')[:2] == (404, {'error': 'not found: Alertmanager posts to /alerts'})
    assert answer(s, t, method='GET')[0] == 405
    assert answer(s, t, authorization=None)[:2] == (401, {'error': 'unauthorized'})
    assert answer(s, t, authorization='Bearer nope', raw=b'x' * 5000)[0] == 401
    assert answer(s, t, raw=b'x' * 2049)[0] == 413
    assert answer(s, t)[:2] == (401, {'error': 'unauthorized'})  # no signature
    raw = body(alert(), alert('other'))
    signature = 'sha256=' + hmac.new(b'secret', raw, hashlib.sha256).hexdigest()
    status, document, events = answer(s, t, raw=raw, headers={'X-Fleetops-Signature': signature})
    assert (status, document, len(events)) == (202, {'accepted': 2, 'throttled': 0}, 2)
    status, document, events = answer(s, t, raw=raw, headers={'X-Fleetops-Signature': signature})
    assert (status, document, events) == (202, {'accepted': 0, 'throttled': 2}, [])
    bad = b'{"alerts": 1}'
    signature = 'sha256=' + hmac.new(b'secret', bad, hashlib.sha256).hexdigest()
    assert answer(s, t, raw=bad, headers={'X-Fleetops-Signature': signature})[:2] == \
        (400, {'error': 'the notification has no "alerts" list'})


def test_a_resolved_alert_is_not_throttled_by_its_firing():
    s = settings()
    t = am.Throttle(60)
    assert answer(s, t, raw=body(alert('f')))[1] == {'accepted': 1, 'throttled': 0}
    assert answer(s, t, raw=body(alert('f', status='resolved')))[1] == {'accepted': 1, 'throttled': 0}


class Stream:
    """Hands out the body in small pieces, as a network does."""

    def __init__(self, data, piece=3):
        self.data = data
        self.piece = piece
        self.read_sizes = []

    async def read(self, n):
        self.read_sizes.append(n)
        chunk, self.data = self.data[:min(n, self.piece)], self.data[min(n, self.piece):]
        return chunk


def test_the_body_is_read_whole_but_never_beyond_the_limit():
    assert asyncio.run(am._read_body(Stream(b'0123456789'), 100)) == b'0123456789'
    big = Stream(b'x' * 10000)
    assert asyncio.run(am._read_body(big, 11)) == b'x' * 11
    assert max(big.read_sizes) <= 11 and sum(min(n, 3) for n in big.read_sizes) == 11
