# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""service_check run through Ansible on localhost: real sockets opened by the test on loopback,
the units part where systemd is not the init system, and bad input.

The units themselves are tested against a real systemd in molecule/service_check.
"""

from __future__ import annotations

import os
import socket
import subprocess

import pytest

pytestmark = pytest.mark.services

MODULE = 'fleetops.runbook.service_check'

NO_SYSTEMD = not os.path.isdir('/run/systemd/system')


def one(result, name, target=None):
    found = [c for c in result['checks'] if c['name'] == name and c.get('target') == target]
    assert len(found) == 1, (name, target, result['checks'])
    return found[0]


def statuses(result):
    return [(c['name'], c['target'], c['value'], c['status']) for c in result['checks']]


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(('::1', 0))
        return True
    except OSError:
        return False


class Sockets:
    """Real sockets on loopback: listening TCP and UDP, and ports held without listening."""

    def __init__(self):
        self.held = []
        self.tcp = self._tcp(socket.AF_INET, '127.0.0.1', listen=True)
        self.udp = self._udp(socket.AF_INET, '127.0.0.1', connect=False)
        # Bound but never listening, and UDP connected to a peer: neither is in `ss -tuln`, and no
        # other program can take the port while the test runs.
        self.closed = self._tcp(socket.AF_INET, '127.0.0.1', listen=False)
        self.connected_udp = self._udp(socket.AF_INET, '127.0.0.1', connect=True)
        self.ipv6 = ipv6_loopback()
        if self.ipv6:
            self.tcp6 = self._tcp(socket.AF_INET6, '::1', listen=True)
            self.udp6 = self._udp(socket.AF_INET6, '::1', connect=False)

    def _tcp(self, family, address, listen):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.bind((address, 0))
        if listen:
            sock.listen(8)
        self.held.append(sock)
        return sock.getsockname()[1]

    def _udp(self, family, address, connect):
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.bind((address, 0))
        if connect:
            sock.connect((address, self.udp))
        self.held.append(sock)
        return sock.getsockname()[1]

    def close(self):
        for sock in self.held:
            sock.close()


@pytest.fixture(scope='module')
def sockets():
    opened = Sockets()
    yield opened
    opened.close()


def test_listening_entries(ansible, sockets):
    s = sockets
    result = ansible.module(MODULE, {
        'listening': ['127.0.0.1:%d' % s.tcp, s.tcp, 'udp/*:%d' % s.udp, 'udp/127.0.0.1:%d' % s.udp,
                      '127.0.0.1:%d' % s.closed, 'udp/127.0.0.1:%d' % s.connected_udp, 'udp/%d' % s.tcp],
        'fail_on': 'never',
    })
    assert not result.get('failed'), result
    assert result['changed'] is False
    assert statuses(result) == [
        ('listening', 'tcp/127.0.0.1:%d' % s.tcp, 1, 'OK'),
        ('listening', 'tcp/%d' % s.tcp, 1, 'OK'),
        ('listening', 'udp/%d' % s.udp, 1, 'OK'),
        ('listening', 'udp/127.0.0.1:%d' % s.udp, 1, 'OK'),
        ('listening', 'tcp/127.0.0.1:%d' % s.closed, 0, 'CRITICAL'),
        ('listening', 'udp/127.0.0.1:%d' % s.connected_udp, 0, 'CRITICAL'),
        ('listening', 'udp/%d' % s.tcp, 0, 'CRITICAL'),
    ]
    assert one(result, 'listening', 'tcp/127.0.0.1:%d' % s.tcp)['message'] == \
        'listening tcp/127.0.0.1:%d: listening on 127.0.0.1:%d' % (s.tcp, s.tcp)
    missing = one(result, 'listening', 'tcp/127.0.0.1:%d' % s.closed)
    assert missing['message'] == 'listening tcp/127.0.0.1:%d: nothing listens' % s.closed
    assert missing['critical'] == '1:'
    assert result['status'] == 'CRITICAL'
    assert result['summary'].startswith('CRITICAL: listening tcp/127.0.0.1:%d: nothing listens' % s.closed)
    assert "'listening tcp/127.0.0.1:%d'=1;;1:" % s.tcp in result['perfdata']


def test_not_listening_entries(ansible, sockets):
    s = sockets
    result = ansible.module(MODULE, {
        # The seed's `ss -tuln` check: the port must not be open on every address. It is bound to
        # loopback only, so the first entry holds; the second finds it.
        'not_listening': ['0.0.0.0:%d' % s.tcp, '127.0.0.1:%d' % s.tcp, 'udp/%d' % s.udp,
                          'tcp/%d' % s.closed, 'udp/0.0.0.0:%d' % s.udp],
        'fail_on': 'never',
    })
    assert statuses(result) == [
        ('not_listening', 'tcp/0.0.0.0:%d' % s.tcp, 0, 'OK'),
        ('not_listening', 'tcp/127.0.0.1:%d' % s.tcp, 1, 'CRITICAL'),
        ('not_listening', 'udp/%d' % s.udp, 1, 'CRITICAL'),
        ('not_listening', 'tcp/%d' % s.closed, 0, 'OK'),
        ('not_listening', 'udp/0.0.0.0:%d' % s.udp, 0, 'OK'),
    ]
    found = one(result, 'not_listening', 'tcp/127.0.0.1:%d' % s.tcp)
    assert found['message'] == 'not_listening tcp/127.0.0.1:%d: found 127.0.0.1:%d' % (s.tcp, s.tcp)
    assert found['critical'] == '0'


def test_the_task_fails_on_a_missing_socket_by_default(ansible, sockets):
    result = ansible.module(MODULE, {'listening': ['127.0.0.1:%d' % sockets.closed]})
    assert result['failed'] is True
    assert result['msg'] == 'CRITICAL: listening tcp/127.0.0.1:%d: nothing listens' % sockets.closed
    assert result['status'] == 'CRITICAL' and result['checks']
    result = ansible.module(MODULE, {'listening': ['127.0.0.1:%d' % sockets.tcp],
                                     'not_listening': ['0.0.0.0:%d' % sockets.tcp]})
    assert not result.get('failed') and result['status'] == 'OK', result
    assert result['summary'] == 'OK: 2 OK'


@pytest.mark.skipif(not ipv6_loopback(), reason='no IPv6 loopback on this machine')
def test_ipv6_loopback_sockets(ansible, sockets):
    s = sockets
    result = ansible.module(MODULE, {
        'listening': ['[::1]:%d' % s.tcp6, 'tcp/%d' % s.tcp6, 'udp/[::1]:%d' % s.udp6, '127.0.0.1:%d' % s.tcp6],
        'not_listening': ['[::]:%d' % s.tcp6, '0.0.0.0:%d' % s.tcp6, '[::1]:%d' % s.tcp],
        'fail_on': 'never',
    })
    assert statuses(result) == [
        ('listening', 'tcp/[::1]:%d' % s.tcp6, 1, 'OK'),
        ('listening', 'tcp/%d' % s.tcp6, 1, 'OK'),
        ('listening', 'udp/[::1]:%d' % s.udp6, 1, 'OK'),
        # Bound to ::1, it takes no IPv4 connection.
        ('listening', 'tcp/127.0.0.1:%d' % s.tcp6, 0, 'CRITICAL'),
        ('not_listening', 'tcp/[::]:%d' % s.tcp6, 0, 'OK'),
        ('not_listening', 'tcp/0.0.0.0:%d' % s.tcp6, 0, 'OK'),
        ('not_listening', 'tcp/[::1]:%d' % s.tcp, 0, 'OK'),
    ]
    assert one(result, 'listening', 'tcp/[::1]:%d' % s.tcp6)['message'].endswith('listening on [::1]:%d' % s.tcp6)
    mine = {(r['protocol'], r['family'], r['address'], r['port']) for r in result['sockets']}
    assert ('tcp', 'ipv6', '::1', s.tcp6) in mine and ('udp', 'ipv6', '::1', s.udp6) in mine


def test_sockets_are_what_ss_lists(ansible, sockets):
    s = sockets
    result = ansible.module(MODULE, {'listening': [s.tcp], 'fail_on': 'never'})
    mine = {(r['protocol'], r['address'], r['port']): r for r in result['sockets']}
    assert mine[('tcp', '127.0.0.1', s.tcp)] == {'protocol': 'tcp', 'family': 'ipv4', 'address': '127.0.0.1',
                                                 'port': s.tcp, 'uid': os.getuid()}
    assert ('udp', '127.0.0.1', s.udp) in mine
    for port in (s.closed, s.connected_udp):
        assert not [key for key in mine if key[2] == port and key[1] == '127.0.0.1']
    # Other programs open and close sockets meanwhile: compare on the test's own ports. (make
    # installs iproute2 for ss: mk/45-services.mk.)
    listed = subprocess.run(['ss', '-tuln', '-H'], capture_output=True, text=True, check=True).stdout
    ours = {s.tcp, s.udp, s.closed, s.connected_udp}
    from_ss = set()
    for line in listed.splitlines():
        fields = line.split()
        address, port = fields[4].rsplit(':', 1)
        if int(port) in ours:
            from_ss.add((fields[0], address.strip('[]'), int(port)))
    assert from_ss == {('tcp', '127.0.0.1', s.tcp), ('udp', '127.0.0.1', s.udp)}
    assert {key for key in mine if key[2] in ours} == from_ss


@pytest.mark.skipif(not NO_SYSTEMD, reason='systemd is the init system here (the units run in molecule/service_check)')
def test_units_without_systemd_are_unknown_and_sockets_still_checked(ansible, sockets):
    args = {'units': [{'name': 'nginx'}, {'name': 'app-*.service', 'required': False}],
            'listening': ['127.0.0.1:%d' % sockets.tcp], 'not_listening': ['0.0.0.0:%d' % sockets.tcp]}
    result = ansible.module(MODULE, dict(args, fail_on='never'))
    assert not result.get('failed'), result
    systemd = one(result, 'systemd')
    assert systemd['status'] == 'UNKNOWN' and systemd['value'] is None
    assert systemd['message'].startswith('systemd: not the init system here (no /run/systemd/system')
    assert systemd['message'].endswith('units not checked: nginx.service, app-*.service')
    assert [c['status'] for c in result['checks'] if c['name'] != 'systemd'] == ['OK', 'OK']
    assert result['status'] == 'UNKNOWN'
    assert 'units' not in result and result['sockets']
    # UNKNOWN is above CRITICAL: the default fail_on fails the task, with every key returned.
    failed = ansible.module(MODULE, args)
    assert failed['failed'] is True and failed['msg'].startswith('UNKNOWN: systemd: not the init system')
    assert [c['status'] for c in failed['checks']] == ['UNKNOWN', 'OK', 'OK']


def test_check_mode_reports_the_same(ansible, sockets):
    args = {'listening': ['127.0.0.1:%d' % sockets.tcp, '127.0.0.1:%d' % sockets.closed], 'fail_on': 'never'}
    normal = ansible.module(MODULE, args)
    dry = ansible.module(MODULE, args, check=True)
    assert dry['changed'] is False
    assert statuses(dry) == statuses(normal)


BAD_INPUT = [
    ('nothing to check', {}, ['units, listening, not_listening', 'at least one']),
    ('bad unit name', {'units': [{'name': 'ok.service'}, {'name': 'bad name;reboot'}]},
     ['units[1].name', 'is not a unit name']),
    ('option-like unit name', {'units': [{'name': '--all'}]}, ['units[0].name', "must not start with '-'"]),
    ('unit twice', {'units': [{'name': 'nginx'}, {'name': 'nginx.service'}]},
     ['units[1].name', 'nginx.service is already units[0].name']),
    ('unit without name', {'units': [{'required': True}]}, ['name', 'units']),
    ('host name socket', {'listening': ['localhost:6379']}, ['listening[0]', 'not an IPv4 address']),
    ('port out of range', {'not_listening': [70000]}, ['not_listening[0]', 'from 1 to 65535']),
    ('unbracketed IPv6', {'listening': ['::1:5432']}, ['listening[0]', 'in brackets']),
    ('other protocol', {'listening': ['sctp/5432']}, ['listening[0]', 'neither tcp nor udp']),
    ('mapping as a socket', {'listening': [{'port': 5432}]}, ['listening[0]', 'write PORT']),
    ('socket twice', {'listening': ['tcp/5432', '5432']}, ['listening[1]', 'tcp/5432 is already listening[0]']),
    ('required and forbidden', {'listening': ['127.0.0.1:5432'], 'not_listening': ['tcp/127.0.0.1:5432']},
     ['not_listening[0]', 'is already listening[0]']),
    ('zero timeout', {'listening': [22], 'timeout': 0}, ['timeout', 'greater than 0']),
    ('huge timeout', {'listening': [22], 'timeout': 1e300}, ['timeout', 'at most 300']),
    ('infinite timeout', {'listening': [22], 'timeout': float('inf')}, ['timeout', 'finite']),
    ('bad range', {'listening': [22], 'thresholds': {'restarts': {'warning': 'many'}}},
     ['thresholds.restarts.warning', "'many' is not a valid range"]),
    ('unknown threshold', {'listening': [22], 'thresholds': {'restart': {'warning': 1}}},
     ['thresholds: unknown check', 'restarts, state_age']),
    ('NUL in a unit name', {'units': [{'name': 'a\x00b'}]}, ['units', 'NUL']),
]


def test_bad_input_names_the_parameter(ansible):
    tasks = [{'name': name, 'ignore_errors': True, MODULE: args} for name, args, words in BAD_INPUT]
    # The timeout only guards against a hang; the assertions are on what came back.
    run = ansible.tasks(tasks, timeout=600)
    for name, args, words in BAD_INPUT:
        result = run.task(name)
        assert result.get('failed') is True, (name, result)
        msg = result['msg']
        assert 'Traceback' not in msg and 'MODULE FAILURE' not in msg, (name, msg)
        for word in words:
            assert word in msg, (name, msg)
        assert 'checks' not in result, (name, result)
