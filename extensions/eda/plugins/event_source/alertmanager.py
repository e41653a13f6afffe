# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""fleetops.runbook.alertmanager: an ansible-rulebook event source for Prometheus Alertmanager.

Receives Alertmanager's webhook (payload version 4) on ``POST /alerts`` and puts one event per
alert on the rulebook's queue: ``{"alert": <the alert>, "payload": <the notification without its
alerts>}``.

Arguments (all optional but the token):

``host``
    Address to listen on (default ``127.0.0.1``). Listen on another address only behind a
    firewall that lets Alertmanager alone reach it.
``port``
    TCP port (default ``5050``).
``token`` / ``token_file``
    The bearer token Alertmanager sends (``http_config.authorization.credentials`` or
    ``credentials_file``); ``token_file`` is read once at start, surrounding white space stripped.
    One of them is required: the source does not start without a token.
``hmac_secret`` / ``hmac_secret_file``
    When set, a request must also carry ``hmac_header`` with ``sha256=<hex HMAC-SHA256 of the
    body>`` (for a signing proxy in front of the source; Alertmanager itself does not sign).
``hmac_header``
    Name of the signature header (default ``X-Fleetops-Signature``).
``throttle_seconds``
    An alert (same fingerprint and status) becomes at most one event within this many seconds
    (default ``3600``; ``0`` turns the throttle off). Alertmanager repeats a firing alert every
    ``repeat_interval`` and on every change of its group.
``max_body_bytes``
    Largest request body accepted (default 1 MiB); larger ones are answered 413.

Answers: ``202`` with ``{"accepted": n, "throttled": m}``; ``400`` for a body that is not an
Alertmanager notification (the reason in the answer); ``401`` without a valid token or signature
(nothing else said); ``408`` for a body that does not arrive within 30 seconds; ``404`` for another path; ``405`` for another method; ``413`` for a body too
large. Refused requests are logged with the client's address, never with what they sent.

The pure logic (authentication, payload checks, the throttle) is in functions of their own, for the
unit tests; aiohttp, which ansible-rulebook depends on, is imported only when the server starts.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import time

LOG = logging.getLogger('fleetops.runbook.alertmanager')

PATH = '/alerts'
DEFAULTS = {
    'host': '127.0.0.1',
    'port': 5050,
    'hmac_header': 'X-Fleetops-Signature',
    'throttle_seconds': 3600,
    'max_body_bytes': 1024 * 1024,
}
# Bounded memory whatever the senders do: the throttle forgets the oldest keys beyond this.
THROTTLE_MAX_KEYS = 10000
# Seconds an authorized sender has to deliver its body (a stalled client does not hold a request open).
READ_TIMEOUT = 30


class ConfigError(ValueError):
    """A source argument is missing or wrong; the message names it."""


class PayloadError(ValueError):
    """The body is not an Alertmanager notification; the message says why (it is sent back)."""


def _secret(args, name):
    """The value of ``name`` or the content of ``name_file``; '' when neither is given."""
    value = args.get(name)
    path = args.get(name + '_file')
    if value not in (None, '') and path not in (None, ''):
        raise ConfigError('alertmanager: give %s or %s_file, not both' % (name, name))
    if path not in (None, ''):
        try:
            with open(str(path), 'r', encoding='utf-8') as handle:
                value = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError('alertmanager: %s_file %s cannot be read: %s'
                              % (name, path, exc.strerror if isinstance(exc, OSError) else exc)) from None
        value = value.strip()
        if not value:
            raise ConfigError('alertmanager: %s_file %s is empty' % (name, path))
        return value
    if value is None:
        return ''
    if not isinstance(value, str):
        raise ConfigError('alertmanager: %s must be a string' % name)
    return value.strip()


def _integer(args, name, low, high):
    value = args.get(name)
    if value in (None, ''):
        return DEFAULTS[name]
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ConfigError('alertmanager: %s must be an integer, got %r' % (name, value)) from None
    if not low <= number <= high:
        raise ConfigError('alertmanager: %s must be between %d and %d, got %d' % (name, low, high, number))
    return number


def parse_args(args):
    """The source's settings from the rulebook's arguments, or ConfigError naming the argument."""
    args = dict(args or {})
    token = _secret(args, 'token')
    if not token:
        raise ConfigError('alertmanager: token or token_file is required (the bearer token '
                          'Alertmanager sends with http_config.authorization)')
    if any(ch.isspace() for ch in token):
        raise ConfigError('alertmanager: the token must not contain white space')
    host = args.get('host')
    host = DEFAULTS['host'] if host in (None, '') else str(host).strip()
    header = args.get('hmac_header')
    header = DEFAULTS['hmac_header'] if header in (None, '') else str(header).strip()
    return {
        'host': host,
        'port': _integer(args, 'port', 1, 65535),
        'token': token,
        'hmac_secret': _secret(args, 'hmac_secret'),
        'hmac_header': header,
        'throttle_seconds': _integer(args, 'throttle_seconds', 0, 7 * 86400),
        'max_body_bytes': _integer(args, 'max_body_bytes', 1024, 64 * 1024 * 1024),
    }


def authorized(header, token):
    """Whether an Authorization header carries ``Bearer <token>``, compared in constant time."""
    if not isinstance(header, str) or not token:
        return False
    scheme, _sep, credentials = header.strip().partition(' ')
    if scheme.lower() != 'bearer':
        return False
    return hmac.compare_digest(credentials.strip().encode('utf-8'), token.encode('utf-8'))


def signed(body, header, secret):
    """Whether ``header`` is ``sha256=<hex HMAC-SHA256 of body with secret>`` (constant time)."""
    if not isinstance(header, str) or not secret:
        return False
    algorithm, _sep, digest = header.strip().partition('=')
    if algorithm.lower() != 'sha256' or not digest:
        return False
    expected = hmac.new(secret.encode('utf-8'), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(digest.strip().lower().encode('ascii', 'replace'), expected.encode('ascii'))


def fingerprint(alert):
    """Alertmanager's fingerprint of the alert; for a sender that leaves it out, one made of its labels."""
    value = alert.get('fingerprint')
    if isinstance(value, str) and value.strip():
        return value.strip()
    labels = json.dumps(alert.get('labels') or {}, sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(labels.encode('utf-8')).hexdigest()[:16]


def parse_payload(body):
    """The notification in ``body`` (bytes), checked to have the shape Alertmanager sends, or PayloadError."""
    try:
        document = json.loads(body.decode('utf-8'))
    except UnicodeDecodeError:
        raise PayloadError('the body is not UTF-8') from None
    except ValueError as exc:
        raise PayloadError('the body is not JSON: %s' % exc) from None
    if not isinstance(document, dict):
        raise PayloadError('the body must be a JSON object (an Alertmanager notification), got %s'
                           % type(document).__name__)
    alerts = document.get('alerts')
    if not isinstance(alerts, list):
        raise PayloadError('the notification has no "alerts" list')
    for index, alert in enumerate(alerts):
        if not isinstance(alert, dict):
            raise PayloadError('alerts[%d] is not an object' % index)
        if not isinstance(alert.get('labels'), dict):
            raise PayloadError('alerts[%d] has no "labels" object' % index)
        if not isinstance(alert.get('status'), str):
            raise PayloadError('alerts[%d] has no "status"' % index)
        if 'annotations' in alert and not isinstance(alert['annotations'], dict):
            raise PayloadError('alerts[%d]: "annotations" is not an object' % index)
    return document


def split_alerts(document):
    """One event per alert: the alert (with its fingerprint) and the notification around it."""
    envelope = dict((key, value) for key, value in document.items() if key != 'alerts')
    events = []
    for alert in document['alerts']:
        alert = dict(alert)
        alert['fingerprint'] = fingerprint(alert)
        alert.setdefault('annotations', {})
        events.append({'alert': alert, 'payload': envelope})
    return events


class Throttle:
    """At most one event per key within ``window`` seconds; memory bounded by ``max_keys``."""

    def __init__(self, window, clock=time.monotonic, max_keys=THROTTLE_MAX_KEYS):
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._admitted = {}

    def admit(self, key):
        if self.window <= 0:
            return True
        now = self.clock()
        last = self._admitted.get(key)
        if last is not None and now - last < self.window:
            return False
        self._admitted.pop(key, None)
        self._admitted[key] = now
        if len(self._admitted) > self.max_keys:
            self._forget(now)
        return True

    def _forget(self, now):
        for key in [k for k, at in self._admitted.items() if now - at >= self.window]:
            del self._admitted[key]
        # dicts keep insertion order and an admitted key is re-inserted: the first are the oldest
        while len(self._admitted) > self.max_keys:
            del self._admitted[next(iter(self._admitted))]


def throttle_key(alert):
    return '%s/%s' % (alert['fingerprint'], alert.get('status'))


def handle(settings, throttle, method, path, headers, body):
    """The answer to one request, as (status, document, events to queue). ``headers`` is a
    case-insensitive mapping; ``body`` the bytes read (at most max_body_bytes + 1)."""
    if path != PATH:
        return 404, {'error': 'not found: Alertmanager posts to %s' % PATH}, []
    if method != 'POST':
        return 405, {'error': 'method not allowed: POST only'}, []
    if not authorized(headers.get('Authorization'), settings['token']):
        return 401, {'error': 'unauthorized'}, []
    if len(body) > settings['max_body_bytes']:
        return 413, {'error': 'the body is larger than %d bytes' % settings['max_body_bytes']}, []
    if settings['hmac_secret'] and not signed(body, headers.get(settings['hmac_header']), settings['hmac_secret']):
        return 401, {'error': 'unauthorized'}, []
    try:
        document = parse_payload(body)
    except PayloadError as exc:
        return 400, {'error': str(exc)}, []
    events = []
    throttled = 0
    for event in split_alerts(document):
        if throttle.admit(throttle_key(event['alert'])):
            events.append(event)
        else:
            throttled += 1
    return 202, {'accepted': len(events), 'throttled': throttled}, events


async def _read_body(stream, most):
    """At most ``most`` bytes of the body: enough to tell that it is too large, never all of it."""
    chunks = []
    size = 0
    while size < most:
        chunk = await stream.read(most - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b''.join(chunks)


async def _serve(queue, settings):
    from aiohttp import web  # pylint: disable=import-outside-toplevel

    throttle = Throttle(settings['throttle_seconds'])

    async def answer(request):
        body = b''
        if request.method == 'POST' and request.path == PATH and authorized(
                request.headers.get('Authorization'), settings['token']):
            try:
                body = await asyncio.wait_for(_read_body(request.content, settings['max_body_bytes'] + 1),
                                              READ_TIMEOUT)
            except asyncio.TimeoutError:
                LOG.warning('alertmanager: POST %s from %s: no complete body within %d s', request.path,
                            request.remote, READ_TIMEOUT)
                return web.json_response({'error': 'the body did not arrive within %d s' % READ_TIMEOUT},
                                         status=408)
        status, document, events = handle(settings, throttle, request.method, request.path,
                                          request.headers, body)
        if status >= 400:
            LOG.warning('alertmanager: %s %s from %s refused with %d', request.method, request.path,
                        request.remote, status)
        for event in events:
            await queue.put(event)
        headers = {}
        if status == 401:
            headers['WWW-Authenticate'] = 'Bearer'
        elif status == 405:
            headers['Allow'] = 'POST'
        return web.json_response(document, status=status, headers=headers)

    app = web.Application(client_max_size=settings['max_body_bytes'] + 1)
    app.router.add_route('*', '/{tail:.*}', answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings['host'], settings['port'])
    await site.start()
    LOG.info('alertmanager: listening on http://%s:%d%s', settings['host'], settings['port'], PATH)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


async def main(queue, args):
    """ansible-rulebook's entry point."""
    await _serve(queue, parse_args(args))


if __name__ == '__main__':
    # By hand: python alertmanager.py TOKEN [PORT] prints the events it would queue.
    import sys

    class _PrintQueue:
        async def put(self, event):
            print(json.dumps(event, sort_keys=True))

    asyncio.run(main(_PrintQueue(), {'token': sys.argv[1], 'port': sys.argv[2] if len(sys.argv) > 2 else None}))
