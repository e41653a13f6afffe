# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_health through Ansible against real PostgreSQL clusters, in situations the tests create."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .pg_helpers import (FROZEN_HANG_GUARD, FROZEN_TIMEOUTS, SERVER_WAIT, Background, BusyClients,
                         assert_stopped_answering, check, checks_named, create_database, run_frozen,
                         server_seconds, wait_until)

pytestmark = pytest.mark.postgres

MODULE = 'fleetops.runbook.pg_health'

ALL_CHECKS = [
    'connection', 'version', 'uptime', 'in_recovery', 'backends', 'idle_in_transaction',
    'transaction_age', 'query_time', 'lock_wait', 'wraparound', 'replication', 'replication_slots',
    'archive', 'cache_hit_ratio', 'database_size', 'dead_tuples', 'last_vacuum', 'last_analyze',
    'sequence_usage', 'prepared_transaction_age', 'checkpoints', 'temp_files',
]


def health(ansible, cluster, monitor=True, **args):
    params = cluster.login_args(monitor=monitor)
    params.update(args)
    return ansible.module(MODULE, params)


def health_runs(ansible, cluster, runs, monitor=True):
    """Several pg_health tasks in one playbook (state unchanged between them): {name: result}."""
    tasks = []
    for name, args in runs.items():
        params = cluster.login_args(monitor=monitor)
        params.update(args)
        tasks.append({'name': name, MODULE: params, 'ignore_errors': True})
    run = ansible.tasks(tasks)
    return dict((name, run.task(name)) for name in runs)


def expected_status(value, warning, critical):
    """What a check whose default thresholds are 'warning' / 'critical' (plain N ranges) says."""
    if value > critical:
        return 'CRITICAL'
    return 'WARNING' if value > warning else 'OK'


# ---- a whole run as the least-privilege role ---------------------------------------------------

def test_monitor_role_runs_every_check(ansible, pg_cluster):
    db = create_database(pg_cluster, 'health_all')
    pg_cluster.execute('CREATE TABLE orders (id serial PRIMARY KEY, n int);'
                       ' INSERT INTO orders (n) SELECT g FROM generate_series(1, 500) g;'
                       ' ANALYZE orders', dbname=db)
    result = health(ansible, pg_cluster, login_db=db, table_min_size=0, fail_on='never')
    assert not result.get('failed'), result
    assert result['is_available'] is True
    server = result['server']
    assert server['user'] == pg_cluster.monitor_user
    assert server['superuser'] is False and server['pg_monitor'] is True
    assert server['database'] == db
    version_num = int(pg_cluster.execute("SHOW server_version_num")[0][0])
    assert server['version_num'] == version_num
    assert check(result, 'version')['value'] == version_num // 10000
    assert check(result, 'in_recovery')['value'] == 0
    expected = {'connection_time', 'version', 'uptime', 'in_recovery', 'backends', 'backends_count',
                'backends_state',
                'idle_in_transaction', 'transaction_age', 'query_time', 'lock_waits',
                'lock_wait_time', 'wraparound', 'replicas', 'replication_slots_inactive',
                'archive_failing', 'archive_ready', 'cache_hit_ratio', 'database_size',
                'dead_tuples', 'last_vacuum', 'last_analyze', 'sequence_usage',
                'prepared_transaction_age', 'checkpoints_requested', 'temp_files', 'temp_bytes'}
    assert expected <= {c['name'] for c in result['checks']}
    connection = check(result, 'connection_time')
    # How long the login took depends on the machine's load: its status follows the figure.
    assert connection['unit'] == 'milliseconds' and connection['value'] > 0
    assert (connection['warning'], connection['critical']) == ('500', '1000')
    assert connection['status'] == expected_status(connection['value'], 500, 1000)
    # The role cannot read the sequence behind orders.id: UNKNOWN, with the fix.
    sequence = check(result, 'sequence_usage')
    assert sequence['status'] == 'UNKNOWN'
    assert 'public.orders_id_seq' in sequence['message'] and 'pg_read_all_data' in sequence['message']
    assert result['status'] == 'UNKNOWN'
    # Everything else is measured, and the figures are the server's own.
    # checkpoints_requested is server-wide: the suite's CREATE/DROP DATABASE statements request
    # checkpoints, so its status depends on what ran before; its figure is checked for range only.
    checkpoints = check(result, 'checkpoints_requested')
    assert 0 <= checkpoints['value'] <= 100
    others = [c for c in result['checks']
              if c['name'] not in ('sequence_usage', 'checkpoints_requested', 'connection_time')]
    assert all(c['status'] == 'OK' for c in others), [c for c in others if c['status'] != 'OK']
    size = check(result, 'database_size', target=db)['value']
    assert size == pg_cluster.execute("SELECT pg_database_size(%s)", (db,))[0][0]
    assert result['details']['tables'][0]['target'] == 'public.orders'
    assert result['details']['tables'][0]['estimated_rows'] == 500

    # Granted SELECT, the same role reads the sequence: 500 of 2^31-1 used.
    pg_cluster.execute('GRANT SELECT ON orders_id_seq TO %s' % pg_cluster.monitor_user, dbname=db)
    result = health(ansible, pg_cluster, login_db=db, checks=['sequence_usage'])
    sequence = check(result, 'sequence_usage')
    assert sequence['status'] == 'OK' and sequence['target'] == 'public.orders_id_seq'
    assert sequence['value'] == round(100.0 * 499 / (2 ** 31 - 2), 2)


def test_superuser_run_reads_sequences(ansible, pg_cluster):
    db = create_database(pg_cluster, 'health_su')
    pg_cluster.execute('CREATE SEQUENCE s1', dbname=db)
    result = health(ansible, pg_cluster, monitor=False, login_db=db,
                    checks=['sequence_usage', 'backends'])
    assert result['server']['superuser'] is True
    assert result['status'] == 'OK', result['summary']
    assert check(result, 'sequence_usage')['value'] == 0


def test_old_check_names_still_work_and_warn(ansible, pg_cluster):
    """The names of 0.1.0 run the renamed checks, each once, with a deprecation warning naming
    the new name; the new names raise none."""
    db = create_database(pg_cluster, 'health_old_names')
    pg_cluster.execute('CREATE SEQUENCE s1', dbname=db)
    old = ['locks', 'archiver', 'cache_hit', 'vacuum', 'analyze', 'sequences', 'prepared_transactions']
    new = ['lock_wait', 'archive', 'cache_hit_ratio', 'last_vacuum', 'last_analyze', 'sequence_usage',
           'prepared_transaction_age']
    tasks = []
    for name, checks in (('old', old + ['sequence_usage']), ('new', new)):
        params = pg_cluster.login_args(monitor=False)
        params.update(login_db=db, table_min_size=0, fail_on='never', checks=checks)
        tasks.append({'name': name, MODULE: params})
    run = ansible.tasks(tasks, env={'ANSIBLE_DEPRECATION_WARNINGS': '1'})
    results = dict((name, run.task(name)) for name in ('old', 'new'))
    for result in results.values():
        assert not result.get('failed'), result
    names = dict((name, sorted(c['name'] for c in result['checks'])) for name, result in results.items())
    assert names['old'] == names['new']
    assert names['new'] == sorted(['lock_waits', 'lock_wait_time', 'archive_failing', 'archive_ready',
                                   'cache_hit_ratio', 'last_vacuum', 'last_analyze', 'sequence_usage',
                                   'prepared_transaction_age'])
    output = run.stdout + run.stderr
    for before, after in zip(old, new):
        assert 'checks: %s is now called %s' % (before, after) in output, output[-4000:]
    assert output.count('is now called') == len(old)


# ---- situations ----------------------------------------------------------------------------------

def test_idle_in_transaction_held_open(ansible, pg_cluster):
    conn = pg_cluster.connect(autocommit=False)
    try:
        conn.cursor().execute('SELECT 1')
        pid = conn.get_backend_pid()
        time.sleep(1.2)
        result = health(ansible, pg_cluster, checks=['idle_in_transaction', 'transaction_age'],
                        thresholds={'idle_in_transaction': {'warning': 1, 'critical': None}})
        # The server's own figure after the run bounds what the run saw, however slow it was.
        upper = server_seconds(pg_cluster, 'state_change', pid)
    finally:
        conn.close()
    idle = check(result, 'idle_in_transaction')
    assert idle['status'] == 'WARNING', idle
    assert 1 <= idle['value'] <= upper
    assert 'pid %d' % pid in idle['message'] and '(warning 1)' in idle['message']
    assert result['details']['idle_in_transaction'][0]['pid'] == pid
    # The same session is the oldest transaction, judged against the default 300 / 1800 s.
    txn = check(result, 'transaction_age')
    assert txn['value'] >= idle['value']
    assert txn['status'] == expected_status(txn['value'], 300, 1800)
    assert result['details']['transaction_age'][0]['pid'] == pid
    # Closed, it is gone.
    result = health(ansible, pg_cluster, checks=['idle_in_transaction'])
    assert check(result, 'idle_in_transaction')['value'] == 0


def test_blocked_lock_names_the_blocker(ansible, pg_cluster):
    db = create_database(pg_cluster, 'health_locks')
    pg_cluster.execute('CREATE TABLE accounts (id int)', dbname=db)
    holder = pg_cluster.connect(dbname=db, autocommit=False)
    holder.cursor().execute('LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE')
    waiter = Background(pg_cluster, 'SELECT count(*) FROM accounts', dbname=db)
    try:
        wait_until(lambda: pg_cluster.execute(
            "SELECT 1 FROM pg_stat_activity WHERE pid = %s AND wait_event_type = 'Lock'",
            (waiter.pid,)), timeout=SERVER_WAIT, what='the waiter to block')
        time.sleep(1.0)
        result = health(ansible, pg_cluster, checks=['lock_wait', 'query_time'],
                        thresholds={'lock_wait_time': {'warning': '0.5', 'critical': None}})
        upper = server_seconds(pg_cluster, 'query_start', waiter.pid)
    finally:
        holder.rollback()
        holder.close()
        waiter.join()
    assert waiter.error is None
    assert check(result, 'lock_waits')['value'] == 1
    wait = check(result, 'lock_wait_time')
    assert wait['status'] == 'WARNING' and 1 <= wait['value'] <= upper, wait
    assert 'pid %d blocked by %d' % (waiter.pid, holder_pid(result)) in wait['message']
    lock = result['details']['locks'][0]
    assert lock['pid'] == waiter.pid and lock['database'] == db
    assert lock['query'] == 'SELECT count(*) FROM accounts'
    # The waiting statement is also the longest running query.
    assert result['details']['query_time'][0]['pid'] == waiter.pid


def holder_pid(result):
    return result['details']['locks'][0]['blocked_by'][0]


def test_inactive_replication_slot(ansible, pg_cluster):
    pg_cluster.execute("SELECT pg_create_physical_replication_slot('forgotten_standby', true)")
    try:
        pg_cluster.execute('CREATE TABLE IF NOT EXISTS wal_filler (x text);'
                           " INSERT INTO wal_filler SELECT repeat('w', 100) FROM generate_series(1, 5000)")
        retained = int(pg_cluster.execute(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) FROM pg_replication_slots"
            " WHERE slot_name = 'forgotten_standby'")[0][0])
        result = health(ansible, pg_cluster, checks=['replication_slots'],
                        thresholds={'replication_slot_retained': {'warning': 1024}})
    finally:
        pg_cluster.execute("SELECT pg_drop_replication_slot('forgotten_standby')")
        pg_cluster.execute('DROP TABLE IF EXISTS wal_filler')
    inactive = check(result, 'replication_slots_inactive')
    assert inactive['status'] == 'WARNING' and inactive['value'] == 1
    assert 'forgotten_standby' in inactive['message']
    kept = check(result, 'replication_slot_retained', target='forgotten_standby')
    assert kept['status'] == 'WARNING'
    assert retained <= kept['value'] < retained + 1024 * 1024
    assert result['details']['slots'][0]['active'] is False
    # Dropped, the check is quiet again.
    result = health(ansible, pg_cluster, checks=['replication_slots'])
    assert check(result, 'replication_slots_inactive')['value'] == 0
    assert result['status'] == 'OK'


def test_sequence_near_its_maximum(ansible, pg_cluster):
    db = create_database(pg_cluster, 'health_seq')
    pg_cluster.execute(
        'CREATE SEQUENCE near_max MAXVALUE 100; SELECT setval(\'near_max\', 97);'
        ' CREATE SEQUENCE half_way MAXVALUE 1000; SELECT setval(\'half_way\', 500);'
        ' CREATE SEQUENCE wraps MAXVALUE 100 CYCLE; SELECT setval(\'wraps\', 99);'
        ' CREATE SEQUENCE counts_down INCREMENT -1 MINVALUE -100 MAXVALUE -1;'
        ' SELECT setval(\'counts_down\', -90);'
        ' GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO %s' % pg_cluster.monitor_user,
        dbname=db)
    result = health(ansible, pg_cluster, login_db=db, checks=['sequence_usage'])
    alerting = {c['target']: c for c in checks_named(result, 'sequence_usage')}
    # Both alerting sequences are listed; the cycling one never runs out, so it is left out.
    assert set(alerting) == {'public.near_max', 'public.counts_down'}
    assert alerting['public.near_max']['value'] == round(100.0 * 96 / 99, 2)
    assert alerting['public.near_max']['status'] == 'CRITICAL'
    assert alerting['public.counts_down']['value'] == round(100.0 * 89 / 99, 2)
    assert alerting['public.counts_down']['status'] == 'WARNING'
    assert result['status'] == 'CRITICAL'
    assert result.get('failed') is True
    assert result['msg'] == result['summary']
    pg_cluster.execute('DROP SEQUENCE near_max, counts_down', dbname=db)
    result = health(ansible, pg_cluster, login_db=db, checks=['sequence_usage'])
    only = check(result, 'sequence_usage')
    assert only['target'] == 'public.half_way' and only['status'] == 'OK'


def test_dead_tuples_vacuum_and_analyze(ansible, pg_cluster):
    db = create_database(pg_cluster, 'health_dead')
    pg_cluster.execute(
        'CREATE TABLE churn (id int, pad text) WITH (autovacuum_enabled = false);'
        " INSERT INTO churn SELECT g, repeat('p', 50) FROM generate_series(1, 20000) g;"
        ' DELETE FROM churn WHERE id > 5000;'
        ' CREATE TABLE calm (id int) WITH (autovacuum_enabled = false);'
        ' INSERT INTO calm SELECT generate_series(1, 3000);'
        ' CREATE TABLE tiny (id int);', dbname=db)
    for sql in ('ANALYZE churn', 'VACUUM calm', 'ANALYZE calm'):
        pg_cluster.execute(sql, dbname=db)
    # A table never vacuumed or analyzed counts from the server start: its age is whatever the
    # server's uptime is, bounded here by the server's own figures before and after the runs.
    lower = server_seconds(pg_cluster, 'pg_postmaster_start_time()', dbname=db)
    results = health_runs(ansible, pg_cluster, {
        'all': dict(login_db=db, table_min_size=0, checks=['dead_tuples', 'last_vacuum', 'last_analyze']),
        'limited': dict(login_db=db, table_min_size=0, table_limit=1,
                        checks=['dead_tuples', 'last_vacuum'],
                        thresholds={'last_vacuum': {'warning': 0}}),
        'floor': dict(login_db=db, checks=['dead_tuples'], table_min_size=10 * 1024 ** 2),
    })
    upper = server_seconds(pg_cluster, 'pg_postmaster_start_time()', dbname=db)
    result = results['all']
    dead = check(result, 'dead_tuples')
    assert dead['target'] == 'public.churn' and dead['status'] == 'CRITICAL', dead
    assert dead['value'] == pytest.approx(75.0, abs=3)
    assert '15000 dead tuples' in dead['message'] or 'dead tuples' in dead['message']
    # churn was never vacuumed, tiny never analyzed: both count from the server start.
    vacuum = check(result, 'last_vacuum')
    assert vacuum['target'] == 'public.churn' and 'never vacuumed' in vacuum['message']
    assert lower <= vacuum['value'] <= upper
    assert vacuum['status'] == expected_status(vacuum['value'], 7 * 86400, 30 * 86400)
    analyze = check(result, 'last_analyze')
    assert analyze['target'] == 'public.tiny' and 'never analyzed' in analyze['message']
    assert lower <= analyze['value'] <= upper
    assert analyze['status'] == expected_status(analyze['value'], 7 * 86400, 30 * 86400)
    analyzed = dict((t['target'], t) for t in result['details']['tables'])
    assert 0 <= analyzed['public.churn']['analyze_age'] <= upper
    tables = [t['target'] for t in result['details']['tables']]
    assert tables[:2] == ['public.churn', 'public.calm']

    # table_limit bounds the work: only the largest table is looked at.
    result = results['limited']
    assert [t['target'] for t in result['details']['tables']] == ['public.churn']
    assert check(result, 'last_vacuum')['status'] == 'WARNING'
    # The size floor leaves small tables out altogether.
    result = results['floor']
    assert result['details']['tables'] == []
    floor = check(result, 'dead_tuples')
    assert floor['status'] == 'OK'
    # Filtered out is said, not a bare OK.
    assert floor['message'] == ('dead_tuples: not judged, all 3 table(s) of %s are smaller than '
                                'table_min_size 10.0 MiB' % db)


def test_prepared_transaction_age(ansible, pg_cluster):
    conn = pg_cluster.connect(autocommit=False)
    cur = conn.cursor()
    cur.execute('SELECT 1')
    cur.execute("PREPARE TRANSACTION 'fleetops_test_2pc'")
    conn.close()
    try:
        time.sleep(1.1)
        result = health(ansible, pg_cluster, checks=['prepared_transaction_age'],
                        thresholds={'prepared_transaction_age': {'critical': 1}})
    finally:
        pg_cluster.execute("ROLLBACK PREPARED 'fleetops_test_2pc'")
    prepared = check(result, 'prepared_transaction_age')
    assert prepared['status'] == 'CRITICAL' and prepared['value'] >= 1
    assert 'fleetops_test_2pc' in prepared['message']


# ---- a small max_connections, then that server stopped -------------------------------------------

@pytest.fixture(scope='module')
def small_cluster(pg_cluster_factory):
    return pg_cluster_factory(settings={'max_connections': 10})


def test_connections_near_max_connections(ansible, small_cluster):
    held = [small_cluster.connect() for dummy in range(8)]
    try:
        result = health(ansible, small_cluster, monitor=False, checks=['backends'])
    finally:
        for conn in held:
            conn.close()
    backends = check(result, 'backends')
    # 8 held + the module's own = 9 of 10.
    assert backends['value'] == 90.0 and backends['status'] == 'OK'
    assert check(result, 'backends_count')['value'] == 9
    assert check(result, 'backends_count')['status'] == 'OK'
    assert check(result, 'backends_state', target='idle')['value'] == 8
    assert check(result, 'backends_state', target='active')['value'] == 1
    held = [small_cluster.connect() for dummy in range(9)]
    try:
        result = health(ansible, small_cluster, monitor=False, checks=['backends'], fail_on='never')
    finally:
        for conn in held:
            conn.close()
    backends = check(result, 'backends')
    assert backends['value'] == 100.0 and backends['status'] == 'CRITICAL'
    assert 'critical 95' in backends['message']
    assert result['details']['backends'] == {'total': 10, 'max_connections': 10,
                                             'by_state': {'active': 1, 'idle': 9}}


def test_connections_as_a_count(ansible, small_cluster):
    # seed 003 alerts above 50 connections; here the same rule scaled to the small server: above 5
    held = [small_cluster.connect() for dummy in range(6)]
    try:
        result = health(ansible, small_cluster, monitor=False, checks=['backends'], fail_on='never',
                        thresholds={'backends_count': {'warning': '5', 'critical': '8'}})
    finally:
        for conn in held:
            conn.close()
    count = check(result, 'backends_count')
    assert count['value'] == 7 and count['unit'] == 'count'
    assert count['status'] == 'WARNING', count
    assert 'warning 5' in count['message']
    # the percentage is judged on its own bands: 70 % is below 90
    assert check(result, 'backends')['status'] == 'OK'


def test_server_stopped(ansible, small_cluster):
    small_cluster.stop()
    results = health_runs(ansible, small_cluster, {
        'default': dict(checks=['connection', 'backends']), 'never': dict(fail_on='never')})
    result = results['default']
    assert result['failed'] is True
    assert result['is_available'] is False
    assert result['status'] == 'CRITICAL'
    assert [c['name'] for c in result['checks']] == ['connection_time']
    assert 'Connection refused' in result['msg'] or 'connection refused' in result['msg'].lower()
    assert 'Traceback' not in str(result) and 'MODULE FAILURE' not in str(result)
    # fail_on decides whether the task fails, not the availability.
    result = results['never']
    assert not result.get('failed') and result['is_available'] is False
    assert result['status'] == 'CRITICAL'


def test_wrong_password(ansible, pg_cluster):
    result = health(ansible, pg_cluster, login_password='not-the-password', fail_on='never')
    assert not result.get('failed')
    assert result['is_available'] is False and result['status'] == 'CRITICAL'
    message = check(result, 'connection_time')['message']
    assert 'password authentication failed' in message and 'login_password' in message


def test_hung_server_answers_within_connect_timeout(ansible, pg_cluster_factory):
    cluster = pg_cluster_factory()
    pid = cluster.pid
    os.kill(pid, signal.SIGSTOP)
    try:
        probe = dict(cluster.login_args(), connect_timeout=2, fail_on='never')
        # The timeout is only a guard against a hang, far above connect_timeout (not a speed test).
        run = ansible.tasks([{'name': 'probe', MODULE: probe}], timeout=FROZEN_HANG_GUARD)
    finally:
        os.kill(pid, signal.SIGCONT)
    result = run.task('probe')
    assert result['is_available'] is False and result['status'] == 'CRITICAL'
    assert 'timeout expired' in result['checks'][0]['message']
    assert cluster.execute('SELECT 1') == [(1,)]


@pytest.mark.parametrize('driver', ['psycopg2', 'psycopg3'])
def test_server_frozen_after_connecting(ansible, pg_cluster_factory, tmp_path, driver):
    """Connected, then the whole cluster stops (SIGSTOP): the client-side deadline ends the run,
    with either driver."""
    play_vars = None
    if driver == 'psycopg3':
        python = _interpreter_with(tmp_path, ['psycopg', 'psycopg_binary'])
        play_vars = {'ansible_python_interpreter': str(python)}
    cluster = pg_cluster_factory()
    db = create_database(cluster, 'health_frozen')
    cluster.execute('CREATE SEQUENCE frozen_seq', dbname=db)
    probe = dict(cluster.login_args(), login_db=db, checks=['backends', 'sequence_usage', 'temp_files'],
                 fail_on='never', **FROZEN_TIMEOUTS)
    # Reading the sequence waits for this lock: the module is connected and mid-run when frozen.
    result = run_frozen(ansible, cluster, {MODULE: probe}, 'fleetops.runbook.pg_health',
                        'ALTER SEQUENCE frozen_seq RENAME TO frozen_seq_renamed', dbname=db,
                        play_vars=play_vars)
    stopped = assert_stopped_answering(result, 'connection_time')
    assert 'statement_timeout 15000 ms' in stopped['message']
    # What was measured before the freeze is kept; nothing after it was attempted.
    assert check(result, 'backends')['status'] == 'OK'
    assert not checks_named(result, 'temp_files')
    # Thawed, the server works, and the module's session ends (its client is gone).
    wait_until(lambda: cluster.execute("SELECT count(*) FROM pg_stat_activity"
                                       " WHERE application_name = 'fleetops.runbook.pg_health'")
               == [(0,)], timeout=SERVER_WAIT, what="the module's session to end")


def test_busy_server_no_false_alarm_from_session_ages(ansible, pg_cluster_factory):
    """Clients running short transactions while pg_health runs: statements that began after the
    module's transaction started must not come out with negative ages (-0.004 s is outside
    0..300, CRITICAL)."""
    cluster = pg_cluster_factory()
    db = create_database(cluster, 'health_busy')
    cluster.execute('CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL);'
                    ' INSERT INTO counters SELECT g, 0 FROM generate_series(1, 4) g', dbname=db)
    names = ['idle_in_transaction', 'transaction_age', 'query_time', 'lock_wait_time']
    args = dict(cluster.login_args(monitor=True), fail_on='never',
                checks=['idle_in_transaction', 'transaction_age', 'query_time', 'lock_wait'])
    tasks = [{'name': 'run %d' % i, MODULE: dict(args)} for i in range(8)]
    tasks.append({'name': 'running', 'fleetops.runbook.slow_queries': dict(
        cluster.login_args(monitor=True), running_seconds=0, fail_on='never')})
    clients = BusyClients(cluster, db, 'counters', clients=4)
    try:
        run = ansible.tasks(tasks)
        during = sum(clients.counts)
    finally:
        done = clients.stop()
    assert not clients.errors, clients.errors
    assert during > 0 and done >= during
    for i in range(8):
        result = run.task('run %d' % i)
        assert result['is_available'] is True, result
        for name in names:
            found = check(result, name)
            assert found['status'] == 'OK', found
            assert found['value'] >= 0, found
        for name in names[:3]:
            assert all(row['age'] >= 0 for row in result['details'][name]), result['details'][name]
        assert all(row['wait_seconds'] >= 0 for row in result['details']['locks'])
    running = run.task('running')
    assert all(row['seconds'] >= 0 for row in running['running']), running['running']


def test_statement_timeout_cancels_one_check_only(ansible, pg_cluster):
    db = create_database(pg_cluster, 'health_timeout')
    pg_cluster.execute('CREATE SEQUENCE busy_seq', dbname=db)
    holder = pg_cluster.connect(dbname=db, autocommit=False)
    # Renaming takes an exclusive lock, which reading the sequence's value then waits for.
    holder.cursor().execute('ALTER SEQUENCE busy_seq RENAME TO busy_seq_renamed')
    try:
        result = health(ansible, pg_cluster, monitor=False, login_db=db, statement_timeout=300,
                        checks=['sequence_usage', 'backends', 'temp_files'], fail_on='never')
    finally:
        holder.rollback()
        holder.close()
    sequence = check(result, 'sequence_usage')
    assert sequence['status'] == 'UNKNOWN'
    assert 'statement_timeout' in sequence['message'] and 'canceling statement' in sequence['message']
    # The transaction went on: the checks after it were measured.
    assert check(result, 'backends')['status'] == 'OK'
    assert check(result, 'temp_files')['status'] == 'OK'


def test_statement_timeout_while_starting_is_a_status(ansible, pg_cluster):
    """The server's description (version, role) is read before any check: when it times out,
    the run reports UNKNOWN with the reason, not a traceback."""
    holder = pg_cluster.connect(autocommit=False)
    # pg_has_role() reads role memberships, which then wait for this lock.
    holder.cursor().execute('LOCK TABLE pg_auth_members IN ACCESS EXCLUSIVE MODE')
    try:
        result = health(ansible, pg_cluster, statement_timeout=500, fail_on='never')
    finally:
        holder.rollback()
        holder.close()
    assert 'Traceback' not in str(result) and 'MODULE FAILURE' not in str(result)
    assert result['is_available'] is True and result['status'] == 'UNKNOWN', result
    server = check(result, 'server')
    assert server['status'] == 'UNKNOWN'
    assert 'no check ran' in server['message'] and 'statement_timeout' in server['message']
    assert [c['name'] for c in result['checks']] == ['connection_time', 'server']


# ---- replication with a real standby ---------------------------------------------------------------

def test_replication_lag_on_standby_and_primary(ansible, pg_cluster_factory):
    primary = pg_cluster_factory()
    standby = primary.create_standby(primary.base_dir + '-standby')
    try:
        wait_until(lambda: primary.execute('SELECT count(*) FROM pg_stat_replication'
                                           " WHERE state = 'streaming'")[0][0] == 1,
                   timeout=SERVER_WAIT, what='the standby to stream')
        # A replayed transaction first: the lag in seconds counts from its commit.
        primary.execute('CREATE TABLE replayed (x int)')
        wait_until(lambda: standby.execute(
            'SELECT pg_last_xact_replay_timestamp() IS NOT NULL')[0][0],
            timeout=SERVER_WAIT, what='the standby to replay a transaction')
        standby.execute('SELECT pg_wal_replay_pause()')
        primary.execute("CREATE TABLE lagging AS SELECT g, repeat('l', 100) AS pad"
                        ' FROM generate_series(1, 20000) g')
        wait_until(lambda: standby.execute(
            'SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()')[0][0],
            timeout=SERVER_WAIT, what='WAL received but not replayed')
        time.sleep(1.1)
        on_standby = health(ansible, standby, checks=['in_recovery', 'replication'],
                            thresholds={'replication_lag_bytes': {'warning': 1024},
                                        'replication_lag_seconds': {'critical': 1}})
        on_primary = health(ansible, primary, checks=['replication'],
                            thresholds={'replication_lag_bytes': {'warning': 1024}})
        pending = int(standby.execute(
            'SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())')[0][0])
    finally:
        standby.execute('SELECT pg_wal_replay_resume()')
        standby.destroy()
    assert check(on_standby, 'in_recovery')['value'] == 1
    lag = check(on_standby, 'replication_lag_bytes')
    assert lag['status'] == 'WARNING' and lag['value'] == pending > 1024 * 1024
    assert check(on_standby, 'replication_lag_seconds')['status'] == 'CRITICAL'
    assert check(on_standby, 'wal_receiver')['value'] == 1
    assert on_primary['server']['in_recovery'] is False
    assert check(on_primary, 'replicas')['value'] == 1
    replica_lag = check(on_primary, 'replication_lag_bytes', target='walreceiver')
    assert replica_lag['status'] == 'WARNING' and replica_lag['value'] >= pending


# ---- bad input -------------------------------------------------------------------------------------

BAD_INPUT = [
    ({'checks': ['backends', 'bogus']}, 'checks'),
    ({'thresholds': {'backends': {'warning': '9O'}}}, 'thresholds.backends.warning'),
    ({'thresholds': {'no_such_check': {'warning': 1}}}, "thresholds: unknown check 'no_such_check'"),
    ({'thresholds': {'backends': {'warn': 1}}}, 'thresholds.backends'),
    ({'thresholds': {'backends': {'warning': '20:10'}}}, 'thresholds.backends.warning'),
    ({'login_port': 70000}, 'login_port'),
    ({'login_port': 'fivefourthreetwo'}, 'login_port'),
    ({'login_db': 'no_such_database'}, 'login_db'),
    ({'ssl_mode': 'requre'}, 'ssl_mode'),
    ({'connect_timeout': 0}, 'connect_timeout'),
    ({'table_limit': 0}, 'table_limit'),
    ({'table_limit': 10 ** 20}, 'table_limit: must be at most 9223372036854775807'),
    ({'statement_timeout': 1e12}, 'statement_timeout: must be at most 2147483647'),
    ({'connect_timeout': 2 ** 40}, 'connect_timeout: must be at most 2147483647'),
    ({'login_password': 'hunter\x002'}, 'login_password: must not contain a NUL byte'),
    ({'login_db': 'post\x00gres'}, 'login_db: must not contain a NUL byte'),
    ({'login_host': '127.0.0.1\x00'}, 'login_host: must not contain a NUL byte'),
]


def test_bad_input_names_the_parameter(ansible, pg_cluster):
    results = health_runs(ansible, pg_cluster, dict(
        ('case %d' % i, case[0]) for i, case in enumerate(BAD_INPUT)))
    for i, (args, needle) in enumerate(BAD_INPUT):
        result = results['case %d' % i]
        assert result['failed'] is True, args
        assert needle in result['msg'], (args, result['msg'])
        assert 'Traceback' not in result['msg'] and 'MODULE FAILURE' not in result['msg']


def test_missing_driver_is_reported_first(ansible, pg_cluster, tmp_path):
    bare = tmp_path / 'bare'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(bare)], check=True)
    run = ansible.tasks([{'name': 'probe', MODULE: pg_cluster.login_args()}],
                        play_vars={'ansible_python_interpreter': str(bare / 'bin' / 'python')})
    result = run.task('probe')
    assert result['failed'] is True
    assert 'psycopg2' in result['msg'] and 'Failed to import the required Python library' in result['msg']


def test_password_never_in_output(ansible, pg_cluster):
    secret = pg_cluster.monitor_password
    tasks = [
        {'name': 'good', MODULE: dict(pg_cluster.login_args(monitor=True), fail_on='never')},
        {'name': 'bad db', MODULE: dict(pg_cluster.login_args(monitor=True), login_db='nope'),
         'ignore_errors': True},
        {'name': 'slow', 'fleetops.runbook.slow_queries': dict(pg_cluster.login_args(monitor=True),
                                                               fail_on='never')},
        {'name': 'down', MODULE: dict(pg_cluster.login_args(monitor=True), login_port=1,
                                      fail_on='never')},
    ]
    run = ansible.tasks(tasks, callback='ansible.builtin.default', verbosity=4)
    assert run.rc == 0, run
    output = run.stdout + run.stderr
    assert 'user: fleetops_monitor' in output and 'AnsiballZ_pg_health.py' in output
    assert secret not in output


def _interpreter_with(tmp_path, packages):
    """A bare venv of this Python that sees only ``packages`` from the test environment."""
    import importlib.util
    venv = tmp_path / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(venv)], check=True)
    shelf = tmp_path / 'shelf'
    shelf.mkdir()
    for name in packages:
        origin = Path(importlib.util.find_spec(name).origin).parent
        (shelf / name).symlink_to(origin)
        libs = origin.parent / (name + '.libs')
        if libs.is_dir():
            (shelf / libs.name).symlink_to(libs)
    site = next(venv.glob('lib/python3*/site-packages'))
    (site / 'drivers.pth').write_text(str(shelf) + '\n')
    return venv / 'bin' / 'python'


def test_psycopg3_when_it_is_the_driver_installed(ansible, pg_cluster, tmp_path):
    python = _interpreter_with(tmp_path, ['psycopg', 'psycopg_binary'])
    probe = 'import psycopg\ntry:\n    import psycopg2\nexcept ImportError:\n    print("only psycopg 3")'
    assert subprocess.run([str(python), '-c', probe], capture_output=True, text=True,
                          check=True).stdout.strip() == 'only psycopg 3'
    tasks = [
        {'name': 'health', MODULE: dict(pg_cluster.login_args(monitor=True), fail_on='never',
                                        statement_timeout=300)},
        {'name': 'statements', 'fleetops.runbook.slow_queries': dict(pg_cluster.login_args(),
                                                                     fail_on='never')},
        {'name': 'refused', MODULE: dict(pg_cluster.login_args(), login_password='wrong',
                                         fail_on='never')},
    ]
    run = ansible.tasks(tasks, play_vars={'ansible_python_interpreter': str(python)})
    health_result = run.task('health')
    assert health_result['is_available'] is True, health_result
    assert health_result['server']['user'] == pg_cluster.monitor_user
    assert check(health_result, 'version')['value'] == health_result['server']['version_num'] // 10000
    assert not [c for c in health_result['checks'] if c['status'] == 'UNKNOWN'
                and c['name'] != 'sequence_usage'], health_result['summary']
    statements = run.task('statements')
    assert statements['is_available'] is True and statements['statements']
    refused = run.task('refused')
    assert refused['is_available'] is False and 'password authentication failed' in refused['summary']
