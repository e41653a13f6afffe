"""postgres_backup role: the timer, a real backup run with its verification, a corrupted dump."""

import json

import pytest

SERVICE = "fleetops-pg-backup.service"
TIMER = "fleetops-pg-backup.timer"
BACKUP_DIR = "/var/backups/postgresql"
CONFIG = "/etc/fleetops/postgres_backup.json"
# A pg_dump that writes its dump and then flips one byte among the data blocks, so the run
# itself produces the newest backup as a corrupted one (with a sidecar that matches it).
CORRUPT_BIN = "/usr/local/lib/molecule-corrupt-bin"
CORRUPTING_PG_DUMP = r"""#!/usr/bin/python3
import subprocess
import sys

args = sys.argv[1:]
proc = subprocess.run(['/usr/lib/postgresql/15/bin/pg_dump'] + args, check=False)
if proc.returncode:
    sys.exit(proc.returncode)
path = args[args.index('-f') + 1]
with open(path, 'r+b') as handle:
    handle.seek(0, 2)
    offset = handle.tell() * 3 // 4
    handle.seek(offset)
    byte = handle.read(1)
    handle.seek(offset)
    handle.write(bytes([byte[0] ^ 0xFF]))
"""


def unit_property(host, unit, name):
    return host.check_output("systemctl show -p %s --value %s" % (name, unit))


def run_log(host):
    """What the service's last run printed to the journal."""
    invocation = unit_property(host, SERVICE, "InvocationID")
    assert invocation
    return host.check_output("journalctl -o cat _SYSTEMD_INVOCATION_ID=%s" % invocation)


def newest(host, pattern):
    out = host.check_output("ls -1 %s/%s 2>/dev/null | sort | tail -n 1 || true" % (
        BACKUP_DIR, pattern))
    assert out, "no backup matches %s" % pattern
    return out


def psql(host, database, sql):
    return host.check_output("runuser -u postgres -- psql -X -A -t -d %s -c %s" % (
        database, json.dumps(sql)))


@pytest.fixture(scope="module")
def backup_run(host):
    """Start the service the timer runs (a oneshot: systemctl returns when the run ended)."""
    result = host.run("systemctl start %s" % SERVICE)
    return {
        "rc": result.rc,
        "stderr": result.stderr,
        "dump": newest(host, "shop_*.dump"),
        "log": run_log(host),
    }


def test_timer_enabled_and_active_daily_at_three(host):
    timer = host.service(TIMER)
    assert timer.is_enabled
    assert timer.is_running
    calendar = unit_property(host, TIMER, "TimersCalendar")
    assert "OnCalendar=*-*-* 03:00:00" in calendar
    assert "03:00:00" in host.check_output(
        "systemctl list-timers --all --no-legend %s" % TIMER).split(TIMER)[0]
    unit = host.file("/etc/systemd/system/%s" % TIMER)
    assert unit.mode == 0o644 and unit.user == "root"
    assert "OnCalendar=*-*-* 03:00:00" in unit.content_string


def test_units_of_sets_no_longer_configured_are_removed(host):
    assert not host.file("/etc/systemd/system/fleetops-pg-backup-old.timer").exists
    # a unit of the same name pattern that the role did not write is left alone
    assert host.file("/etc/systemd/system/fleetops-pg-backup-foreign.timer").exists


def test_service_run_succeeds(host, backup_run):
    assert backup_run["rc"] == 0, backup_run["stderr"]
    assert unit_property(host, SERVICE, "Result") == "success"
    assert unit_property(host, SERVICE, "ExecMainStatus") == "0"
    assert unit_property(host, SERVICE, "User") == "postgres"


def test_freshness_metric_written_by_the_post_step(host, backup_run):
    # the backups run as postgres, which cannot write node exporter's directory: the service's
    # post step writes the set's samples as root, from the run's own verification
    prom = host.file("/var/lib/prometheus/node-exporter/fleetops_backup.prom")
    assert prom.is_file and prom.user == "root" and prom.mode == 0o644
    verified = json.loads(host.file(BACKUP_DIR + "/last_verify.json").content_string)
    lines = prom.content_string.splitlines()
    assert 'fleetops_backup_max_age_seconds{set="default"} 90000' in lines
    assert 'fleetops_backup_last_success_timestamp_seconds{set="default"} %.3f' % verified["time"] in lines


def test_backup_directory_and_file_modes(host, backup_run):
    directory = host.file(BACKUP_DIR)
    assert directory.is_directory
    assert directory.mode == 0o700
    assert directory.user == "postgres" and directory.group == "postgres"
    dump = backup_run["dump"]
    for path in (dump, dump + ".sha256", dump + ".manifest.json",
                 newest(host, "postgres_*.dump"), newest(host, "config_*.tar.gz"),
                 BACKUP_DIR + "/last_verify.json"):
        item = host.file(path)
        assert item.is_file, path
        assert item.mode == 0o600, path
        assert item.user == "postgres", path
        assert item.size > 0, path


def test_sidecar_matches_the_dump(host, backup_run):
    dump = backup_run["dump"]
    sidecar = host.file(dump + ".sha256").content_string
    digest, name = sidecar.split()
    assert name == dump.rsplit("/", 1)[1]
    assert digest == host.check_output("sha256sum %s" % dump).split()[0]
    host.run_expect([0], "cd %s && sha256sum --check --strict %s.sha256" % (BACKUP_DIR, name))


def test_manifest_row_counts_equal_count_star(host, backup_run):
    dump = backup_run["dump"]
    manifest = json.loads(host.file(dump + ".manifest.json").content_string)
    assert manifest["database"] == "shop"
    assert manifest["format"] == "custom"
    assert manifest["server_version"].startswith("15.")
    assert manifest["size"] == host.file(dump).size
    assert manifest["sha256"] == host.file(dump + ".sha256").content_string.split()[0]
    assert sorted(manifest["tables"]) == ["public.customers", "public.orders"]
    for table, counted in manifest["tables"].items():
        assert int(counted) == int(psql(host, "shop", "SELECT count(*) FROM %s" % table)), table
    # the data prepare.yml wrote, so a count of zero on both sides cannot pass
    assert int(manifest["tables"]["public.customers"]) == 37
    assert int(manifest["tables"]["public.orders"]) == 20011


def test_verification_passed(host, backup_run):
    log = backup_run["log"]
    assert "verify %s: OK:" % backup_run["dump"] in log
    assert "backup complete:" in log
    assert "FAILED" not in log
    verified = json.loads(host.file(BACKUP_DIR + "/last_verify.json").content_string)
    assert verified["status"] == "OK"
    paths = {result["path"]: result["status"] for result in verified["results"]}
    assert paths[backup_run["dump"]] == "OK"
    assert set(paths.values()) == {"OK"}
    assert len(paths) == 3  # postgres, shop and the configuration archive


def test_corrupted_dump_fails_the_unit(host, backup_run):
    good = backup_run["dump"]
    original = host.file(CONFIG).content_string
    host.run_expect([0], "cp -p %s %s.saved" % (CONFIG, CONFIG))
    host.run_expect([0], "mkdir -p %s && ln -sf /usr/lib/postgresql/15/bin/psql %s/psql" % (
        CORRUPT_BIN, CORRUPT_BIN))
    host.run_expect([0], "cat > %s/pg_dump <<'EOF'\n%sEOF\nchmod 0755 %s/pg_dump" % (
        CORRUPT_BIN, CORRUPTING_PG_DUMP, CORRUPT_BIN))
    config = json.loads(original)
    config["bin_dir"] = CORRUPT_BIN
    # a later second: the corrupted dump is the newest backup of its database
    host.run_expect([0], "sleep 1.1")
    try:
        host.run_expect([0], "cat > %s <<'EOF'\n%s\nEOF" % (CONFIG, json.dumps(config)))
        result = host.run("systemctl start %s" % SERVICE)
        assert result.rc != 0
        assert unit_property(host, SERVICE, "Result") == "exit-code"
        assert unit_property(host, SERVICE, "ExecMainStatus") == "1"
        assert host.service(SERVICE).is_running is False
        corrupted = newest(host, "shop_*.dump")
        assert corrupted != good
        log = run_log(host)
        assert "verify %s: CRITICAL" % corrupted in log
        # found by decompressing the table's data, not by the sidecar (which matches the file)
        assert "TABLE DATA public.orders" in log and "corrupt" in log
        assert "BACKUP FAILED" in log
        verified = json.loads(host.file(BACKUP_DIR + "/last_verify.json").content_string)
        assert verified["status"] == "CRITICAL"
        # retention skipped: the last good backup survives the failed run
        assert host.file(good).is_file
        assert host.file(good + ".manifest.json").is_file
    finally:
        host.run_expect([0], "cp -p %s.saved %s && rm %s.saved" % (CONFIG, CONFIG, CONFIG))
        host.run_expect([0], "rm -rf %s && systemctl reset-failed %s" % (CORRUPT_BIN, SERVICE))
