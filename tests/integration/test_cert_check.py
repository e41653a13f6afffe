# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cert_check run through Ansible on localhost against certificates made by the test, in files and
served by a TLS server on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess

import pytest
from cryptography.hazmat.primitives import serialization

from .tlsutil import TlsServer, make_cert, new_key

MODULE = 'fleetops.runbook.cert_check'


def checks(result, name, target=None):
    return [c for c in result['checks'] if c['name'] == name and (target is None or c['target'] == target)]


def one(result, name, target=None):
    found = checks(result, name, target)
    assert len(found) == 1, (name, target, result['checks'])
    return found[0]


@pytest.fixture(scope='module')
def certs(tmp_path_factory):
    """Certificate files for every case, written once."""
    directory = tmp_path_factory.mktemp('certs')
    ca = make_cert('Fleetops Test CA', days_left=400, ca=True)
    made = {
        'expired': make_cert(days_left=-3),
        'soon': make_cert(days_left=20),
        'fresh': make_cert(days_left=90, names=['www.example.test', '*.apps.example.test']),
        'critical_soon': make_cert(days_left=10),
        'weak_rsa': make_cert(days_left=90, key=new_key('rsa', 1024)),
        'weak_ec': make_cert(days_left=90, key=new_key('ec', 224)),
        'strong_rsa': make_cert(days_left=90, key=new_key('rsa', 2048)),
        'signed': make_cert('localhost', days_left=90, names=['localhost'], ips=['127.0.0.1'],
                            issuer=ca),
        'other_name': make_cert('other.example.test', days_left=90, names=['other.example.test'],
                                issuer=ca),
    }
    paths = {name: cert.write(directory, name) for name, cert in made.items()}
    paths['ca'] = ca.write(directory, 'ca')
    # A leaf with a chain certificate that expires in 20 days.
    intermediate = make_cert('Fleetops Test Intermediate', days_left=20, ca=True, issuer=ca)
    leaf = make_cert(days_left=90, issuer=intermediate)
    paths['chained'] = leaf.write(directory, 'chained', chain=[intermediate])
    # The key of another certificate next to this one.
    paths['mismatch'] = (paths['fresh'][0], paths['soon'][1])
    paths['encrypted'] = made['fresh'].write(directory, 'encrypted', passphrase='s3cret-Passphrase')
    paths['world'] = made['fresh'].write(directory, 'world', key_mode=0o644)
    paths['der'] = directory / 'fresh.der'
    paths['der'].write_bytes(made['fresh'].cert.public_bytes(serialization.Encoding.DER))
    # cryptography no longer signs with SHA-1; OpenSSL still does.
    paths['sha1'] = (directory / 'sha1.crt', directory / 'sha1.key')
    subprocess.run(['openssl', 'req', '-x509', '-sha1', '-newkey', 'rsa:2048', '-nodes',
                    '-keyout', str(paths['sha1'][1]), '-out', str(paths['sha1'][0]), '-days', '90',
                    '-subj', '/CN=sha1.example.test'], check=True, capture_output=True)
    paths['garbage'] = directory / 'garbage.crt'
    paths['garbage'].write_text('not a certificate\n')
    paths['dir'] = directory
    return paths


def run_files(ansible, *specs, check=False, **args):
    args.setdefault('fail_on', 'never')
    return ansible.module(MODULE, dict(certificates=list(specs), **args), check=check)


def test_expired_certificate_is_critical(ansible, certs):
    result = run_files(ansible, {'path': str(certs['expired'][0])})
    expiry = one(result, 'cert_expiry')
    assert expiry['status'] == 'CRITICAL'
    assert expiry['value'] == pytest.approx(-3, abs=0.02)
    assert (expiry['warning'], expiry['critical']) == ('30:', '14:')
    assert 'expired' in expiry['message']
    assert result['status'] == 'CRITICAL'
    assert result['certificates'][0]['days_left'] < 0


def test_certificate_expiring_in_20_days_is_warning(ansible, certs):
    result = run_files(ansible, {'path': str(certs['soon'][0])})
    expiry = one(result, 'cert_expiry')
    assert expiry['status'] == 'WARNING'
    assert expiry['value'] == pytest.approx(20, abs=0.02)
    assert expiry['unit'] == 'days'
    assert '(warning 30:)' in expiry['message']
    assert result['status'] == 'WARNING'
    assert result['summary'].startswith('WARNING: cert_expiry ')


def test_certificate_expiring_in_10_days_is_critical(ansible, certs):
    result = run_files(ansible, {'path': str(certs['critical_soon'][0])})
    assert one(result, 'cert_expiry')['status'] == 'CRITICAL'


def test_certificate_with_90_days_is_ok(ansible, certs):
    path = str(certs['fresh'][0])
    result = run_files(ansible, {'path': path, 'key_path': str(certs['fresh'][1]),
                                 'hostname': 'www.example.test'})
    assert result['status'] == 'OK', result['summary']
    assert result['changed'] is False
    assert one(result, 'cert_expiry')['value'] == pytest.approx(90, abs=0.02)
    assert one(result, 'cert_key_match')['value'] == 'match'
    assert one(result, 'key_mode')['value'] == '0600'
    strength = one(result, 'key_strength')
    assert (strength['value'], strength['unit'], strength['critical']) == (256, 'bits', '256:')
    assert one(result, 'cert_signature')['value'] == 'sha256'
    assert one(result, 'hostname_match')['status'] == 'OK'
    info = result['certificates'][0]
    assert info['subject'] == 'CN=www.example.test'
    assert info['key_type'] == 'EC'
    assert info['subject_alt_names'] == ['www.example.test', '*.apps.example.test']
    assert "'cert_expiry %s'=90" % path in result['perfdata']
    metrics = '\n'.join(result['metrics'])
    assert 'fleetops_check_status{source="cert_check",check="cert_expiry",target="%s"} 0' % path in metrics


def test_thresholds_are_range_syntax(ansible, certs):
    result = run_files(ansible, {'path': str(certs['fresh'][0])},
                       thresholds={'cert_expiry': {'warning': '120:', 'critical': '60:'}})
    assert one(result, 'cert_expiry')['status'] == 'WARNING'
    result = run_files(ansible, {'path': str(certs['soon'][0])},
                       thresholds={'cert_expiry': {'warning': '', 'critical': '7:'}})
    assert one(result, 'cert_expiry')['status'] == 'OK'


def test_der_certificate_is_read(ansible, certs):
    result = run_files(ansible, {'path': str(certs['der'])})
    assert one(result, 'cert_expiry')['status'] == 'OK'


def test_chain_certificates_are_checked_too(ansible, certs):
    path = str(certs['chained'][0])
    result = run_files(ansible, {'path': path})
    assert one(result, 'cert_expiry', path)['status'] == 'OK'
    chain = one(result, 'cert_expiry', '%s [chain 1]' % path)
    assert chain['status'] == 'WARNING'
    assert [c['position'] for c in result['certificates']] == [0, 1]
    assert result['certificates'][1]['subject'] == 'CN=Fleetops Test Intermediate'


def test_mismatched_key_is_critical(ansible, certs):
    cert_path, key_path = certs['mismatch']
    result = run_files(ansible, {'path': str(cert_path), 'key_path': str(key_path)})
    match = one(result, 'cert_key_match')
    assert match['status'] == 'CRITICAL'
    assert match['value'] == 'mismatch'
    assert str(key_path) in match['message']
    assert result['status'] == 'CRITICAL'


def test_encrypted_key_needs_its_passphrase(ansible, certs):
    cert_path, key_path = certs['encrypted']
    result = run_files(ansible, {'path': str(cert_path), 'key_path': str(key_path)})
    match = one(result, 'cert_key_match')
    assert match['status'] == 'UNKNOWN'
    assert 'certificates[0].key_path' in match['message'] and 'key_passphrase' in match['message']
    result = run_files(ansible, {'path': str(cert_path), 'key_path': str(key_path),
                                 'key_passphrase': 's3cret-Passphrase'})
    assert one(result, 'cert_key_match')['status'] == 'OK'
    assert 's3cret-Passphrase' not in repr(result)


def test_world_readable_key_is_critical(ansible, certs):
    cert_path, key_path = certs['world']
    result = run_files(ansible, {'path': str(cert_path), 'key_path': str(key_path)})
    mode = one(result, 'key_mode')
    assert (mode['status'], mode['value']) == ('CRITICAL', '0644')
    assert one(result, 'cert_key_match')['status'] == 'OK'


@pytest.mark.parametrize('name,key_type,bits,status', [
    ('weak_rsa', 'RSA', 1024, 'CRITICAL'),
    ('weak_ec', 'EC', 224, 'CRITICAL'),
    ('strong_rsa', 'RSA', 2048, 'OK'),
])
def test_key_strength(ansible, certs, name, key_type, bits, status):
    result = run_files(ansible, {'path': str(certs[name][0])})
    strength = one(result, 'key_strength')
    assert (strength['value'], strength['status']) == (bits, status)
    assert strength['labels'] == {'key_type': key_type}
    assert '%s %d bits' % (key_type, bits) in strength['message']


def test_sha1_signature_is_critical(ansible, certs):
    result = run_files(ansible, {'path': str(certs['sha1'][0])})
    signature = one(result, 'cert_signature')
    assert (signature['value'], signature['status']) == ('sha1', 'CRITICAL')


@pytest.mark.parametrize('hostname,status', [
    ('www.example.test', 'OK'),
    ('WWW.Example.Test.', 'OK'),
    ('api.apps.example.test', 'OK'),
    ('a.b.apps.example.test', 'CRITICAL'),
    ('apps.example.test', 'CRITICAL'),
    ('mail.example.test', 'CRITICAL'),
    ('127.0.0.1', 'CRITICAL'),
])
def test_hostname_match_of_a_file(ansible, certs, hostname, status):
    result = run_files(ansible, {'path': str(certs['fresh'][0]), 'hostname': hostname})
    match = one(result, 'hostname_match')
    assert match['status'] == status, match


def test_fail_on_critical_fails_the_task_with_every_key(ansible, certs):
    result = ansible.module(MODULE, {'certificates': [{'path': str(certs['expired'][0])}]})
    assert result['failed'] is True
    assert result['msg'].startswith('CRITICAL: cert_expiry ')
    assert result['status'] == 'CRITICAL' and result['checks']


def test_check_mode_reads_the_same(ansible, certs):
    result = run_files(ansible, {'path': str(certs['soon'][0])}, check=True)
    assert one(result, 'cert_expiry')['status'] == 'WARNING'
    assert result['changed'] is False


@pytest.fixture(scope='module')
def server(certs):
    """127.0.0.1 serving a CA-signed certificate for localhost, another one for SNI
    other.example.test, and an expired one for SNI expired.example.test."""
    with TlsServer(*certs['signed'], by_name={
            'other.example.test': certs['other_name'],
            'expired.example.test': certs['expired']}) as srv:
        yield srv


def run_endpoints(ansible, *specs, **args):
    args.setdefault('fail_on', 'never')
    args.setdefault('timeout', 5)
    return ansible.module(MODULE, dict(endpoints=list(specs), **args))


def test_live_endpoint_verified_against_its_ca(ansible, certs, server):
    address = '127.0.0.1:%d' % server.port
    result = run_endpoints(ansible, {'address': address, 'server_name': 'localhost',
                                     'ca_path': str(certs['ca'][0])})
    assert result['status'] == 'OK', result['summary']
    assert one(result, 'endpoint_reachable', address)['status'] == 'OK'
    assert one(result, 'cert_verify', address)['value'] == 'verified'
    assert one(result, 'hostname_match', address)['status'] == 'OK'
    assert one(result, 'cert_expiry', address)['value'] == pytest.approx(90, abs=0.02)
    endpoint = result['endpoints'][0]
    assert endpoint['reachable'] is True and endpoint['verified'] is True
    assert endpoint['tls_version'] == 'TLSv1.3'
    assert result['certificates'][0]['subject'] == 'CN=localhost'
    assert 'localhost' in server.server_names


def test_live_endpoint_by_ip_matches_its_ip_san(ansible, certs, server):
    address = '127.0.0.1:%d' % server.port
    result = run_endpoints(ansible, {'address': address, 'ca_path': str(certs['ca'][0])})
    assert one(result, 'hostname_match', address)['status'] == 'OK'


def test_live_endpoint_sends_sni_and_reports_hostname_mismatch(ansible, certs, server):
    address = '127.0.0.1:%d' % server.port
    result = run_endpoints(ansible, {'address': address, 'server_name': 'other.example.test',
                                     'ca_path': str(certs['ca'][0])})
    assert 'other.example.test' in server.server_names
    assert result['certificates'][0]['subject'] == 'CN=other.example.test'
    assert one(result, 'hostname_match', address)['status'] == 'OK'
    assert one(result, 'cert_verify', address)['status'] == 'OK'
    result = run_endpoints(ansible, {'address': address, 'server_name': 'www.example.test',
                                     'ca_path': str(certs['ca'][0])})
    match = one(result, 'hostname_match', address)
    assert match['status'] == 'CRITICAL'
    assert 'www.example.test is not covered' in match['message']
    # Verification and the hostname are separate checks: the chain still verifies.
    assert one(result, 'cert_verify', address)['status'] == 'OK'


def test_live_endpoint_untrusted_chain_is_its_own_check(ansible, server):
    address = '127.0.0.1:%d' % server.port
    result = run_endpoints(ansible, {'address': address, 'server_name': 'localhost'})
    verify = one(result, 'cert_verify', address)
    assert verify['status'] == 'CRITICAL'
    assert 'unable to get local issuer certificate' in verify['message']
    # The certificate is still read and judged.
    assert one(result, 'cert_expiry', address)['status'] == 'OK'
    assert result['endpoints'][0]['verified'] is False
    result = run_endpoints(ansible, {'address': address, 'server_name': 'localhost', 'verify': False})
    assert not checks(result, 'cert_verify')
    assert result['status'] == 'OK'


def test_live_endpoint_with_expired_certificate(ansible, server):
    address = '127.0.0.1:%d' % server.port
    result = run_endpoints(ansible, {'address': address, 'server_name': 'expired.example.test',
                                     'verify': False})
    assert one(result, 'cert_expiry', address)['status'] == 'CRITICAL'


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_unreachable_endpoint_is_reported_as_data(ansible):
    address = '127.0.0.1:%d' % free_port()
    result = run_endpoints(ansible, {'address': address})
    reach = one(result, 'endpoint_reachable', address)
    assert reach['status'] == 'CRITICAL'
    assert 'refused' in reach['message'].lower()
    assert result['endpoints'][0]['reachable'] is False
    assert 'MODULE FAILURE' not in repr(result)


def test_files_and_endpoints_in_one_run(ansible, certs, server):
    result = ansible.module(MODULE, {
        'certificates': [{'path': str(certs['soon'][0])}],
        'endpoints': [{'address': '127.0.0.1:%d' % server.port, 'ca_path': str(certs['ca'][0])}],
        'fail_on': 'warning'})
    assert result['failed'] is True
    assert result['status'] == 'WARNING'
    assert {c['target'] for c in checks(result, 'cert_expiry')} == {
        str(certs['soon'][0]), '127.0.0.1:%d' % server.port}


# Bad input: a failed task that names the parameter and the cause, never a traceback.

def assert_clean_failure(result, *words):
    assert result.get('failed') is True, result
    assert 'Traceback' not in result.get('msg', '') and 'MODULE FAILURE' not in result.get('msg', '')
    for word in words:
        assert word in result['msg'], result['msg']


def test_missing_certificate_file(ansible, certs):
    missing = str(certs['dir'] / 'nope.crt')
    result = ansible.module(MODULE, {'certificates': [{'path': missing}]})
    assert_clean_failure(result, 'certificates[0].path', missing, 'does not exist')
    assert one(result, 'cert_file')['status'] == 'CRITICAL'


def test_missing_key_file(ansible, certs):
    missing = str(certs['dir'] / 'nope.key')
    result = ansible.module(MODULE, {'certificates': [{'path': str(certs['fresh'][0]),
                                                       'key_path': missing}]})
    assert_clean_failure(result, 'certificates[0].key_path', 'does not exist')


def test_file_that_is_not_a_certificate(ansible, certs):
    result = ansible.module(MODULE, {'certificates': [{'path': str(certs['garbage'])}]})
    assert_clean_failure(result, 'certificates[0].path', 'holds no PEM or DER certificate')


@pytest.mark.parametrize('address,cause', [
    ('localhost:https', "the port 'https' is not a number"),
    ('localhost:70000', 'outside 1-65535'),
    ('localhost:0', 'outside 1-65535'),
    (':443', 'is not a host name'),
    ('bad host:443', 'is not a host name'),
    ('::1:443', 'write an IPv6 address in brackets'),
    ('[::1:443', "opens '['"),
    ('[example.test]:443', 'is not an IPv6 address'),
])
def test_malformed_address(ansible, address, cause):
    result = ansible.module(MODULE, {'endpoints': [{'address': 'localhost:443'},
                                                   {'address': address}]})
    assert_clean_failure(result, 'endpoints[1].address', cause)
    assert 'checks' not in result


def test_bad_threshold(ansible, certs):
    result = ansible.module(MODULE, {'certificates': [{'path': str(certs['fresh'][0])}],
                                     'thresholds': {'cert_expiry': {'warning': 'soon'}}})
    assert_clean_failure(result, 'thresholds.cert_expiry.warning', "'soon' is not a valid range")
    result = ansible.module(MODULE, {'certificates': [{'path': str(certs['fresh'][0])}],
                                     'thresholds': {'expiry': {'warning': '30:'}}})
    assert_clean_failure(result, 'thresholds: unknown check', 'cert_expiry')


def test_nothing_to_check(ansible):
    result = ansible.module(MODULE, {})
    assert_clean_failure(result, 'certificates, endpoints')


# --- FIFOs, devices, directories and non-finite numbers: refused at once, naming the option -------

def test_fifo_device_or_directory_as_a_file_is_refused_at_once(ansible, certs, tmp_path):
    fifo = tmp_path / 'cert.fifo'
    os.mkfifo(str(fifo))   # opening it for reading would wait for a writer forever
    fresh = str(certs['fresh'][0])
    cases = [
        ('fifo', {'path': str(fifo)}, 'certificates[0].path', str(fifo), 'is a FIFO'),
        ('device', {'path': '/dev/zero'}, 'certificates[0].path', '/dev/zero', 'is a character device'),
        ('directory', {'path': str(certs['dir'])}, 'certificates[0].path', str(certs['dir']), 'is a directory'),
        ('key fifo', {'path': fresh, 'key_path': str(fifo)}, 'certificates[0].key_path', str(fifo), 'is a FIFO'),
        ('key device', {'path': fresh, 'key_path': '/dev/urandom'}, 'certificates[0].key_path',
         '/dev/urandom', 'is a character device'),
    ]
    tasks = [{'name': name, 'ignore_errors': True, MODULE: {'certificates': [spec]}}
             for name, spec, param, path, words in cases]
    # The timeout only guards against a hang; the assertions are on what came back.
    run = ansible.tasks(tasks, timeout=600)
    for name, spec, param, path, words in cases:
        result = run.task(name)
        assert_clean_failure(result, param, path, words)
        refused = [c for c in result['checks'] if c['target'] == path]
        assert [c['status'] for c in refused] == ['CRITICAL'], result['checks']


def test_fifo_or_directory_as_ca_path_is_refused_naming_it(ansible, certs, tmp_path):
    fifo = tmp_path / 'ca.fifo'
    os.mkfifo(str(fifo))
    tasks = [{'name': name, 'ignore_errors': True, MODULE: {'endpoints': [
        {'address': '127.0.0.1:%d' % closed_port(), 'ca_path': path}]}}
        for name, path in (('fifo', str(fifo)), ('directory', str(certs['dir'])))]
    run = ansible.tasks(tasks, timeout=600)
    assert_clean_failure(run.task('fifo'), 'endpoints[0].ca_path', str(fifo), 'is a FIFO')
    assert_clean_failure(run.task('directory'), 'endpoints[0].ca_path', 'is a directory')


def closed_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


NON_FINITE = [
    ('inf timeout', {'timeout': float('inf')}, ['timeout', 'finite']),
    ('nan timeout', {'timeout': float('nan')}, ['timeout', 'finite']),
    ('huge timeout', {'timeout': 1e300}, ['timeout', 'at most 3600']),
    ('inf warning', {'thresholds': {'cert_expiry': {'warning': float('inf')}}}, ['thresholds.cert_expiry.warning', 'finite']),
    ('nan critical', {'thresholds': {'cert_expiry': {'critical': float('nan')}}},
     ['thresholds.cert_expiry.critical', 'finite']),
    ('huge critical', {'thresholds': {'cert_expiry': {'critical': '1e999:'}}},
     ['thresholds.cert_expiry.critical', 'too large']),
]


def test_non_finite_numbers_are_refused_naming_the_option(ansible, certs):
    cert = {'certificates': [{'path': str(certs['fresh'][0])}]}
    run = ansible.tasks([{'name': name, 'ignore_errors': True, MODULE: dict(cert, **args)}
                         for name, args, words in NON_FINITE])
    for name, args, words in NON_FINITE:
        assert_clean_failure(run.task(name), *words)
