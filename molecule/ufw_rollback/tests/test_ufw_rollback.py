"""Without the play's confirmation, the timer armed before the first enable disables ufw."""

import time


def test_firewall_was_enabled_by_the_play(host):
    assert host.file("/root/ufw-status-after-converge").content_string.startswith("Status: active")


def test_rollback_disables_the_firewall_without_confirmation(host):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if host.check_output("ufw status").startswith("Status: inactive"):
            break
        time.sleep(1)
    assert host.check_output("ufw status").startswith("Status: inactive")
    assert "ENABLED=no" in host.file("/etc/ufw/ufw.conf").content_string
    # The rules stay written; only the firewall was switched off.
    assert "fleetops: SSH" in host.check_output("ufw show added")


def test_the_rollback_unit_did_it(host):
    journal = host.check_output("journalctl --no-pager -u fleetops-ufw-rollback.service")
    assert "Firewall stopped and disabled on system startup" in journal
    assert host.run("systemctl is-active fleetops-ufw-rollback.timer").stdout.strip() != "active"
