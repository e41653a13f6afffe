# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: the daily checks of a fleet against Ansible's own per-host floor, through
ansible-runner (the way AWX runs a job).

For each fleet size (default 50 and 200 hosts, all this machine over the local connection), two
jobs run through ansible_runner.run with the same settings (private data dir, inventory,
environment), interleaved, several times:

  floor          ansible.builtin.ping on every host (what any job costs per host)
  daily_checks   playbooks/daily_checks.yml with the resource column, writing the fleet report

Prints the median wall time of each, per host, the ratio daily_checks / floor, the time the
fleet report took to build (its task's duration in the job events) per host, which should stay
flat from the smallest to the largest fleet, and where the daily checks job spends its time: the
span of each task in the job events (from its start to the next task's), median over the runs,
per host. Timings are printed, never asserted.

    python bench/daily_checks_fleet.py [--hosts 50 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import ansible_runner

REPO = Path(__file__).resolve().parents[1]


def write_inventory(path, count):
    hosts = dict(('h%04d' % i, None) for i in range(count))
    path.write_text(json.dumps({'all': {
        'hosts': hosts,
        'vars': {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable}}}))


def task_spans(events):
    """Seconds from each task's start to the next task's (or the end of the run), summed by task name."""
    starts = [(datetime.datetime.fromisoformat(e['created']).timestamp(), e['event_data'].get('task', ''))
              for e in events if e['event'] in ('playbook_on_task_start', 'playbook_on_stats')]
    spans = collections.OrderedDict()
    for (started, name), (following, dummy) in zip(starts, starts[1:]):
        spans[name] = spans.get(name, 0.0) + following - started
    return spans


def run_job(private, playbook, extravars, env, ident):
    started = time.monotonic()
    result = ansible_runner.run(private_data_dir=str(private), project_dir=str(REPO), playbook=str(playbook),
                                extravars=extravars, envvars=env, quiet=True, ident=ident)
    elapsed = time.monotonic() - started
    if result.rc != 0:
        sys.stderr.write(result.stdout.read()[-3000:])
        raise SystemExit('%s failed (rc %s)' % (playbook, result.rc))
    events = list(result.events)
    report = [e['event_data'] for e in events if e['event'] == 'runner_on_ok'
              and e['event_data'].get('task', '').endswith('Write the fleet report')]
    return elapsed, (report[0].get('duration') if report else None), task_spans(events)


def measure(count, repeat, env):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / 'inventory').mkdir()
        write_inventory(tmp / 'inventory' / 'hosts.json', count)
        ping = tmp / 'ping.yml'
        ping.write_text(json.dumps([{'name': 'floor', 'hosts': 'all', 'gather_facts': False,
                                     'tasks': [{'name': 'floor', 'ansible.builtin.ping': {}}]}]))
        jobs = {
            'floor': (ping, {}),
            'daily_checks': (REPO / 'playbooks' / 'daily_checks.yml',
                             {'daily_checks_enabled': ['resource'], 'daily_checks_report_dir': str(tmp / 'reports')}),
        }
        times = dict((name, []) for name in jobs)
        builds = []
        spans = collections.OrderedDict()
        run_job(tmp, ping, {}, env, 'warm')
        for index in range(repeat):
            for name, (playbook, extravars) in jobs.items():
                elapsed, build, task_times = run_job(tmp, playbook, extravars, env, '%s-%d' % (name, index))
                times[name].append(elapsed)
                if build is not None:
                    builds.append(build)
                if name == 'daily_checks':
                    for task, seconds in task_times.items():
                        spans.setdefault(task, []).append(seconds)
        report = json.loads((tmp / 'reports' / 'daily_checks.json').read_text())
        assert report['host_count'] == count, report['host_count']
    return times, builds, spans


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--hosts', type=int, nargs='+', default=[50, 200])
    parser.add_argument('--repeat', type=int, default=3)
    options = parser.parse_args()
    env = dict((k, v) for k, v in os.environ.items() if k.startswith(('ANSIBLE_', 'PATH')))
    env.update(ANSIBLE_CONFIG=str(REPO / 'ansible.cfg'), ANSIBLE_COLLECTIONS_PATH=str(REPO / '.cache' / 'collections'))
    print('ansible-runner jobs, forks from ansible.cfg, repetitions: %d' % options.repeat)
    per_host_build = {}
    for count in options.hosts:
        times, builds, spans = measure(count, options.repeat, env)
        median = dict((name, statistics.median(values)) for name, values in times.items())
        for name, values in times.items():
            print('%4d hosts  %-13s median %7.2f s  %6.1f ms per host  (runs: %s)' % (
                count, name, median[name], 1000.0 * median[name] / count, ', '.join('%.2f' % v for v in values)))
        print('%4d hosts  ratio daily_checks / floor: %.2f' % (count, median['daily_checks'] / median['floor']))
        if builds:
            per_host_build[count] = 1000.0 * statistics.median(builds) / count
            print('%4d hosts  fleet report build: median %.3f s, %.2f ms per host' % (
                count, statistics.median(builds), per_host_build[count]))
        for task, values in spans.items():
            print('%4d hosts    %7.1f ms per host  %s' % (count, 1000.0 * statistics.median(values) / count, task[:100]))
    if len(per_host_build) > 1:
        low, high = min(per_host_build), max(per_host_build)
        print('report build per host, %d vs %d hosts: %.2f' % (high, low, per_host_build[high] / per_host_build[low]))
    return 0


if __name__ == '__main__':
    sys.exit(main())
