# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small helpers shared by the PostgreSQL integration tests."""

from __future__ import annotations

import threading
import time


def checks_named(result, name):
    return [c for c in result['checks'] if c['name'] == name]


def check(result, name, target=None):
    """The one check called ``name`` (and ``target``, when given) in a module result."""
    found = [c for c in checks_named(result, name) if target is None or c['target'] == target]
    assert len(found) == 1, 'expected one %s/%s check, got %r\nall: %r' % (
        name, target, found, [(c['name'], c['target'], c['status']) for c in result['checks']])
    return found[0]


def create_database(cluster, name):
    """A fresh database (dropped first when a previous run left it)."""
    cluster.execute('DROP DATABASE IF EXISTS %s WITH (FORCE)' % name)
    cluster.execute('CREATE DATABASE %s' % name)
    return name


def wait_until(predicate, timeout=20.0, interval=0.1, what='condition'):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError('timed out waiting for %s' % what)


class Background:
    """Runs one statement on its own connection in a thread (it may block: that is the point)."""

    def __init__(self, cluster, sql, dbname='postgres', user=None):
        self.conn = cluster.connect(user=user, dbname=dbname)
        self.pid = self.conn.get_backend_pid()
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(sql,), daemon=True)
        self.thread.start()

    def _run(self, sql):
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql)
        except Exception as exc:  # pylint: disable=broad-except
            self.error = exc

    def join(self, timeout=30):
        self.thread.join(timeout)
        self.conn.close()
