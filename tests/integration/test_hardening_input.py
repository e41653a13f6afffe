# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input to the ufw and tls roles fails before ufw or nginx is touched.

The roles run on localhost in check mode: a preflight that let bad input through could still not
change this machine's firewall or web server.
"""

from __future__ import annotations

import pytest

from .tlsutil import make_cert, new_key


def run_role(ansible, role, role_vars):
    play = {'name': 'bad input', 'hosts': 'localhost', 'gather_facts': False,
            'tasks': [{'name': 'role under test',
                       'ansible.builtin.include_role': {'name': 'fleetops.runbook.%s' % role},
                       'vars': role_vars}]}
    return ansible.playbook([play], check=True)


def failure(result):
    """The message of the failed task, and the names of every task that ran."""
    assert result.rc != 0, result
    ran = [task['task']['name'] for task in result.tasks]
    failed = [task for task in result.tasks if task['hosts'].get('localhost', {}).get('failed')]
    assert failed, result
    host = failed[-1]['hosts']['localhost']
    # A loop fails with 'One or more items failed'; the cause is in the failed items.
    messages = [host['msg']] + [item['msg'] for item in host.get('results', [])
                                if item.get('failed') or item.get('evaluated_to') is False]
    return failed[-1]['task']['name'], '\n'.join(messages), ran


UFW_TOUCHES = ('Install ufw', 'Set the logging level', 'Enable the firewall',
               'Write the network sysctl settings')


@pytest.mark.parametrize('role_vars,words', [
    ({'ufw_deny_sources': ['203.0.113.7', 'attacker.example']},
     ['ufw_deny_sources[1]', 'attacker.example', 'is not an address or a CIDR network']),
    ({'ufw_deny_sources': ['198.51.100.7/24']},
     ['ufw_deny_sources[0]', '198.51.100.7/24', 'no host bits set']),
    ({'ufw_deny_sources': ['2001:db8::/129']}, ['ufw_deny_sources[0]']),
    ({'ufw_allowed_services': [{'port': 70000}]}, ['ufw_allowed_services[0]', '1-65535']),
    ({'ufw_allowed_services': [{'port': '22', 'proto': 'tcp'}, {'port': 'ssh'}]},
     ['ufw_allowed_services[1]', '"port": "ssh"']),
    ({'ufw_allowed_services': [{'port': '6000:6007', 'proto': 'any'}]},
     ['ufw_allowed_services[0]', 'first:last']),
    ({'ufw_allowed_services': [{'port': 5432, 'from': '10.0.0.0/33'}]},
     ['ufw_allowed_services[0]', 'CIDR']),
    ({'ufw_rollback_timeout': 30, 'ufw_rollback_confirm_timeout': 60},
     ['ufw_rollback_confirm_timeout must be below ufw_rollback_timeout']),
    ({'ufw_logging': 'loud'}, ['ufw_logging', 'loud']),
])
def test_ufw_bad_input_fails_before_the_firewall(ansible, role_vars, words):
    task, msg, ran = failure(run_role(ansible, 'ufw', role_vars))
    for word in words:
        assert word in msg, msg
    assert not set(ran) & set(UFW_TOUCHES), ran


TLS_TOUCHES = ('Install nginx (and cryptography for self-signed certificates)',
               'Write the shared TLS settings of the profile', 'Write the TLS server blocks')


def site(tmp_path, **extra):
    cert = tmp_path / 'site.crt'
    key = tmp_path / 'site.key'
    cert.write_text('placeholder\n')
    key.write_text('placeholder\n')
    item = {'name': 'www.example.test', 'certificate': str(cert), 'key': str(key)}
    item.update(extra)
    return item


def test_tls_unknown_profile(ansible, tmp_path):
    task, msg, ran = failure(run_role(ansible, 'tls', {'tls_profile': 'old',
                                                       'tls_sites': [site(tmp_path)]}))
    assert 'tls_profile' in msg and 'intermediate, modern' in msg, msg
    assert not set(ran) & set(TLS_TOUCHES), ran


def test_tls_missing_certificate(ansible, tmp_path):
    missing = str(tmp_path / 'missing.crt')
    task, msg, ran = failure(run_role(ansible, 'tls', {'tls_sites': [site(tmp_path, certificate=missing)]}))
    assert missing in msg and 'does not exist' in msg and 'tls_selfsigned_enabled' in msg, msg
    assert not set(ran) & set(TLS_TOUCHES), ran


def test_tls_missing_chain_even_with_self_signed(ansible, tmp_path):
    missing = str(tmp_path / 'chain.pem')
    task, msg, ran = failure(run_role(ansible, 'tls', {
        'tls_selfsigned_enabled': True, 'tls_sites': [site(tmp_path, chain=missing)]}))
    assert missing in msg and 'does not exist' in msg, msg


@pytest.mark.parametrize('role_vars,words', [
    ({'tls_https_port': 70000}, ['tls_https_port', '1-65535']),
    ({'tls_https_port': 80}, ['different ports']),
    ({'tls_http_port': 'http'}, ['tls_http_port', 'int']),
])
def test_tls_bad_ports(ansible, tmp_path, role_vars, words):
    role_vars = dict(role_vars, tls_sites=[site(tmp_path)])
    task, msg, ran = failure(run_role(ansible, 'tls', role_vars))
    for word in words:
        assert word in msg, msg
    assert not set(ran) & set(TLS_TOUCHES), ran


@pytest.mark.parametrize('extra,words', [
    ({'listen_port': '44x'}, ['listen_port', 'int']),
    ({'listen_port': 0}, ['tls_sites[0]', 'listen_port 1-65535']),
    ({'name': '../etc/passwd'}, ['tls_sites[0]', 'name must be']),
    ({'server_names': ['bad name']}, ['tls_sites[0]', 'server_names']),
])
def test_tls_bad_site(ansible, tmp_path, extra, words):
    task, msg, ran = failure(run_role(ansible, 'tls', {'tls_sites': [site(tmp_path, **extra)]}))
    for word in words:
        assert word in msg, msg
    assert not set(ran) & set(TLS_TOUCHES), ran


@pytest.mark.parametrize('role_vars,extra,words', [
    ({'tls_listen_address': 'www.example.test'}, {},
     ["tls_listen_address 'www.example.test' is not an IP address"]),
    ({'tls_listen_address': '10.0.0.0/8'}, {}, ['tls_listen_address', '10.0.0.0/8']),
    ({}, {'listen_address': '10.0.0.300'}, ["tls_sites[0] (www.example.test): listen_address '10.0.0.300'"]),
])
def test_tls_bad_listen_address(ansible, tmp_path, role_vars, extra, words):
    role_vars = dict(role_vars, tls_sites=[site(tmp_path, **extra)])
    task, msg, ran = failure(run_role(ansible, 'tls', role_vars))
    for word in words:
        assert word in msg, msg
    assert not set(ran) & set(TLS_TOUCHES), ran


def test_tls_two_default_servers_on_one_port(ansible, tmp_path):
    first = site(tmp_path, default_server=True)
    second = dict(first, name='other.example.test')
    third = dict(first, name='elsewhere.example.test', listen_address='127.0.0.1')
    task, msg, ran = failure(run_role(ansible, 'tls', {'tls_sites': [first, second, third]}))
    assert ('tls_sites[1] (other.example.test) and tls_sites[0] (www.example.test) are both '
            'default_server of *:443') in msg, msg
    assert 'elsewhere' not in msg
    assert not set(ran) & set(TLS_TOUCHES), ran


WARNING_TASK = 'Warn about certificates whose key type the profile does not want'


@pytest.mark.parametrize('profile,kind,warned', [
    ('modern', 'rsa', True),
    ('modern', 'ec', False),
    ('intermediate', 'rsa', False),
])
def test_tls_modern_warns_about_an_rsa_certificate(ansible, tmp_path, profile, kind, warned):
    """A warning in the play output, not a failure (the check-mode run goes on to the install
    step, which changes nothing on this machine)."""
    cert, key = make_cert(key=new_key(kind, 2048 if kind == 'rsa' else 256)).write(tmp_path, 'www')
    result = run_role(ansible, 'tls', {'tls_profile': profile, 'tls_sites': [
        {'name': 'www.example.test', 'certificate': str(cert), 'key': str(key)}]})
    assert result.rc == 0, result
    task = result.task(WARNING_TASK)
    messages = [item['msg'] for item in task.get('results', []) if str(item.get('msg', '')).startswith('WARNING')]
    if warned:
        assert len(messages) == 1, task
        assert messages[0].startswith('WARNING: tls_sites www.example.test: %s has an RSA key;' % cert)
        assert "Mozilla's modern profile wants EC certificates" in messages[0]
    else:
        assert messages == [], task
