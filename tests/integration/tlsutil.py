# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificates made on the spot, and a TLS server on 127.0.0.1 that serves them."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


def new_key(kind='ec', size=256):
    if kind == 'rsa':
        return rsa.generate_private_key(public_exponent=65537, key_size=size)
    curve = {256: ec.SECP256R1, 384: ec.SECP384R1, 224: ec.SECP224R1, 192: ec.SECP192R1}[size]
    return ec.generate_private_key(curve())


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class Cert:
    """A key and a certificate, with helpers to write them out."""

    def __init__(self, key, cert):
        self.key = key
        self.cert = cert

    def pem(self):
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self, passphrase=None):
        encryption = (serialization.BestAvailableEncryption(passphrase.encode()) if passphrase
                      else serialization.NoEncryption())
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8, encryption)

    def write(self, directory, name, chain=(), passphrase=None, key_mode=0o600):
        directory = Path(directory)
        cert_path = directory / ('%s.crt' % name)
        key_path = directory / ('%s.key' % name)
        cert_path.write_bytes(self.pem() + b''.join(c.pem() for c in chain))
        key_path.write_bytes(self.key_pem(passphrase))
        key_path.chmod(key_mode)
        return cert_path, key_path


def make_cert(common_name='www.example.test', days_left=90, days_valid=None, names=None,
              ips=(), key=None, issuer=None, ca=False, hash_algorithm=None):
    """A certificate that ends ``days_left`` days from now; signed by ``issuer`` (a Cert) or by
    itself."""
    key = key or new_key()
    now = datetime.datetime.now(datetime.timezone.utc)
    not_after = now + datetime.timedelta(days=days_left)
    not_before = not_after - datetime.timedelta(days=days_valid or max(days_left, 0) + 30)
    if not_before > now:
        not_before = now - datetime.timedelta(hours=1)
    sans = [x509.DNSName(n) for n in (names if names is not None else [common_name])]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    builder = (x509.CertificateBuilder()
               .subject_name(_name(common_name))
               .issuer_name(issuer.cert.subject if issuer else _name(common_name))
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(not_before)
               .not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans and not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    # The extensions strict verifiers (the CA/Browser Forum profile) insist on.
    builder = builder.add_extension(
        x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    signer_public = (issuer.key if issuer else key).public_key()
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_public), critical=False)
    builder = builder.add_extension(x509.KeyUsage(
        digital_signature=not ca, content_commitment=False,
        key_encipherment=not ca and isinstance(key, rsa.RSAPrivateKey), data_encipherment=False,
        key_agreement=False, key_cert_sign=ca, crl_sign=ca, encipher_only=False,
        decipher_only=False), critical=True)
    if not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    signer = issuer.key if issuer else key
    cert = builder.sign(signer, hash_algorithm or hashes.SHA256())
    return Cert(key, cert)


class TlsServer:
    """Serves one certificate (or one per SNI name) on 127.0.0.1 until stopped; records the SNI
    names it was asked for."""

    def __init__(self, cert_path, key_path, by_name=None):
        self.context = self._context(cert_path, key_path)
        self.by_name = {name: self._context(*paths) for name, paths in (by_name or {}).items()}
        self.context.sni_callback = self._sni
        self.server_names = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @staticmethod
    def _context(cert_path, key_path):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(cert_path), str(key_path))
        return context

    def _sni(self, sslobj, server_name, context):
        self.server_names.append(server_name)
        if server_name in self.by_name:
            sslobj.context = self.by_name[server_name]

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _addr = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn.settimeout(5)
            try:
                with self.context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (ssl.SSLError, OSError):
                pass
            finally:
                conn.close()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        self.sock.close()
