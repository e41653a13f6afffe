# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A tiny HTTP(S) server on 127.0.0.1 for the http_check tests, the benchmark and the demo.

Paths:
  /fast             200 with a short text body
  /slow?delay=S     200 after S seconds
  /error            500
  /json             200 with a JSON document ({"status": "ok", "data": {"db": "up"}, ...})
  /flaky?every=N    500 for every N-th request to it (counted per server), 200 otherwise
  /anything else    404
Every request's headers are recorded in ``requests`` (path, method, headers).

    python tests/integration/http_server.py PORT   serves until killed (the demo)
"""

from __future__ import annotations

import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

JSON_DOCUMENT = {'status': 'ok', 'data': {'db': 'up', 'replicas': 2}, 'items': [{'name': 'first'}]}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def log_message(self, *args):
        pass

    def _answer(self, code, body, content_type='text/plain'):
        data = body.encode('utf-8')
        self.send_response(code)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(data)

    def _route(self):
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        length = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(length) if length else b''
        self.server.record(parts.path, self.command, dict(self.headers.items()), body)
        if parts.path == '/fast':
            return self._answer(200, 'hello from fleetops\n')
        if parts.path == '/slow':
            time.sleep(float(query.get('delay', ['1'])[0]))
            return self._answer(200, 'slow but here\n')
        if parts.path == '/error':
            return self._answer(500, 'internal error\n')
        if parts.path == '/json':
            return self._answer(200, json.dumps(JSON_DOCUMENT), 'application/json')
        if parts.path == '/flaky':
            every = int(query.get('every', ['2'])[0])
            count = self.server.count('/flaky')
            return self._answer(500 if count % every == 0 else 200, 'flaky\n')
        return self._answer(404, 'not found\n')

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = _route


class HttpServer(ThreadingHTTPServer):
    """The server, started in a thread on 127.0.0.1 (TLS with ``cert``/``key`` paths)."""

    daemon_threads = True

    def __init__(self, cert=None, key=None, port=0):
        super().__init__(('127.0.0.1', port), _Handler)
        if cert:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(cert), str(key))
            self.socket = context.wrap_socket(self.socket, server_side=True)
        self.port = self.server_address[1]
        self.scheme = 'https' if cert else 'http'
        self.requests = []
        self._counts = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, kwargs={'poll_interval': 0.1}, daemon=True)

    def url(self, path):
        return '%s://127.0.0.1:%d%s' % (self.scheme, self.port, path)

    def record(self, path, method, headers, body):
        with self._lock:
            self.requests.append({'path': path, 'method': method, 'headers': headers, 'body': body})

    def count(self, path):
        with self._lock:
            self._counts[path] = self._counts.get(path, 0) + 1
            return self._counts[path]

    def reset(self):
        with self._lock:
            self.requests = []
            self._counts = {}

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self.shutdown()
        self.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


if __name__ == '__main__':
    server = HttpServer(port=int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print(server.url('/'), flush=True)
    server.serve_forever()
