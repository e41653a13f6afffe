# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The application tier's columns of playbooks/daily_checks.yml (http, containers, services, logs,
redis): each runs on the hosts it applies to and lands in the report and the textfile metrics like
every other column."""

from __future__ import annotations

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


def test_application_columns(ansible, tmp_path):
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    redis = RedisServer(tmp_path / 'redis').start()
    textfile = tmp_path / 'textfile'
    textfile.mkdir()
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

    assert app['redis']['status'] == 'OK', app['redis']
    assert statuses(app['redis'])['ping_time'] == 'OK'

    # A host without any of them: the columns say they did not apply, nothing ran there.
    plain = hosts['plain']['results']
    for column in ('http', 'containers', 'services', 'redis'):
        assert plain[column].get('status') is None, (column, plain[column])

    metrics = (textfile / 'fleetops_daily_checks.prom').read_text()
    for source in ('http_check', 'service_check', 'redis_check', 'container_check'):
        assert 'source="%s"' % source in metrics, source
