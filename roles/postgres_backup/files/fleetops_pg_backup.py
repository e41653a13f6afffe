# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dump PostgreSQL databases, archive configuration, verify, apply retention.

Installed by the fleetops.runbook.postgres_backup role as fleetops-pg-backup (with a first line
naming postgres_backup_python) and run by its systemd timer. The verification is the collection's
own engine (the code behind the backup_verify module), installed next to this script by the role,
so the host needs no Ansible and no database driver.

    fleetops-pg-backup --config /etc/fleetops/postgres_backup.json
    fleetops-pg-backup --check-config FILE     # validate a configuration, change nothing

Exit codes: 0 every backup written and verified (OK or WARNING); 1 a backup failed or
verification found a CRITICAL/UNKNOWN problem; 2 bad configuration.
"""

import argparse
import datetime
import glob
import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import time

LIB_DIR = os.environ.get('FLEETOPS_RUNBOOK_LIB', '/usr/local/lib/fleetops-runbook')

CONFIG_KEYS = {
    'backup_dir': str, 'databases': list, 'exclude_databases': list, 'host': str, 'port': int,
    'user': str, 'passfile': (str, type(None)), 'dump_options': list, 'compression': (int, type(None)),
    'row_counts': bool, 'config_paths': list, 'config_archive_name': str,
    'retention_days': int, 'retention_count': int, 'verify': bool, 'verify_max_age': str,
    'lib_dir': str, 'bin_dir': (str, type(None)),
}
NAME_RE = re.compile(r'^[A-Za-z0-9_.-]+$')
STAMP_RE = re.compile(r'_(\d{8}T\d{6}Z)\.(dump|tar\.gz)$')


class ConfigError(ValueError):
    pass


def load_config(path):
    try:
        with open(path) as handle:
            config = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ConfigError('%s: cannot read the configuration: %s' % (path, exc))
    if not isinstance(config, dict):
        raise ConfigError('%s: the configuration must be a JSON object' % path)
    for key, kind in CONFIG_KEYS.items():
        if key not in config:
            raise ConfigError('%s: %s is missing' % (path, key))
        if not isinstance(config[key], kind) or isinstance(config[key], bool) and kind is int:
            raise ConfigError('%s: %s has the wrong type' % (path, key))
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise ConfigError('%s: unknown keys %s' % (path, ', '.join(unknown)))
    if not os.path.isabs(config['backup_dir']):
        raise ConfigError('%s: backup_dir must be an absolute path' % path)
    if config['retention_days'] < 1 or config['retention_count'] < 1:
        raise ConfigError('%s: retention_days and retention_count must be at least 1' % path)
    if not NAME_RE.match(config['config_archive_name']):
        raise ConfigError('%s: config_archive_name may hold letters, digits, _ . - only' % path)
    for item in config['config_paths']:
        if not isinstance(item, str) or not os.path.isabs(item):
            raise ConfigError('%s: config_paths must be absolute paths' % path)
    return config


def log(message):
    print(message, flush=True)


def run_command(args, environ_update=None, pass_fds=(), before_communicate_callback=None,
                **dummy):
    """What the verification engine needs of AnsibleModule.run_command, without Ansible."""
    env = dict(os.environ, **(environ_update or {}))
    with subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, pass_fds=pass_fds, text=True,
                          errors='surrogateescape') as proc:
        if before_communicate_callback is not None:
            before_communicate_callback(proc)
        out, err = proc.communicate()
    return proc.returncode, out, err


class Backup:
    def __init__(self, config):
        self.config = config
        self.env = dict(os.environ, PGHOST=config['host'], PGPORT=str(config['port']),
                        PGUSER=config['user'], PGAPPNAME='fleetops_pg_backup',
                        PGCONNECT_TIMEOUT='30')
        if config['passfile']:
            self.env['PGPASSFILE'] = config['passfile']
        self.failures = []

    def tool(self, name):
        if self.config['bin_dir']:
            return os.path.join(self.config['bin_dir'], name)
        return name

    def psql(self, sql, database='postgres'):
        proc = subprocess.run([self.tool('psql'), '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
                               '-d', database, '-c', sql], env=self.env, capture_output=True,
                              text=True, check=False)
        if proc.returncode:
            raise RuntimeError('psql: %s' % proc.stderr.strip())
        return proc.stdout

    def databases(self):
        wanted = self.config['databases']
        if not wanted:
            out = self.psql('SELECT datname FROM pg_database WHERE NOT datistemplate AND '
                            'datallowconn ORDER BY 1')
            wanted = [line for line in out.splitlines() if line]
        return [d for d in wanted if d not in self.config['exclude_databases']]

    def dump(self, database, stamp):
        """pg_dump -Fc in the snapshot in which every table's rows are counted."""
        directory = self.config['backup_dir']
        final = os.path.join(directory, '%s_%s.dump' % (database, stamp))
        partial = final + '.partial'
        started = datetime.datetime.now(datetime.timezone.utc)
        session = subprocess.Popen(
            [self.tool('psql'), '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', database],
            env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        try:
            session.stdin.write('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\n'
                                'SELECT pg_export_snapshot();\n'
                                'SELECT current_setting(\'server_version\');\n')
            session.stdin.flush()
            snapshot = session.stdout.readline().strip()
            server_version = session.stdout.readline().strip()
            if not snapshot:
                raise RuntimeError('cannot open a snapshot in %s: %s' % (
                    database, session.stderr.read().strip()))
            cmd = [self.tool('pg_dump'), '-Fc', '--snapshot', snapshot, '-f', partial]
            if self.config['compression'] is not None:
                cmd += ['-Z', str(self.config['compression'])]
            cmd += self.config['dump_options'] + ['-d', database]
            proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, check=False)
            if proc.returncode:
                raise RuntimeError('pg_dump %s: %s' % (database, proc.stderr.strip()))
            counts = self.count_rows(session) if self.config['row_counts'] else {}
            session.stdin.write('COMMIT;\n')
            session.stdin.close()
            session.wait(timeout=60)
        except BaseException:
            session.kill()
            if os.path.exists(partial):
                os.unlink(partial)
            raise
        finished = datetime.datetime.now(datetime.timezone.utc)
        digest = hashlib.sha256()
        with open(partial, 'rb') as handle:
            for block in iter(lambda: handle.read(1 << 20), b''):
                digest.update(block)
        os.rename(partial, final)
        write_file(final + '.sha256', '%s  %s\n' % (digest.hexdigest(), os.path.basename(final)))
        manifest = {
            'database': database,
            'format': 'custom',
            'server_version': server_version,
            'started_at': started.isoformat(),
            'finished_at': finished.isoformat(),
            'size': os.path.getsize(final),
            'sha256': digest.hexdigest(),
            'row_count_method': 'exact count(*) in the snapshot pg_dump used' if
                                self.config['row_counts'] else 'none',
            'tables': counts,
        }
        write_file(final + '.manifest.json', json.dumps(manifest, indent=2, sort_keys=True) + '\n')
        log('dumped %s to %s (%d bytes, %d tables counted)' % (
            database, final, manifest['size'], len(counts)))
        return final

    @staticmethod
    def count_rows(session):
        """Exact count(*) of every table whose data pg_dump writes, in the open snapshot."""
        session.stdin.write(
            "SELECT string_agg(format('SELECT %L, count(*) FROM %I.%I', n.nspname || '.' || "
            "c.relname, n.nspname, c.relname), ' UNION ALL ') FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', "
            "'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND NOT EXISTS (SELECT 1 "
            "FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND "
            "d.deptype = 'e') HAVING count(*) > 0 \\gexec\n"
            "\\echo __fleetops_end__\n")
        session.stdin.flush()
        counts = {}
        for line in iter(session.stdout.readline, ''):
            line = line.rstrip('\n')
            if line == '__fleetops_end__':
                return counts
            name, sep, value = line.rpartition('|')
            if sep and value.isdigit():
                counts[name] = int(value)
        raise RuntimeError('the counting session ended early: %s' % session.stderr.read().strip())

    def archive_config(self, stamp):
        paths = self.config['config_paths']
        if not paths:
            return None
        final = os.path.join(self.config['backup_dir'], '%s_%s.tar.gz' % (
            self.config['config_archive_name'], stamp))
        partial = final + '.partial'
        with tarfile.open(partial, 'w:gz') as archive:
            for path in paths:
                if not os.path.exists(path):
                    raise RuntimeError('configuration path %s does not exist' % path)
                archive.add(path)
        digest = hashlib.sha256()
        with open(partial, 'rb') as handle:
            for block in iter(lambda: handle.read(1 << 20), b''):
                digest.update(block)
        os.rename(partial, final)
        write_file(final + '.sha256', '%s  %s\n' % (digest.hexdigest(), os.path.basename(final)))
        log('archived %d configuration paths to %s' % (len(paths), final))
        return final

    def verify(self, written):
        """The collection's verification engine on what this run wrote."""
        sys.path.insert(0, self.config['lib_dir'])
        from ansible_collections.fleetops.runbook.plugins.module_utils.backup_verify import (
            Verifier)
        status = 'OK'
        results = []
        for path in written:
            report, extra = Verifier({'path': path, 'latest': 1, 'checksum_missing': 'critical',
                                      'max_age': self.config['verify_max_age']},
                                     run_command=run_command).result()
            log('verify %s: %s' % (path, report.summary()))
            results.append({'path': path, 'status': report.status, 'summary': report.summary(),
                            'backups': extra['backups']})
            if report.status in ('CRITICAL', 'UNKNOWN'):
                status = report.status
        write_file(os.path.join(self.config['backup_dir'], 'last_verify.json'),
                   json.dumps({'status': status, 'time': time.time(), 'results': results},
                              indent=2) + '\n')
        return status

    def retention(self):
        """Delete backups older than retention_days or beyond retention_count per series.

        The newest backup of every series is never deleted, and this runs only after the
        newest backups verified, so the newest good backup always survives.
        """
        now = time.time()
        series = {}
        for path in glob.glob(os.path.join(self.config['backup_dir'], '*')):
            match = STAMP_RE.search(os.path.basename(path))
            if match:
                key = os.path.basename(path)[:match.start()]
                series.setdefault(key, []).append((match.group(1), path))
        removed = []
        for key, items in series.items():
            items.sort(reverse=True)
            for index, (stamp, path) in enumerate(items):
                if index == 0:
                    continue
                taken = datetime.datetime.strptime(stamp, '%Y%m%dT%H%M%SZ').replace(
                    tzinfo=datetime.timezone.utc).timestamp()
                too_old = now - taken > self.config['retention_days'] * 86400
                if too_old or index >= self.config['retention_count']:
                    for extra in ('', '.sha256', '.manifest.json'):
                        if os.path.exists(path + extra):
                            os.unlink(path + extra)
                    removed.append(path)
        for path in removed:
            log('retention removed %s' % path)
        return removed

    def run(self):
        os.umask(0o077)
        directory = self.config['backup_dir']
        os.makedirs(directory, mode=0o700, exist_ok=True)
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ')
        written = []
        for database in self.databases():
            try:
                written.append(self.dump(database, stamp))
            except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
                self.failures.append(str(exc))
                log('FAILED %s' % exc)
        try:
            archive = self.archive_config(stamp)
            if archive:
                written.append(archive)
        except (RuntimeError, OSError) as exc:
            self.failures.append(str(exc))
            log('FAILED configuration archive: %s' % exc)
        status = self.verify(written) if self.config['verify'] and written else 'OK'
        if self.failures or status in ('CRITICAL', 'UNKNOWN') or not written:
            log('BACKUP FAILED: %d failures, verification %s; retention skipped, nothing deleted'
                % (len(self.failures), status))
            return 1
        self.retention()
        log('backup complete: %d files written and verified (%s)' % (len(written), status))
        return 0


def write_file(path, text):
    tmp = path + '.tmp'
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as handle:
        handle.write(text)
    os.rename(tmp, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default='/etc/fleetops/postgres_backup.json')
    parser.add_argument('--check-config', metavar='FILE')
    args = parser.parse_args()
    try:
        config = load_config(args.check_config or args.config)
    except ConfigError as exc:
        print('fleetops-pg-backup: %s' % exc, file=sys.stderr)
        return 2
    if args.check_config:
        return 0
    return Backup(config).run()


if __name__ == '__main__':
    sys.exit(main())
