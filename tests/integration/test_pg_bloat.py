# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_bloat through Ansible against the session's PostgreSQL cluster.

The bloat estimate is compared with pgstattuple, which reads every page. The estimate only knows
average widths, so it may differ from the exact figure: TOLERANCE is the largest difference, in
percentage points of the relation's size, that these tests accept.
"""

from __future__ import annotations

import pytest

from .pg_helpers import (FROZEN_TIMEOUTS, SERVER_WAIT, assert_stopped_answering, check, checks_named,
                         create_database, run_frozen, server_seconds, wait_until)

pytestmark = pytest.mark.postgres

MODULE = 'fleetops.runbook.pg_bloat'
DB = 'pgbloat_main'
OTHER_DB = 'pgbloat_other'
TOLERANCE = 10.0
MIB = 1024 * 1024

ROWS = 200000
ORDERS = """
CREATE TABLE {name} (id serial PRIMARY KEY, customer int NOT NULL, note text, placed timestamptz
                     NOT NULL DEFAULT now()) WITH (autovacuum_enabled = off);
INSERT INTO {name} (customer, note) SELECT g % 1000, md5(g::text) FROM generate_series(1, {rows}) g;
"""


@pytest.fixture(scope='module')
def bloat_db(pg_cluster):
    create_database(pg_cluster, DB)
    create_database(pg_cluster, OTHER_DB)
    ex = pg_cluster.execute
    ex('CREATE EXTENSION pgstattuple', dbname=DB)
    # 70 % of the rows deleted and never vacuumed: the dead tuples still fill the pages.
    ex(ORDERS.format(name='orders_dead', rows=ROWS), dbname=DB)
    ex('DELETE FROM orders_dead WHERE id % 10 < 7; ANALYZE orders_dead', dbname=DB)
    # The same, vacuumed: the pages stay (free space), and so do the indexes' sparse leaf pages.
    # Their keys are distinct: B-tree deduplication would hide the bloat from the estimate.
    ex(ORDERS.format(name='orders_vacuumed', rows=ROWS), dbname=DB)
    ex('CREATE INDEX orders_vacuumed_note_idx ON orders_vacuumed (note)', dbname=DB)
    ex('DELETE FROM orders_vacuumed WHERE id % 10 < 7', dbname=DB)
    ex('VACUUM ANALYZE orders_vacuumed', dbname=DB)
    # A healthy table of the same shape.
    ex(ORDERS.format(name='orders_fresh', rows=ROWS), dbname=DB)
    ex('ANALYZE orders_fresh', dbname=DB)
    # Never analyzed.
    ex(ORDERS.format(name='imports', rows=20000), dbname=DB)
    # Index usage: a PK, a unique index, a unique constraint, an index queries use and one never
    # used.
    ex("CREATE TABLE items (id int PRIMARY KEY, sku text, owner int, label text,"
       " CONSTRAINT items_label_key UNIQUE (label));"
       " INSERT INTO items SELECT g, 'sku' || g, g % 50, 'label' || g FROM generate_series(1, 5000) g;"
       " CREATE UNIQUE INDEX items_sku_uq ON items (sku);"
       " CREATE INDEX items_owner_idx ON items (owner);"
       " CREATE INDEX \"items Never Used\" ON items (lower(label));"
       " ANALYZE items", dbname=DB)
    ex('SET enable_seqscan = off; SELECT count(*) FROM items WHERE owner = 7', dbname=DB)
    wait_until(lambda: ex("SELECT idx_scan FROM pg_stat_user_indexes"
                          " WHERE indexrelname = 'items_owner_idx'", dbname=DB)[0][0] > 0,
               timeout=SERVER_WAIT, what='the index scan to reach the statistics')
    ex("CREATE TABLE notes (id int, body text); CREATE INDEX notes_body_idx ON notes (body);"
       " INSERT INTO notes SELECT g, 'n' || g FROM generate_series(1, 100) g; ANALYZE notes",
       dbname=OTHER_DB)
    yield DB
    for name in (DB, OTHER_DB):
        pg_cluster.execute('DROP DATABASE IF EXISTS %s WITH (FORCE)' % name)


def bloat(ansible, cluster, monitor=False, check_mode=False, **args):
    params = cluster.login_args(monitor=monitor)
    params.update(args)
    return ansible.module(MODULE, params, check=check_mode)


def entry(result, database):
    found = [d for d in result['databases'] if d['database'] == database]
    assert len(found) == 1, result['databases']
    return found[0]


def by_name(rows, key, name):
    found = [r for r in rows if r[key] == name]
    assert len(found) == 1, (name, rows)
    return found[0]


def exact_table_waste(cluster, table):
    """pgstattuple's dead tuples and free space, in percent of the table."""
    row = cluster.execute('SELECT dead_tuple_percent + free_percent FROM pgstattuple(%s)',
                          (table,), dbname=DB)
    return float(row[0][0])


def test_table_bloat_matches_pgstattuple(ansible, pg_cluster, bloat_db):
    result = bloat(ansible, pg_cluster, login_db=bloat_db, checks=['table_bloat'],
                   min_wasted=MIB, fail_on='never')
    assert not result.get('failed'), result
    assert result['is_available'] is True
    found = entry(result, bloat_db)
    for table in ('orders_dead', 'orders_vacuumed'):
        exact = exact_table_waste(pg_cluster, table)
        assert exact > 60, exact
        row = by_name(found['table_bloat'], 'table', table)
        assert row['estimated_rows'] == pytest.approx(ROWS * 0.3, rel=0.05)
        assert abs(row['wasted_percent'] - exact) <= TOLERANCE, (row, exact)
        assert row['size_bytes'] == row['expected_bytes'] + row['wasted_bytes']
        reported = check(result, 'table_bloat', '%s.public.%s' % (bloat_db, table))
        assert reported['status'] == 'CRITICAL'
        assert reported['value'] == row['wasted_percent']
        assert 'wasted' in reported['message'] and '(critical 50)' in reported['message']
    fresh = by_name(found['table_bloat'], 'table', 'orders_fresh')
    assert fresh['wasted_percent'] <= exact_table_waste(pg_cluster, 'orders_fresh') + TOLERANCE
    assert fresh['wasted_percent'] < 10
    # Ordered by wasted bytes, fresh last; the healthy table is not listed among the alerts.
    assert found['table_bloat'][-1]['table'] == 'orders_fresh'
    assert '%s.public.orders_fresh' % bloat_db not in [c['target'] for c in result['checks']]
    assert result['status'] == 'CRITICAL'


def test_index_bloat_matches_pgstatindex(ansible, pg_cluster, bloat_db):
    result = bloat(ansible, pg_cluster, login_db=bloat_db, checks=['index_bloat'], min_size=MIB,
                   min_wasted=MIB, fail_on='never')
    found = entry(result, bloat_db)
    for index in ('orders_vacuumed_pkey', 'orders_vacuumed_note_idx'):
        density = float(pg_cluster.execute(
            'SELECT avg_leaf_density FROM pgstatindex(%s)', (index,), dbname=DB)[0][0])
        # Leaf pages are meant to be 90 % full: what lacks of that is wasted.
        exact = 100.0 * (1 - density / 90.0)
        row = by_name(found['index_bloat'], 'index', index)
        assert row['table'] == 'orders_vacuumed'
        assert abs(row['wasted_percent'] - exact) <= TOLERANCE, (row, density)
        assert check(result, 'index_bloat', '%s.public.%s' % (bloat_db, index))['status'] in (
            'WARNING', 'CRITICAL')
    fresh = by_name(found['index_bloat'], 'index', 'orders_fresh_pkey')
    assert fresh['wasted_percent'] < 10


def test_min_wasted_and_min_size_leave_small_relations_unjudged(ansible, pg_cluster, bloat_db):
    result = bloat(ansible, pg_cluster, login_db=bloat_db, checks=['table_bloat'],
                   fail_on='never')
    # 16 MiB tables with 11 MiB wasted: below the default min_wasted of 50 MiB.
    reported = check(result, 'table_bloat')
    assert reported['status'] == 'OK'
    assert 'below min_wasted 50.0 MiB, not judged' in reported['message']
    assert reported['value'] > 60
    result = bloat(ansible, pg_cluster, login_db=bloat_db, checks=['table_bloat'],
                   min_size=1024 * MIB, fail_on='never')
    reported = check(result, 'table_bloat')
    assert reported['status'] == 'OK' and reported['value'] == 0
    assert 'no table of at least 1.0 GiB' in reported['message']
    assert entry(result, bloat_db)['table_bloat'] == []


def test_never_analyzed_table_is_listed_not_judged(ansible, pg_cluster, bloat_db):
    result = bloat(ansible, pg_cluster, login_db=bloat_db, checks=['table_bloat'], min_size=0,
                   min_wasted=0, fail_on='never')
    found = entry(result, bloat_db)
    imports = by_name([r for r in found['not_estimated'] if r['kind'] == 'table'], 'table',
                      'imports')
    assert imports['reason'] == 'not analyzed, cannot estimate'
    assert imports['size_bytes'] > 0
    assert 'imports' not in [r['table'] for r in found['table_bloat']]
    assert not [c for c in result['checks'] if (c['target'] or '').endswith('.imports')]
    assert all(c['status'] != 'UNKNOWN' for c in result['checks'])
    assert 'not estimated (not analyzed)' in check(
        result, 'table_bloat', '%s.public.orders_dead' % bloat_db)['message']


def test_unused_indexes(ansible, pg_cluster, bloat_db):
    result = bloat(ansible, pg_cluster, login_db=bloat_db, checks=['unused_indexes'],
                   min_stats_age=0, thresholds={'unused_index_bytes': {'warning': 0}},
                   fail_on='never')
    found = entry(result, bloat_db)
    names = [r['index'] for r in found['unused_indexes']]
    assert 'items Never Used' in names
    assert 'items_owner_idx' not in names  # used by a query
    for kept in ('items_pkey', 'items_sku_uq', 'items_label_key', 'orders_dead_pkey'):
        assert kept not in names
    never = by_name(found['unused_indexes'], 'index', 'items Never Used')
    assert never['table'] == 'items' and never['schema'] == 'public' and never['valid'] is True
    assert never['drop_statement'] == 'DROP INDEX CONCURRENTLY public."items Never Used";'
    assert never['definition'] == (
        'CREATE INDEX "items Never Used" ON public.items USING btree (lower(label))')
    assert never['size_bytes'] > 0
    # The suggestion is never run.
    assert pg_cluster.execute("SELECT count(*) FROM pg_class WHERE relname = 'items Never Used'",
                              dbname=DB)[0][0] == 1
    total = sum(r['size_bytes'] for r in found['unused_indexes'])
    assert found['unused_index_count'] == len(names) and found['unused_index_bytes'] == total
    count = check(result, 'unused_indexes', bloat_db)
    assert count['value'] == len(names) and 'public.items Never Used' in count['message']
    size = check(result, 'unused_index_bytes', bloat_db)
    assert size['value'] == total and size['status'] == 'WARNING'


def test_young_statistics_are_not_judged(ansible, pg_cluster, bloat_db):
    # How old the statistics are depends on when the cluster started: min_stats_age is set
    # from the server's own figure, so the statistics are young whatever the suite's duration.
    since = "coalesce((SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()),"\
            " pg_postmaster_start_time())"
    lower = server_seconds(pg_cluster, since, dbname=bloat_db)
    min_stats_age = int(lower) + 30 * 86400
    result = bloat(ansible, pg_cluster, login_db=bloat_db, checks=['unused_indexes'],
                   min_stats_age=min_stats_age, thresholds={'unused_index_bytes': {'warning': 0}},
                   fail_on='warning')
    upper = server_seconds(pg_cluster, since, dbname=bloat_db)
    assert not result.get('failed'), result
    found = entry(result, bloat_db)
    assert lower - 0.1 <= found['stats_age_seconds'] <= upper + 0.1
    size = check(result, 'unused_index_bytes', bloat_db)
    assert size['status'] == 'OK' and size['value'] > 0
    assert 'less than min_stats_age %.1f days, not judged' % (min_stats_age / 86400.0) in size['message']
    assert 'not judged' in check(result, 'unused_indexes', bloat_db)['message']


def test_several_databases_all_and_a_missing_one(ansible, pg_cluster, bloat_db):
    result = bloat(ansible, pg_cluster, databases=[bloat_db, OTHER_DB], checks=['unused_indexes'],
                   min_stats_age=0, fail_on='never')
    assert [d['database'] for d in result['databases']] == [bloat_db, OTHER_DB]
    other = entry(result, OTHER_DB)
    assert [r['index'] for r in other['unused_indexes']] == ['notes_body_idx']
    assert check(result, 'unused_indexes', OTHER_DB)['value'] == 1

    result = bloat(ansible, pg_cluster, databases=['all'], checks=['unused_indexes'],
                   fail_on='never')
    names = [d['database'] for d in result['databases']]
    assert {bloat_db, OTHER_DB, 'postgres'} <= set(names)
    assert 'template0' not in names and 'template1' not in names

    result = bloat(ansible, pg_cluster, databases=[OTHER_DB, 'pgbloat_missing'], fail_on='never')
    assert result['failed'] is True
    assert result['msg'].startswith('databases: database "pgbloat_missing" does not exist')
    assert entry(result, OTHER_DB)['unused_index_count'] == 1
    assert entry(result, 'pgbloat_missing')['error'] == 'does not exist'


def test_monitor_role_and_check_mode(ansible, pg_cluster, bloat_db):
    args = dict(login_db=bloat_db, min_wasted=MIB, min_stats_age=0, fail_on='never')
    admin = bloat(ansible, pg_cluster, **args)
    monitor = bloat(ansible, pg_cluster, monitor=True, check_mode=True, **args)
    assert not monitor.get('failed'), monitor
    # Index usage needs no more than pg_monitor.
    assert entry(monitor, bloat_db)['unused_indexes'] == entry(admin, bloat_db)['unused_indexes']
    # Column statistics of tables it may not read are hidden from it: said, not guessed.
    unknown = check(monitor, 'table_bloat', bloat_db)
    assert unknown['status'] == 'UNKNOWN'
    assert 'role %s may not read the column statistics' % pg_cluster.monitor_user in unknown['message']
    assert 'pg_read_all_data' in unknown['message']
    assert entry(monitor, bloat_db)['table_bloat'] == []

    pg_cluster.execute('GRANT SELECT ON ALL TABLES IN SCHEMA public TO %s'
                       % pg_cluster.monitor_user, dbname=DB)
    try:
        monitor = bloat(ansible, pg_cluster, monitor=True, check_mode=True, **args)
    finally:
        pg_cluster.execute('REVOKE SELECT ON ALL TABLES IN SCHEMA public FROM %s'
                           % pg_cluster.monitor_user, dbname=DB)
    assert monitor['changed'] is False
    assert entry(monitor, bloat_db)['table_bloat'] == entry(admin, bloat_db)['table_bloat']
    assert entry(monitor, bloat_db)['index_bloat'] == entry(admin, bloat_db)['index_bloat']
    assert not checks_named(monitor, 'connection')


def test_bad_input_names_the_parameter(ansible, pg_cluster):
    cases = {
        'thresholds': dict(thresholds={'table_bloat': {'warning': 'lots'}}),
        'unknown check': dict(thresholds={'bloat': {'warning': 1}}),
        'all': dict(databases=['all', 'postgres']),
        'limit': dict(limit=0),
        'min_size': dict(min_size=-1),
        'checks': dict(checks=['table_bloat', 'vacuum']),
        'nul': dict(databases=['pg\x00bloat']),
        'huge': dict(min_size=10 ** 19),
        'password': dict(login_password='pass\x00word'),
    }
    tasks = []
    for name, args in cases.items():
        params = pg_cluster.login_args()
        params.update(args)
        tasks.append({'name': name, MODULE: params, 'ignore_errors': True})
    run = ansible.tasks(tasks)
    results = dict((name, run.task(name)) for name in cases)
    for name, result in results.items():
        assert result['failed'] is True, name
        assert 'Traceback' not in result['msg'] and 'MODULE FAILURE' not in result['msg']
    assert results['thresholds']['msg'].startswith('thresholds.table_bloat.warning:')
    assert "unknown check 'bloat'" in results['unknown check']['msg']
    assert results['all']['msg'] == "databases: 'all' stands alone, got all, postgres"
    assert results['limit']['msg'] == 'limit: must be at least 1, got 0'
    assert results['min_size']['msg'] == 'min_size: must be at least 0, got -1'
    assert 'checks' in results['checks']['msg'] and 'vacuum' in results['checks']['msg']
    assert results['nul']['msg'] == 'databases[0]: must not contain a NUL byte'
    assert results['huge']['msg'] == ('min_size: must be at most 9223372036854775807, got '
                                      '10000000000000000000')
    assert results['password']['msg'] == 'login_password: must not contain a NUL byte'
    assert pg_cluster.superuser_password not in run.stdout


def test_server_frozen_after_connecting(ansible, pg_cluster_factory):
    """Connected, then the whole cluster stops (SIGSTOP): the client-side deadline ends the run,
    and the other databases are not tried one after the other."""
    cluster = pg_cluster_factory()
    db = create_database(cluster, 'bloat_frozen')
    cluster.execute('CREATE TABLE never_analyzed (id int)', dbname=db)
    create_database(cluster, 'bloat_frozen_other')
    probe = dict(cluster.login_args(), login_db=db, databases=[db, 'bloat_frozen_other'],
                 checks=['table_bloat'], min_size=0, fail_on='never', **FROZEN_TIMEOUTS)
    # The size of a table never analyzed is read from its file, which waits for this lock.
    result = run_frozen(ansible, cluster, {MODULE: probe}, 'fleetops.runbook.pg_bloat',
                        'LOCK TABLE never_analyzed IN ACCESS EXCLUSIVE MODE', dbname=db)
    assert_stopped_answering(result, 'connection')
    assert 'bloat_frozen_other' not in [d['database'] for d in result['databases']]
    assert cluster.execute('SELECT 1') == [(1,)]


def test_unreachable_server_is_data(ansible, pg_cluster):
    params = pg_cluster.login_args(login_port=1, connect_timeout=2)
    result = ansible.module(MODULE, dict(params, fail_on='never'))
    assert result['is_available'] is False
    assert result['status'] == 'CRITICAL'
    assert check(result, 'connection')['message'].startswith('cannot connect to')
