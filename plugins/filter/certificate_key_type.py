# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: certificate_key_type
short_description: Key type of the first certificate of a PEM file
version_added: 0.3.0
description:
  - Returns the public key type of the first (leaf) certificate in PEM text, read on the
    controller with the C(cryptography) library that ansible-core depends on - V(RSA), V(EC),
    V(Ed25519), V(Ed448), V(DSA) - or V(unknown) when the text holds no certificate it can read.
  - The tls role uses it to warn when the V(modern) profile gets an RSA certificate.
author:
  - fleetops.runbook maintainers (@fleetops)
options:
  _input:
    description: PEM text (for example the decoded content of M(ansible.builtin.slurp)).
    type: str
    required: true
'''

EXAMPLES = r'''
- name: Key type of a certificate
  ansible.builtin.debug:
    msg: "{{ (__cert.content | b64decode) | fleetops.runbook.certificate_key_type }}"
'''

RETURN = r'''
_value:
  description: V(RSA), V(EC), V(Ed25519), V(Ed448), V(DSA) or V(unknown).
  type: str
'''

import re

_PEM_RE = re.compile(r'-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----')


def certificate_key_type(text):
    match = _PEM_RE.search(text if isinstance(text, str) else '')
    if not match:
        return 'unknown'
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
        key = x509.load_pem_x509_certificate(match.group(0).encode('ascii')).public_key()
    except (ImportError, ValueError):
        return 'unknown'
    for kind, name in ((rsa.RSAPublicKey, 'RSA'), (ec.EllipticCurvePublicKey, 'EC'),
                       (ed25519.Ed25519PublicKey, 'Ed25519'), (ed448.Ed448PublicKey, 'Ed448'),
                       (dsa.DSAPublicKey, 'DSA')):
        if isinstance(key, kind):
            return name
    return 'unknown'


class FilterModule(object):
    def filters(self):
        return {'certificate_key_type': certificate_key_type}
