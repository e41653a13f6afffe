# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""pg_connection: a role's connection dictionary as libpq environment or community.postgresql options."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pathlib

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.runbook.plugins.filter.pg_connection import pg_connection
from ansible_collections.fleetops.runbook.plugins.module_utils.postgres import postgres_argument_spec

FULL = dict(login_host='db1', login_port='5433', login_user='mon', login_password='s3cret',
            login_db='shop', ssl_mode='verify-full', ca_cert='/ca.pem', ssl_cert='/c.pem',
            ssl_key='/c.key', connect_timeout=7, statement_timeout=500,
            connect_params={'target_session_attrs': 'read-write'})


def test_environment_of_the_whole_connection():
    assert pg_connection(FULL) == {
        'PGHOST': 'db1', 'PGPORT': '5433', 'PGUSER': 'mon', 'PGPASSWORD': 's3cret', 'PGDATABASE': 'shop',
        'PGSSLMODE': 'verify-full', 'PGSSLROOTCERT': '/ca.pem', 'PGSSLCERT': '/c.pem', 'PGSSLKEY': '/c.key',
        'PGCONNECT_TIMEOUT': '7', 'PGTARGETSESSIONATTRS': 'read-write'}


def test_environment_without_password_and_of_an_empty_connection():
    assert 'PGPASSWORD' not in pg_connection(FULL, password=False)
    assert pg_connection({}) == {}


def test_unix_socket_wins_in_both_forms():
    connection = dict(login_host='db1', login_unix_socket='/run/postgresql')
    assert pg_connection(connection) == {'PGHOST': '/run/postgresql'}
    assert pg_connection(connection, form='community.postgresql') == {'login_host': '/run/postgresql'}


def test_community_postgresql_options():
    assert pg_connection(FULL, form='community.postgresql') == {
        'login_host': 'db1', 'login_port': 5433, 'login_user': 'mon', 'login_password': 's3cret',
        'login_db': 'shop', 'ssl_mode': 'verify-full', 'ca_cert': '/ca.pem', 'ssl_cert': '/c.pem', 'ssl_key': '/c.key',
        'connect_params': {'target_session_attrs': 'read-write', 'connect_timeout': 7}}


def test_community_form_names_the_database_as_the_module_does():
    options = pg_connection({'login_db': 'shop'}, form='community.postgresql', db_option='maintenance_db')
    assert options == {'maintenance_db': 'shop'}


def test_community_form_takes_keywords_without_environment_variable():
    options = pg_connection({'connect_params': {'keepalives_idle': 30}}, form='community.postgresql')
    assert options == {'connect_params': {'keepalives_idle': 30}}
    with pytest.raises(AnsibleFilterError, match='keepalives_idle has no libpq environment variable'):
        pg_connection({'connect_params': {'keepalives_idle': 30}})


@pytest.mark.parametrize('connection, message', [
    ({'login_hots': 'db1'}, 'pg_connection: login_hots: not a connection option'),
    ({'login_port': 'fivefourthreetwo'}, "pg_connection: login_port: 'fivefourthreetwo' is not a whole number"),
    ({'login_port': 70000}, 'pg_connection: login_port: 70000 is not a TCP port'),
    ({'ssl_mode': 'on'}, "pg_connection: ssl_mode: 'on' is not one of"),
    ({'connect_params': 'sslcrl=x'}, 'pg_connection: connect_params must be a dictionary'),
    ({'connect_params': {'password': 'x'}}, 'pg_connection: connect_params: password is set by login_password'),
    ({'login_user': ['a']}, 'pg_connection: login_user must be text, got list'),
    ('db1', 'pg_connection: the connection must be a dictionary of connection options, got str'),
])
def test_bad_connection_is_refused_naming_the_key(connection, message):
    with pytest.raises(AnsibleFilterError) as raised:
        pg_connection(connection)
    assert str(raised.value).startswith(message)


def test_unknown_form_is_refused():
    with pytest.raises(AnsibleFilterError, match="form: 'libpq' is not one of"):
        pg_connection({}, form='libpq')


ROLES = ('daily_checks', 'maintenance', 'disaster_recovery', 'incident_response', 'staged_recovery', 'postgres_backup')


@pytest.mark.parametrize('role', ROLES)
def test_role_connection_takes_exactly_the_shared_options(role):
    """<role>_postgres_connection documents every option of the shared spec, typed alike."""
    root = pathlib.Path(__file__).resolve().parents[4]
    specs = yaml.safe_load((root / 'roles' / role / 'meta' / 'argument_specs.yml').read_text())['argument_specs']
    found = [entry['options'][role + '_postgres_connection'] for entry in specs.values()
             if role + '_postgres_connection' in (entry.get('options') or {})]
    assert found, '%s has no %s_postgres_connection' % (role, role)
    shared = postgres_argument_spec()
    for option in found:
        assert option['type'] == 'dict'
        assert list(option['options']) == list(shared)
        for name, spec in shared.items():
            role_spec = option['options'][name]
            assert role_spec['type'] == spec['type'], name
            assert role_spec.get('choices') == spec.get('choices'), name
            assert bool(role_spec.get('no_log')) == bool(spec.get('no_log')), name
            assert 'default' not in role_spec, name
        # The role's default is itself a valid connection.
        pg_connection(option['default'])
