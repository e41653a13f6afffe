# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The application tier's columns of playbooks/daily_checks.yml (http, containers, services, logs,
redis): each runs on the hosts it applies to and lands in the report and the textfile metrics like
every other column."""

from __future__ import annotations

import datetime
import json
import socket

import yaml

from .harness import REPO
from .http_server import HttpServer
from .redis_server import RedisServer
from .test_daily_checks import NO_THRESHOLDS

PLAYBOOK = REPO / 'playbooks' / 'daily_checks.yml'
LOCAL = {'ansible_connection': 'local', 'ansible_python_interpreter': '{{ ansible_playbook_python }}'}


def statuses(result):
    return dict((check['name'], check['status']) for check in result['checks'])


def write_logs(directory):
    """An access log of 100 requests in the last hour, 10 of them answered 500 and one slow, and an
    application log with 3 ERROR lines."""
    now = datetime.datetime.now(datetime.timezone.utc)
    access = directory / 'access.log'
    with access.open('w') as handle:
        for index in range(100):
            when = (now - datetime.timedelta(minutes=50 - index * 0.4)).strftime('%d/%b/%Y:%H:%M:%S +0000')
            status = 500 if index % 10 == 0 else 200
            handle.write('192.0.2.1 - - [%s] "GET /items HTTP/1.1" %d 10 "-" "t" 0.050\n' % (when, status))
    app_log = directory / 'app.log'
    with app_log.open('w') as handle:
        for index in range(30):
            when = (now - datetime.timedelta(minutes=40 - index)).strftime('%Y-%m-%dT%H:%M:%SZ')
            handle.write('%s %s job %d\n' % (when, 'ERROR' if index % 10 == 0 else 'INFO', index))
    return access, app_log


def test_application_columns(ansible, tmp_path):
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    redis = RedisServer(tmp_path / 'redis').start()
    textfile = tmp_path / 'textfile'
    textfile.mkdir()
    access, app_log = write_logs(tmp_path)
    try:
        with HttpServer() as http:
            host = dict(
                LOCAL,
                daily_checks_resource_thresholds=NO_THRESHOLDS,
                daily_checks_http_endpoints=[{'name': 'api', 'url': http.url('/json'), 'json_field': 'status',
                                              'json_value': 'ok'},
                                             {'name': 'broken', 'url': http.url('/error')}],
                daily_checks_http_probes=2,
                daily_checks_services_listening=['127.0.0.1:%d' % port],
                daily_checks_services_not_listening=['0.0.0.0:%d' % port],
                # An expected container that does not exist: critical, whatever else runs here.
                daily_checks_containers_names=['fleetops-test-never-created'],
                daily_checks_logs_files=[{'path': str(access)}, {'path': str(app_log), 'format': 'plain'}],
                daily_checks_redis_connection={'login_host': '127.0.0.1', 'login_port': redis.port},
                # Both hosts are this machine: only app1 writes the textfile.
                daily_checks_textfile_enabled=True, daily_checks_textfile_dir=str(textfile))
            inventory = tmp_path / 'hosts.yml'
            inventory.write_text(yaml.safe_dump({
                'all': {'hosts': {'app1': host, 'plain': dict(LOCAL, daily_checks_resource_thresholds=NO_THRESHOLDS)}},
                'cache': {'hosts': {'app1': None}}}))
            result = ansible.playbook(PLAYBOOK, inventory=inventory, extra_vars={
                'daily_checks_report_dir': str(tmp_path / 'reports')})
    finally:
        redis.stop()
        listener.close()
    assert result.rc == 0, result
    report = json.loads((tmp_path / 'reports' / 'daily_checks.json').read_text())
    hosts = dict((h['host'], h) for h in report['hosts'])
    app = hosts['app1']['results']

    http = app['http']
    assert http['status'] == 'CRITICAL', http
    availability = dict((c['target'], c['value']) for c in http['checks'] if c['name'] == 'availability')
    assert availability == {'api': 100.0, 'broken': 0.0}, http['checks']

    assert app['services']['status'] == 'OK', app['services']
    assert len(app['services']['checks']) == 2

    containers = app['containers']
    assert containers['status'] == 'CRITICAL', containers
    assert 'fleetops-test-never-created' in json.dumps(containers['checks'])

    logs = app['logs']
    # 10 % answered 5xx: critical against seed 002's 5 %; 3 ERROR lines stay under seed 003's 10.
    assert logs['status'] == 'CRITICAL', logs
    found = dict(((c['name'], c['target']), c) for c in logs['checks'])
    assert found[('rate_5xx', str(access))]['value'] == 10.0
    assert found[('rate_5xx', str(access))]['status'] == 'CRITICAL'
    assert found[('errors', str(app_log))]['value'] == 3
    assert found[('errors', str(app_log))]['status'] == 'OK'
    assert not list(tmp_path.glob('*.state'))

    assert app['redis']['status'] == 'OK', app['redis']
    assert statuses(app['redis'])['ping_time'] == 'OK'

    # A host without any of them: the columns say they did not apply, nothing ran there.
    plain = hosts['plain']['results']
    for column in ('http', 'containers', 'services', 'logs', 'redis'):
        assert plain[column].get('status') is None, (column, plain[column])

    metrics = (textfile / 'fleetops_daily_checks.prom').read_text()
    for source in ('http_check', 'service_check', 'redis_check', 'container_check', 'log_stats'):
        assert 'source="%s"' % source in metrics, source
