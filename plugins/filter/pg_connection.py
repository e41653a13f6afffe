# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: pg_connection
short_description: A role's PostgreSQL connection in the form another consumer takes it
version_added: 0.1.0
description:
  - Takes a connection dictionary whose keys are the connection options of the
    C(fleetops.runbook.postgres) action group (the C(<role>_postgres_connection) variables of the
    roles) and returns the same connection for what cannot read that dictionary itself.
  - Unknown keys and bad values are refused with an error naming the key, as the modules would.
author:
  - fleetops.runbook maintainers (@fleetops)
options:
  _input:
    description: The connection (login_host, login_port, login_user, login_password, login_db,
      login_unix_socket, ssl_mode, ca_cert, ssl_cert, ssl_key, connect_params, connect_timeout,
      statement_timeout); unset keys are left to the consumer's defaults.
    type: dict
    required: true
  form:
    description:
      - V(environment) - libpq environment variables (E(PGHOST), E(PGPORT), E(PGUSER), E(PGPASSWORD),
        E(PGDATABASE), E(PGSSLMODE), E(PGSSLROOTCERT), E(PGSSLCERT), E(PGSSLKEY), E(PGCONNECT_TIMEOUT),
        and one per key of C(connect_params)) for the client programs (psql, pg_dump). A
        C(connect_params) keyword without an environment variable is refused.
        C(statement_timeout) is left out (the programs run under their own timeouts).
      - V(community.postgresql) - the options of the community.postgresql modules. C(login_host) is
        C(login_unix_socket) when set, else C(login_host) (the precedence of this collection);
        C(connect_timeout) goes into C(connect_params); C(login_db) is named after O(db_option).
        C(statement_timeout) is left out, as those modules do not have it.
    type: str
    default: environment
    choices: [environment, community.postgresql]
  password:
    description: Include the password (E(PGPASSWORD), or C(login_password)).
    type: bool
    default: true
  db_option:
    description:
      - With O(form=community.postgresql), the option the module names the database it connects
        to with (V(login_db) for most, V(maintenance_db) for community.postgresql.postgresql_db).
    type: str
    default: login_db
'''

EXAMPLES = r'''
- name: Run psql against the role's server
  ansible.builtin.command:
    argv: [psql, -X, -c, SELECT 1]
  environment: "{{ maintenance_postgres_connection | fleetops.runbook.pg_connection }}"
  changed_when: false

- name: A community.postgresql module with the same connection
  community.postgresql.postgresql_query:
    query: ANALYZE
    login_db: shop
  module_defaults:
    community.postgresql.postgresql_query: >-
      {{ maintenance_postgres_connection | fleetops.runbook.pg_connection(form='community.postgresql') }}

- name: Drop a scratch database, connected to the connection's database
  community.postgresql.postgresql_db:
    name: scratch
    state: absent
  module_defaults:
    community.postgresql.postgresql_db: >-
      {{ maintenance_postgres_connection | fleetops.runbook.pg_connection(form='community.postgresql',
         db_option='maintenance_db') }}
'''

RETURN = r'''
_value:
  description: Environment variables (names to text), or community.postgresql options.
  type: dict
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_string

from ansible_collections.fleetops.runbook.plugins.module_utils.libpq import libpq_environment
from ansible_collections.fleetops.runbook.plugins.module_utils.postgres import postgres_argument_spec, validate_connection_params

FORMS = ('environment', 'community.postgresql')

# Options community.postgresql names as this collection does.
_COMMUNITY_SAME = ('login_port', 'login_user', 'login_password', 'ssl_mode', 'ca_cert', 'ssl_cert', 'ssl_key')


def _checked(connection, programs):
    if not isinstance(connection, dict):
        raise AnsibleFilterError('pg_connection: the connection must be a dictionary of connection '
                                 'options, got %s' % type(connection).__name__)
    spec = postgres_argument_spec()
    unknown = sorted(str(key) for key in connection if key not in spec)
    if unknown:
        raise AnsibleFilterError('pg_connection: %s: not a connection option (%s)'
                                 % (', '.join(unknown), ', '.join(spec)))
    params = dict((k, v) for k, v in connection.items() if v is not None)
    for name in ('login_port', 'connect_timeout', 'statement_timeout'):
        if name in params:
            try:
                params[name] = int(params[name])
            except (TypeError, ValueError):
                raise AnsibleFilterError('pg_connection: %s: %r is not a whole number' % (name, params[name]))
    if 'connect_params' in params and not isinstance(params['connect_params'], dict):
        raise AnsibleFilterError('pg_connection: connect_params must be a dictionary')
    if 'ssl_mode' in params and params['ssl_mode'] not in spec['ssl_mode']['choices']:
        raise AnsibleFilterError('pg_connection: ssl_mode: %r is not one of %s'
                                 % (params['ssl_mode'], ', '.join(spec['ssl_mode']['choices'])))
    for name, value in params.items():
        if spec[name]['type'] in ('str', 'path') and not is_string(value):
            raise AnsibleFilterError('pg_connection: %s must be text, got %s' % (name, type(value).__name__))
    errors = validate_connection_params(params, programs=programs)
    if errors:
        raise AnsibleFilterError('pg_connection: %s' % '; '.join(errors))
    return params


def _community(params, db_option):
    options = {}
    if params.get('login_db'):
        options[db_option] = params['login_db']
    host = params.get('login_unix_socket') or params.get('login_host')
    if host:
        options['login_host'] = host
    for name in _COMMUNITY_SAME:
        if params.get(name) not in (None, ''):
            options[name] = params[name]
    connect_params = dict(params.get('connect_params') or {})
    if 'connect_timeout' in params:
        connect_params['connect_timeout'] = params['connect_timeout']
    if connect_params:
        options['connect_params'] = connect_params
    return options


def pg_connection(connection, form='environment', password=True, db_option='login_db'):
    if form not in FORMS:
        raise AnsibleFilterError('pg_connection: form: %r is not one of %s' % (form, ', '.join(FORMS)))
    params = _checked(connection, programs=form == 'environment')
    if not password:
        params.pop('login_password', None)
    if form == 'community.postgresql':
        return _community(params, db_option)
    params.pop('statement_timeout', None)
    return libpq_environment(params)


class FilterModule(object):
    def filters(self):
        return {'pg_connection': pg_connection}
