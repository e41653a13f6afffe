# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark: fleetops.runbook.http_check against ansible.builtin.uri on a loopback server.

The same probes, 10 endpoints x 20 probes, made once as one http_check task and once as a loop of
ansible.builtin.uri tasks (one item per probe), in one playbook on localhost. Prints both task
times and the ratio. Goal: http_check >= 10x faster.

It also times the two ways a module can make a request in-process, Python's http.client (what
http_check uses) and ansible.module_utils.urls.open_url, over the same loopback requests.

    make bench-http, or in the checkout: python -m bench.http_check_vs_uri [--endpoints 10] [--probes 20]
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import sys
import tempfile
import time
from pathlib import Path

from tests.integration.harness import AnsibleRunner
from tests.integration.http_server import HttpServer

REPO = Path(__file__).resolve().parents[1]


def parse_time(text):
    return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%S.%fZ')


def transports(server, count):
    """Seconds for ``count`` requests with http.client and with open_url (new connection each)."""
    from ansible.module_utils.urls import open_url
    start = time.perf_counter()
    for dummy in range(count):
        conn = http.client.HTTPConnection('127.0.0.1', server.port, timeout=10)
        conn.request('GET', '/fast', headers={'Connection': 'close'})
        conn.getresponse().read()
        conn.close()
    plain = time.perf_counter() - start
    start = time.perf_counter()
    for dummy in range(count):
        open_url(server.url('/fast'), timeout=10, use_proxy=False).read()
    ansible = time.perf_counter() - start
    return plain, ansible


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--endpoints', type=int, default=10)
    parser.add_argument('--probes', type=int, default=20)
    args = parser.parse_args()
    with HttpServer() as server:
        urls = [server.url('/fast?endpoint=%d' % i) for i in range(args.endpoints)]
        plain, ansible = transports(server, args.endpoints * args.probes)
        tasks = [
            {'name': 'http_check', 'fleetops.runbook.http_check': {
                'endpoints': [{'url': url, 'name': 'e%d' % i} for i, url in enumerate(urls)],
                'probes': args.probes, 'fail_on': 'never'}},
            {'name': 'uri', 'ansible.builtin.uri': {'url': '{{ item }}', 'status_code': 200, 'timeout': 10},
             'loop': [url for url in urls for dummy in range(args.probes)], 'loop_control': {'label': '{{ item }}'}},
        ]
        with tempfile.TemporaryDirectory() as tmp:
            run = AnsibleRunner(tmp).tasks(tasks, timeout=3600)
    if run.rc != 0 or run.data is None:
        sys.stderr.write(run.stdout[-3000:] + run.stderr[-3000:])
        return 1
    data = run.data
    times = {}
    for task in data['plays'][0]['tasks']:
        duration = task['task']['duration']
        times[task['task']['name']] = (parse_time(duration['end']) - parse_time(duration['start'])).total_seconds()
    result = data['plays'][0]['tasks'][0]['hosts']['localhost']
    probes = sum(e['probes'] for e in result['endpoints'])
    print('probes: %d endpoints x %d = %d (http_check made %d, availability %s)' % (
        args.endpoints, args.probes, args.endpoints * args.probes, probes,
        sorted(set(e['availability'] for e in result['endpoints']))))
    print('http_check, one task:        %.2f s' % times['http_check'])
    print('ansible.builtin.uri, a loop: %.2f s' % times['uri'])
    print('ratio uri / http_check:      %.1f x (goal >= 10)' % (times['uri'] / times['http_check']))
    print('in-process, %d requests: http.client %.3f s, open_url %.3f s (open_url / http.client %.2f)' % (
        args.endpoints * args.probes, plain, ansible, ansible / plain))
    return 0


if __name__ == '__main__':
    sys.exit(main())
