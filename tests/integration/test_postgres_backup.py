# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The postgres_backup role against a throwaway cluster on this host.

The role is applied for real (check mode, converge, idempotence); then the command it installed is
run the way its systemd timer runs it, and what it wrote is checked with sha256sum, the server's own
counts and the backup_verify module. The timer itself is exercised in the molecule scenario.
"""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROLE = 'fleetops.runbook.postgres_backup'


@pytest.fixture(scope='module')
def setup(pg_cluster, tmp_path_factory):
    root = tmp_path_factory.mktemp('postgres_backup')
    for db in ('pb_shop', 'pb_crm'):
        pg_cluster.execute('DROP DATABASE IF EXISTS %s' % db)
        pg_cluster.execute('CREATE DATABASE %s' % db)
    pg_cluster.execute('CREATE TABLE orders (id int, note text)', dbname='pb_shop')
    pg_cluster.execute("INSERT INTO orders SELECT g, 'n' || g FROM generate_series(1, 1234) g",
                       dbname='pb_shop')
    pg_cluster.execute('CREATE SCHEMA sales', dbname='pb_crm')
    pg_cluster.execute('CREATE TABLE sales.leads (id int)', dbname='pb_crm')
    pg_cluster.execute('INSERT INTO sales.leads SELECT generate_series(1, 77)', dbname='pb_crm')
    (root / 'app').mkdir()
    (root / 'app' / '.env.production').write_text('DATABASE_URL=postgres://app@db/app\n')
    (root / 'nginx').mkdir()
    (root / 'nginx' / 'nginx.conf').write_text('events {}\n')
    variables = {
        'postgres_backup_dir': str(root / 'backups'),
        'postgres_backup_databases': ['pb_shop', 'pb_crm'],
        'postgres_backup_os_user': 'root',
        'postgres_backup_os_group': 'root',
        'postgres_backup_host': pg_cluster.host,
        'postgres_backup_port': pg_cluster.port,
        'postgres_backup_login_user': pg_cluster.superuser,
        'postgres_backup_login_password': pg_cluster.superuser_password,
        'postgres_backup_config_paths': [str(root / 'app' / '.env.production'),
                                         str(root / 'nginx')],
        'postgres_backup_timer_enabled': False,
        'postgres_backup_lib_dir': str(root / 'lib'),
        'postgres_backup_command': str(root / 'sbin' / 'fleetops-pg-backup'),
        'postgres_backup_config_file': str(root / 'etc' / 'postgres_backup.json'),
    }
    (root / 'sbin').mkdir()
    return root, variables, pg_cluster


def apply(ansible, variables, check=False):
    play = {'name': 'backup', 'hosts': 'localhost', 'gather_facts': False,
            'roles': [{'role': ROLE, 'vars': variables}]}
    return ansible.playbook([play], check=check)


def run_backup(root, variables):
    return subprocess.run(['python3', variables['postgres_backup_command'], '--config',
                           variables['postgres_backup_config_file']], capture_output=True,
                          text=True, cwd='/', check=False, timeout=300)


def test_check_mode_changes_nothing(ansible, setup):
    root, variables, dummy = setup
    result = apply(ansible, variables, check=True)
    assert result.rc == 0, result
    assert not (root / 'backups').exists()
    assert not Path(variables['postgres_backup_config_file']).exists()


def test_converge_and_idempotence(ansible, setup):
    root, variables, cluster = setup
    result = apply(ansible, variables)
    assert result.rc == 0, result
    assert result.stats['localhost']['changed'] > 0
    again = apply(ansible, variables)
    assert again.rc == 0, again
    assert again.stats['localhost']['changed'] == 0, again
    backups = root / 'backups'
    assert stat.S_IMODE(backups.stat().st_mode) == 0o700
    config = json.loads(Path(variables['postgres_backup_config_file']).read_text())
    assert config['databases'] == ['pb_shop', 'pb_crm']
    assert cluster.superuser_password not in json.dumps(config)
    passfile = Path(config['passfile'])
    assert stat.S_IMODE(passfile.stat().st_mode) == 0o600
    assert cluster.superuser_password not in result.stdout
    # the installed command runs on its own, with the interpreter the role names
    command = Path(variables['postgres_backup_command'])
    assert command.read_text().startswith('#!/usr/bin/python3\n')
    assert stat.S_IMODE(command.stat().st_mode) == 0o755
    checked = subprocess.run([str(command), '--check-config',
                              variables['postgres_backup_config_file']],
                             capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr


def test_backup_run_writes_verified_dumps(ansible, setup):
    root, variables, cluster = setup
    proc = run_backup(root, variables)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'backup complete' in proc.stdout
    backups = root / 'backups'
    dumps = sorted(backups.glob('*.dump'))
    assert [d.name.split('_2')[0] for d in dumps] == ['pb_crm', 'pb_shop']
    for dump in dumps:
        assert stat.S_IMODE(dump.stat().st_mode) == 0o600
        check = subprocess.run(['sha256sum', '-c', dump.name + '.sha256'], cwd=str(backups),
                               capture_output=True, text=True, check=False)
        assert check.returncode == 0, check.stdout
        manifest = json.loads(Path(str(dump) + '.manifest.json').read_text())
        assert manifest['row_count_method'].startswith('exact count(*)')
        assert manifest['size'] == dump.stat().st_size
        assert manifest['server_version'] == cluster.execute('SHOW server_version')[0][0]
    shop = json.loads(Path(str(dumps[1]) + '.manifest.json').read_text())
    assert shop['tables'] == {'public.orders': 1234}
    crm = json.loads(Path(str(dumps[0]) + '.manifest.json').read_text())
    assert crm['tables'] == {'sales.leads': 77}
    configs = list(backups.glob('config_*.tar.gz'))
    assert len(configs) == 1
    listing = subprocess.run(['tar', 'tzf', str(configs[0])], capture_output=True, text=True,
                             check=True).stdout
    assert '.env.production' in listing and 'nginx/nginx.conf' in listing
    verify = json.loads((backups / 'last_verify.json').read_text())
    assert verify['status'] == 'OK'
    assert len(verify['results']) == 3

    # the module agrees with the run's own verification
    result = ansible.module('fleetops.runbook.backup_verify', {
        'path': str(backups), 'checksum_missing': 'critical'})
    assert result['status'] == 'OK', result['summary']
    assert len(result['backups']) == 3
    rows = dict((b['path'], b['data']['rows']) for b in result['backups'] if b['format'] == 'custom')
    assert rows[str(dumps[1])] == {'public.orders': 1234}


def test_retention_keeps_the_newest(setup):
    root, variables, dummy = setup
    backups = root / 'backups'
    newest = sorted(backups.glob('pb_shop_*.dump'))[-1]
    old = backups / 'pb_shop_20200101T030000Z.dump'
    shutil.copy(newest, old)
    for suffix in ('.sha256', '.manifest.json'):
        shutil.copy(str(newest) + suffix, str(old) + suffix)
    lonely = backups / 'pb_gone_20200101T030000Z.dump'  # the only backup of its series
    shutil.copy(newest, lonely)
    proc = run_backup(root, variables)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'retention removed %s' % old in proc.stdout
    assert not old.exists() and not Path(str(old) + '.sha256').exists()
    assert not Path(str(old) + '.manifest.json').exists()
    assert lonely.exists(), 'the newest backup of a series is never deleted'
    assert len(list(backups.glob('pb_shop_*.dump'))) >= 1


def test_failure_is_loud_and_deletes_nothing(setup):
    root, variables, dummy = setup
    backups = root / 'backups'
    old = backups / 'pb_shop_20200102T030000Z.dump'
    shutil.copy(sorted(backups.glob('pb_shop_2*.dump'))[-1], old)
    config_file = Path(variables['postgres_backup_config_file'])
    config = json.loads(config_file.read_text())
    broken = dict(config, databases=['pb_shop', 'pb_missing_db'])
    broken_file = root / 'broken.json'
    broken_file.write_text(json.dumps(broken))
    proc = subprocess.run(['python3', variables['postgres_backup_command'], '--config',
                           str(broken_file)], capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert 'pb_missing_db' in proc.stdout
    assert 'BACKUP FAILED' in proc.stdout
    assert old.exists(), 'retention must not run after a failed backup'


def test_check_config_rejects_bad_files(setup):
    root, variables, dummy = setup
    bad = root / 'bad.json'
    bad.write_text(json.dumps({'backup_dir': 'relative'}))
    proc = subprocess.run(['python3', variables['postgres_backup_command'], '--check-config',
                           str(bad)], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert 'is missing' in proc.stderr


def test_bad_variables_fail_before_changing_anything(ansible, setup):
    root, variables, dummy = setup
    bad = dict(variables, postgres_backup_retention_days=0,
               postgres_backup_dir=str(root / 'never'))
    result = apply(ansible, bad)
    assert result.rc != 0
    assert 'retention_days' in result.stdout
    assert not (root / 'never').exists()
    wrong_type = dict(variables, postgres_backup_port='five', postgres_backup_dir=str(root / 'never'))
    result = apply(ansible, wrong_type)
    assert result.rc != 0
    assert 'postgres_backup_port' in result.stdout
    assert not (root / 'never').exists()
