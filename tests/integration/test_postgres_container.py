# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL in a container, as the compose platforms of seeds 001 and 003 run it.

A real PostgreSQL 15 runs in a container of the collection's Debian image (tools/build-image.sh);
the host has no business with its socket. postgres_backup dumps it through docker exec with the
container's own pg_dump, backup_verify test-restores a dump in it, db_restore restores one into it.
Without a usable Docker engine the tests fail and say so: make test-integration starts one.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from .harness import REPO

pytestmark = pytest.mark.containers

SOCKET = '/var/run/postgresql'
START = ('mkdir -p /var/run/postgresql && chown postgres: /var/run/postgresql && exec runuser -u '
         'postgres -- /usr/lib/postgresql/15/bin/postgres -c '
         'config_file=/etc/postgresql/15/main/postgresql.conf')


def docker(*args, check=True, timeout=120, **kwargs):
    return subprocess.run(['docker'] + list(args), capture_output=True, text=True, check=check,
                          timeout=timeout, **kwargs)


def psql(name, sql, database='postgres'):
    return docker('exec', '-u', 'postgres', name, 'psql', '-X', '-At', '-v', 'ON_ERROR_STOP=1',
                  '-d', database, '-c', sql).stdout


def wait_ready(name, attempts=300):
    """Wait for the server's socket: pg_isready answers "no response" at once while the
    server is still starting, so it is asked again, once a second, up to `attempts` times."""
    for dummy in range(attempts):
        ready = docker('exec', '-u', 'postgres', name, 'pg_isready', '-h', SOCKET, '-t', '5',
                       check=False, timeout=60)
        if ready.returncode == 0:
            return
        if docker('inspect', '-f', '{{.State.Running}}', name, check=False).stdout.strip() != 'true':
            break
        time.sleep(1)
    logs = docker('logs', name, check=False)
    pytest.fail('PostgreSQL in %s did not become ready: %s\n%s%s'
                % (name, ready.stdout.strip(), logs.stdout, logs.stderr))


@pytest.fixture(scope='module')
def container():
    if shutil.which('docker') is None or docker('info', check=False).returncode != 0:
        pytest.fail('no usable Docker engine on this machine: make test-integration starts one '
                    '(tools/docker-engine.sh); run the tests through make')
    image = subprocess.run([str(REPO / 'tools' / 'build-image.sh'), '--packages', 'postgresql-15'],
                           capture_output=True, text=True, check=True, timeout=1800).stdout.strip()
    name = 'fleetops-pgc-%s' % uuid.uuid4().hex[:8]
    docker('run', '-d', '--rm', '--name', name, image, 'sh', '-c', START)
    try:
        wait_ready(name)
        psql(name, 'CREATE DATABASE shop')
        psql(name, "CREATE TABLE orders (id int PRIMARY KEY, note text); INSERT INTO orders "
                   "SELECT g, 'n' || g FROM generate_series(1, 321) g; CREATE SCHEMA crm; "
                   "CREATE TABLE crm.leads (id int); INSERT INTO crm.leads SELECT "
                   "generate_series(1, 45)", database='shop')
        yield name
    finally:
        docker('rm', '-f', name, check=False)


def databases(name):
    return sorted(psql(name, 'SELECT datname FROM pg_database WHERE NOT datistemplate').split())


@pytest.fixture(scope='module')
def backup(ansible, container, tmp_path_factory):
    """The postgres_backup role applied for a server in the container, and one run of it."""
    root = tmp_path_factory.mktemp('pg_container')
    (root / 'sbin').mkdir()
    (root / 'textfile').mkdir()
    variables = {
        'postgres_backup_dir': str(root / 'backups'),
        'postgres_backup_databases': ['shop'],
        'postgres_backup_os_user': 'root',
        'postgres_backup_os_group': 'root',
        'postgres_backup_container': container,
        'postgres_backup_config_enabled': False,
        'postgres_backup_timer_enabled': False,
        'postgres_backup_lib_dir': str(root / 'lib'),
        'postgres_backup_command': str(root / 'sbin' / 'fleetops-pg-backup'),
        'postgres_backup_config_file': str(root / 'etc' / 'postgres_backup.json'),
        'postgres_backup_metric_dir': str(root / 'textfile'),
    }
    play = {'name': 'backup', 'hosts': 'localhost', 'gather_facts': False,
            'roles': [{'role': 'fleetops.runbook.postgres_backup', 'vars': variables}]}
    result = ansible.playbook([play])
    assert result.rc == 0, result
    proc = subprocess.run(['python3', variables['postgres_backup_command'], '--config',
                           variables['postgres_backup_config_file']], capture_output=True,
                          text=True, check=False, timeout=600)
    return root, variables, proc


def test_backup_of_a_server_in_a_container(container, backup):
    root, variables, proc = backup
    assert proc.returncode == 0, proc.stdout + proc.stderr
    dumps = list((root / 'backups').glob('shop_*.dump'))
    assert len(dumps) == 1
    manifest = json.loads(Path(str(dumps[0]) + '.manifest.json').read_text())
    assert manifest['tables'] == {'public.orders': 321, 'crm.leads': 45}
    assert manifest['server_version'].startswith('15.')
    check = subprocess.run(['sha256sum', '-c', dumps[0].name + '.sha256'], cwd=str(root / 'backups'),
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout
    assert json.loads((root / 'backups' / 'last_verify.json').read_text())['status'] == 'OK'
    prom = (root / 'textfile' / 'fleetops_backup.prom').read_text()
    assert re.search(r'^fleetops_backup_max_age_seconds\{set="default"\} 90000$', prom, re.M), prom


def test_backup_of_a_stopped_container_fails_loudly(ansible, container, backup, tmp_path):
    root, variables, dummy = backup
    config = json.loads(Path(variables['postgres_backup_config_file']).read_text())
    wrong = tmp_path / 'wrong.json'
    wrong.write_text(json.dumps(dict(config, container='fleetops-no-such-container',
                                     sets=[dict(config['sets'][0], dir=str(tmp_path / 'b'))])))
    proc = subprocess.run(['python3', variables['postgres_backup_command'], '--config', str(wrong)],
                          capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 1
    assert 'No such container' in proc.stdout and 'BACKUP FAILED' in proc.stdout
    assert not list((tmp_path / 'b').glob('*.dump*'))


def test_restore_check_in_the_container(ansible, container, backup):
    root, dummy, dummy = backup
    before = databases(container)
    result = ansible.module('fleetops.runbook.backup_verify', {
        'path': str(root / 'backups' / 'shop_*.dump'), 'restore_check': True,
        'container': container, 'container_user': 'postgres',
        'login_unix_socket': SOCKET, 'login_user': 'postgres'})
    assert result['status'] == 'OK', result['summary']
    restore = result['backups'][0]['restore']
    assert restore['rows'] == {'public.orders': 321, 'crm.leads': 45}
    assert restore['mismatches'] == [] and restore['dropped'] is True
    assert databases(container) == before


def test_db_restore_into_the_container(ansible, container, backup):
    root, dummy, dummy = backup
    dump = str(next((root / 'backups').glob('shop_*.dump')))
    result = ansible.module('fleetops.runbook.db_restore', {
        'path': dump, 'database': 'shop_restored', 'container': container,
        'container_user': 'postgres', 'login_unix_socket': SOCKET, 'login_user': 'postgres'})
    assert result['status'] == 'OK', result['summary']
    assert result['rows'] == {'public.orders': 321, 'crm.leads': 45}
    assert psql(container, 'SELECT count(*) FROM orders', database='shop_restored').strip() == '321'


def test_a_bad_container_name_is_refused(ansible, backup):
    root, dummy, dummy = backup
    result = ansible.module('fleetops.runbook.backup_verify', {
        'path': str(root / 'backups'), 'restore_check': True, 'container': '-it evil',
        'login_unix_socket': SOCKET})
    assert result['failed'] is True
    assert result['msg'].startswith("container: '-it evil' is not a container name"), result['msg']
