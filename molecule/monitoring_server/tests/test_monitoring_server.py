"""monitoring_server across mon (monitoring), app (web, nginx) and db (postgres).

The end-to-end tests change one thing (stop PostgreSQL, stop nginx, pause db) and poll what reaches
the Slack receiver, the SMTP sink and Alertmanager on mon. Polls have generous hang guards and never
assert how fast anything came: the machine is loaded.
"""

import json
import os
import subprocess
import sys
import time

import pytest
import testinfra
import yaml

HERE = os.path.dirname(__file__)
sys.path.insert(0, os.path.join(HERE, "..", "..", "shared"))
from fleetops_molecule import include_role, run_play  # noqa: E402

PREFIX = "fleetops-monitoring_server-%s" % os.environ.get("FLEETOPS_MOLECULE_ID", "local")
MON, APP, DB = PREFIX + "-mon", PREFIX + "-app", PREFIX + "-db"
CONFIG_DIR = "/etc/prometheus/fleetops"
RULES = "/etc/prometheus/rules/fleetops-server.rules.yml"
WEBHOOK_SECRET = "test-webhook-secret"
# Hang guard of every poll: many times what the shortened intervals need on an idle machine.
GUARD = 300


@pytest.fixture(scope="module", name="mon")
def fixture_mon():
    return testinfra.get_host("docker://" + MON)


@pytest.fixture(scope="module", name="app")
def fixture_app():
    return testinfra.get_host("docker://" + APP)


@pytest.fixture(scope="module", name="db")
def fixture_db():
    return testinfra.get_host("docker://" + DB)


def get_json(host, url):
    cmd = "python3 -c 'import sys, urllib.request as u; sys.stdout.write(u.urlopen(sys.argv[1], timeout=10).read().decode())' %s"
    return json.loads(host.check_output(cmd % url))


def poll(what, probe, guard=GUARD):
    """probe() until it returns something true; fails naming what never came."""
    deadline = time.monotonic() + guard
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(2)
    pytest.fail("%s did not happen within the hang guard (%d s); last seen: %r" % (what, guard, last))


def slack_messages(mon):
    out = mon.check_output("cat /var/spool/slack-receiver/*.json 2>/dev/null | python3 -c "
                           "'import sys, json; d = json.JSONDecoder(); t = sys.stdin.read(); i = 0; r = []\n"
                           "while i < len(t):\n"
                           "    o, i = d.raw_decode(t, i)\n"
                           "    r.append(o)\n"
                           "print(json.dumps(r))' || echo '[]'")
    return [m["json"]["attachments"][0] for m in json.loads(out or "[]") if m.get("json")]


def slack_with(mon, *needles):
    return [a for a in slack_messages(mon) if all(n in a.get("title", "") + "\n" + a.get("text", "") for n in needles)]


def mails_with(mon, *needles):
    out = mon.check_output("cat /var/spool/smtp-sink/*.json 2>/dev/null | python3 -c "
                           "'import sys, json; d = json.JSONDecoder(); t = sys.stdin.read(); i = 0; r = []\n"
                           "while i < len(t):\n"
                           "    o, i = d.raw_decode(t, i)\n"
                           "    r.append(o)\n"
                           "print(json.dumps(r))' || echo '[]'")
    return [m for m in json.loads(out or "[]") if all(n in m["data"] for n in needles)]


def alerts(mon):
    return get_json(mon, "http://127.0.0.1:9093/api/v2/alerts")


# --- the role's files ---------------------------------------------------------------------------

def test_services_run_where_the_role_put_them(mon):
    for service in ("prometheus", "prometheus-alertmanager", "prometheus-blackbox-exporter", "postfix"):
        assert mon.service(service).is_running, service
    args = mon.file("/etc/default/prometheus").content_string
    assert "--config.file=%s/prometheus.yml" % CONFIG_DIR in args
    # The packages' own configuration is left as it was.
    assert "fleetops" not in mon.file("/etc/prometheus/prometheus.yml").content_string


def test_secrets_live_only_in_their_0600_files(mon):
    url_file = mon.file(CONFIG_DIR + "/slack_api_url")
    assert (url_file.mode, url_file.user, url_file.group) == (0o600, "prometheus", "prometheus")
    assert WEBHOOK_SECRET in url_file.content_string
    config = mon.file(CONFIG_DIR + "/alertmanager.yml").content_string
    assert WEBHOOK_SECRET not in config
    assert "slack_api_url_file: %s/slack_api_url" % CONFIG_DIR in config
    found = mon.run("grep -rl %s /etc /var/log 2>/dev/null" % WEBHOOK_SECRET).stdout.split()
    assert found == [CONFIG_DIR + "/slack_api_url"]


def test_configuration_passes_the_programs_own_checks(mon):
    for cmd in ("amtool check-config %s/alertmanager.yml" % CONFIG_DIR,
                "promtool check config %s/prometheus.yml" % CONFIG_DIR,
                "promtool check rules %s" % RULES,
                "prometheus-blackbox-exporter --config.check --config.file=%s/blackbox.yml" % CONFIG_DIR):
        out = mon.run(cmd)
        assert out.rc == 0, cmd + "\n" + out.stdout + out.stderr


def test_routes_escalation_and_inhibition_are_in_the_configuration(mon):
    config = yaml.safe_load(mon.file(CONFIG_DIR + "/alertmanager.yml").content_string)
    routes = config["route"]["routes"]
    assert [(r["receiver"], r.get("group_wait")) for r in routes] == [
        ("severity-critical", None), ("severity-warning", None), ("escalation-level1-automatic", "20s")]
    assert config["route"]["repeat_interval"] == "1h"
    assert config["global"]["smtp_smarthost"] == "localhost:25"
    assert config["inhibit_rules"][0]["equal"] == ["host"]
    receivers = {r["name"]: r for r in config["receivers"]}
    assert receivers["severity-critical"]["email_configs"][0]["send_resolved"] is True
    assert receivers["severity-critical"]["slack_configs"][0]["send_resolved"] is True


# --- promtool's rule unit tests -----------------------------------------------------------------

def series(name, labels):
    return "%s{%s}" % (name, ",".join('%s="%s"' % kv for kv in sorted(labels.items())))


def http_labels(instance, endpoint):
    return {"job": "blackbox_http", "instance": instance, "host": "app", "endpoint": endpoint}


def cert_labels(instance):
    return {"job": "blackbox_tls", "instance": instance, "host": "app", "endpoint": instance}


def expect(eval_time, alert, *alerts_):
    return {"eval_time": eval_time, "alertname": alert,
            "exp_alerts": [{"exp_labels": labels, "exp_annotations": {"summary": s, "description": d}}
                           for labels, s, d in alerts_]}


def test_every_server_rule_fires_as_its_numbers_say(mon):
    """PostgresDown (for 10s here), replication lag 60/300 s for 5m, backup age against the set's own
    maximum for 5m, certificate 30/14 days, latency 2/5 s for 5m, failed probe (10s here), availability 99/95 %."""
    pg = {"job": "postgres", "instance": "db:9187", "host": "db"}
    backup = {"job": "node", "instance": "db:9100", "host": "db", "set": "nightly"}
    slow, down, flaky = http_labels("http://app/", "site"), http_labels("http://down/", "down"), http_labels("http://flaky/", "flaky")
    lag_w = ("Replication lag above 60 s on db", "The standby db:9187 has replayed nothing for 6m 40s (warning above 60 s).")
    lag_c = ("Replication lag above 300 s on db", "The standby db:9187 has replayed nothing for 6m 40s (critical above 300 s).")
    tests = {
        "rule_files": [RULES],
        "evaluation_interval": "1m",
        "tests": [
            {"interval": "1m",
             "input_series": [
                 {"series": series("pg_up", pg), "values": "1 1 0 0 0"},
                 {"series": series("pg_replication_lag", pg), "values": "0x5 120x9 400x10"},
             ],
             "alert_rule_test": [
                 expect("2m", "PostgresDown"),
                 expect("3m", "PostgresDown", (dict(pg, severity="critical"), "PostgreSQL on db is down",
                                               "The postgres exporter of db:9187 has not reached its server for 10s.")),
                 expect("10m", "PostgresReplicationLag"),
                 expect("22m", "PostgresReplicationLag", (dict(pg, severity="warning"),) + lag_w,
                        (dict(pg, severity="critical"),) + lag_c),
             ]},
            {"interval": "1m",
             "input_series": [
                 {"series": series("fleetops_backup_last_success_timestamp_seconds", backup), "values": "0x30"},
                 {"series": series("fleetops_backup_max_age_seconds", backup), "values": "1200x30"},
             ],
             "alert_rule_test": [
                 expect("24m", "BackupTooOld"),
                 expect("27m", "BackupTooOld", (dict(backup, severity="critical"),
                                                "Backup set nightly on db is older than it may be",
                                                "The last verified backup of nightly is 27m 0s old.")),
             ]},
            {"interval": "1m",
             "input_series": [
                 {"series": series("probe_ssl_earliest_cert_expiry", cert_labels("app:443")), "values": "1728000x3"},
                 {"series": series("probe_ssl_earliest_cert_expiry", cert_labels("db:443")), "values": "864000x3"},
                 {"series": series("probe_ssl_earliest_cert_expiry", cert_labels("mon:443")), "values": "8640000x3"},
             ],
             "alert_rule_test": [
                 expect("1m", "CertificateExpiresSoon",
                        (dict(cert_labels("app:443"), severity="warning"), "The certificate of app:443 expires in less than 30 days",
                         "It expires in 20.0 days (warning below 30)."),
                        (dict(cert_labels("db:443"), severity="warning"), "The certificate of db:443 expires in less than 30 days",
                         "It expires in 10.0 days (warning below 30)."),
                        (dict(cert_labels("db:443"), severity="critical"), "The certificate of db:443 expires in less than 14 days",
                         "It expires in 10.0 days (critical below 14).")),
             ]},
            {"interval": "1m",
             "input_series": [
                 {"series": series("probe_duration_seconds", slow), "values": "1x5 3x10 6x15"},
                 {"series": series("probe_success", slow), "values": "1x30"},
                 # A failed probe that took long is a failure, not a slow answer.
                 {"series": series("probe_duration_seconds", down), "values": "10x30"},
                 {"series": series("probe_success", down), "values": "0x30"},
                 {"series": series("probe_duration_seconds", flaky), "values": "0.1x30"},
                 {"series": series("probe_success", flaky), "values": "1 0 1x29"},
             ],
             "alert_rule_test": [
                 expect("10m", "HttpSlow"),
                 expect("14m", "HttpSlow", (dict(slow, severity="warning"), "http://app/ answers in more than 2 s",
                                            "The probe of site on app took 3.00 s for 5m.")),
                 expect("23m", "HttpSlow",
                        (dict(slow, severity="warning"), "http://app/ answers in more than 2 s",
                         "The probe of site on app took 6.00 s for 5m."),
                        (dict(slow, severity="critical"), "http://app/ answers in more than 5 s",
                         "The probe of site on app took 6.00 s for 5m.")),
                 expect("2m", "EndpointDown", (dict(down, severity="critical"), "down on app does not answer",
                                               "The blackbox_http probe of http://down/ has failed for 10s.")),
                 expect("30m", "EndpointAvailabilityLow",
                        (dict(down, severity="warning"), "http://down/ answered less than 99 % of the probes over 1h",
                         "0.0 % of the probes of down on app succeeded."),
                        (dict(down, severity="critical"), "http://down/ answered less than 95 % of the probes over 1h",
                         "0.0 % of the probes of down on app succeeded."),
                        (dict(flaky, severity="warning"), "http://flaky/ answered less than 99 % of the probes over 1h",
                         "96.8 % of the probes of flaky on app succeeded.")),
             ]},
        ],
    }
    path = "/tmp/fleetops_server_rules_test.yml"
    mon.run_expect([0], "cat > %s <<'EOF'\n%s\nEOF" % (path, json.dumps(tests)))
    out = mon.run("promtool test rules %s" % path)
    assert out.rc == 0, out.stdout + out.stderr


# --- end to end ---------------------------------------------------------------------------------

def test_targets_from_the_inventory_are_up(mon):
    def up():
        targets = get_json(mon, "http://127.0.0.1:9090/api/v1/targets")["data"]["activeTargets"]
        healthy = sorted((t["labels"]["job"], t["labels"]["host"]) for t in targets if t["health"] == "up")
        wanted = [("blackbox_http", APP), ("node", APP), ("node", DB), ("node", MON), ("postgres", DB)]
        return healthy if all(w in healthy for w in wanted) else None
    poll("every node, postgres and blackbox target up", up)


def test_the_replication_lag_metric_exists_for_the_rule(mon):
    """The lag rule reads pg_replication_lag, which monitoring_agent's query adds: 0 on a primary."""
    def lag():
        result = get_json(mon, "http://127.0.0.1:9090/api/v1/query?query=pg_replication_lag")["data"]["result"]
        return [(r["metric"]["host"], r["value"][1]) for r in result]
    assert poll("pg_replication_lag of db in Prometheus", lag) == [(DB, "0")]


def can_connect(host, address, port):
    cmd = ("python3 -c 'import socket, sys\ntry:\n    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)\n"
           "except OSError:\n    sys.exit(1)' %s %d") % (address, port)
    return host.run(cmd).rc == 0


@pytest.mark.parametrize("port", [9100, 9187])
def test_exporter_ports_are_closed_outside_the_monitoring_group(mon, app, port):
    assert can_connect(mon, DB, port)
    assert not can_connect(app, DB, port)


def test_database_down_reaches_slack_and_mail_then_resolves(mon, db):
    db.run_expect([0], "systemctl stop postgresql")
    try:
        firing = poll("a firing PostgresDown on Slack", lambda: slack_with(mon, "[FIRING", "PostgresDown", DB))
        assert "PostgreSQL on %s is down" % DB in firing[0]["text"]
        mail = poll("a PostgresDown mail in the SMTP sink", lambda: mails_with(mon, "PostgresDown", "FIRING"))
        assert mail[0]["rcpt_tos"] == ["ops-team@example.net"] and mail[0]["tls"] is True
        poll("the level-1 escalation on Slack",
             lambda: slack_with(mon, "[escalation level1-automatic after 20s]", "PostgresDown"))
    finally:
        db.run_expect([0], "systemctl start postgresql")
    poll("a resolved PostgresDown on Slack", lambda: slack_with(mon, "[RESOLVED]", "PostgresDown", DB))


def test_nginx_down_raises_the_blackbox_alert(mon, app):
    app.run_expect([0], "systemctl stop nginx")
    try:
        firing = poll("a firing EndpointDown on Slack", lambda: slack_with(mon, "[FIRING", "EndpointDown", APP))
        assert "site on %s does not answer" % APP in firing[0]["text"]
    finally:
        app.run_expect([0], "systemctl start nginx")
    poll("a resolved EndpointDown on Slack", lambda: slack_with(mon, "[RESOLVED]", "EndpointDown", APP))


def test_a_host_that_is_down_silences_its_other_alerts(mon):
    subprocess.run(["docker", "pause", DB], check=True)
    try:
        def inhibited():
            mine = [a for a in alerts(mon) if a["labels"].get("host") == DB and a["labels"]["alertname"] == "InstanceDown"]
            node = [a for a in mine if a["labels"]["job"] == "node" and a["status"]["state"] == "active"]
            other = [a for a in mine if a["labels"]["job"] == "postgres" and a["status"]["state"] == "suppressed"
                     and a["status"]["inhibitedBy"]]
            return (node, other) if node and other else None
        poll("InstanceDown of db's node exporter active and of its postgres exporter inhibited", inhibited)
        message = poll("InstanceDown of db on Slack", lambda: slack_with(mon, "[FIRING", "InstanceDown", DB))
        assert "%s:9100" % DB in message[0]["text"]
        assert "%s:9187" % DB not in message[0]["text"]
    finally:
        subprocess.run(["docker", "unpause", DB], check=True)


def test_an_unknown_receiver_is_refused_before_anything_changes(mon):
    before = mon.file(CONFIG_DIR + "/alertmanager.yml").sha256sum
    result = run_play([include_role("fleetops.runbook.monitoring_server")], {
        "monitoring_server_slack_webhook_url": "http://127.0.0.1:8099/services/T0FLEETOPS/B0RUNBOOK/" + WEBHOOK_SECRET,
        "monitoring_server_mail_to": ["ops-team@example.net"],
        "monitoring_server_escalation_levels": [{"name": "pager", "wait": "15m", "receivers": ["pagerduty"]}],
    }, hosts="monitoring")
    assert result.rc != 0
    assert "monitoring_server_escalation_levels[0] names receivers that are not configured: pagerduty" in result.messages
    assert WEBHOOK_SECRET not in json.dumps(result.report) + result.stderr
    assert mon.file(CONFIG_DIR + "/alertmanager.yml").sha256sum == before
