# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A throwaway PostgreSQL cluster for tests, benchmarks and the demo.

Used from Python (the pytest fixtures in ``tests/integration/pg_fixtures.py``, the benchmarks)::

    from tests.support.pgcluster import PgCluster

    cluster = PgCluster('/tmp/some-dir', settings={'max_connections': 20})
    cluster.start()
    cluster.execute('CREATE TABLE t (id int)')
    args = cluster.login_args()          # login_host/login_port/login_user/login_password
    cluster.stop(); cluster.destroy()

and from the shell (the Makefile), in the checkout's root::

    python -m tests.support.pgcluster start DIR [--port N] [--set name=value ...]
    python -m tests.support.pgcluster env DIR          # export PGHOST=... lines for the superuser
    python -m tests.support.pgcluster inventory DIR FILE [--monitor]
    python -m tests.support.pgcluster stop DIR [--destroy]
    python -m tests.support.pgcluster bindir           # where initdb, pg_ctl and pg_config are

The cluster listens on 127.0.0.1 (a free port) and on a unix socket in ``DIR/sock``, preloads
pg_stat_statements, allows prepared transactions and replication, and has two roles with
scram-sha-256 passwords: a superuser and a least-privilege monitoring role (member of pg_monitor).
Its state, passwords included, is kept in ``DIR/cluster.json`` (mode 0600) so that ``start`` is
idempotent and a later ``stop`` finds the cluster again.

When this runs as root, the server runs as an unprivileged system user (``postgres`` when the
Debian package created it, else ``fleetops-pg``, created on demand): initdb refuses to run as root.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import pwd
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

SUPERUSER = 'fleetops_admin'
MONITOR_USER = 'fleetops_monitor'
STATE_FILE = 'cluster.json'
SERVER_USERS = ('postgres', 'fleetops-pg')

# Settings every test-bed cluster gets. Durability is off: the data is thrown away anyway.
BASE_SETTINGS = {
    'listen_addresses': '127.0.0.1',
    'shared_preload_libraries': 'pg_stat_statements',
    'pg_stat_statements.track': 'all',
    'max_connections': 40,
    'max_prepared_transactions': 10,
    'wal_level': 'replica',
    'max_wal_senders': 5,
    'max_replication_slots': 5,
    'fsync': 'off',
    'synchronous_commit': 'off',
    'full_page_writes': 'off',
    'shared_buffers': '32MB',
    'track_io_timing': 'on',
    'log_min_messages': 'warning',
    'log_line_prefix': '%m [%p] %u@%d ',
    'lc_messages': 'C',
}


class PgClusterError(RuntimeError):
    pass


def find_bindir():
    """Directory holding initdb and pg_ctl: PATH first, then the newest Debian server package."""
    initdb = shutil.which('initdb')
    if initdb and shutil.which('pg_ctl'):
        return os.path.dirname(os.path.realpath(initdb))
    candidates = sorted(glob.glob('/usr/lib/postgresql/*/bin/initdb'),
                        key=lambda p: int(p.split('/')[4]) if p.split('/')[4].isdigit() else 0)
    if candidates:
        return os.path.dirname(candidates[-1])
    raise PgClusterError('PostgreSQL server binaries (initdb, pg_ctl) not found; '
                         'run `make pg-server` or apt-get install postgresql-15')


def free_port():
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def server_user():
    """The unprivileged account the server runs as when we are root (None: run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in SERVER_USERS:
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(['useradd', '--system', '--no-create-home', '--home-dir', '/nonexistent',
                    '--shell', '/usr/sbin/nologin', 'fleetops-pg'], check=True)
    return 'fleetops-pg'


def _pg_quote_literal(value):
    return "'%s'" % str(value).replace("'", "''")


class PgCluster:
    """One throwaway PostgreSQL cluster living in ``base_dir``."""

    def __init__(self, base_dir, port=None, settings=None, superuser=SUPERUSER,
                 monitor_user=MONITOR_USER, hba_extra=()):
        self.base_dir = os.path.abspath(base_dir)
        self._set_run_dir(self.base_dir)
        self.host = '127.0.0.1'
        self.port = port
        self.settings = dict(BASE_SETTINGS)
        self.settings.update(settings or {})
        self.superuser = superuser
        self.monitor_user = monitor_user
        self.superuser_password = None
        self.monitor_password = None
        self.hba_extra = list(hba_extra)
        self.bindir = None
        self.run_as = None

    def _set_run_dir(self, run_dir):
        # Where the server's files live: base_dir, unless the server user cannot reach it or the
        # socket path would be too long (see init()).
        self.run_dir = run_dir
        self.data_dir = os.path.join(run_dir, 'data')
        self.socket_dir = os.path.join(run_dir, 'sock')
        self.log_file = os.path.join(run_dir, 'server.log')

    # ---- state ------------------------------------------------------------------------------
    @property
    def state_path(self):
        return os.path.join(self.base_dir, STATE_FILE)

    def _save_state(self):
        state = {
            'port': self.port, 'host': self.host, 'run_dir': self.run_dir,
            'superuser': self.superuser, 'superuser_password': self.superuser_password,
            'monitor_user': self.monitor_user, 'monitor_password': self.monitor_password,
            'settings': self.settings, 'bindir': self.bindir, 'run_as': self.run_as,
        }
        fd = os.open(self.state_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as handle:
            json.dump(state, handle, indent=2)

    @classmethod
    def load(cls, base_dir):
        """The cluster whose state ``start`` saved in ``base_dir``."""
        with open(os.path.join(os.path.abspath(base_dir), STATE_FILE)) as handle:
            state = json.load(handle)
        cluster = cls(base_dir, port=state['port'], settings=state['settings'],
                      superuser=state['superuser'], monitor_user=state['monitor_user'])
        cluster._set_run_dir(state.get('run_dir', cluster.base_dir))
        cluster.superuser_password = state['superuser_password']
        cluster.monitor_password = state['monitor_password']
        cluster.bindir = state['bindir']
        cluster.run_as = state['run_as']
        return cluster

    @property
    def initialized(self):
        return os.path.exists(os.path.join(self.data_dir, 'PG_VERSION')) and os.path.exists(
            self.state_path)

    # ---- running programs -------------------------------------------------------------------
    def _cmd(self, program, *args):
        cmd = [os.path.join(self.bindir, program)] + list(args)
        if self.run_as:
            cmd = ['runuser', '-u', self.run_as, '--'] + cmd
        return cmd

    def _run(self, program, *args, check=True, timeout=120):
        proc = subprocess.run(self._cmd(program, *args), capture_output=True, text=True,
                              cwd='/', timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise PgClusterError('%s failed (rc %s): %s%s' % (
                program, proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:]))
        return proc

    def _server_can_reach(self, path):
        if not self.run_as:
            return True
        return subprocess.run(['runuser', '-u', self.run_as, '--', 'test', '-x', path],
                              check=False).returncode == 0

    def _prepare_run_dir(self):
        os.makedirs(self.run_dir, exist_ok=True)
        os.chmod(self.run_dir, 0o755)
        os.makedirs(self.socket_dir, exist_ok=True)
        self._chown(self.run_dir)
        self._chown(self.socket_dir)

    def _chown(self, path):
        if self.run_as:
            entry = pwd.getpwnam(self.run_as)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    # ---- lifecycle --------------------------------------------------------------------------
    def init(self):
        """initdb with both roles' passwords set; writes postgresql.conf and pg_hba.conf."""
        self.bindir = self.bindir or find_bindir()
        self.run_as = server_user()
        os.makedirs(self.base_dir, exist_ok=True)
        os.chmod(self.base_dir, 0o755)
        if len(self.socket_dir) > 80 or not self._server_can_reach(self.base_dir):
            self._set_run_dir(tempfile.mkdtemp(prefix='fleetops-pg-', dir='/tmp'))
        self._prepare_run_dir()
        if self.port is None:
            self.port = free_port()
        self.superuser_password = self.superuser_password or secrets.token_urlsafe(18)
        self.monitor_password = self.monitor_password or secrets.token_urlsafe(18)
        pwfile = os.path.join(self.run_dir, '.pwfile')
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as handle:
            handle.write(self.superuser_password + '\n')
        self._chown(pwfile)
        try:
            self._run('initdb', '-D', self.data_dir, '-U', self.superuser, '--pwfile', pwfile,
                      '--auth=scram-sha-256', '-E', 'UTF8', '--no-locale', '--no-sync')
        finally:
            os.unlink(pwfile)
        self._write_config()
        self._save_state()

    def _write_config(self):
        settings = dict(self.settings)
        settings['port'] = self.port
        settings['unix_socket_directories'] = self.socket_dir
        lines = ['# written by tests/support/pgcluster.py']
        for name, value in settings.items():
            if isinstance(value, bool):
                value = 'on' if value else 'off'
            lines.append('%s = %s' % (name, value if isinstance(value, int) else
                                      _pg_quote_literal(value)))
        with open(os.path.join(self.data_dir, 'postgresql.conf'), 'a') as handle:
            handle.write('\n'.join(lines) + '\n')
        hba = [
            'local all all scram-sha-256',
            'host all all 127.0.0.1/32 scram-sha-256',
            'local replication all scram-sha-256',
            'host replication all 127.0.0.1/32 scram-sha-256',
        ] + self.hba_extra
        with open(os.path.join(self.data_dir, 'pg_hba.conf'), 'w') as handle:
            handle.write('\n'.join(hba) + '\n')

    @property
    def pid(self):
        """PID of the postmaster, or None when it is not running."""
        try:
            with open(os.path.join(self.data_dir, 'postmaster.pid')) as handle:
                pid = int(handle.readline().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    @property
    def running(self):
        if self.bindir is None:
            return False
        return self._run('pg_ctl', 'status', '-D', self.data_dir, check=False).returncode == 0

    def start(self, timeout=60):
        """initdb when needed, start the server, create the monitoring role. Idempotent."""
        if not self.initialized:
            self.init()
            fresh = True
        else:
            fresh = False
        if self.running:
            return self
        self._run('pg_ctl', 'start', '-D', self.data_dir, '-l', self.log_file, '-w',
                  '-t', str(timeout), timeout=timeout + 10)
        if fresh:
            self._bootstrap()
        return self

    def _bootstrap(self):
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                # pg_stat_statements keeps utility statements verbatim: not this one.
                cur.execute('SET pg_stat_statements.track_utility = off')
                cur.execute("CREATE ROLE %s LOGIN PASSWORD %s IN ROLE pg_monitor" % (
                    self.monitor_user, _pg_quote_literal(self.monitor_password)))
                cur.execute('CREATE EXTENSION IF NOT EXISTS pg_stat_statements')
        finally:
            conn.close()

    def stop(self, mode='fast'):
        if self.bindir and self.running:
            self._run('pg_ctl', 'stop', '-D', self.data_dir, '-m', mode, '-w', '-t', '60')

    def restart(self):
        self.stop()
        return self.start()

    def reload(self):
        self._run('pg_ctl', 'reload', '-D', self.data_dir)

    def destroy(self):
        """Stop the server (even if SIGSTOPped) and delete its directory."""
        pid = self.pid
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
            try:
                self.stop(mode='immediate')
            except (PgClusterError, subprocess.TimeoutExpired):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.run_dir, ignore_errors=True)
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def set(self, **settings):
        """ALTER SYSTEM the given settings and reload (settings needing a restart: restart())."""
        for name, value in settings.items():
            self.execute('ALTER SYSTEM SET %s = %s' % (name, _pg_quote_literal(value)))
        self.reload()

    # ---- connecting -------------------------------------------------------------------------
    def conninfo(self, user=None, dbname='postgres'):
        user = user or self.superuser
        return dict(host=self.host, port=self.port, user=user, dbname=dbname,
                    password=self.password_of(user), connect_timeout=10)

    def password_of(self, user):
        if user == self.superuser:
            return self.superuser_password
        if user == self.monitor_user:
            return self.monitor_password
        return None

    def connect(self, user=None, dbname='postgres', autocommit=True, **kwargs):
        """A psycopg2 connection (autocommit by default) as the superuser or the given role."""
        import psycopg2  # the test environment always has it (requirements-dev.txt)
        params = self.conninfo(user, dbname)
        params.update(kwargs)
        conn = psycopg2.connect(**params)
        conn.autocommit = autocommit
        return conn

    def execute(self, sql, params=None, dbname='postgres', user=None):
        """Run one statement in its own connection; returns the rows (or None)."""
        conn = self.connect(user=user, dbname=dbname)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else None
        finally:
            conn.close()

    def login_args(self, monitor=False, **extra):
        """Connection options for fleetops.runbook PostgreSQL modules."""
        user = self.monitor_user if monitor else self.superuser
        args = dict(login_host=self.host, login_port=self.port, login_user=user,
                    login_password=self.password_of(user), login_db='postgres')
        args.update(extra)
        return args

    def env(self, monitor=False):
        """libpq environment variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE)."""
        user = self.monitor_user if monitor else self.superuser
        return {'PGHOST': self.host, 'PGPORT': str(self.port), 'PGUSER': user,
                'PGPASSWORD': self.password_of(user), 'PGDATABASE': 'postgres'}

    # ---- replication ------------------------------------------------------------------------
    def create_standby(self, base_dir, slot=None, settings=None):
        """A streaming standby of this cluster made with pg_basebackup -R, started."""
        standby = PgCluster(base_dir, settings=dict(self.settings, **(settings or {})),
                            superuser=self.superuser, monitor_user=self.monitor_user)
        standby.bindir = self.bindir
        standby.run_as = server_user()
        standby.superuser_password = self.superuser_password
        standby.monitor_password = self.monitor_password
        standby.port = free_port()
        os.makedirs(standby.base_dir, exist_ok=True)
        if len(standby.socket_dir) > 80 or not standby._server_can_reach(standby.base_dir):
            standby._set_run_dir(tempfile.mkdtemp(prefix='fleetops-pg-', dir='/tmp'))
        standby._prepare_run_dir()
        passfile = os.path.join(standby.run_dir, '.pgpass')
        fd = os.open(passfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, 'w') as handle:
            handle.write('%s:%s:*:%s:%s\n' % (
                self.host, self.port, self.superuser, self.superuser_password))
        standby._chown(passfile)
        args = ['-D', standby.data_dir, '-h', self.host, '-p', str(self.port),
                '-U', self.superuser, '-R', '-X', 'stream', '--no-sync', '-c', 'fast']
        if slot:
            args += ['-S', slot, '-C']
        cmd = standby._cmd('pg_basebackup', *args)
        if standby.run_as:
            cmd = cmd[:4] + ['env', 'PGPASSFILE=%s' % passfile] + cmd[4:]
        # libpq prefers PGPASSWORD (and PGUSER...) from the caller's environment to the passfile.
        env = dict((k, v) for k, v in os.environ.items() if not k.startswith('PG'))
        env['PGPASSFILE'] = passfile
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd='/', timeout=120,
                              check=False, env=env)
        if proc.returncode != 0:
            raise PgClusterError('pg_basebackup failed: %s' % proc.stderr[-2000:])
        # The copied configuration names the primary's port and socket: point them at ours.
        with open(os.path.join(standby.data_dir, 'postgresql.conf'), 'a') as handle:
            handle.write("port = %d\nunix_socket_directories = %s\n" % (
                standby.port, _pg_quote_literal(standby.socket_dir)))
        standby._save_state()
        standby._run('pg_ctl', 'start', '-D', standby.data_dir, '-l', standby.log_file, '-w',
                     '-t', '60', timeout=70)
        return standby

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.destroy()

    def __repr__(self):
        return '<PgCluster %s port=%s>' % (self.base_dir, self.port)


def new_cluster(parent=None, prefix='fleetops-pg-', **kwargs):
    """A not-yet-started cluster in a fresh directory under ``parent`` (default /tmp).

    The directory name stays short: unix socket paths are limited to about 100 characters.
    """
    base = tempfile.mkdtemp(prefix=prefix, dir=parent or '/tmp')
    return PgCluster(base, **kwargs)


def write_inventory(cluster, path, monitor=True, group='postgres'):
    """An Ansible inventory with ``localhost`` in ``group`` and the connection as group vars."""
    import yaml
    user = cluster.monitor_user if monitor else cluster.superuser
    inventory = {
        group: {
            'hosts': {'localhost': None},
            'vars': {
                'pg_login_host': cluster.host,
                'pg_login_port': cluster.port,
                'pg_login_user': user,
                'pg_login_password': cluster.password_of(user),
                'pg_login_db': 'postgres',
            },
        },
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w') as handle:
        handle.write('---\n# Written by tests/support/pgcluster.py: the throwaway demo PostgreSQL.\n')
        yaml.safe_dump(inventory, handle, default_flow_style=False, sort_keys=False)


DEMO_SQL = [
    # Autovacuum is off for this table, as someone once switched it off "for the bulk load":
    # its dead tuples pile up, and pg_health's dead_tuples check has something to show.
    "CREATE TABLE IF NOT EXISTS demo_orders (id bigserial PRIMARY KEY, customer int NOT NULL,"
    " amount numeric(10, 2) NOT NULL, note text, created timestamptz NOT NULL DEFAULT now())"
    " WITH (autovacuum_enabled = false)",
    "INSERT INTO demo_orders (customer, amount, note) SELECT g % 977, (g % 5000) / 7.0,"
    " repeat('x', 40) FROM generate_series(1, 150000) g",
    "CREATE INDEX IF NOT EXISTS demo_orders_customer ON demo_orders (customer)",
    "UPDATE demo_orders SET note = 'updated' WHERE id % 2 = 0",
    "ANALYZE demo_orders",
    "CREATE SEQUENCE IF NOT EXISTS demo_ticket_seq AS integer MAXVALUE 100000",
    "SELECT setval('demo_ticket_seq', 42000)",
]


def load_demo(cluster):
    """Some tables, load and deliberately slow statements for the demo report."""
    conn = cluster.connect()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('demo_orders') IS NOT NULL")
            loaded = cur.fetchone()[0]
            if not loaded:
                for sql in DEMO_SQL:
                    cur.execute(sql)
                # The monitoring role reads sequences only where it is granted (see pg_health).
                cur.execute('GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO %s' % cluster.monitor_user)
            for dummy in range(20):
                cur.execute('SELECT customer, sum(amount) FROM demo_orders WHERE customer = %s '
                            'GROUP BY customer', (secrets.randbelow(977),))
            cur.execute('SELECT count(*) FROM demo_orders o1 JOIN demo_orders o2 USING (customer) '
                        'WHERE o1.id < 3000')
            # Deliberately slow statements: above the 1000 ms line the runbook uses.
            cur.execute('SELECT pg_sleep(1.2), count(*) FROM demo_orders')
            cur.execute('SELECT pg_sleep(1.5) /* nightly report */')
    finally:
        conn.close()


def _parse_set(values):
    settings = {}
    for item in values or ():
        name, sep, value = item.partition('=')
        if not sep:
            raise SystemExit('--set expects name=value, got %r' % item)
        settings[name] = int(value) if value.isdigit() else value
    return settings


def main(argv=None):
    parser = argparse.ArgumentParser(description='Throwaway PostgreSQL cluster for tests and demo.')
    sub = parser.add_subparsers(dest='action', required=True)
    start = sub.add_parser('start', help='initdb if needed and start (idempotent)')
    start.add_argument('dir')
    start.add_argument('--port', type=int)
    start.add_argument('--set', action='append', metavar='NAME=VALUE',
                       help='a server setting (only used by the first start)')
    stop = sub.add_parser('stop', help='stop the cluster')
    stop.add_argument('dir')
    stop.add_argument('--destroy', action='store_true', help='also delete the directory')
    env = sub.add_parser('env', help='print export lines for libpq (PGHOST, PGPORT, ...)')
    env.add_argument('dir')
    env.add_argument('--monitor', action='store_true', help='the monitoring role, not superuser')
    inv = sub.add_parser('inventory', help='write an Ansible inventory for the cluster')
    inv.add_argument('dir')
    inv.add_argument('file')
    inv.add_argument('--superuser', action='store_true', help='log in as the superuser')
    demo = sub.add_parser('load-demo', help='create demo tables, load and slow statements')
    demo.add_argument('dir')
    status = sub.add_parser('status', help='exit 0 when the cluster runs')
    status.add_argument('dir')
    sub.add_parser('bindir', help='print the directory of the server binaries (initdb, pg_ctl, pg_config)')
    args = parser.parse_args(argv)

    if args.action == 'bindir':
        try:
            print(find_bindir())
        except PgClusterError as exc:
            print(exc, file=sys.stderr)
            return 1
        return 0

    if args.action == 'start':
        if os.path.exists(os.path.join(args.dir, STATE_FILE)):
            cluster = PgCluster.load(args.dir)
        else:
            cluster = PgCluster(args.dir, port=args.port, settings=_parse_set(args.set))
        was_running = cluster.running
        cluster.start()
        print('PostgreSQL %s on %s:%s (socket %s)%s' % (
            os.path.basename(os.path.dirname(cluster.bindir)), cluster.host, cluster.port,
            cluster.socket_dir, ', already running' if was_running else ''))
        return 0
    if not os.path.exists(os.path.join(args.dir, STATE_FILE)):
        if args.action == 'stop':
            return 0
        print('no cluster in %s' % args.dir, file=sys.stderr)
        return 1
    cluster = PgCluster.load(args.dir)
    if args.action == 'stop':
        if args.destroy:
            cluster.destroy()
        else:
            cluster.stop()
    elif args.action == 'env':
        for name, value in cluster.env(monitor=args.monitor).items():
            print('export %s=%s' % (name, shlex.quote(value)))
    elif args.action == 'inventory':
        write_inventory(cluster, args.file, monitor=not args.superuser)
    elif args.action == 'load-demo':
        load_demo(cluster)
    elif args.action == 'status':
        return 0 if cluster.running else 3
    return 0


if __name__ == '__main__':
    sys.exit(main())
