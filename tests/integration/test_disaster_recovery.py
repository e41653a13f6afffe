# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""disaster_recovery.yml against a throwaway PostgreSQL on this host.

Backups are written by the postgres_backup role's own command. A newer corrupt copy must be
skipped, a destroyed database must come back with the manifest's row counts, a live database must
be refused without the override, and RTO/RPO must be reported against their targets.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time

import pytest

from .emergency_helpers import (backup_now, counts, databases, failures, make_shop, only_reports,
                                tree, write_inventory)
from .harness import REPO

PLAYBOOK = REPO / 'playbooks' / 'disaster_recovery.yml'
DB = 'dr_shop'


@pytest.fixture(scope='module')
def bed(pg_cluster_factory, tmp_path_factory):
    cluster = pg_cluster_factory()
    work = tmp_path_factory.mktemp('dr')
    make_shop(cluster, DB)
    backups = work / 'backups'
    good = backup_now(cluster, backups, [DB], work)[0]
    # A newer dump whose data was damaged after it was written: the sidecar no longer matches.
    stamp = time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(time.time() + 120))
    corrupt = backups / ('%s_%s.dump' % (DB, stamp))
    data = bytearray(good.read_bytes())
    data[len(data) // 2] ^= 0xFF
    corrupt.write_bytes(bytes(data))
    for suffix in ('.sha256', '.manifest.json'):
        shutil.copy(str(good) + suffix, str(corrupt) + suffix)
    os.utime(corrupt, (time.time() + 60, time.time() + 60))
    inventory = write_inventory(work / 'inventory.yml', {
        'disaster_recovery_backup_dir': str(backups),
        'disaster_recovery_pg_host': cluster.host,
        'disaster_recovery_pg_port': cluster.port,
        'disaster_recovery_pg_user': cluster.superuser,
        'disaster_recovery_pg_password': cluster.superuser_password,
        'disaster_recovery_report_dir': str(work / 'reports'),
    })
    return {'cluster': cluster, 'work': work, 'backups': backups, 'good': good,
            'corrupt': corrupt, 'inventory': inventory}


def run(ansible, bed, check=False, **extra):
    variables = {'disaster_recovery_database': DB}
    variables.update(extra)
    return ansible.playbook(PLAYBOOK, inventory=bed['inventory'], extra_vars=variables,
                            check=check)


def test_live_database_is_refused_before_anything_changes(ansible, bed):
    cluster = bed['cluster']
    before = databases(cluster)
    result = run(ansible, bed)
    assert result.rc != 0, result
    assert 'already exists' in result.stdout and 'replace_existing=true' in result.stdout, result
    assert 'nothing was changed' in result.stdout
    assert databases(cluster) == before
    assert counts(cluster, DB) == {'public.orders': 1234, 'crm.leads': 77}


def test_check_mode_changes_nothing(ansible, bed):
    cluster = bed['cluster']
    before = databases(cluster), counts(cluster, DB)
    backups = tree(bed['backups'])
    reports = bed['work'] / 'reports'
    assert not reports.exists()
    result = run(ansible, bed, check=True, disaster_recovery_target_database='dr_shop_check')
    assert result.rc == 0, failures(result)
    assert (databases(cluster), counts(cluster, DB)) == before
    assert tree(bed['backups']) == backups
    # only the report, which fleet_report documents as written in check mode too
    assert only_reports(reports, 'disaster_recovery')
    shutil.rmtree(reports)


def test_destroyed_database_comes_back_with_rto_and_rpo(ansible, bed):
    cluster = bed['cluster']
    cluster.execute('DROP DATABASE %s WITH (FORCE)' % DB)
    assert DB not in databases(cluster)
    result = run(ansible, bed)
    assert result.rc == 0, failures(result)
    assert counts(cluster, DB) == {'public.orders': 1234, 'crm.leads': 77}

    choice = result.task('Choose the newest backup that passed')['ansible_facts'][
        '__disaster_recovery_report_backup_choice']
    assert choice['chosen'] == str(bed['good'])
    assert choice['status'] == 'WARNING'
    assert [s['path'] for s in choice['skipped']] == [str(bed['corrupt'])]
    assert 'sha256' in choice['skipped'][0]['reason'] or 'checksum' in choice['skipped'][0]['reason']

    restore = result.task('Restore the backup, verified against its manifest')
    assert restore['rows'] == {'public.orders': 1234, 'crm.leads': 77}
    assert restore['mismatches'] == [] and restore['replaced_as'] is None
    assert restore['compared_with'].startswith('the manifest')

    report = json.loads((bed['work'] / 'reports' / 'disaster_recovery.json').read_text())
    host = report['hosts'][0]
    objectives = dict((c['name'], c) for c in host['results']['objectives']['checks'])
    assert objectives['rto']['critical'] == '~:14400' and objectives['rto']['status'] == 'OK'
    assert 0 < objectives['rto']['value'] < 600
    assert objectives['rpo']['critical'] == '~:3600' and objectives['rpo']['status'] == 'OK'
    assert 0 <= objectives['rpo']['value'] < 600
    assert host['results']['pg_health']['status'] == 'OK'
    assert host['results']['restore']['status'] == 'OK'
    html = (bed['work'] / 'reports' / 'disaster_recovery.html').read_text()
    assert 'RTO target 4h' in html and 'recovery took' in html


def test_replacing_the_live_database_keeps_it(ansible, bed):
    cluster = bed['cluster']
    cluster.execute('DELETE FROM orders WHERE id > 1000', dbname=DB)
    result = run(ansible, bed, disaster_recovery_replace_live=True)
    assert result.rc == 0, failures(result)
    replaced = result.task('Restore the backup, verified against its manifest')['replaced_as']
    assert replaced.startswith('dr_shop_replaced_') and replaced in databases(cluster)
    assert counts(cluster, replaced)['public.orders'] == 1000
    assert counts(cluster, DB) == {'public.orders': 1234, 'crm.leads': 77}


def test_missed_rpo_fails_when_asked(ansible, bed):
    incident = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() + 3 * 3600))
    result = run(ansible, bed, disaster_recovery_target_database='dr_shop_rpo',
                 disaster_recovery_incident_time=incident,
                 disaster_recovery_fail_on_missed_objectives=True)
    assert result.rc != 0, result
    assert 'RPO missed' in result.stdout
    report = json.loads((bed['work'] / 'reports' / 'disaster_recovery.json').read_text())
    assert report['hosts'][0]['results']['objectives']['status'] == 'CRITICAL'


def test_no_valid_backup_stops_before_anything_changes(ansible, bed, tmp_path):
    cluster = bed['cluster']
    only_bad = tmp_path / 'bad'
    only_bad.mkdir()
    for suffix in ('', '.sha256', '.manifest.json'):
        shutil.copy(str(bed['corrupt']) + suffix, str(only_bad / bed['corrupt'].name) + suffix)
    before = databases(cluster)
    result = run(ansible, bed, disaster_recovery_backup_dir=str(only_bad),
                 disaster_recovery_target_database='dr_shop_none')
    assert result.rc != 0, result
    assert 'no usable backup of dr_shop' in result.stdout and 'Nothing was changed' in result.stdout
    empty = tmp_path / 'empty'
    empty.mkdir()
    result = run(ansible, bed, disaster_recovery_backup_dir=str(empty),
                 disaster_recovery_target_database='dr_shop_none')
    assert result.rc != 0
    assert 'matches no backup' in result.stdout and 'disaster_recovery_backup_dir' in result.stdout
    assert databases(cluster) == before


def test_missing_database_name_is_refused(ansible, bed):
    result = ansible.playbook(PLAYBOOK, inventory=bed['inventory'])
    assert result.rc != 0
    assert 'disaster_recovery_database' in result.stdout


MONTHLY = REPO / 'playbooks' / 'monthly_maintenance.yml'


def monthly(ansible, bed, report_dir, check=False):
    """monthly_maintenance.yml with the rehearsal of the bed's database."""
    return ansible.playbook(MONTHLY, inventory=bed['inventory'], check=check, extra_vars={
        'disaster_recovery_database': DB, 'maintenance_report_dir': str(report_dir)},
        args=('-e', 'ansible_become=false'))


def test_monthly_rehearsal_in_check_mode_changes_nothing(ansible, bed, tmp_path):
    cluster = bed['cluster']
    before = databases(cluster), counts(cluster, DB)
    backups = tree(bed['backups'])
    result = monthly(ansible, bed, tmp_path / 'reports', check=True)
    assert result.rc == 0, failures(result)
    assert (databases(cluster), counts(cluster, DB)) == before
    assert tree(bed['backups']) == backups
    scratch = result.task('Note when the recovery started')['ansible_facts'][
        '_disaster_recovery_target_fixed']
    assert re.match(r'^%s_rehearsal_[0-9]{14}$' % DB, scratch), scratch
    assert scratch not in databases(cluster)
    assert only_reports(tmp_path / 'reports', 'disaster_recovery_rehearsal', 'monthly_maintenance')


def test_monthly_rehearsal_reports_rto_rpo_and_leaves_no_trace(ansible, bed, tmp_path):
    cluster = bed['cluster']
    before = databases(cluster)
    live = counts(cluster, DB)
    assert live == {'public.orders': 1234, 'crm.leads': 77}
    result = monthly(ansible, bed, tmp_path / 'reports')
    assert result.rc == 0, failures(result)

    restore = result.task('Restore the backup, verified against its manifest')
    scratch = restore['database']
    assert re.match(r'^%s_rehearsal_[0-9]{14}$' % DB, scratch), scratch
    assert restore['rows'] == live and restore['mismatches'] == []
    assert restore['replaced_as'] is None
    dropped = result.task("Drop the rehearsal's scratch database (it never held anything but the rehearsal)")
    assert dropped['changed'] is True

    # the scratch database is gone, the live one untouched, nothing else appeared
    assert scratch not in databases(cluster)
    assert databases(cluster) == before
    assert counts(cluster, DB) == live

    report = json.loads((tmp_path / 'reports' / 'disaster_recovery_rehearsal.json').read_text())
    host = report['hosts'][0]
    objectives = dict((c['name'], c) for c in host['results']['objectives']['checks'])
    assert objectives['rto']['status'] == 'OK' and 0 < objectives['rto']['value'] < 600
    assert objectives['rpo']['status'] == 'OK' and 0 <= objectives['rpo']['value'] < 3600
    assert objectives['rto']['critical'] == '~:14400' and objectives['rpo']['critical'] == '~:3600'
    assert host['results']['restore']['status'] == 'OK'
    html = (tmp_path / 'reports' / 'disaster_recovery_rehearsal.html').read_text()
    assert 'RTO target 4h' in html
    assert (tmp_path / 'reports' / 'monthly_maintenance.json').exists()
