#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: pg_bloat
short_description: Find wasted space in PostgreSQL databases (table and index bloat, unused indexes)
version_added: 0.2.0
description:
  - Estimates, per database, how much of each large table and B-tree index is wasted space, and
    lists the indexes no query has used since the statistics were reset, each with the
    C(DROP INDEX CONCURRENTLY) statement that would remove it. The statement is only suggested,
    never run.
  - The bloat estimate is computed from the planner statistics, without reading the relations.
    It takes the row count and page count from C(pg_class) (C(reltuples), C(relpages)) and the
    average column widths and null fractions from C(pg_stats). It adds the tuple header, the null
    bitmap, the line pointer and the alignment of each row, and the page header. For indexes it
    also adds the B-tree special space, and fills leaf pages only to their fill factor (90 unless
    set otherwise). The expected size is compared with the real page count. The estimate is as
    fresh as the last C(ANALYZE) or C(VACUUM) of each relation.
  - Each database is examined in its own short read-only session.
  - Made for a least-privilege monitoring role, a member of C(pg_monitor) that is not a
    superuser. Such a role sees every index's usage. It only sees the column statistics
    (C(pg_stats)) of tables it may C(SELECT). Grant it C(pg_read_all_data) (PostgreSQL 14+) or
    C(SELECT) on the tables, or the bloat checks report V(UNKNOWN) for the tables they cannot
    estimate.
  - Reads only; it never changes the server.
extends_documentation_fragment:
  - fleetops.runbook.attributes
  - fleetops.runbook.postgres
  - fleetops.runbook.postgres.driver
  - fleetops.runbook.status
options:
  databases:
    description:
      - Databases to examine, each in its own session with the same connection options.
      - The single value V(all) means every database that allows connections, templates left
        out, as listed from O(login_db).
      - Empty (the default) examines O(login_db) only.
      - A database that does not exist fails the task with a message naming it. The checks of
        the other databases are still returned.
    type: list
    elements: str
    default: []
  checks:
    description:
      - Which checks to run.
      - V(table_bloat) reports C(table_bloat) per table, the estimated wasted space in percent of
        the table's size (its main fork, not TOAST).
      - V(index_bloat) reports C(index_bloat) per B-tree index, the same for indexes. Indexes of
        other access methods (GIN, GiST, BRIN, hash) are not estimated.
      - V(unused_indexes) reports C(unused_indexes) (a count) and C(unused_index_bytes) (their
        total size) per database. An index counts when no scan used it since the statistics
        were reset and it is not unique, not a primary key, not an exclusion constraint, not the
        replica identity, does not back a constraint, and is not a partition of a partitioned
        index.
      - Bloat checks list every table or index that is not OK. When all are OK, they list the
        worst one of each database.
    type: list
    elements: str
    choices: [table_bloat, index_bloat, unused_indexes]
    default: [table_bloat, index_bloat, unused_indexes]
  thresholds:
    description:
      - Warning and critical ranges per reported check, merged over the defaults. Keys are the
        names in C(checks[].name), each a mapping with C(warning) and/or C(critical).
      - "Defaults: table_bloat 30 / 50 percent, the same bands as pg_health's dead tuples;
        index_bloat 40 / 70 percent, as a B-tree under a normal update load keeps some free
        space; unused_index_bytes 100 MiB / 1 GiB. unused_indexes, a count, has no threshold."
      - A table or index whose wasted space is below O(min_wasted) is reported but not judged.
    type: dict
    default: {}
  min_size:
    description:
      - Tables and indexes smaller than this many bytes (planner estimate, C(relpages)) are not
        estimated. Reclaiming space from small relations is rarely worth a rewrite.
    type: int
    default: 10485760
  min_wasted:
    description:
      - Wasted space, in bytes, below which a table or index is not judged, whatever its percent.
        A small table half empty is not worth a C(VACUUM FULL) or C(REINDEX).
    type: int
    default: 52428800
  limit:
    description:
      - How many of the worst tables and of the worst indexes (by wasted bytes) of each database
        are returned in RV(databases). It bounds the result on catalogs with many thousands of
        relations; the checks still judge every relation examined.
    type: int
    default: 20
  min_stats_age:
    description:
      - Seconds the usage statistics must cover before unused indexes are judged. Younger
        statistics (reset recently, or never reset and the server started recently) are
        reported with the count but not judged, and the message says why. The default is one
        week, the cadence of the weekly maintenance, so that a weekly batch job's index is seen
        in use.
    type: int
    default: 604800
notes:
  - Usage statistics are kept per server. An index that only queries on a standby use looks
    unused on the primary; check the standbys' C(pg_stat_user_indexes) before dropping it.
  - When a database's statistics were never reset, the server's start time is taken as the start
    of the statistics, which may be later than it is. Unused indexes are then judged later than
    they could be, never earlier.
  - The estimate ignores alignment padding between columns and B-tree deduplication
    (PostgreSQL 13+), which makes an index with many duplicates smaller than estimated; such an
    index shows no bloat. Compare with the C(pgstattuple) extension before a rewrite.
  - Tables never analyzed (or whose columns have no statistics) cannot be estimated. They are
    listed with that reason in RV(databases) and not judged; run C(ANALYZE) on them.
seealso:
  - module: fleetops.runbook.pg_health
  - name: Database page layout
    description: The PostgreSQL documentation of the page and tuple layout the estimate follows.
    link: https://www.postgresql.org/docs/current/storage-page-layout.html
  - name: pgstattuple
    description: The extension that measures bloat exactly by reading the relation.
    link: https://www.postgresql.org/docs/current/pgstattuple.html
'''

EXAMPLES = r'''
- name: Wasted space and unused indexes of every database, as the monitoring role
  fleetops.runbook.pg_bloat:
    login_host: db1.example.com
    login_user: monitor
    login_password: "{{ vault_pg_monitor_password }}"
    databases: [all]
    fail_on: never
  register: bloat

- name: List the suggested statements for a DBA to review
  ansible.builtin.debug:
    msg: "{{ bloat.databases | map(attribute='unused_indexes') | flatten | map(attribute='drop_statement') }}"

- name: Only unused indexes of two databases, judged after a month of statistics
  fleetops.runbook.pg_bloat:
    login_unix_socket: /var/run/postgresql
    databases: [shop, billing]
    checks: [unused_indexes]
    min_stats_age: 2592000
    thresholds:
      unused_index_bytes:
        warning: 1073741824
        critical: 10737418240
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
  description: Whether the server accepted the first connection and answered every statement within its deadline (see O(statement_timeout)).
  returned: always
  type: bool
  sample: true
databases:
  description:
    - What was found in each database examined, in the order examined.
  returned: when the server is available
  type: list
  elements: dict
  contains:
    database:
      description: Name of the database.
      type: str
      sample: shop
    error:
      description: Why the database could not be examined, or null.
      type: str
      sample: null
    stats_reset:
      description: When the database's statistics were last reset (ISO 8601), or null if never.
      type: str
      sample: "2026-11-01T03:00:00+00:00"
    stats_age_seconds:
      description: Seconds the usage statistics cover (see O(min_stats_age)).
      type: float
      sample: 1987200.5
    table_bloat:
      description: The worst tables by wasted bytes, at most O(limit).
      type: list
      elements: dict
      sample: [{"schema": "public", "table": "orders", "size_bytes": 83886080,
                "expected_bytes": 25165824, "wasted_bytes": 58720256, "wasted_percent": 70.0,
                "estimated_rows": 300000}]
    index_bloat:
      description: The worst B-tree indexes by wasted bytes, at most O(limit).
      type: list
      elements: dict
      sample: [{"schema": "public", "table": "orders", "index": "orders_created_idx",
                "size_bytes": 22020096, "expected_bytes": 7340032, "wasted_bytes": 14680064,
                "wasted_percent": 66.67, "estimated_rows": 300000}]
    not_estimated:
      description: Tables and indexes of at least O(min_size) that could not be estimated, with
        the reason (not analyzed, no access to the column statistics).
      type: list
      elements: dict
      sample: [{"kind": "table", "schema": "public", "table": "imports",
                "size_bytes": 41943040, "reason": "not analyzed, cannot estimate"}]
    unused_indexes:
      description: The largest unused indexes, at most O(limit), with a statement to drop each.
      type: list
      elements: dict
      sample: [{"schema": "public", "table": "orders", "index": "orders_note_idx",
                "size_bytes": 16384, "valid": true,
                "definition": "CREATE INDEX orders_note_idx ON public.orders USING btree (note)",
                "drop_statement": "DROP INDEX CONCURRENTLY public.orders_note_idx;"}]
    unused_index_count:
      description: How many indexes are unused (all of them, not only those listed).
      type: int
      sample: 3
    unused_index_bytes:
      description: Their total size in bytes.
      type: int
      sample: 49152
'''

import math

from ansible_collections.fleetops.runbook.plugins.module_utils.module import RunbookModule
from ansible_collections.fleetops.runbook.plugins.module_utils.postgres import (
    BIGINT_MAX,
    ConnectFailure,
    ConnectionLost,
    PgSession,
    QueryFailure,
    connection_failure_message,
    ensure_driver,
    number_errors,
    postgres_argument_spec,
    validate_connection_params,
)
from ansible_collections.fleetops.runbook.plugins.module_utils.status import (
    CRITICAL,
    OK,
    CheckReport,
    finish,
    human_bytes,
    human_duration,
    parse_thresholds,
    status_argument_spec,
)

CHECKS = ['table_bloat', 'index_bloat', 'unused_indexes']
MIB = 1024 ** 2
GIB = 1024 ** 3

DEFAULT_THRESHOLDS = {
    'table_bloat': {'warning': '30', 'critical': '50'},
    'index_bloat': {'warning': '40', 'critical': '70'},
    'unused_indexes': {},
    'unused_index_bytes': {'warning': str(100 * MIB), 'critical': str(GIB)},
}

# Page and tuple layout (storage-page-layout in the PostgreSQL docs), for 64-bit builds.
MAXALIGN = 8
PAGE_HEADER = 24            # PageHeaderData
LINE_POINTER = 4            # ItemIdData
HEAP_TUPLE_HEADER = 23      # HeapTupleHeaderData up to the null bitmap
INDEX_TUPLE_HEADER = 8      # IndexTupleData
INDEX_NULL_BITMAP = 4       # IndexAttributeBitMapData, present when a key is null
BTREE_SPECIAL = 16          # BTPageOpaqueData at the end of every B-tree page
BTREE_LEAF_FILLFACTOR = 90
BTREE_INTERNAL_FILLFACTOR = 70

SYSTEM_SCHEMAS = "('pg_catalog', 'information_schema')"

DATABASES_SQL = """
SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname
"""

STATS_AGE_SQL = """
SELECT to_char(d.stats_reset AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"') AS stats_reset,
       greatest(extract(epoch FROM clock_timestamp() - coalesce(d.stats_reset, pg_postmaster_start_time())), 0)
         AS stats_age,
       current_user AS role
FROM pg_stat_database d WHERE d.datname = current_database()
"""

# One row per table of at least min_size with what the estimate needs; the arithmetic is done
# in Python (PageLayout), where it can be tested. A table never vacuumed nor analyzed has no
# planner page count (relpages 0): its size is read from the file instead.
TABLES_SQL = """
WITH t AS (
  SELECT c.oid, n.nspname AS schema, c.relname AS name,
         CASE WHEN c.reltuples < 0
              THEN pg_relation_size(c.oid) / current_setting('block_size')::bigint
              ELSE c.relpages::bigint END AS pages,
         c.reltuples::float8 AS tuples, c.relnatts::int AS natts, c.reloptions,
         has_table_privilege(c.oid, 'SELECT') AS readable
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'm')
    AND n.nspname NOT IN """ + SYSTEM_SCHEMAS + """ AND n.nspname NOT LIKE 'pg\\_toast%%'
    AND (c.relpages::bigint * current_setting('block_size')::bigint >= %(min_size)s
         OR (c.reltuples < 0 AND pg_relation_size(c.oid) >= %(min_size)s))
)
SELECT t.schema, t.name, t.pages, t.tuples, t.natts, t.readable,
       (SELECT substring(o FROM '^fillfactor=([0-9]+)$')::int
          FROM unnest(t.reloptions) o WHERE o LIKE 'fillfactor=%%') AS fillfactor,
       count(a.attnum)::int AS columns,
       count(s.attname)::int AS columns_with_stats,
       coalesce(sum((1 - s.null_frac) * s.avg_width), 0)::float8 AS data_width,
       coalesce(bool_or(s.null_frac > 0), false) AS has_nulls
FROM t
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_stats s ON s.schemaname = t.schema AND s.tablename = t.name
                    AND s.attname = a.attname AND NOT s.inherited
GROUP BY t.schema, t.name, t.pages, t.tuples, t.natts, t.readable, t.reloptions
"""

# One row per B-tree index of at least min_size. A key column's statistics come from the table;
# an expression's from the index itself (ANALYZE keeps them under the index's name).
INDEXES_SQL = """
WITH i AS (
  SELECT ci.oid, n.nspname AS schema, ct.relname AS table_name, ci.relname AS name,
         ci.relpages::bigint AS pages, ci.reltuples::float8 AS tuples, ci.reloptions,
         x.indkey::int2[] AS keys, ct.oid AS table_oid,
         has_table_privilege(ct.oid, 'SELECT') AS readable
  FROM pg_index x
  JOIN pg_class ci ON ci.oid = x.indexrelid AND ci.relkind = 'i'
  JOIN pg_class ct ON ct.oid = x.indrelid
  JOIN pg_am am ON am.oid = ci.relam AND am.amname = 'btree'
  JOIN pg_namespace n ON n.oid = ci.relnamespace
  WHERE n.nspname NOT IN """ + SYSTEM_SCHEMAS + """ AND n.nspname NOT LIKE 'pg\\_toast%%'
    AND ci.relpages::bigint * current_setting('block_size')::bigint >= %(min_size)s
), k AS (
  SELECT i.oid, k.pos,
         CASE WHEN k.attnum > 0 THEN i.table_name ELSE i.name END AS stat_rel,
         CASE WHEN k.attnum > 0 THEN ta.attname ELSE ia.attname END AS stat_att
  FROM i
  CROSS JOIN LATERAL unnest(i.keys) WITH ORDINALITY AS k(attnum, pos)
  LEFT JOIN pg_attribute ta ON ta.attrelid = i.table_oid AND ta.attnum = k.attnum
  LEFT JOIN pg_attribute ia ON ia.attrelid = i.oid AND ia.attnum = k.pos
)
SELECT i.schema, i.table_name AS "table", i.name, i.pages, i.tuples, i.readable,
       (SELECT substring(o FROM '^fillfactor=([0-9]+)$')::int
          FROM unnest(i.reloptions) o WHERE o LIKE 'fillfactor=%%') AS fillfactor,
       count(k.pos)::int AS columns,
       count(s.attname)::int AS columns_with_stats,
       coalesce(sum((1 - s.null_frac) * s.avg_width), 0)::float8 AS data_width,
       coalesce(bool_or(s.null_frac > 0), false) AS has_nulls
FROM i
JOIN k ON k.oid = i.oid
LEFT JOIN pg_stats s ON s.schemaname = i.schema AND s.tablename = k.stat_rel
                    AND s.attname = k.stat_att AND NOT s.inherited
GROUP BY i.schema, i.table_name, i.name, i.pages, i.tuples, i.readable, i.reloptions
"""

UNUSED_SQL = """
SELECT s.schemaname AS schema, s.relname AS "table", s.indexrelname AS index,
       pg_relation_size(s.indexrelid) AS size_bytes, x.indisvalid AS valid,
       pg_get_indexdef(s.indexrelid) AS definition,
       format('DROP INDEX CONCURRENTLY %I.%I;', s.schemaname, s.indexrelname) AS drop_statement
FROM pg_stat_user_indexes s
JOIN pg_index x ON x.indexrelid = s.indexrelid
WHERE s.idx_scan = 0
  AND NOT x.indisunique AND NOT x.indisprimary AND NOT x.indisexclusion AND NOT x.indisreplident
  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = s.indexrelid)
  AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = s.indexrelid)
ORDER BY size_bytes DESC, s.schemaname, s.indexrelname
"""


def _align(value, alignment=MAXALIGN):
    return int(math.ceil(value / float(alignment))) * alignment


class PageLayout:
    """Expected size of a relation from its row count and average row width."""

    def __init__(self, block_size=8192):
        self.block_size = block_size

    def heap_tuple_bytes(self, natts, data_width, has_nulls):
        header = HEAP_TUPLE_HEADER + (int(math.ceil(natts / 8.0)) if has_nulls else 0)
        return _align(header) + _align(data_width)

    def heap_pages(self, tuples, natts, data_width, has_nulls, fillfactor=None):
        tuple_bytes = self.heap_tuple_bytes(natts, data_width, has_nulls)
        usable = (self.block_size - PAGE_HEADER) * (fillfactor or 100) / 100.0
        max_per_page = (self.block_size - PAGE_HEADER) // (_align(HEAP_TUPLE_HEADER) + LINE_POINTER)
        per_page = max(1, min(max_per_page, int(usable // (tuple_bytes + LINE_POINTER))))
        return int(math.ceil(max(tuples, 0) / float(per_page)))

    def btree_tuple_bytes(self, data_width, has_nulls):
        header = INDEX_TUPLE_HEADER + (INDEX_NULL_BITMAP if has_nulls else 0)
        return _align(header + data_width)

    def btree_pages(self, tuples, data_width, has_nulls, fillfactor=None):
        entry = self.btree_tuple_bytes(data_width, has_nulls) + LINE_POINTER
        usable = self.block_size - PAGE_HEADER - BTREE_SPECIAL
        leaf_per_page = max(1, int(usable * (fillfactor or BTREE_LEAF_FILLFACTOR) / 100.0 // entry))
        internal_per_page = max(2, int(usable * BTREE_INTERNAL_FILLFACTOR / 100.0 // entry))
        pages = int(math.ceil(max(tuples, 0) / float(leaf_per_page))) or 1
        total = 1 + pages  # the metapage
        while pages > 1:
            pages = int(math.ceil(pages / float(internal_per_page)))
            total += pages
        return total


def estimate(row, layout, kind):
    """Fill ``row`` (a TABLES_SQL / INDEXES_SQL row) with the estimate, or with why there is none.

    Returns True when estimated.
    """
    size = row['pages'] * layout.block_size
    row['size_bytes'] = size
    if not row['readable'] and row['columns_with_stats'] < row['columns']:
        row['reason'] = 'no access to the column statistics, cannot estimate'
        row['denied'] = True
        return False
    if row['tuples'] < 0 or (row['columns_with_stats'] == 0 and row['columns'] > 0):
        row['reason'] = 'not analyzed, cannot estimate'
        return False
    if row['columns_with_stats'] < row['columns']:
        missing = row['columns'] - row['columns_with_stats']
        row['reason'] = ('statistics missing for %d of %d columns (not analyzed since they were '
                         'added), cannot estimate' % (missing, row['columns']))
        return False
    if kind == 'table':
        pages = layout.heap_pages(row['tuples'], row['natts'], row['data_width'],
                                  row['has_nulls'], row['fillfactor'])
    else:
        pages = layout.btree_pages(row['tuples'], row['data_width'], row['has_nulls'],
                                   row['fillfactor'])
    expected = min(size, pages * layout.block_size)
    row['expected_bytes'] = expected
    row['wasted_bytes'] = size - expected
    # Judged as computed (BloatJudge); shown rounded.
    row['wasted_ratio'] = 100.0 * (size - expected) / size if size else 0.0
    row['wasted_percent'] = round(row['wasted_ratio'], 2)
    row['estimated_rows'] = int(row['tuples'])
    return True


class BloatJudge:
    """Turns estimated relations into status-model items, honouring ``min_wasted``."""

    def __init__(self, thresholds, min_wasted):
        self.thresholds = thresholds
        self.min_wasted = min_wasted

    def item(self, name, target, row):
        value = row['wasted_percent']
        measured = row.get('wasted_ratio', value)
        wasted = 'about %s of %s wasted' % (human_bytes(row['wasted_bytes']), human_bytes(row['size_bytes']))
        if row['wasted_bytes'] < self.min_wasted:
            return dict(target=target, value=value, status=OK,
                        message='%s %s is %s%% (%s: below min_wasted %s, not judged)' % (
                            name, target, value, wasted, human_bytes(self.min_wasted)))
        status = self.thresholds[name].judge(measured)
        message = '%s %s is %s%% (%s)' % (name, target, value, wasted)
        return dict(target=target, value=value, measured=measured, status=status,
                    message=message + self.thresholds[name].note(status))

    @staticmethod
    def chosen(items):
        """Every item that is not OK; when all are OK, the worst one."""
        alerting = [i for i in items if i['status'] != OK]
        if alerting:
            return alerting
        return [max(items, key=lambda i: i.get('measured', i['value']))] if items else []


class DatabaseScan:
    """One database, one read-only session: the raw rows of each check."""

    def __init__(self, module, database):
        self.session = PgSession(module, application_name='fleetops.runbook.pg_bloat')
        self.session.params = dict(module.params, login_db=database)
        self.params = module.params
        self.database = database
        self.block_size = 8192

    def open(self):
        self.session.connect()
        self.session.begin(read_only=True)
        self.block_size = int(self.session.one(
            "SELECT current_setting('block_size')::int AS bs")['bs'])

    def close(self):
        self.session.close()

    def stats_age(self):
        return self.session.one(STATS_AGE_SQL)

    def databases(self):
        return [r['datname'] for r in self.session.query(DATABASES_SQL)]

    def tables(self):
        return self.session.query(TABLES_SQL, dict(min_size=self.params['min_size']))

    def indexes(self):
        return self.session.query(INDEXES_SQL, dict(min_size=self.params['min_size']))

    def unused_indexes(self):
        return self.session.query(UNUSED_SQL)


class PgBloat:
    """Runs the selected checks over each database and fills a CheckReport."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.report = CheckReport('pg_bloat')
        self.thresholds = None
        self.judge = None
        self.results = []
        self.missing = []
        self.stats_age = {}

    # ---- input ------------------------------------------------------------------------------
    def validate(self):
        errors = validate_connection_params(self.params)
        errors.extend(number_errors(self.params, dict(
            (name, (low, BIGINT_MAX, '')) for name, low in (
                ('min_size', 0), ('min_wasted', 0), ('limit', 1), ('min_stats_age', 0)))))
        databases = self.params['databases']
        for database in databases:
            if not database or not database.strip():
                errors.append('databases: names must not be empty')
        if 'all' in databases and len(databases) > 1:
            errors.append("databases: 'all' stands alone, got %s" % ', '.join(databases))
        if len(set(databases)) != len(databases):
            errors.append('databases: %s named twice' % ', '.join(
                sorted(set(d for d in databases if databases.count(d) > 1))))
        if not self.params['checks']:
            errors.append('checks: choose at least one of %s' % ', '.join(CHECKS))
        try:
            self.thresholds = parse_thresholds(self.params['thresholds'], DEFAULT_THRESHOLDS,
                                               'thresholds')
        except ValueError as exc:
            errors.append(str(exc))
        if errors:
            self.module.fail_json(msg='; '.join(errors))
        self.judge = BloatJudge(self.thresholds, self.params['min_wasted'])

    # ---- run --------------------------------------------------------------------------------
    def run(self):
        self.validate()
        first_db = self.params.get('login_db') or 'postgres'
        wanted = self.params['databases']
        first = DatabaseScan(self.module, first_db)
        try:
            first.open()
        except QueryFailure as failure:
            first.close()
            self.failed_database(first_db, failure.reason)
            finish(self.module, self.report, is_available=True, databases=self.results)
            return
        except ConnectFailure as failure:
            first.close()
            if failure.kind == 'no_database':
                param = 'databases' if wanted and wanted != ['all'] and first_db in wanted \
                    else 'login_db'
                self.module.fail_json(msg='%s: %s' % (param, failure.message), is_available=False)
            self.report.add('connection', None, status=CRITICAL,
                            message=connection_failure_message(first.session, failure))
            finish(self.module, self.report, is_available=False)
            return
        try:
            try:
                if wanted == ['all']:
                    wanted = first.databases()
                elif not wanted:
                    wanted = [first_db]
                if first_db in wanted:
                    self.examine(first)
            except QueryFailure as failure:
                self.failed_database(first_db, failure.reason)
            finally:
                first.close()
            for database in wanted:
                if database != first_db:
                    self.examine_database(database)
        except ConnectionLost as failure:
            # A server that stopped answering is not asked again, database after database.
            self.report.add('connection', None, status=CRITICAL,
                            message=connection_failure_message(first.session, failure))
            finish(self.module, self.report, is_available=False, databases=self.results)
            return
        result = self.report.result()
        result.update(is_available=True, databases=self.results, changed=False)
        if self.missing:
            self.module.fail_json(msg='databases: %s on %s' % (
                '; '.join(self.missing), first.session.target().rsplit('/', 1)[0]), **result)
        finish(self.module, self.report, is_available=True, databases=self.results)

    def examine_database(self, database):
        scan = DatabaseScan(self.module, database)
        try:
            scan.open()
        except QueryFailure as failure:
            scan.close()
            return self.failed_database(database, failure.reason)
        except ConnectionLost:
            scan.close()
            raise
        except ConnectFailure as failure:
            scan.close()
            if failure.kind == 'no_database':
                self.missing.append('database "%s" does not exist' % database)
                self.results.append(dict(database=database, error='does not exist'))
                return
            return self.failed_database(database, connection_failure_message(scan.session, failure))
        try:
            self.examine(scan)
        except QueryFailure as failure:
            self.failed_database(database, failure.reason)
        finally:
            scan.close()

    def failed_database(self, database, reason):
        # A query that fails part way replaces what was recorded of the database so far.
        self.results = [r for r in self.results if r['database'] != database]
        self.results.append(dict(database=database, error=reason))
        for name in self._check_names():
            self.report.unknown(name, '%s %s: %s' % (name, database, reason), target=database)

    def _check_names(self):
        names = [c for c in CHECKS if c in self.params['checks'] and c != 'unused_indexes']
        if 'unused_indexes' in self.params['checks']:
            names += ['unused_indexes', 'unused_index_bytes']
        return names

    def examine(self, scan):
        layout = PageLayout(scan.block_size)
        stats = scan.stats_age()
        stats_age = float(stats.get('stats_age') or 0)
        entry = dict(database=scan.database, error=None, stats_reset=stats.get('stats_reset'),
                     stats_age_seconds=round(stats_age, 1), not_estimated=[])
        self.stats_age[scan.database] = stats_age
        self.results.append(entry)
        role = stats.get('role')
        for kind, name, fetch in (('table', 'table_bloat', scan.tables),
                                  ('index', 'index_bloat', scan.indexes)):
            if name not in self.params['checks']:
                continue
            try:
                rows = fetch()
            except QueryFailure as failure:
                self.report.unknown(name, '%s %s: %s' % (name, scan.database, failure.reason),
                                    target=scan.database, unit='percent')
                continue
            self.bloat(scan.database, kind, name, rows, layout, entry, role)
        if 'unused_indexes' in self.params['checks']:
            try:
                rows = scan.unused_indexes()
            except QueryFailure as failure:
                for name in ('unused_indexes', 'unused_index_bytes'):
                    self.report.unknown(name, '%s %s: %s' % (name, scan.database, failure.reason),
                                        target=scan.database)
                return
            self.unused(scan.database, rows, entry)

    # ---- the checks -------------------------------------------------------------------------
    def bloat(self, database, kind, name, rows, layout, entry, role):
        estimated, skipped = [], []
        for row in rows:
            (estimated if estimate(row, layout, kind) else skipped).append(row)
        estimated.sort(key=lambda r: (-r['wasted_bytes'], r['schema'], r['name']))
        keys = ['schema', 'table', 'index'] if kind == 'index' else ['schema', 'table']
        entry[name] = [self._public(r, kind, keys + ['size_bytes', 'expected_bytes', 'wasted_bytes',
                                                     'wasted_percent', 'estimated_rows'])
                       for r in estimated[:self.params['limit']]]
        skipped.sort(key=lambda r: -r['size_bytes'])
        entry['not_estimated'].extend(
            dict(self._public(r, kind, keys + ['size_bytes', 'reason']), kind=kind)
            for r in skipped[:self.params['limit']])
        denied = [r for r in skipped if r.get('denied')]
        if denied:
            self.report.unknown(name, '%s %s: role %s may not read the column statistics of %d '
                                '%s(s) of at least %s (%s); grant it pg_read_all_data or SELECT' % (
                                    name, database, role, len(denied),
                                    'table' if kind == 'table' else 'index',
                                    human_bytes(self.params['min_size']),
                                    ', '.join(self._label(r, kind) for r in denied[:5])),
                                target=database, unit='percent')
        note = ''
        unanalyzed = len(skipped) - len(denied)
        if unanalyzed:
            note = '; %d not estimated (not analyzed)' % unanalyzed
        if not estimated:
            if not denied:
                self.report.add(name, 0, unit='percent', thresholds=self.thresholds[name],
                                target=database, status=OK,
                                message='%s %s: no %s of at least %s to estimate%s' % (
                                    name, database, 'table' if kind == 'table' else 'B-tree index',
                                    human_bytes(self.params['min_size']), note))
            return
        items = [self.judge.item(name, '%s.%s' % (database, self._label(r, kind)), r)
                 for r in estimated]
        for item in self.judge.chosen(items):
            self.report.add(name, item['value'], unit='percent', thresholds=self.thresholds[name],
                            target=item['target'], status=item['status'],
                            message=item['message'] + note, labels={'database': database})

    @staticmethod
    def _label(row, kind):
        return '%s.%s' % (row['schema'], row['name'])

    @staticmethod
    def _public(row, kind, keys):
        out = dict(row)
        if kind == 'index':
            out['index'] = row['name']
        else:
            out['table'] = row['name']
        return dict((k, out.get(k)) for k in keys)

    def unused(self, database, rows, entry):
        count = len(rows)
        total = sum(r['size_bytes'] for r in rows)
        entry['unused_indexes'] = rows[:self.params['limit']]
        entry['unused_index_count'] = count
        entry['unused_index_bytes'] = total
        young = self.stats_age.get(database, entry['stats_age_seconds']) < self.params['min_stats_age']
        names = ', '.join('%s.%s' % (r['schema'], r['index']) for r in rows[:5])
        if count > 5:
            names += ', ...'
        listing = ' (%s)' % names if names else ''
        why = ''
        if young:
            why = ': statistics cover only %s, less than min_stats_age %s, not judged' % (
                human_duration(entry['stats_age_seconds']), human_duration(self.params['min_stats_age']))
        self.report.add('unused_indexes', count, unit='count',
                        thresholds=self.thresholds['unused_indexes'], target=database,
                        status=OK if young else None,
                        message='unused_indexes %s is %d%s%s' % (database, count, listing, why))
        bytes_status = OK if young else self.thresholds['unused_index_bytes'].judge(total)
        message = 'unused_index_bytes %s is %s in %d index(es)%s' % (
            database, human_bytes(total), count, why)
        self.report.add('unused_index_bytes', total, unit='bytes',
                        thresholds=self.thresholds['unused_index_bytes'], target=database,
                        status=bytes_status,
                        message=message + self.thresholds['unused_index_bytes'].note(bytes_status))


def main():
    argument_spec = postgres_argument_spec()
    argument_spec.update(status_argument_spec(thresholds=True))
    argument_spec.update(
        databases=dict(type='list', elements='str', default=[]),
        checks=dict(type='list', elements='str', choices=CHECKS, default=list(CHECKS)),
        min_size=dict(type='int', default=10485760),
        min_wasted=dict(type='int', default=52428800),
        limit=dict(type='int', default=20),
        min_stats_age=dict(type='int', default=604800),
    )
    module = RunbookModule(argument_spec=argument_spec, supports_check_mode=True)
    ensure_driver(module)
    PgBloat(module).run()


if __name__ == '__main__':
    main()
