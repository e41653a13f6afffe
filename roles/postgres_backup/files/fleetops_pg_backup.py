# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dump PostgreSQL databases, archive configuration, verify, apply retention, per backup set.

Installed by the fleetops.runbook.postgres_backup role as fleetops-pg-backup (with a first line
naming postgres_backup_python) and run by one systemd timer per backup set. The verification is the
collection's own engine (the code behind the backup_verify module), installed next to this script
by the role, so the host needs no Ansible and no database driver.

    fleetops-pg-backup --config /etc/fleetops/postgres_backup.json [--set NAME]
    fleetops-pg-backup --config FILE --set NAME --metric   # (re)write the set's freshness metric
    fleetops-pg-backup --check-config FILE     # validate a configuration, change nothing

Without --set every set of the configuration runs, one after the other. Each set writes into its
own directory with its own retention. After a run whose files all verified, the set's line of the
node exporter textfile metric (metric_dir/fleetops_backup.prom) is rewritten atomically:
fleetops_backup_last_success_timestamp_seconds{set=...} and fleetops_backup_max_age_seconds{set=...}.
When the backup account cannot write metric_dir, the service's post step (--metric, as root) does.

With ``container`` set, the server runs in that container: psql and pg_dump are the container's
own, run through ``docker exec``; the dump streams to the backup directory on the host.

Exit codes: 0 every backup written and verified (OK or WARNING); 1 a backup failed or
verification found a CRITICAL/UNKNOWN problem; 2 bad configuration.
"""

import argparse
import datetime
import fcntl
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
    'sets': list, 'exclude_databases': list, 'environment': dict, 'passfile': (str, type(None)),
    'dump_options': list, 'compression': (int, type(None)),
    'row_counts': bool, 'verify': bool, 'verify_max_age': (str, type(None)),
    'lib_dir': str, 'bin_dir': (str, type(None)), 'metric_dir': (str, type(None)),
    'container': (str, type(None)), 'container_user': (str, type(None)),
}
SET_KEYS = {
    'name': str, 'dir': str, 'dump': bool, 'databases': list, 'config_paths': list,
    'config_archive_name': str, 'retention_days': int, 'retention_count': int,
    'max_age_seconds': int,
}
NAME_RE = re.compile(r'^[A-Za-z0-9_.-]+$')
PG_ENV_RE = re.compile(r'^PG[A-Z_]+$')
METRIC_FILE = 'fleetops_backup.prom'
METRICS = (
    ('fleetops_backup_last_success_timestamp_seconds',
     'Time of the last backup run of the set whose files all verified (unix seconds).'),
    ('fleetops_backup_max_age_seconds',
     'Age the newest verified backup of the set may reach (its schedule\'s interval and grace).'),
)
SAMPLE_RE = re.compile(r'^(fleetops_backup_[a-z_]+)\{set="([A-Za-z0-9_.-]+)"\} (\S+)$')
STAMP_RE = re.compile(r'_(\d{8}T\d{6}Z)\.(dump|tar\.gz)$')


class ConfigError(ValueError):
    pass


def check_keys(where, mapping, keys):
    if not isinstance(mapping, dict):
        raise ConfigError('%s must be a JSON object' % where)
    for key, kind in keys.items():
        if key not in mapping:
            raise ConfigError('%s: %s is missing' % (where, key))
        if not isinstance(mapping[key], kind) or isinstance(mapping[key], bool) and kind is int:
            raise ConfigError('%s: %s has the wrong type' % (where, key))
    unknown = sorted(set(mapping) - set(keys))
    if unknown:
        raise ConfigError('%s: unknown keys %s' % (where, ', '.join(unknown)))


def load_config(path):
    try:
        with open(path) as handle:
            config = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ConfigError('%s: cannot read the configuration: %s' % (path, exc))
    check_keys(path, config, CONFIG_KEYS)
    if not config['sets']:
        raise ConfigError('%s: sets: at least one backup set is needed' % path)
    names = set()
    dirs = set()
    for index, item in enumerate(config['sets']):
        where = '%s: set %d' % (path, index + 1)
        check_keys(where, item, SET_KEYS)
        if not NAME_RE.match(item['name']) or item['name'] in names:
            raise ConfigError('%s: name must be unique, letters, digits, _ . - only' % where)
        names.add(item['name'])
        if not os.path.isabs(item['dir']) or item['dir'] in dirs:
            raise ConfigError('%s: dir must be an absolute path of its own' % where)
        dirs.add(item['dir'])
        if item['retention_days'] < 1 or item['retention_count'] < 1 or item['max_age_seconds'] < 1:
            raise ConfigError('%s: retention_days, retention_count and max_age_seconds must be at '
                              'least 1' % where)
        if not NAME_RE.match(item['config_archive_name']):
            raise ConfigError('%s: config_archive_name may hold letters, digits, _ . - only' % where)
        for entry in item['config_paths']:
            if not isinstance(entry, str) or not os.path.isabs(entry):
                raise ConfigError('%s: config_paths must be absolute paths' % where)
        if not item['dump'] and not item['config_paths']:
            raise ConfigError('%s: the set writes nothing (no dump, no config_paths)' % where)
    for name, value in config['environment'].items():
        # libpq's variables only, as the role writes them: nothing else reaches the client programs.
        if not PG_ENV_RE.match(name) or not isinstance(value, str) or name == 'PGPASSWORD':
            raise ConfigError('%s: environment: %s is not a libpq variable with a text value (the password '
                              'goes into passfile)' % (path, name))
    if config['metric_dir'] is not None and not os.path.isabs(config['metric_dir']):
        raise ConfigError('%s: metric_dir must be an absolute path' % path)
    if config['container'] is not None and not NAME_RE.match(config['container']):
        raise ConfigError('%s: container must be a container name (letters, digits, _ . -)' % path)
    return config


def read_password(passfile):
    """The password of a one-line pgpass file as the role writes it (``*:*:*:user:password``)."""
    with open(passfile) as handle:
        line = handle.readline().rstrip('\n')
    fields = []
    current = ''
    escaped = False
    for char in line:
        if escaped:
            current += char
            escaped = False
        elif char == '\\':
            escaped = True
        elif char == ':':
            fields.append(current)
            current = ''
        else:
            current += char
    fields.append(current)
    return fields[4] if len(fields) == 5 else None


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
    def __init__(self, config, backup_set):
        self.config = config
        self.set = backup_set
        # The connection's own variables win over these defaults; libpq variables of the calling
        # environment that the connection does not name are dropped, so the configuration decides.
        self.pg_env = dict({'PGAPPNAME': 'fleetops_pg_backup', 'PGCONNECT_TIMEOUT': '30'}, **config['environment'])
        self.env = dict((k, v) for k, v in os.environ.items() if not PG_ENV_RE.match(k))
        self.env.update(self.pg_env)
        if config['passfile']:
            if config['container']:
                # the password file is on the host; docker exec -e NAME passes the value from
                # this environment, never on a command line
                password = read_password(config['passfile'])
                if password is not None:
                    self.env['PGPASSWORD'] = password
                    self.pg_env['PGPASSWORD'] = password
            else:
                self.env['PGPASSFILE'] = config['passfile']
        self.failures = []

    def tool(self, name):
        """The command line of a client program: on the host, or in the container."""
        if self.config['container']:
            cmd = ['docker', 'exec', '-i']
            if self.config['container_user']:
                cmd += ['-u', self.config['container_user']]
            for key in sorted(self.pg_env):
                cmd += ['-e', key]
            return cmd + [self.config['container'], name]
        if self.config['bin_dir']:
            return [os.path.join(self.config['bin_dir'], name)]
        return [name]

    def psql(self, sql, database='postgres'):
        proc = subprocess.run(self.tool('psql') + ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
                                                   '-d', database, '-c', sql], env=self.env,
                              capture_output=True, stdin=subprocess.DEVNULL, text=True, check=False)
        if proc.returncode:
            raise RuntimeError('psql: %s' % proc.stderr.strip())
        return proc.stdout

    def databases(self):
        if not self.set['dump']:
            return []
        wanted = self.set['databases']
        if not wanted:
            out = self.psql('SELECT datname FROM pg_database WHERE NOT datistemplate AND '
                            'datallowconn ORDER BY 1')
            wanted = [line for line in out.splitlines() if line]
        return [d for d in wanted if d not in self.config['exclude_databases']]

    def dump(self, database, stamp):
        """pg_dump -Fc in the snapshot in which every table's rows are counted."""
        directory = self.set['dir']
        final = os.path.join(directory, '%s_%s.dump' % (database, stamp))
        partial = final + '.partial'
        started = datetime.datetime.now(datetime.timezone.utc)
        session = subprocess.Popen(
            self.tool('psql') + ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', database],
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
            cmd = self.tool('pg_dump') + ['-Fc', '--snapshot', snapshot]
            if self.config['compression'] is not None:
                cmd += ['-Z', str(self.config['compression'])]
            cmd += self.config['dump_options'] + ['-d', database]
            if self.config['container']:
                # pg_dump in the container streams the dump to a file on the host
                fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, 'wb') as out:
                    proc = subprocess.run(cmd, env=self.env, stdout=out, stderr=subprocess.PIPE,
                                          stdin=subprocess.DEVNULL, check=False)
            else:
                proc = subprocess.run(cmd[:-2] + ['-f', partial] + cmd[-2:], env=self.env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      stdin=subprocess.DEVNULL, check=False)
            if proc.returncode:
                raise RuntimeError('pg_dump %s: %s' % (
                    database, proc.stderr.decode('utf-8', 'replace').strip()))
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
        digest = publish(partial, final)
        manifest = {
            'database': database,
            'format': 'custom',
            'server_version': server_version,
            'started_at': started.isoformat(),
            'finished_at': finished.isoformat(),
            'size': os.path.getsize(final),
            'sha256': digest,
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
        paths = self.set['config_paths']
        if not paths:
            return None
        final = os.path.join(self.set['dir'], '%s_%s.tar.gz' % (
            self.set['config_archive_name'], stamp))
        partial = final + '.partial'
        with tarfile.open(partial, 'w:gz') as archive:
            for path in paths:
                if not os.path.exists(path):
                    raise RuntimeError('configuration path %s does not exist' % path)
                archive.add(path)
        publish(partial, final)
        log('archived %d configuration paths to %s' % (len(paths), final))
        return final

    def verify(self, written):
        """The collection's verification engine on what this run wrote."""
        sys.path.insert(0, self.config['lib_dir'])
        from ansible_collections.fleetops.runbook.plugins.module_utils.backup_verify import (
            Verifier)
        status = 'OK'
        results = []
        max_age = self.config['verify_max_age'] or self.set['max_age_seconds']
        for path in written:
            report, extra = Verifier({'path': path, 'latest': 1, 'checksum_missing': 'critical',
                                      'max_age': max_age},
                                     run_command=run_command).result()
            log('verify %s: %s' % (path, report.summary()))
            results.append({'path': path, 'status': report.status, 'summary': report.summary(),
                            'backups': extra['backups']})
            if report.status in ('CRITICAL', 'UNKNOWN'):
                status = report.status
        write_file(os.path.join(self.set['dir'], 'last_verify.json'),
                   json.dumps({'set': self.set['name'], 'status': status, 'time': time.time(),
                               'results': results}, indent=2) + '\n')
        return status

    def retention(self):
        """Delete backups older than retention_days or beyond retention_count per series.

        The newest backup of every series is never deleted, and this runs only after the
        newest backups verified, so the newest good backup always survives.
        """
        now = time.time()
        series = {}
        for path in glob.glob(os.path.join(self.set['dir'], '*')):
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
                too_old = now - taken > self.set['retention_days'] * 86400
                if too_old or index >= self.set['retention_count']:
                    for extra in ('', '.sha256', '.manifest.json'):
                        if os.path.exists(path + extra):
                            os.unlink(path + extra)
                    removed.append(path)
        for path in removed:
            log('retention removed %s' % path)
        return removed

    def run(self):
        os.umask(0o077)
        log('set %s: backing up into %s' % (self.set['name'], self.set['dir']))
        directory = self.set['dir']
        os.makedirs(directory, mode=0o700, exist_ok=True)
        # a second run within the same second (by hand, next to the timer) waits for a stamp of
        # its own rather than replace the files of the first
        while True:
            stamp = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ')
            if not glob.glob(os.path.join(glob.escape(directory), '*_%s.*' % stamp)):
                break
            time.sleep(0.2)
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
        log('backup complete: set %s, %d files written and verified (%s)' % (
            self.set['name'], len(written), status))
        metric_dir = self.config['metric_dir']
        if metric_dir and os.path.isdir(metric_dir) and os.access(metric_dir, os.W_OK):
            write_metric(metric_dir, self.set)
        return 0


def write_metric(metric_dir, backup_set):
    """Rewrite the set's samples of fleetops_backup.prom from its last verified run.

    The time is the one last_verify.json of the set's directory records, and only a run whose
    verification passed counts; the other sets' samples are kept. The file is replaced atomically
    (a temporary file renamed over it) under a lock on the directory, so sets finishing together
    do not lose each other's lines and the collector never reads half a file.
    """
    if not metric_dir or not os.path.isdir(metric_dir):
        log('no metric written: the textfile directory %s does not exist' % metric_dir)
        return False
    try:
        with open(os.path.join(backup_set['dir'], 'last_verify.json')) as handle:
            last = json.load(handle)
        verified_at = float(last['time'])
        passed = last['status'] in ('OK', 'WARNING') and last.get('set') == backup_set['name']
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log('no metric written for set %s: no verified run recorded (%s)' % (backup_set['name'], exc))
        return False
    if not passed:
        log('no metric written for set %s: its last verification was %s' % (
            backup_set['name'], last.get('status')))
        return False
    target = os.path.join(metric_dir, METRIC_FILE)
    lock = os.open(metric_dir, os.O_RDONLY)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        samples = {}
        try:
            with open(target) as handle:
                for line in handle:
                    match = SAMPLE_RE.match(line.strip())
                    if match:
                        samples[(match.group(1), match.group(2))] = match.group(3)
        except OSError:
            pass
        samples[(METRICS[0][0], backup_set['name'])] = '%.3f' % verified_at
        samples[(METRICS[1][0], backup_set['name'])] = '%d' % backup_set['max_age_seconds']
        lines = []
        for metric, text in METRICS:
            lines += ['# HELP %s %s' % (metric, text), '# TYPE %s gauge' % metric]
            lines += ['%s{set="%s"} %s' % (metric, name, value)
                      for (key, name), value in sorted(samples.items()) if key == metric]
        tmp = '%s.%d.tmp' % (target, os.getpid())
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        with os.fdopen(fd, 'w') as handle:
            handle.write('\n'.join(lines) + '\n')
        os.chmod(tmp, 0o644)
        os.rename(tmp, target)
    finally:
        os.close(lock)
    log('metric written: set %s verified at %.0f, max age %d s, in %s' % (
        backup_set['name'], verified_at, backup_set['max_age_seconds'], target))
    return True


def publish(partial, final):
    """Give a finished file its final name and its .sha256 sidecar; return the digest (hex)."""
    digest = hashlib.sha256()
    with open(partial, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    os.rename(partial, final)
    write_file(final + '.sha256', '%s  %s\n' % (digest.hexdigest(), os.path.basename(final)))
    return digest.hexdigest()


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
    parser.add_argument('--set', help='run only this backup set')
    parser.add_argument('--metric', action='store_true',
                        help='only write the set\'s metric from its last verified run')
    args = parser.parse_args()
    try:
        config = load_config(args.check_config or args.config)
        chosen = [s for s in config['sets'] if args.set in (None, s['name'])]
        if not chosen:
            raise ConfigError('--set: no set named %s (sets: %s)' % (
                args.set, ', '.join(s['name'] for s in config['sets'])))
    except ConfigError as exc:
        print('fleetops-pg-backup: %s' % exc, file=sys.stderr)
        return 2
    if args.check_config:
        return 0
    if args.metric:
        for backup_set in chosen:
            write_metric(config['metric_dir'], backup_set)
        return 0
    rc = 0
    for backup_set in chosen:
        rc = max(rc, Backup(config, backup_set).run())
    return rc


if __name__ == '__main__':
    sys.exit(main())
