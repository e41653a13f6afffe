# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""resource_check's arithmetic, filesystem choice and judgement on given figures: psutil is a
stand-in that answers with fixed numbers, the filesystems are real directories
(tests/integration/test_resource_check.py runs the module through Ansible on this host)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import os
import types

import pytest

from ansible_collections.fleetops.runbook.plugins.modules import resource_check as rc

CpuTimes = collections.namedtuple('CpuTimes', 'user nice system idle iowait irq softirq steal guest guest_nice')
Partition = collections.namedtuple('Partition', 'device mountpoint fstype opts')
StatVfs = collections.namedtuple('StatVfs', 'f_blocks f_frsize f_bfree f_bavail f_files f_ffree')
Memory = collections.namedtuple('Memory', 'total available')
Swap = collections.namedtuple('Swap', 'total used')


class Failed(Exception):
    pass


class FakeModule:
    def __init__(self, **params):
        self.params = dict(checks=list(rc.CHECK_GROUPS), cpu_interval=0.1, thresholds={},
                           mount_thresholds={}, include_mounts=[], exclude_mounts=list(rc.CONTAINER_MOUNTS),
                           include_fstypes=[], exclude_fstypes=[], top_processes=0, fail_on='critical')
        self.params.update(params)

    def fail_json(self, **kwargs):
        raise Failed(kwargs['msg'])


def checker(**params):
    check = rc.ResourceCheck(FakeModule(**params))
    check.validate()
    return check


def fake_psutil(monkeypatch, **functions):
    fake = types.SimpleNamespace(cpu_count=lambda: 4, **functions)
    monkeypatch.setattr(rc, 'psutil', fake)
    return fake


def checks(check, name):
    return [c for c in check.report.checks if c['name'] == name]


@pytest.mark.parametrize('part, whole, percent', [(1, 3, 33.33), (0, 0, 0.0), (5, 5, 100.0), (2, 0, 0.0)])
def test_percent_rounds_and_never_divides_by_zero(part, whole, percent):
    assert rc._percent(part, whole) == percent


def test_cpu_shares_leave_guest_time_out_and_count_iowait_as_idle(monkeypatch):
    sampler = rc.CpuSampler.__new__(rc.CpuSampler)
    sampler.before = CpuTimes(100, 0, 50, 800, 10, 0, 0, 5, 20, 0)
    # In the sample: 30 user (of which 10 guest), 10 system, 40 idle, 10 iowait, 10 steal.
    fake_psutil(monkeypatch, cpu_times=lambda: CpuTimes(130, 0, 60, 840, 20, 0, 0, 15, 30, 0))
    # Total 110 - 10 guest = 100; busy = 100 - 40 idle - 10 iowait = 50.
    assert sampler.shares() == {'percent': 50.0, 'iowait': 10.0, 'steal': 10.0}


def test_cpu_shares_ignore_counters_that_went_backwards(monkeypatch):
    sampler = rc.CpuSampler.__new__(rc.CpuSampler)
    sampler.before = CpuTimes(100, 0, 50, 800, 10, 0, 0, 0, 0, 0)
    fake_psutil(monkeypatch, cpu_times=lambda: CpuTimes(150, 0, 50, 850, 5, 0, 0, 0, 0, 0))
    assert sampler.shares() == {'percent': 50.0, 'iowait': 0.0, 'steal': 0.0}


def test_no_cpu_time_passing_is_unknown_not_zero(monkeypatch):
    times = CpuTimes(100, 0, 50, 800, 10, 0, 0, 0, 0, 0)
    fake_psutil(monkeypatch, cpu_times=lambda: times)
    sampler = rc.CpuSampler.__new__(rc.CpuSampler)
    sampler.before = times
    assert sampler.shares() is None
    check = checker(checks=['cpu'])
    check.check_cpu(sampler)
    [cpu] = check.report.checks
    assert cpu['status'] == 'UNKNOWN' and 'raise cpu_interval' in cpu['message']


def test_filesystem_types_and_mounts_are_chosen_as_documented():
    default = rc.Filesystems(FakeModule().params)
    assert default._wanted_type('ext4') and default._wanted_type('xfs')
    assert not default._wanted_type('tmpfs') and not default._wanted_type('squashfs')
    assert default._excluded('/var/lib/docker/overlay2/abc/merged')
    assert not default._excluded('/var/lib/postgresql')
    chosen = rc.Filesystems(FakeModule(include_fstypes=['tmpfs'], exclude_fstypes=['ext4']).params)
    assert chosen._wanted_type('tmpfs') and not chosen._wanted_type('ext4')
    excluded = rc.Filesystems(FakeModule(exclude_fstypes=['nfs4']).params)
    assert not excluded._wanted_type('nfs4') and excluded._wanted_type('ext4')


def test_describe_reports_usage_like_df():
    part = Partition('/dev/sda1', '/data', 'ext4', 'rw')
    # 1000 blocks of 4 KiB: 300 free, of which 250 available to users (50 reserved for root).
    fs = rc.Filesystems.describe(part, StatVfs(1000, 4096, 300, 250, 100, 40))
    assert fs['size'] == 4096000 and fs['used'] == 700 * 4096 and fs['available'] == 250 * 4096
    assert fs['percent'] == round(100.0 * 700 / 950, 2)
    assert (fs['inodes_total'], fs['inodes_used'], fs['inodes_percent']) == (100, 60, 60.0)
    no_inodes = rc.Filesystems.describe(part, StatVfs(1000, 4096, 300, 250, 0, 0))
    assert no_inodes['inodes_used'] is None and no_inodes['inodes_percent'] is None


def mounts(monkeypatch, tmp_path, *specs):
    parts = []
    for name, fstype in specs:
        path = tmp_path / name
        path.mkdir(parents=True, exist_ok=True)
        parts.append(Partition('/dev/fake-' + name.replace('/', '-'), str(path), fstype, 'rw'))
    fake_psutil(monkeypatch, disk_partitions=lambda all=False: list(parts))
    return [str(tmp_path / name) for name, fstype in specs]


def test_one_device_mounted_twice_is_checked_once(monkeypatch, tmp_path):
    # Both directories are on tmp_path's filesystem: one device, as a bind mount would be.
    short, longer = mounts(monkeypatch, tmp_path, ('a', 'ext4'), ('a/bind', 'ext4'))
    chosen, error = rc.Filesystems(FakeModule().params).select()
    assert error is None
    assert [part.mountpoint for part, st in chosen] == [short]
    both, error = rc.Filesystems(FakeModule(include_mounts=[longer, short]).params).select()
    assert [part.mountpoint for part, st in both] == [short, longer]


def test_an_include_mount_that_is_not_mounted_is_refused(monkeypatch, tmp_path):
    mounts(monkeypatch, tmp_path, ('a', 'ext4'))
    chosen, error = rc.Filesystems(FakeModule(include_mounts=['/not/mounted/']).params).select()
    assert chosen is None
    assert error == "include_mounts: '/not/mounted' is not a mounted filesystem"


def test_filtering_every_filesystem_out_says_so(monkeypatch, tmp_path):
    mounts(monkeypatch, tmp_path, ('a', 'tmpfs'), ('b', 'ext4'))
    check = checker(checks=['disk', 'inodes'], exclude_fstypes=['ext4'])
    check.check_filesystems()
    assert check.facts['filesystems'] == []
    [disk] = check.report.checks
    assert (disk['name'], disk['status']) == ('disk', 'UNKNOWN')
    assert disk['message'] == 'disk: no filesystem matched the include and exclude options'
    assert check.report.status == 'UNKNOWN'


def test_mount_thresholds_apply_to_their_mount_only(monkeypatch, tmp_path):
    data, = mounts(monkeypatch, tmp_path, ('data', 'ext4'))
    check = checker(checks=['disk'], thresholds={'disk': {'warning': '99', 'critical': '100'}},
                    mount_thresholds={data + '/': {'disk': {'warning': '0', 'critical': '~:0'}}})
    check.check_filesystems()
    [disk] = checks(check, 'disk')
    assert disk['target'] == data and (disk['warning'], disk['critical']) == ('0', '~:0')
    assert disk['labels'] == {'fstype': 'ext4'}


def test_mount_thresholds_for_an_unchecked_mount_are_refused(monkeypatch, tmp_path):
    mounts(monkeypatch, tmp_path, ('data', 'ext4'))
    check = checker(checks=['disk'], mount_thresholds={'/srv': {'disk': {'warning': '50'}}})
    with pytest.raises(Failed, match=r"^mount_thresholds: '/srv' is not a checked mounted filesystem$"):
        check.check_filesystems()


def test_a_mounts_inodes_follow_its_disk_levels_unless_set():
    check = checker(mount_thresholds={'/data': {'disk': {'warning': '60', 'critical': '70'}},
                                      '/logs': {'disk': {'warning': '60'}, 'inodes': {'warning': '30'}}})
    data = check.mount_thresholds['/data']
    assert (data['inodes'].warning.text, data['inodes'].critical.text) == ('60', '70')
    logs = check.mount_thresholds['/logs']
    assert logs['inodes'].warning.text == '30' and logs['inodes'].critical.text == '95'
    # Inodes given for every mount: a mount's disk levels no longer set them.
    given = checker(thresholds={'inodes': {'warning': '40'}},
                    mount_thresholds={'/data': {'disk': {'warning': '60'}}})
    assert given.mount_thresholds['/data']['inodes'].warning.text == '40'


@pytest.mark.parametrize('params, message', [
    (dict(cpu_interval=-1), 'cpu_interval: must be 0 or more seconds, got -1'),
    (dict(cpu_interval=61), 'cpu_interval: at most 60 seconds, got 61'),
    (dict(top_processes=-2), 'top_processes: must be 0 or more, got -2'),
    (dict(mount_thresholds={'/data': 80}), 'mount_thresholds./data: expected a mapping with disk and/or inodes'),
    (dict(mount_thresholds={'/data': {'disk': {'warning': 'lots'}}}), 'mount_thresholds./data'),
    (dict(thresholds={'memory': {'critical': '9x'}}), 'thresholds'),
])
def test_bad_parameters_are_refused_by_name(params, message):
    with pytest.raises(Failed) as failed:
        checker(**params)
    assert str(failed.value).startswith(message)


def test_memory_is_judged_on_what_new_programs_can_get(monkeypatch):
    gib = 1024 ** 3
    fake_psutil(monkeypatch, virtual_memory=lambda: Memory(8 * gib, gib),
                swap_memory=lambda: Swap(0, 0))
    check = checker(checks=['memory', 'swap'])
    check.check_memory()
    [memory] = checks(check, 'memory')
    assert (memory['value'], memory['status']) == (87.5, 'WARNING')
    [swap] = checks(check, 'swap')
    assert (swap['value'], swap['status'], swap['message']) == (0.0, 'OK', 'swap: no swap configured')
    assert check.facts['memory']['swap_percent'] == 0.0


def test_memory_only_leaves_swap_unjudged(monkeypatch):
    fake_psutil(monkeypatch, virtual_memory=lambda: Memory(100, 95), swap_memory=lambda: Swap(100, 90))
    check = checker(checks=['memory'])
    check.check_memory()
    assert [c['name'] for c in check.report.checks] == ['memory']
    assert check.facts['memory']['swap_percent'] == 90.0


def test_load_is_judged_per_core(monkeypatch):
    fake_psutil(monkeypatch)
    monkeypatch.setattr(rc.os, 'getloadavg', lambda: (9.0, 4.0, 2.0))
    check = checker(checks=['load'])
    check.check_load()
    by_name = dict((c['name'], c) for c in check.report.checks)
    # Four cores: 9 / 4 = 2.25 per core is above the warning line of 2; raw loads have no thresholds.
    assert by_name['load1_per_core']['value'] == 2.25 and by_name['load1_per_core']['status'] == 'WARNING'
    assert by_name['load5_per_core']['status'] == 'OK'
    assert by_name['load1']['status'] == 'OK' and by_name['load1']['warning'] is None
    assert check.facts['load'] == {'cores': 4, 'load1': 9.0, 'load1_per_core': 2.25, 'load5': 4.0,
                                   'load5_per_core': 1.0, 'load15': 2.0, 'load15_per_core': 0.5}


def test_this_hosts_filesystems_are_real_directories():
    # The real psutil on this host: whatever is chosen exists and has blocks.
    if rc.psutil is None:
        pytest.skip('psutil is not installed')
    chosen, error = rc.Filesystems(FakeModule().params).select()
    assert error is None
    for part, st in chosen:
        assert os.path.isdir(part.mountpoint) and st.f_blocks > 0
        assert part.fstype not in rc.PSEUDO_FSTYPES
