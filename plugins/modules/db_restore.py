#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: db_restore
short_description: Restore a PostgreSQL dump into a database, verified, without ever dropping a live one
version_added: 0.1.0
description:
  - Restores a C(pg_dump) backup (custom, directory, tar, plain or gzipped plain) into O(database)
    on a PostgreSQL server and proves the restore by counting every table's rows against the
    backup's JSON manifest (as the P(fleetops.runbook.postgres_backup#role) role writes it), or
    against the counts read from the dump.
  - The dump is restored into a staging database first. Only when the counts match does the staging
    database take the name O(database); a failed restore never touches O(database).
  - V(template0), V(template1) and V(postgres) (and the login database) are never a target.
  - A plain dump (C(.sql), C(.sql.gz)) is read first, the way psql reads it, and refused before
    anything is created when it holds a database-level or cluster-wide command (such as the
    C(DROP DATABASE), C(CREATE DATABASE) and C(\connect) of C(pg_dump -C -c), which would replace
    the live database it came from), a psql meta-command other than pg_dump's
    C(\restrict)/C(\unrestrict) lines, or a C(COPY) other than C(COPY ... FROM stdin); the
    message gives the line and the command. One that passes runs with C(psql -X -v ON_ERROR_STOP=1
    --single-transaction). The SQL of the table of contents entries of an archive is checked
    the same way. See M(fleetops.runbook.backup_verify) for the full list.
  - When O(database) already exists it is a live database, and the module refuses before changing
    anything, unless O(replace_existing=true). Even then it is never dropped; its sessions are ended
    and it is renamed to C(<database>_replaced_<timestamp>), so it can still be looked at.
  - The connection options (O(login_host), O(login_port), O(login_user), O(login_password),
    O(login_db), O(ssl_mode), O(ca_cert), O(connect_timeout)) reach C(psql) and C(pg_restore) as
    libpq environment variables, never on their command lines. A server must be named explicitly,
    by O(login_host), O(login_unix_socket) or E(PGHOST), so a restore never lands on a server by
    default.
  - The result speaks the status model of this collection (checks C(restore_duration) and
    C(restore_rows)), so it goes into a fleet report as it is.
requirements:
  - psql and pg_restore on the managed host (PATH or C(/usr/lib/postgresql/*/bin)). No Python
    database driver is needed.
extends_documentation_fragment:
  - fleetops.runbook.attributes
  - fleetops.runbook.postgres
  - fleetops.runbook.postgres.container
  - fleetops.runbook.status
attributes:
  check_mode:
    support: full
    details: Checks the backup, the server and the target, and returns what it would do.
options:
  path:
    description:
      - The backup file (or directory dump) to restore.
      - A FIFO, a device, a socket or a directory that is not a directory-format dump is refused
        before it is opened.
    type: path
    required: true
  database:
    description: Name of the database the backup becomes.
    type: str
    required: true
  replace_existing:
    description:
      - Allow O(database) to exist already. It is renamed aside (never dropped) once the restored
        copy is verified; its open sessions are ended first.
    type: bool
    default: false
  verify_rows:
    description:
      - Compare the restored row counts with the manifest (or the counts in the dump); a difference
        is V(CRITICAL) and the restored copy does not take the name O(database).
    type: bool
    default: true
  jobs:
    description: Parallel jobs for pg_restore (custom and directory archives).
    type: int
    default: 2
  timeout:
    description:
      - Seconds after which the restore, or the row counts after it, are abandoned; the program is
        killed on the client side with everything it started, so a server that stops answering
        cannot hold the module.
      - At most 2592000 (30 days).
    type: int
    default: 14400
  thresholds:
    description:
      - Warning and critical ranges of the V(restore_duration) check, in seconds.
      - The default critical range V(~:14400) is the four-hour recovery time objective.
    type: dict
    default: {}
  login_user:
    description:
      - Role to connect as; it must be allowed to create databases (C(CREATEDB)), to create the
        objects of the dump and, with O(replace_existing=true), to rename O(database) and end its
        sessions.
      - Defaults to E(PGUSER), else libpq's default (the name of the operating system user the
        module runs as).
  login_db:
    description:
      - Database to connect to while creating, renaming and dropping databases. Never O(database).
      - Defaults to E(PGDATABASE), else V(postgres).
  statement_timeout:
    description:
      - Milliseconds that each statement creating, renaming or dropping a database, or ending
        sessions, may take. On the client, each is abandoned after O(connect_timeout) +
        O(statement_timeout) + 5 seconds. The restore itself and the row counts are bound by
        O(timeout) instead.
      - A connection failure names the option it points at (O(login_db) for a database that does
        not exist, O(login_user) or O(login_password) for a role that cannot log in) with psql's
        message; the password never appears.
notes:
  - The staging database of a failed restore is dropped; it never held anything but the failed
    restore. Nothing else is ever dropped.
seealso:
  - module: fleetops.runbook.backup_verify
  - module: fleetops.runbook.pg_health
'''

EXAMPLES = r'''
- name: Restore the chosen dump into a new database next to the damaged one
  fleetops.runbook.db_restore:
    path: /var/backups/postgresql/shop_20250119T030000Z.dump
    database: shop_restored
    login_unix_socket: /var/run/postgresql
    login_user: postgres
  become: true
  become_user: postgres

- name: Put the backup in place of the live database (the old one is kept, renamed)
  fleetops.runbook.db_restore:
    path: /var/backups/postgresql/shop_20250119T030000Z.dump
    database: shop
    replace_existing: true
    login_host: 127.0.0.1
    login_user: admin
    login_password: "{{ vault_pg_admin_password }}"
'''

RETURN = r'''
# Status keys: generated by tools/status-return.py from doc_fragments/status.py, do not edit.
status:
  description: The worst status of all checks.
  returned: always
  type: str
  sample: WARNING
checks:
  description: Every individual check.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the check.
      type: str
      sample: disk
    target:
      description: What the check looked at (a mount point, a database, a table), or null.
      type: str
      sample: /var
    value:
      description: The measured value, or null when it could not be measured.
      type: raw
      sample: 87.5
    unit:
      description: Unit of RV(checks[].value) (percent, seconds, milliseconds, bytes, count, ratio).
      type: str
      sample: percent
    warning:
      description: The warning range applied, or null.
      type: str
      sample: "85"
    critical:
      description: The critical range applied, or null.
      type: str
      sample: "95"
    status:
      description: OK, WARNING, CRITICAL or UNKNOWN.
      type: str
      sample: WARNING
    message:
      description: What was found, in words.
      type: str
      sample: disk /var is 87.5% (warning 85)
    labels:
      description: Extra labels of the check in RV(metrics), present only on checks that have some.
      type: dict
      sample: {database: app}
summary:
  description: One line for a human, worst findings first.
  returned: always
  type: str
  sample: "WARNING: disk /var is 87.5% (warning 85); 11 OK"
perfdata:
  description: The numeric checks as Nagios performance data.
  returned: always
  type: str
  sample: "cpu=12.5%;70;85;0;100 'disk /var'=87.5%;85;95;0;100"
metrics:
  description:
    - The checks as Prometheus text exposition lines, ready for the node exporter's textfile
      collector.
  returned: always
  type: list
  elements: str
  sample:
    - 'fleetops_check_status{source="resource_check",check="cpu"} 0'
# End of status keys.
database:
  description: The database the backup now lives in (O(database)), or null when nothing was restored.
  returned: always
  type: str
path:
  description: The restored backup.
  returned: always
  type: str
seconds:
  description: How long the restore and the verification took.
  returned: when a restore ran
  type: float
rows:
  description: Row count of every restored table.
  returned: when a restore ran
  type: dict
  sample: {"public.orders": 20000}
mismatches:
  description: Tables whose restored count differs from the expected one.
  returned: always
  type: list
  elements: str
compared_with:
  description: What the counts were compared with.
  returned: when a restore ran
  type: str
staging_left:
  description:
    - The staging database of a failed restore that could not be dropped (the server did not
      answer in time), or null. The message names it too.
  returned: always
  type: str
replaced_as:
  description: The name the previous O(database) was renamed to, or null.
  returned: always
  type: str
backup_time:
  description:
    - When the backup's snapshot was taken (the manifest's C(started_at)), else the file's
      modification time, in seconds since the epoch; the recovery point.
  returned: always
  type: float
plan:
  description: What the module does, or would do in check mode, step by step.
  returned: always
  type: list
  elements: str
'''

import datetime
import os
import re
import stat
import time

from ansible_collections.fleetops.runbook.plugins.module_utils.module import RunbookModule

from ansible_collections.fleetops.runbook.plugins.module_utils.status import (
    CRITICAL, CheckReport, finish, parse_thresholds, status_argument_spec)
from ansible_collections.fleetops.runbook.plugins.module_utils.postgres import (
    container_argument_spec, postgres_argument_spec, validate_connection_params,
    validate_container_params)
from ansible_collections.fleetops.runbook.plugins.module_utils.backup_files import BackupResult, file_kind, load_manifest
from ansible_collections.fleetops.runbook.plugins.module_utils.programs import ProgramTimeout
from ansible_collections.fleetops.runbook.plugins.module_utils.restore_check import RestoreCheck, RestoreRefused, RestoreUnavailable, quote_ident
from ansible_collections.fleetops.runbook.plugins.module_utils import pg_archive

NAME_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_$-]{0,62}$')
# databases a restore never creates, replaces or renames
RESERVED = ('template0', 'template1', 'postgres')

# what a psql error says about which connection option is wrong
BLAME = (
    ('no pg_hba.conf entry', 'login_user'),
    ('password authentication failed', 'login_password'),
    ('no password supplied', 'login_password'),
    ('database "', 'login_db'),
    ('role "', 'login_user'),
    ('permission denied to create database', 'login_user'),
    ('must be owner of database', 'login_user'),
    ('permission denied', 'login_user'),
    ('ssl', 'ssl_mode'),
    ('certificate', 'ca_cert'),
    ('connection option "port"', 'login_port'),
    # Nothing answered in time: the address, or a server that is too slow to accept.
    ('timeout expired', 'login_host/login_port/connect_timeout'),
    ('did not finish within', 'statement_timeout'),
    ('could not translate host name', 'login_host'),
    # Nothing listens there: the host and the port are named together, either may be wrong.
    ('connection refused', 'login_host/login_port'),
    ('no such file or directory', 'login_unix_socket'),
)


def blame(text, unix_socket=None):
    """The option a psql error points at (the server address when nothing more precise fits).

    With ``login_unix_socket`` set, the server address is that socket directory, so what points
    at the host points at it."""
    lowered = text.lower()
    option = 'login_host'
    for words, candidate in BLAME:
        if words in lowered:
            option = candidate
            break
    if unix_socket and option.startswith('login_host'):
        option = option.replace('login_host', 'login_unix_socket', 1)
    return option


DEFAULT_THRESHOLDS = {'restore_duration': {'warning': None, 'critical': '~:14400'}}


def literal(text):
    return "'%s'" % text.replace("'", "''")


def backup_time(path):
    """The recovery point of a backup: its manifest's snapshot time, else its mtime."""
    try:
        manifest, dummy = load_manifest(path)
    except (IOError, OSError, ValueError):
        manifest = None
    if manifest and manifest.get('started_at'):
        try:
            return datetime.datetime.fromisoformat(manifest['started_at']).timestamp()
        except ValueError:
            pass
    return os.stat(path).st_mtime


class Restorer(RestoreCheck):
    """Restore into a staging database, verify, then give it the target's name."""

    def __init__(self, module):
        params = dict(module.params, restore_timeout=module.params['timeout'],
                      restore_jobs=module.params['jobs'])
        super(Restorer, self).__init__(params, module.run_command)
        self.module = module
        self.target = module.params['database']
        self.stamp = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%d%H%M%S')
        self.plan = []

    def server(self):
        """Where the module works, for messages (never the password)."""
        params = self.module.params
        return '%s:%s' % (params.get('login_unix_socket') or params.get('login_host'),
                          params.get('login_port') or 5432)

    def control(self, sql):
        """A statement on the login database, bound by statement_timeout."""
        return self._psql(self.maintenance_db, sql, control=True)

    def exists(self, name):
        out = self.control('SELECT count(*) FROM pg_database WHERE datname = %s' % literal(name))
        return out.strip() == '1'

    def sessions(self, name):
        out = self.control('SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND '
                           'pid <> pg_backend_pid()' % literal(name))
        return int(out.strip() or 0)

    def _name(self, suffix):
        base = self.target[:63 - len(suffix) - len(self.stamp) - 2]
        return '%s_%s_%s' % (base, suffix, self.stamp)

    def _cleanup(self, staging, result):
        """Drop the staging database; '' when gone, else a sentence naming it for the message."""
        if self._drop(staging):
            return ''
        result['staging_left'] = staging
        return ('; the staging database %s could not be dropped (the server did not answer in '
                'time, or refused): drop it once the server answers: DROP DATABASE %s WITH (FORCE)'
                % (staging, quote_ident(staging)))

    def run(self, backup):
        params = self.module.params
        result = {'database': None, 'path': backup.path, 'mismatches': [], 'replaced_as': None,
                  'staging_left': None,
                  'backup_time': backup_time(backup.path), 'plan': self.plan, 'changed': False}
        exists = self.exists(self.target)
        if exists and not params['replace_existing']:
            self.module.fail_json(
                msg='database: %s already exists on %s (%d open sessions) and may be live; '
                    'nothing was changed. Restore into a new database name, or set '
                    'replace_existing=true to rename the existing one aside (it is never '
                    'dropped)' % (self.target, self.server(), self.sessions(self.target)),
                **result)
        try:
            self.preflight(backup)
        except RestoreRefused as exc:
            return result, str(exc)
        staging = self._name('restoring')
        self.plan.append('create the staging database %s' % staging)
        self.plan.append('restore %s into it' % backup.path)
        if params['verify_rows']:
            self.plan.append('compare its row counts with the manifest or the dump')
        replaced = self._name('replaced') if exists else None
        if replaced:
            self.plan.append('end the sessions of %s and rename it to %s' % (self.target, replaced))
        self.plan.append('rename %s to %s' % (staging, self.target))
        if self.module.check_mode:
            result.update(changed=True, replaced_as=replaced)
            return result, None

        started = time.monotonic()
        try:
            self.control('CREATE DATABASE %s' % quote_ident(staging))
        except ProgramTimeout as exc:
            # stopped while the server was working on it: it may exist all the same
            return result, 'cannot create the staging database, %s was not touched: %s%s' % (
                self.target, exc, self._cleanup(staging, result))
        result['changed'] = True
        try:
            self._load(backup, staging)
            if params['verify_rows']:
                self.compare_rows(backup, staging, result)
        except RuntimeError as exc:
            left = self._cleanup(staging, result)
            result['seconds'] = round(time.monotonic() - started, 3)
            return result, 'restore of %s failed, %s was not touched: %s%s' % (
                backup.path, self.target, str(exc)[-1500:], left)
        if result['mismatches']:
            self._cleanup(staging, result)
            result['seconds'] = round(time.monotonic() - started, 3)
            return result, None
        if replaced:
            self.control('ALTER DATABASE %s WITH ALLOW_CONNECTIONS false'
                         % quote_ident(self.target))
            self.control('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE '
                         'datname = %s AND pid <> pg_backend_pid()' % literal(self.target))
            self.control('ALTER DATABASE %s RENAME TO %s' % (
                quote_ident(self.target), quote_ident(replaced)))
            self.control('ALTER DATABASE %s WITH ALLOW_CONNECTIONS true' % quote_ident(replaced))
            result['replaced_as'] = replaced
        self.control('ALTER DATABASE %s RENAME TO %s' % (
            quote_ident(staging), quote_ident(self.target)))
        result['database'] = self.target
        result['seconds'] = round(time.monotonic() - started, 3)
        return result, None


# Longer than any restore; beyond what a thread can wait for, a huge value raised a traceback.
MAX_TIMEOUT = 30 * 86400


def argument_spec():
    spec = status_argument_spec(thresholds=True)
    spec.update(postgres_argument_spec())
    spec.update(container_argument_spec())
    spec.update(
        path=dict(type='path', required=True),
        database=dict(type='str', required=True),
        replace_existing=dict(type='bool', default=False),
        verify_rows=dict(type='bool', default=True),
        jobs=dict(type='int', default=2),
        timeout=dict(type='int', default=14400),
    )
    return spec


def main():
    module = RunbookModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    errors = validate_connection_params(params, programs=True) + validate_container_params(params)
    if errors:
        module.fail_json(msg='; '.join(errors))
    if not (params['login_host'] or params['login_unix_socket']):
        module.fail_json(msg='login_host: a restore needs a server named explicitly: set '
                             'login_host (a host name or a unix socket directory) or '
                             'login_unix_socket (or PGHOST in the environment)')
    if not NAME_RE.match(params['database']):
        module.fail_json(msg='database: %r is not a plain database name (letters, digits, _, $ '
                             'and -, at most 63)' % params['database'])
    if (params['login_db'] or 'postgres') == params['database']:
        module.fail_json(msg='login_db: the module connects to %s to create and rename databases, '
                             'so it cannot be the restore target database=%s; set login_db to '
                             'another database (postgres by default)'
                             % (params['login_db'] or 'postgres', params['database']))
    if params['database'] in RESERVED:
        module.fail_json(msg='database: %s is a template or maintenance database (%s); a restore '
                             'never creates, replaces or renames it. Restore into another name'
                             % (params['database'], ', '.join(RESERVED)))
    if params['jobs'] < 1 or params['timeout'] < 1:
        module.fail_json(msg='jobs and timeout: must be at least 1')
    if params['timeout'] > MAX_TIMEOUT:
        module.fail_json(msg='timeout: at most %d seconds (30 days), got %d' % (MAX_TIMEOUT, params['timeout']))
    try:
        thresholds = parse_thresholds(params['thresholds'], DEFAULT_THRESHOLDS)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    path = params['path'].rstrip('/') or '/'
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        module.fail_json(msg='path: %s cannot be reached: %s' % (path, exc.strerror or exc))
    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        # refused before any open(): reading a FIFO or a device would block or never end
        module.fail_json(msg='path: %s is %s, not a backup; it was not opened' % (path, file_kind(mode)))
    backup = BackupResult(path)
    try:
        backup.format = pg_archive.detect_format(path)
    except (IOError, OSError) as exc:
        module.fail_json(msg='path: %s cannot be read: %s' % (path, exc.strerror or exc))
    if backup.format in (None, 'basebackup'):
        module.fail_json(msg='path: %s is not a pg_dump backup this module can restore (found: %s)'
                         % (path, backup.format or 'no known format'))
    restorer = Restorer(module)
    try:
        for tool in ('psql', 'pg_restore'):
            restorer._tool(tool)
        result, error = restorer.run(backup)
    except RestoreUnavailable as exc:
        module.fail_json(msg=str(exc))
    except RuntimeError as exc:
        text = str(exc)[-1500:]
        module.fail_json(msg='%s: cannot work on %s as %s: %s' % (
            blame(text, params['login_unix_socket']), restorer.server(), params['login_user'] or '(the default user)', text),
            plan=restorer.plan)
    report = CheckReport('db_restore')
    if error:
        report.add('restore', None, target=path, status=CRITICAL, message=error)
    elif not module.check_mode:
        check = report.add('restore_duration', result['seconds'], unit='seconds',
                           target=params['database'], thresholds=thresholds['restore_duration'])
        check['message'] = 'restored %s into %s in %.1f s%s' % (
            path, params['database'], result['seconds'],
            ' (the previous database is kept as %s)' % result['replaced_as']
            if result['replaced_as'] else '')
        if params['verify_rows']:
            if result['mismatches']:
                message = 'restored row counts of %s differ from %s, so %s was not touched: %s' % (
                    path, result.get('compared_with'), params['database'],
                    '; '.join(result['mismatches'][:5]))
                report.add('restore_rows', len(result['mismatches']), unit='count',
                           target=params['database'], status=CRITICAL, message=message)
            else:
                report.add('restore_rows', 0, unit='count', target=params['database'],
                           message='%d tables restored into %s; row counts equal %s' % (
                               len(result.get('rows') or {}), params['database'],
                               result.get('compared_with')))
    else:
        report.add('restore', None, target=params['database'], status='OK',
                   message='would restore %s into %s' % (path, params['database']))
    if result.get('staging_left'):
        report.add('restore_cleanup', 1, unit='count', target=result['staging_left'],
                   status=CRITICAL, message='the staging database %s could not be dropped; drop it '
                                            'once the server answers: DROP DATABASE %s WITH (FORCE)'
                                            % (result['staging_left'], quote_ident(result['staging_left'])))
    finish(module, report, **result)


if __name__ == '__main__':
    main()
