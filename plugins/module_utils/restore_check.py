# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Test restore of a backup into a scratch database that is dropped afterwards.

Used by the ``backup_verify`` module (``restore_check``) and subclassed by ``db_restore``. Connection
settings reach the client programs only in libpq environment variables, never on a command line.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil
import sys
import threading
import time
import uuid
import zlib

from ansible_collections.fleetops.runbook.plugins.module_utils import pg_archive
from ansible_collections.fleetops.runbook.plugins.module_utils.backup_files import load_manifest
from ansible_collections.fleetops.runbook.plugins.module_utils.libpq import libpq_environment
from ansible_collections.fleetops.runbook.plugins.module_utils.programs import ProgramTimeout, find_tool, run_program

# Runs a program with a file (or /dev/fd/N) as its standard input: docker exec -i hands it on.
_STDIN_FROM = ('import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.dup2(fd, 0); '
               'os.close(fd); os.execvp(sys.argv[2], sys.argv[2:])')


class RestoreUnavailable(Exception):
    """A test restore cannot be attempted here (a missing program)."""


class RestoreRefused(Exception):
    """The backup must not be restored: it could act outside the database it is restored into."""


# seconds added to connect_timeout + statement_timeout for the client-side deadline of a statement
CONTROL_MARGIN = 5


def quote_ident(name):
    return '"%s"' % name.replace('"', '""')


def quote_table(name):
    schema, dot, table = name.partition('.')
    if not dot:
        return quote_ident(name)
    return '%s.%s' % (quote_ident(schema), quote_ident(table))


class RestoreCheck:
    """Restores a backup into a scratch database that is dropped afterwards.

    Every program gets the connection in libpq environment variables (see :meth:`environment`);
    the command lines hold programs, options and file names only. Every program runs under a
    client-side deadline: the restore and the row counts ``restore_timeout``, each statement that
    creates or drops a database ``connect_timeout + statement_timeout + CONTROL_MARGIN`` seconds, so
    a server that stops answering cannot hold the caller. A scratch database that cannot be dropped
    is named in the outcome (``dropped`` false).
    """

    def __init__(self, params, run_command):
        if run_command is None:
            raise ValueError('RestoreCheck needs a run_command')
        self.params = params
        self.run_command = run_command
        self.env = self.environment(params)
        self.maintenance_db = params.get('login_db') or 'postgres'
        self.timeout = params.get('restore_timeout') or 14400
        self.jobs = int(params.get('restore_jobs') or 1)
        # a server in a container: its own psql and pg_restore, through docker exec, reading the
        # backup from their standard input (so one job: pg_restore -j needs a file it can seek)
        self.container = params.get('container') or None
        self.container_user = params.get('container_user') or None
        if self.container:
            self.jobs = 1
        statement_timeout = params.get('statement_timeout')
        # only the statements that create and drop the scratch database; the restore and the row
        # counts are bound by restore_timeout
        self.control_env = {'PGOPTIONS': '-c statement_timeout=%d' % statement_timeout} \
            if statement_timeout else {}
        self.control_timeout = (params.get('connect_timeout') or 10) + \
            (statement_timeout or 10000) / 1000.0 + CONTROL_MARGIN

    @staticmethod
    def environment(params):
        """libpq environment variables for the connection options (PGDATABASE is set per call)."""
        env = libpq_environment(params)
        env.pop('PGDATABASE', None)
        env.setdefault('PGCONNECT_TIMEOUT', '10')
        env['PGAPPNAME'] = 'fleetops_backup_verify'
        return env

    def _tool(self, name):
        if self.container:
            tool = shutil.which('docker')
            if tool is None:
                raise RestoreUnavailable('docker was not found in PATH; the test restore in the '
                                         'container %s needs it' % self.container)
            return tool
        tool = find_tool(name)
        if tool is None:
            raise RestoreUnavailable('%s was not found in PATH or /usr/lib/postgresql/*/bin; the '
                                     'test restore needs the PostgreSQL client programs' % name)
        return tool

    def _cmd(self, name, env, source=None):
        """The command line of a client program; in a container, with ``source`` (a file on this
        host) as its standard input. libpq settings reach the container by name only (docker
        exec -e NAME takes the value from this environment), never on a command line."""
        if not self.container:
            return [self._tool(name)]
        cmd = [self._tool(name), 'exec', '-i']
        if self.container_user:
            cmd += ['-u', self.container_user]
        for key in sorted(env):
            if key.startswith('PG'):
                cmd += ['-e', key]
        cmd += [self.container, name]
        if source is not None:
            cmd = [sys.executable, '-c', _STDIN_FROM, source] + cmd
        return cmd

    def _env(self, database, control=False):
        env = dict(self.env, PGDATABASE=database)
        if control:
            env.update(self.control_env)
        return env

    def _scrub(self, text):
        password = self.params.get('login_password')
        text = str(text).strip()
        return text.replace(password, '********') if password else text

    def _psql(self, database, sql, control=False):
        env = self._env(database, control)
        cmd = self._cmd('psql', env) + ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-c', sql]
        rc, out, err = run_program(self.run_command, cmd, env=env,
                                   timeout=self.control_timeout if control else self.timeout)
        if rc != 0:
            raise RuntimeError(self._scrub(err or out) or 'psql exit code %d' % rc)
        return out

    @staticmethod
    def preflight(backup):
        """Refuse a dump that holds more than pg_dump without -C writes (RestoreRefused).

        A plain dump is scanned whole. Of an archive, the SQL of every table of contents entry
        that pg_restore runs without --create is scanned (its DATABASE entries are never run).
        """
        try:
            if backup.format in ('plain', 'plain_gz'):
                return pg_archive.check_plain_dump(backup.path, backup.format == 'plain_gz')
            if backup.format in ('custom', 'directory', 'tar'):
                return pg_archive.check_archive_toc(backup.path, backup.format)
        except pg_archive.UnsafeDump as exc:
            raise RestoreRefused(str(exc))
        except (pg_archive.BackupError, pg_archive.Unverifiable) as exc:
            raise RestoreRefused('the table of contents of %s cannot be checked before the '
                                 'restore: %s' % (backup.path, exc))
        except (IOError, OSError, zlib.error) as exc:
            raise RestoreRefused('%s cannot be read to check it before the restore: %s' % (
                backup.path, getattr(exc, 'strerror', None) or exc))
        return None

    def run(self, backup):
        for name in ('psql', 'pg_restore'):
            self._tool(name)
        scratch = 'fleetops_verify_%s' % uuid.uuid4().hex[:12]
        outcome = {'database': scratch, 'seconds': None, 'rows': {}, 'mismatches': [],
                   'compared_with': None, 'error': None, 'dropped': False, 'refused': None}
        try:
            self.preflight(backup)
        except RestoreRefused as exc:
            outcome.update(database=None, refused=str(exc), error=str(exc), dropped=None)
            return outcome
        try:
            self._psql(self.maintenance_db, 'CREATE DATABASE %s' % quote_ident(scratch),
                       control=True)
        except RuntimeError as exc:
            outcome['error'] = 'cannot create the scratch database: %s' % exc
            # stopped while the server was working on it: it may exist all the same
            outcome['dropped'] = self._drop(scratch) if isinstance(exc, ProgramTimeout) else None
            return outcome
        try:
            started = time.monotonic()
            self._load(backup, scratch)
            outcome['seconds'] = round(time.monotonic() - started, 3)
            self.compare_rows(backup, scratch, outcome)
        except RuntimeError as exc:
            outcome['error'] = str(exc)[-2000:]
        finally:
            outcome['dropped'] = self._drop(scratch)
        return outcome

    def _load(self, backup, scratch):
        if backup.format in ('custom', 'directory', 'tar'):
            # an empty -d: restore into a database (not to a script) that libpq names from
            # PGDATABASE, like every other connection setting
            env = self._env(scratch)
            if self.container and backup.format == 'directory':
                raise RuntimeError('a directory archive cannot be restored into the container %s '
                                   '(pg_restore reads it from its standard input)' % self.container)
            cmd = self._cmd('pg_restore', env, backup.path if self.container else None) + [
                '--no-owner', '--no-privileges', '--exit-on-error', '-d', '']
            if self.jobs > 1 and backup.format != 'tar':
                cmd += ['-j', str(self.jobs)]
            if not self.container:
                cmd.append(backup.path)
            rc, dummy, err = run_program(self.run_command, cmd, env=env, timeout=self.timeout)
            if rc != 0:
                raise RuntimeError('pg_restore: %s' % self._scrub(err)[-1500:])
            return
        if backup.format == 'plain':
            rc, dummy, err = run_program(
                self.run_command, self._script_command(backup.path),
                env=self._env(scratch), timeout=self.timeout)
        else:
            rc, err = self._load_gzip(backup, scratch)
        if rc != 0:
            raise RuntimeError('psql: %s' % self._scrub(err)[-1500:])

    def _script_command(self, source):
        """psql for a plain dump that passed :meth:`preflight`: no ~/.psqlrc, stop at the first
        error, one transaction (a failed restore leaves an empty scratch database)."""
        if self.container:
            return self._cmd('psql', self._env(''), source) + [
                '-X', '-q', '-o', '/dev/null', '-v', 'ON_ERROR_STOP=1', '--single-transaction']
        return [self._tool('psql'), '-X', '-q', '-o', '/dev/null', '-v', 'ON_ERROR_STOP=1',
                '--single-transaction', '-f', source]

    def _load_gzip(self, backup, scratch):
        """psql reads the dump from a pipe that a thread fills with the decompressed file, while
        run_command reads psql's output: nothing is held in memory or written to disk."""
        read_fd, write_fd = os.pipe()
        feeder = GzipFeeder(backup.path, write_fd)

        def start(dummy_proc):
            os.close(read_fd)
            feeder.start()

        try:
            rc, dummy, err = run_program(
                self.run_command, self._script_command('/dev/fd/%d' % read_fd),
                env=self._env(scratch), timeout=self.timeout, pass_fds=(read_fd,),
                on_start=start)
        finally:
            if not feeder.started:
                os.close(read_fd)
                os.close(write_fd)
        feeder.join()
        if rc == 0 and feeder.error:
            return 1, feeder.error
        return rc, err

    def _expected_rows(self, backup):
        try:
            manifest, path = load_manifest(backup.path)
        except (IOError, OSError, ValueError):
            manifest, path = None, None
        if manifest and manifest.get('tables'):
            return dict(manifest['tables']), 'the manifest %s' % path
        if backup.rows:
            return dict(backup.rows), 'the row counts read from the dump'
        return {}, 'nothing (no manifest, no table data)'

    def compare_rows(self, backup, database, outcome):
        """Counts the rows of the tables the backup expects in ``database`` and records the
        counts, what they were compared with and every mismatch in ``outcome``."""
        expected, source = self._expected_rows(backup)
        outcome['compared_with'] = source
        outcome['rows'] = self._count(database, sorted(expected)) if expected else {}
        for table in sorted(expected):
            if outcome['rows'].get(table) != expected[table]:
                outcome['mismatches'].append('%s: %s restored, %s expected' % (
                    table, outcome['rows'].get(table), expected[table]))

    def _count(self, scratch, tables):
        counts = {}
        for start in range(0, len(tables), 200):
            part = tables[start:start + 200]
            sql = ' UNION ALL '.join(
                "SELECT %s, count(*) FROM %s" % (
                    "'%s'" % t.replace("'", "''"), quote_table(t)) for t in part)
            out = self._psql(scratch, sql)
            for line in out.splitlines():
                name, sep, value = line.rpartition('|')
                if sep:
                    counts[name] = int(value)
        return counts

    def _drop(self, scratch):
        for sql in ('DROP DATABASE IF EXISTS %s WITH (FORCE)', 'DROP DATABASE IF EXISTS %s'):
            try:
                self._psql(self.maintenance_db, sql % quote_ident(scratch), control=True)
                return True
            except ProgramTimeout:
                return False  # the server does not answer: a second try would wait as long
            except RuntimeError:
                continue
        return False


class GzipFeeder:
    """Writes the decompressed content of a gzip file into a pipe, from a thread."""

    def __init__(self, path, write_fd):
        self.path = path
        self.write_fd = write_fd
        self.error = None
        self.started = False
        self._thread = threading.Thread(target=self._run, name='backup-feeder', daemon=True)

    def start(self):
        self.started = True
        self._thread.start()

    def join(self):
        if self.started:
            self._thread.join()

    def _run(self):
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            with os.fdopen(self.write_fd, 'wb') as pipe, open(self.path, 'rb') as handle:
                for block in iter(lambda: handle.read(1 << 20), b''):
                    pipe.write(decoder.decompress(block))
                pipe.write(decoder.flush())
        except BrokenPipeError:
            pass  # psql stopped reading (an error, or killed): its exit code says why
        except (IOError, OSError, zlib.error) as exc:
            self.error = 'reading %s: %s' % (self.path, exc)
