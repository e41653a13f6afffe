# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: the daily checks of a fleet against Ansible's own per-host floor.

An inventory of N hosts, all this machine over the local connection, runs three plays, each as
one ansible-playbook process, interleaved, several times:

  floor          ansible.builtin.ping on every host (what any playbook costs per host)
  resource_check the module alone on every host
  daily_checks   playbooks/daily_checks.yml with the resource column, writing the fleet report

Prints the median wall time of each, per host, and the ratios: what the role adds over the
module (skipped columns, the report of N hosts), and the whole against the floor. Goal: the
daily checks cost little more than the floor plus the module itself.

    python bench/daily_checks_fleet.py [--hosts 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def write_inventory(path, count):
    hosts = dict(('h%04d' % i, None) for i in range(count))
    path.write_text(json.dumps({'all': {
        'hosts': hosts,
        'vars': {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}}}))


def run(args, env):
    started = time.monotonic()
    proc = subprocess.run(['ansible-playbook'] + args, cwd=str(REPO), env=env,
                          capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit('ansible-playbook %s failed' % ' '.join(args))
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--hosts', type=int, default=100)
    parser.add_argument('--repeat', type=int, default=3)
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        inventory = tmp / 'inventory.json'
        write_inventory(inventory, options.hosts)
        plays = {}
        for name, task in (('floor', {'ansible.builtin.ping': {}}),
                           ('resource_check', {'fleetops.runbook.resource_check': {
                               'fail_on': 'never'}})):
            path = tmp / (name + '.yml')
            path.write_text(json.dumps([{'name': name, 'hosts': 'all', 'gather_facts': False,
                                         'tasks': [dict(task, name=name)]}]))
            plays[name] = [str(path), '-i', str(inventory)]
        plays['daily_checks'] = [
            str(REPO / 'playbooks' / 'daily_checks.yml'), '-i', str(inventory),
            '-e', json.dumps({'daily_checks_enabled': ['resource'],
                              'daily_checks_report_dir': str(tmp / 'reports')})]
        env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / 'ansible.cfg'),
                   ANSIBLE_COLLECTIONS_PATH=str(REPO / '.cache' / 'collections'),
                   ANSIBLE_STDOUT_CALLBACK='ansible.builtin.null')
        times = dict((name, []) for name in plays)
        run(plays['floor'], env)  # warm the caches
        for dummy in range(options.repeat):
            for name, args in plays.items():
                times[name].append(run(args, env))
        report = json.loads((tmp / 'reports' / 'daily_checks.json').read_text())
        assert report['host_count'] == options.hosts, report['host_count']

    median = dict((name, statistics.median(values)) for name, values in times.items())
    print('hosts: %d, forks: from ansible.cfg, repetitions: %d' % (options.hosts, options.repeat))
    for name in plays:
        print('%-15s median %7.2f s  %6.1f ms per host  (runs: %s)' % (
            name, median[name], 1000.0 * median[name] / options.hosts,
            ', '.join('%.2f' % value for value in times[name])))
    print('ratio daily_checks / floor:          %.2f' % (median['daily_checks'] / median['floor']))
    print('ratio daily_checks / resource_check: %.2f (what the role and its report add)' % (
        median['daily_checks'] / median['resource_check']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
