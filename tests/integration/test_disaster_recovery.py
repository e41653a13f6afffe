# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""disaster_recovery.yml against a throwaway PostgreSQL on this host.

Backups are written by the postgres_backup role's own command. A newer corrupt copy must be
skipped, a destroyed database must come back with the manifest's row counts, a live database must
be refused without the override, and RTO/RPO must be reported against their targets.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
import sys
import time
from pathlib import Path

import pytest
import yaml

from .emergency_helpers import (backup_now, counts, databases, failures, make_shop, only_reports,
                                tree, write_inventory)
from .harness import REPO

pytestmark = pytest.mark.emergency

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
        'disaster_recovery_postgres_connection': {
            'login_host': cluster.host, 'login_port': cluster.port, 'login_user': cluster.superuser,
            'login_password': cluster.superuser_password},
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
    # the RPO follows the nightly schedule of the backups: 24 h between two, plus 1 h of grace
    assert objectives['rpo']['critical'] == '~:90000' and objectives['rpo']['status'] == 'OK'
    assert 0 <= objectives['rpo']['value'] < 600
    assert objectives['schedule']['status'] == 'OK' and objectives['schedule']['value'] == 90000
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
                 disaster_recovery_incident_time=incident, disaster_recovery_rpo_target='1h',
                 disaster_recovery_fail_on_missed_objectives=True)
    assert result.rc != 0, result
    assert 'RPO missed' in result.stdout
    report = json.loads((bed['work'] / 'reports' / 'disaster_recovery.json').read_text())
    assert report['hosts'][0]['results']['objectives']['status'] == 'CRITICAL'


def test_an_rpo_the_schedule_cannot_meet_is_said_plainly(ansible, bed):
    # seed 002's one hour against the nightly backup: said before the run and in the report
    result = run(ansible, bed, disaster_recovery_target_database='dr_shop_sched',
                 disaster_recovery_rpo_target='1h', disaster_recovery_rehearsal=False)
    assert result.rc == 0, failures(result)
    said = result.task('Say whether the backup schedule can meet the recovery point objective')['msg']
    assert said.startswith('WARNING: the backup schedule (*-*-* 03:00:00) runs only every 24.0 h, '
                           'so it cannot meet the RPO of 60.0 min'), said
    report = json.loads((bed['work'] / 'reports' / 'disaster_recovery.json').read_text())
    objectives = dict((c['name'], c) for c in report['hosts'][0]['results']['objectives']['checks'])
    assert objectives['rpo']['critical'] == '~:3600' and objectives['rpo']['status'] == 'OK'
    assert objectives['schedule']['status'] == 'WARNING'
    assert 'cannot meet the RPO of 60.0 min' in objectives['schedule']['message']
    assert report['hosts'][0]['results']['objectives']['status'] == 'WARNING'


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
    assert objectives['rto']['critical'] == '~:14400' and objectives['rpo']['critical'] == '~:90000'
    assert host['results']['restore']['status'] == 'OK'
    html = (tmp_path / 'reports' / 'disaster_recovery_rehearsal.html').read_text()
    assert 'RTO target 4h' in html
    assert (tmp_path / 'reports' / 'monthly_maintenance.json').exists()


# -- recovery onto a standby host from the backups kept on a backup host ----------------------

STANDBY_DB = 'dr_shop_standby'


@pytest.fixture(scope='module')
def remote(bed, tmp_path_factory):
    """Two inventory hosts on this machine, each with its own directory: backup1 keeps the
    backups (the good one and the newer corrupt one), standby1 is the restore target."""
    work = tmp_path_factory.mktemp('drremote')
    backups = work / 'backup1' / 'postgresql'
    backups.mkdir(parents=True)
    for dump in (bed['good'], bed['corrupt']):
        for suffix in ('', '.sha256', '.manifest.json'):
            shutil.copy2(str(dump) + suffix, str(backups / dump.name) + suffix)
    staging = work / 'standby1' / 'recovery'
    cluster = bed['cluster']
    local = {'ansible_connection': 'local', 'ansible_python_interpreter': sys.executable,
             'ansible_become': False}
    inventory = work / 'inventory.yml'
    inventory.write_text(yaml.safe_dump({'all': {'hosts': {
        'backup1': dict(local),
        'standby1': dict(local, **{
            'disaster_recovery_backup_host': 'backup1',
            'disaster_recovery_backup_dir': str(backups),
            'disaster_recovery_staging_dir': str(staging),
            'disaster_recovery_target_database': STANDBY_DB,
            'disaster_recovery_postgres_connection': {
                'login_host': cluster.host, 'login_port': cluster.port, 'login_user': cluster.superuser,
                'login_password': cluster.superuser_password},
            'disaster_recovery_report_dir': str(work / 'reports'),
        }),
    }}}, sort_keys=False))
    os.chmod(inventory, 0o600)
    return {'work': work, 'backups': backups, 'staging': staging, 'inventory': inventory,
            'good': backups / bed['good'].name, 'corrupt': backups / bed['corrupt'].name}


def run_remote(ansible, remote, check=False, **extra):
    variables = {'disaster_recovery_database': DB, 'disaster_recovery_hosts': 'standby1'}
    variables.update(extra)
    return ansible.playbook(PLAYBOOK, inventory=remote['inventory'], extra_vars=variables,
                            check=check)


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_unknown_backup_host_is_refused_before_anything_changes(ansible, bed, remote):
    cluster = bed['cluster']
    before = databases(cluster), tree(remote['backups'])
    result = run_remote(ansible, remote, disaster_recovery_backup_host='backup9')
    assert result.rc != 0, result
    assert 'disaster_recovery_backup_host: backup9 is not a host of this inventory' in result.stdout
    assert 'Nothing was changed' in result.stdout
    with pytest.raises(KeyError):
        result.task('Verify the newest backups', host='standby1')
    assert (databases(cluster), tree(remote['backups'])) == before
    assert not remote['staging'].exists()


def test_standby_check_mode_transfers_and_restores_nothing(ansible, bed, remote):
    cluster = bed['cluster']
    before = databases(cluster), tree(remote['backups'])
    result = run_remote(ansible, remote, check=True)
    assert result.rc == 0, failures(result)
    assert (databases(cluster), tree(remote['backups'])) == before
    assert not remote['staging'].exists()
    choice = result.task('Choose the newest backup that passed', host='standby1')['ansible_facts'][
        '__disaster_recovery_report_backup_choice']
    assert choice['chosen'] == str(remote['good'])
    transfer = result.task('Note the transfer that check mode leaves out', host='standby1')[
        'ansible_facts']['__disaster_recovery_report_transfer']
    assert transfer['summary'].startswith('OK: would copy %s' % remote['good'])
    assert only_reports(remote['work'] / 'reports', 'disaster_recovery')
    shutil.rmtree(remote['work'] / 'reports')


def test_standby_is_restored_from_the_backup_host(ansible, bed, remote):
    cluster = bed['cluster']
    backups = tree(remote['backups'])
    sums = dict((p.name, sha256(p)) for p in remote['backups'].iterdir())
    assert STANDBY_DB not in databases(cluster)
    result = run_remote(ansible, remote)
    assert result.rc == 0, failures(result)

    # the choice ran over backup1's directory: the corrupt newest skipped, and said so
    choice = result.task('Choose the newest backup that passed', host='standby1')['ansible_facts'][
        '__disaster_recovery_report_backup_choice']
    assert choice['chosen'] == str(remote['good']) and choice['status'] == 'WARNING'
    assert [s['path'] for s in choice['skipped']] == [str(remote['corrupt'])]
    assert 'sha256' in choice['skipped'][0]['reason']
    verified = result.task('Verify the newest backups', host='standby1')
    assert sorted(b['path'] for b in verified['backups']) == sorted(
        [str(remote['good']), str(remote['corrupt'])])

    # the good dump, its sidecar and its manifest staged on standby1, byte for byte, 0700/0600
    # in a directory of this run's own, new and private, inside the staging directory
    name = remote['good'].name
    runs = list(remote['staging'].iterdir())
    assert len(runs) == 1 and runs[0].name.startswith('run-'), runs
    run = runs[0]
    staged = sorted(p.name for p in run.iterdir())
    assert staged == sorted([name, name + '.manifest.json', name + '.sha256'])
    assert stat.S_IMODE(remote['staging'].stat().st_mode) == 0o700
    assert stat.S_IMODE(run.stat().st_mode) == 0o700
    for file in run.iterdir():
        assert sha256(file) == sums[file.name], file
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    sidecar = (run / (name + '.sha256')).read_text().split()[0]
    assert sidecar == sha256(run / name) == sha256(bed['good'])
    staged_check = result.task('Verify the staged copy against its sidecar and manifest',
                               host='standby1')
    assert staged_check['backups'][0]['checksum'] == 'match'

    restore = result.task('Restore the backup, verified against its manifest', host='standby1')
    assert restore['path'] == str(run / name)
    assert restore['database'] == STANDBY_DB
    assert restore['rows'] == {'public.orders': 1234, 'crm.leads': 77}
    assert restore['mismatches'] == [] and restore['compared_with'].startswith('the manifest')
    assert counts(cluster, STANDBY_DB) == {'public.orders': 1234, 'crm.leads': 77}
    # nothing on the backup host changed
    assert tree(remote['backups']) == backups
    assert dict((p.name, sha256(p)) for p in remote['backups'].iterdir()) == sums

    report = json.loads((remote['work'] / 'reports' / 'disaster_recovery.json').read_text())
    assert [h['host'] for h in report['hosts']] == ['standby1']
    results = report['hosts'][0]['results']
    assert results['transfer']['status'] == 'OK'
    assert 'from backup1:%s to standby1:%s' % (remote['backups'], run) in \
        results['transfer']['summary']
    checks = dict((c['name'], c) for c in results['transfer']['checks'])
    assert checks['transfer_size']['value'] == remote['good'].stat().st_size
    assert checks['transfer_duration']['value'] >= 0
    objectives = dict((c['name'], c) for c in results['objectives']['checks'])
    assert objectives['rto']['status'] == 'OK' and objectives['rpo']['status'] == 'OK'
    # the RTO runs from the start of the run, so it holds the transfer
    assert objectives['rto']['value'] >= checks['transfer_duration']['value']
    assert results['restore']['status'] == 'OK' and results['pg_health']['status'] == 'OK'
    html = (remote['work'] / 'reports' / 'disaster_recovery.html').read_text()
    assert 'from the backups on backup1' in html


def test_standby_refuses_a_live_database_before_copying(ansible, bed, remote, tmp_path):
    cluster = bed['cluster']
    assert STANDBY_DB in databases(cluster)
    staging = tmp_path / 'staging'
    result = run_remote(ansible, remote, disaster_recovery_staging_dir=str(staging))
    assert result.rc != 0, result
    assert 'already exists' in result.stdout and 'nothing was copied' in result.stdout
    assert not staging.exists()


def test_standby_staging_copy_removed_when_not_kept(ansible, bed, remote, tmp_path):
    cluster = bed['cluster']
    staging = tmp_path / 'staging'
    result = run_remote(ansible, remote, disaster_recovery_staging_dir=str(staging),
                        disaster_recovery_target_database='dr_shop_standby2',
                        disaster_recovery_staging_keep=False)
    assert result.rc == 0, failures(result)
    assert counts(cluster, 'dr_shop_standby2') == {'public.orders': 1234, 'crm.leads': 77}
    assert staging.is_dir() and list(staging.iterdir()) == []


def test_standby_refuses_a_backup_without_sidecar_before_copying(ansible, bed, remote, tmp_path):
    cluster = bed['cluster']
    bare = tmp_path / 'bare'
    bare.mkdir()
    for suffix in ('', '.manifest.json'):
        shutil.copy2(str(remote['good']) + suffix, str(bare / remote['good'].name) + suffix)
    staging = tmp_path / 'staging'
    before = databases(cluster)
    result = run_remote(ansible, remote, disaster_recovery_backup_dir=str(bare),
                        disaster_recovery_staging_dir=str(staging),
                        disaster_recovery_target_database='dr_shop_standby3')
    assert result.rc != 0, result
    assert 'has no matching .sha256 sidecar (checksum: missing)' in result.stdout, result.stdout[-3000:]
    assert 'Nothing was copied or restored' in result.stdout
    assert not staging.exists() and databases(cluster) == before
    assert sorted(p.name for p in bare.iterdir()) == sorted(
        [remote['good'].name, remote['good'].name + '.manifest.json'])


def test_standby_refuses_a_staging_directory_that_is_a_symlink(ansible, bed, remote, tmp_path):
    """A symbolic link planted where the staging directory should be is neither followed nor
    changed: its target keeps its files, mode and owner, and nothing is restored."""
    cluster = bed['cluster']
    victim = tmp_path / 'victim'
    victim.mkdir(mode=0o755)
    (victim / 'precious.txt').write_text('keep me\n')
    planted = tmp_path / 'staging'
    planted.symlink_to(victim)
    before = databases(cluster), tree(victim), victim.stat()
    result = run_remote(ansible, remote, disaster_recovery_staging_dir=str(planted),
                        disaster_recovery_target_database='dr_shop_standby4')
    assert result.rc != 0, result
    assert 'disaster_recovery_staging_dir: standby1:%s is a symbolic link to %s' % (
        planted, victim) in result.stdout, result.stdout[-3000:]
    assert 'Nothing was copied or restored' in result.stdout
    after = victim.stat()
    assert (databases(cluster), tree(victim)) == before[:2]
    assert (after.st_mode, after.st_uid, after.st_gid) == (
        before[2].st_mode, before[2].st_uid, before[2].st_gid)
    assert (victim / 'precious.txt').read_text() == 'keep me\n'
    assert planted.is_symlink()


def test_standby_staging_is_new_for_every_run(ansible, bed, remote, tmp_path):
    """A file left in the staging directory by an earlier run (or planted there) is never used:
    every run stages into a new directory of its own."""
    cluster = bed['cluster']
    staging = tmp_path / 'staging'
    staging.mkdir(mode=0o700)
    planted = staging / remote['good'].name
    planted.write_bytes(b'not the backup')
    result = run_remote(ansible, remote, disaster_recovery_staging_dir=str(staging),
                        disaster_recovery_target_database='dr_shop_standby5')
    assert result.rc == 0, failures(result)
    restore = result.task('Restore the backup, verified against its manifest', host='standby1')
    assert Path(restore['path']).parent.parent == staging
    assert Path(restore['path']).parent.name.startswith('run-')
    assert counts(cluster, 'dr_shop_standby5') == {'public.orders': 1234, 'crm.leads': 77}
    assert planted.read_bytes() == b'not the backup'
