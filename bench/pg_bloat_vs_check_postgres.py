# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: fleetops.runbook.pg_bloat against `check_postgres --action=bloat`.

One throwaway cluster (tests/support/pgcluster.py) with a database of 2,000 tables (and their primary key
indexes), made and analyzed as in bench/pg_health_vs_check_postgres.py. Both peers run as plain
processes, interleaved and repeated, on the same database as the same role: pg_bloat with only
the bloat checks and no size floor (every table and index estimated), the way AnsiballZ runs it;
check_postgres with its bloat action, which also estimates every table and index. A third run
adds pg_bloat's unused index check, which check_postgres does not have.

Prints medians (the first round is left out: cold caches) and the ratio; nothing is asserted.

    make bench-bloat, or in the checkout: python -m bench.pg_bloat_vs_check_postgres [--repeat 7] [--tables 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.pg_health_vs_check_postgres import (
    BIG_DB,
    REPO,
    new_cluster,
    prepare,
)

MODULE = 'ansible_collections.fleetops.runbook.plugins.modules.pg_bloat'


def module_command(tmp, cluster, name, **args):
    path = Path(tmp) / ('%s.json' % name)
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, 'w') as handle:
        json.dump({'ANSIBLE_MODULE_ARGS': dict(cluster.login_args(), login_db=BIG_DB,
                                               fail_on='never', min_size=0, min_wasted=0,
                                               limit=20, **args)}, handle)
    return [sys.executable, '-m', MODULE, str(path)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=7)
    parser.add_argument('--tables', type=int, default=2000)
    args = parser.parse_args()
    if not shutil.which('check_postgres'):
        print('check_postgres is not installed (make bench-bloat installs it)', file=sys.stderr)
        return 1

    cluster = new_cluster(prefix='fleetops-bloatbench-', settings={'max_locks_per_transaction': 256})
    times = {'pg_bloat': [], 'check_postgres': [], 'pg_bloat_all_checks': []}
    examined = {}
    try:
        cluster.start()
        prepare(cluster, args.tables)
        with tempfile.TemporaryDirectory() as tmp:
            commands = {
                'pg_bloat': module_command(tmp, cluster, 'bloat',
                                           checks=['table_bloat', 'index_bloat']),
                'pg_bloat_all_checks': module_command(tmp, cluster, 'all'),
                'check_postgres': ['check_postgres', '-H', cluster.host, '-p', str(cluster.port),
                                   '-u', cluster.superuser, '--db=%s' % BIG_DB, '--action=bloat'],
            }
            env = dict(os.environ, PYTHONPATH=str(REPO / '.cache' / 'collections'),
                       PGPASSWORD=cluster.superuser_password)
            for dummy in range(args.repeat):
                for name, command in commands.items():
                    started = time.monotonic()
                    proc = subprocess.run(command, env=env, capture_output=True, text=True,
                                          check=False)
                    times[name].append(time.monotonic() - started)
                    if name.startswith('pg_bloat'):
                        if proc.returncode != 0:
                            sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
                            return 1
                        result = json.loads(proc.stdout)
                        examined[name] = result['status']
                    elif proc.returncode > 3:
                        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
                        return 1
                    else:
                        examined[name] = proc.stdout.split('\n', 1)[0][:100]
    finally:
        cluster.destroy()

    median = dict((name, statistics.median(values[1:] or values)) for name, values in times.items())
    print('%d tables, repetitions: %d (first round left out)' % (args.tables, args.repeat))
    for name in ('pg_bloat', 'check_postgres', 'pg_bloat_all_checks'):
        print('%-20s median %.3f s  (min %.3f, max %.3f)  %s' % (
            name, median[name], min(times[name]), max(times[name]), examined.get(name, '')))
    print('speedup check_postgres / pg_bloat (bloat checks only): %.1fx' % (
        median['check_postgres'] / median['pg_bloat']))
    print('speedup check_postgres / pg_bloat (with unused indexes): %.1fx' % (
        median['check_postgres'] / median['pg_bloat_all_checks']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
