#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: pg_health
short_description: Check the health of a PostgreSQL server in one connection
version_added: 0.1.0
description:
  - Runs the health checks a DBA runs from check_postgres, each individually selectable, with
    warning and critical ranges and defaults from the runbooks, in one connection and one
    read-only transaction.
  - An unreachable server (refused, wrong password, no answer within O(connect_timeout)) is data,
    not a crash. RV(is_available) is V(false) and the status V(CRITICAL); whether the task fails is
    O(fail_on)'s choice. So is a server that stops answering in the middle of the run (see
    O(statement_timeout)); the checks measured before are kept.
  - When the server's version and the role's rights cannot be read at the start (for example the
    statement is cancelled by O(statement_timeout)), no check runs and the run reports one
    V(UNKNOWN) check, C(server), with the reason.
  - Made for a least-privilege monitoring role, a member of C(pg_monitor) that is not a superuser.
    Such a role sees every session, lock, replication and statistics view. It cannot read the
    current value of sequences it has no C(SELECT) or C(USAGE) privilege on. Grant it
    C(pg_read_all_data) (PostgreSQL 14+) or C(SELECT) on those sequences. A check that lacks a
    privilege reports V(UNKNOWN) with the reason and the others go on.
  - Reads only; it never changes the server.
extends_documentation_fragment:
  - fleetops.runbook.attributes
  - fleetops.runbook.postgres
  - fleetops.runbook.postgres.driver
  - fleetops.runbook.status
options:
  checks:
    description:
      - Which checks to run. Each name runs one query. C(checks[].name) lists the checks it
        reports (see O(thresholds)).
      - V(connection) reports C(connection_time), the time in milliseconds to connect and log in.
      - V(version), V(uptime) and V(in_recovery) report the server version (major number),
        seconds since the server started, and 1 on a standby (0 on a primary).
      - "V(backends) reports C(backends), client connections in percent of C(max_connections),
        C(backends_count), the number of client connections (for limits stated as a count, such
        as a runbook's more than 50 connections, O(thresholds) C({backends_count: {warning: '50'}})),
        and C(backends_state), the count per state (active, idle, idle in transaction)."
      - V(idle_in_transaction), V(transaction_age) and V(query_time) report the age in seconds of
        the oldest session idle in a transaction, the oldest open transaction and the longest
        running query (client backends, this module's own connection left out).
      - V(lock_wait) reports C(lock_waits), the sessions waiting for a lock, and C(lock_wait_time), the
        longest wait in seconds; C(details.locks) names the blocking pids.
      - Every age is measured against the clock of the statement that reads it, not the start of
        the run's transaction, and is never negative.
      - V(wraparound) reports C(wraparound) per database, the age of C(datfrozenxid) in percent
        of C(autovacuum_freeze_max_age).
      - V(replication) reports, on a primary, C(replicas) and per replica C(replication_lag_bytes)
        and C(replication_lag_seconds). On a standby it reports C(replication_lag_bytes) (WAL
        received but not replayed), C(replication_lag_seconds) (since the last replayed
        transaction, 0 when all received WAL is replayed) and C(wal_receiver) (1 when streaming).
        On a primary, a replica that reported no recent replay (caught up and idle, or not
        answering) has no lag in seconds to judge; its message says so, with its last reply.
      - V(replication_slots) reports C(replication_slots_inactive) and per slot
        C(replication_slot_retained), the WAL bytes the slot holds back.
      - V(archive) reports C(archive_failing) (1 when the last archiving attempt failed) and
        C(archive_ready), the WAL files waiting to be archived.
      - V(cache_hit_ratio) reports C(cache_hit_ratio) per database, in percent; databases with fewer
        than 10000 block reads since the statistics were reset are not judged. When no database
        has that many, the check says so, with the lowest ratio.
      - V(database_size) reports C(database_size) per database, in bytes.
      - V(dead_tuples) reports C(dead_tuples), dead in percent of all tuples, for the largest
        tables (see O(table_limit), O(table_min_size)).
      - V(last_vacuum) and V(last_analyze) report C(last_vacuum) and C(last_analyze), seconds since the
        last manual or automatic vacuum and analyze of those tables. A table never vacuumed counts
        from the statistics reset, or from the server start.
      - V(sequence_usage) reports C(sequence_usage), percent of the range used, for sequences that do
        not cycle.
      - V(prepared_transaction_age) reports C(prepared_transaction_age) of the oldest one, in
        seconds.
      - V(checkpoints) reports C(checkpoints_requested), requested checkpoints in percent of all
        (not judged below 10 checkpoints).
      - V(temp_files) reports C(temp_files) and C(temp_bytes) written since the statistics reset.
      - Checks reporting per table, database, replica or slot list every target that is not OK.
        When all are OK, they list the worst one only.
      - A check is named after its threshold key, or after the stem its keys share (V(lock_wait),
        V(archive)). The names of version 0.1.0 V(locks), V(archiver), V(cache_hit), V(vacuum),
        V(analyze), V(sequences) and V(prepared_transactions) are still accepted, with a
        deprecation warning; they will be removed in version 1.0.0.
    type: list
    elements: str
    choices: [connection, version, uptime, in_recovery, backends, idle_in_transaction,
              transaction_age, query_time, lock_wait, wraparound, replication, replication_slots,
              archive, cache_hit_ratio, database_size, dead_tuples, last_vacuum, last_analyze,
              sequence_usage, prepared_transaction_age, checkpoints, temp_files,
              analyze, archiver, cache_hit, locks, prepared_transactions, sequences, vacuum]
    default: [connection, version, uptime, in_recovery, backends, idle_in_transaction,
              transaction_age, query_time, lock_wait, wraparound, replication, replication_slots,
              archive, cache_hit_ratio, database_size, dead_tuples, last_vacuum, last_analyze,
              sequence_usage, prepared_transaction_age, checkpoints, temp_files]
  thresholds:
    description:
      - Warning and critical ranges per reported check, merged over the defaults. Keys are the
        names in C(checks[].name), each a mapping with C(warning) and/or C(critical).
      - "Defaults: connection_time 500 / 1000 ms (the runbook's database connection bands);
        backends 90 / 95 percent (backends_count, the same connections as a count, has none);
        idle_in_transaction 60 / 300 s; transaction_age 300 / 1800 s;
        query_time 60 / 300 s; lock_waits 5 / 20; lock_wait_time 30 / 120 s; wraparound 90 / 200
        percent; replication_lag_bytes 64 MiB / 1 GiB; replication_lag_seconds 60 / 300;
        wal_receiver below 1 warns; replication_slots_inactive above 0 warns;
        replication_slot_retained 1 GiB / 5 GiB; archive_failing above 0 is critical;
        archive_ready 10 / 50; cache_hit_ratio below 90 / 80 percent; dead_tuples 30 / 50
        percent; last_vacuum and last_analyze 7 / 30 days; sequence_usage 85 / 95 percent;
        prepared_transaction_age 60 / 300 s; checkpoints_requested 30 / 60 percent. The others
        (version, uptime, in_recovery, backends_state, replicas, database_size, temp_files,
        temp_bytes) are reported without thresholds."
    type: dict
    default: {}
  table_limit:
    description:
      - How many of the largest tables of O(login_db) (by the planner's page count,
        C(pg_class.relpages)) the V(dead_tuples), V(last_vacuum) and V(last_analyze) checks look at. This
        bounds them on catalogs with many thousands of tables.
    type: int
    default: 20
  table_min_size:
    description:
      - Tables smaller than this many bytes (planner estimate) are left out of V(dead_tuples),
        V(last_vacuum) and V(last_analyze). Autovacuum rarely needs to visit small tables.
      - When every table is smaller, these checks say so (and how many tables they left out)
        instead of reporting a bare OK.
    type: int
    default: 10485760
notes:
  - Tables, dead tuples, vacuum and sequences are per database, so these checks look at
    O(login_db). Every other check is cluster-wide.
  - The planner's estimates (C(relpages), C(reltuples)) are only as fresh as the last vacuum or
    analyze of a table.
seealso:
  - module: fleetops.runbook.slow_queries
  - name: check_postgres
    description: The Nagios plugin whose actions these checks cover.
    link: https://bucardo.org/check_postgres/
'''

EXAMPLES = r'''
- name: Check PostgreSQL as the monitoring role with the runbook's thresholds
  fleetops.runbook.pg_health:
    login_host: db1.example.com
    login_user: monitor
    login_password: "{{ vault_pg_monitor_password }}"
  register: pg

- name: Only connections and replication, with a tighter lag limit; never fail the task
  fleetops.runbook.pg_health:
    login_unix_socket: /var/run/postgresql
    checks: [connection, backends, replication, replication_slots]
    thresholds:
      replication_lag_seconds:
        warning: 10
        critical: 60
    fail_on: never
  register: pg

- name: Report the findings
  ansible.builtin.debug:
    msg: "{{ pg.summary }}"
  when: pg.status != 'OK'

- name: Set the connection once for every PostgreSQL module of the play
  module_defaults:
    group/fleetops.runbook.postgres:
      login_host: 127.0.0.1
      login_user: monitor
      login_password: "{{ vault_pg_monitor_password }}"
  block:
    - name: Health
      fleetops.runbook.pg_health:
    - name: Slow statements
      fleetops.runbook.slow_queries:
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
is_available:
  description: Whether the server accepted the connection and answered every statement within its deadline (see O(statement_timeout)).
  returned: always
  type: bool
  sample: true
server:
  description: What the server told about itself and about the role used.
  returned: when the server is available
  type: dict
  sample: {"version": "15.18", "version_num": 150018, "in_recovery": false,
           "uptime_seconds": 86400.5, "user": "monitor", "superuser": false,
           "pg_monitor": true, "database": "postgres"}
details:
  description:
    - What each check looked at, keyed by check, for a human to dig in. For example
      C(locks) lists waiting pids with the pids blocking them, C(tables) the tables examined,
      C(replication) every replica, C(slots) every replication slot.
  returned: when the server is available
  type: dict
  sample: {"locks": [{"pid": 4242, "user": "app", "database": "shop", "wait_seconds": 12.5,
           "blocked_by": [4100], "query": "UPDATE orders SET ..."}]}
'''

from ansible_collections.fleetops.runbook.plugins.module_utils.module import RunbookModule
from ansible_collections.fleetops.runbook.plugins.module_utils.postgres import (
    BIGINT_MAX,
    ConnectFailure,
    PgSession,
    QueryFailure,
    connection_failure_message,
    ensure_driver,
    mask_secrets,
    number_errors,
    postgres_argument_spec,
    validate_connection_params,
)
from ansible_collections.fleetops.runbook.plugins.module_utils.status import (
    CRITICAL,
    OK,
    UNKNOWN,
    CheckReport,
    finish,
    human_bytes,
    parse_thresholds,
    status_argument_spec,
)

CHECKS = [
    'connection', 'version', 'uptime', 'in_recovery', 'backends', 'idle_in_transaction',
    'transaction_age', 'query_time', 'lock_wait', 'wraparound', 'replication', 'replication_slots',
    'archive', 'cache_hit_ratio', 'database_size', 'dead_tuples', 'last_vacuum', 'last_analyze',
    'sequence_usage', 'prepared_transaction_age', 'checkpoints', 'temp_files',
]

# The names the checks had before they took the name of their threshold keys (0.1.0); still
# accepted, with a deprecation warning.
OLD_CHECKS = {
    'locks': 'lock_wait', 'archiver': 'archive', 'cache_hit': 'cache_hit_ratio',
    'vacuum': 'last_vacuum', 'analyze': 'last_analyze', 'sequences': 'sequence_usage',
    'prepared_transactions': 'prepared_transaction_age',
}

GIB = 1024 ** 3
DAY = 86400

DEFAULT_THRESHOLDS = {
    'connection_time': {'warning': '500', 'critical': '1000'},
    'version': {},
    'uptime': {},
    'in_recovery': {},
    'backends': {'warning': '90', 'critical': '95'},
    'backends_count': {},
    'backends_state': {},
    'idle_in_transaction': {'warning': '60', 'critical': '300'},
    'transaction_age': {'warning': '300', 'critical': '1800'},
    'query_time': {'warning': '60', 'critical': '300'},
    'lock_waits': {'warning': '5', 'critical': '20'},
    'lock_wait_time': {'warning': '30', 'critical': '120'},
    'wraparound': {'warning': '90', 'critical': '200'},
    'replicas': {},
    'replication_lag_bytes': {'warning': str(64 * 1024 ** 2), 'critical': str(GIB)},
    'replication_lag_seconds': {'warning': '60', 'critical': '300'},
    'wal_receiver': {'warning': '1:'},
    'replication_slots_inactive': {'warning': '0'},
    'replication_slot_retained': {'warning': str(GIB), 'critical': str(5 * GIB)},
    'archive_failing': {'critical': '0'},
    'archive_ready': {'warning': '10', 'critical': '50'},
    'cache_hit_ratio': {'warning': '90:', 'critical': '80:'},
    'database_size': {},
    'dead_tuples': {'warning': '30', 'critical': '50'},
    'last_vacuum': {'warning': str(7 * DAY), 'critical': str(30 * DAY)},
    'last_analyze': {'warning': str(7 * DAY), 'critical': str(30 * DAY)},
    'sequence_usage': {'warning': '85', 'critical': '95'},
    'prepared_transaction_age': {'warning': '60', 'critical': '300'},
    'checkpoints_requested': {'warning': '30', 'critical': '60'},
    'temp_files': {},
    'temp_bytes': {},
}

CACHE_HIT_MIN_READS = 10000
CHECKPOINTS_MIN = 10

# Every table-level check starts from the largest tables by the planner's page count, so a
# catalog of 100,000 tables costs one top-N scan of pg_class and no per-table statistics calls.
TABLES_SQL = """
SELECT n.nspname AS schema, c.relname AS name,
       c.relpages::bigint * current_setting('block_size')::bigint AS size_bytes,
       c.reltuples::bigint AS estimated_rows,
       pg_stat_get_live_tuples(c.oid) AS live_tuples,
       pg_stat_get_dead_tuples(c.oid) AS dead_tuples,
       {vacuum_age} AS vacuum_age,
       {analyze_age} AS analyze_age,
       {baseline_age} AS baseline_age
FROM (SELECT oid FROM pg_class
      WHERE relkind IN ('r', 'm') AND relpersistence = 'p'
        AND relnamespace NOT IN (SELECT oid FROM pg_namespace
                                 WHERE nspname IN ('pg_catalog', 'information_schema')
                                    OR nspname LIKE 'pg_toast%%')
        AND relpages::bigint * current_setting('block_size')::bigint >= %(min_size)s
      ORDER BY relpages DESC
      LIMIT %(limit)s) top
JOIN pg_class c ON c.oid = top.oid
JOIN pg_namespace n ON n.oid = c.relnamespace
ORDER BY c.relpages DESC
"""


def age_sql(since):
    """Seconds from ``since`` (an SQL timestamptz expression) to the moment the statement reads it.

    clock_timestamp(), not now(): now() is the start of the run's transaction, earlier than
    activity that began after it, which would come out negative. Clamped at 0 against clock
    steps and timestamps from another host (a primary's commit time seen on a standby).
    NULL stays NULL.
    """
    # One reading of the clock per statement (an uncorrelated subquery runs once), so the rows
    # of one statement are measured against the same instant. Not greatest() alone: it skips
    # NULLs, and a table never vacuumed would come out as 0.
    return ('CASE WHEN (%s) IS NULL THEN NULL'
            ' ELSE greatest(extract(epoch FROM (SELECT clock_timestamp()) - (%s)), 0) END' % (since, since))


TABLES_SQL = TABLES_SQL.format(
    vacuum_age=age_sql('greatest(pg_stat_get_last_vacuum_time(c.oid), pg_stat_get_last_autovacuum_time(c.oid))'),
    analyze_age=age_sql('greatest(pg_stat_get_last_analyze_time(c.oid), pg_stat_get_last_autoanalyze_time(c.oid))'),
    baseline_age=age_sql("coalesce((SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()),"
                         " pg_postmaster_start_time())"))

# User tables of the database below table_min_size: said when they are all the checks had.
SMALL_TABLES_SQL = """
SELECT count(*) AS small FROM pg_class
WHERE relkind IN ('r', 'm') AND relpersistence = 'p'
  AND relnamespace NOT IN (SELECT oid FROM pg_namespace
                           WHERE nspname IN ('pg_catalog', 'information_schema')
                              OR nspname LIKE 'pg_toast%%')
  AND relpages::bigint * current_setting('block_size')::bigint < %(min_size)s
"""

# Digits a value keeps for display, by unit. Values are judged before they are rounded.
DISPLAY_DIGITS = {'seconds': 3, 'percent': 2, 'milliseconds': 1}


def _round(value, digits=3):
    return None if value is None else round(float(value), digits)


def _shown(value, unit):
    """``value`` rounded for display as its unit is shown (see DISPLAY_DIGITS)."""
    if isinstance(value, float) and unit in DISPLAY_DIGITS:
        return round(value, DISPLAY_DIGITS[unit])
    return value


def _pct(value):
    return '%s%%' % _shown(float(value), 'percent')


class PgHealth:
    """Runs the selected checks over one session and fills a CheckReport."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.report = CheckReport('pg_health')
        self.details = {}
        self.server = {}
        self.session = PgSession(module, application_name='fleetops.runbook.pg_health')
        self.thresholds = None
        self.sees_all_sessions = False
        self.uptime = None
        self._table_rows = None

    # ---- input ------------------------------------------------------------------------------
    def validate(self):
        errors = validate_connection_params(self.params)
        errors.extend(number_errors(self.params, {'table_limit': (1, BIGINT_MAX, ''),
                                                  'table_min_size': (0, BIGINT_MAX, 'bytes')}))
        if errors:
            self.module.fail_json(msg='; '.join(errors))
        self.params['checks'] = self.selected_checks(self.params['checks'])
        try:
            self.thresholds = parse_thresholds(self.params['thresholds'], DEFAULT_THRESHOLDS,
                                               'thresholds')
        except ValueError as exc:
            self.module.fail_json(msg=str(exc))

    def selected_checks(self, names):
        """``names`` with every old name (OLD_CHECKS) replaced by its new one, each once, in
        the order given; an old name is accepted with a deprecation warning."""
        selected = []
        for name in names:
            if name in OLD_CHECKS:
                self.module.deprecate('checks: %s is now called %s (the name of its threshold '
                                      'keys); the old name will be removed' % (name, OLD_CHECKS[name]),
                                      version='1.0.0', collection_name='fleetops.runbook')
                name = OLD_CHECKS[name]
            if name not in selected:
                selected.append(name)
        return selected

    # ---- helpers ----------------------------------------------------------------------------
    def add(self, name, value, unit='', target=None, message=None, status=None, labels=None):
        """Record ``value`` judged as measured; the report shows it rounded for its unit."""
        if status is None:
            status = self.thresholds[name].judge(value) if isinstance(value, (int, float)) else UNKNOWN
        return self.report.add(name, _shown(value, unit), unit=unit, thresholds=self.thresholds[name],
                               target=target, message=message, status=status, labels=labels)

    def add_targets(self, name, items, unit, worse='higher'):
        """Per-target measurements: every one that alerts, else the worst one.

        ``items`` are dicts with target, value and optionally message / status.
        """
        if not items:
            return
        judged = []
        for item in items:
            status = item.get('status') or self.thresholds[name].judge(item['value'])
            judged.append((item, status))
        alerting = [(i, s) for i, s in judged if s != OK]
        if alerting:
            chosen = alerting
        else:
            pick = max if worse == 'higher' else min
            chosen = [pick(judged, key=lambda pair: pair[0]['value'])]
        for item, status in chosen:
            self.add(name, item['value'], unit=unit, target=item['target'],
                     message=item.get('message') if item.get('message') else None,
                     status=item.get('status'), labels=item.get('labels'))

    def unknown(self, names, failure):
        for name in names:
            self.report.unknown(name, '%s: %s' % (name, failure.reason))

    def fetch(self, names, sql, args=None, one=False):
        """The rows of ``sql`` (its first row with ``one``); None when the statement failed,
        after reporting each of ``names`` UNKNOWN with the reason."""
        try:
            if one:
                return self.session.one(sql, args)
            return self.session.query(sql, args)
        except QueryFailure as failure:
            self.unknown(names, failure)
            return None

    # ---- run --------------------------------------------------------------------------------
    def run(self):
        self.validate()
        selected = self.params['checks']
        try:
            connect_ms = self.session.connect()
        except ConnectFailure as failure:
            if failure.kind == 'no_database':
                self.module.fail_json(msg='login_db: %s' % failure.message, is_available=False)
            message = connection_failure_message(self.session, failure)
            self.report.add('connection_time', None, unit='milliseconds', status=CRITICAL,
                            message=message)
            finish(self.module, self.report, is_available=False)
            return
        lost = None
        try:
            if 'connection' in selected:
                self.add('connection_time', connect_ms, unit='milliseconds')
            if self.start():
                for check in CHECKS[1:]:
                    if check in selected:
                        self.run_check(check)
        except ConnectFailure as failure:
            lost = failure
        finally:
            self.session.close()
        if lost is not None:
            self.report.checks = [c for c in self.report.checks if c['name'] != 'connection_time']
            self.report.add('connection_time', None, unit='milliseconds', status=CRITICAL,
                            message=connection_failure_message(self.session, lost))
            finish(self.module, self.report, is_available=False, server=self.server,
                   details=self.details)
            return
        finish(self.module, self.report, is_available=True, server=self.server,
               details=self.details)

    def start(self):
        """The transaction and the server's description every check needs; False (with the
        reason reported) when they cannot be had."""
        try:
            self.session.begin(read_only=True)
            self.describe_server()
        except QueryFailure as failure:
            self.report.unknown('server', 'server: cannot read the server\'s version and role, so '
                                'no check ran: %s' % failure.reason)
            return False
        return True

    def run_check(self, check):
        """One check; a statement it did not expect to fail makes it UNKNOWN, not the run."""
        try:
            getattr(self, 'check_' + check)()
        except QueryFailure as failure:
            self.report.unknown(check, '%s: %s' % (check, failure.reason))

    def describe_server(self):
        row = self.session.one(
            "SELECT current_setting('server_version') AS version,"
            " current_setting('server_version_num')::int AS version_num,"
            " pg_is_in_recovery() AS in_recovery,"
            " " + age_sql('pg_postmaster_start_time()') + " AS uptime_seconds,"
            " current_user AS user, current_database() AS database,"
            " current_setting('is_superuser') = 'on' AS superuser,"
            " pg_has_role('pg_monitor', 'USAGE') AS pg_monitor,"
            " pg_has_role('pg_read_all_stats', 'USAGE') AS read_all_stats")
        self.sees_all_sessions = row.pop('read_all_stats') or row['superuser']
        self.uptime = row['uptime_seconds']
        row['uptime_seconds'] = _round(self.uptime)
        self.server = row

    def _needs_all_sessions(self, names):
        """Session-based checks are blind to other roles' sessions without pg_read_all_stats."""
        if self.sees_all_sessions:
            return True
        for name in names:
            self.report.unknown(name, '%s: role %s sees only its own sessions; grant it pg_monitor '
                                '(or pg_read_all_stats)' % (name, self.server['user']))
        return False

    # ---- the checks -------------------------------------------------------------------------
    def check_version(self):
        version_num = self.server['version_num']
        self.add('version', version_num // 10000, message='PostgreSQL %s' % self.server['version'])

    def check_uptime(self):
        self.add('uptime', self.uptime, unit='seconds')

    def check_in_recovery(self):
        recovering = self.server['in_recovery']
        self.add('in_recovery', int(recovering),
                 message='in_recovery: %s' % ('standby (in recovery)' if recovering else 'primary'))

    def check_backends(self):
        names = ['backends', 'backends_count', 'backends_state']
        if not self._needs_all_sessions(names):
            return
        rows = self.fetch(
            names,
            "SELECT coalesce(state, 'unknown') AS state, count(*) AS count,"
            " current_setting('max_connections')::int AS max_connections"
            " FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 1")
        if rows is None:
            return
        if not rows:
            row = self.fetch(names, "SELECT current_setting('max_connections')::int AS m", one=True)
            if row is None:
                return
            rows = [dict(state='active', count=0, max_connections=int(row['m']))]
        max_conn = rows[0]['max_connections']
        total = sum(r['count'] for r in rows)
        percent = 100.0 * total / max_conn
        self.details['backends'] = dict(total=total, max_connections=max_conn,
                                        by_state=dict((r['state'], r['count']) for r in rows))
        status = self.thresholds['backends'].judge(percent)
        self.add('backends', percent, unit='percent', status=status,
                 message='backends is %.2f%% (%d of max_connections %d)%s' % (
                     percent, total, max_conn, self.thresholds['backends'].note(status)))
        status = self.thresholds['backends_count'].judge(total)
        self.add('backends_count', total, unit='count', status=status,
                 message='backends_count is %d client connections%s' % (
                     total, self.thresholds['backends_count'].note(status)))
        for row in sorted(rows, key=lambda r: r['state']):
            self.add('backends_state', row['count'], unit='count', target=row['state'])

    def _oldest_session(self, name, where, since):
        if not self._needs_all_sessions([name]):
            return
        rows = self.fetch(
            [name],
            "SELECT pid, usename AS user, datname AS database, state,"
            " %s AS age, left(query, 200) AS query"
            " FROM pg_stat_activity"
            " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND %s"
            " ORDER BY %s LIMIT 5" % (age_sql(since), where, since))
        if rows is None:
            return
        value = rows[0]['age'] if rows else None
        for row in rows:
            row['age'] = _round(row['age'])
            row['query'] = mask_secrets(row['query'])
        self.details[name] = rows
        if not rows:
            self.add(name, 0, unit='seconds', message='%s: none' % name)
            return
        top = rows[0]
        status = self.thresholds[name].judge(value)
        message = '%s is %ss (pid %s, user %s, database %s)' % (
            name, _fmt_seconds(value), top['pid'], top['user'], top['database'])
        self.add(name, value, unit='seconds', status=status, message=message + self.thresholds[name].note(status))

    def check_idle_in_transaction(self):
        self._oldest_session('idle_in_transaction',
                             "state IN ('idle in transaction', 'idle in transaction (aborted)')",
                             'state_change')

    def check_transaction_age(self):
        self._oldest_session('transaction_age', 'xact_start IS NOT NULL', 'xact_start')

    def check_query_time(self):
        self._oldest_session('query_time', "state = 'active'", 'query_start')

    def check_lock_wait(self):
        names = ['lock_waits', 'lock_wait_time']
        if not self._needs_all_sessions(names):
            return
        if self.session.server_version >= 140000:
            since, waitstart = 'l.waitstart', 'waitstart'
        else:
            since = waitstart = 'NULL::timestamptz'
        sql = ("SELECT a.pid, a.usename AS user, a.datname AS database,"
               " pg_blocking_pids(a.pid) AS blocked_by,"
               " " + age_sql('coalesce(%s, a.query_start)' % since) + " AS wait_seconds,"
               " left(a.query, 200) AS query"
               " FROM pg_stat_activity a"
               " JOIN LATERAL (SELECT min(%s) AS waitstart FROM pg_locks"
               "               WHERE pid = a.pid AND NOT granted) l ON true"
               " WHERE a.wait_event_type = 'Lock' AND a.pid <> pg_backend_pid()"
               " ORDER BY wait_seconds DESC") % waitstart
        rows = self.fetch(names, sql)
        if rows is None:
            return
        value = rows[0]['wait_seconds'] if rows else None
        for row in rows:
            row['wait_seconds'] = _round(row['wait_seconds'])
            row['blocked_by'] = list(row['blocked_by'] or [])
            row['query'] = mask_secrets(row['query'])
        self.details['locks'] = rows
        self.add('lock_waits', len(rows), unit='count')
        if rows:
            top = rows[0]
            status = self.thresholds['lock_wait_time'].judge(value)
            message = 'lock_wait_time is %ss (pid %s blocked by %s)' % (
                _fmt_seconds(value), top['pid'], ', '.join(str(p) for p in top['blocked_by']) or '?')
            self.add('lock_wait_time', value, unit='seconds', status=status,
                     message=message + self.thresholds['lock_wait_time'].note(status),
                     )
        else:
            self.add('lock_wait_time', 0, unit='seconds', message='lock_wait_time: no waits')

    def check_wraparound(self):
        rows = self.fetch(
            ['wraparound'],
            "SELECT datname AS database, age(datfrozenxid)::bigint AS xid_age,"
            " current_setting('autovacuum_freeze_max_age')::bigint AS freeze_max_age"
            " FROM pg_database ORDER BY 2 DESC")
        if rows is None:
            return
        items = []
        for row in rows:
            percent = 100.0 * row['xid_age'] / row['freeze_max_age']
            row['percent'] = _shown(percent, 'percent')
            items.append(dict(target=row['database'], value=percent))
        self.details['wraparound'] = rows
        self.add_targets('wraparound', items, 'percent')

    def check_replication(self):
        if self.server['in_recovery']:
            row = self.fetch(
                ['replication_lag_bytes'],
                "SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())"
                "  AS lag_bytes,"
                " CASE WHEN pg_last_wal_receive_lsn() IS NULL"
                "        OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
                "   ELSE " + age_sql('pg_last_xact_replay_timestamp()') + " END"
                "  AS lag_seconds,"
                " (SELECT status FROM pg_stat_wal_receiver) AS receiver,"
                " (SELECT sender_host FROM pg_stat_wal_receiver) AS primary_host", one=True)
            if row is None:
                return
            self.details['replication'] = row
            self.add('replication_lag_bytes', row['lag_bytes'] or 0, unit='bytes')
            if row['lag_seconds'] is None:
                self.report.unknown('replication_lag_seconds', 'replication_lag_seconds: WAL is '
                                    'waiting to be replayed but no transaction was replayed '
                                    'since the standby started', unit='seconds')
            else:
                self.add('replication_lag_seconds', row['lag_seconds'], unit='seconds')
                row['lag_seconds'] = _round(row['lag_seconds'])
            streaming = 1 if row['receiver'] == 'streaming' else 0
            self.add('wal_receiver', streaming, message='wal_receiver: %s' % (
                row['receiver'] or 'not running'))
            return
        reply = 'reply_time' if self.session.server_version >= 120000 else 'NULL::timestamptz'
        rows = self.fetch(
            ['replication_lag_bytes'],
            "SELECT coalesce(nullif(application_name, ''), client_addr::text, pid::text)"
            "  AS replica, client_addr::text AS client_addr, state, sync_state,"
            " pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) AS lag_bytes,"
            " extract(epoch FROM replay_lag) AS lag_seconds,"
            " " + age_sql(reply) + " AS last_reply_seconds"
            " FROM pg_stat_replication ORDER BY 1")
        if rows is None:
            return
        lag_items = []
        for row in rows:
            lag = row['lag_seconds']
            item = dict(target=row['replica'], value=lag or 0)
            if lag is None:
                # No replay reported lately (caught up and idle, or silent): nothing to judge.
                silent = row['last_reply_seconds']
                item['status'] = OK
                item['message'] = ('replication_lag_seconds %s: not judged, the standby reported no '
                                   'recent replay%s' % (row['replica'], '' if silent is None else
                                                        ' (last reply %ss ago)' % _fmt_seconds(silent)))
            row['lag_seconds'] = _round(lag or 0)
            row['last_reply_seconds'] = _round(row['last_reply_seconds'])
            row['lag_bytes'] = row['lag_bytes'] or 0
            lag_items.append(item)
        self.details['replication'] = rows
        self.add('replicas', len(rows), unit='count')
        self.add_targets('replication_lag_bytes', [
            dict(target=r['replica'], value=r['lag_bytes']) for r in rows], 'bytes')
        self.add_targets('replication_lag_seconds', lag_items, 'seconds')

    def check_replication_slots(self):
        rows = self.fetch(
            ['replication_slots_inactive'],
            "SELECT slot_name AS slot, slot_type AS type, active, database,"
            " pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn()"
            "                      ELSE pg_current_wal_lsn() END, restart_lsn) AS retained_bytes"
            " FROM pg_replication_slots ORDER BY 1")
        if rows is None:
            return
        for row in rows:
            row['retained_bytes'] = row['retained_bytes'] or 0
        self.details['slots'] = rows
        inactive = [r['slot'] for r in rows if not r['active']]
        status = self.thresholds['replication_slots_inactive'].judge(len(inactive))
        message = 'replication_slots_inactive is %d' % len(inactive)
        if inactive:
            message += ' (%s)' % ', '.join(inactive)
        self.add('replication_slots_inactive', len(inactive), unit='count', status=status,
                 message=message + self.thresholds['replication_slots_inactive'].note(status))
        self.add_targets('replication_slot_retained', [
            dict(target=r['slot'], value=r['retained_bytes']) for r in rows], 'bytes')

    def check_archive(self):
        row = self.fetch(
            ['archive_failing', 'archive_ready'],
            "SELECT current_setting('archive_mode') AS archive_mode, archived_count,"
            " failed_count, last_failed_wal, last_archived_wal,"
            " coalesce(last_failed_time > coalesce(last_archived_time, '-infinity'), false)"
            "  AS failing FROM pg_stat_archiver", one=True)
        if row is None:
            return
        self.details['archiver'] = row
        failing = int(row['failing'])
        message = 'archive_failing: %s' % (
            'last attempt failed (%s, %d failures since statistics reset)' % (
                row['last_failed_wal'], row['failed_count']) if failing else
            'archive_mode is %s, no failure since the last success' % row['archive_mode'])
        status = self.thresholds['archive_failing'].judge(failing)
        self.add('archive_failing', failing, status=status,
                 message=message + self.thresholds['archive_failing'].note(status))
        ready = self.fetch(
            ['archive_ready'],
            "SELECT count(*) AS ready FROM pg_ls_archive_statusdir()"
            " WHERE name LIKE '%%.ready'", one=True)
        if ready is None:
            return
        ready = ready['ready']
        row['ready'] = ready
        self.add('archive_ready', ready, unit='count')

    def check_cache_hit_ratio(self):
        rows = self.fetch(
            ['cache_hit_ratio'],
            "SELECT datname AS database, blks_hit, blks_read FROM pg_stat_database"
            " WHERE datname IS NOT NULL AND datname NOT IN ('template0', 'template1')"
            " ORDER BY 1")
        if rows is None:
            return
        judged, quiet = [], []
        for row in rows:
            total = row['blks_hit'] + row['blks_read']
            ratio = 100.0 * row['blks_hit'] / total if total else 100.0
            row['ratio'] = _shown(ratio, 'percent')
            row['reads'] = total
            if total < CACHE_HIT_MIN_READS:
                quiet.append(dict(target=row['database'], value=ratio, reads=total))
            else:
                judged.append(dict(target=row['database'], value=ratio))
        self.details['cache_hit'] = rows
        if judged:
            self.add_targets('cache_hit_ratio', judged, 'percent', worse='lower')
            return
        if not quiet:
            return
        # Nothing to judge: say so, with the lowest figure for the record.
        low = min(quiet, key=lambda item: item['value'])
        self.add('cache_hit_ratio', low['value'], unit='percent', target=low['target'], status=OK,
                 message='cache_hit_ratio: not judged, none of %d database(s) has %d block reads '
                         'since the statistics reset (lowest: %s %s of %d reads)' % (
                             len(quiet), CACHE_HIT_MIN_READS, low['target'], _pct(low['value']),
                             low['reads']))

    def check_database_size(self):
        rows = self.fetch(
            ['database_size'],
            "SELECT datname AS database,"
            " CASE WHEN has_database_privilege(oid, 'CONNECT')"
            "        OR pg_has_role('pg_read_all_stats', 'USAGE')"
            "      THEN pg_database_size(oid) END AS size_bytes"
            " FROM pg_database WHERE datallowconn ORDER BY 1")
        if rows is None:
            return
        self.details['databases'] = rows
        for row in rows:
            if row['size_bytes'] is None:
                self.report.unknown('database_size', 'database_size %s: role %s may not connect to '
                                    'it; grant it pg_monitor' % (row['database'], self.server['user']),
                                    target=row['database'], unit='bytes')
                continue
            self.add('database_size', row['size_bytes'], unit='bytes', target=row['database'],
                     message='database_size %s is %s' % (row['database'], human_bytes(row['size_bytes'])))

    def _tables(self):
        if self._table_rows is None:
            try:
                rows = self.session.query(TABLES_SQL, dict(
                    min_size=self.params['table_min_size'], limit=self.params['table_limit']))
            except QueryFailure as failure:
                self._table_rows = failure
                return failure
            for row in rows:
                row['target'] = '%s.%s' % (row['schema'], row['name'])
            self._table_rows = rows
            self.details['tables'] = [dict(row, **dict((key, _round(row[key])) for key in (
                'vacuum_age', 'analyze_age', 'baseline_age'))) for row in rows]
        return self._table_rows

    def _no_tables(self, name, unit):
        """The one check of a table check that had no table to look at, saying why."""
        try:
            small = self.session.one(SMALL_TABLES_SQL, dict(min_size=self.params['table_min_size']))['small']
        except QueryFailure:
            small = None
        if small:
            why = 'not judged, all %d table(s) of %s are smaller than table_min_size %s' % (
                small, self.server['database'], human_bytes(self.params['table_min_size']))
        else:
            why = 'no table of at least %s in %s' % (human_bytes(self.params['table_min_size']),
                                                     self.server['database'])
        self.add(name, 0, unit=unit, status=OK, message='%s: %s' % (name, why))

    def check_dead_tuples(self):
        tables = self._tables()
        if isinstance(tables, QueryFailure):
            return self.unknown(['dead_tuples'], tables)
        items = []
        for row, shown in zip(tables, self.details['tables']):
            total = (row['live_tuples'] or 0) + (row['dead_tuples'] or 0)
            percent = 100.0 * (row['dead_tuples'] or 0) / total if total else 0.0
            shown['dead_percent'] = _shown(percent, 'percent')
            reclaimable = int(row['size_bytes'] * percent / 100.0)
            status = self.thresholds['dead_tuples'].judge(percent)
            message = 'dead_tuples %s is %s (%d dead tuples, about %s)' % (
                row['target'], _pct(percent), row['dead_tuples'] or 0, human_bytes(reclaimable))
            items.append(dict(target=row['target'], value=percent, status=status,
                              message=message + self.thresholds['dead_tuples'].note(status)))
        if not tables:
            self._no_tables('dead_tuples', 'percent')
            return
        self.add_targets('dead_tuples', items, 'percent')

    def _maintenance_age(self, name, key, verb):
        tables = self._tables()
        if isinstance(tables, QueryFailure):
            return self.unknown([name], tables)
        if not tables:
            self._no_tables(name, 'seconds')
            return
        items = []
        for row in tables:
            never = row[key] is None
            value = row['baseline_age'] if never else row[key]
            status = self.thresholds[name].judge(value)
            if never:
                message = '%s %s: never %s since statistics were reset or the server started ' \
                          '(%ss ago)' % (name, row['target'], verb, _fmt_seconds(value))
            else:
                message = '%s %s is %ss' % (name, row['target'], _fmt_seconds(value))
            items.append(dict(target=row['target'], value=value, status=status,
                              message=message + self.thresholds[name].note(status)))
        self.add_targets(name, items, 'seconds')

    def check_last_vacuum(self):
        self._maintenance_age('last_vacuum', 'vacuum_age', 'vacuumed')

    def check_last_analyze(self):
        self._maintenance_age('last_analyze', 'analyze_age', 'analyzed')

    def check_sequence_usage(self):
        rows = self.fetch(
            ['sequence_usage'],
            "SELECT schemaname AS schema, sequencename AS name, last_value,"
            " min_value, max_value, increment_by,"
            " has_sequence_privilege(quote_ident(schemaname) || '.' || quote_ident(sequencename),"
            "                        'SELECT,USAGE') AS readable,"
            " (100.0 * CASE WHEN last_value IS NULL THEN 0"
            "   WHEN increment_by > 0 THEN (last_value::numeric - min_value) / (max_value::numeric - min_value)"
            "   ELSE (max_value::numeric - last_value) / (max_value::numeric - min_value) END)::float8"
            "  AS percent"
            " FROM pg_sequences WHERE NOT cycle ORDER BY percent DESC NULLS LAST")
        if rows is None:
            return
        readable = [r for r in rows if r['readable']]
        unreadable = [r for r in rows if not r['readable']]
        self.details['sequences'] = [dict(sequence='%s.%s' % (r['schema'], r['name']),
                                          percent=_shown(r['percent'], 'percent') if r['readable'] else None,
                                          last_value=r['last_value'], max_value=r['max_value'])
                                     for r in rows[:20]]
        if unreadable:
            names = ', '.join('%s.%s' % (r['schema'], r['name']) for r in unreadable[:5])
            self.report.unknown('sequence_usage', 'sequence_usage: role %s cannot read %d '
                                'sequence(s) (%s%s); grant it pg_read_all_data (PostgreSQL 14+) '
                                'or SELECT on them' % (self.server['user'], len(unreadable), names,
                                                       ', ...' if len(unreadable) > 5 else ''),
                                unit='percent')
        if not readable:
            if not unreadable:
                self.add('sequence_usage', 0, unit='percent',
                         message='sequence_usage: no sequences in %s' % self.server['database'])
            return
        self.add_targets('sequence_usage', [
            dict(target='%s.%s' % (r['schema'], r['name']), value=float(r['percent'])) for r in readable],
            'percent')

    def check_prepared_transaction_age(self):
        rows = self.fetch(
            ['prepared_transaction_age'],
            "SELECT gid, owner AS user, database,"
            " " + age_sql('prepared') + " AS age"
            " FROM pg_prepared_xacts ORDER BY prepared")
        if rows is None:
            return
        age = rows[0]['age'] if rows else None
        for row in rows:
            row['age'] = _round(row['age'])
        self.details['prepared_transactions'] = rows
        if not rows:
            self.add('prepared_transaction_age', 0, unit='seconds',
                     message='prepared_transaction_age: none')
            return
        top = rows[0]
        name = 'prepared_transaction_age'
        status = self.thresholds[name].judge(age)
        message = '%s is %ss (gid %s, %d prepared)' % (
            name, _fmt_seconds(age), top['gid'], len(rows))
        self.add(name, age, unit='seconds', status=status,
                 message=message + self.thresholds[name].note(status))

    def check_checkpoints(self):
        if self.session.server_version >= 170000:
            sql = ("SELECT num_timed AS timed, num_requested AS requested"
                   " FROM pg_stat_checkpointer")
        else:
            sql = ("SELECT checkpoints_timed AS timed, checkpoints_req AS requested"
                   " FROM pg_stat_bgwriter")
        row = self.fetch(['checkpoints_requested'], sql, one=True)
        if row is None:
            return
        total = row['timed'] + row['requested']
        percent = 100.0 * row['requested'] / total if total else 0.0
        self.details['checkpoints'] = row
        if total < CHECKPOINTS_MIN:
            self.add('checkpoints_requested', percent, unit='percent', status=OK,
                     message='checkpoints_requested is %s of %d checkpoints (too few to judge)' % (
                         _pct(percent), total))
        else:
            self.add('checkpoints_requested', percent, unit='percent')

    def check_temp_files(self):
        row = self.fetch(
            ['temp_files', 'temp_bytes'],
            "SELECT coalesce(sum(temp_files), 0)::bigint AS temp_files,"
            " coalesce(sum(temp_bytes), 0)::bigint AS temp_bytes FROM pg_stat_database", one=True)
        if row is None:
            return
        self.details['temp_files'] = row
        self.add('temp_files', row['temp_files'], unit='count')
        self.add('temp_bytes', row['temp_bytes'], unit='bytes',
                 message='temp_bytes is %s' % human_bytes(row['temp_bytes']))


def _fmt_seconds(value):
    return ('%.1f' % value).rstrip('0').rstrip('.') if value is not None else '?'


def main():
    argument_spec = postgres_argument_spec()
    argument_spec.update(status_argument_spec(thresholds=True))
    argument_spec.update(
        checks=dict(type='list', elements='str', choices=CHECKS + sorted(OLD_CHECKS), default=list(CHECKS)),
        table_limit=dict(type='int', default=20),
        table_min_size=dict(type='int', default=10485760),
    )
    module = RunbookModule(argument_spec=argument_spec, supports_check_mode=True)
    ensure_driver(module)
    PgHealth(module).run()


if __name__ == '__main__':
    main()
