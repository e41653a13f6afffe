# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""resource_check run through Ansible on localhost, compared with what the kernel says."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

MODULE = 'fleetops.runbook.resource_check'


def by_name(result, name, target=None):
    found = [c for c in result['checks'] if c['name'] == name and c.get('target') == target]
    assert len(found) == 1, (name, target, result['checks'])
    return found[0]


@pytest.fixture(scope='module')
def default_run(ansible):
    return ansible.module(MODULE, {'fail_on': 'never'})


def test_default_run_shape(default_run):
    result = default_run
    assert not result.get('failed'), result
    assert result['changed'] is False
    assert result['status'] in ('OK', 'WARNING', 'CRITICAL')
    names = {c['name'] for c in result['checks']}
    assert {'cpu', 'load1', 'load5_per_core', 'memory', 'swap', 'disk', 'inodes'} <= names
    cpu = by_name(result, 'cpu')
    assert (cpu['warning'], cpu['critical']) == ('70', '85')
    memory = by_name(result, 'memory')
    assert (memory['warning'], memory['critical']) == ('80', '90')
    disk = by_name(result, 'disk', '/')
    assert (disk['warning'], disk['critical']) == ('85', '95')
    inodes = by_name(result, 'inodes', '/')
    assert (inodes['warning'], inodes['critical']) == ('85', '95')
    assert 0.0 <= cpu['value'] <= 100.0
    assert result['cpu']['interval'] == 0.1
    assert result['summary'].startswith(result['status'])
    assert "'disk /'=" in result['perfdata']
    assert 'fleetops_check_status{source="resource_check",check="memory"} ' in '\n'.join(result['metrics'])


def test_disk_and_inodes_match_statvfs_and_df(default_run):
    filesystems = {fs['mount']: fs for fs in default_run['filesystems']}
    assert '/' in filesystems
    for mount, fs in filesystems.items():
        st = os.statvfs(mount)
        size = st.f_blocks * st.f_frsize
        assert fs['size'] == size
        used = (st.f_blocks - st.f_bfree) * st.f_frsize
        avail = st.f_bavail * st.f_frsize
        # Other processes write while the test runs: allow 0.05 percentage points.
        assert fs['percent'] == pytest.approx(100.0 * used / (used + avail), abs=0.05)
        assert fs['inodes_total'] == st.f_files
        df = subprocess.run(['df', '-P', '-i', mount], capture_output=True, text=True, check=True)
        fields = df.stdout.splitlines()[-1].split()
        itotal, iused = int(fields[1]), int(fields[2])
        assert fs['inodes_total'] == itotal
        assert fs['inodes_used'] == pytest.approx(iused, abs=2000)
        assert fs['inodes_percent'] == pytest.approx(100.0 * iused / itotal, abs=0.05)
        assert by_name(default_run, 'disk', mount)['value'] == fs['percent']


def test_pseudo_filesystems_are_not_checked(default_run):
    fstypes = {fs['fstype'] for fs in default_run['filesystems']}
    assert not fstypes & {'proc', 'sysfs', 'tmpfs', 'devtmpfs', 'cgroup', 'cgroup2', 'devpts'}


def meminfo():
    values = {}
    with open('/proc/meminfo') as handle:
        for line in handle:
            key, rest = line.split(':', 1)
            values[key] = int(rest.split()[0]) * 1024
    return values


def test_memory_matches_proc_meminfo(default_run):
    info = meminfo()
    memory = default_run['memory']
    assert memory['total'] == info['MemTotal']
    expected = 100.0 * (info['MemTotal'] - info['MemAvailable']) / info['MemTotal']
    # Memory moves between the module's read and ours: within 2 percentage points.
    assert memory['percent'] == pytest.approx(expected, abs=2.0)
    assert memory['swap_total'] == info['SwapTotal']
    if info['SwapTotal'] == 0:
        swap = by_name(default_run, 'swap')
        assert swap['status'] == 'OK' and swap['message'] == 'swap: no swap configured'


def test_load_matches_proc_loadavg(default_run):
    with open('/proc/loadavg') as handle:
        load1 = float(handle.read().split()[0])
    assert default_run['load']['load1'] == pytest.approx(load1, abs=1.0)
    cores = os.cpu_count()
    assert default_run['load']['cores'] == cores
    assert default_run['load']['load1_per_core'] == pytest.approx(default_run['load']['load1'] / cores, abs=0.01)


def test_thresholds_turn_status_and_fail_on(ansible):
    args = {'checks': ['memory'], 'thresholds': {'memory': {'warning': '@0:100', 'critical': ''}}}
    warned = ansible.module(MODULE, dict(args))
    assert warned['status'] == 'WARNING' and not warned.get('failed')
    failed = ansible.module(MODULE, dict(args, fail_on='warning'))
    assert failed['failed'] is True
    assert failed['status'] == 'WARNING'
    assert failed['msg'] == failed['summary']
    assert failed['memory']['total'] > 0, 'a failed task still returns all data'
    critical = ansible.module(MODULE, {'checks': ['memory'], 'thresholds': {'memory': {'critical': '@0:100'}}})
    assert critical['failed'] is True and critical['status'] == 'CRITICAL'


def test_mount_thresholds_override_and_inodes_follow_disk(ansible):
    result = ansible.module(MODULE, {
        'checks': ['disk', 'inodes'], 'include_mounts': ['/'],
        'thresholds': {'disk': {'warning': '@0:100', 'critical': '@101:200'}},
        'mount_thresholds': {'/': {'disk': {'critical': '@0:100'}}}, 'fail_on': 'never'})
    assert [fs['mount'] for fs in result['filesystems']] == ['/']
    assert by_name(result, 'disk', '/')['status'] == 'CRITICAL'
    inodes = by_name(result, 'inodes', '/')
    assert (inodes['warning'], inodes['critical']) == ('@0:100', '@0:100')
    assert inodes['status'] == 'CRITICAL'


def test_exclude_everything_is_unknown(ansible):
    result = ansible.module(MODULE, {'checks': ['disk'], 'exclude_mounts': ['*'], 'fail_on': 'never'})
    assert result['status'] == 'UNKNOWN'
    assert 'no filesystem matched' in result['summary']


def test_check_mode_is_full(ansible):
    result = ansible.module(MODULE, {'checks': ['memory', 'disk']}, check=True)
    assert result['changed'] is False and result['status'] in ('OK', 'WARNING', 'CRITICAL')
    assert by_name(result, 'disk', '/')['value'] is not None


def test_top_processes_finds_a_busy_process(ansible):
    spinner = subprocess.Popen([sys.executable, '-c', 'while True: pass'])
    try:
        time.sleep(0.3)
        result = ansible.module(MODULE, {'checks': ['cpu'], 'cpu_interval': 1.0, 'top_processes': 3,
                                         'fail_on': 'never'})
        by_cpu = result['processes']['by_cpu']
        assert len(by_cpu) == 3
        # A spinning process leads the list, however busy the rest of the machine is.
        assert spinner.pid in [row['pid'] for row in by_cpu[:2]], by_cpu
        spinning = [row for row in by_cpu if row['pid'] == spinner.pid][0]
        assert spinning['cpu_percent'] >= 20
        assert by_cpu == sorted(by_cpu, key=lambda r: -r['cpu_percent'])
        assert result['cpu']['percent'] >= 10
        by_memory = result['processes']['by_memory']
        assert by_memory == sorted(by_memory, key=lambda r: -r['rss'])
    finally:
        spinner.kill()
        spinner.wait()


@pytest.mark.parametrize('args, message', [
    ({'thresholds': {'cpu': {'warning': '90:10'}}}, 'thresholds.cpu.warning: '),
    ({'thresholds': {'cpu': {'warning': 'lots'}}}, "thresholds.cpu.warning: 'lots' is not a valid range"),
    ({'thresholds': {'cpus': {'warning': 1}}}, "thresholds: unknown check 'cpus'"),
    ({'mount_thresholds': {'/': {'disk': {'critical': 'x'}}}}, 'mount_thresholds./.disk.critical: '),
    ({'cpu_interval': -1}, 'cpu_interval: must be 0 or more seconds'),
    ({'top_processes': -3}, 'top_processes: must be 0 or more'),
    ({'include_mounts': ['/no/such/mount']}, "include_mounts: '/no/such/mount' is not a mounted filesystem"),
    ({'mount_thresholds': {'/no/such/mount': {'disk': {'warning': 1}}}},
     "mount_thresholds: '/no/such/mount' is not a checked mounted filesystem"),
    ({'checks': ['cpu', 'gpu']}, 'checks'),
    # Named before Ansible logs the invocation, whose own error would not say where the NUL was.
    ({'include_mounts': ['/\x00tmp']}, 'include_mounts[0]: must not contain a NUL byte'),
    ({'mount_thresholds': {'/': {'disk': {'warning': '9\x000'}}}}, 'mount_thresholds./.disk.warning: must not contain a NUL byte'),
    ({'bogus_option': 1}, 'bogus_option'),
    ({'fail_on': 'sometimes'}, 'fail_on'),
])
def test_bad_input_names_the_parameter(ansible, args, message):
    result = ansible.module(MODULE, args)
    assert result['failed'] is True
    assert message in result['msg'], result['msg']
    assert 'Traceback' not in str(result) and 'MODULE FAILURE' not in result['msg']
    assert 'Traceback' not in str(result.get('exception', ''))


def test_missing_psutil_gives_a_clear_message(ansible, tmp_path):
    bare = tmp_path / 'bare'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(bare)], check=True)
    result = ansible.module(MODULE, play_vars={'ansible_python_interpreter': str(bare / 'bin' / 'python')})
    assert result['failed'] is True
    assert 'Failed to import the required Python library (psutil)' in result['msg']
    assert 'MODULE FAILURE' not in result['msg']


@pytest.fixture
def container_layer(tmp_path):
    """An overlay mount where container runtimes mount image layers (its own device number)."""
    layer = '/run/containerd/fleetops-test-%d' % os.getpid()
    for part in ('lower', 'upper', 'work'):
        (tmp_path / part).mkdir()
    os.makedirs(layer)
    subprocess.run(['mount', '-t', 'overlay', 'overlay', '-o',
                    'lowerdir={0}/lower,upperdir={0}/upper,workdir={0}/work'.format(tmp_path),
                    layer], check=True)
    yield layer
    subprocess.run(['umount', layer], check=True)
    os.rmdir(layer)


def test_container_layers_are_left_out_by_default(ansible, container_layer):
    result = ansible.module(MODULE, {'checks': ['disk'], 'fail_on': 'never'})
    mounts = [fs['mount'] for fs in result['filesystems']]
    assert '/' in mounts and container_layer not in mounts
    result = ansible.module(MODULE, {'checks': ['disk'], 'exclude_mounts': [], 'fail_on': 'never'})
    assert container_layer in [fs['mount'] for fs in result['filesystems']]
    assert by_name(result, 'disk', container_layer)['labels'] == {'fstype': 'overlay'}
