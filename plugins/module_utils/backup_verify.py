# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The backup verification engine behind ``fleetops.runbook.backup_verify``.

It needs neither Ansible nor a database driver: the module wraps it, and the command that the
``postgres_backup`` role installs on a database host imports the very same code (see that role's
README), so a timer on a host without a controller verifies exactly as a playbook does.

Client programs (pg_verifybackup, psql, pg_restore) run through the caller's ``run_command``: the
module passes ``AnsibleModule.run_command``, the host command a function with the same signature.
Connection settings reach them only in libpq environment variables, never on a command line.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import json
import os
import re
import shutil
import signal
import stat
import sys
import threading
import time
import uuid
import zlib

from ansible_collections.fleetops.runbook.plugins.module_utils.status import (
    CRITICAL, OK, UNKNOWN, WARNING, CheckReport, human_duration, parse_thresholds, range_note, worst)
from ansible_collections.fleetops.runbook.plugins.module_utils import pg_archive

SOURCE = 'backup_verify'

ALL_CHECKS = ['exists', 'age', 'size_change', 'checksum', 'gzip', 'toc', 'data', 'footer',
              'manifest', 'database', 'basebackup']
FORMATS = ['auto', 'custom', 'directory', 'tar', 'plain', 'plain_gz', 'basebackup']

# seed guides: RPO 1 hour (max_age), RTO 4 hours (restore_duration)
DEFAULT_MAX_AGE = 3600
DEFAULT_THRESHOLDS = {
    'age': {'warning': None, 'critical': '~:%d' % DEFAULT_MAX_AGE},
    'size_change': {'warning': '-20:', 'critical': None},
    'restore_duration': {'warning': None, 'critical': '~:14400'},
}

SIDECAR_SUFFIX = '.sha256'
MANIFEST_SUFFIX = '.manifest.json'
IGNORED_SUFFIXES = (SIDECAR_SUFFIX, MANIFEST_SUFFIX, '.json', '.tmp', '.partial', '.lock', '.log')
TIMESTAMP_RE = re.compile(
    r'\d{4}-?\d{2}-?\d{2}(?:[T_-]?\d{2}[:-]?\d{2}(?:[:-]?\d{2})?(?:\.\d+)?Z?)?')
DURATION_RE = re.compile(r'^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$')
DURATION_UNITS = {'': 1, 's': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}
HEX64 = re.compile(r'^[0-9a-fA-F]{64}$')
# <database>_<UTC stamp>.<ext>: how the postgres_backup role names its dumps
SERIES_NAME_RE = re.compile(r'^(?P<database>.+)_\d{8}T\d{6}Z\.[A-Za-z0-9.]+$')


class ParameterError(ValueError):
    """Bad input: the message names the parameter and the cause."""


class ProgramTimeout(RuntimeError):
    """A client program did not finish in time and was killed."""


# Runs a client program as the leader of its own process group, so that a deadline stops the
# program and whatever it forked (pg_restore -j workers) at once; run_command has no such option.
_GROUP_LEADER = 'import os, sys; os.setpgid(0, 0); os.execvp(sys.argv[1], sys.argv[1:])'
# Runs a program with a file (or /dev/fd/N) as its standard input: docker exec -i hands it on.
_STDIN_FROM = ('import os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); os.dup2(fd, 0); '
               'os.close(fd); os.execvp(sys.argv[2], sys.argv[2:])')


def run_program(run_command, args, env=None, timeout=None, pass_fds=None, on_start=None):
    """``(rc, stdout, stderr)`` of ``args`` run through ``run_command``.

    ``env`` updates the inherited environment; ``timeout`` kills the program (and every process it
    started) after that many seconds and raises ProgramTimeout; ``on_start(proc)`` runs once the
    program has started, before its output is read: a thread it starts (to feed the program)
    overlaps with that read.
    """
    expired = []
    timers = []

    def started(proc):
        if timeout:
            def expire():
                expired.append(True)
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                try:
                    proc.kill()
                except OSError:
                    pass
            timer = threading.Timer(timeout, expire)
            timer.daemon = True
            timer.start()
            timers.append(timer)
        if on_start is not None:
            on_start(proc)

    kwargs = dict(environ_update=env or {}, expand_user_and_vars=False,
                  before_communicate_callback=started)
    if pass_fds:
        kwargs['pass_fds'] = pass_fds
    command = list(args)
    if timeout and sys.executable:
        command = [sys.executable, '-c', _GROUP_LEADER] + command
    try:
        rc, out, err = run_command(command, **kwargs)
    finally:
        for timer in timers:
            timer.cancel()
    if expired:
        raise ProgramTimeout('%s did not finish within %s seconds and was stopped' % (
            os.path.basename(args[0]), _num(timeout)))
    return rc, out, err


def parse_duration(value, param):
    """Seconds from 300, '300', '90m', '1h', '2d'."""
    if isinstance(value, bool):
        raise ParameterError('%s: expected a duration such as 3600, 90m, 1h or 2d' % param)
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = DURATION_RE.match(str(value))
        if not match:
            raise ParameterError('%s: %r is not a duration; use seconds or a number with s, m, h, '
                                 'd or w (e.g. 1h)' % (param, value))
        seconds = float(match.group(1)) * DURATION_UNITS[match.group(2)]
    if seconds <= 0:
        raise ParameterError('%s: the duration must be greater than zero' % param)
    return seconds


def series_key(path):
    """Backups of the same thing share a name once the timestamp is taken out."""
    name = os.path.basename(path.rstrip('/'))
    return TIMESTAMP_RE.sub('*', name)


def find_tool(name):
    """A PostgreSQL client program from PATH or the newest Debian/RHEL server bin directory."""
    found = shutil.which(name)
    if found:
        return found
    candidates = glob.glob('/usr/lib/postgresql/*/bin/%s' % name) + glob.glob(
        '/usr/pgsql-*/bin/%s' % name)

    def version(path):
        digits = re.findall(r'\d+', path)
        return int(digits[0]) if digits else 0
    candidates.sort(key=version)
    return candidates[-1] if candidates else None


# --------------------------------------------------------------------------------------------
# Finding the backups


def _is_candidate(path):
    base = os.path.basename(path)
    if base.startswith('.') or base.endswith(IGNORED_SUFFIXES):
        return False
    if os.path.isdir(path):
        return pg_archive.detect_format(path) is not None
    return os.path.isfile(path) or os.path.islink(path)


def discover(path):
    """The backups that ``path`` names (a file, a dump directory, a directory of dumps, a glob)."""
    if any(ch in path for ch in '*?['):
        found = [p for p in glob.glob(path) if _is_candidate(p)]
        if not found:
            raise ParameterError('path: the pattern %s matches no backup' % path)
        return found
    if not os.path.lexists(path):
        raise ParameterError('path: %s does not exist' % path)
    if os.path.isdir(path):
        if pg_archive.detect_format(path) is not None:
            return [path]
        if not os.access(path, os.R_OK | os.X_OK):
            raise ParameterError('path: directory %s is not readable' % path)
        found = [os.path.join(path, name) for name in os.listdir(path)]
        found = [p for p in found if _is_candidate(p)]
        if not found:
            raise ParameterError('path: the directory %s holds no backups (no dump files, no '
                                 'directory dumps with toc.dat, no base backups with '
                                 'backup_manifest)' % path)
        return found
    return [path]


def _mtime(path):
    try:
        if os.path.isdir(path):
            for name in ('backup_manifest', 'toc.dat'):
                if os.path.exists(os.path.join(path, name)):
                    return os.stat(os.path.join(path, name)).st_mtime
        return os.stat(path).st_mtime
    except OSError:
        return None


def _size(path):
    if os.path.isdir(path):
        total = 0
        for root, dummy, files in os.walk(path):
            for name in files:
                try:
                    total += os.lstat(os.path.join(root, name)).st_size
                except OSError:
                    pass
        return total
    return os.stat(path).st_size


# --------------------------------------------------------------------------------------------
# Sidecars and manifests


MAX_SIDE_FILE = 16 * 1024 * 1024


def file_kind(mode):
    """What a non-regular, non-directory file is, for messages."""
    for test, name in ((stat.S_ISFIFO, 'a FIFO'), (stat.S_ISCHR, 'a character device'),
                       (stat.S_ISBLK, 'a block device'), (stat.S_ISSOCK, 'a socket')):
        if test(mode):
            return name
    return 'not a regular file'


def read_small_file(path, limit=MAX_SIDE_FILE):
    """The text of a sidecar or manifest: a regular file of at most ``limit`` bytes, opened without
    blocking (a FIFO or a device raises ValueError instead of hanging)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ValueError('%s is %s' % (path, file_kind(mode)))
        chunks = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, limit + 1 - total)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        data = b''.join(chunks)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ValueError('%s is larger than %d bytes' % (path, limit))
    return data.decode('utf-8')


def read_sidecar(path):
    """Parse a sha256sum-format file into ``{name: hex}``; raises ValueError on a bad line."""
    text = read_small_file(path)
    sums = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or not HEX64.match(parts[0]):
            raise ValueError('line %d is not in sha256sum format' % number)
        name = parts[1].lstrip('*').strip()
        sums[name] = parts[0].lower()
    if not sums:
        raise ValueError('it holds no checksum')
    return sums


def sidecar_text(path, digests):
    """sha256sum-format content for a file (one line) or a directory dump (one line per file)."""
    base = os.path.basename(path.rstrip('/'))
    if isinstance(digests, dict):
        return ''.join('%s  %s/%s\n' % (digests[name], base, name) for name in sorted(digests))
    return '%s  %s\n' % (digests, base)


def load_manifest(path):
    """The JSON manifest written next to a backup at backup time, or None."""
    manifest_path = path.rstrip('/') + MANIFEST_SUFFIX
    if not os.path.exists(manifest_path):
        return None, manifest_path
    manifest = json.loads(read_small_file(manifest_path))
    if not isinstance(manifest, dict):
        raise ValueError('%s does not hold a JSON object' % manifest_path)
    return manifest, manifest_path


class BackupResult:
    """Everything found about one backup."""

    def __init__(self, path):
        self.path = path
        self.format = None
        self.size = None
        self.mtime = None
        self.sha256 = None
        self.digests = None
        self.toc = None
        self.data = None
        self.rows = None
        self.manifest = None
        self.restore = None
        self.checksum = None
        self.problems = []
        self.statuses = []
        self.good = False

    def as_dict(self, now):
        return {
            'path': self.path,
            'format': self.format,
            'size': self.size,
            'mtime': self.mtime,
            'age': None if self.mtime is None else round(now - self.mtime, 3),
            'sha256': self.sha256,
            'checksum': self.checksum,
            'toc': self.toc,
            'data': self.data,
            'manifest': self.manifest,
            'restore': self.restore,
            'status': worst(self.statuses) if self.statuses else UNKNOWN,
            'problems': list(self.problems),
        }


# --------------------------------------------------------------------------------------------
# The verifier


class Verifier:
    """Runs the selected checks on the backups that ``path`` names."""

    def __init__(self, params, check_mode=False, now=None, run_command=None):
        self.params = params
        self.check_mode = check_mode
        self.run_command = run_command
        self.now = time.time() if now is None else now
        self.report = CheckReport(SOURCE)
        self.changed = False
        self.diffs = []
        self.written = []
        self.scratch_left = []
        checks = params.get('checks') or list(ALL_CHECKS)
        unknown = [c for c in checks if c not in ALL_CHECKS]
        if unknown:
            raise ParameterError('checks: unknown check(s) %s; choose from %s' % (
                ', '.join(unknown), ', '.join(ALL_CHECKS)))
        self.checks = set(checks)
        given = params.get('thresholds') or {}
        if not isinstance(given, dict):
            raise ParameterError('thresholds: expected a mapping of check names to warning and/or '
                                 'critical ranges (e.g. {age: {critical: "~:3600"}}), got %r'
                                 % (given,))
        given = dict(given)
        for name, levels in given.items():
            if levels is not None and not isinstance(levels, dict):
                raise ParameterError('thresholds.%s: expected a mapping with warning and/or '
                                     'critical, got %r' % (name, levels))
        if params.get('max_age') is not None:
            seconds = parse_duration(params['max_age'], 'max_age')
            age = dict(given.get('age') or {})
            age.setdefault('critical', '~:%s' % _num(seconds))
            given['age'] = age
        try:
            self.thresholds = parse_thresholds(given, DEFAULT_THRESHOLDS)
        except ValueError as exc:
            raise ParameterError(str(exc))
        fmt = params.get('format') or 'auto'
        if fmt not in FORMATS:
            raise ParameterError('format: %r is not one of %s' % (fmt, ', '.join(FORMATS)))
        self.format = fmt
        latest = params.get('latest', 1)
        if latest is None or int(latest) < 0:
            raise ParameterError('latest: must be 0 (every backup) or a positive count')
        self.latest = int(latest)
        self.checksum_missing = params.get('checksum_missing') or 'warning'
        if self.checksum_missing not in ('ok', 'warning', 'critical'):
            raise ParameterError('checksum_missing: must be ok, warning or critical')
        self.restore_check = bool(params.get('restore_check'))
        if self.restore_check and not (params.get('login_host') or params.get('login_unix_socket')):
            raise ParameterError('restore_check: a test restore needs a server: set login_host (a '
                                 'host name or a unix socket directory) or login_unix_socket (or '
                                 'PGHOST in the environment), and login_user / login_password as '
                                 'the server requires')
        for name in ('restore_jobs', 'restore_timeout'):
            if params.get(name) is not None and params[name] < 1:
                raise ParameterError('%s: must be at least 1, got %d' % (name, params[name]))
        if not params.get('path'):
            raise ParameterError('path: a file, a directory or a glob is required')

    # -- orchestration -------------------------------------------------------------------------

    def run(self):
        found = discover(self.params['path'])
        groups = {}
        for path in found:
            groups.setdefault(series_key(path), []).append(path)
        results = []
        for key in sorted(groups):
            paths = sorted(groups[key], key=lambda p: (_mtime(p) or 0, p), reverse=True)
            chosen = paths if self.latest == 0 else paths[:self.latest]
            series = [self.verify_one(path) for path in chosen]
            self._series_checks(key, series, paths)
            results.extend(series)
        return results

    def result(self):
        backups = self.run()
        extra = {
            'backups': [b.as_dict(self.now) for b in backups],
            'changed': self.changed,
            'scratch_databases_left': list(self.scratch_left),
        }
        good = [b for b in backups if b.good]
        extra['newest_good'] = None
        if good:
            newest = max(good, key=lambda b: b.mtime or 0)
            extra['newest_good'] = newest.path
        if self.diffs:
            extra['diff'] = self.diffs
        return self.report, extra

    def _add(self, backup, name, value, unit='', status=None, message=None, thresholds=None):
        check = self.report.add(name, value, unit=unit, target=backup.path, status=status,
                                message=message, thresholds=thresholds)
        backup.statuses.append(check['status'])
        if check['status'] != OK:
            backup.problems.append('%s %s' % (check['status'], check['message']))
        return check

    # -- one backup ----------------------------------------------------------------------------

    def verify_one(self, path):
        backup = BackupResult(path)
        if not self._exists(backup):
            return backup
        fmt = self.format
        if fmt == 'auto':
            try:
                fmt = pg_archive.detect_format(path)
            except (IOError, OSError) as exc:
                self._add(backup, 'readable', None, status=CRITICAL,
                          message='%s cannot be read (%s)' % (path, exc.strerror or exc))
                return backup
            if fmt is None:
                self._add(backup, 'format', None, status=CRITICAL,
                          message='%s is not a PostgreSQL backup: no custom-archive signature, no '
                                  'pg_dump tar or SQL header, no toc.dat or backup_manifest' % path)
                return backup
        backup.format = fmt
        integrity_ok = self._integrity(backup, fmt)
        self._checksum(backup, integrity_ok)
        self._manifest(backup)
        if integrity_ok and 'database' in self.checks:
            self._database(backup)
        if fmt == 'basebackup' and 'basebackup' in self.checks:
            integrity_ok = self._basebackup(backup) and integrity_ok
        backup.good = integrity_ok and all(s in (OK, WARNING) for s in backup.statuses)
        if self.restore_check and backup.good and fmt != 'basebackup':
            self._restore(backup)
            backup.good = all(s in (OK, WARNING) for s in backup.statuses)
        if backup.good and self.params.get('write_checksum'):
            self._write_sidecar(backup)
        return backup

    def _exists(self, backup):
        path = backup.path
        try:
            st = os.stat(path)
        except OSError as exc:
            self._add(backup, 'exists', 0, unit='count', status=CRITICAL,
                      message='%s does not exist or cannot be reached (%s)' % (
                          path, exc.strerror or exc))
            return False
        is_dir = stat.S_ISDIR(st.st_mode)
        if not is_dir and not stat.S_ISREG(st.st_mode):
            self._add(backup, 'exists', None, status=CRITICAL,
                      message='%s is %s, not a backup file; it was not opened' % (
                          path, file_kind(st.st_mode)))
            return False
        if not os.access(path, os.R_OK | (os.X_OK if is_dir else 0)):
            self._add(backup, 'exists', 1, unit='count', status=CRITICAL,
                      message='%s exists but is not readable by this user' % path)
            return False
        backup.size = _size(path)
        backup.mtime = _mtime(path)
        if 'exists' in self.checks:
            if backup.size == 0:
                self._add(backup, 'exists', backup.size, unit='bytes', status=CRITICAL,
                          message='%s is empty (0 bytes)' % path)
                return False
            self._add(backup, 'exists', backup.size, unit='bytes',
                      message='%s exists, readable, %d bytes' % (path, backup.size))
        elif backup.size == 0:
            return False
        return True

    # -- the one-pass read ---------------------------------------------------------------------

    def _integrity(self, backup, fmt):
        path = backup.path
        try:
            if fmt == 'custom':
                with pg_archive.OnePassFile(path) as reader:
                    archive, data, reason = pg_archive.verify_custom(reader)
                    backup.sha256 = reader.hexdigest()
                self._archive_checks(backup, archive, data, reason)
            elif fmt == 'tar':
                with pg_archive.OnePassFile(path) as reader:
                    archive, data, reason = pg_archive.verify_tar(reader)
                    backup.sha256 = reader.hexdigest()
                self._archive_checks(backup, archive, data, reason)
            elif fmt == 'directory':
                archive, data, digests, reason = pg_archive.verify_directory(path)
                backup.digests = digests
                self._archive_checks(backup, archive, data, reason)
            elif fmt in ('plain', 'plain_gz'):
                with pg_archive.OnePassFile(path) as reader:
                    info = pg_archive.verify_plain(reader, fmt == 'plain_gz')
                    backup.sha256 = reader.hexdigest()
                backup.data = info
                if fmt == 'plain_gz' and 'gzip' in self.checks:
                    self._add(backup, 'gzip', info['decoded_bytes'], unit='bytes',
                              message='gzip stream of %s is intact (%d bytes decompressed)' % (
                                  path, info['decoded_bytes']))
                if 'footer' in self.checks:
                    self._add(backup, 'footer', 1, unit='count',
                              message='%s ends with the dump-complete footer' % path)
            elif fmt == 'gzip':
                with pg_archive.OnePassFile(path) as reader:
                    decoded = pg_archive.verify_gzip(reader)
                    backup.sha256 = reader.hexdigest()
                if 'gzip' in self.checks:
                    self._add(backup, 'gzip', decoded, unit='bytes',
                              message='gzip stream of %s is intact' % path)
            elif fmt == 'basebackup':
                return True
            return True
        except pg_archive.BackupError as exc:
            name = 'gzip' if fmt == 'plain_gz' and 'gzip stream' in str(exc) else (
                'footer' if 'footer' in str(exc) or 'unrestrict' in str(exc) else 'data')
            if fmt in ('custom', 'tar', 'directory') and backup.toc is None:
                name = 'toc'
            self._add(backup, name, None, status=CRITICAL, message=str(exc))
        except pg_archive.Unverifiable as exc:
            self._add(backup, 'data', None, status=UNKNOWN, message=str(exc))
        except (IOError, OSError) as exc:
            self._add(backup, 'readable', None, status=CRITICAL,
                      message='%s could not be read (%s)' % (path, exc.strerror or exc))
        if backup.sha256 is None and backup.format in ('custom', 'tar', 'plain', 'plain_gz',
                                                       'gzip'):
            # damaged backups still get a checksum, so the sidecar check can say more
            try:
                backup.sha256 = pg_archive.sha256_file(path)
            except (IOError, OSError):
                pass
        return False

    def _archive_checks(self, backup, archive, data, reason):
        backup.toc = archive.stats()
        backup.data = data.as_dict()
        backup.rows = dict(data.rows)
        path = backup.path
        if 'toc' in self.checks:
            toc = backup.toc
            self._add(backup, 'toc', toc['entries'], unit='count',
                      message='%s: %s archive %s of database %s, dumped from PostgreSQL %s at %s: '
                              '%d TOC entries, %d tables, %d with data' % (
                                  path, toc['format'], toc['archive_version'], toc['database'],
                                  toc['dumped_from'], toc['created'], toc['entries'],
                                  toc['tables'], toc['table_data']))
        if 'data' in self.checks:
            if reason:
                self._add(backup, 'data', None, status=UNKNOWN,
                          message='%s: structure read, but %s' % (path, reason))
            else:
                self._add(backup, 'data', data.decoded_bytes, unit='bytes',
                          message='%s: read every data block (%d blocks, %d bytes decoded, %d rows '
                                  'in %d tables, %d large objects)' % (
                                      path, data.blocks, data.decoded_bytes,
                                      sum(data.rows.values()), len(data.rows),
                                      data.large_objects))
        if 'gzip' in self.checks and archive.compression == 'gzip' and not reason:
            self._add(backup, 'gzip', data.compressed_bytes, unit='bytes',
                      message='%s: every compressed stream ends with a valid checksum' % path)

    # -- checksum sidecar ----------------------------------------------------------------------

    def _sidecar_path(self, backup):
        return backup.path.rstrip('/') + SIDECAR_SUFFIX

    def _checksum(self, backup, integrity_ok):
        if 'checksum' not in self.checks or backup.format == 'basebackup':
            return
        sidecar = self._sidecar_path(backup)
        actual = backup.digests if backup.digests is not None else backup.sha256
        if actual is None:
            return
        if not os.path.exists(sidecar):
            backup.checksum = 'missing'
            if self.params.get('write_checksum') and integrity_ok:
                return  # written (or reported) after the other checks pass
            status = {'ok': OK, 'warning': WARNING, 'critical': CRITICAL}[self.checksum_missing]
            self._add(backup, 'checksum', None, status=status,
                      message='%s has no %s sidecar to compare against' % (
                          backup.path, SIDECAR_SUFFIX))
            return
        try:
            expected = read_sidecar(sidecar)
        except (IOError, OSError, ValueError, UnicodeDecodeError) as exc:
            backup.checksum = 'unreadable'
            self._add(backup, 'checksum', None, status=CRITICAL,
                      message='sidecar %s is unusable: %s' % (sidecar, exc))
            return
        base = os.path.basename(backup.path.rstrip('/'))
        if isinstance(actual, dict):
            wanted = dict(('%s/%s' % (base, name), digest) for name, digest in actual.items())
            bad = sorted(name for name in wanted if expected.get(name) != wanted[name])
            extra = sorted(name for name in expected if name not in wanted)
            if bad or extra:
                backup.checksum = 'mismatch'
                detail = []
                if bad:
                    detail.append('differ or are not listed: %s' % ', '.join(bad[:5]))
                if extra:
                    detail.append('listed but missing: %s' % ', '.join(extra[:5]))
                self._add(backup, 'checksum', len(bad) + len(extra), unit='count',
                          status=CRITICAL, message='%s does not match %s: files %s' % (
                              backup.path, sidecar, '; '.join(detail)))
                return
        else:
            digest = expected.get(base)
            if digest is None and len(expected) == 1:
                digest = list(expected.values())[0]
            if digest != actual:
                backup.checksum = 'mismatch'
                self._add(backup, 'checksum', 1, unit='count', status=CRITICAL,
                          message='sha256 of %s is %s but %s says %s: the file changed after the '
                                  'backup was written' % (backup.path, actual, sidecar, digest))
                return
        backup.checksum = 'match'
        self._add(backup, 'checksum', 0, unit='count',
                  message='%s matches %s' % (backup.path, sidecar))

    def _write_sidecar(self, backup):
        if backup.checksum != 'missing':
            return
        actual = backup.digests if backup.digests is not None else backup.sha256
        sidecar = self._sidecar_path(backup)
        content = sidecar_text(backup.path, actual)
        self.changed = True
        self.diffs.append({'before': '', 'after': content, 'before_header': sidecar,
                           'after_header': sidecar})
        if self.check_mode:
            backup.checksum = 'would write'
            self._add(backup, 'checksum', 0, unit='count',
                      message='%s has no sidecar; would write %s' % (backup.path, sidecar))
            return
        tmp = '%s.tmp.%d' % (sidecar, os.getpid())
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, 'w') as handle:
            handle.write(content)
        os.rename(tmp, sidecar)
        self.written.append(sidecar)
        backup.checksum = 'written'
        self._add(backup, 'checksum', 0, unit='count',
                  message='%s had no sidecar; wrote %s' % (backup.path, sidecar))

    # -- manifest written at backup time -------------------------------------------------------

    def _manifest(self, backup):
        if 'manifest' not in self.checks or backup.format == 'basebackup':
            return
        try:
            manifest, path = load_manifest(backup.path)
        except (IOError, OSError, ValueError) as exc:
            self._add(backup, 'manifest', None, status=CRITICAL,
                      message='manifest of %s cannot be read: %s' % (backup.path, exc))
            return
        if manifest is None:
            return
        backup.manifest = path
        problems = []
        if manifest.get('sha256') and backup.sha256 and manifest['sha256'] != backup.sha256:
            problems.append('sha256 %s differs from the manifest\'s %s' % (
                backup.sha256, manifest['sha256']))
        if isinstance(manifest.get('size'), int) and backup.format != 'directory' and \
                manifest['size'] != backup.size:
            problems.append('size %d differs from the manifest\'s %d' % (
                backup.size, manifest['size']))
        tables = manifest.get('tables') or {}
        if backup.rows is not None and tables:
            for table in sorted(tables):
                want = tables[table]
                have = backup.rows.get(table)
                if have is None:
                    problems.append('table %s is in the manifest but has no data in the dump'
                                    % table)
                elif have != want:
                    problems.append('table %s has %d rows in the dump, %d in the manifest' % (
                        table, have, want))
        if problems:
            self._add(backup, 'manifest', len(problems), unit='count', status=CRITICAL,
                      message='%s disagrees with %s: %s' % (
                          backup.path, path, '; '.join(problems[:5])))
        else:
            self._add(backup, 'manifest', 0, unit='count',
                      message='%s agrees with %s (%d tables%s)' % (
                          backup.path, path, len(tables),
                          ', row counts equal' if backup.rows is not None and tables else ''))

    # -- whose dump is it? ----------------------------------------------------------------------

    def expected_databases(self, backup):
        """``[(name, where the expectation comes from)]`` for the database a backup must hold."""
        expected = []
        if self.params.get('database'):
            expected.append((self.params['database'], 'the database option'))
        else:
            match = SERIES_NAME_RE.match(os.path.basename(backup.path.rstrip('/')))
            if match:
                expected.append((match.group('database'), 'the file name'))
        try:
            manifest, path = load_manifest(backup.path)
        except (IOError, OSError, ValueError):
            manifest, path = None, None
        if manifest and isinstance(manifest.get('database'), str):
            expected.append((manifest['database'], 'the manifest %s' % path))
        return expected

    def _database(self, backup):
        if backup.format not in ('custom', 'directory', 'tar', 'plain', 'plain_gz'):
            return  # base backups hold every database; a gzip file is not read as a dump
        expected = self.expected_databases(backup)
        if not expected:
            return
        wanted = ', '.join('%s (%s)' % item for item in expected)
        found = (backup.toc or {}).get('database')
        if found is None:
            self._add(backup, 'database', None, status=OK,
                      message='%s: a plain dump does not record the database it was dumped from, '
                              'so it cannot be compared with %s' % (backup.path, wanted))
            return
        wrong = [item for item in expected if item[0] != found]
        if wrong:
            self._add(backup, 'database', len(wrong), unit='count', status=CRITICAL,
                      message='%s is a dump of database %s, but %s: a backup of another '
                              'database under this name' % (
                                  backup.path, found, ', '.join(
                                      '%s says %s' % (source, name) for name, source in wrong)))
            return
        self._add(backup, 'database', 0, unit='count',
                  message='%s is a dump of database %s, as %s says' % (
                      backup.path, found, ' and '.join(source for dummy, source in expected)))

    # -- physical base backups -----------------------------------------------------------------

    def _basebackup(self, backup):
        tool = find_tool('pg_verifybackup')
        if self.run_command is None:
            raise ValueError('Verifier: checking base backups needs a run_command')
        if tool is None:
            self._add(backup, 'basebackup', None, status=UNKNOWN,
                      message='pg_verifybackup was not found in PATH or /usr/lib/postgresql/*/bin; '
                              'install the PostgreSQL server or client package that ships it to '
                              'check %s' % backup.path)
            return False
        cmd = [tool]
        wal_dir = os.path.join(backup.path, 'pg_wal')
        if not (os.path.isdir(wal_dir) and any(
                len(n) == 24 for n in os.listdir(wal_dir))):
            cmd.append('--no-parse-wal')
        cmd.append(backup.path)
        rc, out, err = run_program(self.run_command, cmd)
        if rc != 0:
            detail = (err or out).strip().splitlines()
            self._add(backup, 'basebackup', rc, status=CRITICAL,
                      message='pg_verifybackup rejects %s: %s' % (
                          backup.path, '; '.join(detail[-4:]) or 'exit code %d' % rc))
            return False
        self._add(backup, 'basebackup', 0, unit='count',
                  message='pg_verifybackup accepts %s (%s)' % (
                      backup.path, 'checksums and WAL' if '--no-parse-wal' not in cmd
                      else 'checksums; no WAL in the backup'))
        return True

    # -- age and size, per series --------------------------------------------------------------

    def _series_checks(self, key, series, all_paths):
        if not series:
            return
        newest = series[0]
        if 'age' in self.checks:
            good = [b for b in series if b.good]
            if good:
                best = good[0]
                age = self.now - (best.mtime or self.now)
                check = self.report.add(
                    'age', age, unit='seconds', target=best.path,
                    thresholds=self.thresholds['age'])
                check['message'] = 'newest good backup %s is %s old%s' % (
                    best.path, human_duration(age), range_note(check))
                best.statuses.append(check['status'])
                if check['status'] != OK:
                    best.problems.append('%s %s' % (check['status'], check['message']))
            else:
                self.report.add('age', None, unit='seconds', target=newest.path, status=CRITICAL,
                                message='no good backup among the %d checked for %s' % (
                                    len(series), key))
        if 'size_change' in self.checks and newest.size is not None:
            older = [p for p in all_paths if p != newest.path]
            if older:
                previous = older[0]
                try:
                    prev_size = _size(previous)
                except OSError:
                    prev_size = None
                if prev_size:
                    change = (newest.size - prev_size) * 100.0 / prev_size
                    check = self.report.add(
                        'size_change', change, unit='percent', target=newest.path,
                        thresholds=self.thresholds['size_change'])
                    check['message'] = 'size of %s changed by %+.1f%% against %s (%d -> %d ' \
                                       'bytes)%s' % (newest.path, change, previous, prev_size,
                                                     newest.size, range_note(check))
                    newest.statuses.append(check['status'])
                    if check['status'] != OK:
                        newest.problems.append('%s %s' % (check['status'], check['message']))

    # -- test restore --------------------------------------------------------------------------

    def _restore(self, backup):
        restore = RestoreCheck(self.params, self.run_command)
        try:
            outcome = restore.run(backup)
        except RestoreUnavailable as exc:
            backup.restore = {'error': str(exc)}
            self._add(backup, 'restore', None, status=UNKNOWN, message=str(exc))
            return
        backup.restore = outcome
        if outcome.get('dropped') is False:
            self.scratch_left.append(outcome['database'])
            self._add(backup, 'restore_cleanup', 1, unit='count', status=CRITICAL,
                      message='the scratch database %s of the test restore of %s could not be '
                              'dropped (the server did not answer in time, or refused); drop it '
                              'by hand once the server answers: DROP DATABASE %s WITH (FORCE)' % (
                                  outcome['database'], backup.path,
                                  quote_ident(outcome['database'])))
        if outcome.get('refused'):
            self._add(backup, 'restore', None, status=CRITICAL,
                      message='test restore of %s refused before anything was created: %s' % (
                          backup.path, outcome['refused']))
            return
        if outcome.get('error'):
            self._add(backup, 'restore', None, status=CRITICAL,
                      message='test restore of %s into %s failed: %s' % (
                          backup.path, outcome['database'], outcome['error']))
            return
        check = self.report.add('restore_duration', outcome['seconds'], unit='seconds',
                                target=backup.path, thresholds=self.thresholds['restore_duration'])
        check['message'] = 'test restore of %s took %s%s' % (
            backup.path, human_duration(outcome['seconds']), range_note(check))
        backup.statuses.append(check['status'])
        if check['status'] != OK:
            backup.problems.append('%s %s' % (check['status'], check['message']))
        mismatches = outcome['mismatches']
        if mismatches:
            self._add(backup, 'restore_rows', len(mismatches), unit='count', status=CRITICAL,
                      message='restored row counts of %s differ from %s: %s' % (
                          backup.path, outcome['compared_with'], '; '.join(mismatches[:5])))
        else:
            self._add(backup, 'restore_rows', 0, unit='count',
                      message='restored %d tables of %s; row counts equal %s' % (
                          len(outcome['rows']), backup.path, outcome['compared_with']))


def _num(value):
    return str(int(value)) if float(value).is_integer() else str(value)


# --------------------------------------------------------------------------------------------
# Test restore into a scratch database


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
        env = {
            'PGAPPNAME': 'fleetops_backup_verify',
            'PGCONNECT_TIMEOUT': str(params.get('connect_timeout') or 10),
        }
        host = params.get('login_unix_socket') or params.get('login_host')
        for name, value in (('PGHOST', host), ('PGPORT', params.get('login_port')),
                            ('PGUSER', params.get('login_user')),
                            ('PGPASSWORD', params.get('login_password')),
                            ('PGSSLMODE', params.get('ssl_mode')),
                            ('PGSSLROOTCERT', params.get('ca_cert'))):
            if value not in (None, ''):
                env[name] = str(value)
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
