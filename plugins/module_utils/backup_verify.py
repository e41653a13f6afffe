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

import os
import stat
import time

from ansible_collections.fleetops.runbook.plugins.module_utils.status import (
    CRITICAL, OK, UNKNOWN, WARNING, CheckReport, ParameterError, human_duration, parse_duration, parse_thresholds,
    range_note)
from ansible_collections.fleetops.runbook.plugins.module_utils import pg_archive
from ansible_collections.fleetops.runbook.plugins.module_utils.backup_files import (
    SERIES_NAME_RE, SIDECAR_SUFFIX, BackupResult, backup_mtime, backup_size, discover, file_kind, load_manifest,
    read_sidecar, series_key, sidecar_text)
from ansible_collections.fleetops.runbook.plugins.module_utils.programs import find_tool, number_text, run_program
from ansible_collections.fleetops.runbook.plugins.module_utils.restore_check import RestoreCheck, RestoreUnavailable, quote_ident

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
            age.setdefault('critical', '~:%s' % number_text(seconds))
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
            paths = sorted(groups[key], key=lambda p: (backup_mtime(p) or 0, p), reverse=True)
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
        backup.size = backup_size(path)
        backup.mtime = backup_mtime(path)
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
                    prev_size = backup_size(previous)
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
