#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: cert_check
short_description: Check X.509 certificates in files and on live TLS endpoints
version_added: 0.1.0
description:
  - Reads certificates from files on the managed host and from TLS endpoints it can reach, and
    judges each one in the status model every check of this collection speaks.
  - "Days to expiry of every certificate (the leaf and any chain certificates in the same file),
    judged against the C(cert_expiry) entry of O(thresholds): warning below 30 days, critical
    below 14 days, so an expired certificate is always critical."
  - The strength of the leaf's public key (RSA and DSA below 2048 bits, elliptic curves below 256
    bits are critical) and its signature hash (MD5 and SHA-1 are critical).
  - For a file with O(certificates[].key_path), whether the private key belongs to the certificate,
    and whether the key file is readable by everyone.
  - For an endpoint, whether the chain verifies against the system's trusted CAs (or
    O(endpoints[].ca_path)), reported as its own check, and whether the certificate covers the
    name the clients use. The certificate is read even when verification fails.
  - Reads only; it never changes the host.
requirements:
  - cryptography >= 3.3 on the managed host (Debian package C(python3-cryptography))
extends_documentation_fragment:
  - fleetops.runbook.attributes
  - fleetops.runbook.status
options:
  certificates:
    description:
      - Certificate files to check, in PEM (one certificate or a chain, leaf first) or DER.
      - A file that does not exist or holds no certificate is a critical finding.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description:
          - Path of the certificate file.
          - Only a regular file of at most 16 MiB is read; a directory, FIFO or device is reported
            as V(CRITICAL) at once, naming this option.
        type: path
        required: true
      key_path:
        description:
          - Path of the private key (PEM or DER) that should belong to the certificate.
          - When set, the key is compared with the certificate and its file mode is checked.
          - Read like O(certificates[].path), only when it is a regular file.
        type: path
      key_passphrase:
        description: Passphrase of an encrypted private key.
        type: str
      hostname:
        description:
          - A DNS name or IP address the certificate must cover (subject alternative names;
            wildcards match one leftmost label).
        type: str
  endpoints:
    description:
      - TLS endpoints to connect to and check.
    type: list
    elements: dict
    default: []
    suboptions:
      address:
        description:
          - V(host:port) to connect to; an IPv6 address is written in brackets (V([2001:db8::1]:443)).
          - The port defaults to V(443) when left out.
        type: str
        required: true
      server_name:
        description:
          - The name sent as SNI and expected in the certificate.
          - Defaults to the host of O(endpoints[].address).
        type: str
      verify:
        description:
          - Check that the chain verifies against trusted CAs. V(false) skips that check (the
            certificate is read either way).
        type: bool
        default: true
      ca_path:
        description:
          - A PEM file of CA certificates to verify against instead of the system's trust store.
          - A directory, FIFO or device is refused at once, naming this option.
        type: path
  thresholds:
    description:
      - Warning and critical ranges per check, merged over the defaults.
      - "C(cert_expiry): days until the certificate expires; default warning V(30:) and critical
        V(14:), that is below 30 and below 14 days."
      - "C(key_bits_rsa): bits of an RSA or DSA key; default critical V(2048:)."
      - "C(key_bits_ec): bits of an elliptic-curve key; default critical V(256:)."
    type: dict
    default: {}
  timeout:
    description: Seconds to wait for an endpoint to connect and complete the handshake (more than 0, at most 3600).
    type: float
    default: 10
notes:
  - An endpoint that cannot be reached is reported as a critical C(endpoint_reachable) check with
    O(endpoints[].address) and the cause, not as a module failure.
  - The clock of the managed host is the reference for days to expiry.
  - Only direct TLS is spoken; protocols with STARTTLS are not supported.
seealso:
  - module: community.crypto.x509_certificate_info
  - module: community.crypto.get_certificate
'''

EXAMPLES = r'''
- name: Check the web server's certificate, its key and the live endpoint
  fleetops.runbook.cert_check:
    certificates:
      - path: /etc/nginx/tls/www.example.com.crt
        key_path: /etc/nginx/tls/www.example.com.key
        hostname: www.example.com
    endpoints:
      - address: www.example.com:443
  register: certs

- name: An internal service with its own CA, reached by address with a name for SNI
  fleetops.runbook.cert_check:
    endpoints:
      - address: 10.0.0.12:8443
        server_name: api.internal.example
        ca_path: /usr/local/share/ca-certificates/internal-ca.crt
    thresholds:
      cert_expiry:
        warning: "45:"
        critical: "21:"
    fail_on: never
  register: certs

- name: Tell the on-call engineer
  ansible.builtin.debug:
    msg: "{{ certs.summary }}"
  when: certs.status != 'OK'
'''

RETURN = r'''
# Status keys: generated by tools/status-return.py from doc_fragments/status.py, do not edit.
status:
  description: The worst status of all checks.
  returned: always
  type: str
  sample: WARNING
checks:
  description: Every individual check.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the check.
      type: str
      sample: disk
    target:
      description: What the check looked at (a mount point, a database, a table), or null.
      type: str
      sample: /var
    value:
      description: The measured value, or null when it could not be measured.
      type: raw
      sample: 87.5
    unit:
      description: Unit of RV(checks[].value) (percent, seconds, milliseconds, bytes, count, ratio).
      type: str
      sample: percent
    warning:
      description: The warning range applied, or null.
      type: str
      sample: "85"
    critical:
      description: The critical range applied, or null.
      type: str
      sample: "95"
    status:
      description: OK, WARNING, CRITICAL or UNKNOWN.
      type: str
      sample: WARNING
    message:
      description: What was found, in words.
      type: str
      sample: disk /var is 87.5% (warning 85)
    labels:
      description: Extra labels of the check in RV(metrics), present only on checks that have some.
      type: dict
      sample: {database: app}
summary:
  description: One line for a human, worst findings first.
  returned: always
  type: str
  sample: "WARNING: disk /var is 87.5% (warning 85); 11 OK"
perfdata:
  description: The numeric checks as Nagios performance data.
  returned: always
  type: str
  sample: "cpu=12.5%;70;85;0;100 'disk /var'=87.5%;85;95;0;100"
metrics:
  description:
    - The checks as Prometheus text exposition lines, ready for the node exporter's textfile
      collector.
  returned: always
  type: list
  elements: str
  sample:
    - 'fleetops_check_status{source="resource_check",check="cpu"} 0'
# End of status keys.
certificates:
  description: What was read from every certificate file and endpoint, leaf first.
  returned: always
  type: list
  elements: dict
  contains:
    source:
      description: The file path or endpoint address.
      type: str
      sample: /etc/nginx/tls/www.example.com.crt
    position:
      description: 0 for the leaf, 1 and up for chain certificates in the same file.
      type: int
      sample: 0
    subject:
      description: Subject in RFC 4514 form.
      type: str
      sample: CN=www.example.com
    issuer:
      description: Issuer in RFC 4514 form.
      type: str
      sample: CN=Example CA
    serial_number:
      description: Serial number in hexadecimal.
      type: str
      sample: 4a3f0c
    not_before:
      description: Start of validity, ISO 8601 UTC.
      type: str
      sample: "2025-01-01T00:00:00+00:00"
    not_after:
      description: End of validity, ISO 8601 UTC.
      type: str
      sample: "2025-04-01T00:00:00+00:00"
    days_left:
      description: Days until the end of validity; negative once expired.
      type: float
      sample: 20.5
    subject_alt_names:
      description: DNS names and IP addresses the certificate covers.
      type: list
      elements: str
      sample: [www.example.com, example.com]
    key_type:
      description: Public key algorithm (RSA, EC, DSA, Ed25519, Ed448).
      type: str
      sample: EC
    key_bits:
      description: Size of the public key in bits.
      type: int
      sample: 256
    signature_hash:
      description: Hash of the signature, or null for Ed25519 and Ed448.
      type: str
      sample: sha256
    sha256_fingerprint:
      description: SHA-256 fingerprint of the DER certificate, colon separated.
      type: str
      sample: "3A:7F:..."
endpoints:
  description: Connection details of every endpoint.
  returned: always
  type: list
  elements: dict
  contains:
    address:
      description: The address as given.
      type: str
      sample: www.example.com:443
    reachable:
      description: Whether the TLS handshake completed.
      type: bool
      sample: true
    verified:
      description: Whether the chain verified, or null when O(endpoints[].verify) is off or the
        endpoint could not be reached.
      type: bool
      sample: true
    verify_error:
      description: Why verification failed, or null.
      type: str
      sample: "certificate verify failed: self-signed certificate"
    tls_version:
      description: Negotiated protocol.
      type: str
      sample: TLSv1.3
    cipher:
      description: Negotiated cipher suite.
      type: str
      sample: TLS_AES_256_GCM_SHA384
'''

import datetime
import ipaddress
import os
import re
import socket
import ssl
import stat
import traceback

from ansible.module_utils.basic import missing_required_lib
from ansible.module_utils.common.text.converters import to_bytes, to_native
from ansible_collections.fleetops.runbook.plugins.module_utils.module import RunbookModule
from ansible_collections.fleetops.runbook.plugins.module_utils.regular_file import (
    MiB,
    FileRefused,
    check_regular,
    read_regular,
)
from ansible_collections.fleetops.runbook.plugins.module_utils.status import (
    CRITICAL,
    OK,
    UNKNOWN,
    CheckReport,
    finish,
    finite_number,
    parse_thresholds,
    range_note,
    status_argument_spec,
)

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
except ImportError:
    x509 = None
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()
else:
    CRYPTOGRAPHY_IMPORT_ERROR = None

DEFAULT_THRESHOLDS = {
    'cert_expiry': {'warning': '30:', 'critical': '14:'},
    'key_bits_rsa': {'critical': '2048:'},
    'key_bits_ec': {'critical': '256:'},
}

WEAK_SIGNATURE_HASHES = frozenset(['md5', 'sha1', 'md2', 'md4'])

_HOST_RE = re.compile(r'^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,252})$')


class AddressError(ValueError):
    """An endpoint address that is not host:port."""


def parse_address(text):
    """Split ``host:port`` (``[v6]:port``; port 443 when left out) into ``(host, port)``."""
    if not isinstance(text, str) or not text.strip():
        raise AddressError('an empty address; expected host:port')
    text = text.strip()
    if text.startswith('['):
        end = text.find(']')
        if end < 0:
            raise AddressError("'%s' opens '[' without closing it" % text)
        host, rest = text[1:end], text[end + 1:]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise AddressError("'%s': '%s' in brackets is not an IPv6 address" % (text, host))
        if rest == '':
            port_text = None
        elif rest.startswith(':'):
            port_text = rest[1:]
        else:
            raise AddressError("'%s': expected ':port' after the bracketed address" % text)
    else:
        if text.count(':') > 1:
            raise AddressError("'%s': write an IPv6 address in brackets, e.g. [::1]:443" % text)
        host, sep, port_text = text.partition(':')
        if not sep:
            port_text = None
        if not _HOST_RE.match(host) or '..' in host:
            raise AddressError("'%s': '%s' is not a host name or IPv4 address" % (text, host))
    if port_text is None:
        return host, 443
    if not port_text.isdigit():
        raise AddressError("'%s': the port '%s' is not a number" % (text, port_text))
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise AddressError("'%s': the port %d is outside 1-65535" % (text, port))
    return host, port


def _ip(text):
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def hostname_matches(hostname, dns_names, ip_names):
    """True when the names of a certificate cover ``hostname`` (RFC 6125: SANs only, wildcard
    in the leftmost label only, never across labels)."""
    wanted_ip = _ip(hostname.strip('[]'))
    if wanted_ip is not None:
        return any(_ip(name) == wanted_ip for name in ip_names)
    wanted = hostname.rstrip('.').lower()
    for name in dns_names:
        name = name.rstrip('.').lower()
        if name == wanted:
            return True
        if name.startswith('*.'):
            suffix = name[1:]
            head, dot, rest = wanted.partition('.')
            if dot and head and '.' + rest == suffix and suffix.count('.') >= 2:
                return True
    return False


def _utc(cert, attr):
    value = getattr(cert, attr + '_utc', None)
    if value is None:
        value = getattr(cert, attr).replace(tzinfo=datetime.timezone.utc)
    return value


def _load_certificates(data):
    """Every certificate in PEM data (leaf first), or the one DER certificate."""
    if b'-----BEGIN' in data:
        blocks = re.findall(
            b'-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----.+?-----END (?:X509 |TRUSTED )?CERTIFICATE-----',
            data, re.S)
        return [x509.load_pem_x509_certificate(block) for block in blocks]
    return [x509.load_der_x509_certificate(data)]


def _load_private_key(data, passphrase):
    password = to_bytes(passphrase) if passphrase else None
    if b'-----BEGIN' in data:
        return serialization.load_pem_private_key(data, password=password)
    return serialization.load_der_private_key(data, password=password)


def _spki(key):
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


class CertificateFacts:
    """What a check needs to know of one certificate."""

    def __init__(self, cert, source, position, now):
        self.cert = cert
        self.source = source
        self.position = position
        self.not_before = _utc(cert, 'not_valid_before')
        self.not_after = _utc(cert, 'not_valid_after')
        self.days_left = round((self.not_after - now).total_seconds() / 86400.0, 2)
        self.not_yet_valid = self.not_before > now
        self.dns_names, self.ip_names = self._alt_names(cert)
        self.key_type, self.key_bits = self._key(cert.public_key())
        try:
            algorithm = cert.signature_hash_algorithm
        except Exception:  # unsupported hash: report what cryptography knows of it
            algorithm = None
        self.signature_hash = algorithm.name if algorithm is not None else None

    @staticmethod
    def _alt_names(cert):
        try:
            ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return [], []
        return (ext.get_values_for_type(x509.DNSName),
                [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)])

    @staticmethod
    def _key(key):
        if isinstance(key, rsa.RSAPublicKey):
            return 'RSA', key.key_size
        if isinstance(key, ec.EllipticCurvePublicKey):
            return 'EC', key.curve.key_size
        if isinstance(key, dsa.DSAPublicKey):
            return 'DSA', key.key_size
        if isinstance(key, ed25519.Ed25519PublicKey):
            return 'Ed25519', 256
        if isinstance(key, ed448.Ed448PublicKey):
            return 'Ed448', 456
        return type(key).__name__, None

    @property
    def label(self):
        if self.position == 0:
            return self.source
        return '%s [chain %d]' % (self.source, self.position)

    def as_dict(self):
        return {
            'source': self.source,
            'position': self.position,
            'subject': self.cert.subject.rfc4514_string(),
            'issuer': self.cert.issuer.rfc4514_string(),
            'serial_number': '%x' % self.cert.serial_number,
            'not_before': self.not_before.isoformat(),
            'not_after': self.not_after.isoformat(),
            'days_left': self.days_left,
            'subject_alt_names': self.dns_names + self.ip_names,
            'key_type': self.key_type,
            'key_bits': self.key_bits,
            'signature_hash': self.signature_hash,
            'sha256_fingerprint': ':'.join(
                '%02X' % b for b in bytearray(self.cert.fingerprint(hashes.SHA256()))),
        }


class CertificateJudge:
    """Turns certificate facts into checks of the report."""

    def __init__(self, report, thresholds):
        self.report = report
        self.thresholds = thresholds

    def expiry(self, facts):
        if facts.not_yet_valid:
            self.report.add('cert_expiry', facts.days_left, unit='days', target=facts.label,
                            thresholds=self.thresholds['cert_expiry'], status=CRITICAL,
                            message='cert_expiry %s: not valid before %s' % (
                                facts.label, facts.not_before.isoformat()))
            return
        check = self.report.add('cert_expiry', facts.days_left, unit='days', target=facts.label,
                                thresholds=self.thresholds['cert_expiry'])
        if facts.days_left < 0:
            check['message'] = 'cert_expiry %s: expired %s (%s days ago)' % (
                facts.label, facts.not_after.date().isoformat(), _days(-facts.days_left))
        else:
            check['message'] = 'cert_expiry %s: %s days left, until %s%s' % (
                facts.label, _days(facts.days_left), facts.not_after.date().isoformat(),
                range_note(check))

    def strength(self, facts):
        name = {'RSA': 'key_bits_rsa', 'DSA': 'key_bits_rsa', 'EC': 'key_bits_ec'}.get(facts.key_type)
        if facts.key_bits is None:
            self.report.add('key_strength', None, target=facts.label, status=UNKNOWN,
                            message='key_strength %s: unknown key type %s' % (facts.label, facts.key_type))
            return
        check = self.report.add('key_strength', facts.key_bits, unit='bits', target=facts.label,
                                thresholds=self.thresholds[name] if name else None,
                                labels={'key_type': facts.key_type})
        check['message'] = 'key_strength %s: %s %d bits%s' % (
            facts.label, facts.key_type, facts.key_bits, range_note(check))

    def signature(self, facts):
        weak = facts.signature_hash in WEAK_SIGNATURE_HASHES
        self.report.add('cert_signature', facts.signature_hash or 'none', target=facts.label,
                        status=CRITICAL if weak else OK,
                        message='cert_signature %s: signed with %s%s' % (
                            facts.label, facts.signature_hash or facts.key_type,
                            ', a broken hash' if weak else ''))

    def hostname(self, facts, hostname):
        matched = hostname_matches(hostname, facts.dns_names, facts.ip_names)
        names = ', '.join(facts.dns_names + facts.ip_names) or 'no subject alternative names'
        self.report.add('hostname_match', 'match' if matched else 'mismatch', target=facts.label,
                        status=OK if matched else CRITICAL,
                        message='hostname_match %s: %s %s (%s)' % (
                            facts.label, hostname, 'is covered' if matched else 'is not covered',
                            names))

    def leaf(self, facts, hostname=None):
        self.expiry(facts)
        self.strength(facts)
        self.signature(facts)
        if hostname:
            self.hostname(facts, hostname)


# Far more than any certificate chain or key: a larger file is not one.
MAX_FILE_BYTES = 16 * MiB


def _days(value):
    return ('%.1f' % value).rstrip('0').rstrip('.')


class FileChecker:
    """Certificates and keys in files on the managed host."""

    def __init__(self, report, judge, now):
        self.report = report
        self.judge = judge
        self.now = now

    def check(self, index, spec):
        path = spec['path']
        param = 'certificates[%d].path' % index
        data, dummy = self._read(path, param, 'cert_file')
        if data is None:
            return []
        try:
            certs = _load_certificates(data)
        except ValueError as exc:
            certs, error = [], to_native(exc)
        else:
            error = None
        if not certs:
            self.report.add('cert_file', None, target=path, status=CRITICAL,
                            message='%s: %s holds no PEM or DER certificate%s' % (
                                param, path, ' (%s)' % error if error else ''))
            return []
        facts = [CertificateFacts(cert, path, pos, self.now) for pos, cert in enumerate(certs)]
        self.judge.leaf(facts[0], spec.get('hostname'))
        for chain in facts[1:]:
            self.judge.expiry(chain)
        if spec.get('key_path'):
            self._key(index, spec, facts[0])
        return facts

    def _read(self, path, param, check):
        """(bytes, stat) of a certificate or key file, or (None, None) with a CRITICAL check."""
        try:
            return read_regular(path, param, MAX_FILE_BYTES)
        except FileRefused as exc:
            message = exc.msg
        except (IOError, OSError) as exc:
            reason = 'does not exist' if not os.path.exists(path) else (exc.strerror or str(exc))
            message = '%s: %s %s' % (param, path, reason)
        self.report.add(check, None, target=path, status=CRITICAL, message=message)
        return None, None

    def _key(self, index, spec, leaf):
        key_path = spec['key_path']
        param = 'certificates[%d].key_path' % index
        data, key_stat = self._read(key_path, param, 'cert_key_match')
        if data is None:
            return
        mode = stat.S_IMODE(key_stat.st_mode)
        world = bool(mode & (stat.S_IROTH | stat.S_IWOTH))
        self.report.add('key_mode', '%04o' % mode, target=key_path,
                        status=CRITICAL if world else OK,
                        message='key_mode %s: mode %04o%s' % (
                            key_path, mode, ', readable by everyone' if world else ''))
        try:
            key = _load_private_key(data, spec.get('key_passphrase'))
        except (ValueError, TypeError) as exc:
            self.report.add('cert_key_match', None, target=leaf.source, status=UNKNOWN,
                            message='%s: %s cannot be read as a private key: %s' % (
                                param, key_path, _key_error(exc)))
            return
        matched = _spki(key.public_key()) == _spki(leaf.cert.public_key())
        self.report.add('cert_key_match', 'match' if matched else 'mismatch', target=leaf.source,
                        status=OK if matched else CRITICAL,
                        message='cert_key_match %s: the key %s %s the certificate' % (
                            leaf.source, key_path, 'belongs to' if matched else 'does not belong to'))


def _key_error(exc):
    if isinstance(exc, TypeError) and 'not given' in to_native(exc):
        return 'it is encrypted; set key_passphrase'
    return to_native(exc)


class EndpointChecker:
    """Certificates of live TLS endpoints."""

    def __init__(self, report, judge, now, timeout):
        self.report = report
        self.judge = judge
        self.now = now
        self.timeout = timeout

    def check(self, spec, host, port):
        address = spec['address']
        server_name = spec.get('server_name') or host
        info = {'address': address, 'reachable': False, 'verified': None, 'verify_error': None,
                'tls_version': None, 'cipher': None}
        der, error = None, None
        if spec.get('verify', True):
            der, error, verify_error = self._handshake(host, port, server_name, verify=True,
                                                       ca_path=spec.get('ca_path'), info=info)
            if der is not None:
                info['verified'] = True
            elif verify_error is not None:
                info['verified'] = False
                info['verify_error'] = verify_error
        if der is None and error is None:
            der, error, dummy = self._handshake(host, port, server_name, verify=False, info=info)
        if der is None:
            self.report.add('endpoint_reachable', None, target=address, status=CRITICAL,
                            message='endpoint_reachable %s: %s' % (address, error))
            return info, []
        info['reachable'] = True
        self.report.add('endpoint_reachable', 'yes', target=address, status=OK,
                        message='endpoint_reachable %s: %s with %s' % (
                            address, info['tls_version'], info['cipher']))
        if info['verified'] is not None:
            self.report.add('cert_verify', 'verified' if info['verified'] else 'failed',
                            target=address, status=OK if info['verified'] else CRITICAL,
                            message='cert_verify %s: %s' % (
                                address, 'the chain verifies' if info['verified']
                                else info['verify_error']))
        facts = CertificateFacts(x509.load_der_x509_certificate(der), address, 0, self.now)
        self.judge.leaf(facts, server_name)
        return info, [facts]

    def _handshake(self, host, port, server_name, verify, info, ca_path=None):
        """Returns (der, connection error, verification error)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        if verify:
            context.verify_mode = ssl.CERT_REQUIRED
            if ca_path:
                try:
                    context.load_verify_locations(cafile=ca_path)
                except (IOError, OSError, ssl.SSLError) as exc:
                    return None, None, 'ca_path %s cannot be loaded: %s' % (ca_path, exc)
            else:
                context.load_default_certs()
        else:
            context.verify_mode = ssl.CERT_NONE
        sni = None if _ip(server_name) is not None else server_name
        try:
            with socket.create_connection((host, port), timeout=self.timeout) as sock:
                with context.wrap_socket(sock, server_hostname=sni) as tls:
                    info['tls_version'] = tls.version()
                    info['cipher'] = tls.cipher()[0]
                    return tls.getpeercert(binary_form=True), None, None
        except ssl.SSLCertVerificationError as exc:
            return None, None, exc.verify_message or to_native(exc)
        except (ssl.SSLError, socket.error, OSError) as exc:
            return None, '%s:%d cannot be reached: %s' % (host, port, to_native(exc)), None


# A handshake that needs longer than this is no answer (and socket timeouts have a limit).
MAX_TIMEOUT = 3600


class CertCheck:
    def __init__(self, module):
        self.module = module
        self.report = CheckReport('cert_check')

    def fail(self, msg):
        self.module.fail_json(msg=msg)

    def run(self):
        params = self.module.params
        if not params['certificates'] and not params['endpoints']:
            self.fail('certificates, endpoints: give at least one certificate file or endpoint')
        try:
            thresholds = parse_thresholds(params['thresholds'], DEFAULT_THRESHOLDS)
        except ValueError as exc:
            self.fail(str(exc))
        try:
            finite_number(params['timeout'], 'timeout', above=0, maximum=MAX_TIMEOUT)
        except ValueError as exc:
            self.fail(str(exc))
        addresses = []
        for index, spec in enumerate(params['endpoints']):
            try:
                addresses.append(parse_address(spec['address']))
            except AddressError as exc:
                self.fail('endpoints[%d].address: %s' % (index, exc))
            if spec.get('ca_path') and not spec.get('verify', True):
                self.fail('endpoints[%d]: ca_path is set but verify is false' % index)
            if spec.get('ca_path'):
                # A FIFO or a device would hold the TLS library's read forever.
                try:
                    check_regular(spec['ca_path'], 'endpoints[%d].ca_path' % index)
                except FileRefused as exc:
                    self.fail(exc.msg)
                except OSError as exc:
                    self.fail('endpoints[%d].ca_path: cannot read %s: %s' % (index, spec['ca_path'], exc.strerror or exc))
        now = datetime.datetime.now(datetime.timezone.utc)
        judge = CertificateJudge(self.report, thresholds)
        found = []
        files = FileChecker(self.report, judge, now)
        for index, spec in enumerate(params['certificates']):
            found.extend(files.check(index, spec))
        endpoints = EndpointChecker(self.report, judge, now, params['timeout'])
        endpoint_info = []
        for spec, (host, port) in zip(params['endpoints'], addresses):
            info, facts = endpoints.check(spec, host, port)
            endpoint_info.append(info)
            found.extend(facts)
        finish(self.module, self.report, certificates=[f.as_dict() for f in found],
               endpoints=endpoint_info)


def main():
    argument_spec = status_argument_spec(thresholds=True)
    argument_spec.update(
        certificates=dict(type='list', elements='dict', default=[], options=dict(
            path=dict(type='path', required=True),
            key_path=dict(type='path'),
            key_passphrase=dict(type='str', no_log=True),
            hostname=dict(type='str'),
        )),
        endpoints=dict(type='list', elements='dict', default=[], options=dict(
            address=dict(type='str', required=True),
            server_name=dict(type='str'),
            verify=dict(type='bool', default=True),
            ca_path=dict(type='path'),
        )),
        timeout=dict(type='float', default=10),
    )
    module = RunbookModule(argument_spec=argument_spec, supports_check_mode=True)
    if x509 is None:
        module.fail_json(msg=missing_required_lib('cryptography'), exception=CRYPTOGRAPHY_IMPORT_ERROR)
    CertCheck(module).run()


if __name__ == '__main__':
    main()
