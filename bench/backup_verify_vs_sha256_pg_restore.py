# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Full verification of a >= 1 GiB custom-format dump against its two named peers.

backup_verify's engine reads the archive once: it checksums it (SHA-256) and decodes every data
block (what ``pg_restore -f /dev/null`` reads) in the same pass. The peers each do one of those
jobs: ``sha256sum FILE`` and ``pg_restore -f /dev/null FILE``, run separately in the same run.
The goal is a full verification within 1.1 x the slower peer.

The dump is generated once (a throwaway cluster, real rows, ``pg_dump -Fc`` with default
compression) and kept under .cache/bench-backup/. Every program runs on a warm page cache; each
timing is the best of ``--repeat`` runs.

    make bench-backup, or in the checkout: PYTHONPATH=.cache/collections python -m bench.backup_verify_vs_sha256_pg_restore
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

GIB = 1024 ** 3


def make_dump(path, min_size):
    from tests.support.pgcluster import new_cluster  # pylint: disable=import-outside-toplevel
    cluster = new_cluster(prefix='fleetops-bench-backup-')
    cluster.start()
    try:
        cluster.execute('CREATE DATABASE bench')
        cluster.execute(
            'CREATE TABLE ledger (id bigint PRIMARY KEY, account text, ref text, memo text, '
            'amount numeric(14,2), booked timestamptz)', dbname='bench')
        env = dict(os.environ, **cluster.env())
        batch = 4000000
        start = 1
        while True:
            cluster.execute(
                "INSERT INTO ledger SELECT g, 'acct-' || (g %% 100003), md5(g::text), "
                "md5((g * 7)::text) || ' ' || md5((g * 13)::text), (g %% 100000) / 100.0, "
                "'2024-01-01'::timestamptz + g * interval '1 second' "
                "FROM generate_series(%s, %s) g", (start, start + batch - 1), dbname='bench')
            start += batch
            if start - 1 < 16000000:
                continue
            tmp = path.with_suffix('.tmp')
            subprocess.run(['pg_dump', '-Fc', '-f', str(tmp), 'bench'], env=env, check=True)
            size = tmp.stat().st_size
            print('  %d rows -> %.2f GiB dump' % (start - 1, size / GIB), flush=True)
            if size >= min_size:
                tmp.rename(path)
                return
    finally:
        cluster.destroy()


def timed(cmd, repeat):
    best = None
    for dummy in range(repeat):
        started = time.monotonic()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        elapsed = time.monotonic() - started
        best = elapsed if best is None else min(best, elapsed)
    return best


def verify(path):
    """One full verification with the collection's engine; prints its result as JSON."""
    from ansible_collections.fleetops.runbook.plugins.module_utils.backup_verify import (  # noqa
        Verifier)  # pylint: disable=import-outside-toplevel
    verifier = Verifier({'path': path, 'checksum_missing': 'ok', 'max_age': '3650d'})
    report, extra = verifier.result()
    backup = extra['backups'][0]
    print(json.dumps({'status': report.status, 'sha256': backup['sha256'],
                      'decoded_bytes': backup['data']['decoded_bytes'],
                      'rows': sum(backup['data']['rows'].values())}))
    return 0 if report.status == 'OK' else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--dump', default=str(ROOT / '.cache' / 'bench-backup' / 'ledger.dump'))
    parser.add_argument('--min-size', type=float, default=1.0, help='GiB (default 1)')
    parser.add_argument('--repeat', type=int, default=3)
    parser.add_argument('--verify', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.verify:
        return verify(args.verify)
    dump = Path(args.dump)
    if not dump.exists() or dump.stat().st_size < args.min_size * GIB:
        dump.parent.mkdir(parents=True, exist_ok=True)
        print('generating a custom-format dump of at least %.1f GiB in %s' % (args.min_size, dump))
        make_dump(dump, args.min_size * GIB)
    size = dump.stat().st_size
    pg_restore = subprocess.run(['bash', '-c', 'command -v pg_restore'], capture_output=True,
                                text=True, check=True).stdout.strip()
    subprocess.run(['cat', str(dump)], stdout=subprocess.DEVNULL, check=True)  # warm the cache

    check = subprocess.run([sys.executable, __file__, '--verify', str(dump)], capture_output=True,
                           text=True, check=False)
    outcome = json.loads(check.stdout)
    sha = subprocess.run(['sha256sum', str(dump)], capture_output=True, text=True,
                         check=True).stdout.split()[0]
    assert outcome['status'] == 'OK', outcome
    assert outcome['sha256'] == sha, (outcome['sha256'], sha)

    t_sha = timed(['sha256sum', str(dump)], args.repeat)
    t_restore = timed([pg_restore, '-f', '/dev/null', str(dump)], args.repeat)
    t_verify = timed([sys.executable, __file__, '--verify', str(dump)], args.repeat)
    slower = max(t_sha, t_restore)
    peer = 'pg_restore -f /dev/null' if t_restore >= t_sha else 'sha256sum'
    print('dump: %s, %.2f GiB, %.2f GiB of table data decoded, %d rows' % (
        dump, size / GIB, outcome['decoded_bytes'] / GIB, outcome['rows']))
    print('best of %d runs, warm page cache, %d CPUs' % (args.repeat, os.cpu_count()))
    print('  sha256sum FILE                 %7.2f s  %6.0f MiB/s' % (t_sha, size / t_sha / 2**20))
    print('  pg_restore -f /dev/null FILE   %7.2f s  %6.0f MiB/s' % (
        t_restore, size / t_restore / 2**20))
    print('  sum of both                    %7.2f s' % (t_sha + t_restore))
    print('  backup_verify (both, one pass) %7.2f s  %6.0f MiB/s' % (
        t_verify, size / t_verify / 2**20))
    print('ratio backup_verify / slower peer (%s): %.2f x (goal <= 1.10 x)' % (
        peer, t_verify / slower))
    return 0


if __name__ == '__main__':
    sys.exit(main())
