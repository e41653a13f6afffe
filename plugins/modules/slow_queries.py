#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: slow_queries
short_description: Report the slowest statements of PostgreSQL and those running now
version_added: 0.1.0
description:
  - Lists the top statements from C(pg_stat_statements), ranked by mean time, total time or
    calls. It also lists the statements running now for longer than O(running_seconds), with their
    duration, state, wait event, user, database and pid.
  - Speaks the status model. C(slow_statements) is the number of statements whose mean time
    is at least O(min_mean_ms). C(running_statements) is the number running longer than
    O(running_seconds).
  - When C(pg_stat_statements) is not installed in O(login_db) or not preloaded, the
    C(pg_stat_statements) check is V(UNKNOWN) and its message gives the fix; the module does not
    fail.
  - With O(reset=true) the statistics are reset after they are read (C(pg_stat_statements_reset())),
    which reports a change; in check mode the reset is skipped. By default only superusers may
    reset; grant C(EXECUTE) on the function to others.
extends_documentation_fragment:
  - fleetops.runbook.attributes
  - fleetops.runbook.postgres
  - fleetops.runbook.postgres.driver
  - fleetops.runbook.status
attributes:
  check_mode:
    support: full
    details: Reads the same statistics; with O(reset=true) it reports the reset without doing it.
options:
  order_by:
    description:
      - How to rank the statements of C(pg_stat_statements).
    type: str
    choices: [mean_time, total_time, calls]
    default: mean_time
  limit:
    description:
      - How many statements to return.
    type: int
    default: 10
  min_mean_ms:
    description:
      - Statements whose mean execution time is at least this many milliseconds count as slow
        (C(slow_statements)). The runbook's line is one second.
    type: float
    default: 1000
  only_slow:
    description:
      - Return only statements at or above O(min_mean_ms) in RV(statements).
    type: bool
    default: false
  running_seconds:
    description:
      - Statements running now for longer than this many seconds are listed in RV(running).
    type: float
    default: 60
  query_length:
    description:
      - Query texts are cut to this many characters.
    type: int
    default: 200
  reset:
    description:
      - Reset C(pg_stat_statements) after reading it. Skipped in check mode.
    type: bool
    default: false
  thresholds:
    description:
      - Warning and critical ranges for C(slow_statements) and C(running_statements), merged
        over the defaults.
      - "Defaults: slow_statements warns above 5 (the runbook's alert); running_statements warns
        above 0."
    type: dict
    default: {}
notes:
  - C(pg_stat_statements) keeps the statements of every database; RV(statements) lists them all,
    read through O(login_db), where the extension must be installed.
  - A role in C(pg_monitor) (through C(pg_read_all_stats)) sees every statement's text; others see
    only their own.
  - Both column names are handled, C(mean_time) (PostgreSQL 12) and C(mean_exec_time) (13 and
    later).
  - C(pg_stat_statements) keeps utility statements verbatim. Password literals in them
    (C(CREATE ROLE ... PASSWORD '...')) are replaced by C(********) in what this module returns.
seealso:
  - module: fleetops.runbook.pg_health
'''

EXAMPLES = r'''
- name: The ten slowest statements by mean time, as the monitoring role
  fleetops.runbook.slow_queries:
    login_host: db1.example.com
    login_user: monitor
    login_password: "{{ vault_pg_monitor_password }}"
  register: slow

- name: The statements that cost the most time in total, and what runs longer than 30 s now
  fleetops.runbook.slow_queries:
    login_unix_socket: /var/run/postgresql
    order_by: total_time
    limit: 5
    running_seconds: 30
    fail_on: never
  register: slow

- name: Start a fresh measurement window after the weekly review
  fleetops.runbook.slow_queries:
    login_user: postgres
    reset: true
    limit: 20
'''

RETURN = r'''
is_available:
  description: Whether the server accepted the connection and answered every statement within its deadline (see O(statement_timeout)).
  returned: always
  type: bool
  sample: true
statements:
  description: The top statements from C(pg_stat_statements), ranked as O(order_by) says.
  returned: when the server is available
  type: list
  elements: dict
  sample:
    - {"queryid": "-6170406716393473017", "query": "SELECT pg_sleep($1)", "user": "app",
       "database": "shop", "calls": 3, "total_ms": 4504.2, "mean_ms": 1501.4, "max_ms": 1502.0,
       "rows": 3, "slow": true}
running:
  description: Statements running now for longer than O(running_seconds), longest first.
  returned: when the server is available
  type: list
  elements: dict
  sample:
    - {"pid": 4242, "user": "app", "database": "shop", "state": "active", "seconds": 75.2,
       "wait_event_type": "Lock", "wait_event": "transactionid",
       "query": "UPDATE orders SET ..."}
reset:
  description: Whether the statistics were reset (V(false) in check mode).
  returned: when the server is available
  type: bool
  sample: false
'''

from ansible_collections.fleetops.runbook.plugins.module_utils.module import RunbookModule
from ansible_collections.fleetops.runbook.plugins.module_utils.postgres import (
    BIGINT_MAX,
    INT_MAX,
    OBJECT_NOT_IN_PREREQUISITE_STATE,
    UNDEFINED_TABLE,
    ConnectFailure,
    PgSession,
    QueryFailure,
    connection_failure_message,
    ensure_driver,
    mask_secrets,
    number_errors,
    postgres_argument_spec,
    validate_connection_params,
    with_range,
)
from ansible_collections.fleetops.runbook.plugins.module_utils.status import (
    CRITICAL,
    CheckReport,
    finish,
    parse_thresholds,
    status_argument_spec,
)

DEFAULT_THRESHOLDS = {
    'slow_statements': {'warning': '5'},
    'running_statements': {'warning': '0'},
}

ORDER_COLUMNS = {'mean_time': 'mean_ms', 'total_time': 'total_ms', 'calls': 'calls'}


class SlowQueries:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.report = CheckReport('slow_queries')
        self.session = PgSession(module, application_name='fleetops.runbook.slow_queries')
        self.thresholds = None
        self.result = {}

    def validate(self):
        errors = validate_connection_params(self.params)
        errors.extend(number_errors(self.params, {
            'limit': (1, BIGINT_MAX, ''),
            'query_length': (1, INT_MAX, 'characters'),
            'min_mean_ms': (0, 1e15, 'ms'),
            # make_interval() takes up to about 292,000 years: a billion seconds is plenty.
            'running_seconds': (0, 1e9, 's'),
        }))
        if errors:
            self.module.fail_json(msg='; '.join(errors))
        try:
            self.thresholds = parse_thresholds(self.params['thresholds'], DEFAULT_THRESHOLDS,
                                               'thresholds')
        except ValueError as exc:
            self.module.fail_json(msg=str(exc))

    def run(self):
        self.validate()
        try:
            self.session.connect()
        except ConnectFailure as failure:
            if failure.kind == 'no_database':
                self.module.fail_json(msg='login_db: %s' % failure.message, is_available=False)
            self.report.add('connection', None, status=CRITICAL,
                            message=connection_failure_message(self.session, failure))
            finish(self.module, self.report, is_available=False)
            return
        changed = False
        lost = None
        try:
            self.session.begin(read_only=True)
            readable = self.statements()
            self.running()
            if self.params['reset'] and readable:
                changed = self.reset()
        except QueryFailure as failure:
            self.report.unknown('connection', 'connection: cannot start the read-only transaction: %s'
                                % failure.reason)
        except ConnectFailure as failure:
            lost = failure
        finally:
            self.session.close()
        self.result.setdefault('reset', False)
        if lost is not None:
            self.report.add('connection', None, status=CRITICAL,
                            message=connection_failure_message(self.session, lost))
        finish(self.module, self.report, changed=changed, is_available=lost is None, **self.result)

    def statements(self):
        self.result['statements'] = []
        if self.session.server_version >= 130000:
            total, mean, maximum = 'total_exec_time', 'mean_exec_time', 'max_exec_time'
        else:
            total, mean, maximum = 'total_time', 'mean_time', 'max_time'
        order = ORDER_COLUMNS[self.params['order_by']]
        try:
            installed = self.session.one(
                "SELECT n.nspname AS schema FROM pg_extension e"
                " JOIN pg_namespace n ON n.oid = e.extnamespace"
                " WHERE e.extname = 'pg_stat_statements'")
            if not installed:
                raise QueryFailure(UNDEFINED_TABLE, 'extension pg_stat_statements is not installed')
            schema = installed['schema']
            rows = self.session.query(
                "SELECT s.queryid::text AS queryid, left(s.query, %(length)s) AS query,"
                " r.rolname AS user, d.datname AS database, s.calls,"
                " round(s.{total}::numeric, 3) AS total_ms, round(s.{mean}::numeric, 3) AS mean_ms,"
                " round(s.{maximum}::numeric, 3) AS max_ms, s.rows,"
                " s.{mean} >= %(min_mean)s AS slow,"
                " (SELECT count(*) FROM {schema}.pg_stat_statements"
                "  WHERE {mean} >= %(min_mean)s) AS slow_count"
                " FROM {schema}.pg_stat_statements s"
                " LEFT JOIN pg_roles r ON r.oid = s.userid"
                " LEFT JOIN pg_database d ON d.oid = s.dbid"
                " WHERE s.{mean} >= %(floor)s"
                " ORDER BY {order} DESC LIMIT %(limit)s".format(
                    total=total, mean=mean, maximum=maximum, order=order,
                    schema=_quote_ident(schema)),
                dict(length=self.params['query_length'], min_mean=self.params['min_mean_ms'],
                     floor=self.params['min_mean_ms'] if self.params['only_slow'] else 0,
                     limit=self.params['limit']))
            slow_count = rows[0]['slow_count'] if rows else 0
            if not rows and self.params['only_slow']:
                slow_count = self.session.one(
                    "SELECT count(*) AS n FROM {schema}.pg_stat_statements WHERE {mean} >= %(m)s".format(
                        schema=_quote_ident(schema), mean=mean), dict(m=self.params['min_mean_ms']))['n']
        except QueryFailure as failure:
            self.report.unknown('pg_stat_statements', self._hint(failure))
            return False
        for row in rows:
            row.pop('slow_count', None)
            row['query'] = mask_secrets(row['query'])
        self.result['statements'] = rows
        message = 'slow_statements is %d (mean time at least %s ms)' % (
            slow_count, _fmt(self.params['min_mean_ms']))
        if rows and rows[0]['slow']:
            message += '; slowest: %s ms mean, %s' % (_fmt(rows[0]['mean_ms']),
                                                      ' '.join(rows[0]['query'].split())[:80])
        status = self.thresholds['slow_statements'].judge(slow_count)
        self.report.add('slow_statements', slow_count, unit='count',
                        thresholds=self.thresholds['slow_statements'], status=status,
                        message=with_range(message, status, self.thresholds['slow_statements']))
        return True

    def _hint(self, failure):
        text = failure.message
        if failure.sqlstate == OBJECT_NOT_IN_PREREQUISITE_STATE or \
                'shared_preload_libraries' in text:
            return ('pg_stat_statements: the library is not preloaded; add pg_stat_statements to '
                    'shared_preload_libraries in postgresql.conf and restart PostgreSQL (%s)' % text)
        if failure.sqlstate == UNDEFINED_TABLE:
            return ('pg_stat_statements: the extension is not installed in database %s; run '
                    'CREATE EXTENSION pg_stat_statements; there as a superuser (and make sure it '
                    'is in shared_preload_libraries)' % (self.params.get('login_db') or 'postgres'))
        return 'pg_stat_statements: %s' % failure.reason

    def running(self):
        self.result['running'] = []
        try:
            rows = self.session.query(
                "SELECT pid, usename AS user, datname AS database, state,"
                " round(greatest(extract(epoch FROM clock_timestamp() - query_start), 0)::numeric, 3)"
                "  AS seconds,"
                " wait_event_type, wait_event, left(query, %(length)s) AS query"
                " FROM pg_stat_activity"
                " WHERE state <> 'idle' AND backend_type = 'client backend'"
                "   AND pid <> pg_backend_pid()"
                "   AND clock_timestamp() - query_start > make_interval(secs => %(seconds)s)"
                " ORDER BY query_start", dict(length=self.params['query_length'],
                                              seconds=self.params['running_seconds']))
        except QueryFailure as failure:
            self.report.unknown('running_statements', 'running_statements: %s' % failure.reason)
            return
        for row in rows:
            row['query'] = mask_secrets(row['query'])
        self.result['running'] = rows
        message = 'running_statements is %d (running longer than %s s)' % (
            len(rows), _fmt(self.params['running_seconds']))
        if rows:
            top = rows[0]
            message += '; longest: pid %s, %s s, %s' % (top['pid'], _fmt(top['seconds']),
                                                        ' '.join((top['query'] or '').split())[:80])
        status = self.thresholds['running_statements'].judge(len(rows))
        self.report.add('running_statements', len(rows), unit='count',
                        thresholds=self.thresholds['running_statements'], status=status,
                        message=with_range(message, status, self.thresholds['running_statements']))

    def reset(self):
        if self.module.check_mode:
            self.result['reset'] = False
            return True
        try:
            self.session.run_write('SELECT pg_stat_statements_reset()')
        except QueryFailure as failure:
            self.session.close()
            self.module.fail_json(msg='reset: cannot reset pg_stat_statements: %s (a superuser, or '
                                      'a role granted EXECUTE on pg_stat_statements_reset(), may)'
                                  % failure.reason, **self.report.result())
        self.result['reset'] = True
        return True


def _quote_ident(name):
    return '"%s"' % name.replace('"', '""')


def _fmt(value):
    return ('%.3f' % float(value)).rstrip('0').rstrip('.')


def main():
    argument_spec = postgres_argument_spec()
    argument_spec.update(status_argument_spec())
    argument_spec.update(
        order_by=dict(type='str', default='mean_time', choices=list(ORDER_COLUMNS)),
        limit=dict(type='int', default=10),
        min_mean_ms=dict(type='float', default=1000),
        only_slow=dict(type='bool', default=False),
        running_seconds=dict(type='float', default=60),
        query_length=dict(type='int', default=200),
        reset=dict(type='bool', default=False),
        thresholds=dict(type='dict', default={}),
    )
    module = RunbookModule(argument_spec=argument_spec, supports_check_mode=True)
    ensure_driver(module)
    SlowQueries(module).run()


if __name__ == '__main__':
    main()
