# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""incident_response.yml on this host against a throwaway PostgreSQL and a local Slack receiver.

The firewall step is proven in the molecule scenario only: it must never touch this machine's rules.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .emergency_helpers import (counts, databases, failures, make_shop, tree, verified_evidence,
                                write_inventory)
from .harness import REPO

pytestmark = pytest.mark.emergency

PLAYBOOK = REPO / 'playbooks' / 'incident_response.yml'
DB = 'ir_shop'


@pytest.fixture(scope='module')
def bed(pg_cluster_factory, tmp_path_factory, receiver):
    cluster = pg_cluster_factory()
    make_shop(cluster, DB, orders=500, leads=20)
    work = tmp_path_factory.mktemp('ir')
    app_logs = work / 'app-logs'
    app_logs.mkdir()
    (app_logs / 'app.log').write_text('2025-01-19 10:00:01 INFO start\n2025-01-19 10:00:02 ERROR boom\n')
    (app_logs / 'access.log').write_text('203.0.113.7 - - [19/Jan/2025:10:00:03 +0000] "GET / HTTP/1.1" 403 12\n')
    auth = work / 'auth.log'
    now = time.time()
    lines = ['%s web sshd[99]: Failed password for root from 198.51.100.9 port 50 ssh2\n'
             % time.strftime('%Y-%m-%dT%H:%M:%S', time.localtime(now - 3 * 86400))]
    lines += ['%s web sshd[99]: Failed password for root from 203.0.113.7 port 5%d ssh2\n'
              % (time.strftime('%Y-%m-%dT%H:%M:%S', time.localtime(now - 600 + i)), i)
              for i in range(4)]
    lines += ['%s web sshd[99]: Invalid user admin from 203.0.113.7 port 60\n'
              % time.strftime('%b %e %H:%M:%S', time.localtime(now - 300)),
              '%s web sshd[99]: Accepted publickey for ops from 192.0.2.1\n'
              % time.strftime('%b %e %H:%M:%S', time.localtime(now - 200))]
    auth.write_text(''.join(lines))
    hba_file = cluster.execute('SHOW hba_file')[0][0]
    inventory = write_inventory(work / 'inventory.yml', {
        'incident_response_host_dir': str(work / 'host'),
        'incident_response_controller_dir': str(work / 'controller'),
        'incident_response_log_paths': [str(app_logs / '*.log')],
        'incident_response_auth_log_paths': [str(auth)],
        'incident_response_evidence_collect': ['processes', 'sockets', 'logs', 'auth', 'resources'],
        'incident_response_backup_enabled': True,
        'incident_response_backup_dir': str(work / 'dumps'),
        'incident_response_backup_config_dir': str(work / 'etc'),
        'incident_response_backup_databases': [DB],
        'incident_response_postgres_connection': {
            'login_host': cluster.host, 'login_port': cluster.port, 'login_user': cluster.superuser,
            'login_password': cluster.superuser_password},
        'incident_response_pg_os_user': 'root',
        'postgres_backup_command': str(work / 'fleetops-pg-backup'),
        'postgres_backup_lib_dir': str(work / 'lib'),
        'incident_response_maintenance_page': str(work / 'www' / 'index.html'),
        'incident_response_maintenance_flag': str(work / 'www' / 'maintenance.on'),
        'incident_response_notify_slack': {'webhook_url': receiver.url, 'allow_insecure_http': True},
        'incident_response_notify_routing': {'critical': ['slack'], 'warning': ['slack'],
                                             'info': ['slack']},
        'incident_response_notify_state_path': str(work / 'notify-state.json'),
    })
    return {'cluster': cluster, 'work': work, 'inventory': inventory, 'hba': Path(hba_file),
            'app_logs': app_logs}


def run(ansible, bed, incident, tags=None, check=False, **extra):
    variables = {'incident_response_id': incident} if incident else {}
    variables.update(extra)
    args = ('--tags', tags) if tags else ()
    return ansible.playbook(PLAYBOOK, inventory=bed['inventory'], extra_vars=variables,
                            check=check, args=args)


CONTAIN = {
    'incident_response_pg_hba_rules': [
        {'contype': 'host', 'databases': 'all', 'users': 'fleetops_admin',
         'address': '127.0.0.1/32', 'method': 'scram-sha-256'}],
    'incident_response_maintenance_enabled': True,
    'incident_response_summary': 'brute force from 203.0.113.7',
}


def test_check_mode_changes_nothing(ansible, bed, hook):
    hba_before = bed['hba'].read_text()
    databases_before = databases(bed['cluster'])
    result = run(ansible, bed, 'INC-CHECK', check=True, **CONTAIN)
    assert result.rc == 0, failures(result)
    assert databases(bed['cluster']) == databases_before
    assert counts(bed['cluster'], DB) == {'public.orders': 500, 'crm.leads': 20}
    work = bed['work']
    for path in ('host', 'controller', 'dumps', 'etc', 'www', 'lib'):
        assert not (work / path).exists(), path
    assert bed['hba'].read_text() == hba_before
    assert hook.requests == []


def test_full_response_evidence_backup_contain_notify(ansible, bed, hook):
    work = bed['work']
    logs_before = tree(bed['app_logs'])
    hba_before = bed['hba'].read_text()
    result = run(ansible, bed, 'INC-1', **CONTAIN)
    assert result.rc == 0, failures(result)

    # evidence on the controller, its checksum and every file's checksum intact
    fetched = work / 'controller' / 'INC-1' / 'localhost'
    root, names = verified_evidence(fetched, 'localhost', work / 'unpacked')
    assert {'processes.txt', 'sockets.txt', 'resources.json', 'auth_failures.txt'} <= names
    assert 'logs%s/app.log' % bed['app_logs'] in names
    manifest = json.loads((root / 'manifest.json').read_text())
    assert manifest['incident_id'] == 'INC-1'
    assert manifest['auth_failures']['count'] == 5
    assert manifest['auth_failures']['top_sources'][0] == {'source': '203.0.113.7', 'count': 5}
    assert json.loads((root / 'resources.json').read_text())['status'] in (
        'OK', 'WARNING', 'CRITICAL')
    assert tree(bed['app_logs']) == logs_before, 'evidence collection must not touch the logs'

    # the emergency dump, verified before containment
    dumps = list((work / 'dumps' / 'INC-1').glob('ir_shop_*.dump'))
    assert len(dumps) == 1
    verify = result.task('Verify the emergency dump before any containment')
    assert verify['status'] == 'OK', verify['summary']
    assert verify['backups'][0]['data']['rows'] == {'public.orders': 500, 'crm.leads': 20}
    names = [t['task']['name'].split(' : ')[-1] for t in result.tasks]
    assert names.index('Verify the emergency dump before any containment') < names.index(
        'Leave only the allowed rules in pg_hba.conf')

    # containment: pg_hba restricted (the original kept), maintenance page up
    saved = work / 'host' / 'INC-1' / 'pg_hba.conf.original'
    assert saved.read_text() == hba_before
    rules = [line for line in bed['hba'].read_text().splitlines()
             if line.strip() and not line.startswith('#')]
    assert len(rules) == 1
    assert rules[0].split()[:4] == ['host', 'all', 'fleetops_admin', '127.0.0.1/32']
    monitor = bed['cluster'].monitor_user
    with pytest.raises(Exception, match='pg_hba.conf|no pg_hba'):
        bed['cluster'].connect(user=monitor)
    assert (work / 'www' / 'maintenance.on').exists()
    assert 'maintenance' in (work / 'www' / 'index.html').read_text()

    # one message, with the phases and where the evidence is
    assert len(hook.requests) == 1
    text = json.dumps(hook.requests[0].json)
    assert 'INC-1' in text and 'brute force from 203.0.113.7' in text
    assert str(work / 'controller' / 'INC-1') in text
    record = json.loads((work / 'controller' / 'INC-1' / 'incident.json').read_text())
    assert sorted(record['phases']) == ['backup', 'contain', 'evidence']
    assert record['phases']['backup']['localhost']['status'] == 'OK'

    # the notify phase again: still one message for the incident
    again = run(ansible, bed, 'INC-1', tags='notify', **CONTAIN)
    assert again.rc == 0, failures(again)
    assert len(hook.requests) == 1


def test_recover_puts_everything_back(ansible, bed, hook):
    saved = bed['work'] / 'host' / 'INC-1' / 'pg_hba.conf.original'
    flag = bed['work'] / 'www' / 'maintenance.on'
    raised = flag.read_text()
    assert raised.startswith('incident INC-1 since ')
    hba_contained = bed['hba'].read_text()
    record_file = bed['work'] / 'controller' / 'INC-1' / 'incident.json'
    record_before = record_file.read_text()

    # check mode first: the flag, pg_hba.conf and the record stay as they are
    result = run(ansible, bed, 'INC-1', tags='recover', check=True, **CONTAIN)
    assert result.rc == 0, failures(result)
    assert flag.read_text() == raised
    assert bed['hba'].read_text() == hba_contained
    assert not list((bed['work'] / 'host' / 'INC-1').glob('maintenance-flag-*'))
    assert record_file.read_text() == record_before

    result = run(ansible, bed, 'INC-1', tags='recover,notify', **CONTAIN)
    assert result.rc == 0, failures(result)
    assert bed['hba'].read_text() == saved.read_text()
    bed['cluster'].connect(user=bed['cluster'].monitor_user).close()
    # the flag this incident raised comes down, its content kept in the incident's directory
    assert not flag.exists()
    kept = list((bed['work'] / 'host' / 'INC-1').glob('maintenance-flag-*.txt'))
    assert [k.read_text() for k in kept] == [raised]
    assert (bed['work'] / 'www' / 'index.html').exists()
    assert saved.exists()
    record = json.loads((bed['work'] / 'controller' / 'INC-1' / 'incident.json').read_text())
    summary = record['phases']['recover']['localhost']['summary']
    assert 'maintenance page down (flag kept as %s)' % kept[0] in summary
    assert counts(bed['cluster'], DB) == {'public.orders': 500, 'crm.leads': 20}
    assert len(hook.requests) == 1
    assert 'recover' in json.dumps(hook.requests[0].json)


@pytest.mark.parametrize('foreign', [
    'planned maintenance by the DBA team until 06:00\n',
    'incident INC-10 since 2025-01-19T10:00:00Z\n',
])
def test_recover_leaves_a_flag_raised_by_someone_else(ansible, bed, hook, foreign):
    flag = bed['work'] / 'www' / 'maintenance.on'
    flag.write_text(foreign)
    kept_before = sorted((bed['work'] / 'host' / 'INC-1').glob('maintenance-flag-*.txt'))
    result = run(ansible, bed, 'INC-1', tags='recover', **CONTAIN)
    assert result.rc == 0, failures(result)
    assert flag.read_text() == foreign
    assert sorted((bed['work'] / 'host' / 'INC-1').glob('maintenance-flag-*.txt')) == kept_before
    record = json.loads((bed['work'] / 'controller' / 'INC-1' / 'incident.json').read_text())
    summary = record['phases']['recover']['localhost']['summary']
    assert 'maintenance flag left up: it was not raised by incident INC-1' in summary
    assert foreign.strip() in summary
    assert 'maintenance page down' not in summary
    flag.unlink()


def test_evidence_without_psutil_is_collected_and_says_why(ansible, bed, tmp_path):
    bare = tmp_path / 'bare'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(bare)], check=True)
    result = run(ansible, bed, 'INC-NOPSUTIL', tags='evidence',
                 ansible_python_interpreter=str(bare / 'bin' / 'python'))
    assert result.rc == 0, failures(result)
    snapshot = result.task('Take a resource snapshot')
    assert snapshot['failed'] is True and 'psutil' in snapshot['msg']

    fetched = bed['work'] / 'controller' / 'INC-NOPSUTIL' / 'localhost'
    root, names = verified_evidence(fetched, 'localhost', tmp_path / 'unpacked')
    manifests = list(fetched.glob('*.json'))
    assert len(manifests) == 1
    manifest = json.loads(manifests[0].read_text())
    missing = dict((n['source'], n['reason']) for n in manifest['not_collected'])
    assert 'Failed to import the required Python library (psutil)' in missing['resources']
    assert {'processes.txt', 'sockets.txt', 'auth_failures.txt'} <= names
    assert 'resources.json' not in names and not (root / 'resources.json').exists()
    assert json.loads((root / 'manifest.json').read_text()) == manifest

    record = json.loads((bed['work'] / 'controller' / 'INC-NOPSUTIL' / 'incident.json').read_text())
    evidence = record['phases']['evidence']['localhost']
    assert evidence['status'] == 'OK'
    assert 'no resource snapshot' in evidence['summary'] and 'psutil' in evidence['summary']


@pytest.mark.parametrize('tags, expected', [
    ('evidence,bogus', 'unknown tag(s) bogus'),
    ('contain,recover', 'contain and recover in one run would undo each other'),
])
def test_bad_phase_combinations_change_nothing(ansible, bed, tags, expected):
    result = run(ansible, bed, 'INC-BAD', tags=tags, **CONTAIN)
    assert result.rc != 0
    assert expected in result.stdout and 'Nothing was changed' in result.stdout
    assert not (bed['work'] / 'controller' / 'INC-BAD').exists()
    assert not (bed['work'] / 'host' / 'INC-BAD').exists()


def test_containment_needs_evidence_and_backup_first(ansible, bed):
    result = run(ansible, bed, 'INC-2', tags='contain', **CONTAIN)
    assert result.rc != 0
    assert 'needs the evidence collected' in result.stdout
    assert not (bed['work'] / 'www' / 'maintenance.on').exists()


def test_missing_incident_id(ansible, bed):
    result = run(ansible, bed, None)
    assert result.rc != 0
    assert 'missing required arguments: incident_response_id' in result.stdout
    result = run(ansible, bed, '../etc')
    assert result.rc != 0
    assert 'incident_response_id must name the incident' in result.stdout


def test_failed_backup_stops_containment(ansible, bed, hook):
    result = run(ansible, bed, 'INC-3', incident_response_backup_databases=['ir_missing_db'],
                 **CONTAIN)
    assert result.rc != 0
    assert 'the emergency backup of localhost is not verified' in result.stdout
    assert 'ir_missing_db' in result.stdout
    assert not (bed['work'] / 'host' / 'INC-3' / 'pg_hba.conf.original').exists()
    assert not (bed['work'] / 'www' / 'maintenance.on').exists()
    assert hook.requests == []


def test_phases_as_extra_vars_run_only_those(ansible, bed, hook):
    # AWX job templates and rulebooks pass the phases as a variable instead of tags.
    result = run(ansible, bed, 'INC-VARS', incident_response_phases=['notify', 'evidence'])
    assert result.rc == 0, failures(result)
    controller = bed['work'] / 'controller' / 'INC-VARS'
    assert list(controller.glob('*/*.tar.gz')), tree(controller)
    assert not (bed['work'] / 'dumps' / 'INC-VARS').exists()
    record = json.loads((controller / 'incident.json').read_text())
    assert sorted(record['phases']) == ['evidence']  # the notification is not a recorded phase
    assert len(hook.requests) == 1
    assert 'INC-VARS' in json.dumps(hook.requests[0].json)


def test_phases_given_twice_or_unknown_are_refused(ansible, bed):
    result = run(ansible, bed, 'INC-TWICE', tags='evidence', incident_response_phases=['evidence'])
    assert result.rc != 0
    assert 'given twice' in result.stdout and 'Nothing was changed' in result.stdout
    result = run(ansible, bed, 'INC-TWICE', incident_response_phases=['evidence', 'panic'])
    assert result.rc != 0
    assert 'incident_response_phases' in result.stdout and 'panic' in result.stdout
    assert not (bed['work'] / 'controller' / 'INC-TWICE').exists()
    assert not (bed['work'] / 'host' / 'INC-TWICE').exists()


def test_evidence_started_in_a_taken_second_gets_a_name_of_its_own(ansible, tmp_path):
    """Two alerts at once: a collection never writes into another's directory or archive."""
    dest = tmp_path / 'evidence'
    incident = dest / 'INC-SAME'
    incident.mkdir(parents=True)
    # Earlier collections of this host in every second from now on, for longer than a run may take.
    now = int(time.time())
    taken = ['web-1-%s' % time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(now + offset)) for offset in range(-2, 900)]
    for name in taken:
        (incident / name).mkdir()
    args = {'incident_id': 'INC-SAME', 'dest': str(dest), 'collect': ['auth'], 'auth_log_paths': [],
            'label': 'web-1'}
    planned = ansible.module('fleetops.runbook.incident_evidence', args, check=True)
    assert planned.get('failed') is not True, planned
    assert Path(planned['directory']).name in ['%s_01' % name for name in taken]
    assert not Path(planned['directory']).exists()
    result = ansible.module('fleetops.runbook.incident_evidence', args)
    assert result.get('failed') is not True, result
    name = Path(result['directory']).name
    assert name.endswith('_01') and name[:-3] in taken, name
    assert Path(result['archive']).name == 'evidence-%s.tar.gz' % name
    assert Path(result['manifest']).name == 'evidence-%s.manifest.json' % name
    # The earlier collections are as they were: empty, and no archive of theirs was written.
    assert all(not any((incident / other).iterdir()) for other in taken)
    assert sorted(p.name for p in incident.iterdir() if p.name.startswith('evidence-')) == [
        'evidence-%s.manifest.json' % name, 'evidence-%s.tar.gz' % name, 'evidence-%s.tar.gz.sha256' % name]
