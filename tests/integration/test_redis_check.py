# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""redis_check run through Ansible on localhost against Debian's redis-server, started by the test
on free loopback ports: a small cache that evicts, a server with a password, an ACL user that may
not use CONFIG, a primary with a replica, a closed port and a port that never answers."""

from __future__ import annotations

import pytest

from . import generated_input as gi
from .redis_server import RedisServer, free_port
from .tlsutil import make_cert

pytestmark = pytest.mark.redis

MODULE = 'fleetops.runbook.redis_check'
PASSWORD = 'Redis-Pw-4711-never-shown'


def checks(result, name):
    return [c for c in result['checks'] if c['name'] == name]


def one(result, name):
    found = checks(result, name)
    assert len(found) == 1, (name, result['checks'])
    return found[0]


def run(ansible, port, check=False, **args):
    args.setdefault('fail_on', 'never')
    return ansible.module(MODULE, dict(login_port=port, **args), check=check)


@pytest.fixture(scope='module')
def cache(tmp_path_factory):
    """2 MiB of maxmemory, allkeys-lru, filled well past it so keys are evicted."""
    server = RedisServer(tmp_path_factory.mktemp('cache'), '--maxmemory', '2mb',
                         '--maxmemory-policy', 'allkeys-lru').start()
    server.fill(4000, 1024)
    yield server
    server.stop()


@pytest.fixture(scope='module')
def locked(tmp_path_factory):
    """requirepass, and an ACL user that may PING and INFO but not CONFIG."""
    server = RedisServer(tmp_path_factory.mktemp('locked'), '--user', 'monitor', 'on', '>Monitor-Pw-0815',
                         '+ping', '+info', password=PASSWORD).start()
    yield server
    server.stop()


@pytest.fixture(scope='module')
def plain(tmp_path_factory):
    """No maxmemory (0)."""
    server = RedisServer(tmp_path_factory.mktemp('plain')).start()
    yield server
    server.stop()


def test_evictions_are_reported_and_memory_is_judged(ansible, cache):
    assert int(cache.info('stats')['evicted_keys']) > 0
    result = run(ansible, cache.port)
    assert result['is_available'] is True
    evicted = one(result, 'evicted_keys')
    assert evicted['value'] > 0
    # No default threshold: an allkeys-lru cache evicts by design.
    assert evicted['status'] == 'OK'
    assert 'since the server started' in evicted['message']
    assert one(result, 'evicted_keys_rate')['value'] > 0
    memory = one(result, 'memory')
    assert memory['unit'] == 'percent'
    assert memory['warning'] == '80' and memory['critical'] == '90'
    assert 50 < memory['value'] <= 110
    expected = 'CRITICAL' if memory['value'] > 90 else 'WARNING' if memory['value'] > 80 else 'OK'
    assert memory['status'] == expected
    assert 'of maxmemory (' in memory['message'] and 'allkeys-lru' in memory['message']
    assert result['server']['maxmemory'] == 2 * 1024 * 1024
    assert result['server']['maxmemory_source'] == 'config'
    assert result['server']['maxmemory_policy'] == 'allkeys-lru'
    assert 'memory=' in result['perfdata'] and 'evicted_keys=' in result['perfdata']
    assert any(line.startswith('fleetops_check_value{source="redis_check",check="evicted_keys"')
               for line in result['metrics'])


def test_evicted_keys_threshold_and_memory_thresholds(ansible, cache):
    result = run(ansible, cache.port, thresholds={'evicted_keys': {'warning': 0},
                                                  'memory': {'warning': 10, 'critical': 20}})
    assert one(result, 'evicted_keys')['status'] == 'WARNING'
    memory = one(result, 'memory')
    assert memory['status'] == 'CRITICAL'
    assert '(critical 20)' in memory['message']
    assert result['status'] == 'CRITICAL'


def test_fail_on_fails_the_task_with_every_key(ansible, cache):
    result = run(ansible, cache.port, fail_on='warning', thresholds={'evicted_keys': {'warning': 0}})
    assert result.get('failed') is True
    assert result['status'] in ('WARNING', 'CRITICAL')
    assert result['msg'] == result['summary']
    assert 'evicted_keys is' in result['summary']


def test_healthy_server_is_ok_in_check_mode(ansible, plain):
    result = run(ansible, plain.port, check=True)
    assert result['is_available'] is True
    assert one(result, 'available')['status'] == 'OK'
    assert one(result, 'ping_time')['unit'] == 'milliseconds'
    assert one(result, 'role')['value'] == 'master'
    assert one(result, 'rejected_connections')['value'] == 0
    assert one(result, 'rejected_connections')['status'] == 'OK'
    assert one(result, 'evicted_keys')['value'] == 0
    assert one(result, 'rdb_bgsave')['status'] == 'OK'
    assert 'snapshots are off' in one(result, 'rdb_save_age')['message']
    assert one(result, 'rdb_save_age')['value'] >= 0
    assert one(result, 'aof')['value'] == 'off'
    clients = one(result, 'clients')
    assert clients['status'] == 'OK'
    assert '(1 of 10000)' in clients['message'] or 'of 10000)' in clients['message']
    assert result['changed'] is False


def test_no_maxmemory_says_so(ansible, plain):
    result = run(ansible, plain.port)
    memory = one(result, 'memory')
    assert memory['value'] is None
    assert memory['status'] == 'OK'
    assert 'no maxmemory limit is set' in memory['message']
    assert result['server']['maxmemory'] == 0
    against_host = one(run(ansible, plain.port, memory_against_host=True), 'memory')
    assert isinstance(against_host['value'], float) and 0 < against_host['value'] < 100
    assert "of the host's memory" in against_host['message']


def test_wrong_password_is_critical_and_never_shown(ansible, locked):
    wrong = 'Wrong-Pw-1234-never-shown'
    result = ansible.tasks([{'name': 'module under test', MODULE: dict(
        login_port=locked.port, login_password=wrong, fail_on='never')}], verbosity=3)
    outcome = result.task('module under test')
    auth = one(outcome, 'auth')
    assert auth['status'] == 'CRITICAL'
    assert 'refused' in auth['message'] and 'WRONGPASS' in auth['message']
    assert outcome['status'] == 'CRITICAL'
    assert wrong not in result.stdout and wrong not in result.stderr


def test_missing_password_names_the_option(ansible, locked):
    result = run(ansible, locked.port)
    auth = one(result, 'auth')
    assert auth['status'] == 'CRITICAL'
    assert 'login_password' in auth['message']


def test_password_from_redis_cli_environment_variable(ansible, locked):
    result = ansible.tasks([{'name': 'module under test', MODULE: dict(login_port=locked.port, fail_on='never')}],
                           env={'REDISCLI_AUTH': PASSWORD}, verbosity=3)
    outcome = result.task('module under test')
    assert outcome['is_available'] is True
    assert one(outcome, 'available')['status'] == 'OK'
    assert PASSWORD not in result.stdout and PASSWORD not in result.stderr


def test_acl_user_without_config_falls_back_to_info(ansible, locked):
    result = ansible.tasks([{'name': 'module under test', MODULE: dict(
        login_port=locked.port, login_user='monitor', login_password='Monitor-Pw-0815', fail_on='never')}],
        verbosity=3)
    outcome = result.task('module under test')
    assert outcome['is_available'] is True
    assert 'NOPERM' in outcome['server']['config_refused']
    assert outcome['server']['maxmemory_source'] == 'info'
    assert 'no maxmemory limit is set' in one(outcome, 'memory')['message']
    assert 'Monitor-Pw-0815' not in result.stdout and 'Monitor-Pw-0815' not in result.stderr


def test_replica_link_up_then_down(ansible, tmp_path):
    primary = RedisServer(tmp_path / 'primary').start()
    replica = RedisServer(tmp_path / 'replica', '--replicaof', '127.0.0.1', str(primary.port)).start()
    try:
        replica.wait_for('replication', 'master_link_status', 'up')
        primary.wait_for('replication', 'connected_slaves', '1')
        result = run(ansible, replica.port, expected_role='replica')
        assert one(result, 'role')['value'] == 'replica'
        assert one(result, 'role')['status'] == 'OK'
        link = one(result, 'master_link')
        assert link['value'] == 'up' and link['status'] == 'OK'
        assert link['target'] == '127.0.0.1:%d' % primary.port
        assert one(result, 'replication_lag')['unit'] == 'seconds'
        on_primary = run(ansible, primary.port, expected_role='replica')
        assert one(on_primary, 'role')['status'] == 'CRITICAL'
        assert one(on_primary, 'connected_replicas')['value'] == 1
        assert [c['target'] for c in checks(on_primary, 'replication_lag')] == ['127.0.0.1:%d' % replica.port]
        primary.stop()
        replica.wait_for('replication', 'master_link_status', 'down')
        down = run(ansible, replica.port)
        link = one(down, 'master_link')
        assert link['value'] == 'down'
        assert link['status'] == 'CRITICAL'
        assert down['status'] == 'CRITICAL'
        assert checks(down, 'replication_lag') == []
    finally:
        replica.stop()
        primary.stop()


def test_closed_port_is_critical_not_available(ansible):
    sock, port = gi.closed_port()
    try:
        result = run(ansible, port)
    finally:
        sock.close()
    assert result['is_available'] is False
    assert result['status'] == 'CRITICAL'
    assert 'connection refused' in one(result, 'available')['message']


def test_silent_port_is_bounded_and_critical(ansible):
    silent = gi.SilentPort()
    try:
        # The harness's timeout is only a hang guard, far above the module's own deadline.
        result = ansible.module(MODULE, dict(login_port=silent.port, connect_timeout=2, command_timeout=2,
                                             fail_on='never'), timeout=120)
    finally:
        silent.stop()
    assert result['is_available'] is False
    assert result['status'] == 'CRITICAL'
    assert 'no reply within 2 s (command_timeout)' in one(result, 'available')['message']


@pytest.mark.parametrize('args, param', [
    ({'login_port': 0}, 'login_port'),
    ({'login_port': 70000}, 'login_port'),
    ({'login_host': ''}, 'login_host'),
    ({'connect_timeout': 0}, 'connect_timeout'),
    ({'command_timeout': -1}, 'command_timeout'),
    ({'login_user': 'monitor'}, 'login_user'),
    ({'ca_cert': '/etc/hostname'}, 'ca_cert'),
    ({'tls': True, 'ca_cert': '/etc'}, 'ca_cert'),
    ({'thresholds': {'memory': {'warning': 'lots'}}}, 'thresholds.memory.warning'),
    ({'thresholds': {'bogus': {'warning': 1}}}, 'thresholds'),
    ({'expected_role': 'primary'}, 'expected_role'),
])
def test_bad_input_names_the_parameter(ansible, args, param):
    sock, port = gi.closed_port()
    try:
        result = ansible.module(MODULE, dict({'login_port': port}, **args))
    finally:
        sock.close()
    assert result.get('failed') is True
    assert param in result['msg']
    assert 'Traceback' not in result.get('module_stderr', '')


@pytest.fixture(scope='module')
def tls_server(tmp_path_factory):
    """A TLS port beside the plain one, with a certificate for 127.0.0.1 from a test CA."""
    directory = tmp_path_factory.mktemp('tls')
    ca = make_cert('Fleetops Test CA', days_left=400, ca=True)
    leaf = make_cert('localhost', days_left=90, names=['localhost'], ips=['127.0.0.1'], issuer=ca)
    ca_path = ca.write(directory, 'ca')[0]
    cert_path, key_path = leaf.write(directory, 'server')
    tls_port = free_port()
    server = RedisServer(directory / 'data', '--tls-port', str(tls_port), '--tls-cert-file', str(cert_path),
                         '--tls-key-file', str(key_path), '--tls-ca-cert-file', str(ca_path),
                         '--tls-auth-clients', 'no').start()
    yield server, tls_port, ca_path
    server.stop()


def test_tls_with_a_ca(ansible, tls_server):
    server, tls_port, ca_path = tls_server
    result = run(ansible, tls_port, tls=True, ca_cert=str(ca_path))
    assert result['is_available'] is True
    assert one(result, 'available')['status'] == 'OK'
    assert one(result, 'role')['value'] == 'master'


def test_tls_without_the_ca_is_refused_with_the_reason(ansible, tls_server):
    server, tls_port, ca_path = tls_server
    result = run(ansible, tls_port, tls=True)
    assert result['is_available'] is False
    assert 'TLS handshake failed' in one(result, 'available')['message']
    assert 'certificate' in one(result, 'available')['message']


def test_plain_text_to_a_tls_port_is_critical(ansible, tls_server):
    server, tls_port, ca_path = tls_server
    result = run(ansible, tls_port, connect_timeout=2, command_timeout=2)
    assert result['is_available'] is False
    assert result['status'] == 'CRITICAL'


def test_unix_socket_and_config_renamed_away(ansible, tmp_path):
    """CONFIG renamed to nothing: maxmemory comes from INFO, and memory is still judged."""
    directory = tmp_path / 'unix'
    socket_path = directory / 'redis.sock'
    server = RedisServer(directory, '--unixsocket', str(socket_path), '--unixsocketperm', '700',
                         '--rename-command', 'CONFIG', '', '--maxmemory', '64mb').start()
    try:
        result = run(ansible, 1, login_unix_socket=str(socket_path))
    finally:
        server.stop()
    assert result['is_available'] is True
    assert one(result, 'available')['message'] == 'available %s: answers PING' % socket_path
    assert 'unknown command' in result['server']['config_refused']
    assert result['server']['maxmemory_source'] == 'info'
    assert result['server']['maxmemory'] == 64 * 1024 * 1024
    memory = one(result, 'memory')
    assert 0 < memory['value'] < 80 and memory['status'] == 'OK'
    # Without CONFIG the save setting is unknown; nothing was written, so the age is not judged.
    assert 'no changes since' in one(result, 'rdb_save_age')['message']
    assert one(result, 'clients')['status'] == 'OK'


def test_a_unix_socket_that_is_no_socket(ansible, tmp_path):
    path = tmp_path / 'plain-file'
    path.write_text('x')
    result = run(ansible, 1, login_unix_socket=str(path))
    assert result['is_available'] is False
    assert result['status'] == 'CRITICAL'


# A range every age is inside: alerts whenever the age is judged at all, whatever the clock says.
EVERY_AGE = {'rdb_save_age': {'warning': '@0:1000000000'}}


def test_save_age_judged_only_with_snapshots_and_unsaved_changes(ansible, tmp_path, plain):
    server = RedisServer(tmp_path / 'snapshots', '--save', '3600 1').start()
    try:
        clean = one(run(ansible, server.port, thresholds=EVERY_AGE), 'rdb_save_age')
        assert clean['status'] == 'OK' and 'no changes since' in clean['message']
        assert server.call('SET', 'k', 'v') == b'+OK'
        dirty = one(run(ansible, server.port, thresholds=EVERY_AGE), 'rdb_save_age')
    finally:
        server.stop()
    assert dirty['status'] == 'WARNING'
    assert '1 changes not saved' in dirty['message']
    assert dirty['value'] >= 0
    # Snapshots off: written to, yet not judged.
    assert plain.call('SET', 'k', 'v') == b'+OK'
    off = one(run(ansible, plain.port, thresholds=EVERY_AGE), 'rdb_save_age')
    assert off['status'] == 'OK' and 'snapshots are off' in off['message']


def test_save_age_not_judged_when_config_is_refused_and_nothing_was_saved(ansible, locked):
    assert locked.call('SET', 'k', 'v') == b'+OK'
    result = run(ansible, locked.port, login_user='monitor', login_password='Monitor-Pw-0815', thresholds=EVERY_AGE)
    age = one(result, 'rdb_save_age')
    assert age['status'] == 'OK'
    assert 'cannot be read (CONFIG refused); not judged' in age['message']
