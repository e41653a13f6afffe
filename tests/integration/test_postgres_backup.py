# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The postgres_backup role against a throwaway cluster on this host.

The role is applied for real (check mode, converge, idempotence); then the command it installed is
run the way its systemd timer runs it, and what it wrote is checked with sha256sum, the server's own
counts and the backup_verify module. The timer itself is exercised in the molecule scenario.
"""

from __future__ import annotations

import datetime
import json
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.backup

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
        'postgres_backup_postgres_connection': {
            'login_host': pg_cluster.host, 'login_port': pg_cluster.port,
            'login_user': pg_cluster.superuser, 'login_password': pg_cluster.superuser_password},
        'postgres_backup_config_paths': [str(root / 'app' / '.env.production'),
                                         str(root / 'nginx')],
        'postgres_backup_timer_enabled': False,
        'postgres_backup_lib_dir': str(root / 'lib'),
        'postgres_backup_command': str(root / 'sbin' / 'fleetops-pg-backup'),
        'postgres_backup_config_file': str(root / 'etc' / 'postgres_backup.json'),
        'postgres_backup_metric_dir': str(root / 'textfile'),
    }
    (root / 'sbin').mkdir()
    (root / 'textfile').mkdir()
    return root, variables, pg_cluster


def metric(directory):
    """{(metric name, set): value} of the textfile the backup runs write."""
    samples = {}
    for line in (directory / 'fleetops_backup.prom').read_text().splitlines():
        match = re.match(r'^(fleetops_backup_[a-z_]+)\{set="([^"]+)"\} (\S+)$', line)
        if match:
            samples[(match.group(1), match.group(2))] = float(match.group(3))
        else:
            assert line.startswith('# HELP ') or line.startswith('# TYPE '), line
    return samples


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
    # the single-backup variables are one set, "default", in the backup directory itself
    assert [(s['name'], s['dir'], s['databases']) for s in config['sets']] == [
        ('default', str(backups), ['pb_shop', 'pb_crm'])]
    assert cluster.superuser_password not in json.dumps(config)
    # The connection reaches the client programs as libpq variables; the password only in pgpass.
    assert config['environment'] == {'PGHOST': cluster.host, 'PGPORT': str(cluster.port), 'PGUSER': cluster.superuser}
    passfile = Path(config['passfile'])
    assert stat.S_IMODE(passfile.stat().st_mode) == 0o600
    assert passfile.read_text().startswith('*:*:*:%s:' % cluster.superuser)
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
    # the freshness metric of the contract, from the verified run: the default set is daily
    samples = metric(root / 'textfile')
    assert samples == {
        ('fleetops_backup_last_success_timestamp_seconds', 'default'): round(verify['time'], 3),
        ('fleetops_backup_max_age_seconds', 'default'): 86400 + 3600}
    assert stat.S_IMODE((root / 'textfile' / 'fleetops_backup.prom').stat().st_mode) == 0o644
    assert [p.name for p in (root / 'textfile').iterdir()] == ['fleetops_backup.prom']

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
    before = (root / 'textfile' / 'fleetops_backup.prom').read_text()
    broken = dict(config, sets=[dict(config['sets'][0], databases=['pb_shop', 'pb_missing_db'])])
    broken_file = root / 'broken.json'
    broken_file.write_text(json.dumps(broken))
    proc = subprocess.run(['python3', variables['postgres_backup_command'], '--config',
                           str(broken_file)], capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert 'pb_missing_db' in proc.stdout
    assert 'BACKUP FAILED' in proc.stdout
    assert old.exists(), 'retention must not run after a failed backup'
    assert (root / 'textfile' / 'fleetops_backup.prom').read_text() == before, \
        'a failed run must not refresh the metric'


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
    connection = dict(variables['postgres_backup_postgres_connection'], login_port='five')
    wrong_type = dict(variables, postgres_backup_postgres_connection=connection, postgres_backup_dir=str(root / 'never'))
    result = apply(ansible, wrong_type)
    assert result.rc != 0
    assert 'postgres_backup_postgres_connection' in result.stdout and 'login_port' in result.stdout
    assert not (root / 'never').exists()
    connection = dict(variables['postgres_backup_postgres_connection'], login_prot=5432)
    misspelt = dict(variables, postgres_backup_postgres_connection=connection, postgres_backup_dir=str(root / 'never'))
    result = apply(ansible, misspelt)
    assert result.rc != 0 and 'login_prot' in result.stdout
    assert not (root / 'never').exists()


def test_the_replaced_connection_variables_are_refused_by_name(ansible, setup):
    root, variables, dummy = setup
    old = dict(variables, postgres_backup_host='db.example.internal', postgres_backup_login_password='s3cret-old',
               postgres_backup_dir=str(root / 'never'))
    result = apply(ansible, old)
    assert result.rc != 0
    assert ('postgres_backup_host, postgres_backup_login_password: no longer read; give the connection as '
            'postgres_backup_postgres_connection') in result.stdout
    assert 's3cret-old' not in result.stdout
    assert not (root / 'never').exists()


def stamp(days_ago):
    when = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days_ago)
    return when.strftime('%Y%m%dT%H%M%SZ')


def test_two_sets_with_their_own_schedules_and_retentions(ansible, setup, tmp_path):
    root, variables, dummy = setup
    sets = dict(variables, **{
        'postgres_backup_dir': str(tmp_path / 'sets'),
        'postgres_backup_config_file': str(tmp_path / 'etc' / 'postgres_backup.json'),
        'postgres_backup_sets': [
            {'name': 'data', 'on_calendar': '*-*-* *:00:00', 'retention_days': 2,
             'databases': ['pb_shop'], 'config_paths': [], 'rpo': '2h'},
            {'name': 'config', 'on_calendar': '*-*-* 02:00:00', 'retention_days': 30, 'dump': False,
             'config_archive_name': 'nginx', 'config_paths': [str(root / 'nginx')]},
        ]})
    result = apply(ansible, sets)
    assert result.rc == 0, result
    again = apply(ansible, sets)
    assert again.stats['localhost']['changed'] == 0, [
        t['task']['name'] for t in again.tasks if t['hosts']['localhost'].get('changed')]
    data, config = tmp_path / 'sets' / 'data', tmp_path / 'sets' / 'config'
    assert stat.S_IMODE(data.stat().st_mode) == 0o700 and config.is_dir()
    # an older backup in each set: 3 days is past the data set's 2, within the config set's 30
    newest = {}
    for name, directory, pattern in (('data', data, 'pb_shop_%s.dump'),
                                     ('config', config, 'nginx_%s.tar.gz')):
        proc = subprocess.run(['python3', sets['postgres_backup_command'], '--config',
                               sets['postgres_backup_config_file'], '--set', name],
                              capture_output=True, text=True, check=False, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert 'backup complete: set %s' % name in proc.stdout
        verify = json.loads((directory / 'last_verify.json').read_text())
        assert verify['set'] == name and verify['status'] == 'OK'
        newest[name] = verify['time']
        written = [p for p in directory.iterdir() if p.suffix in ('.dump', '.gz')]
        assert len(written) == 1, written
        old = directory / (pattern % stamp(3))
        for suffix in ('', '.sha256'):
            shutil.copy(str(written[0]) + suffix, str(old) + suffix)
    assert not list(data.glob('*.tar.gz')) and not list(config.glob('*.dump'))
    for name in ('data', 'config'):
        proc = subprocess.run(['python3', sets['postgres_backup_command'], '--config',
                               sets['postgres_backup_config_file'], '--set', name],
                              capture_output=True, text=True, check=False, timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert len(list(data.glob('pb_shop_*.dump'))) == 2, 'the 3-day-old dump is past 2 days'
    assert len(list(config.glob('nginx_*.tar.gz'))) == 3, 'the config set keeps 30 days'
    # both sets in the one metric file, each with the allowed age its schedule gives
    samples = metric(root / 'textfile')
    assert samples[('fleetops_backup_max_age_seconds', 'data')] == 3600 + 3600
    assert samples[('fleetops_backup_max_age_seconds', 'config')] == 86400 + 3600
    for name in ('data', 'config'):
        last = json.loads(((tmp_path / 'sets' / name) / 'last_verify.json').read_text())['time']
        assert samples[('fleetops_backup_last_success_timestamp_seconds', name)] == round(last, 3)
        assert last > newest[name]


def test_a_schedule_that_cannot_meet_the_rpo_is_refused(ansible, setup, tmp_path):
    root, variables, dummy = setup
    bad = dict(variables, postgres_backup_dir=str(tmp_path / 'never'),
               postgres_backup_sets=[{'name': 'data', 'on_calendar': '*-*-* 03:00:00', 'rpo': '1h'}])
    result = apply(ansible, bad)
    assert result.rc != 0
    assert 'set data (*-*-* 03:00:00) runs only every 24.0 h' in result.stdout
    assert 'cannot meet the RPO of 60.0 min' in result.stdout
    assert not (tmp_path / 'never').exists()


def test_run_now_sends_the_backup_completed_notice(ansible, setup, tmp_path):
    from . import slack_receiver
    root, variables, dummy = setup
    hook = slack_receiver.SlackReceiver().start()
    try:
        notify = {'channels': ['slack'], 'state_path': str(tmp_path / 'notify.json'),
                  'slack': {'webhook_url': hook.url, 'allow_insecure_http': True}}
        result = apply(ansible, dict(variables, postgres_backup_run_now_enabled=True,
                                     postgres_backup_notify=notify))
        assert result.rc == 0, result
        assert result.task("Run each set's backup command")['results'][0]['rc'] == 0
        assert len(hook.payloads) == 1
        sent = json.dumps(hook.payloads[0])
        assert 'Backup completed on localhost' in sent and 'default' in sent
        # a run that fails says so, loudly, and fails the play
        hook.reset()
        broken = dict(variables, postgres_backup_run_now_enabled=True, postgres_backup_notify=notify,
                      postgres_backup_databases=['pb_no_such_db'],
                      postgres_backup_dir=str(tmp_path / 'broken'),
                      postgres_backup_config_file=str(tmp_path / 'etc' / 'broken.json'))
        result = apply(ansible, broken)
        assert result.rc != 0
        assert 'the backup run failed' in result.stdout
        assert len(hook.payloads) == 1
        sent = json.dumps(hook.payloads[0])
        assert 'Backup FAILED on localhost' in sent and 'pb_no_such_db' in sent
    finally:
        hook.stop()
