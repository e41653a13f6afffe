# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A local stand-in for a Slack incoming webhook, on 127.0.0.1.

It answers as Slack documents for incoming webhooks: ``200 ok``; ``429 rate_limited`` with a
``Retry-After`` header; ``400 invalid_payload`` (also for a body that is not a JSON object with
``text``, ``blocks`` or ``attachments``); ``404 no_service`` for a wrong path; ``500``. Tests queue the answers they
want with :meth:`SlackReceiver.answer`; when the queue is empty it answers ``200 ok``. Every request
is recorded with its arrival time.

Run it by hand with ``python tests/integration/slack_receiver.py`` to watch messages arrive.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WEBHOOK_PATH = '/services/T0FLEETOPS/B0RUNBOOK/test-webhook-secret'

Request = collections.namedtuple('Request', 'at path headers body json')
Answer = collections.namedtuple('Answer', 'status text headers')


def ok():
    return Answer(200, 'ok', {})


def rate_limited(retry_after=1):
    headers = {} if retry_after is None else {'Retry-After': str(retry_after)}
    return Answer(429, 'rate_limited', headers)


def invalid_payload():
    return Answer(400, 'invalid_payload', {})


def server_error():
    return Answer(500, 'internal_error', {})


class _Handler(BaseHTTPRequestHandler):
    server_version = 'slack-receiver'
    sys_version = ''

    def log_message(self, *args):  # keep test output clean
        pass

    def do_POST(self):
        receiver = self.server.receiver
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length)
        try:
            document = json.loads(body.decode('utf-8'))
        except ValueError:
            document = None
        receiver._record(Request(time.monotonic(), self.path, dict(self.headers), body, document))
        if self.path != receiver.path:
            answer = Answer(404, 'no_service', {})
        elif not isinstance(document, dict) or not (document.get('text') or document.get('blocks')
                                                    or document.get('attachments')):
            answer = invalid_payload()
        else:
            answer = receiver._next_answer()
        data = answer.text.encode('utf-8')
        self.send_response(answer.status)
        self.send_header('Content-Type', 'text/html')
        self.send_header('Content-Length', str(len(data)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class SlackReceiver:
    """A threaded HTTP server on 127.0.0.1 and a free port."""

    def __init__(self, path=WEBHOOK_PATH, port=0):
        self.path = path
        self._lock = threading.Lock()
        self._answers = collections.deque()
        self.requests = []
        self._server = ThreadingHTTPServer(('127.0.0.1', port), _Handler)
        self._server.daemon_threads = True
        self._server.receiver = self
        self._thread = threading.Thread(target=self._server.serve_forever, name='slack-receiver',
                                        daemon=True)

    @property
    def url(self):
        return 'http://127.0.0.1:%d%s' % (self._server.server_address[1], self.path)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def answer(self, *answers):
        """Queue the next answers (Answer tuples)."""
        with self._lock:
            self._answers.extend(answers)

    def reset(self):
        with self._lock:
            self._answers.clear()
            self.requests = []

    def _next_answer(self):
        with self._lock:
            return self._answers.popleft() if self._answers else ok()

    def _record(self, request):
        with self._lock:
            self.requests.append(request)

    @property
    def payloads(self):
        return [r.json for r in self.requests]

    def gaps(self):
        """Seconds between consecutive requests."""
        times = [r.at for r in self.requests]
        return [b - a for a, b in zip(times, times[1:])]


if __name__ == '__main__':
    receiver = SlackReceiver().start()
    print('Slack receiver listening: %s' % receiver.url, flush=True)
    seen = 0
    try:
        while True:
            time.sleep(0.5)
            for request in receiver.requests[seen:]:
                print(json.dumps(request.json, indent=2, ensure_ascii=False), flush=True)
            seen = len(receiver.requests)
    except KeyboardInterrupt:
        receiver.stop()
