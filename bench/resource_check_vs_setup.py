# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: fleetops.runbook.resource_check against ansible.builtin.setup on localhost.

Both run as tasks of one playbook, interleaved, several times; ansible.builtin.ping runs too, as
Ansible's own per-task floor. Prints the median task time of each and the ratios, gross and net
of the floor. Goal: resource_check <= 0.5 x setup.

    python bench/resource_check_vs_setup.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

TASKS = {
    'setup': {'ansible.builtin.setup': {}},
    'resource_check': {'fleetops.runbook.resource_check': {'fail_on': 'never'}},
    'ping': {'ansible.builtin.ping': {}},
}


def parse_time(text):
    return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%S.%fZ')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=15)
    args = parser.parse_args()

    tasks = []
    for i in range(args.repeat):
        for name, body in TASKS.items():
            tasks.append(dict(body, name='%s %d' % (name, i)))
    play = [{'name': 'bench', 'hosts': 'localhost', 'gather_facts': False, 'tasks': tasks}]
    with tempfile.TemporaryDirectory() as tmp:
        playbook = Path(tmp) / 'bench.yml'
        playbook.write_text(json.dumps(play))
        env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK='ansible.posix.json',
                   ANSIBLE_CONFIG=str(REPO / 'ansible.cfg'),
                   ANSIBLE_COLLECTIONS_PATH=str(REPO / '.cache' / 'collections'))
        proc = subprocess.run(['ansible-playbook', '-i', str(REPO / 'inventory' / 'demo'), str(playbook)],
                              cwd=str(REPO), env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        return 1
    data = json.loads(proc.stdout[proc.stdout.index('{'):])
    times = dict((name, []) for name in TASKS)
    for task in data['plays'][0]['tasks']:
        name = task['task']['name'].rsplit(' ', 1)[0]
        duration = task['task']['duration']
        times[name].append((parse_time(duration['end']) - parse_time(duration['start'])).total_seconds())
    # The first round pays for cold caches; leave it out.
    median = dict((name, statistics.median(values[1:] or values)) for name, values in times.items())
    floor = median['ping']
    print('repetitions: %d (first round left out)' % args.repeat)
    for name in TASKS:
        print('%-15s median %.3f s  (min %.3f, max %.3f)' % (
            name, median[name], min(times[name]), max(times[name])))
    print('ratio resource_check / setup, task time:            %.2f (goal <= 0.5)' % (
        median['resource_check'] / median['setup']))
    net_setup = max(median['setup'] - floor, 1e-6)
    print('ratio resource_check / setup, above the ping floor: %.2f' % (
        max(median['resource_check'] - floor, 0.0) / net_setup))
    return 0


if __name__ == '__main__':
    sys.exit(main())
