# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: fleetops.runbook.pg_health against check_postgres, and on 10,000 tables against 10.

One throwaway cluster (tests/support/pgcluster.py), one playbook, tasks interleaved and repeated:

1. pg_health with every check, and check_postgres running the equivalent actions one after the
   other (as a Nagios host would), from one shell task; both on the same database, as the same
   role. Goal: pg_health at least 10x faster.
2. pg_health with every check on a database of 10,000 tables and on one of 10 tables (table-level
   checks with no size floor, so every table qualifies). Goal: at most 3x.

ansible.builtin.ping runs too: Ansible's own per-task floor. Prints medians (the first round is
left out: cold caches) and the ratios, gross and net of that floor. Ratios are printed, never
asserted.

    make bench-postgres, or in the checkout: python -m bench.pg_health_vs_check_postgres [--repeat 7] [--tables 10000]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.support.pgcluster import new_cluster

REPO = Path(__file__).resolve().parents[1]

# check_postgres actions covering pg_health's checks (check_postgres has no uptime, in_recovery or
# requested-checkpoint action; `checkpoint` and `dbstats` stand in for the last two families).
CHECK_POSTGRES_ACTIONS = [
    ('connection', []),
    ('version', ['--warning={version}']),
    ('backends', []),
    ('txn_idle', ['--warning=60 seconds', '--critical=300 seconds']),
    ('txn_time', ['--warning=300 seconds', '--critical=1800 seconds']),
    ('query_time', ['--warning=60 seconds', '--critical=300 seconds']),
    ('locks', []),
    ('txn_wraparound', []),
    ('autovac_freeze', []),
    ('replication_slots', ['--warning=1GB', '--critical=5GB']),
    ('archive_ready', []),
    ('hitratio', []),
    ('database_size', ['--warning=100GB', '--critical=200GB']),
    ('bloat', []),
    ('last_vacuum', []),
    ('last_analyze', []),
    ('sequence', []),
    ('prepared_txns', []),
    ('checkpoint', ['--datadir={datadir}', '--warning=3600', '--critical=7200']),
    ('dbstats', []),
]

SMALL_DB = 'bench_small'
BIG_DB = 'bench_big'


def parse_time(text):
    return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%S.%fZ')


MAKE_TABLES = (
    "DO $$ BEGIN FOR i IN %d..%d LOOP EXECUTE format("
    "'CREATE TABLE t%%s (id int PRIMARY KEY, v text);"
    " INSERT INTO t%%s SELECT g, md5(g::text) FROM generate_series(1, 1 + mod(%%s, 50)) g', i, i, i);"
    " END LOOP; END $$")


def prepare(cluster, tables):
    started = time.monotonic()
    for db in (SMALL_DB, BIG_DB):
        cluster.execute('CREATE DATABASE %s' % db)
    cluster.execute(MAKE_TABLES % (1, 10), dbname=SMALL_DB)
    for first in range(1, tables + 1, 1000):
        cluster.execute(MAKE_TABLES % (first, min(first + 999, tables)), dbname=BIG_DB)
    for db in (SMALL_DB, BIG_DB):
        cluster.execute('VACUUM ANALYZE', dbname=db)
    print('created 10 and %d tables in %.0f s' % (tables, time.monotonic() - started))


def check_postgres_script(cluster, db):
    version = cluster.execute("SELECT current_setting('server_version')")[0][0].split()[0]
    base = ['check_postgres', '-H', cluster.host, '-p', str(cluster.port), '-u', cluster.superuser,
            '--db=%s' % db]
    lines = []
    for action, extra in CHECK_POSTGRES_ACTIONS:
        args = [a.format(version=version, datadir=cluster.data_dir) for a in extra]
        # Non-zero exit codes are statuses (1 warning, 2 critical), not failures of the run.
        lines.append(' '.join(shlex.quote(a) for a in base + ['--action=%s' % action] + args)
                     + ' >/dev/null || test $? -le 3')
    return '\n'.join(lines)


def direct(cluster, repeat):
    """Both peers as plain processes, without Ansible: the module as AnsiballZ would run it."""
    times = {'pg_health': [], 'check_postgres': []}
    with tempfile.TemporaryDirectory() as tmp:
        args = Path(tmp) / 'args.json'
        fd = os.open(str(args), os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, 'w') as handle:
            json.dump({'ANSIBLE_MODULE_ARGS': dict(cluster.login_args(), login_db=SMALL_DB,
                                                   fail_on='never', table_min_size=0)}, handle)
        module_cmd = [sys.executable, '-m', 'ansible_collections.fleetops.runbook.plugins.modules.pg_health',
                      str(args)]
        module_env = dict(os.environ, PYTHONPATH=str(REPO / '.cache' / 'collections'))
        script = check_postgres_script(cluster, SMALL_DB)
        script_env = dict(os.environ, PGPASSWORD=cluster.superuser_password)
        for dummy in range(repeat):
            started = time.monotonic()
            subprocess.run(module_cmd, env=module_env, capture_output=True, check=True)
            times['pg_health'].append(time.monotonic() - started)
            started = time.monotonic()
            subprocess.run(['bash', '-e', '-c', script], env=script_env, capture_output=True, check=True)
            times['check_postgres'].append(time.monotonic() - started)
    return dict((name, statistics.median(values[1:] or values)) for name, values in times.items())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=7)
    parser.add_argument('--tables', type=int, default=10000)
    args = parser.parse_args()
    if not shutil.which('check_postgres'):
        print('check_postgres is not installed (make bench-postgres installs it)', file=sys.stderr)
        return 1

    cluster = new_cluster(prefix='fleetops-pgbench-', settings={'max_locks_per_transaction': 256})
    try:
        cluster.start()
        prepare(cluster, args.tables)
        plain = direct(cluster, args.repeat)
        login = cluster.login_args()
        everything = dict(fail_on='never', table_min_size=0)
        tasks = []
        for i in range(args.repeat):
            tasks += [
                {'name': 'pg_health %d' % i, 'fleetops.runbook.pg_health':
                    dict(login, login_db=SMALL_DB, **everything)},
                {'name': 'check_postgres %d' % i, 'ansible.builtin.shell':
                    {'cmd': check_postgres_script(cluster, SMALL_DB)},
                 'environment': {'PGPASSWORD': '{{ bench_password }}'}, 'no_log': True},
                {'name': 'pg_health_big %d' % i, 'fleetops.runbook.pg_health':
                    dict(login, login_db=BIG_DB, **everything)},
                {'name': 'ping %d' % i, 'ansible.builtin.ping': {}},
            ]
        play = [{'name': 'bench', 'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}]
        with tempfile.TemporaryDirectory() as tmp:
            playbook = Path(tmp) / 'bench.yml'
            playbook.write_text(json.dumps(play))
            extra = Path(tmp) / 'vars.json'
            fd = os.open(str(extra), os.O_WRONLY | os.O_CREAT, 0o600)
            with os.fdopen(fd, 'w') as handle:
                json.dump({'bench_password': cluster.superuser_password}, handle)
            env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK='ansible.posix.json',
                       ANSIBLE_CONFIG=str(REPO / 'ansible.cfg'),
                       ANSIBLE_COLLECTIONS_PATH=str(REPO / '.cache' / 'collections'))
            proc = subprocess.run(['ansible-playbook', '-i', str(REPO / 'inventory' / 'demo'),
                                   str(playbook), '-e', '@%s' % extra],
                                  cwd=str(REPO), env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
            return 1
        data = json.loads(proc.stdout[proc.stdout.index('{'):])
        times = {}
        statuses = {}
        for task in data['plays'][0]['tasks']:
            name = task['task']['name'].rsplit(' ', 1)[0]
            duration = task['task']['duration']
            times.setdefault(name, []).append(
                (parse_time(duration['end']) - parse_time(duration['start'])).total_seconds())
            result = task['hosts']['localhost']
            if 'status' in result:
                statuses[name] = result['status']
                if name == 'pg_health_big':
                    examined = len(result['details'].get('tables', []))
                    statuses[name] += ' (%d tables examined)' % examined
    finally:
        cluster.destroy()

    median = dict((name, statistics.median(values[1:] or values)) for name, values in times.items())
    floor = median['ping']
    print('repetitions: %d (first round left out); %d check_postgres actions per round' % (
        args.repeat, len(CHECK_POSTGRES_ACTIONS)))
    for name in ('pg_health', 'check_postgres', 'pg_health_big', 'ping'):
        print('%-15s median %.3f s  (min %.3f, max %.3f)%s' % (
            name, median[name], min(times[name]), max(times[name]),
            '  status ' + statuses[name] if name in statuses else ''))

    def net(name):
        return max(median[name] - floor, 1e-3)

    print('speedup check_postgres / pg_health, task time:            %.1fx (goal >= 10x)' % (
        median['check_postgres'] / median['pg_health']))
    print('speedup check_postgres / pg_health, above the ping floor: %.1fx' % (
        net('check_postgres') / net('pg_health')))
    print('speedup check_postgres / pg_health, plain processes:      %.1fx (%.3f s against %.3f s)' % (
        plain['check_postgres'] / plain['pg_health'], plain['check_postgres'], plain['pg_health']))
    print('ratio %d tables / 10 tables, task time:                 %.2f (goal <= 3)' % (
        args.tables, median['pg_health_big'] / median['pg_health']))
    print('ratio %d tables / 10 tables, above the ping floor:      %.2f' % (
        args.tables, net('pg_health_big') / net('pg_health')))
    return 0


if __name__ == '__main__':
    sys.exit(main())
