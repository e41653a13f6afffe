"""The test bed itself: systemd as PID 1, units enabled and fired inside the container."""

import time


def test_systemd_is_pid_1(host):
    assert host.file("/proc/1/comm").content_string.strip() == "systemd"


def test_debian_12(host):
    assert host.system_info.distribution == "debian"
    assert host.system_info.release.split(".")[0] == "12"


def test_timer_enabled_and_active(host):
    timer = host.service("fleetops-heartbeat.timer")
    assert timer.is_enabled
    assert timer.is_running


def test_timer_fired_the_service(host):
    stamp = host.file("/run/fleetops-heartbeat")
    for _ in range(20):
        if stamp.exists:
            break
        time.sleep(0.5)
    assert stamp.exists
    assert int(stamp.content_string.strip()) > 1_700_000_000
    result = host.run("systemctl show -p Result --value fleetops-heartbeat.service")
    assert result.stdout.strip() == "success"
