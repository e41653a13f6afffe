"""monitoring_agent role: exporters on loopback, textfile metrics, pg_monitor role, alert rules."""

import json
import os
import sys

import pytest
import yaml

HERE = os.path.dirname(__file__)
sys.path.insert(0, os.path.join(HERE, "..", "..", "shared"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "plugins", "module_utils"))
from fleetops_molecule import include_role, run_play  # noqa: E402
import status  # noqa: E402  the collection's status model, as the daily checks use it

PASSWORD = 'molecule-s3cret-"quoted"-$HOME'
TEXTFILE_DIR = "/var/lib/prometheus/node-exporter"
RULES = "/etc/prometheus/rules/fleetops.rules.yml"


def fetch(host, url):
    cmd = "python3 -c 'import sys, urllib.request as u; sys.stdout.write(u.urlopen(sys.argv[1], timeout=10).read().decode())' %s"
    return host.check_output(cmd % url)


def wait_for(host, url, needle, tries=40):
    cmd = ("python3 -c 'import sys, time, urllib.request as u\n"
           "for _ in range(%d):\n"
           "    try:\n"
           "        body = u.urlopen(sys.argv[1], timeout=5).read().decode()\n"
           "        if sys.argv[2] in body: sys.exit(0)\n"
           "    except OSError: pass\n"
           "    time.sleep(0.5)\n"
           "sys.exit(1)' %s %s") % (tries, url, needle)
    return host.run(cmd).rc == 0


@pytest.mark.parametrize("service,port", [
    ("prometheus-node-exporter", 9100),
    ("prometheus-postgres-exporter", 9187),
    ("prometheus", 9090),
])
def test_services_listen_on_loopback_only(host, service, port):
    assert host.service(service).is_enabled
    assert host.service(service).is_running
    assert host.socket("tcp://127.0.0.1:%d" % port).is_listening
    assert not host.socket("tcp://0.0.0.0:%d" % port).is_listening
    assert not host.socket("tcp://:::%d" % port).is_listening


def test_node_exporter_serves_metrics(host):
    body = fetch(host, "http://127.0.0.1:9100/metrics")
    assert "node_exporter_build_info" in body
    assert 'node_textfile_scrape_error 0' in body


def test_textfile_metrics_of_the_status_model_appear(host):
    report = status.CheckReport("resource_check")
    thresholds = status.parse_thresholds({}, {"disk_used": {"warning": "80", "critical": "90"},
                                              "load1": {"warning": "4"}})
    report.add("disk_used", 91.5, unit="percent", target="/var", thresholds=thresholds["disk_used"])
    report.add("load1", 0.25, thresholds=thresholds["load1"])
    lines = report.metrics({"run": "molecule"})
    content = "\n".join(lines) + "\n"
    tmp = TEXTFILE_DIR + "/.fleetops_test.prom.tmp"
    host.run_expect([0], "printf '%%s' %s > %s && mv %s %s/fleetops_test.prom" % (
        _shell_quote(content), tmp, tmp, TEXTFILE_DIR))
    body = fetch(host, "http://127.0.0.1:9100/metrics")
    exposed = [line for line in body.splitlines() if line.startswith("fleetops_check_")]
    expected = [line for line in lines if not line.startswith("#")]
    for line in expected:
        name, rest = line.split("{", 1)
        labels, value = rest.rsplit("} ", 1)
        match = [e for e in exposed if e.startswith(name + "{") and all(
            pair in e for pair in labels.split(","))]
        assert match, line
        assert float(match[0].rsplit(" ", 1)[1]) == float(value)
    assert any('check="disk_used"' in e and e.endswith(" 2") for e in exposed
               if e.startswith("fleetops_check_status"))
    host.run_expect([0], "rm -f %s/fleetops_test.prom" % TEXTFILE_DIR)


def _shell_quote(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


def test_postgres_exporter_reaches_postgresql(host):
    assert wait_for(host, "http://127.0.0.1:9187/metrics", "pg_up 1")
    body = fetch(host, "http://127.0.0.1:9187/metrics")
    assert "pg_up 1" in body.splitlines()
    assert "pg_database_size_bytes" in body


def test_exporter_role_is_pg_monitor_and_nothing_more(host):
    sql = ("SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolcanlogin, "
           "pg_has_role('fleetops_exporter', 'pg_monitor', 'member') FROM pg_roles "
           "WHERE rolname = 'fleetops_exporter'")
    out = host.check_output("runuser -u postgres -- psql -XAtc \"%s\"" % sql)
    assert out == "f|f|f|f|t|t"


def test_password_only_in_a_root_only_file(host):
    env = host.file("/etc/default/prometheus-postgres-exporter")
    assert env.user == "root" and env.group == "root" and env.mode == 0o600
    assert 'DATA_SOURCE_PASS="molecule-s3cret-\\"quoted\\"-$HOME"' in env.content_string
    holders = host.check_output("grep -rlF -- 'molecule-s3cret' /etc /var/lib /tmp /var/tmp /run || true").split()
    assert holders == ["/etc/default/prometheus-postgres-exporter"]
    pid = host.check_output("systemctl show -p MainPID --value prometheus-postgres-exporter")
    assert "s3cret" not in host.file("/proc/%s/cmdline" % pid).content_string


def test_postgres_exporter_reports_the_replication_lag(host):
    # The query of monitoring_agent_postgres_exporter_queries: 0 on a primary.
    assert wait_for(host, "http://127.0.0.1:9187/metrics", "pg_replication_lag")
    lines = [line for line in fetch(host, "http://127.0.0.1:9187/metrics").splitlines()
             if line.startswith("pg_replication_lag")]
    assert [line.split()[-1] for line in lines] == ["0"], lines


def test_rules_pass_promtool(host):
    out = host.run("promtool check rules %s" % RULES)
    assert out.rc == 0, out.stderr
    assert "SUCCESS: 6 rules found" in out.stdout


def test_rules_carry_the_seed_thresholds(host):
    text = host.file(RULES).content_string
    rules = {r["alert"]: r for r in yaml.safe_load(text)["groups"][0]["rules"]}
    assert rules["HostHighCpuUsage"]["expr"].endswith("> 80") and rules["HostHighCpuUsage"]["for"] == "5m"
    assert rules["HostHighMemoryUsage"]["expr"].endswith("> 85") and rules["HostHighMemoryUsage"]["for"] == "5m"
    assert rules["HostHighDiskUsage"]["expr"].endswith("> 80") and rules["HostHighDiskUsage"]["for"] == "10m"
    assert rules["InstanceDown"]["for"] == "1m"
    assert rules["HighErrorRate"]["expr"].endswith("> 5") and rules["HighErrorRate"]["for"] == "3m"


def expect(eval_time, alert, labels=None, summary=None, description=None):
    """One promtool alert_rule_test entry: no alert when labels is None."""
    entry = {"eval_time": eval_time, "alertname": alert, "exp_alerts": []}
    if labels is not None:
        entry["exp_alerts"].append({"exp_labels": labels,
                                    "exp_annotations": {"summary": summary, "description": description}})
    return entry


def test_rules_fire_as_the_guide_says(host):
    """promtool's rule unit tests: each alert fires after its duration above its threshold, not before."""
    disk = {"series": 'node_filesystem_%s_bytes{instance="a",mountpoint="/",fstype="ext4"}'}
    check = 'fleetops_check_status{instance="a",source="resource_check",check="disk_used",target="/"}'
    tests = {
        "rule_files": [RULES],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    # 10 % idle on one CPU: 90 % busy.
                    {"series": 'node_cpu_seconds_total{instance="a",cpu="0",mode="idle"}', "values": "0+6x20"},
                    {"series": 'node_memory_MemAvailable_bytes{instance="a"}', "values": "10x20"},
                    {"series": 'node_memory_MemTotal_bytes{instance="a"}', "values": "100x20"},
                    {"series": disk["series"] % "avail", "values": "15x20"},
                    {"series": disk["series"] % "size", "values": "100x20"},
                    {"series": 'up{job="node",instance="a"}', "values": "0x20"},
                    {"series": check, "values": "2x20"},
                ],
                "alert_rule_test": [
                    expect("4m", "HostHighCpuUsage"),
                    expect("12m", "HostHighCpuUsage", {"severity": "warning", "instance": "a"},
                           "CPU usage above 80 % on a", "CPU usage has been 90.0 % for 5m."),
                    expect("12m", "HostHighMemoryUsage", {"severity": "warning", "instance": "a"},
                           "Memory usage above 85 % on a", "Memory usage has been 90.0 % for 5m."),
                    expect("9m", "HostHighDiskUsage"),
                    expect("12m", "HostHighDiskUsage",
                           {"severity": "warning", "instance": "a", "mountpoint": "/", "fstype": "ext4"},
                           "Disk usage above 80 % on a /", "/ has been 85.0 % full for 10m."),
                    expect("0m", "InstanceDown"),
                    expect("2m", "InstanceDown", {"severity": "critical", "job": "node", "instance": "a"},
                           "node target a is down", "Prometheus has not reached a for 1m."),
                    expect("1m", "FleetopsCheckCritical",
                           {"severity": "critical", "instance": "a", "source": "resource_check",
                            "check": "disk_used", "target": "/"},
                           "Daily check disk_used is CRITICAL on a",
                           "The last daily run of resource_check reported disk_used / as not OK."),
                ],
            },
            {
                "interval": "1m",
                "input_series": [
                    # 100 requests a minute; 4 % fail, then 10 %.
                    {"series": 'http_requests_total{job="web",instance="w",code="200"}', "values": "0+96x10 960+90x10"},
                    {"series": 'http_requests_total{job="web",instance="w",code="500"}', "values": "0+4x10 40+10x10"},
                ],
                "alert_rule_test": [
                    expect("10m", "HighErrorRate"),
                    expect("20m", "HighErrorRate", {"severity": "critical", "job": "web", "instance": "w"},
                           "More than 5 % of the requests to web fail", "10.0 % of the requests failed over 3m."),
                ],
            },
        ],
    }
    path = "/tmp/fleetops_rules_test.yml"
    host.run_expect([0], "printf '%%s' %s > %s" % (_shell_quote(json.dumps(tests)), path))
    out = host.run("promtool test rules %s" % path)
    assert out.rc == 0, out.stdout + out.stderr


def test_prometheus_loaded_the_rules(host):
    assert wait_for(host, "http://127.0.0.1:9090/api/v1/rules", "HostHighCpuUsage")
    data = json.loads(fetch(host, "http://127.0.0.1:9090/api/v1/rules"))
    names = {r["name"] for g in data["data"]["groups"] for r in g["rules"]}
    assert {"HostHighCpuUsage", "HostHighMemoryUsage", "HostHighDiskUsage", "InstanceDown",
            "HighErrorRate", "FleetopsCheckCritical"} <= names


def test_wrong_type_is_rejected_before_anything_changes(host):
    before = host.file("/etc/default/prometheus-node-exporter").sha256sum
    result = run_play([include_role("fleetops.runbook.monitoring_agent")], {
        "monitoring_agent_node_exporter_port": "ninety-one-hundred",
        "monitoring_agent_postgres_exporter_db_password": PASSWORD,
    })
    assert result.rc != 0
    assert "monitoring_agent_node_exporter_port" in result.messages
    assert "Validating arguments against arg spec" in result.failed_tasks[0][0]
    assert host.file("/etc/default/prometheus-node-exporter").sha256sum == before


def test_missing_password_is_rejected_before_anything_changes(host):
    before = host.file("/etc/default/prometheus-postgres-exporter").sha256sum
    result = run_play([include_role("fleetops.runbook.monitoring_agent")], {
        "monitoring_agent_postgres_exporter_enabled": True,
        "monitoring_agent_node_exporter_listen_address": "0.0.0.0",
    })
    assert result.rc != 0
    assert "monitoring_agent_postgres_exporter_db_password is empty" in result.messages
    assert host.file("/etc/default/prometheus-postgres-exporter").sha256sum == before
    assert "127.0.0.1:9100" in host.file("/etc/default/prometheus-node-exporter").content_string


def test_host_side_checks_find_psutil(host):
    # resource_check (daily checks' resource column, incident evidence) imports psutil on the host.
    assert host.package("python3-psutil").is_installed
    out = host.check_output("python3 -c 'import psutil; print(psutil.cpu_count() > 0)'")
    assert out.strip() == "True"
