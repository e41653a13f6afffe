# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""slow_queries through Ansible against real PostgreSQL, with statements the tests make slow."""

from __future__ import annotations

import pytest

from .pg_helpers import (FROZEN_TIMEOUTS, SERVER_WAIT, Background, assert_stopped_answering, check,
                         create_database, run_frozen, wait_until)

pytestmark = pytest.mark.postgres

MODULE = 'fleetops.runbook.slow_queries'


@pytest.fixture(scope='module')
def stmt_cluster(pg_cluster_factory):
    """A cluster of its own: pg_stat_statements is cluster-wide and these tests reset it."""
    return pg_cluster_factory()


def slow_queries(ansible, cluster, monitor=True, check_mode=False, **args):
    params = cluster.login_args(monitor=monitor)
    params.update(args)
    return ansible.module(MODULE, params, check=check_mode)


def runs(ansible, cluster, cases):
    """Several slow_queries tasks, in order, in one playbook: {name: result}.

    ``cases`` maps a task name to (monitor, args) or (monitor, args, check_mode)."""
    tasks = []
    for name, case in cases.items():
        monitor, args = case[:2]
        params = cluster.login_args(monitor=monitor)
        params.update(args)
        task = {'name': name, MODULE: params, 'ignore_errors': True}
        if len(case) > 2:
            task['check_mode'] = case[2]
        tasks.append(task)
    run = ansible.tasks(tasks)
    return dict((name, run.task(name)) for name in cases)


def make_workload(cluster):
    cluster.execute('SELECT pg_stat_statements_reset()')
    conn = cluster.connect()
    with conn.cursor() as cur:
        for dummy in range(2):
            cur.execute('SELECT pg_sleep(0.35)')
        cur.execute("SELECT 'medium', pg_sleep(0.12)")
        for i in range(40):
            cur.execute('SELECT %s + 1', (i,))
    conn.close()


def test_ranking_by_mean_total_and_calls(ansible, stmt_cluster):
    make_workload(stmt_cluster)
    results = runs(ansible, stmt_cluster, {
        'mean': (True, dict(min_mean_ms=300, limit=3)),
        'calls': (True, dict(order_by='calls', limit=1, min_mean_ms=300)),
        'short': (True, dict(only_slow=True, min_mean_ms=100, query_length=12)),
    })
    result = results['mean']
    assert not result.get('failed'), result
    top = result['statements']
    assert [s['query'] for s in top[:2]] == ['SELECT pg_sleep($1)', 'SELECT $1, pg_sleep($2)']
    # pg_sleep(0.35) takes at least 350 ms; how much longer depends on the machine's load.
    assert top[0]['calls'] == 2 and 350 <= top[0]['mean_ms'] <= top[0]['max_ms']
    assert top[0]['total_ms'] == pytest.approx(2 * top[0]['mean_ms'], rel=0.01)
    assert top[0]['slow'] is True and top[1]['slow'] is False
    # The monitoring role sees the superuser's statements (pg_read_all_stats).
    assert top[0]['user'] == stmt_cluster.superuser and top[0]['database'] == 'postgres'
    slow = check(result, 'slow_statements')
    assert slow['value'] == 1 and slow['status'] == 'OK'
    assert 'pg_sleep' in slow['message']
    assert result['statements'][2]['mean_ms'] < top[1]['mean_ms']

    assert results['calls']['statements'][0]['query'] == 'SELECT $1 + $2'
    assert results['calls']['statements'][0]['calls'] == 40

    short = results['short']
    assert [s['query'] for s in short['statements']] == ['SELECT pg_sl', 'SELECT $1, p']
    assert check(short, 'slow_statements')['value'] == 2


def test_threshold_on_slow_statement_count(ansible, stmt_cluster):
    make_workload(stmt_cluster)
    result = slow_queries(ansible, stmt_cluster, min_mean_ms=100,
                          thresholds={'slow_statements': {'warning': 0, 'critical': 1}})
    slow = check(result, 'slow_statements')
    assert slow['value'] == 2 and slow['status'] == 'CRITICAL'
    assert result['failed'] is True and result['msg'] == result['summary']


def test_statements_running_now(ansible, stmt_cluster):
    sleeper = Background(stmt_cluster, 'SELECT pg_sleep(8)')
    try:
        wait_until(lambda: stmt_cluster.execute(
            "SELECT now() - query_start > interval '1.2 s' FROM pg_stat_activity WHERE pid = %s",
            (sleeper.pid,))[0][0], timeout=SERVER_WAIT, what='the sleeper to run a while')
        result = slow_queries(ansible, stmt_cluster, running_seconds=1, fail_on='never')
    finally:
        stmt_cluster.execute('SELECT pg_cancel_backend(%s)', (sleeper.pid,))
        sleeper.join()
    running = result['running']
    assert [r['pid'] for r in running] == [sleeper.pid]
    assert running[0]['state'] == 'active' and running[0]['wait_event'] == 'PgSleep'
    assert running[0]['user'] == stmt_cluster.superuser and running[0]['seconds'] >= 1.2
    assert running[0]['query'] == 'SELECT pg_sleep(8)'
    counted = check(result, 'running_statements')
    assert counted['value'] == 1 and counted['status'] == 'WARNING'
    assert 'pid %d' % sleeper.pid in counted['message']


def test_reset_respects_check_mode(ansible, stmt_cluster):
    make_workload(stmt_cluster)
    results = runs(ansible, stmt_cluster, {
        'check mode': (False, dict(reset=True), True),
        'after check mode': (False, dict(min_mean_ms=300)),
        'reset': (False, dict(reset=True, min_mean_ms=300)),
        'after reset': (False, dict(min_mean_ms=300)),
    })
    checked = results['check mode']
    assert checked['changed'] is True and checked['reset'] is False
    assert any('pg_sleep' in s['query'] for s in checked['statements'])
    # Nothing was reset: the slow statement is still counted.
    assert check(results['after check mode'], 'slow_statements')['value'] == 1
    assert results['after check mode']['changed'] is False

    done = results['reset']
    assert done['changed'] is True and done['reset'] is True
    # What it read came before the reset.
    assert check(done, 'slow_statements')['value'] == 1
    assert any('pg_sleep' in s['query'] for s in done['statements'])
    after = results['after reset']
    assert check(after, 'slow_statements')['value'] == 0
    assert not any('pg_sleep' in s['query'] for s in after['statements'])
    calls = stmt_cluster.execute("SELECT count(*) FROM pg_stat_statements WHERE query LIKE '%pg_sleep%'")
    assert calls[0][0] == 0


def test_password_literals_are_masked(ansible, stmt_cluster):
    stmt_cluster.execute("CREATE ROLE leaky_app LOGIN PASSWORD 'Sw0rdfish-in-the-log'")
    try:
        result = slow_queries(ansible, stmt_cluster, limit=1000, fail_on='never')
    finally:
        stmt_cluster.execute('DROP ROLE leaky_app')
    texts = [s['query'] for s in result['statements']]
    assert "CREATE ROLE leaky_app LOGIN PASSWORD '********'" in texts
    assert 'Sw0rdfish' not in str(result)


def test_reset_without_privilege_fails_naming_reset(ansible, stmt_cluster):
    result = slow_queries(ansible, stmt_cluster, monitor=True, reset=True)
    assert result['failed'] is True
    assert result['msg'].startswith('reset: ') and 'permission denied' in result['msg']
    assert 'Traceback' not in result['msg']


def test_missing_extension_gives_the_hint(ansible, stmt_cluster):
    db = create_database(stmt_cluster, 'no_statements')
    results = runs(ansible, stmt_cluster, {
        'never': (True, dict(login_db=db, fail_on='never')),
        'default': (True, dict(login_db=db)),
    })
    result = results['never']
    assert not result.get('failed')
    missing = check(result, 'pg_stat_statements')
    assert missing['status'] == 'UNKNOWN'
    assert 'CREATE EXTENSION pg_stat_statements' in missing['message'] and db in missing['message']
    assert result['statements'] == []
    assert check(result, 'running_statements')['status'] == 'OK'
    # With the default fail_on, UNKNOWN fails the task, with the hint as the message.
    result = results['default']
    assert result['failed'] is True and 'CREATE EXTENSION' in result['msg']


def test_not_preloaded_gives_the_hint(ansible, pg_cluster_factory):
    cluster = pg_cluster_factory(settings={'shared_preload_libraries': ''})
    result = slow_queries(ansible, cluster, fail_on='never')
    missing = check(result, 'pg_stat_statements')
    assert missing['status'] == 'UNKNOWN'
    assert 'shared_preload_libraries' in missing['message'] and 'restart' in missing['message']


def test_server_frozen_after_connecting(ansible, pg_cluster_factory):
    """Connected, then the whole cluster stops (SIGSTOP): the client-side deadline ends the run."""
    cluster = pg_cluster_factory()
    probe = dict(cluster.login_args(), fail_on='never', **FROZEN_TIMEOUTS)
    # Reading pg_stat_statements waits for this lock: the module is connected and mid-run.
    result = run_frozen(ansible, cluster, {MODULE: probe}, 'fleetops.runbook.slow_queries',
                        'LOCK TABLE pg_stat_statements IN ACCESS EXCLUSIVE MODE')
    assert_stopped_answering(result, 'connection')
    assert not [c for c in result['checks'] if c['name'] == 'running_statements']
    assert cluster.execute('SELECT 1') == [(1,)]


def test_server_unavailable(ansible, stmt_cluster):
    result = slow_queries(ansible, stmt_cluster, login_port=1, fail_on='never')
    assert result['is_available'] is False and result['status'] == 'CRITICAL'
    assert 'cannot connect' in result['summary']


BAD_INPUT = [
    ({'order_by': 'slowest'}, 'order_by'),
    ({'limit': 0}, 'limit'),
    ({'query_length': -1}, 'query_length'),
    ({'thresholds': {'slow_statements': {'critical': 'lots'}}}, 'thresholds.slow_statements.critical'),
    ({'login_db': 'missing_db'}, 'login_db'),
    ({'running_seconds': float('nan')}, 'running_seconds: must be a finite number'),
    ({'min_mean_ms': float('inf')}, 'min_mean_ms: must be a finite number'),
    ({'statement_timeout': 10 ** 12}, 'statement_timeout: must be at most 2147483647'),
    ({'connect_timeout': 1e30}, 'connect_timeout: must be at most 2147483647'),
    ({'login_password': 'pass\x00word'}, 'login_password: must not contain a NUL byte'),
    ({'login_user': 'mon\x00itor'}, 'login_user: must not contain a NUL byte'),
]


def test_bad_input(ansible, stmt_cluster):
    results = runs(ansible, stmt_cluster, dict(
        ('case %d' % i, (True, case[0])) for i, case in enumerate(BAD_INPUT)))
    for i, (args, needle) in enumerate(BAD_INPUT):
        result = results['case %d' % i]
        assert result['failed'] is True and needle in result['msg'], (args, result)
        assert 'Traceback' not in result['msg']
