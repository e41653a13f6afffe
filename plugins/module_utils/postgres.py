# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Connection handling shared by the PostgreSQL modules of fleetops.runbook.

One argument_spec (:func:`postgres_argument_spec`, documented once in the ``fleetops.runbook.postgres``
doc fragment), one way to connect (:class:`PgSession`). A session is one connection with
``statement_timeout`` and ``default_transaction_read_only`` set in the startup packet, so every
statement of a module run shares them; checks run inside one read-only transaction, each under a
savepoint, so a check that fails (no privilege, timeout) does not spoil the others.

psycopg2 is used when installed, else psycopg 3.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import decimal
import math
import os
import re
import socket
import threading
import time
import traceback

from ansible.module_utils.basic import env_fallback, missing_required_lib
from ansible_collections.fleetops.runbook.plugins.module_utils.libpq import LIBPQ_ENVIRONMENT, libpq_keywords

DRIVER = None
DRIVER_IMPORT_ERROR = None
try:
    import psycopg2 as _driver
    DRIVER = 'psycopg2'
except ImportError:
    try:
        import psycopg as _driver
        DRIVER = 'psycopg'
    except ImportError:
        _driver = None
        DRIVER_IMPORT_ERROR = traceback.format_exc()

SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']
DEFAULT_DB = 'postgres'

# SQLSTATEs a check can meet that mean "could not measure", not "module failure".
INSUFFICIENT_PRIVILEGE = '42501'
QUERY_CANCELED = '57014'
OBJECT_NOT_IN_PREREQUISITE_STATE = '55000'
UNDEFINED_TABLE = '42P01'

# Largest connect_timeout / statement_timeout libpq and the server accept (a C int).
INT_MAX = 2147483647
BIGINT_MAX = 9223372036854775807

# The client-side deadline of a statement is statement_timeout plus this margin: the server
# cancels the statement itself at statement_timeout, so the deadline only ever fires when the
# server has stopped answering (frozen, partitioned away, swapping to death).
DEADLINE_MARGIN = 5.0

# libpq never waits less than this for a connection, whatever connect_timeout says.
LIBPQ_MIN_CONNECT_TIMEOUT = 2

# Connection options passed to libpq as text: a NUL byte in them cannot be sent.
TEXT_CONNECTION_PARAMS = ('login_host', 'login_user', 'login_password', 'login_db',
                          'login_unix_socket', 'ca_cert', 'ssl_cert', 'ssl_key')

# The libpq keyword each named option sets; connect_params may not set these again. ``options``
# carries statement_timeout and the read-only session, ``application_name`` names the module.
NAMED_KEYWORDS = {
    'host': 'login_host or login_unix_socket', 'port': 'login_port', 'user': 'login_user',
    'password': 'login_password', 'dbname': 'login_db', 'sslmode': 'ssl_mode',
    'sslrootcert': 'ca_cert', 'sslcert': 'ssl_cert', 'sslkey': 'ssl_key',
    'connect_timeout': 'connect_timeout', 'options': 'statement_timeout',
    'application_name': 'the module (its own name)',
}

SECRET_KEYWORDS = ('sslpassword',)

_KEYWORD_RE = re.compile(r'^[a-z][a-z0-9_]*$')


def postgres_argument_spec():
    """Connection options of every PostgreSQL module (extend it with ``argument_spec.update``)."""
    return dict(
        login_host=dict(type='str', fallback=(env_fallback, ['PGHOST'])),
        login_port=dict(type='int', fallback=(env_fallback, ['PGPORT'])),
        login_user=dict(type='str', fallback=(env_fallback, ['PGUSER'])),
        login_password=dict(type='str', no_log=True, fallback=(env_fallback, ['PGPASSWORD'])),
        login_db=dict(type='str', fallback=(env_fallback, ['PGDATABASE'])),
        login_unix_socket=dict(type='path'),
        ssl_mode=dict(type='str', default='prefer', choices=SSL_MODES),
        ca_cert=dict(type='path'),
        ssl_cert=dict(type='path'),
        ssl_key=dict(type='path', no_log=False),
        connect_params=dict(type='dict'),
        connect_timeout=dict(type='int', default=10),
        statement_timeout=dict(type='int', default=10000),
    )


def ensure_driver(module):
    """Fail with install instructions when neither psycopg2 nor psycopg 3 can be imported."""
    if DRIVER is None:
        module.fail_json(msg=missing_required_lib('psycopg2 (or psycopg 3)'),
                         exception=DRIVER_IMPORT_ERROR)


CONTAINER_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$')


def container_argument_spec():
    """The options of a server in a container (doc fragment fleetops.runbook.postgres.container)."""
    return dict(container=dict(type='str'), container_user=dict(type='str'))


def validate_container_params(params):
    """Messages naming the parameter for a container name or account that docker would misread."""
    errors = []
    if params.get('container') and not CONTAINER_NAME_RE.match(params['container']):
        errors.append('container: %r is not a container name (letters, digits, _ . -)'
                      % params['container'])
    user = params.get('container_user')
    if user and not re.match(r'^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$', user):
        errors.append('container_user: %r is not a user name (or user:group)' % user)
    return errors


def validate_connection_params(params, programs=False):
    """Messages naming the parameter for connection options Ansible's types do not catch.

    ``programs``: the connection also goes to the client programs, through the environment.
    """
    errors = []
    port = params.get('login_port')
    if port is not None and not 1 <= port <= 65535:
        errors.append('login_port: %d is not a TCP port (1-65535)' % port)
    errors.extend(number_errors(params, {
        'connect_timeout': (1, INT_MAX, 'second'),
        'statement_timeout': (1, INT_MAX, 'millisecond'),
    }))
    if params.get('login_db') == '':
        errors.append('login_db: must not be empty')
    for name in TEXT_CONNECTION_PARAMS:
        value = params.get(name)
        if isinstance(value, str) and '\x00' in value:
            # Never the value itself: it may be the password.
            errors.append('%s: must not contain a NUL byte' % name)
    errors.extend(_connect_params_errors(params.get('connect_params') or {}, programs))
    return errors


def _connect_params_errors(connect_params, programs):
    errors = []
    for keyword in sorted(connect_params, key=str):
        value = connect_params[keyword]
        if not isinstance(keyword, str) or not _KEYWORD_RE.match(keyword):
            errors.append('connect_params: %r is not a libpq connection keyword' % (keyword,))
        elif keyword in NAMED_KEYWORDS:
            errors.append('connect_params: %s is set by %s, not here' % (keyword, NAMED_KEYWORDS[keyword]))
        elif keyword in SECRET_KEYWORDS:
            # connect_params is not no_log: a secret in it would reach the task's output.
            errors.append('connect_params: %s is a secret and connect_params is logged; protect '
                          'the key file by its mode (0600) instead' % keyword)
        elif value is not None and not isinstance(value, (str, int, float)):
            errors.append('connect_params: %s must be a string or a number, got %s'
                          % (keyword, type(value).__name__))
        elif isinstance(value, str) and '\x00' in value:
            errors.append('connect_params: %s must not contain a NUL byte' % keyword)
        elif programs and keyword not in LIBPQ_ENVIRONMENT:
            errors.append('connect_params: %s has no libpq environment variable, so the client '
                          'programs (psql, pg_dump, pg_restore) cannot be given it' % keyword)
    return errors


def number_errors(params, bounds):
    """Messages naming the parameter for numbers outside ``bounds``.

    ``bounds`` maps a parameter to ``(minimum, maximum, unit)``; unset parameters are skipped.
    NaN and infinity are refused whatever the bounds.
    """
    errors = []
    for name, (low, high, unit) in bounds.items():
        value = params.get(name)
        if value is None or isinstance(value, bool):
            continue
        if isinstance(value, float) and not math.isfinite(value):
            errors.append('%s: must be a finite number, got %s' % (name, value))
        elif value < low:
            errors.append('%s: must be at least %s%s, got %s' % (
                name, low, ' %s' % unit if unit else '', value))
        elif value > high:
            errors.append('%s: must be at most %s%s, got %s' % (
                name, high, ' %s' % unit if unit else '', value))
    return errors


class ConnectFailure(Exception):
    """The server could not be reached or refused us; ``kind`` says how."""

    def __init__(self, kind, message):
        super(ConnectFailure, self).__init__(message)
        self.kind = kind
        self.message = message


class ConnectionLost(ConnectFailure):
    """The connection was open and is gone: the server stopped answering within the deadline
    (``kind`` 'stopped') or closed the connection (``kind`` 'lost')."""


class QueryFailure(Exception):
    """A statement failed; ``sqlstate`` and a short ``reason`` a report can show."""

    def __init__(self, sqlstate, message):
        super(QueryFailure, self).__init__(message)
        self.sqlstate = sqlstate
        self.message = message

    @property
    def reason(self):
        if self.sqlstate == QUERY_CANCELED:
            return 'query cancelled after statement_timeout: %s' % self.message
        if self.sqlstate == INSUFFICIENT_PRIVILEGE:
            return 'insufficient privilege: %s' % self.message
        return self.message


# A password literal in a statement's text (CREATE/ALTER ROLE ... PASSWORD '...'), closed or cut
# off by truncation. pg_stat_statements keeps utility statements verbatim.
_PASSWORD_LITERAL = re.compile(r"(\bpassword\s+)(?:E?'(?:[^']|'')*(?:'|$)|\$\$.*?(?:\$\$|$))",
                               re.IGNORECASE | re.DOTALL)


def mask_secrets(text):
    """A statement's text with password literals replaced by ********."""
    if not text:
        return text
    return _PASSWORD_LITERAL.sub(r"\1'********'", text)


def _first_line(text):
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return lines[0] if lines else str(text)


def _classify_connect_error(message):
    lowered = message.lower()
    if 'password authentication failed' in lowered or 'no password supplied' in lowered \
            or 'authentication failed' in lowered or 'no pg_hba.conf entry' in lowered:
        return 'authentication'
    if 'database' in lowered and 'does not exist' in lowered:
        return 'no_database'
    if 'timeout expired' in lowered or 'timed out' in lowered:
        return 'timeout'
    if 'connection refused' in lowered or 'no such file or directory' in lowered:
        return 'refused'
    if 'could not translate host name' in lowered or 'name or service not known' in lowered:
        return 'unresolvable'
    if 'connection option' in lowered or 'invalid dsn' in lowered:
        return 'options'
    if 'ssl' in lowered or 'certificate' in lowered:
        return 'ssl'
    return 'other'


def _plain(value):
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, memoryview):
        return value.tobytes().decode('utf-8', 'replace')
    return value


class _Watchdog:
    """Breaks a connection whose statement outlives its deadline.

    libpq waits for the server's answer in a blocking read that retries on EINTR, so neither a
    signal nor TCP keepalives (the kernel of a frozen server still ACKs) end it, and a frozen
    backend never processes a cancel request. Shutting the socket down from another thread makes
    the read return, and the driver raises an error the session turns into ConnectionLost.
    """

    def __init__(self, fileno):
        self.fileno = fileno
        self.fired = False
        self._deadline = None
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._watch, name='fleetops-pg-deadline')
        self._thread.daemon = True
        self._thread.start()

    def arm(self, seconds):
        with self._cond:
            self._deadline = time.monotonic() + seconds
            self._cond.notify()

    def disarm(self):
        with self._cond:
            self._deadline = None
            self._cond.notify()

    def close(self):
        with self._cond:
            self._closed = True
            self._deadline = None
            self._cond.notify()

    def _watch(self):
        with self._cond:
            while not self._closed:
                if self._deadline is None:
                    self._cond.wait()
                    continue
                remaining = self._deadline - time.monotonic()
                if remaining > 0:
                    self._cond.wait(remaining)
                    continue
                # Still armed past the deadline, under the lock: the statement has not returned.
                self.fired = True
                self._deadline = None
                _shutdown_socket(self.fileno)


def _shutdown_socket(fileno):
    try:
        sock = socket.socket(fileno=os.dup(fileno))
    except OSError:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        sock.close()


def _connect_within(conninfo, seconds):
    """``_driver.connect(**conninfo)`` in a helper thread, given up after ``seconds``.

    libpq's connect_timeout applies to each address it tries (localhost may be two); this bounds
    the whole. Returns the connection; raises what the driver raised, or ConnectFailure.
    """
    outcome = {}

    def attempt():
        try:
            outcome['conn'] = _driver.connect(**conninfo)
        except Exception as exc:  # pylint: disable=broad-except
            outcome['error'] = exc
        if outcome.get('abandoned') and outcome.get('conn') is not None:
            outcome['conn'].close()

    worker = threading.Thread(target=attempt, name='fleetops-pg-connect')
    worker.daemon = True
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        outcome['abandoned'] = True
        raise ConnectFailure('timeout', 'timeout expired: no connection within %s s' % _fmt_number(seconds))
    if 'error' in outcome:
        raise outcome['error']
    return outcome['conn']


def _fmt_number(value):
    return ('%.1f' % value).rstrip('0').rstrip('.')


class PgSession:
    """One connection to PostgreSQL for one module run.

    Every statement runs under a client-side deadline (:meth:`statement_deadline`): a server that
    stops answering after the connection was made ends the run with ConnectionLost instead of a
    hang.
    """

    def __init__(self, module, application_name='fleetops.runbook', read_only=True):
        self.module = module
        self.params = module.params
        self.application_name = application_name
        self.read_only = read_only
        self.conn = None
        self.connect_ms = None
        self.server_version = None
        self.lost = None
        self._watchdog = None
        self._savepoint = 0
        self._in_transaction = False

    # ---- connecting -------------------------------------------------------------------------
    def target(self):
        """What we connect to, for messages (never the password)."""
        p = self.params
        host = p.get('login_unix_socket') or p.get('login_host') or '(libpq default)'
        port = p.get('login_port') or 5432
        return '%s:%s/%s' % (host, port, p.get('login_db') or DEFAULT_DB)

    def conninfo(self):
        p = self.params
        options = ['-c statement_timeout=%d' % p['statement_timeout']]
        if self.read_only:
            options.append('-c default_transaction_read_only=on')
        kwargs = libpq_keywords(p)
        kwargs.setdefault('dbname', DEFAULT_DB)
        kwargs.update(application_name=self.application_name, options=' '.join(options))
        return kwargs

    def connect_deadline(self):
        """Seconds a connection attempt may take, all addresses libpq tries together."""
        return max(self.params['connect_timeout'], LIBPQ_MIN_CONNECT_TIMEOUT) + DEADLINE_MARGIN

    def statement_deadline(self):
        """Seconds the client waits for any one statement: statement_timeout plus a margin."""
        return self.params['statement_timeout'] / 1000.0 + DEADLINE_MARGIN

    def scrub(self, text):
        """``text`` with the password masked, whatever a driver put into it."""
        text = str(text)
        password = self.params.get('login_password')
        if password:
            text = text.replace(password, '********')
        return text

    def connect(self):
        """Open the connection; raises ConnectFailure. Returns the connect time in ms."""
        started = time.monotonic()
        try:
            self.conn = _connect_within(self.conninfo(), self.connect_deadline())
        except _driver.Error as exc:
            message = self.scrub(' '.join(str(exc).split()))
            raise ConnectFailure(_classify_connect_error(message), message)
        except (ValueError, TypeError) as exc:
            # What the driver refuses before talking to the server (validate_connection_params
            # catches the known cases first).
            raise ConnectFailure('other', self.scrub(' '.join(str(exc).split())))
        self.connect_ms = (time.monotonic() - started) * 1000.0
        self.conn.autocommit = True
        if DRIVER == 'psycopg2':
            self.server_version = self.conn.server_version
        else:
            self.server_version = self.conn.info.server_version
        self._watchdog = _Watchdog(self.conn.fileno())
        return self.connect_ms

    def close(self):
        if self.conn is None:
            return
        try:
            if self._in_transaction and self.lost is None:
                self._execute('ROLLBACK')
        except Exception:  # pylint: disable=broad-except
            pass
        try:
            self.conn.close()
        except Exception:  # pylint: disable=broad-except
            pass
        finally:
            self.conn = None
            self._in_transaction = False
            if self._watchdog is not None:
                self._watchdog.close()
                self._watchdog = None

    # ---- statements -------------------------------------------------------------------------
    def _gone(self):
        if DRIVER == 'psycopg2':
            return bool(self.conn.closed)
        return bool(self.conn.closed or getattr(self.conn, 'broken', False))

    def _execute(self, sql, args=None):
        """Run one statement under the deadline. Raises ConnectionLost when the connection is
        gone, the driver's error otherwise."""
        if self.lost is not None:
            raise self.lost
        try:
            self._watchdog.arm(self.statement_deadline())
            try:
                cursor = self.conn.cursor()
                try:
                    cursor.execute(sql, args)
                    if cursor.description is None:
                        return []
                    names = [col[0] for col in cursor.description]
                    return [dict(zip(names, [_plain(v) for v in row])) for row in cursor.fetchall()]
                finally:
                    cursor.close()
            finally:
                self._watchdog.disarm()
        except _driver.Error as exc:
            if self._watchdog.fired:
                self.lost = ConnectionLost('stopped', 'the server stopped answering: no reply within '
                                           '%s s (statement_timeout %d ms + %s s)' % (
                                               _fmt_number(self.statement_deadline()),
                                               self.params['statement_timeout'],
                                               _fmt_number(DEADLINE_MARGIN)))
            elif self._gone():
                self.lost = ConnectionLost('lost', 'the connection was lost: %s' % self.scrub(_first_line(exc)))
            if self.lost is not None:
                self._in_transaction = False
                raise self.lost
            raise

    def _failure(self, exc):
        sqlstate = getattr(exc, 'pgcode', None) or getattr(exc, 'sqlstate', None)
        message = self.scrub(_first_line(exc))
        return QueryFailure(sqlstate, message)

    def begin(self, read_only=True):
        """Start the transaction every check of the run shares; raises QueryFailure."""
        try:
            self._execute('BEGIN READ ONLY' if read_only else 'BEGIN READ WRITE')
        except _driver.Error as exc:
            raise self._failure(exc)
        self._in_transaction = True

    def commit(self):
        if self._in_transaction:
            try:
                self._execute('COMMIT')
            except _driver.Error as exc:
                raise self._failure(exc)
            finally:
                self._in_transaction = False

    def query(self, sql, args=None):
        """Rows as dicts; raises QueryFailure, or ConnectionLost. Inside a transaction, a failure
        is rolled back to a savepoint so the transaction stays usable for the next check."""
        savepoint = None
        try:
            if self._in_transaction:
                self._savepoint += 1
                savepoint = 'fleetops_%d' % self._savepoint
                self._execute('SAVEPOINT %s' % savepoint)
        except _driver.Error as exc:
            raise self._failure(exc)
        try:
            rows = self._execute(sql, args)
        except _driver.Error as exc:
            failure = self._failure(exc)
            if savepoint:
                try:
                    self._execute('ROLLBACK TO SAVEPOINT %s' % savepoint)
                except _driver.Error:
                    self._in_transaction = False
            raise failure
        if savepoint:
            try:
                self._execute('RELEASE SAVEPOINT %s' % savepoint)
            except _driver.Error as exc:
                raise self._failure(exc)
        return rows

    def one(self, sql, args=None):
        rows = self.query(sql, args)
        return rows[0] if rows else {}

    def run_write(self, sql, args=None):
        """One statement in its own read-write transaction (after the read-only one ended)."""
        self.commit()
        try:
            self._execute('BEGIN READ WRITE')
            self._in_transaction = True
            rows = self._execute(sql, args)
            self._execute('COMMIT')
            self._in_transaction = False
            return rows
        except _driver.Error as exc:
            failure = self._failure(exc)
            try:
                self._execute('ROLLBACK')
            except _driver.Error:
                pass
            self._in_transaction = False
            raise failure


def connection_failure_message(session, failure):
    """A one-line reason for an unavailable server, naming what was tried."""
    hints = {
        'authentication': 'check login_user and login_password (and pg_hba.conf)',
        'timeout': 'no answer within connect_timeout (%ss)' % session.params['connect_timeout'],
        'refused': 'is the server running and listening there?',
        'unresolvable': 'check login_host',
        'ssl': 'check ssl_mode, ca_cert, ssl_cert and ssl_key',
        'options': 'check connect_params',
    }
    if isinstance(failure, ConnectionLost):
        return '%s: %s' % (session.target(), failure.message)
    message = 'cannot connect to %s: %s' % (session.target(), failure.message)
    if failure.kind in hints:
        message += ' (%s)' % hints[failure.kind]
    return message
