# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/daily_checks.yml over a small fleet with healthy, critical, broken and unreachable hosts."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re
import socket
import subprocess

import jsonschema
import pytest
import yaml

from .emergency_helpers import only_reports
from .harness import REPO

PLAYBOOK = REPO / 'playbooks' / 'daily_checks.yml'
SCHEMA = json.loads((REPO / 'docs' / 'fleet_report.schema.json').read_text())


# Every resource threshold switched off: a host that is OK however loaded the test machine is.
NO_THRESHOLDS = dict((name, {'warning': '', 'critical': ''}) for name in (
    'cpu', 'iowait', 'steal', 'load1_per_core', 'load5_per_core', 'load15_per_core', 'memory',
    'swap', 'disk', 'inodes'))


def closed_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture(scope='module')
def fleet_inventory(tmp_path_factory):
    local = {'ansible_connection': 'local', 'ansible_python_interpreter': '{{ ansible_playbook_python }}'}
    inventory = {'all': {'hosts': {
        'healthy': dict(local, daily_checks_resource_thresholds=NO_THRESHOLDS),
        'critical': dict(local, daily_checks_resource_thresholds=dict(
            NO_THRESHOLDS, memory={'critical': '@0:100'})),
        'warning': dict(local, daily_checks_resource_thresholds=dict(
            NO_THRESHOLDS, memory={'warning': '@0:100', 'critical': ''})),
        'broken': dict(local, daily_checks_resource_thresholds={'memory': {'warning': 'abc'}}),
        # Nothing listens there: the host is unreachable at once.
        'gone': {'ansible_host': '127.0.0.1', 'ansible_port': closed_port(), 'ansible_connection': 'ssh',
                 'ansible_user': 'nobody', 'ansible_ssh_common_args': '-o BatchMode=yes'},
    }}}
    path = tmp_path_factory.mktemp('fleet') / 'hosts.yml'
    path.write_text(yaml.safe_dump(inventory))
    return path


def run(ansible, inventory, report_dir, **extra):
    variables = {'daily_checks_report_dir': str(report_dir)}
    variables.update(extra)
    return ansible.playbook(PLAYBOOK, inventory=inventory, extra_vars=variables)


def test_whole_fleet_is_reported(ansible, fleet_inventory, tmp_path):
    result = run(ansible, fleet_inventory, tmp_path)
    assert result.rc == 0, result
    report = json.loads((tmp_path / 'daily_checks.json').read_text())
    jsonschema.validate(report, SCHEMA)
    hosts = {h['host']: h for h in report['hosts']}
    assert set(hosts) == {'healthy', 'critical', 'warning', 'broken', 'gone'}
    assert hosts['critical']['status'] == 'CRITICAL'
    assert hosts['warning']['status'] == 'WARNING'
    assert hosts['broken']['status'] == 'UNKNOWN'
    assert "thresholds.memory.warning: 'abc'" in hosts['broken']['summary']
    assert hosts['gone']['status'] == 'UNKNOWN' and hosts['gone']['reachable'] is False
    assert 'unreachable' in hosts['gone']['summary']
    # In the order people act on: CRITICAL, UNKNOWN, WARNING, then the rest.
    order = [h['host'] for h in report['hosts']]
    assert order.index('critical') < order.index('broken') < order.index('warning')
    assert order.index('critical') < order.index('gone') < order.index('warning')
    assert report['headline'] == {'status': 'CRITICAL', 'text': '1 critical, 2 unknown, 1 warning of 5 hosts'}
    assert report['counts']['CRITICAL'] == 1 and report['counts']['UNKNOWN'] == 2
    assert report['failing_hosts'] == []
    assert report['duration_seconds'] > 0
    cell = hosts['critical']['results']['resource']
    assert any(c['name'] == 'memory' and c['status'] == 'CRITICAL' for c in cell['checks'])
    page = (tmp_path / 'daily_checks.html').read_text()
    for host in hosts:
        assert '<td class="h">%s</td>' % host in page
    assert page.index('<td class="h">critical<') < page.index('<td class="h">broken<') < page.index('<td class="h">warning<')
    assert len(list((tmp_path / 'history').glob('daily_checks-*.json'))) == 1
    # Nothing changed on any host.
    assert all(stats.get('changed', 0) == 0 for stats in result.stats.values())


def test_play_fails_at_the_end_when_asked(ansible, fleet_inventory, tmp_path):
    result = run(ansible, fleet_inventory, tmp_path, daily_checks_fail_on='critical')
    assert result.rc != 0
    report = json.loads((tmp_path / 'daily_checks.json').read_text())
    assert sorted(report['failing_hosts']) == ['broken', 'critical', 'gone']
    outcome = [r for t in result.tasks if t['task']['name'].endswith('Write the fleet report')
               for r in t['hosts'].values()][0]
    assert outcome['failed'] is True
    assert 'critical' in outcome['msg'] and 'daily_checks.html' in outcome['msg']


def test_check_mode_reports_and_changes_nothing(ansible, tmp_path):
    result = ansible.playbook(PLAYBOOK, extra_vars={'daily_checks_report_dir': str(tmp_path)}, check=True)
    assert result.rc == 0, result
    assert json.loads((tmp_path / 'daily_checks.json').read_text())['host_count'] == 1
    assert result.stats['localhost'].get('changed', 0) == 0
    assert only_reports(tmp_path, 'daily_checks')


@pytest.mark.parametrize('variables, needle', [
    ({'daily_checks_fail_on': 'sometimes'}, 'daily_checks_fail_on'),
    ({'daily_checks_enabled': ['resource', 'astrology']}, 'daily_checks_enabled'),
    ({'daily_checks_resource_cpu_interval': 'soon'}, 'daily_checks_resource_cpu_interval'),
])
def test_extra_vars_are_validated_before_any_check(ansible, tmp_path, variables, needle):
    result = ansible.playbook(PLAYBOOK, extra_vars=dict(variables, daily_checks_report_dir=str(tmp_path)))
    assert result.rc != 0
    failed = [t for t in result.tasks if t['hosts'].get('localhost', {}).get('failed')]
    assert failed and 'Validating arguments against arg spec' in failed[0]['task']['name']
    assert needle in failed[0]['hosts']['localhost']['msg']
    assert not (tmp_path / 'daily_checks.json').exists()


def test_textfile_metrics_for_the_node_exporter(ansible, tmp_path):
    textfile_dir = tmp_path / 'textfile'
    textfile_dir.mkdir()
    result = ansible.playbook(PLAYBOOK, extra_vars={
        'daily_checks_report_dir': str(tmp_path / 'reports'), 'daily_checks_textfile_enabled': True,
        'daily_checks_textfile_dir': str(textfile_dir),
        'daily_checks_resource_thresholds': {'memory': {'critical': '@0:100'}}})
    assert result.rc == 0, result
    lines = (textfile_dir / 'fleetops_daily_checks.prom').read_text().splitlines()
    assert lines.count('# TYPE fleetops_check_status gauge') == 1
    assert 'fleetops_check_status{source="resource_check",check="memory"} 2' in lines
    assert any(line.startswith('fleetops_check_value{source="resource_check",check="disk",target="/"')
               for line in lines)
    stamp = [line for line in lines if line.startswith('fleetops_daily_checks_last_run_timestamp_seconds ')]
    assert len(stamp) == 1 and float(stamp[0].split()[1]) > 1.7e9
    for line in lines:
        assert line.startswith('#') or re.match(r'^[a-z_]+(\{.*\})? [-+0-9.eE]+$', line), line


def test_textfile_failure_does_not_stop_the_report(ansible, tmp_path):
    result = ansible.playbook(PLAYBOOK, extra_vars={
        'daily_checks_report_dir': str(tmp_path), 'daily_checks_textfile_enabled': True,
        'daily_checks_textfile_dir': str(tmp_path / 'missing')})
    assert result.rc == 0, result
    assert (tmp_path / 'daily_checks.json').exists()


def test_one_grouped_notification_per_run(ansible, fleet_inventory, tmp_path, hook):
    notify_vars = dict(daily_checks_fail_on='critical', daily_checks_notify_enabled=True,
                       daily_checks_notify_state_path=str(tmp_path / 'notify-state.json'),
                       daily_checks_notify_routing={'critical': ['slack'], 'warning': ['slack']},
                       daily_checks_notify_slack={'webhook_url': hook.url, 'allow_insecure_http': True})
    result = run(ansible, fleet_inventory, tmp_path, **notify_vars)
    assert result.rc != 0, 'the run still fails at its end'
    assert len(hook.requests) == 1, hook.payloads
    body = json.dumps(hook.payloads[0])
    for host in ('critical', 'warning', 'broken', 'gone'):
        assert host in body
    assert 'healthy' not in body
    assert (tmp_path / 'daily_checks.json').exists()
    # The same findings again within the window: not sent twice.
    run(ansible, fleet_inventory, tmp_path, **notify_vars)
    assert len(hook.requests) == 1


def test_no_notification_when_all_is_ok(ansible, tmp_path, hook):
    result = ansible.playbook(PLAYBOOK, extra_vars={
        'daily_checks_report_dir': str(tmp_path), 'daily_checks_notify_enabled': True,
        'daily_checks_notify_state_path': str(tmp_path / 'notify-state.json'),
        'daily_checks_resource_thresholds': NO_THRESHOLDS,
        'daily_checks_notify_routing': {'critical': ['slack'], 'warning': ['slack'], 'info': ['slack']},
        'daily_checks_notify_slack': {'webhook_url': hook.url, 'allow_insecure_http': True}})
    assert result.rc == 0, result
    assert hook.requests == []


def test_backup_column_on_hosts_that_keep_backups(ansible, pg_cluster, tmp_path):
    pg_cluster.execute('DROP DATABASE IF EXISTS daily_backup_demo')
    pg_cluster.execute('CREATE DATABASE daily_backup_demo')
    pg_cluster.execute('CREATE TABLE orders AS SELECT g AS id, md5(g::text) AS note '
                       'FROM generate_series(1, 5000) g', dbname='daily_backup_demo')
    backups = tmp_path / 'backups'
    backups.mkdir()
    dump = backups / 'daily_backup_demo_20260101T030000Z.dump'
    env = dict(os.environ, **pg_cluster.env())
    subprocess.run([os.path.join(pg_cluster.bindir, 'pg_dump'), '-Fc', '-d', 'daily_backup_demo',
                    '-f', str(dump)], env=env, check=True)
    digest = hashlib.sha256(dump.read_bytes()).hexdigest()
    (backups / (dump.name + '.sha256')).write_text('%s  %s\n' % (digest, dump.name))
    variables = {'daily_checks_report_dir': str(tmp_path / 'reports'),
                 'daily_checks_backup_path': str(backups), 'daily_checks_backup_max_age': '1h',
                 'daily_checks_resource_thresholds': NO_THRESHOLDS}
    result = ansible.playbook(PLAYBOOK, extra_vars=variables)
    assert result.rc == 0, result
    host = json.loads((tmp_path / 'reports' / 'daily_checks.json').read_text())['hosts'][0]
    assert host['results']['backup']['status'] == 'OK', host['results']['backup']
    assert host['status'] == 'OK'

    # A byte flipped in the middle of the dump: the report says CRITICAL for the backup.
    data = bytearray(dump.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dump.write_bytes(bytes(data))
    result = ansible.playbook(PLAYBOOK, extra_vars=variables)
    assert result.rc == 0, result
    host = json.loads((tmp_path / 'reports' / 'daily_checks.json').read_text())['hosts'][0]
    assert host['results']['backup']['status'] == 'CRITICAL'
    assert host['status'] == 'CRITICAL'
    pg_cluster.execute('DROP DATABASE daily_backup_demo')


def test_postgres_columns_on_the_postgres_group(ansible, pg_cluster, tmp_path):
    # checkpoints_requested is server-wide and driven by the other tests' CREATE DATABASE.
    local = {'ansible_connection': 'local', 'ansible_python_interpreter': '{{ ansible_playbook_python }}',
             'daily_checks_resource_thresholds': NO_THRESHOLDS,
             'daily_checks_pg_health_thresholds': {'checkpoints_requested': {'warning': '', 'critical': ''}}}
    good = pg_cluster.login_args(monitor=True)
    bad = dict(good, login_password='not-the-password')
    inventory = {'all': {'children': {'postgres': {'hosts': {
        'db-good': dict(local, daily_checks_postgres_connection=good),
        'db-badpass': dict(local, daily_checks_postgres_connection=bad),
    }}}, 'hosts': {'web': dict(local)}}}
    path = tmp_path / 'hosts.yml'
    path.write_text(yaml.safe_dump(inventory))
    result = run(ansible, path, tmp_path / 'reports')
    assert result.rc == 0, result
    report = json.loads((tmp_path / 'reports' / 'daily_checks.json').read_text())
    assert report['checks'] == ['resource', 'pg_health', 'slow_queries', 'backup', 'cert', 'http', 'containers',
                                'services', 'logs', 'redis']
    hosts = {h['host']: h for h in report['hosts']}
    good_cell = hosts['db-good']['results']['pg_health']
    assert good_cell['status'] in ('OK', 'WARNING'), good_cell
    names = {c['name'] for c in good_cell['checks']}
    assert {'connection_time', 'backends', 'cache_hit_ratio'} <= names, names
    assert hosts['db-good']['results']['slow_queries']['status'] in ('OK', 'WARNING')
    bad_cell = hosts['db-badpass']['results']['pg_health']
    assert bad_cell['status'] == 'CRITICAL'
    assert 'password' in bad_cell['summary'].lower() or 'authentication' in bad_cell['summary'].lower()
    assert hosts['db-badpass']['status'] == 'CRITICAL'
    # The PostgreSQL checks do not apply to a host outside the postgres group.
    assert hosts['web']['results']['pg_health']['status'] is None
    assert good['login_password'] not in result.stdout


def make_certificate(directory, days):
    """A self-signed certificate that expires in ``days`` days (negative: expired)."""
    import datetime
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'www.example.test')])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=400))
            .not_valid_after(now + datetime.timedelta(days=days))
            .sign(key, hashes.SHA256()))
    path = directory / ('cert-%d.pem' % days)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(path)


def test_cert_column(ansible, tmp_path):
    certificates = [{'path': make_certificate(tmp_path, 20)}]
    result = ansible.playbook(PLAYBOOK, extra_vars={
        'daily_checks_report_dir': str(tmp_path / 'reports'), 'daily_checks_resource_thresholds': NO_THRESHOLDS,
        'daily_checks_cert_certificates': certificates})
    assert result.rc == 0, result
    host = json.loads((tmp_path / 'reports' / 'daily_checks.json').read_text())['hosts'][0]
    assert host['results']['cert']['status'] == 'WARNING', host['results']['cert']
    expiry = [c for c in host['results']['cert']['checks'] if c['name'] == 'cert_expiry']
    assert expiry and 19 <= expiry[0]['value'] <= 20


# --- the plugins the daily checks use, on input they must refuse or report --------------------

def test_fleet_report_reports_a_host_missing_from_the_inventory_as_unknown(ansible, tmp_path):
    ok = {'status': 'OK', 'summary': 'OK: 1 OK', 'checks': []}
    run = ansible.tasks([
        {'name': 'result', 'ansible.builtin.set_fact': {'__daily_checks_resources': ok}},
        {'name': 'report', 'ignore_errors': True, 'fleetops.runbook.fleet_report': {
            'checks': ['resources'], 'hosts': ['localhost', 'db-typo'], 'dest': str(tmp_path),
            'fail_on': 'critical'}},
    ])
    res = run.task('report')
    assert 'Traceback' not in json.dumps(res), res
    assert res['hosts'] == {'localhost': 'OK', 'db-typo': 'UNKNOWN'}, res
    assert res['summaries'] == {'db-typo': 'UNKNOWN: this host is not in the inventory'}
    assert res['failed'] is True and res['failing_hosts'] == ['db-typo']
    assert res['results']['db-typo'] == {'daily_checks': {
        'failed': True, 'msg': 'UNKNOWN: this host is not in the inventory'}}
    report = json.loads((tmp_path / 'daily_checks.json').read_text())
    jsonschema.validate(report, SCHEMA)
    assert [h['host'] for h in report['hosts']] == ['db-typo', 'localhost']
    assert 'db-typo' in run.stdout or 'db-typo' in run.stderr


def test_non_finite_numbers_are_refused_naming_the_option(ansible, tmp_path):
    cases = [
        ('report started inf', 'fleetops.runbook.fleet_report',
         {'checks': ['x'], 'hosts': ['localhost'], 'dest': str(tmp_path / 'r'), 'started': float('inf')},
         ['started', 'finite']),
        ('report started nan', 'fleetops.runbook.fleet_report',
         {'checks': ['x'], 'hosts': ['localhost'], 'dest': str(tmp_path / 'r'), 'started': float('nan')},
         ['started', 'finite']),
        ('evidence since inf', 'fleetops.runbook.incident_evidence',
         {'incident_id': 'inc1', 'dest': str(tmp_path / 'e'), 'since_hours': float('inf')}, ['since_hours', 'finite']),
        ('evidence since nan', 'fleetops.runbook.incident_evidence',
         {'incident_id': 'inc1', 'dest': str(tmp_path / 'e'), 'since_hours': float('nan')}, ['since_hours', 'finite']),
        ('evidence since huge', 'fleetops.runbook.incident_evidence',
         {'incident_id': 'inc1', 'dest': str(tmp_path / 'e'), 'since_hours': 1e300}, ['since_hours', 'at most']),
        ('audit since nan', 'fleetops.runbook.security_audit',
         {'checks': ['access_log'], 'since_hours': float('nan')}, ['since_hours', 'finite']),
        ('audit threshold inf', 'fleetops.runbook.security_audit',
         {'checks': ['access_log'], 'thresholds': {'auth_errors': {'warning': float('inf')}}},
         ['thresholds.auth_errors.warning', 'finite']),
    ]
    run = ansible.tasks([{'name': name, 'ignore_errors': True, module: args}
                         for name, module, args, words in cases])
    for name, module, args, words in cases:
        res = run.task(name)
        assert res.get('failed') is True, (name, res)
        assert 'Traceback' not in res['msg'] and 'MODULE FAILURE' not in res['msg'], res['msg']
        for word in words:
            assert word in res['msg'], (name, res['msg'])
    assert not (tmp_path / 'r').exists() and not (tmp_path / 'e').exists()


def test_security_audit_reports_a_directory_or_fifo_as_access_log_unknown(ansible, tmp_path):
    log = tmp_path / 'access.log'
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime('%d/%b/%Y:%H:%M:%S +0000')
    log.write_text(''.join('192.0.2.%d - - [%s] "GET / HTTP/1.1" %s 12 "-" "curl"\n' % (i, stamp, code)
                           for i, code in ((1, '200'), (2, '401'), (3, '403'))))
    fifo = tmp_path / 'fifo.log'
    os.mkfifo(str(fifo))   # opening it for reading would wait for a writer forever
    folder = tmp_path / 'old.log'
    folder.mkdir()
    res = ansible.module('fleetops.runbook.security_audit', {
        'checks': ['access_log'], 'access_logs': [str(tmp_path / '*.log')], 'fail_on': 'never'}, timeout=600)
    assert res['status'] == 'UNKNOWN', res
    by_target = dict((c['target'], c) for c in res['checks'])
    assert by_target[str(fifo)]['status'] == 'UNKNOWN'
    assert by_target[str(fifo)]['message'] == 'access_logs: %s is a FIFO, not a regular file' % fifo
    assert by_target[str(folder)]['message'] == 'access_logs: %s is a directory, not a regular file' % folder
    counted = by_target[str(log)]
    assert counted['value'] == 2 and counted['status'] == 'OK', counted
    assert res['access_log']['requests'] == 3


def test_incident_evidence_skips_a_fifo_among_auth_logs_naming_it(ansible, tmp_path):
    fifo = tmp_path / 'auth.log'
    os.mkfifo(str(fifo))   # opening it for reading would wait for a writer forever
    res = ansible.module('fleetops.runbook.incident_evidence', {
        'incident_id': 'inc-fifo', 'dest': str(tmp_path / 'evidence'), 'collect': ['auth'],
        'auth_log_paths': [str(fifo)]}, timeout=600)
    assert res.get('failed') is not True, res
    assert {'source': str(fifo), 'reason': 'auth_log_paths: %s is a FIFO, not a regular file' % fifo} in res['not_collected']
