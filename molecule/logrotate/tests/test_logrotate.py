"""logrotate role: policies on disk, real rotations, removal of dropped policies, bad input."""

import os
import sys
import time
import urllib.parse

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
from fleetops_molecule import include_role, run_play  # noqa: E402

MARKER = "# Managed by fleetops.runbook.logrotate"


def force(host, policy):
    """One forced rotation of a policy, with the system's state file, as the daily timer would."""
    host.run_expect([0], "logrotate --force /etc/logrotate.d/%s" % policy)


def write_log(host, path, text):
    host.run_expect([0], "mkdir -p %s && printf '%%s\\n' %s >> %s" % (
        os.path.dirname(path), text, path))


@pytest.mark.parametrize("name", ["application", "nginx", "short"])
def test_policy_files(host, name):
    policy = host.file("/etc/logrotate.d/%s" % name)
    assert policy.is_file
    assert policy.user == "root" and policy.group == "root"
    assert policy.mode == 0o644
    assert policy.content_string.startswith(MARKER)


def test_application_policy_follows_the_seed(host):
    text = host.file("/etc/logrotate.d/application").content_string
    body = [line.strip() for line in text.splitlines()]
    assert '"/var/log/application/*.log" {' in body
    for directive in ("daily", "rotate 30", "compress", "delaycompress", "missingok",
                      "notifempty", "create 0644 root root", "sharedscripts", "postrotate", "endscript"):
        assert directive in body, directive


def test_nginx_policy_signals_nginx(host):
    text = host.file("/etc/logrotate.d/nginx").content_string
    assert "kill -USR1" in text and "/run/nginx.pid" in text


def test_dropped_and_absent_policies_removed(host):
    assert not host.file("/etc/logrotate.d/dropped").exists
    assert not host.file("/etc/logrotate.d/legacy").exists
    assert host.file("/etc/logrotate.d/vendor").exists


def test_whole_configuration_is_valid(host):
    host.run_expect([0], "logrotate --debug --state /dev/null /etc/logrotate.conf")


def test_timer_enabled(host):
    timer = host.service("logrotate.timer")
    assert timer.is_enabled
    assert timer.is_running


def test_rotation_compresses_on_the_next_pass_and_runs_postrotate(host):
    log = "/var/log/application/app.log"
    hook = host.file("/var/tmp/application-postrotate")
    before = len(hook.content_string.splitlines()) if hook.exists else 0

    write_log(host, log, "first")
    force(host, "application")
    assert host.file(log + ".1").content_string == "first\n"
    assert not host.file(log + ".1.gz").exists  # delaycompress: not on the first pass
    fresh = host.file(log)
    assert fresh.exists and fresh.size == 0
    assert fresh.mode == 0o644 and fresh.user == "root"

    write_log(host, log, "second")
    force(host, "application")
    assert host.file(log + ".1").content_string == "second\n"
    assert host.file(log + ".2.gz").exists
    assert host.check_output("zcat %s.2.gz" % log) == "first"

    assert len(host.file("/var/tmp/application-postrotate").content_string.splitlines()) == before + 2


def test_rotation_keeps_n_files(host):
    log = "/var/log/short/job.log"
    for n in range(5):
        write_log(host, log, "run%d" % n)
        force(host, "short")
    rotated = sorted(host.check_output("ls /var/log/short").split())
    assert rotated == ["job.log", "job.log.1", "job.log.2.gz"]
    assert host.check_output("zcat %s.2.gz" % log) == "run3"
    assert host.file(log + ".1").content_string == "run4\n"
    new = host.file(log)
    assert new.mode == 0o640 and new.group == "adm"


def test_nginx_reopens_its_log_after_rotation(host):
    assert host.service("nginx").is_running
    access = "/var/log/nginx/access.log"

    def request(tag):
        host.run_expect([0], "python3 -c 'import urllib.request as u; u.urlopen(\"http://127.0.0.1/?%s\").read()'"
                        % urllib.parse.quote(tag))

    request("before")
    force(host, "nginx")
    request("after")
    for dummy in range(20):
        if "after" in host.file(access).content_string:
            break
        time.sleep(0.25)
    assert "after" in host.file(access).content_string
    assert "after" not in host.file(access + ".1").content_string
    assert "before" in host.file(access + ".1").content_string


def test_wrong_type_is_rejected_before_anything_changes(host):
    result = run_play([include_role("fleetops.runbook.logrotate")], {
        "logrotate_policies": [{"name": "badtype", "paths": ["/var/log/x/*.log"], "rotate": "many"}],
    })
    assert result.rc != 0
    assert "rotate" in result.messages and "int" in result.messages
    assert "Validating arguments against arg spec" in result.failed_tasks[0][0]
    assert not host.file("/etc/logrotate.d/badtype").exists
    assert host.file("/etc/logrotate.d/application").exists


def test_unknown_frequency_is_rejected_before_anything_changes(host):
    result = run_play([include_role("fleetops.runbook.logrotate")], {
        "logrotate_policies": [{"name": "badfreq", "paths": ["/var/log/x/*.log"], "frequency": "fortnightly"}],
    })
    assert result.rc != 0
    assert "frequency" in result.messages and "fortnightly" in result.messages
    assert "Validating arguments against arg spec" in result.failed_tasks[0][0]
    assert not host.file("/etc/logrotate.d/badfreq").exists


def test_policy_logrotate_rejects_never_lands(host):
    before = host.file("/etc/logrotate.d/application").sha256sum
    result = run_play([include_role("fleetops.runbook.logrotate")], {
        "logrotate_policies": [{"name": "application", "paths": ["/var/log/application/*.log"],
                                "create": {"mode": "0644", "owner": "nosuchuser", "group": "root"}}],
    })
    assert result.rc != 0
    assert [name for name, dummy in result.failed_tasks] == ["fleetops.runbook.logrotate : Write the policies"]
    assert "unknown user 'nosuchuser'" in result.messages
    assert host.file("/etc/logrotate.d/application").sha256sum == before
    assert "nosuchuser" not in host.file("/etc/logrotate.d/application").content_string
