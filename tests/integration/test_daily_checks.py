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
        # Its checks cannot run at all: no Python there.
        'broken': dict(local, ansible_python_interpreter='/nonexistent/python3',
                       daily_checks_resource_thresholds=NO_THRESHOLDS),
        # Nothing listens there: the host is unreachable at once.
        'gone': {'ansible_host': '127.0.0.1', 'ansible_port': closed_port(), 'ansible_connection': 'ssh',
                 'ansible_user': 'nobody', 'ansible_ssh_common_args': '-o BatchMode=yes'},
    }}}
    path = tmp_path_factory.mktemp('fleet') / 'hosts.yml'
    path.write_text(yaml.safe_dump(inventory))
    return path


def once(result, name):
    """The result of a run_once task, on whichever host it ran."""
    found = [r for t in result.tasks if t['task']['name'].endswith(name) for r in t['hosts'].values()]
    assert len(found) == 1, (name, found)
    return found[0]


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
    assert 'resource' in hosts['broken']['summary'], hosts['broken']
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
    # The report itself is written without an error; the hosts that reached fail_on fail, each
    # with its own short message, and only they.
    outcome = [r for t in result.tasks if t['task']['name'].endswith('Write the fleet report')
               for r in t['hosts'].values()][0]
    assert not outcome.get('failed'), outcome
    assert outcome['failing_hosts'] == report['failing_hosts']
    failures = dict((host, stats.get('failures', 0)) for host, stats in result.stats.items())
    assert failures == {'healthy': 0, 'warning': 0, 'critical': 1, 'broken': 1, 'gone': 1}, failures
    message = result.task('Fail the hosts that reached daily_checks_fail_on', host='critical')['msg']
    assert message.startswith('CRITICAL, at or above daily_checks_fail_on=critical: ')
    assert 'memory' in message and str(tmp_path / 'daily_checks.html') in message
    assert len(message) < 600, message
    assert 'healthy' not in message


def test_fail_on_output_is_short_with_the_default_callback(ansible, fleet_inventory, tmp_path):
    result = ansible.playbook(PLAYBOOK, inventory=fleet_inventory, callback='ansible.builtin.default',
                              extra_vars={'daily_checks_report_dir': str(tmp_path), 'daily_checks_fail_on': 'critical'})
    assert result.rc != 0
    # Neither the registered results nor the report's mapping of findings are printed.
    assert '"checks"' not in result.stdout and "'checks'" not in result.stdout
    assert 'fatal: [critical]' in result.stdout and 'fatal: [healthy]' not in result.stdout
    assert len(result.stdout) < 12000, len(result.stdout)


def test_a_normal_run_says_where_the_report_is_and_hands_on_the_summary(ansible, fleet_inventory, tmp_path):
    result = ansible.playbook(PLAYBOOK, inventory=fleet_inventory, env={'ANSIBLE_SHOW_CUSTOM_STATS': '1'},
                              extra_vars={'daily_checks_report_dir': str(tmp_path)})
    assert result.rc == 0, result
    said = once(result, 'Say where the report is')['msg']
    assert said == ('Fleet report: %s - 1 critical, 2 unknown, 1 warning of 5 hosts, most urgent CRITICAL'
                    % (tmp_path / 'daily_checks.html')), said
    summary = result.data['global_custom_stats']['daily_checks_summary']
    assert summary['status'] == 'UNKNOWN' and summary['most_urgent'] == 'CRITICAL'
    assert summary['headline'] == '1 critical, 2 unknown, 1 warning of 5 hosts'
    assert summary['counts'] == {'OK': 1, 'WARNING': 1, 'CRITICAL': 1, 'UNKNOWN': 2}
    assert summary['report'] == str(tmp_path / 'daily_checks.html')
    assert summary['failing_hosts'] == [] and summary['fail_on'] == 'never'


@pytest.mark.parametrize('variables, needles', [
    ({'daily_checks_resource_thresholds': {'memroy': {'warning': '80'}}},
     ["daily_checks_resource_thresholds: unknown check 'memroy'"]),
    ({'daily_checks_pg_health_thresholds': {'backends': {'warning': 'lots'}}},
     ["daily_checks_pg_health_thresholds.backends.warning: 'lots' is not a valid range"]),
    ({'daily_checks_backup_max_age': '26 hours'}, ["daily_checks_backup_max_age: '26 hours' is not a duration"]),
    ({'daily_checks_postgres_connection': {'login_port': 70000}},
     ['daily_checks_postgres_connection.login_port: 70000 is not a port']),
    ({'daily_checks_cert_endpoints': [{'address': 'www.example.com:https'}]},
     ["daily_checks_cert_endpoints[0].address: 'www.example.com:https': the port 'https' is not a number"]),
    ({'daily_checks_services_listening': ['tcp/99999']}, ['daily_checks_services_listening[0]']),
    ({'daily_checks_http_endpoints': [{'url': 'http://127.0.0.1:8080/', 'thresholds': {'latency': {}}}]},
     ["daily_checks_http_endpoints[0].thresholds: unknown check 'latency'"]),
    ({'daily_checks_report_host': 'reprots'}, ['daily_checks_report_host: reprots is not a host of the inventory']),
])
def test_configuration_mistakes_fail_before_any_host_is_touched(ansible, tmp_path, variables, needles):
    result = ansible.playbook(PLAYBOOK, extra_vars=dict(variables, daily_checks_report_dir=str(tmp_path)))
    assert result.rc != 0
    failed = [t for t in result.tasks if t['hosts'].get('localhost', {}).get('failed')]
    assert failed and failed[0]['task']['name'].endswith('Validate the configuration before any host is touched')
    for needle in needles:
        assert needle in failed[0]['hosts']['localhost']['msg']
    assert 'Traceback' not in result.stdout + result.stderr
    ran = [t['task']['name'] for t in result.tasks]
    assert not any(name.endswith('Check host resources') for name in ran), ran
    assert not (tmp_path / 'daily_checks.json').exists()


def test_one_misconfigured_host_stops_the_run(ansible, fleet_inventory, tmp_path):
    inventory = yaml.safe_load(fleet_inventory.read_text())
    inventory['all']['hosts']['warning']['daily_checks_resource_thresholds'] = {'memory': {'warning': 'abc'}}
    path = tmp_path / 'hosts.yml'
    path.write_text(yaml.safe_dump(inventory))
    result = run(ansible, path, tmp_path / 'reports')
    assert result.rc != 0
    res = result.task('Validate the configuration before any host is touched', host='warning')
    assert res['failed'] is True
    assert "daily_checks_resource_thresholds.memory.warning: 'abc' is not a valid range" in res['msg']
    assert 'for warning' in res['msg']
    assert not result.task('Validate the configuration before any host is touched', host='healthy').get('failed')
    assert not (tmp_path / 'reports').exists()


@pytest.mark.parametrize('pattern, limit', [('nomatch', None), ('postgres', 'healthy')])
def test_a_host_pattern_that_matches_nothing_fails(ansible, fleet_inventory, tmp_path, pattern, limit):
    result = ansible.playbook(PLAYBOOK, inventory=fleet_inventory,
                              extra_vars={'daily_checks_report_dir': str(tmp_path), 'daily_checks_hosts': pattern},
                              args=['--limit', limit] if limit else [])
    assert result.rc != 0, result
    failed = [r for t in result.tasks for r in t['hosts'].values() if r.get('failed')]
    assert len(failed) == 1
    assert "daily_checks_hosts: '%s'" % pattern in failed[0]['msg'] and 'matches no host' in failed[0]['msg']
    if limit:
        assert 'within --limit healthy' in failed[0]['msg']
    assert not (tmp_path / 'daily_checks.json').exists()


def test_reports_are_kept_on_the_reports_host(ansible, tmp_path):
    local = {'ansible_connection': 'local', 'ansible_python_interpreter': '{{ ansible_playbook_python }}',
             'daily_checks_resource_thresholds': NO_THRESHOLDS}
    inventory = {'all': {'hosts': {'web': dict(local), 'reports': dict(local)}}}
    path = tmp_path / 'hosts.yml'
    path.write_text(yaml.safe_dump(inventory))
    kept = tmp_path / 'kept'
    variables = {'daily_checks_report_host': 'reports', 'daily_checks_report_host_dir': str(kept),
                 'daily_checks_hosts': 'web'}
    first = run(ansible, path, tmp_path / 'job1', **variables)
    assert first.rc == 0, first
    # A second job in a fresh directory, as an AWX job starts in a fresh container.
    second = ansible.playbook(PLAYBOOK, inventory=path, env={'ANSIBLE_SHOW_CUSTOM_STATS': '1'},
                              extra_vars=dict(variables, daily_checks_report_dir=str(tmp_path / 'job2')))
    assert second.rc == 0, second
    assert (kept / 'daily_checks.json').read_text() == (tmp_path / 'job2' / 'daily_checks.json').read_text()
    assert (kept / 'daily_checks.html').exists() and (kept / '.fleetops-reports').exists()
    history = sorted(p.name for p in (kept / 'history').iterdir())
    assert len(history) == 2, history
    summary = second.data['global_custom_stats']['daily_checks_summary']
    assert summary['report'] == 'reports:%s/daily_checks.html' % kept
    assert 'reports:%s/daily_checks.html' % kept in once(second, 'Say where the report is')['msg']
    # Nothing changed but the copies on the reports host (counted for web, which delegated them).
    changed = set(t['task']['name'].split(' : ')[-1] for t in second.tasks
                  if any(r.get('changed') for r in t['hosts'].values()))
    assert changed <= {'Copy the report and its page', 'Copy the dated copy to the history'}, changed
    assert 'Copy the dated copy to the history' in changed

    # The monthly capacity trend, in yet another fresh directory, reads the history kept there.
    monthly_dir = tmp_path / 'monthly'
    monthly = ansible.playbook(REPO / 'playbooks' / 'monthly_maintenance.yml', inventory=path, args=['--tags', 'capacity'],
                               extra_vars={'daily_checks_report_host': 'reports', 'daily_checks_report_host_dir': str(kept),
                                           'maintenance_hosts': 'web', 'maintenance_report_dir': str(monthly_dir),
                                           'ansible_become': False})
    assert monthly.rc == 0, monthly
    # ... fetched into the history directory the capacity trend reads (maintenance_report_dir/history).
    assert sorted(p.name for p in (monthly_dir / 'history').iterdir()) == history

    # A directory the daily checks did not write is refused; nothing in it is replaced.
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'daily_checks.json').write_text('mine')
    foreign_vars = dict(variables)
    foreign_vars['daily_checks_report_host_dir'] = str(foreign)
    refused = run(ansible, path, tmp_path / 'job3', **foreign_vars)
    assert refused.rc != 0
    msg = once(refused, 'Refuse a reports directory that holds other files')['msg']
    assert str(foreign) in msg and 'no .fleetops-reports marker' in msg
    assert (foreign / 'daily_checks.json').read_text() == 'mine'
    assert sorted(p.name for p in foreign.iterdir()) == ['daily_checks.json']


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
