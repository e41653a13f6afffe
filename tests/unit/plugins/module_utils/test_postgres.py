# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import decimal
import socket
import threading
import time

import pytest

from ansible_collections.fleetops.runbook.plugins.module_utils import postgres

pytestmark = pytest.mark.postgres


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
    ('invalid dsn: invalid connection option "keepalive"', 'options'),
    ('connection to server at "127.0.0.1", port 1 failed: invalid integer value "x" for connection option "keepalives"',
     'options'),
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


def test_connection_failure_message_hints():
    session = postgres.PgSession(FakeModule(login_host='db1', connect_timeout=3))
    text = postgres.connection_failure_message(
        session, postgres.ConnectFailure('timeout', 'timeout expired'))
    assert text == 'cannot connect to db1:5432/postgres: timeout expired (no answer within ' \
                   'connect_timeout (3s))'


@pytest.mark.parametrize('text, masked', [
    ("CREATE ROLE app LOGIN PASSWORD 'hunter2'", "CREATE ROLE app LOGIN PASSWORD '********'"),
    ("ALTER USER app WITH password 'it''s secret' VALID UNTIL 'infinity'",
     "ALTER USER app WITH password '********' VALID UNTIL 'infinity'"),
    ("ALTER ROLE app PASSWORD 'cut off by trunc", "ALTER ROLE app PASSWORD '********'"),
    ("ALTER ROLE app PASSWORD $$dollar$$", "ALTER ROLE app PASSWORD '********'"),
    ("SELECT password_hash FROM users WHERE id = $1", "SELECT password_hash FROM users WHERE id = $1"),
    (None, None),
])
def test_mask_secrets(text, masked):
    assert postgres.mask_secrets(text) == masked


@pytest.mark.parametrize('name', ['login_host', 'login_user', 'login_password', 'login_db',
                                  'login_unix_socket', 'ca_cert', 'ssl_cert', 'ssl_key'])
def test_nul_byte_names_the_parameter_not_the_value(name):
    errors = postgres.validate_connection_params(FakeModule(**{name: 'sec\x00ret'}).params)
    assert errors == ['%s: must not contain a NUL byte' % name]
    assert 'sec' not in errors[0]


@pytest.mark.parametrize('params, message', [
    (dict(connect_timeout=10 ** 30), 'connect_timeout: must be at most 2147483647 second, got 1' + '0' * 30),
    (dict(statement_timeout=2 ** 31), 'statement_timeout: must be at most 2147483647 millisecond, got 2147483648'),
    (dict(connect_timeout=float('inf')), 'connect_timeout: must be a finite number, got inf'),
    (dict(statement_timeout=float('nan')), 'statement_timeout: must be a finite number, got nan'),
])
def test_non_finite_and_huge_timeouts(params, message):
    assert postgres.validate_connection_params(FakeModule(**params).params) == [message]


def test_number_errors_skips_unset_and_accepts_bounds():
    bounds = {'a': (0, 10, ''), 'b': (1, 2, 's')}
    assert postgres.number_errors({'a': None, 'b': 2}, bounds) == []
    assert postgres.number_errors({'a': 0, 'b': 0.5}, bounds) == ['b: must be at least 1 s, got 0.5']


def test_watchdog_breaks_a_blocked_read_at_its_deadline():
    ours, server = socket.socketpair()
    watchdog = postgres._Watchdog(ours.fileno())
    try:
        watchdog.arm(0.2)
        # Nothing ever comes from the "server": only the shutdown ends the read.
        assert ours.recv(10) == b''
        assert watchdog.fired is True
    finally:
        watchdog.close()
        ours.close()
        server.close()


def test_watchdog_disarmed_in_time_leaves_the_connection_alone():
    ours, server = socket.socketpair()
    watchdog = postgres._Watchdog(ours.fileno())
    try:
        watchdog.arm(0.2)
        server.sendall(b'answer')
        assert ours.recv(10) == b'answer'
        watchdog.disarm()
        time.sleep(0.4)
        assert watchdog.fired is False
        server.sendall(b'more')
        assert ours.recv(10) == b'more'
    finally:
        watchdog.close()
        ours.close()
        server.close()


class _FakeError(Exception):
    pass


class _FrozenConnection:
    """A connection whose statements wait for a server that never answers."""

    closed = 0
    broken = False
    autocommit = False
    server_version = 150000

    def __init__(self):
        self.ours, self.server = socket.socketpair()

    def fileno(self):
        return self.ours.fileno()

    def cursor(self):
        conn = self

        class Cursor:
            description = None

            def execute(self, sql, args=None):
                if not conn.ours.recv(10):
                    raise _FakeError('server closed the connection unexpectedly')

            def close(self):
                pass

        return Cursor()

    def close(self):
        self.ours.close()
        self.server.close()


class _FakeDriver:
    Error = _FakeError

    def __init__(self, connect):
        self.connect = connect


def test_statement_deadline_turns_a_frozen_server_into_connection_lost(monkeypatch):
    conn = _FrozenConnection()
    monkeypatch.setattr(postgres, '_driver', _FakeDriver(lambda **kwargs: conn))
    monkeypatch.setattr(postgres, 'DRIVER', 'psycopg2')
    monkeypatch.setattr(postgres, 'DEADLINE_MARGIN', 0.2)
    session = postgres.PgSession(FakeModule(statement_timeout=1))
    session.connect()
    with pytest.raises(postgres.ConnectionLost) as lost:
        session.begin()
    assert lost.value.kind == 'stopped'
    assert 'the server stopped answering' in lost.value.message
    assert 'statement_timeout 1 ms' in lost.value.message
    # Every later statement fails at once with the same reason; close() does not wait either.
    with pytest.raises(postgres.ConnectionLost):
        session.query('SELECT 1')
    session.close()
    text = postgres.connection_failure_message(session, lost.value)
    assert text.startswith('(libpq default):5432/postgres: the server stopped answering')


def test_connect_is_bounded_as_a_whole(monkeypatch):
    release = threading.Event()

    def hang(**kwargs):
        release.wait(10)
        raise _FakeError('never mind')

    monkeypatch.setattr(postgres, '_driver', _FakeDriver(hang))
    monkeypatch.setattr(postgres, 'DEADLINE_MARGIN', 0.0)
    monkeypatch.setattr(postgres, 'LIBPQ_MIN_CONNECT_TIMEOUT', 0)
    session = postgres.PgSession(FakeModule(connect_timeout=0.2))
    try:
        with pytest.raises(postgres.ConnectFailure) as failure:
            session.connect()
    finally:
        release.set()
    assert failure.value.kind == 'timeout' and 'timeout expired' in failure.value.message


def test_driver_value_error_is_a_connect_failure(monkeypatch):
    def refuse(**kwargs):
        raise ValueError('a string literal cannot contain NUL (0x00) characters')

    monkeypatch.setattr(postgres, '_driver', _FakeDriver(refuse))
    with pytest.raises(postgres.ConnectFailure) as failure:
        postgres.PgSession(FakeModule()).connect()
    assert failure.value.kind == 'other' and 'NUL' in failure.value.message


def test_client_certificate_and_connect_params_reach_the_driver():
    session = postgres.PgSession(FakeModule(
        login_host='db1', ssl_mode='verify-full', ca_cert='/etc/ssl/ca.pem', ssl_cert='/etc/ssl/client.pem',
        ssl_key='/etc/ssl/client.key', connect_params={'target_session_attrs': 'read-write', 'keepalives_idle': 30}))
    info = session.conninfo()
    assert info['sslmode'] == 'verify-full' and info['sslrootcert'] == '/etc/ssl/ca.pem'
    assert info['sslcert'] == '/etc/ssl/client.pem' and info['sslkey'] == '/etc/ssl/client.key'
    assert info['target_session_attrs'] == 'read-write' and info['keepalives_idle'] == 30
    # The session's own settings stay: connect_params cannot name them (validated before).
    assert info['options'] == '-c statement_timeout=10000 -c default_transaction_read_only=on'
    assert info['application_name'] == 'fleetops.runbook'


@pytest.mark.parametrize('connect_params, programs, message', [
    ({'sslmode': 'require'}, False, 'connect_params: sslmode is set by ssl_mode, not here'),
    ({'options': '-c x=1'}, False, 'connect_params: options is set by statement_timeout, not here'),
    ({'host': 'db2'}, False, 'connect_params: host is set by login_host or login_unix_socket, not here'),
    ({'Bad-Key': 1}, False, "connect_params: 'Bad-Key' is not a libpq connection keyword"),
    ({'sslcrl': ['a']}, False, 'connect_params: sslcrl must be a string or a number, got list'),
    ({'sslcrl': 'a\x00b'}, False, 'connect_params: sslcrl must not contain a NUL byte'),
    ({'sslpassword': 'x'}, False, 'connect_params: sslpassword is a secret'),
    ({'keepalives_idle': 30}, True, 'connect_params: keepalives_idle has no libpq environment variable'),
])
def test_connect_params_errors_name_the_keyword(connect_params, programs, message):
    errors = postgres.validate_connection_params(FakeModule(connect_params=connect_params).params, programs=programs)
    assert len(errors) == 1 and errors[0].startswith(message), errors


def test_connect_params_accepted():
    params = FakeModule(connect_params={'keepalives_idle': 30, 'target_session_attrs': 'any'}).params
    assert postgres.validate_connection_params(params) == []
    assert postgres.validate_connection_params(
        FakeModule(connect_params={'target_session_attrs': 'any'}).params, programs=True) == []


def test_argument_spec_has_client_certificates_and_connect_params():
    spec = postgres.postgres_argument_spec()
    assert spec['ssl_cert'] == dict(type='path')
    assert spec['ssl_key'] == dict(type='path', no_log=False)
    assert spec['connect_params'] == dict(type='dict')
