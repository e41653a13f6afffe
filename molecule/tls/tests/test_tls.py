"""The tls role on one container per Mozilla profile.

sslyze and the HTTP checks run on the controller against the container's own address on the
Docker bridge, never anything else; cert_check runs inside the container.
"""

import json
import os
import re
import socket
import ssl
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
from fleetops_molecule import include_role, run_play  # noqa: E402


PKI = "/etc/fleetops-test/pki"


@pytest.fixture(scope="module")
def facts(host, tmp_path_factory):
    variables = host.ansible.get_variables()
    ca_file = tmp_path_factory.mktemp("ca") / "ca.crt"
    ca_file.write_text(host.file(PKI + "/ca.crt").content_string)
    return {
        "profile": variables["tls_profile"],
        "site": variables["tls_test_site"],
        "address": host.check_output("hostname -I").split()[0],
        "ca_file": str(ca_file),
    }


def sslyze(facts, profile, port=443):
    target = "%s:%d{%s}" % (facts["site"], port, facts["address"])
    proc = subprocess.run(
        [sys.executable, "-m", "sslyze", "--mozilla_config=%s" % profile,
         "--certinfo_ca_file", facts["ca_file"], target],
        capture_output=True, text=True, timeout=300, check=False)
    return proc


def test_sslyze_finds_the_server_compliant_with_its_profile(facts):
    proc = sslyze(facts, facts["profile"])
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "OK - Compliant." in proc.stdout


def test_sslyze_judges_the_other_profile(facts):
    """The check can fail: the intermediate server offers TLS 1.2, which modern forbids; the
    modern server is strict enough for intermediate as well."""
    if facts["profile"] == "intermediate":
        proc = sslyze(facts, "modern")
        assert proc.returncode != 0
        assert "tls_versions" in proc.stdout and "TLSv1.2" in proc.stdout
    else:
        proc = sslyze(facts, "intermediate")
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert "OK - Compliant." in proc.stdout


def https_get(facts, path="/"):
    context = ssl.create_default_context(cafile=facts["ca_file"])
    with socket.create_connection((facts["address"], 443), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=facts["site"]) as tls:
            tls.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                         % (path, facts["site"])).encode())
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
            return tls.version(), data.decode("latin-1")


def headers_of(response):
    head = response.split("\r\n\r\n", 1)[0].split("\r\n")
    return head[0], {k.strip().lower(): v.strip() for k, dummy, v in (h.partition(":") for h in head[1:])}


def test_hsts_header_is_present(facts):
    version, response = https_get(facts)
    status, headers = headers_of(response)
    assert status.startswith("HTTP/1.1 200")
    assert response.endswith("fleetops tls test\n")
    assert headers["strict-transport-security"] == "max-age=63072000"
    assert version == "TLSv1.3"


def test_plain_http_redirects_to_https(facts):
    with socket.create_connection((facts["address"], 80), timeout=10) as sock:
        sock.sendall(("GET /status?x=1 HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"
                      % facts["site"]).encode())
        response = sock.recv(65536).decode("latin-1")
    status, headers = headers_of(response)
    assert status.startswith("HTTP/1.1 301")
    assert headers["location"] == "https://%s/status?x=1" % facts["site"]


def test_tls_1_2_only_where_the_profile_allows_it(facts):
    context = ssl.create_default_context(cafile=facts["ca_file"])
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    accepted = True
    try:
        with socket.create_connection((facts["address"], 443), timeout=10) as raw:
            with context.wrap_socket(raw, server_hostname=facts["site"]):
                pass
    except ssl.SSLError:
        accepted = False
    assert accepted is (facts["profile"] == "intermediate")


def test_configuration(host, facts):
    snippet = host.file("/etc/nginx/snippets/fleetops-tls.conf").content_string
    assert "ssl_session_tickets off;" in snippet
    assert "ssl_ecdh_curve X25519:prime256v1:secp384r1;" in snippet
    if facts["profile"] == "intermediate":
        assert "ssl_protocols TLSv1.2 TLSv1.3;" in snippet
        assert not re.search(r"(?<!EC)DHE-", snippet) and "ssl_dhparam" not in snippet
    else:
        assert "ssl_protocols TLSv1.3;" in snippet
        assert "ssl_ciphers" not in snippet
    site = host.file("/etc/nginx/conf.d/fleetops-tls-%s.conf" % facts["site"]).content_string
    assert "ssl_stapling on;" in site and "ssl_trusted_certificate /etc/nginx/tls/chain.pem;" in site
    assert re.search(r"listen 443 ssl( http2)? default_server;", site)
    assert re.search(r"listen \[::\]:443 ssl( http2)? default_server;", site)
    # OCSP stapling does not wait for a chain: without one, the system's CA store verifies.
    selfsigned = host.file("/etc/nginx/conf.d/fleetops-tls-selfsigned.example.test.conf").content_string
    assert "ssl_stapling on;" in selfsigned and "ssl_stapling_verify on;" in selfsigned
    assert "ssl_trusted_certificate /etc/ssl/certs/ca-certificates.crt;" in selfsigned
    # The first (only) site of *:8443 is made its default server; a second site of *:443 is not.
    assert re.search(r"listen 8443 ssl( http2)? default_server;", selfsigned)
    beside = host.file("/etc/nginx/conf.d/fleetops-tls-beside.example.test.conf").content_string
    assert re.search(r"listen 443 ssl( http2)?;", beside) and "default_server" not in beside
    local = host.file("/etc/nginx/conf.d/fleetops-tls-local.example.test.conf").content_string
    assert re.search(r"listen 127.0.0.1:9443 ssl( http2)? default_server;", local) and "[::]" not in local
    assert host.run("nginx -t").rc == 0


def test_keys_are_readable_by_root_alone(host, facts):
    for name in (facts["site"], "selfsigned.example.test", "beside.example.test", "local.example.test"):
        key = host.file("/etc/nginx/tls/%s.key" % name)
        assert (key.mode, key.user, key.group) == (0o600, "root", "root")


def test_a_listen_address_is_kept_to(host, facts):
    assert host.socket("tcp://127.0.0.1:9443").is_listening
    assert not host.socket("tcp://0.0.0.0:9443").is_listening
    assert handshake(host, 9443, "local.example.test", "-tls1_3")["protocol"] == "TLSv1.3"
    refused = host.run("timeout 10 openssl s_client -connect %s:9443 -servername local.example.test </dev/null"
                       % facts["address"])
    assert refused.rc != 0 and "Connection refused" in refused.stdout + refused.stderr


def handshake(host, port, name, *options):
    """One TLS handshake from inside the container, with SNI: protocol, cipher and subject, or
    protocol None when the server refused it."""
    out = host.run("echo | timeout 20 openssl s_client -connect 127.0.0.1:%d -servername %s %s 2>&1"
                   % (port, name, " ".join(options))).stdout
    match = re.search(r"^New, (\S+), Cipher is (\S+)", out, re.M)
    subject = re.search(r"^subject=(.*)$", out, re.M)
    protocol = match.group(1) if match and match.group(1) != "(NONE)" else None
    return {"protocol": protocol, "cipher": match.group(2) if match else None,
            "subject": subject.group(1).strip() if subject else None, "output": out}


# (server name, port) of every site the role wrote; the first is the default server of *:443.
WIRE_SITES = [("{site}", 443), ("beside.example.test", 443), ("selfsigned.example.test", 8443),
              ("local.example.test", 9443)]
MOZILLA_INTERMEDIATE_TLS12 = {
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"}


@pytest.mark.parametrize("name,port", WIRE_SITES)
def test_every_site_is_served_with_its_profile_on_the_wire(host, facts, name, port):
    """Asked for by name (SNI), whether it is its port's default server or not: nginx negotiates
    the protocol and the groups with the default server of the port, the TLS 1.2 ciphers with the
    site."""
    name = name.format(**facts)
    intermediate = facts["profile"] == "intermediate"
    tls13 = handshake(host, port, name, "-tls1_3")
    assert tls13["protocol"] == "TLSv1.3", tls13["output"]
    assert tls13["subject"].endswith("CN = %s" % name)
    tls12 = handshake(host, port, name, "-tls1_2")
    assert (tls12["protocol"] == "TLSv1.2") is intermediate, tls12["output"]
    # x448 is in OpenSSL's default groups, not in Mozilla's.
    assert handshake(host, port, name, "-tls1_3", "-groups", "x448")["protocol"] is None
    if intermediate:
        assert tls12["cipher"] in MOZILLA_INTERMEDIATE_TLS12
        kind = "RSA" if name == facts["site"] else "ECDSA"
        # CBC suites nginx offers by default and Mozilla does not.
        for cipher in ("ECDHE-%s-AES128-SHA" % kind, "ECDHE-%s-AES256-SHA384" % kind):
            assert handshake(host, port, name, "-tls1_2", "-cipher", cipher)["protocol"] is None, cipher


def test_a_server_of_another_owner_on_the_port_follows_the_profile(host, facts):
    """The server of prepare.yml comes first on 8443, so nginx would make it the port's default
    server; the role made its own site the default, and the protocol versions and groups of 8443
    are the profile's for every name."""
    legacy = handshake(host, 8443, "legacy.example.test", "-tls1_3")
    assert legacy["protocol"] == "TLSv1.3"
    # Its own certificate (prepare.yml gives it the "fresh" one of the test PKI).
    assert host.file(PKI + "/fresh.crt").content_string.strip() in legacy["output"]
    tls12 = handshake(host, 8443, "legacy.example.test", "-tls1_2")
    assert (tls12["protocol"] == "TLSv1.2") is (facts["profile"] == "intermediate")
    assert handshake(host, 8443, "legacy.example.test", "-tls1_3", "-groups", "x448")["protocol"] is None


def lists_state(host):
    return host.check_output("find /var/lib/apt/lists -maxdepth 1 -printf '%f %T@\\n' | sort")


def test_nginx_came_on_empty_lists_and_a_second_run_leaves_the_lists_alone(host, facts):
    assert host.package("nginx").is_installed
    before = lists_state(host)
    # The role refreshed the lists, as nginx was missing.
    assert "_Packages" in before
    result = run_play([include_role("fleetops.runbook.tls")], hosts=host.backend.host)
    assert result.rc == 0, result.messages
    assert result.changed == 0
    assert lists_state(host) == before


def cert_check(host, args):
    args = dict(args, fail_on="never")
    return host.ansible("fleetops.runbook.cert_check", json.dumps(args), check=True)


def expiry(result):
    return [c for c in result["checks"] if c["name"] == "cert_expiry"][0]


@pytest.mark.parametrize("name,status", [
    ("expired", "CRITICAL"),
    ("soon", "WARNING"),
    ("fresh", "OK"),
])
def test_cert_check_in_the_container(host, name, status):
    result = cert_check(host, {"certificates": [
        {"path": "%s/%s.crt" % (PKI, name), "key_path": "%s/%s.key" % (PKI, name)}]})
    assert expiry(result)["status"] == status
    assert result["status"] == status


def test_cert_check_of_the_live_site(host, facts):
    result = cert_check(host, {"endpoints": [
        {"address": "127.0.0.1:443", "server_name": facts["site"],
         "ca_path": "/etc/nginx/tls/chain.pem"}]})
    assert result["status"] == "OK", result["summary"]
    assert result["endpoints"][0]["verified"] is True
    assert 85 < expiry(result)["value"] <= 90


def test_self_signed_certificate_served_and_checked(host):
    result = cert_check(host, {
        "certificates": [{"path": "/etc/nginx/tls/selfsigned.example.test.crt",
                          "key_path": "/etc/nginx/tls/selfsigned.example.test.key",
                          "hostname": "selfsigned.example.test"}],
        "endpoints": [{"address": "127.0.0.1:8443", "server_name": "selfsigned.example.test"}]})
    statuses = {(c["name"], c["target"]): c["status"] for c in result["checks"]}
    assert statuses[("cert_key_match", "/etc/nginx/tls/selfsigned.example.test.crt")] == "OK"
    assert statuses[("hostname_match", "127.0.0.1:8443")] == "OK"
    # Self-signed: the chain does not verify, and cert_check says so on its own line.
    assert statuses[("cert_verify", "127.0.0.1:8443")] == "CRITICAL"
    info = result["certificates"][0]
    assert info["key_type"] == "EC" and info["subject"] == "CN=selfsigned.example.test"
    assert 89 < info["days_left"] <= 90


def sites(facts, **extra):
    """The converge layout (molecule.yml), ``extra`` changing the first site."""
    main = {"name": facts["site"], "certificate": "/etc/nginx/tls/%s.crt" % facts["site"],
            "key": "/etc/nginx/tls/%s.key" % facts["site"], "chain": "/etc/nginx/tls/chain.pem",
            "default_server": True}
    main.update(extra)

    def selfsigned(name, **more):
        return dict({"name": name, "certificate": "/etc/nginx/tls/%s.crt" % name,
                     "key": "/etc/nginx/tls/%s.key" % name, "http_redirect": False}, **more)
    return [main, selfsigned("beside.example.test"), selfsigned("selfsigned.example.test", listen_port=8443),
            selfsigned("local.example.test", listen_port=9443, listen_address="127.0.0.1")]


def config_sums(host, facts):
    return [host.file(path).sha256sum for path in (
        "/etc/nginx/snippets/fleetops-tls.conf",
        "/etc/nginx/conf.d/fleetops-tls-%s.conf" % facts["site"])]


def test_unknown_profile_is_refused_before_nginx_changes(host, facts):
    before = config_sums(host, facts)
    result = run_play([include_role("fleetops.runbook.tls")],
                      {"tls_profile": "old", "tls_sites": sites(facts)}, hosts=host.backend.host)
    assert result.rc != 0
    assert "tls_profile" in result.messages and "intermediate, modern" in result.messages
    assert config_sums(host, facts) == before


def test_missing_certificate_is_refused_before_nginx_changes(host, facts):
    before = config_sums(host, facts)
    result = run_play([include_role("fleetops.runbook.tls")], {
        "tls_profile": facts["profile"], "tls_selfsigned_enabled": False,
        "tls_sites": sites(facts, certificate="/etc/nginx/tls/nope.crt")}, hosts=host.backend.host)
    assert not host.file("/etc/nginx/tls/nope.crt").exists
    assert result.rc != 0
    assert "/etc/nginx/tls/nope.crt does not exist" in result.messages
    assert config_sums(host, facts) == before


def test_a_server_block_nginx_rejects_never_lands(host, facts):
    before = config_sums(host, facts)
    result = run_play([include_role("fleetops.runbook.tls")], {
        "tls_profile": facts["profile"],
        "tls_sites": sites(facts, extra_config="no_such_directive on;")}, hosts=host.backend.host)
    assert result.rc != 0
    assert [name for name, dummy in result.failed_tasks] == ["fleetops.runbook.tls : Write the TLS server blocks"]
    assert 'unknown directive "no_such_directive"' in result.messages
    assert config_sums(host, facts) == before
    version, response = https_get(facts)
    assert response.startswith("HTTP/1.1 200")


def test_another_default_server_on_a_port_of_the_role_is_refused(host, facts):
    """The layout of the issue: another server claims to be the default of a port a site listens
    on. nginx would negotiate that port's protocol with it, so the role refuses and changes nothing."""
    legacy = "/etc/nginx/conf.d/00-legacy.conf"
    before = config_sums(host, facts)
    host.run("sed -i 's/listen 8443 ssl;/listen 8443 ssl default_server;/' %s" % legacy)
    try:
        assert "default_server" in host.file(legacy).content_string
        result = run_play([include_role("fleetops.runbook.tls")], hosts=host.backend.host)
    finally:
        host.run("sed -i 's/ default_server;/;/' %s" % legacy)
    assert result.rc != 0
    assert "duplicate default server for 0.0.0.0:8443" in result.messages, result.messages
    assert "remove default_server from the other server block" in result.messages
    assert "/tmp/fleetops-nginx-check" not in result.messages
    assert config_sums(host, facts) == before
    assert handshake(host, 8443, "selfsigned.example.test", "-tls1_3")["protocol"] == "TLSv1.3"
