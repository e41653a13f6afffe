# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""log_stats on a >= 1 GiB access log against GoAccess parsing the same file, and its incremental run.

1. An access log in the combined format with ``$request_time`` as the last field is generated once
   (random clients, paths, statuses and latencies; seeded) and kept under .cache/bench-log-stats/.
2. log_stats reads it the way the module does, with a fresh state file (the window since the last
   run; the first run reads the whole file): the module's engine
   (plugins/module_utils/log_stats.py) called directly, so the timing is the engine's and not
   Ansible's start-up. ``--ansible`` times the same run as one ansible-playbook task as well.
3. ``goaccess FILE --log-format=COMBINED -o OUT.json`` (Debian's goaccess) parses the same file.
4. 1 % more lines are appended and log_stats runs again with the state of step 2: the
   incremental run, against the first.

Goals: log_stats at least as fast as GoAccess (ratio goaccess / log_stats >= 1); the incremental
run at most 5 % of the first. The page cache is warmed before each timed run; each timing is the
best of ``--repeat`` runs. Wall-clock and CPU times (user + system) are both printed, and the ratios
of both: on a shared machine the CPU times are the fairer comparison. The appended lines are cut off again at the end (and at the start of a
later run), so the cached log keeps its size.

    make bench-log-stats, or in the checkout: PYTHONPATH=.cache/collections python -m bench.log_stats_vs_goaccess
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MIB = 1024 * 1024
CACHE = ROOT / '.cache' / 'bench-log-stats'
STATUSES = [200] * 85 + [204, 301, 302, 304] + [404] * 5 + [400, 403] + [500, 502, 503]
AGENTS = ['Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0',
          'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0 Safari/537.36',
          'curl/7.88.1', 'python-requests/2.31.0', 'Go-http-client/1.1']


def generate_lines(rng, count, start):
    out = []
    clients = ['10.%d.%d.%d' % (rng.randrange(4), rng.randrange(256), rng.randrange(256)) for dummy in range(5000)]
    paths = ['/api/v1/items/%d' % i for i in range(2000)] + ['/static/app.%d.js' % i for i in range(50)] + ['/', '/login']
    when = start
    stamp = time.strftime('%d/%b/%Y:%H:%M:%S +0000', time.gmtime(when))
    for i in range(count):
        if i % 50 == 0:
            when += 1
            stamp = time.strftime('%d/%b/%Y:%H:%M:%S +0000', time.gmtime(when))
        out.append('%s - - [%s] "%s %s?page=%d HTTP/1.1" %d %d "https://example.test/" "%s" %.3f\n' % (
            rng.choice(clients), stamp, 'GET' if rng.random() < 0.9 else 'POST', rng.choice(paths),
            rng.randrange(100), rng.choice(STATUSES), rng.randrange(200, 50000), rng.choice(AGENTS),
            rng.lognormvariate(-2.5, 1.0)))
    return ''.join(out), when


def ensure_log(size):
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / ('access-%dMiB.log' % (size // MIB))
    meta = path.with_suffix('.json')
    if path.exists() and meta.exists():
        base = json.loads(meta.read_text())['size']
        if path.stat().st_size != base:
            os.truncate(str(path), base)
        return path, base
    print('generating %s (%d MiB, once)' % (path, size // MIB), flush=True)
    rng = random.Random(2026)
    tmp = path.with_suffix('.tmp')
    when = time.time() - 30 * 86400
    with open(str(tmp), 'w') as handle:
        written = 0
        while written < size:
            text, when = generate_lines(rng, 100000, when)
            handle.write(text)
            written += len(text)
    tmp.rename(path)
    meta.write_text(json.dumps({'size': path.stat().st_size, 'end': when}))
    return path, path.stat().st_size


def warm(path):
    with open(str(path), 'rb') as handle:
        while handle.read(16 * MIB):
            pass


def run_engine(path, state_path):
    from ansible_collections.fleetops.runbook.plugins.module_utils import log_stats as engine  # pylint: disable=import-outside-toplevel
    stats = engine.Stats()
    state = engine.StateFile(state_path).load()
    started = time.perf_counter()
    cpu = time.process_time()
    engine.collect(str(path), engine.AccessParser(stats), stats, state)
    state.save()
    figures = {'requests': stats.requests, 'p95': stats.latency.quantile(0.95), 'status_5xx': stats.status_5xx,
               'cpu': time.process_time() - cpu}
    return time.perf_counter() - started, figures


def best(repeat, fn):
    results = [fn() for dummy in range(repeat)]
    return min(results, key=lambda r: r[0])


def run_goaccess(path, out):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(['goaccess', str(path), '--log-format=COMBINED', '-o', out], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    with open(out) as handle:
        general = json.load(handle)['general']
    return elapsed, {'requests': general.get('valid_requests'), 'cpu': cpu}


def run_ansible(path, state_path, workdir):
    playbook = Path(workdir) / 'log_stats.yml'
    task = {'name': 'log_stats',
            'fleetops.runbook.log_stats': {'files': [{'path': str(path)}], 'state_file': state_path, 'fail_on': 'never'}}
    playbook.write_text(json.dumps([{'hosts': 'localhost', 'gather_facts': False, 'tasks': [task]}]))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / '.cache' / 'collections'),
               ANSIBLE_CONFIG=str(ROOT / 'ansible.cfg'))
    started = time.perf_counter()
    subprocess.run(['ansible-playbook', '-i', 'localhost,', '-c', 'local', str(playbook)], check=True, env=env,
                   stdout=subprocess.DEVNULL, cwd=str(ROOT))
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--size-mib', type=int, default=1024, help='size of the generated log (default 1024)')
    parser.add_argument('--repeat', type=int, default=1, help='timed runs of each program; the best counts')
    parser.add_argument('--ansible', action='store_true', help='also time the first run as an Ansible task')
    args = parser.parse_args()
    if not shutil.which('goaccess'):
        sys.exit('goaccess is not installed: make bench-log-stats installs it (Debian package goaccess)')
    path, base = ensure_log(args.size_mib * MIB)
    work = tempfile.mkdtemp(prefix='fleetops-bench-log-stats-')
    try:
        print('log: %s, %.2f GiB' % (path, base / 1024.0 ** 3), flush=True)
        warm(path)

        def first():
            state = os.path.join(work, 'state-first')
            if os.path.exists(state):
                os.unlink(state)
            return run_engine(path, state)
        engine_time, figures = best(args.repeat, first)
        print('log_stats (engine, first run): %.2f s (CPU %.2f s), %d requests, p95 %.3f s' % (
            engine_time, figures['cpu'], figures['requests'], figures['p95']), flush=True)
        warm(path)
        goaccess_time, peer = best(args.repeat, lambda: run_goaccess(path, os.path.join(work, 'goaccess.json')))
        print('goaccess --log-format=COMBINED: %.2f s (CPU %.2f s), %s valid requests' % (
            goaccess_time, peer['cpu'], peer['requests']), flush=True)
        if args.ansible:
            state = os.path.join(work, 'state-ansible')
            warm(path)
            print('log_stats (one Ansible task, first run): %.2f s' % run_ansible(path, state, work), flush=True)

        # The incremental run: 1 % more lines after the first run's state.
        meta = json.loads(path.with_suffix('.json').read_text())
        count = max(1, figures['requests'] // 100)
        text, _end = generate_lines(random.Random(7), count, meta['end'])
        state = os.path.join(work, 'state-first')
        snapshot = open(state, 'rb').read()

        def incremental():
            with open(state, 'wb') as handle:
                handle.write(snapshot)
            return run_engine(path, state)
        try:
            with open(str(path), 'a') as handle:
                handle.write(text)
            warm(path)
            incremental_time, more = best(args.repeat, incremental)
        finally:
            os.truncate(str(path), base)
        assert more['requests'] == count, (more, count)
        print('log_stats incremental run (+%d lines, 1 %%): %.3f s (CPU %.3f s)' % (count, incremental_time, more['cpu']))
        print()
        print('ratio goaccess / log_stats: %.2f wall, %.2f CPU (goal >= 1: log_stats at least as fast)' % (
            goaccess_time / engine_time, peer['cpu'] / figures['cpu']))
        print('incremental / first run: %.2f %% wall, %.2f %% CPU (goal <= 5 %%)' % (
            100.0 * incremental_time / engine_time, 100.0 * more['cpu'] / figures['cpu']))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main()
