# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""db_restore's refusals, run for real against a throwaway PostgreSQL.

A restore must never land on a server nobody named, and never in the database it connects through
to create and rename databases. Both are refused before anything touches the server.
"""

from __future__ import annotations

import pytest

from .emergency_helpers import backup_now, counts, databases, make_shop

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
