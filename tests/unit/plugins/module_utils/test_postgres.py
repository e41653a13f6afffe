# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import decimal

import pytest

from ansible_collections.fleetops.runbook.plugins.module_utils import postgres
from ansible_collections.fleetops.runbook.plugins.module_utils.status import Range, Thresholds


class FakeModule:
    def __init__(self, **params):
        base = dict(login_host=None, login_port=None, login_user=None, login_password=None,
                    login_db=None, login_unix_socket=None, ssl_mode='prefer', ca_cert=None,
                    connect_timeout=10, statement_timeout=10000)
        base.update(params)
        self.params = base


def test_argument_spec_secrets_and_env_defaults():
    spec = postgres.postgres_argument_spec()
    assert spec['login_password']['no_log'] is True
    assert spec['login_host']['fallback'][1] == ['PGHOST']
    assert spec['login_port']['fallback'][1] == ['PGPORT']
    assert spec['login_user']['fallback'][1] == ['PGUSER']
    assert spec['ssl_mode']['choices'] == [
        'disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']
    # No default may hide the environment: Ansible applies fallbacks only to unset options.
    for name in ('login_host', 'login_port', 'login_user', 'login_password', 'login_db'):
        assert 'default' not in spec[name]


def test_conninfo_sets_timeouts_read_only_and_drops_unset():
    session = postgres.PgSession(FakeModule(login_host='db1', login_port=5433, login_user='mon',
                                            login_password='s3cret', statement_timeout=2500))
    info = session.conninfo()
    assert info['host'] == 'db1' and info['port'] == 5433 and info['dbname'] == 'postgres'
    assert info['options'] == '-c statement_timeout=2500 -c default_transaction_read_only=on'
    assert info['connect_timeout'] == 10 and info['sslmode'] == 'prefer'
    assert 'sslrootcert' not in info
    assert session.target() == 'db1:5433/postgres'


def test_unix_socket_wins_over_host():
    session = postgres.PgSession(FakeModule(login_host='db1', login_unix_socket='/run/postgresql'))
    assert session.conninfo()['host'] == '/run/postgresql'


def test_scrub_masks_the_password():
    session = postgres.PgSession(FakeModule(login_password='hunter2'))
    assert session.scrub('password=hunter2 failed') == 'password=******** failed'
    assert postgres.PgSession(FakeModule()).scrub('nothing') == 'nothing'


@pytest.mark.parametrize('params, needle', [
    (dict(login_port=0), 'login_port: 0'),
    (dict(login_port=65536), 'login_port: 65536'),
    (dict(connect_timeout=0), 'connect_timeout'),
    (dict(statement_timeout=-5), 'statement_timeout'),
    (dict(login_db=''), 'login_db'),
])
def test_validate_connection_params(params, needle):
    errors = postgres.validate_connection_params(FakeModule(**params).params)
    assert len(errors) == 1 and errors[0].startswith(needle)


def test_validate_connection_params_accepts_good_values():
    assert postgres.validate_connection_params(FakeModule(login_port=5432).params) == []


@pytest.mark.parametrize('message, kind', [
    ('FATAL:  password authentication failed for user "x"', 'authentication'),
    ('FATAL:  no pg_hba.conf entry for host "10.0.0.1"', 'authentication'),
    ('FATAL:  database "nope" does not exist', 'no_database'),
    ('connection to server at "127.0.0.1", port 5 failed: timeout expired', 'timeout'),
    ('connection to server at "127.0.0.1", port 5 failed: Connection refused', 'refused'),
    ('could not translate host name "nohost" to address', 'unresolvable'),
    ('SSL error: certificate verify failed', 'ssl'),
    ('something else', 'other'),
])
def test_classify_connect_error(message, kind):
    assert postgres._classify_connect_error(message) == kind


def test_plain_values():
    assert postgres._plain(decimal.Decimal('3')) == 3
    assert isinstance(postgres._plain(decimal.Decimal('3')), int)
    assert postgres._plain(decimal.Decimal('2.5')) == 2.5
    assert postgres._plain('x') == 'x'


def test_query_failure_reasons():
    assert 'statement_timeout' in postgres.QueryFailure(postgres.QUERY_CANCELED, 'c').reason
    assert postgres.QueryFailure(postgres.INSUFFICIENT_PRIVILEGE, 'p').reason.startswith(
        'insufficient privilege')
    assert postgres.QueryFailure('XX000', 'other').reason == 'other'


def test_with_range():
    thresholds = Thresholds(Range.parse('5'), Range.parse('10'))
    assert postgres.with_range('m', 'CRITICAL', thresholds) == 'm (critical 10)'
    assert postgres.with_range('m', 'WARNING', thresholds) == 'm (warning 5)'
    assert postgres.with_range('m', 'OK', thresholds) == 'm'
    assert postgres.with_range('m', 'WARNING', Thresholds()) == 'm'


def test_connection_failure_message_hints():
    session = postgres.PgSession(FakeModule(login_host='db1', connect_timeout=3))
    text = postgres.connection_failure_message(
        session, postgres.ConnectFailure('timeout', 'timeout expired'))
    assert text == 'cannot connect to db1:5432/postgres: timeout expired (no answer within ' \
                   'connect_timeout (3s))'
