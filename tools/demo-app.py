# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writes the application tier of `make demo`: an inventory that gives localhost the http,
containers, services, logs and redis columns, and the logs those columns read.

    python tools/demo-app.py DIR --http-port N --redis-port N --pg-inventory FILE [--container-project P]

The servers themselves (the small HTTP server, the demo Redis, the demo container, the demo
PostgreSQL) are started by make; this only describes them. The access log holds a known mix: a few
slow requests and 5xx answers, so the report shows a warning beside OK cells.
"""

import argparse
import datetime
import os
import random

import yaml


def write_logs(directory):
    """An nginx combined access log with $request_time, and an application log with ERROR lines,
    both stamped within the last hour so every window takes them in."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    rng = random.Random(4)
    access = os.path.join(directory, 'access.log')
    with open(access, 'w', encoding='utf-8') as handle:
        for index in range(600):
            when = now - datetime.timedelta(seconds=3000 - index * 5)
            status = 500 if index % 40 == 0 else (404 if index % 25 == 0 else 200)
            latency = 2.6 if index % 15 == 0 else rng.uniform(0.02, 0.4)
            handle.write('192.0.2.%d - - [%s] "GET /api/items/%d HTTP/1.1" %d 512 "-" "demo" %.3f\n' % (
                index % 7 + 1, when.strftime('%d/%b/%Y:%H:%M:%S +0000'), index % 12, status, latency))
    app = os.path.join(directory, 'app.log')
    with open(app, 'w', encoding='utf-8') as handle:
        for index in range(200):
            when = now - datetime.timedelta(seconds=3000 - index * 15)
            level = 'ERROR' if index % 50 == 0 else 'INFO'
            handle.write('%s %s worker: job %d done\n' % (when.strftime('%Y-%m-%dT%H:%M:%SZ'), level, index))
    return access, app


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('directory')
    parser.add_argument('--http-port', type=int, required=True)
    parser.add_argument('--redis-port', type=int, required=True)
    parser.add_argument('--pg-inventory', required=True)
    parser.add_argument('--container-project', default='')
    args = parser.parse_args()

    with open(args.pg_inventory, encoding='utf-8') as handle:
        pg_port = yaml.safe_load(handle)['postgres']['vars']['pg_login_port']
    access, app = write_logs(os.path.join(args.directory, 'logs'))
    base = 'http://127.0.0.1:%d' % args.http_port
    host = {
        'daily_checks_http_endpoints': [
            {'name': 'api', 'url': base + '/json', 'json_field': 'status', 'json_value': 'ok'},
            {'name': 'home', 'url': base + '/fast'},
        ],
        'daily_checks_redis_connection': {'login_host': '127.0.0.1', 'login_port': args.redis_port},
        # The demo PostgreSQL answers on loopback only, as a database host of seed 001 should.
        'daily_checks_services_listening': ['127.0.0.1:%d' % pg_port],
        'daily_checks_services_not_listening': ['0.0.0.0:%d' % pg_port],
        'daily_checks_logs_files': [{'path': access, 'format': 'access'},
                                    {'path': app, 'format': 'plain'}],
    }
    if args.container_project:
        host['daily_checks_containers_project'] = args.container_project
    inventory = {'all': {'hosts': {'localhost': host}}, 'cache': {'hosts': {'localhost': None}}}
    path = os.path.join(args.directory, 'inventory.yml')
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write('---\n# Written by tools/demo-app.py: the application tier of make demo.\n')
        yaml.safe_dump(inventory, handle, default_flow_style=False, sort_keys=False)
    print(path)


if __name__ == '__main__':
    main()
