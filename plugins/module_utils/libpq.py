# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The connection options as libpq takes them: keywords for the driver, environment variables for
the client programs (psql, pg_dump, pg_restore).

Free of Ansible imports: the backup command of roles/postgres_backup imports it on the host.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# libpq's environment variable for each connection keyword that has one: what the client programs
# (psql, pg_dump, pg_restore) are given instead of a connection string.
LIBPQ_ENVIRONMENT = {
    'host': 'PGHOST', 'hostaddr': 'PGHOSTADDR', 'port': 'PGPORT', 'dbname': 'PGDATABASE',
    'user': 'PGUSER', 'password': 'PGPASSWORD', 'passfile': 'PGPASSFILE',
    'require_auth': 'PGREQUIREAUTH', 'channel_binding': 'PGCHANNELBINDING', 'service': 'PGSERVICE',
    'servicefile': 'PGSERVICEFILE', 'options': 'PGOPTIONS', 'application_name': 'PGAPPNAME',
    'sslmode': 'PGSSLMODE', 'sslcompression': 'PGSSLCOMPRESSION', 'sslcert': 'PGSSLCERT',
    'sslkey': 'PGSSLKEY', 'sslcertmode': 'PGSSLCERTMODE', 'sslrootcert': 'PGSSLROOTCERT',
    'sslcrl': 'PGSSLCRL', 'sslcrldir': 'PGSSLCRLDIR', 'sslsni': 'PGSSLSNI',
    'requirepeer': 'PGREQUIREPEER', 'ssl_min_protocol_version': 'PGSSLMINPROTOCOLVERSION',
    'ssl_max_protocol_version': 'PGSSLMAXPROTOCOLVERSION', 'gssencmode': 'PGGSSENCMODE',
    'krbsrvname': 'PGKRBSRVNAME', 'gsslib': 'PGGSSLIB', 'connect_timeout': 'PGCONNECT_TIMEOUT',
    'client_encoding': 'PGCLIENTENCODING', 'target_session_attrs': 'PGTARGETSESSIONATTRS',
    'load_balance_hosts': 'PGLOADBALANCEHOSTS',
}


def libpq_keywords(params):
    """The libpq connection keywords of the connection options, unset ones left out.

    ``login_unix_socket`` wins over ``login_host``; ``connect_params`` come last (they never name
    a keyword of an option: ``postgres.validate_connection_params``). Neither the database's default
    nor the session's ``options`` are added here: ``postgres.PgSession.conninfo`` does that.
    """
    keywords = dict(
        host=params.get('login_unix_socket') or params.get('login_host'),
        port=params.get('login_port'),
        user=params.get('login_user'),
        password=params.get('login_password'),
        dbname=params.get('login_db'),
        sslmode=params.get('ssl_mode'),
        sslrootcert=params.get('ca_cert'),
        sslcert=params.get('ssl_cert'),
        sslkey=params.get('ssl_key'),
        connect_timeout=params.get('connect_timeout'),
    )
    keywords.update(params.get('connect_params') or {})
    return dict((k, v) for k, v in keywords.items() if v not in (None, ''))


def _libpq_text(value):
    if isinstance(value, bool):
        return '1' if value else '0'
    return str(value)


def libpq_environment(params):
    """The connection options as libpq environment variables, for the client programs.

    Raises ValueError naming a connect_params keyword that has no environment variable.
    """
    env = {}
    for keyword, value in libpq_keywords(params).items():
        name = LIBPQ_ENVIRONMENT.get(keyword)
        if name is None:
            raise ValueError('connect_params: %s has no libpq environment variable, so the client '
                             'programs (psql, pg_dump, pg_restore) cannot be given it' % keyword)
        env[name] = _libpq_text(value)
    return env
