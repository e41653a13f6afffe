# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Throwaway redis-server processes on free loopback ports, for the redis_check tests.

Each server runs in the foreground (``--daemonize no``) in its own directory, without snapshots
(``--save ''``), and is stopped through its own process handle.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

# Hang guard for a server to come up or reach a state; never a measured time.
WAIT = 60


def free_port():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def encode(*args):
    out = [b'*%d\r\n' % len(args)]
    for arg in args:
        data = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b'$%d\r\n%s\r\n' % (len(data), data))
    return b''.join(out)


class RedisServer:
    """One redis-server on 127.0.0.1 and a free port, with the given extra arguments."""

    def __init__(self, directory, *args, password=None):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.args = list(args)
        self.password = password
        self.proc = None
        self.port = None

    def start(self):
        binary = shutil.which('redis-server') or '/usr/bin/redis-server'
        for dummy in range(5):
            self.port = free_port()
            cmd = [binary, '--port', str(self.port), '--bind', '127.0.0.1', '--save', '',
                   '--appendonly', 'no', '--daemonize', 'no', '--dir', str(self.directory)] + self.args
            if self.password:
                cmd += ['--requirepass', self.password]
            log = open(self.directory / 'redis.log', 'ab')
            self.proc = subprocess.Popen(cmd, cwd=str(self.directory), stdout=log, stderr=subprocess.STDOUT)
            log.close()
            if self._wait_ready():
                return self
            self.stop()
        raise RuntimeError('redis-server did not start: %s' % (self.directory / 'redis.log').read_text()[-2000:])

    def _wait_ready(self):
        end = time.monotonic() + WAIT
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return False
            try:
                if self.call('PING') in (b'+PONG', b'-NOAUTH Authentication required.'):
                    return True
            except OSError:
                pass
            time.sleep(0.1)
        return False

    def _connect(self):
        sock = socket.create_connection(('127.0.0.1', self.port), timeout=10)
        if self.password:
            sock.sendall(encode('AUTH', self.password))
            self._read_lines(sock, 1)
        return sock

    @staticmethod
    def _read_lines(sock, count):
        data = b''
        while data.count(b'\r\n') < count:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data

    def call(self, *args):
        """A command whose reply is one line (status, error or integer): that line."""
        with self._connect() as sock:
            sock.sendall(encode(*args))
            return self._read_lines(sock, 1).split(b'\r\n')[0]

    def info(self, section):
        with self._connect() as sock:
            sock.sendall(encode('INFO', section))
            head = self._read_lines(sock, 1)
            size = int(head.split(b'\r\n', 1)[0][1:])
            while len(head) < len(head.split(b'\r\n', 1)[0]) + 2 + size:
                head += sock.recv(65536)
            body = head.split(b'\r\n', 1)[1][:size].decode()
        return dict(line.split(':', 1) for line in body.splitlines() if ':' in line and not line.startswith('#'))

    def fill(self, keys, size):
        """SET ``keys`` keys of ``size`` bytes each, pipelined."""
        value = b'x' * size
        with self._connect() as sock:
            sock.sendall(b''.join(encode('SET', 'fill:%d' % n, value) for n in range(keys)))
            self._read_lines(sock, keys)

    def wait_for(self, section, key, value):
        end = time.monotonic() + WAIT
        while time.monotonic() < end:
            if self.info(section).get(key) == value:
                return
            time.sleep(0.2)
        raise RuntimeError('INFO %s never showed %s:%s' % (section, key, value))

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
