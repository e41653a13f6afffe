# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  login_host:
    description:
      - Host name or IP address of the PostgreSQL server, or a directory holding its unix socket.
      - Defaults to the E(PGHOST) environment variable; when neither is set, libpq's default
        (the local unix socket) is used.
    type: str
  login_port:
    description:
      - TCP port of the server (also the number in the unix socket's file name).
      - Defaults to E(PGPORT), else 5432.
    type: int
  login_user:
    description:
      - Role to log in as. A member of C(pg_monitor) that is not a superuser is enough for the
        checks; see each module for what that role sees.
      - Defaults to E(PGUSER), else libpq's default (the name of the operating system user the
        module runs as).
    type: str
  login_password:
    description:
      - Password of O(login_user). Defaults to E(PGPASSWORD); libpq also reads C(~/.pgpass).
      - Never logged and never returned.
    type: str
  login_db:
    description:
      - Database to connect to. Cluster-wide checks see every database from it; checks of tables
        and sequences look at this database only.
      - Defaults to E(PGDATABASE), else V(postgres).
    type: str
  login_unix_socket:
    description:
      - Directory of the server's unix socket. Takes precedence over O(login_host).
    type: path
  ssl_mode:
    description:
      - libpq's C(sslmode) for the connection.
    type: str
    default: prefer
    choices: [disable, allow, prefer, require, verify-ca, verify-full]
  ca_cert:
    description:
      - File with the certificate authorities that sign the server certificate (libpq's
        C(sslrootcert)). Used with O(ssl_mode=verify-ca) and O(ssl_mode=verify-full).
    type: path
  ssl_cert:
    description:
      - Client certificate file presented to the server (libpq's C(sslcert)), for servers that
        authenticate clients by certificate (C(cert) in C(pg_hba.conf)). Give its key in O(ssl_key).
    type: path
  ssl_key:
    description:
      - Private key file of O(ssl_cert) (libpq's C(sslkey)). libpq refuses a key file that others
        can read (it wants mode 0600, or 0640 owned by root).
    type: path
  connect_params:
    description:
      - Further libpq connection keywords and their values, for what the options above do not
        name (for example C(target_session_attrs), C(keepalives_idle), C(sslcrl), C(service)).
      - A keyword that one of the options above sets (C(host), C(port), C(user), C(password),
        C(dbname), C(sslmode), C(sslrootcert), C(sslcert), C(sslkey), C(connect_timeout)), and
        C(options) and C(application_name), which the module sets itself, are refused; so is
        C(sslpassword), a secret this option would log.
      - The checks run in read-only sessions, so C(target_session_attrs=read-write) never finds a
        server for them; V(primary) (PostgreSQL 14 and later) picks the primary.
      - Modules that run the client programs (C(psql), C(pg_restore)) pass each keyword as its
        libpq environment variable (C(target_session_attrs) as E(PGTARGETSESSIONATTRS)); a keyword
        without one is refused there.
    type: dict
  connect_timeout:
    description:
      - Seconds to wait for the connection, authentication included (libpq waits at least 2).
        A server that does not answer in time is reported unavailable.
      - The module also gives up on its own after O(connect_timeout) plus 5 seconds in all, even
        when libpq tries several addresses of one host name.
      - From 1 to 2147483647.
    type: int
    default: 10
  statement_timeout:
    description:
      - Milliseconds any one statement may run. Applied to every statement of the run, in the
        connection's startup packet; a check whose query is cancelled reports V(UNKNOWN) with the
        reason and the other checks go on.
      - The module also keeps a client-side deadline of O(statement_timeout) plus 5 seconds on
        every statement. A server that stops answering after the connection was made (frozen,
        cut off, out of memory) cannot cancel anything itself. At the deadline the module closes
        the connection and reports V(CRITICAL) with RV(is_available=false) and a message saying
        the server stopped answering. A server that freezes holds a run at most
        O(statement_timeout) plus 5 seconds beyond the freeze (O(connect_timeout) plus 5 seconds
        while connecting).
      - From 1 to 2147483647 (the server's limit).
    type: int
    default: 10000
notes:
  - Use module_defaults with the action group C(fleetops.runbook.postgres) to set the connection
    once for every PostgreSQL module of a play. The roles of the collection take the connection
    as one dictionary of these options (C(<role>_postgres_connection)) and apply it this way.
'''

    # Modules that connect through a Python driver (fleetops.runbook.postgres.driver); modules
    # that only run the client programs (psql, pg_restore) use the options alone.
    DRIVER = r'''
options: {}
requirements:
  - psycopg2 (C(pip install psycopg2-binary) or Debian's C(python3-psycopg2)), or psycopg 3,
    on the managed host.
notes:
  - All queries of one run share one connection and run in one read-only transaction (the session
    has C(default_transaction_read_only) on); the connection's C(application_name) names the
    module, so it is easy to find in C(pg_stat_activity).
'''

    # A server in a container (docker compose): the modules that run the client programs.
    CONTAINER = r'''
options:
  container:
    description:
      - Name of the container the PostgreSQL server runs in (as C(docker ps) shows it). The
        container's own client programs (C(psql), C(pg_restore)) run through C(docker exec -i),
        reading the backup from their standard input, so a parallel restore is not possible
        (one job) and directory archives are refused; the connection options apply inside the
        container (e.g. O(login_unix_socket=/var/run/postgresql)). Their values reach the
        container as environment variables passed by name, never on a command line.
      - Empty or unset, the client programs of the managed host are used.
    type: str
  container_user:
    description:
      - Operating system account in the container the client programs run as (C(docker exec -u)),
        for peer authentication over the container's unix socket; unset, the container's default.
    type: str
'''
