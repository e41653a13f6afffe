# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One connection shape: client certificates and the roles' <role>_postgres_connection.

A real cluster with TLS on lets one role in only by its client certificate (``hostssl ... cert``
before every other pg_hba.conf line; the role has no password), so a run that gets in proves the
certificate reached libpq: through the modules, through a role's module_defaults (the
collection's modules and community.postgresql's ANALYZE), and through psql given the
pg_connection filter's environment.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import shutil
import subprocess

import pytest

from .emergency_helpers import failures, write_inventory
from .harness import REPO

pytestmark = pytest.mark.postgres

CERT_ROLE = 'fleetops_cert'
DB = 'conn_tls'


def _write_key_and_cert(directory, name, subject_cn, issuer=None, san=None, ca=False):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject_cn)])
    issuer_name, issuer_key = (issuer[0].subject, issuer[1]) if issuer else (subject, key)
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    cert = builder.sign(issuer_key, hashes.SHA256())
    key_path = directory / (name + '.key')
    cert_path = directory / (name + '.crt')
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'wb') as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key, cert_path, key_path


@pytest.fixture(scope='module')
def tls(pg_cluster_factory, tmp_path_factory):
    from cryptography import x509

    certs = tmp_path_factory.mktemp('tls')
    ca_cert, ca_key, ca_path, dummy = _write_key_and_cert(certs, 'ca', 'fleetops test CA', ca=True)
    dummy, dummy, server_crt, server_key = _write_key_and_cert(
        certs, 'server', 'localhost', issuer=(ca_cert, ca_key),
        san=[x509.DNSName('localhost'), x509.IPAddress(ipaddress.ip_address('127.0.0.1'))])
    dummy, dummy, client_crt, client_key = _write_key_and_cert(certs, 'client', CERT_ROLE, issuer=(ca_cert, ca_key))
    cluster = pg_cluster_factory()
    # The server's own copies, owned by the account it runs as (it refuses a readable key).
    for source in (server_crt, server_key, ca_path):
        target = os.path.join(cluster.data_dir, source.name)
        shutil.copy(str(source), target)
        os.chmod(target, 0o600)
        cluster._chown(target)  # pylint: disable=protected-access
    hba = os.path.join(cluster.data_dir, 'pg_hba.conf')
    with open(hba) as handle:
        lines = handle.read()
    with open(hba, 'w') as handle:
        handle.write('hostssl all %s 127.0.0.1/32 cert\n%s' % (CERT_ROLE, lines))
    cluster.execute('CREATE ROLE %s LOGIN SUPERUSER' % CERT_ROLE)
    cluster.execute('CREATE DATABASE %s' % DB)
    cluster.execute('CREATE TABLE orders (id int PRIMARY KEY) WITH (autovacuum_enabled = off)', dbname=DB)
    cluster.execute('INSERT INTO orders SELECT generate_series(1, 50)', dbname=DB)
    cluster.set(ssl='on', ssl_cert_file='server.crt', ssl_key_file='server.key', ssl_ca_file='ca.crt')
    connection = {'login_host': '127.0.0.1', 'login_port': cluster.port, 'login_user': CERT_ROLE,
                  'ssl_mode': 'verify-full', 'ca_cert': str(ca_path), 'ssl_cert': str(client_crt),
                  'ssl_key': str(client_key), 'connect_params': {'target_session_attrs': 'primary'}}
    return {'cluster': cluster, 'connection': connection}


def test_client_certificate_authenticates(ansible, tls):
    args = dict(tls['connection'], checks=['connection', 'version'], fail_on='never')
    result = ansible.module('fleetops.runbook.pg_health', args)
    assert result['is_available'] is True, result['summary']
    assert result['status'] == 'OK', result['summary']

    without = dict(args)
    del without['ssl_cert'], without['ssl_key']
    refused = ansible.module('fleetops.runbook.pg_health', without)
    assert refused['is_available'] is False
    assert 'certificate' in refused['summary'], refused['summary']


def test_connect_params_reach_the_server(ansible, tls):
    args = dict(tls['connection'], checks=['connection'], fail_on='never')
    args['connect_params'] = {'target_session_attrs': 'standby'}
    result = ansible.module('fleetops.runbook.pg_health', args)
    # The server is a primary, not a standby: libpq itself refuses it, so the keyword got there.
    assert result['is_available'] is False
    assert 'standby' in result['summary'], result['summary']


def test_psql_gets_the_connection_from_the_filter(ansible, tls):
    result = ansible.tasks([{
        'name': 'psql with the connection as environment',
        'ansible.builtin.command': {'argv': ['psql', '-X', '-A', '-t', '-c',
                                             'SELECT ssl, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()']},
        'environment': '{{ conn | fleetops.runbook.pg_connection }}',
        'changed_when': False,
    }], play_vars={'conn': dict(tls['connection'], login_db=DB)})
    task = result.task('psql with the connection as environment')
    assert task.get('rc') == 0, failures(result)
    assert task['stdout'].strip() == 't|/CN=%s' % CERT_ROLE


def analyze_count(cluster):
    return cluster.execute("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'orders'", dbname=DB)[0][0]


def test_weekly_maintenance_connects_by_certificate(ansible, tls, tmp_path):
    before = analyze_count(tls['cluster'])
    inventory = write_inventory(tmp_path / 'inventory.yml', {})
    result = ansible.playbook(REPO / 'playbooks' / 'weekly_maintenance.yml', inventory=inventory, extra_vars={
        'maintenance_pg_enabled': True,
        'maintenance_postgres_connection': tls['connection'],
        'maintenance_pg_databases': [DB],
        'maintenance_report_dir': str(tmp_path / 'reports')})
    assert result.rc == 0, failures(result)
    # community.postgresql's ANALYZE, through the pg_connection filter
    assert analyze_count(tls['cluster']) == before + 1
    # the collection's modules, through the action group
    assert result.task('Check dead tuples, vacuum and analyze state')['is_available'] is True
    assert result.task('Report table and index bloat and unused indexes')['status'] != 'UNKNOWN'


def test_postgres_backup_dumps_by_certificate(ansible, tls, tmp_path):
    """The backup command's pg_dump and psql get the whole connection from the configuration."""
    variables = {
        'postgres_backup_postgres_connection': tls['connection'],
        'postgres_backup_dir': str(tmp_path / 'backups'),
        'postgres_backup_databases': [DB],
        'postgres_backup_os_user': 'root',
        'postgres_backup_os_group': 'root',
        'postgres_backup_config_enabled': False,
        'postgres_backup_timer_enabled': False,
        'postgres_backup_lib_dir': str(tmp_path / 'lib'),
        'postgres_backup_command': str(tmp_path / 'sbin' / 'fleetops-pg-backup'),
        'postgres_backup_config_file': str(tmp_path / 'etc' / 'postgres_backup.json'),
        'postgres_backup_metric_dir': '',
    }
    (tmp_path / 'sbin').mkdir()
    result = ansible.playbook([{'name': 'backup', 'hosts': 'localhost', 'gather_facts': False,
                                'roles': [{'role': 'fleetops.runbook.postgres_backup', 'vars': variables}]}])
    assert result.rc == 0, failures(result)
    config = json.loads((tmp_path / 'etc' / 'postgres_backup.json').read_text())
    assert config['passfile'] is None
    assert config['environment']['PGSSLMODE'] == 'verify-full'
    assert config['environment']['PGTARGETSESSIONATTRS'] == 'primary'
    # Variables of the calling shell do not redirect it: the configuration decides.
    env = dict(os.environ, PGHOST='/nonexistent', PGSSLMODE='disable', PGUSER='nobody')
    proc = subprocess.run(['python3', variables['postgres_backup_command'], '--config',
                           variables['postgres_backup_config_file']], capture_output=True, text=True,
                          check=False, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    dumps = sorted((tmp_path / 'backups').glob(DB + '_*.dump'))
    assert len(dumps) == 1
    manifest = json.loads((tmp_path / 'backups' / (dumps[0].name + '.manifest.json')).read_text())
    assert manifest['tables'] == {'public.orders': 50}


@pytest.mark.parametrize('role, tasks_from, old, new, extra', [
    ('maintenance', 'weekly', 'maintenance_pg_login', 'maintenance_postgres_connection', {}),
    ('disaster_recovery', 'main', 'disaster_recovery_pg_host', 'disaster_recovery_postgres_connection',
     {'disaster_recovery_database': 'shop'}),
    ('incident_response', 'main', 'incident_response_pg_password', 'incident_response_postgres_connection',
     {'incident_response_id': 'INC-1'}),
    ('staged_recovery', 'main', 'staged_recovery_pg_database', 'staged_recovery_postgres_connection', {}),
    ('postgres_backup', 'main', 'postgres_backup_login_user', 'postgres_backup_postgres_connection', {}),
])
def test_a_replaced_variable_stops_the_role_naming_the_new_one(ansible, tmp_path, role, tasks_from, old, new, extra):
    marker = tmp_path / 'untouched'
    result = ansible.tasks([{
        'name': 'run the role',
        'ansible.builtin.include_role': {'name': 'fleetops.runbook.' + role, 'tasks_from': tasks_from},
    }], play_vars=dict(extra, **{old: 'x', 'maintenance_report_dir': str(marker)}))
    assert result.rc != 0
    message = failures(result)
    assert old in message and new in message, message
    assert 'Nothing was changed' in message
    assert not marker.exists()
