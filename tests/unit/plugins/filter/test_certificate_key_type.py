# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The key type of a PEM certificate chain's leaf, for the tls role."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from ansible_collections.fleetops.runbook.plugins.filter.certificate_key_type import certificate_key_type


def certificate(key):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'k.example.test')])
    now = datetime.datetime.now(datetime.timezone.utc)
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, algorithm))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_key_types_of_certificates():
    rsa_pem = certificate(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    ec_pem = certificate(ec.generate_private_key(ec.SECP256R1()))
    assert certificate_key_type(rsa_pem) == 'RSA'
    assert certificate_key_type(ec_pem) == 'EC'
    assert certificate_key_type(certificate(ed25519.Ed25519PrivateKey.generate())) == 'Ed25519'
    # The leaf comes first; an RSA intermediate after it does not count.
    assert certificate_key_type(ec_pem + rsa_pem) == 'EC'
    assert certificate_key_type('not a certificate') == 'unknown'
    assert certificate_key_type('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n') == 'unknown'
    assert certificate_key_type(None) == 'unknown'
