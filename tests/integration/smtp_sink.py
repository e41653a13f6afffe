# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An SMTP sink on a loopback address that keeps every message it accepts (aiosmtpd).

Optionally it offers STARTTLS with a given certificate and requires AUTH (PLAIN/LOGIN, only after
STARTTLS) with one user and password, refusing anything else, so a test can prove that a client
really encrypted and authenticated. Each accepted message is recorded with the authenticated
user and whether the session was encrypted.

Used in-process by the integration tests, and as a program by the alerting role's molecule
scenario, where it writes each message as a JSON file into a spool directory:

    python3 smtp_sink.py --port 2525 --cert cert.pem --key key.pem \
        --user relay --password-file /etc/smtp-sink/password --spool /var/spool/smtp-sink
"""

from __future__ import annotations

import argparse
import email
import email.policy
import json
import os
import socket
import ssl
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port(host='127.0.0.1'):
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class _Handler:
    def __init__(self, sink):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.content if isinstance(envelope.content, bytes) else envelope.content.encode()
        self.sink._store({
            'received_at': time.time(),
            'mail_from': envelope.mail_from,
            'rcpt_tos': list(envelope.rcpt_tos),
            'authenticated_as': self.sink.authenticated.get(id(session)),
            'tls': session.ssl is not None,
            'data': raw.decode('utf-8', 'replace'),
        })
        return '250 Message accepted for delivery'


class SmtpSink:
    def __init__(self, host='127.0.0.1', port=None, certfile=None, keyfile=None, user=None,
                 password=None, spool=None):
        self.host = host
        self.port = port or free_port(host)
        self.user = user
        self.password = password
        self.spool = spool
        self.messages = []
        self.auth_attempts = []
        self.authenticated = {}
        self._lock = threading.Lock()
        kwargs = {}
        if certfile:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(certfile, keyfile)
            kwargs.update(tls_context=context, require_starttls=True)
        if user:
            kwargs.update(authenticator=self._authenticate, auth_required=True,
                          auth_require_tls=bool(certfile))
        self._controller = Controller(_Handler(self), hostname=host, port=self.port,
                                      server_hostname='smtp-sink.localhost', **kwargs)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login = auth_data.login.decode('utf-8', 'replace')
        good = login == self.user and auth_data.password.decode('utf-8', 'replace') == self.password
        with self._lock:
            self.auth_attempts.append({'mechanism': mechanism, 'login': login, 'success': good,
                                       'tls': session.ssl is not None})
            if good:
                self.authenticated[id(session)] = login
        return AuthResult(success=good, handled=False)

    def _store(self, record):
        with self._lock:
            self.messages.append(record)
        if self.spool:
            name = os.path.join(self.spool, '%.6f-%d.json' % (record['received_at'], len(self.messages)))
            with open(name + '.tmp', 'w') as handle:
                json.dump(record, handle)
            os.replace(name + '.tmp', name)

    def parsed(self, index=-1):
        return email.message_from_string(self.messages[index]['data'], policy=email.policy.default)

    def start(self):
        self._controller.start()
        return self

    def stop(self):
        self._controller.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--host', default='127.0.0.1')
    parser.add_argument('--port', type=int, default=2525)
    parser.add_argument('--cert')
    parser.add_argument('--key')
    parser.add_argument('--user')
    parser.add_argument('--password-file')
    parser.add_argument('--spool', required=True)
    args = parser.parse_args()
    password = None
    if args.password_file:
        with open(args.password_file) as handle:
            password = handle.read().strip()
    os.makedirs(args.spool, exist_ok=True)
    sink = SmtpSink(args.host, args.port, args.cert, args.key, args.user, password, args.spool).start()
    try:
        while True:
            time.sleep(3600)
    finally:
        sink.stop()


if __name__ == '__main__':
    main()
