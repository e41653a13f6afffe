"""The ufw role, run over SSH into the container: exactly the intended rules, Ansible's own port
kept open, the rollback disarmed, and the firewall really filtering the container's namespace."""

import os
import socket
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
from fleetops_molecule import include_role, run_play  # noqa: E402


EXPECTED_RULES = [
    ("Anywhere", "DENY IN", "203.0.113.7", "fleetops: deny 203.0.113.7"),
    ("Anywhere", "DENY IN", "198.51.100.0/24", "fleetops: deny 198.51.100.0/24"),
    ("2222/tcp", "ALLOW IN", "Anywhere", "fleetops: Ansible connection"),
    ("22/tcp", "LIMIT IN", "Anywhere", "fleetops: SSH"),
    ("80/tcp", "ALLOW IN", "Anywhere", "fleetops: HTTP"),
    ("443/tcp", "ALLOW IN", "Anywhere", "fleetops: HTTPS"),
    ("9100/tcp", "ALLOW IN", "10.20.0.0/16", "fleetops: node exporter"),
    ("Anywhere (v6)", "DENY IN", "2001:db8:dead::/48", "fleetops: deny 2001:db8:dead::/48"),
    ("2222/tcp (v6)", "ALLOW IN", "Anywhere (v6)", "fleetops: Ansible connection"),
    ("22/tcp (v6)", "LIMIT IN", "Anywhere (v6)", "fleetops: SSH"),
    ("80/tcp (v6)", "ALLOW IN", "Anywhere (v6)", "fleetops: HTTP"),
    ("443/tcp (v6)", "ALLOW IN", "Anywhere (v6)", "fleetops: HTTPS"),
]


def parse_status(text):
    head, dummy, table = text.partition("--\n")
    rules = []
    for line in table.splitlines():
        if not line.strip():
            continue
        rule, dummy, comment = line.partition("#")
        # Columns are separated by two or more spaces.
        cells = [c.strip() for c in rule.split("  ") if c.strip()]
        rules.append(tuple(cells) + (comment.strip(),))
    return head, rules


@pytest.fixture(scope="module")
def status(host):
    return host.check_output("ufw status verbose")


@pytest.fixture(scope="module")
def address(host):
    return host.check_output("hostname -I").split()[0]


def test_status_shows_exactly_the_intended_rules(status):
    head, rules = parse_status(status)
    assert "Status: active" in head
    assert "Logging: on (low)" in head
    assert "Default: deny (incoming), allow (outgoing), deny (routed)" in head
    assert rules == EXPECTED_RULES


def test_rollback_timer_was_disarmed(host):
    assert "fleetops-ufw-rollback" not in host.check_output("systemctl list-timers --all --no-legend")
    assert host.run("systemctl is-active fleetops-ufw-rollback.timer").stdout.strip() != "active"


def test_ufw_stays_enabled_at_boot(host):
    assert "ENABLED=yes" in host.file("/etc/ufw/ufw.conf").content_string


def test_network_sysctl_hardening_written_and_used_by_ufw(host):
    conf = host.file("/etc/sysctl.d/60-fleetops-network.conf")
    assert conf.mode == 0o644
    settings = dict(
        (k.strip(), v.strip())
        for k, dummy, v in (line.partition("=") for line in conf.content_string.splitlines())
        if v and not k.startswith("#"))
    assert settings["net.ipv4.conf.all.rp_filter"] == "1"
    assert settings["net.ipv4.conf.all.accept_redirects"] == "0"
    assert settings["net.ipv4.conf.all.accept_source_route"] == "0"
    assert settings["net.ipv4.tcp_syncookies"] == "1"
    assert settings["net.ipv4.conf.all.log_martians"] == "1"
    assert settings["net.ipv4.ip_forward"] == "0"
    assert "IPT_SYSCTL=/etc/sysctl.d/60-fleetops-network.conf" in host.file("/etc/default/ufw").content_string


def test_ansible_ssh_port_reachable_through_the_firewall(address):
    with socket.create_connection((address, 2222), timeout=5) as sock:
        assert sock.recv(64).startswith(b"SSH-2.0-")


def test_a_port_not_allowed_is_dropped(host, address):
    """A listener on 8080 inside the container answers locally, but not through the firewall."""
    host.run("systemd-run --unit fleetops-test-listener python3 -m http.server 8080")
    try:
        for dummy in range(20):
            if host.run("python3 -c \"import socket; socket.create_connection(('127.0.0.1', 8080), 1)\"").rc == 0:
                break
            time.sleep(0.3)
        else:
            pytest.fail("the test listener did not start")
        with pytest.raises(OSError):
            socket.create_connection((address, 8080), timeout=3).close()
    finally:
        host.run("systemctl stop fleetops-test-listener")


def test_bad_deny_source_is_refused_before_the_firewall_changes(host):
    before = host.check_output("ufw status verbose")
    rules = host.file("/etc/ufw/user.rules").sha256sum
    result = run_play([include_role("fleetops.runbook.ufw")], {
        "ufw_deny_sources": ["203.0.113.7", "attacker.example"],
        "ufw_sysctl_reload": False,
    }, hosts=host.backend.host)
    assert result.rc != 0
    assert "ufw_deny_sources[1]" in result.messages and "attacker.example" in result.messages
    assert [name for name, dummy in result.failed_tasks] == ["fleetops.runbook.ufw : Check the deny list"]
    assert host.check_output("ufw status verbose") == before
    assert host.file("/etc/ufw/user.rules").sha256sum == rules


def test_malformed_port_is_refused_before_the_firewall_changes(host):
    before = host.check_output("ufw status verbose")
    result = run_play([include_role("fleetops.runbook.ufw")], {
        "ufw_allowed_services": [{"port": "22/tcp"}],
    }, hosts=host.backend.host)
    assert result.rc != 0
    assert "ufw_allowed_services[0]" in result.messages and "1-65535" in result.messages
    assert host.check_output("ufw status verbose") == before
