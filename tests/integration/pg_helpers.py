# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small helpers shared by the PostgreSQL integration tests."""

from __future__ import annotations

import contextlib
import os
import signal
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


def cluster_processes(cluster):
    """PIDs of the cluster's postmaster and of every process it started (backends included)."""
    postmaster = cluster.pid
    assert postmaster, 'the cluster is not running'
    pids = [postmaster]
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % entry) as handle:
                stat = handle.read()
        except OSError:
            continue
        # The command may hold spaces and parentheses: the fields after the last ')' are fixed.
        fields = stat[stat.rindex(')') + 2:].split()
        if int(fields[1]) == postmaster:
            pids.append(int(entry))
    return pids


@contextlib.contextmanager
def frozen(cluster):
    """Every process of the cluster SIGSTOPped for the block, SIGCONTed after whatever happens."""
    pids = cluster_processes(cluster)
    stopped = []
    try:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
                stopped.append(pid)
        yield pids
    finally:
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def waiting_backend(cluster, application_name):
    """The pid of a session of ``application_name`` waiting for a lock, or None."""
    rows = cluster.execute(
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock'",
        (application_name,))
    return rows[0][0] if rows else None


class InBackground:
    """Calls ``function(*args, **kwargs)`` in a thread; ``join()`` returns its result or raises."""

    def __init__(self, function, *args, **kwargs):
        self.result = None
        self.error = None
        self.thread = threading.Thread(target=self._run, args=(function, args, kwargs), daemon=True)
        self.thread.start()

    def _run(self, function, args, kwargs):
        try:
            self.result = function(*args, **kwargs)
        except BaseException as exc:  # pylint: disable=broad-except
            self.error = exc

    def join(self, timeout):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), 'still running after %s s' % timeout
        if self.error is not None:
            raise self.error
        return self.result


class BusyClients:
    """``clients`` connections, each running short write transactions in a loop until stopped.

    Each loop is bounded (``max_transactions``) so a test that forgets to stop it still ends.
    """

    # Separate statements, so each session is also idle in its transaction between them.
    STATEMENTS = ('BEGIN', 'SELECT pg_sleep(0.01)', 'UPDATE {table} SET n = n + 1 WHERE id = {id}',
                  'COMMIT')

    def __init__(self, cluster, dbname, table, clients=4, max_transactions=20000):
        self.stop_event = threading.Event()
        self.counts = [0] * clients
        self.errors = []
        self.threads = []
        for number in range(clients):
            conn = cluster.connect(dbname=dbname)
            statements = [sql.format(table=table, id=number + 1) for sql in self.STATEMENTS]
            thread = threading.Thread(target=self._loop, args=(conn, statements, number, max_transactions),
                                      daemon=True)
            self.threads.append(thread)
        for thread in self.threads:
            thread.start()

    def _loop(self, conn, statements, number, max_transactions):
        try:
            with conn.cursor() as cur:
                while not self.stop_event.is_set() and self.counts[number] < max_transactions:
                    for sql in statements:
                        cur.execute(sql)
                    self.counts[number] += 1
        except Exception as exc:  # pylint: disable=broad-except
            self.errors.append(exc)
        finally:
            conn.close()

    def stop(self):
        self.stop_event.set()
        for thread in self.threads:
            thread.join(60)
        return sum(self.counts)


# Module settings for frozen-server tests. statement_timeout is long enough that the test freezes
# the cluster while the module's statement still waits for the test's lock, whatever the load.
FROZEN_TIMEOUTS = dict(connect_timeout=2, statement_timeout=15000)
# Only a guard against a hang, several times the module's own deadline (connect_timeout +
# statement_timeout + a few seconds): the tests assert what the module returned, never its speed.
FROZEN_HANG_GUARD = 240


def run_frozen(ansible, cluster, task, application_name, lock_sql, dbname='postgres', **kwargs):
    """Run ``task`` (one task, named 'probe') while the test holds a lock (``lock_sql`` in
    ``dbname``) the module's statement then waits for; freeze the whole cluster once it waits,
    and return the task's result. The cluster is thawed and the lock released after.
    ``kwargs`` go to ``ansible.tasks`` (play_vars...)."""
    holder = cluster.connect(dbname=dbname, autocommit=False)
    try:
        holder.cursor().execute(lock_sql)
        run = InBackground(ansible.tasks, [dict(task, name='probe')], timeout=FROZEN_HANG_GUARD, **kwargs)
        try:
            # A run that ended without waiting (it failed early) is returned as it is.
            wait_until(lambda: waiting_backend(cluster, application_name) or not run.thread.is_alive(),
                       timeout=FROZEN_HANG_GUARD, what='%s to wait for the lock' % application_name)
            with frozen(cluster):
                playbook = run.join(FROZEN_HANG_GUARD + 30)
        finally:
            run.thread.join(FROZEN_HANG_GUARD + 30)
    finally:
        holder.rollback()
        holder.close()
    return playbook.task('probe')


def assert_stopped_answering(result, name):
    """``result`` is a module's answer to a frozen server: a status, CRITICAL, unavailable, and
    the check ``name`` says the server stopped answering. Returns that check."""
    assert 'Traceback' not in str(result) and 'MODULE FAILURE' not in str(result), result
    assert result['status'] == 'CRITICAL' and result['is_available'] is False, result
    stopped = check(result, name)
    assert stopped['status'] == 'CRITICAL' and stopped['value'] is None, stopped
    assert 'the server stopped answering' in stopped['message'], stopped
    return stopped


def server_seconds(cluster, since, pid=None, dbname='postgres'):
    """Seconds from ``since`` (an SQL timestamp expression; a pg_stat_activity column when ``pid``
    is given) to now, by the server's clock: a bound for what a module saw before."""
    if pid is None:
        rows = cluster.execute('SELECT extract(epoch FROM clock_timestamp() - %s)::float8' % since,
                               dbname=dbname)
    else:
        rows = cluster.execute('SELECT extract(epoch FROM clock_timestamp() - %s)::float8'
                               ' FROM pg_stat_activity WHERE pid = %%s' % since, (pid,), dbname=dbname)
    return rows[0][0]


# How long tests wait for a server to reach a state they set up (a standby streaming, a session
# blocking): generous, since the machine may be loaded; only a stuck server takes this long.
SERVER_WAIT = 120
