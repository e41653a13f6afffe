# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""db_restore's refusals, run for real against a throwaway PostgreSQL.

A restore must never land on a server nobody named, and never in the database it connects through
to create and rename databases. Both are refused before anything touches the server.
"""

from __future__ import annotations

import json
import os
import threading

import pytest

from .emergency_helpers import backup_now, counts, databases, make_shop
from .pg_helpers import frozen, wait_until
from .restore_helpers import (
    add_rows, inject, make_live, pg_dump, rows, scratch_databases)

pytestmark = pytest.mark.emergency

DB = 'dbr_shop'


@pytest.fixture(scope='module')
def bed(pg_cluster_factory, tmp_path_factory):
    cluster = pg_cluster_factory()
    work = tmp_path_factory.mktemp('dbr')
    make_shop(cluster, DB, orders=321, leads=12)
    dump = backup_now(cluster, work / 'backups', [DB], work)[0]
    return {'cluster': cluster, 'dump': dump}


def connection(cluster, **extra):
    args = {'login_port': cluster.port, 'login_user': cluster.superuser,
            'login_password': cluster.superuser_password}
    args.update(extra)
    return args


def state(cluster):
    """Databases, and the rows of the live one, to prove nothing changed."""
    return databases(cluster), counts(cluster, DB)


def test_a_server_must_be_named(ansible, bed):
    cluster = bed['cluster']
    before = state(cluster)
    # PGHOST empty: no server in the environment either
    result = ansible.module('fleetops.runbook.db_restore', dict(connection(cluster), **{
        'path': str(bed['dump']), 'database': 'dbr_restored'}), env={'PGHOST': ''})
    assert result['failed'] is True
    assert result['msg'].startswith('login_host: a restore needs a server named explicitly')
    assert 'login_unix_socket' in result['msg']
    assert 'MODULE FAILURE' not in result['msg'] and 'Traceback' not in str(result)
    assert state(cluster) == before
    assert 'dbr_restored' not in databases(cluster)


@pytest.mark.parametrize('login_db, replace', [(DB, False), (DB, True)])
def test_the_login_database_cannot_be_the_target(ansible, bed, login_db, replace):
    cluster = bed['cluster']
    before = state(cluster)
    result = ansible.module('fleetops.runbook.db_restore', dict(connection(
        cluster, login_host=cluster.host, login_db=login_db), **{
            'path': str(bed['dump']), 'database': DB, 'replace_existing': replace}))
    assert result['failed'] is True
    assert result['msg'].startswith('login_db: the module connects to %s' % DB)
    assert 'database=%s' % DB in result['msg']
    assert state(cluster) == before
    assert not [d for d in databases(cluster) if d.startswith(DB + '_')]


def test_the_default_login_database_cannot_be_the_target(ansible, bed):
    """Without login_db the module connects to postgres, so postgres itself is refused."""
    cluster = bed['cluster']
    before = state(cluster)
    result = ansible.module('fleetops.runbook.db_restore', dict(connection(
        cluster, login_host=cluster.host), **{
            'path': str(bed['dump']), 'database': 'postgres', 'replace_existing': True}))
    assert result['failed'] is True
    assert result['msg'].startswith('login_db: the module connects to postgres')
    assert state(cluster) == before


def test_the_same_refusal_in_check_mode(ansible, bed):
    cluster = bed['cluster']
    before = state(cluster)
    result = ansible.module('fleetops.runbook.db_restore', dict(connection(
        cluster, login_host=cluster.host, login_db=DB), **{
            'path': str(bed['dump']), 'database': DB}), check=True)
    assert result['failed'] is True
    assert result['msg'].startswith('login_db:')
    assert state(cluster) == before


def test_a_named_server_restores(ansible, bed):
    """The control case: with the server named and another login database, the restore happens."""
    cluster = bed['cluster']
    result = ansible.module('fleetops.runbook.db_restore', dict(connection(
        cluster, login_host=cluster.host), **{
            'path': str(bed['dump']), 'database': 'dbr_copy'}))
    assert result.get('failed') is not True, result.get('msg')
    assert 'dbr_copy' in databases(cluster)
    assert counts(cluster, 'dbr_copy') == {'public.orders': 321, 'crm.leads': 12}
    assert counts(cluster, DB) == {'public.orders': 321, 'crm.leads': 12}


# --------------------------------------------------------------------------------------------
# Nothing but the staging database is ever touched


@pytest.fixture(scope='module')
def live(bed, tmp_path_factory):
    """A live database, a pg_dump -C -c plain dump of it, and rows added after the dump."""
    cluster = bed['cluster']
    work = tmp_path_factory.mktemp('dbr_live')
    make_live(cluster, 'dbr_live', rows=100)
    dumps = {
        'create_clean': pg_dump(cluster, 'dbr_live', work / 'dbr_live_cc.sql', '-C', '-c'),
        'create_clean_gz': pg_dump(cluster, 'dbr_live', work / 'dbr_live_cc.sql.gz', '-C', '-c'),
        'clean': pg_dump(cluster, 'dbr_live', work / 'dbr_live.sql'),
    }
    add_rows(cluster, 'dbr_live', 101, 150)
    return dumps


@pytest.mark.parametrize('check_mode', [False, True])
@pytest.mark.parametrize('kind', ['create_clean', 'create_clean_gz'])
def test_a_dump_that_replaces_its_database_is_refused(ansible, bed, live, kind, check_mode):
    cluster = bed['cluster']
    before = databases(cluster)
    result = ansible.module('fleetops.runbook.db_restore', dict(connection(
        cluster, login_host=cluster.host), **{
            'path': str(live[kind]), 'database': 'dbr_new'}), check=check_mode)
    assert result['failed'] is True
    assert result['status'] == 'CRITICAL'
    assert 'the command DROP DATABASE' in result['msg'], result['msg']
    assert 'dbr_live' in result['msg'] and 'line ' in result['msg']
    assert 'pg_dump without -C/--create' in result['msg']
    assert result['database'] is None and result['changed'] is False
    assert databases(cluster) == before
    assert rows(cluster, 'dbr_live') == (150, 150)


def test_a_meta_command_in_a_dump_is_refused(ansible, bed, live, tmp_path):
    cluster = bed['cluster']
    marker = tmp_path / 'marker'
    dump = inject(live['clean'], tmp_path / 'dbr_live_edited.sql', '\\! touch %s' % marker,
                  where='after_copy')
    before = databases(cluster)
    result = ansible.module('fleetops.runbook.db_restore', dict(connection(
        cluster, login_host=cluster.host), **{'path': str(dump), 'database': 'dbr_new'}))
    assert result['failed'] is True
    assert 'a psql meta-command' in result['msg'] and str(marker) in result['msg']
    assert not marker.exists()
    assert databases(cluster) == before


def test_a_clean_plain_dump_restores(ansible, bed, live):
    """The control case: rows starting with a backslash are COPY data, not meta-commands."""
    cluster = bed['cluster']
    result = ansible.module('fleetops.runbook.db_restore', dict(connection(
        cluster, login_host=cluster.host), **{'path': str(live['clean']), 'database': 'dbr_plain'}))
    assert result.get('failed') is not True, result.get('msg')
    assert rows(cluster, 'dbr_plain') == (100, 100)
    assert cluster.execute("SELECT count(*) FROM items WHERE note LIKE '\\\\!%'",
                           dbname='dbr_plain')[0][0] == 10
    assert rows(cluster, 'dbr_live') == (150, 150)


@pytest.mark.parametrize('target', ['template0', 'template1', 'postgres'])
@pytest.mark.parametrize('replace', [False, True])
def test_templates_and_the_maintenance_database_are_never_a_target(ansible, bed, target, replace):
    cluster = bed['cluster']
    before = databases(cluster)
    result = ansible.module('fleetops.runbook.db_restore', dict(connection(
        cluster, login_host=cluster.host, login_db=DB), **{
            'path': str(bed['dump']), 'database': target, 'replace_existing': replace}))
    assert result['failed'] is True
    assert result['msg'].startswith('database: %s is a template or maintenance database' % target)
    assert databases(cluster) == before
    assert cluster.execute("SELECT count(*) FROM pg_database WHERE datname LIKE 'template%'")[0][0] == 2


@pytest.mark.parametrize('kind', ['fifo', 'device', 'directory'])
def test_a_path_that_is_not_a_backup_file_is_refused_at_once(ansible, bed, tmp_path, kind):
    cluster = bed['cluster']
    if kind == 'fifo':
        path = tmp_path / 'backup.dump'
        os.mkfifo(path)
        words = 'is a FIFO, not a backup'
    elif kind == 'device':
        path = '/dev/zero'
        words = 'is a character device, not a backup'
    else:
        path = tmp_path / 'empty.dir'
        path.mkdir()
        words = 'is not a pg_dump backup'
    before = databases(cluster)
    # the harness timeout is only a hang guard: a blocking open would never return
    result = ansible.module('fleetops.runbook.db_restore', dict(connection(
        cluster, login_host=cluster.host), **{'path': str(path), 'database': 'dbr_never'}),
        timeout=600)
    assert result['failed'] is True
    assert result['msg'].startswith('path: %s' % path)
    assert words in result['msg'], result['msg']
    assert databases(cluster) == before


@pytest.mark.parametrize('change, option, words', [
    ({'login_user': 'dbr_nobody'}, 'login_', 'dbr_nobody'),
    ({'login_db': 'dbr_no_such_db'}, 'login_db', 'database "dbr_no_such_db" does not exist'),
    ({'login_password': 'wrong-secret-123'}, 'login_password', 'password authentication failed'),
])
def test_a_connection_failure_names_its_cause(ansible, bed, change, option, words):
    cluster = bed['cluster']
    result = ansible.module('fleetops.runbook.db_restore', dict(connection(
        cluster, login_host=cluster.host, **change), **{
            'path': str(bed['dump']), 'database': 'dbr_never'}))
    assert result['failed'] is True
    assert result['msg'].startswith(option), result['msg']
    assert words in result['msg'], result['msg']
    assert not result['msg'].startswith('login_host')
    for secret in (cluster.superuser_password, 'wrong-secret-123'):
        assert secret not in json.dumps(result)
    assert 'dbr_never' not in databases(cluster)


def test_a_restore_past_its_timeout_drops_the_staging_database(ansible, bed, live, tmp_path):
    cluster = bed['cluster']
    dump = inject(live['clean'], tmp_path / 'dbr_live_slow.sql', 'SELECT pg_sleep(600);')
    before = databases(cluster)
    args = {'path': str(dump), 'database': 'dbr_slow', 'timeout': 2}
    result = ansible.module('fleetops.runbook.db_restore', dict(connection(
        cluster, login_host=cluster.host), **args))
    assert result['failed'] is True
    assert 'psql did not finish within 2 seconds' in result['msg'], result['msg']
    assert 'dbr_slow was not touched' in result['msg']
    assert result['staging_left'] is None
    assert databases(cluster) == before and scratch_databases(cluster) == []
    assert rows(cluster, 'dbr_live') == (150, 150)


def test_a_server_that_freezes_during_the_restore(ansible, bed, live, tmp_path):
    """The server stops (SIGSTOP of the postmaster and every backend) while the restore runs: the
    module returns, and names the staging database it could not drop."""
    cluster = bed['cluster']
    dump = inject(live['clean'], tmp_path / 'dbr_live_frozen.sql', 'SELECT pg_sleep(600);')
    outcome = {}

    def run():
        args = {'path': str(dump), 'database': 'dbr_frozen', 'timeout': 30, 'connect_timeout': 2}
        outcome['result'] = ansible.module('fleetops.runbook.db_restore', dict(connection(
            cluster, login_host=cluster.host), **args), timeout=900)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    try:
        wait_until(lambda: cluster.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname LIKE 'dbr_frozen_restoring_%' "
            "AND query LIKE '%pg_sleep%'"), timeout=300, what='the restore in pg_sleep')
        with frozen(cluster):
            worker.join(600)  # a hang guard only, far beyond the module's own deadlines
            assert not worker.is_alive(), 'db_restore did not return on a frozen server'
    finally:
        worker.join(600)
    result = outcome['result']
    assert result['failed'] is True
    assert 'psql did not finish within 30 seconds' in result['msg'], result['msg']
    staging = result['staging_left']
    assert staging.startswith('dbr_frozen_restoring_')
    cleanup = [c for c in result['checks'] if c['name'] == 'restore_cleanup']
    assert len(cleanup) == 1 and cleanup[0]['status'] == 'CRITICAL'
    assert staging in cleanup[0]['message'] and 'DROP DATABASE' in cleanup[0]['message']
    # thawed: the named staging database is the only one left; the target was never created
    assert scratch_databases(cluster) == [staging]
    assert 'dbr_frozen' not in databases(cluster)
    cluster.execute('DROP DATABASE %s WITH (FORCE)' % staging)
    assert rows(cluster, 'dbr_live') == (150, 150)
