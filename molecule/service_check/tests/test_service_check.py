"""service_check against real systemd units (active, failed, restarting) and real sockets in the container."""

import os
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
from fleetops_molecule import run_play  # noqa: E402

MODULE = "fleetops.runbook.service_check"
ACTIVE = "fleetops-check-active.service"
FAILED = "fleetops-check-failed.service"
RESTARTING = "fleetops-check-restarting.service"
LISTENER = "fleetops-check-listener.service"


def show(host, unit, prop):
    return host.check_output("systemctl show --property=%s --value %s" % (prop, unit))


def wait_for(predicate, tries=240):
    """Wait for a state of the container (not for a time): polls until ``predicate`` holds."""
    for dummy in range(tries):
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError("the container never reached the state the test needs")


@pytest.fixture(scope="module", autouse=True)
def settled(host):
    """The failing unit has failed and the restarting one has restarted more than five times."""
    wait_for(lambda: show(host, FAILED, "ActiveState") == "failed")
    wait_for(lambda: int(show(host, RESTARTING, "NRestarts") or 0) > 5)
    wait_for(lambda: host.socket("tcp://0.0.0.0:15432").is_listening)


def module_result(args, check=False):
    """The registered result of one service_check task on the scenario's container."""
    task = {"name": "service_check", MODULE: args, "ignore_errors": True}
    play = run_play([task], check=check)
    results = [r for p in play.report["plays"] for t in p["tasks"] for r in t["hosts"].values()]
    assert len(results) == 1, play.stderr
    return results[0]


def one(result, name, target):
    found = [c for c in result["checks"] if c["name"] == name and c["target"] == target]
    assert len(found) == 1, result["checks"]
    return found[0]


def monotonic(host):
    return float(host.check_output("python3 -c 'import time; print(repr(time.monotonic()))'"))


def test_active_failed_and_restarting_units(host):
    stamp = int(show(host, ACTIVE, "StateChangeTimestampMonotonic")) / 1e6
    restarts_before = int(show(host, RESTARTING, "NRestarts"))
    before = monotonic(host)
    result = module_result({"units": [{"name": ACTIVE}, {"name": FAILED}, {"name": RESTARTING}], "fail_on": "never"})
    after = monotonic(host)
    restarts_after = int(show(host, RESTARTING, "NRestarts"))
    assert not result.get("failed"), result
    assert result["changed"] is False

    active = one(result, "unit", ACTIVE)
    assert (active["status"], active["value"]) == ("OK", "active")
    assert active["message"].startswith("unit %s is active (running) for " % ACTIVE)
    assert (one(result, "restarts", ACTIVE)["value"], one(result, "restarts", ACTIVE)["status"]) == (0, "OK")
    age = one(result, "state_age", ACTIVE)
    assert age["unit"] == "seconds" and age["status"] == "OK"
    # Measured between the two clock readings around the run, against systemd's own timestamp.
    assert before - stamp - 1e-3 <= age["value"] <= after - stamp + 1e-3

    failed = one(result, "unit", FAILED)
    assert (failed["status"], failed["value"]) == ("CRITICAL", "failed")
    assert failed["message"].endswith(", result exit-code")
    assert one(result, "restarts", FAILED)["value"] == 0

    restarting = one(result, "restarts", RESTARTING)
    assert restarts_before <= restarting["value"] <= restarts_after
    assert restarting["value"] > 5
    assert (restarting["status"], restarting["warning"], restarting["critical"]) == ("CRITICAL", "0", "5")

    facts = {u["name"]: u for u in result["units"]}
    assert facts[FAILED]["result"] == "exit-code" and facts[FAILED]["active_state"] == "failed"
    assert facts[RESTARTING]["restarts"] == restarting["value"]
    assert facts[ACTIVE]["sub_state"] == "running" and facts[ACTIVE]["load_state"] == "loaded"
    assert result["status"] == "CRITICAL"
    assert "'restarts %s'=" % RESTARTING in result["perfdata"]
    assert any(line.startswith('fleetops_check_status{source="service_check",check="unit",target="%s"} 2' % FAILED)
               for line in result["metrics"])


def test_critical_fails_the_task_by_default(host):
    result = module_result({"units": [{"name": ACTIVE}, {"name": FAILED}]})
    assert result["failed"] is True
    assert result["msg"] == result["summary"]
    assert result["summary"].startswith("CRITICAL: unit %s is failed" % FAILED)
    assert result["status"] == "CRITICAL" and len(result["checks"]) == 6


def test_missing_patterns_and_units_not_required(host):
    result = module_result({"units": [
        {"name": "fleetops-check-*"},
        {"name": "fleetops-nosuch"},
        {"name": "fleetops-nothing-*.service"},
        {"name": "fleetops-optional.service", "required": False},
        {"name": "fleetops-optional-*", "required": False},
    ], "fail_on": "never"})
    units = [c["target"] for c in result["checks"] if c["name"] == "unit"]
    assert sorted(units[:4]) == sorted([ACTIVE, FAILED, LISTENER, RESTARTING])
    missing = one(result, "unit", "fleetops-nosuch.service")
    assert missing["status"] == "CRITICAL" and missing["message"] == "unit fleetops-nosuch.service is not found"
    nothing = one(result, "unit", "fleetops-nothing-*.service")
    assert nothing["status"] == "CRITICAL" and "no loaded unit matches" in nothing["message"]
    optional = one(result, "unit", "fleetops-optional.service")
    assert optional["status"] == "OK" and optional["message"].endswith("(not required)")
    assert one(result, "unit", "fleetops-optional-*.service")["status"] == "OK"


def test_failed_unit_not_required_is_a_warning(host):
    result = module_result({"units": [{"name": FAILED, "required": False}, {"name": ACTIVE}], "fail_on": "never"})
    assert one(result, "unit", FAILED)["status"] == "WARNING"
    assert result["status"] == "WARNING"


def test_units_read_with_one_systemctl_call_match_systemctl(host):
    result = module_result({"units": [{"name": "fleetops-check-*"}, {"name": "dbus"}], "fail_on": "never"})
    for unit in result["units"]:
        assert unit["active_state"] == show(host, unit["id"], "ActiveState") or unit["id"] == RESTARTING
        assert unit["load_state"] == show(host, unit["id"], "LoadState")
        assert unit["description"] == show(host, unit["id"], "Description")
    assert [u["name"] for u in result["units"]][-1] == "dbus.service"


def ss_listening(host):
    """(protocol, address, port) of every socket `ss -tuln` lists."""
    found = set()
    for line in host.check_output("ss -tuln -H").splitlines():
        fields = line.split()
        protocol, local = fields[0], fields[4]
        address, port = local.rsplit(":", 1)
        address = address.strip("[]").split("%")[0]
        # ss writes an IPv6 wildcard that also accepts IPv4 as "*".
        found.add((protocol, {"*": "::"}.get(address, address), int(port)))
    return found


def test_sockets_equal_ss_and_judge_the_seed_case(host):
    result = module_result({
        "listening": ["127.0.0.1:16379", "tcp/15432", "127.0.0.1:15432", "udp/127.0.0.1:15353", "127.0.0.1:16380"],
        "not_listening": ["0.0.0.0:15432", "0.0.0.0:16379", "udp/15432"],
        "fail_on": "never",
    })
    checks = [(c["name"], c["target"], c["value"], c["status"]) for c in result["checks"]]
    assert checks == [
        ("listening", "tcp/127.0.0.1:16379", 1, "OK"),
        ("listening", "tcp/15432", 1, "OK"),
        # The socket on every address accepts on loopback too.
        ("listening", "tcp/127.0.0.1:15432", 1, "OK"),
        ("listening", "udp/127.0.0.1:15353", 1, "OK"),
        ("listening", "tcp/127.0.0.1:16380", 0, "CRITICAL"),
        # The seed's check: a port open on all addresses that should be loopback only.
        ("not_listening", "tcp/0.0.0.0:15432", 1, "CRITICAL"),
        ("not_listening", "tcp/0.0.0.0:16379", 0, "OK"),
        ("not_listening", "udp/15432", 0, "OK"),
    ]
    mine = set((s["protocol"], s["address"], s["port"]) for s in result["sockets"])
    assert mine == ss_listening(host)
    assert ("tcp", "0.0.0.0", 15432) in mine and ("udp", "127.0.0.1", 15353) in mine


def test_check_mode_reports_the_same(host):
    args = {"units": [{"name": ACTIVE}, {"name": FAILED}], "listening": ["127.0.0.1:16379"], "fail_on": "never"}
    normal = module_result(args)
    dry = module_result(args, check=True)
    assert dry["changed"] is False
    assert [(c["name"], c["target"], c["status"]) for c in dry["checks"]] == \
        [(c["name"], c["target"], c["status"]) for c in normal["checks"]]
    assert show(host, FAILED, "ActiveState") == "failed"


def test_bad_unit_name_names_the_parameter(host):
    result = module_result({"units": [{"name": ACTIVE}, {"name": "bad name;reboot"}]})
    assert result["failed"] is True
    assert result["msg"].startswith("units[1].name: ")
    assert "checks" not in result
