#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: resource_check
short_description: Check CPU, load, memory, swap, disk space and inodes of a host
version_added: 0.1.0
description:
  - Measures the resources an on-call engineer looks at first and judges each figure against
    warning and critical thresholds, in the status model every check of this collection speaks.
  - CPU usage, I/O wait and steal are sampled over O(cpu_interval); load averages are reported as
    they are and per core; memory usage is computed from the memory available to new programs;
    every real mounted filesystem is checked for space and inodes.
  - Reads only; it never changes the host.
requirements:
  - psutil on the managed host (Debian package C(python3-psutil), or C(pip install psutil))
extends_documentation_fragment:
  - fleetops.runbook.attributes
  - fleetops.runbook.status
options:
  checks:
    description:
      - Which groups of checks to run.
    type: list
    elements: str
    choices: [cpu, load, memory, swap, disk, inodes]
    default: [cpu, load, memory, swap, disk, inodes]
  cpu_interval:
    description:
      - Seconds over which CPU usage, I/O wait and steal are sampled.
      - The other measurements are taken while the sample runs, so the module takes about this
        long. The default keeps a fleet-wide run cheap; raise it (V(1) or more) for a steadier
        figure on hosts whose load is bursty. The load averages cover the longer view.
    type: float
    default: 0.1
  thresholds:
    description:
      - Warning and critical ranges per check, merged over the defaults.
      - Keys are C(cpu), C(iowait), C(steal) (percent of CPU time), C(load1), C(load5),
        C(load15) (load averages), C(load1_per_core), C(load5_per_core), C(load15_per_core),
        C(memory), C(swap), C(disk) and C(inodes) (percent used); each value is a mapping with
        C(warning) and/or C(critical).
      - "Defaults: cpu 70 / 85, memory 80 / 90, disk 85 / 95 (seed 000's normal, caution and
        danger bands, Miraikakaku; the other platforms' bands are in their inventories under
        C(inventory/platforms), in the variable C(fleetops_resource_thresholds) that the daily
        checks and the Prometheus rules of the monitoring_agent role both read); inodes as disk
        unless set; iowait 20 / 40; steal 10 / 25; swap 50 / 80;
        per-core load 2 / 4; raw load averages are reported without thresholds."
    type: dict
    default: {}
  mount_thresholds:
    description:
      - Thresholds for single mount points, overriding O(thresholds) for them.
      - A mapping of mount point to a mapping with C(disk) and/or C(inodes), each with
        C(warning) and/or C(critical).
    type: dict
    default: {}
  include_mounts:
    description:
      - Check only these mount points. Each must be a mounted filesystem.
      - When empty, every real mounted filesystem is checked.
    type: list
    elements: path
    default: []
  exclude_mounts:
    description:
      - Mount points not to check. Shell-style wildcards are allowed (V(/srv/scratch/*)).
      - The default leaves out the layers and volumes container runtimes mount; they repeat the
        usage of the filesystem below them, once per container. Give V([]) to check them too.
    type: list
    elements: str
    default: [/var/lib/docker/*, /var/lib/containers/*, /run/containerd/*, /run/docker/*,
              /var/lib/kubelet/*]
  include_fstypes:
    description:
      - Check only filesystems of these types (V(ext4), V(xfs)). When empty, every type but the
        pseudo filesystems.
    type: list
    elements: str
    default: []
  exclude_fstypes:
    description:
      - Filesystem types not to check, in addition to pseudo filesystems (proc, sysfs, cgroup,
        tmpfs, devtmpfs, squashfs and the like), which are never checked unless named in
        O(include_fstypes).
    type: list
    elements: str
    default: []
  top_processes:
    description:
      - Also return the N processes using the most CPU (over O(cpu_interval)) and the most
        memory. V(0) returns none.
    type: int
    default: 0
notes:
  - Filesystems mounted more than once (bind mounts) are checked once, at their shortest mount point.
  - A host without swap reports swap as 0% used; that is not an error.
seealso:
  - module: ansible.builtin.setup
'''

EXAMPLES = r'''
- name: Check the host with the default thresholds (seed 000's bands)
  fleetops.runbook.resource_check:
  register: resources

- name: Stricter disk thresholds for the database volume, never fail the task
  fleetops.runbook.resource_check:
    checks: [disk, inodes, memory]
    mount_thresholds:
      /var/lib/postgresql:
        disk:
          warning: 75
          critical: 90
    exclude_mounts:
      - /var/lib/docker/*
      - /srv/scratch
    fail_on: never
  register: resources

- name: Show the five busiest processes as well
  fleetops.runbook.resource_check:
    cpu_interval: 1
    top_processes: 5
  register: resources

- name: Alert only when a warning or worse is found
  ansible.builtin.debug:
    msg: "{{ resources.summary }}"
  when: resources.status != 'OK'
'''

RETURN = r'''
# Status keys: generated by tools/status-return.py from doc_fragments/status.py, do not edit.
status:
  description: The worst status of all checks.
  returned: always
  type: str
  sample: WARNING
checks:
  description: Every individual check.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the check.
      type: str
      sample: disk
    target:
      description: What the check looked at (a mount point, a database, a table), or null.
      type: str
      sample: /var
    value:
      description: The measured value, or null when it could not be measured.
      type: raw
      sample: 87.5
    unit:
      description: Unit of RV(checks[].value) (percent, seconds, milliseconds, bytes, count, ratio).
      type: str
      sample: percent
    warning:
      description: The warning range applied, or null.
      type: str
      sample: "85"
    critical:
      description: The critical range applied, or null.
      type: str
      sample: "95"
    status:
      description: OK, WARNING, CRITICAL or UNKNOWN.
      type: str
      sample: WARNING
    message:
      description: What was found, in words.
      type: str
      sample: disk /var is 87.5% (warning 85)
    labels:
      description: Extra labels of the check in RV(metrics), present only on checks that have some.
      type: dict
      sample: {database: app}
summary:
  description: One line for a human, worst findings first.
  returned: always
  type: str
  sample: "WARNING: disk /var is 87.5% (warning 85); 11 OK"
perfdata:
  description: The numeric checks as Nagios performance data.
  returned: always
  type: str
  sample: "cpu=12.5%;70;85;0;100 'disk /var'=87.5%;85;95;0;100"
metrics:
  description:
    - The checks as Prometheus text exposition lines, ready for the node exporter's textfile
      collector.
  returned: always
  type: list
  elements: str
  sample:
    - 'fleetops_check_status{source="resource_check",check="cpu"} 0'
# End of status keys.
cpu:
  description: CPU figures sampled over O(cpu_interval), in percent of all CPU time.
  returned: when C(cpu) is checked
  type: dict
  sample: {"percent": 12.5, "iowait": 0.4, "steal": 0.0, "cores": 4, "interval": 0.1}
load:
  description: Load averages, raw and divided by the number of cores.
  returned: when C(load) is checked
  type: dict
  sample: {"load1": 0.52, "load5": 0.4, "load15": 0.31, "cores": 4, "load1_per_core": 0.13}
memory:
  description: Memory and swap in bytes, and percent used.
  returned: when C(memory) or C(swap) is checked
  type: dict
  sample: {"total": 8254390272, "available": 5112303616, "percent": 38.1, "swap_total": 0,
           "swap_used": 0, "swap_percent": 0.0}
filesystems:
  description: Every filesystem checked.
  returned: when C(disk) or C(inodes) is checked
  type: list
  elements: dict
  sample:
    - {"mount": "/", "device": "/dev/vda1", "fstype": "ext4", "size": 105089261568,
       "used": 23000000000, "available": 76800000000, "percent": 23.0,
       "inodes_total": 6553600, "inodes_used": 400000, "inodes_percent": 6.1}
processes:
  description: The busiest processes by CPU and by memory.
  returned: when O(top_processes) is above 0
  type: dict
  sample: {"by_cpu": [{"pid": 812, "name": "postgres", "user": "postgres", "cpu_percent": 35.0,
           "memory_percent": 3.2, "rss": 268435456, "cmdline": "postgres: checkpointer"}],
           "by_memory": []}
'''

import fnmatch
import os
import time
import traceback

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.fleetops.runbook.plugins.module_utils.module import RunbookModule
from ansible_collections.fleetops.runbook.plugins.module_utils.resource import resource_thresholds
from ansible_collections.fleetops.runbook.plugins.module_utils.status import (
    CheckReport,
    parse_thresholds,
    finish,
    status_argument_spec,
)

try:
    import psutil
except ImportError:
    psutil = None
    PSUTIL_IMPORT_ERROR = traceback.format_exc()
else:
    PSUTIL_IMPORT_ERROR = None

CHECK_GROUPS = ['cpu', 'load', 'memory', 'swap', 'disk', 'inodes']


# Where container runtimes mount image layers and volumes: each repeats its backing filesystem.
CONTAINER_MOUNTS = ('/var/lib/docker/*', '/var/lib/containers/*', '/run/containerd/*',
                    '/run/docker/*', '/var/lib/kubelet/*')

# Filesystems that hold no user data, or whose usage is always 100% by design.
PSEUDO_FSTYPES = frozenset([
    'autofs', 'binfmt_misc', 'bpf', 'cgroup', 'cgroup2', 'configfs', 'debugfs', 'devpts',
    'devtmpfs', 'efivarfs', 'fusectl', 'fuse.gvfsd-fuse', 'fuse.lxcfs', 'fuse.portal',
    'hugetlbfs', 'iso9660', 'mqueue', 'nfsd', 'nsfs', 'proc', 'pstore', 'ramfs', 'rpc_pipefs',
    'securityfs', 'selinuxfs', 'squashfs', 'sysfs', 'tmpfs', 'tracefs', 'udf', 'rootfs',
])


def _percent(part, whole):
    return round(100.0 * part / whole, 2) if whole else 0.0


class CpuSampler:
    """CPU time shares between two snapshots, and per-process CPU for the top-N list."""

    def __init__(self, want_processes):
        self.started = time.monotonic()
        self.before = psutil.cpu_times()
        self.processes = {}
        if want_processes:
            for proc in psutil.process_iter(['pid']):
                try:
                    proc.cpu_percent(None)
                    self.processes[proc.pid] = proc
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    continue

    def wait(self, interval):
        remaining = interval - (time.monotonic() - self.started)
        if remaining > 0:
            time.sleep(remaining)

    def shares(self):
        after = psutil.cpu_times()
        deltas = dict((field, max(getattr(after, field) - getattr(self.before, field), 0.0))
                      for field in after._fields)
        total = sum(deltas.values())
        # guest time is already counted in user and nice.
        total -= deltas.get('guest', 0.0) + deltas.get('guest_nice', 0.0)
        if total <= 0:
            return None
        idle = deltas.get('idle', 0.0) + deltas.get('iowait', 0.0)
        return {
            'percent': _percent(total - idle, total),
            'iowait': _percent(deltas['iowait'], total) if 'iowait' in deltas else None,
            'steal': _percent(deltas['steal'], total) if 'steal' in deltas else None,
        }


class Filesystems:
    """The real mounted filesystems, chosen by mount point and type."""

    def __init__(self, params):
        self.include_mounts = [os.path.normpath(m) for m in params['include_mounts']]
        self.exclude_mounts = params['exclude_mounts']
        self.include_fstypes = set(params['include_fstypes'])
        self.exclude_fstypes = set(params['exclude_fstypes'])

    def _wanted_type(self, fstype):
        if self.include_fstypes:
            return fstype in self.include_fstypes
        return fstype not in PSEUDO_FSTYPES and fstype not in self.exclude_fstypes

    def _excluded(self, mount):
        return any(fnmatch.fnmatch(mount, pattern) for pattern in self.exclude_mounts)

    def select(self):
        """Returns (filesystems, error)."""
        partitions = psutil.disk_partitions(all=True)
        mounted = dict((p.mountpoint, p) for p in partitions)
        for mount in self.include_mounts:
            if mount not in mounted:
                return None, "include_mounts: '%s' is not a mounted filesystem" % mount
        chosen = []
        seen_devices = {}
        for part in sorted(partitions, key=lambda p: (len(p.mountpoint), p.mountpoint)):
            mount = part.mountpoint
            if self.include_mounts and mount not in self.include_mounts:
                continue
            if not self.include_mounts and not self._wanted_type(part.fstype):
                continue
            if self._excluded(mount) or not os.path.isdir(mount):
                continue
            try:
                st = os.statvfs(mount)
                dev = os.stat(mount).st_dev
            except OSError:
                continue
            if st.f_blocks == 0:
                continue
            if dev in seen_devices and not self.include_mounts:
                continue
            seen_devices[dev] = mount
            chosen.append((part, st))
        return chosen, None

    @staticmethod
    def describe(part, st):
        size = st.f_blocks * st.f_frsize
        free = st.f_bfree * st.f_frsize
        avail = st.f_bavail * st.f_frsize
        used = size - free
        fs = {
            'mount': part.mountpoint,
            'device': part.device,
            'fstype': part.fstype,
            'size': size,
            'used': used,
            'available': avail,
            # Like df: the share of the space a normal user can use that is taken.
            'percent': _percent(used, used + avail),
            'inodes_total': st.f_files,
            'inodes_used': st.f_files - st.f_ffree if st.f_files else None,
            'inodes_percent': _percent(st.f_files - st.f_ffree, st.f_files) if st.f_files else None,
        }
        return fs


class ResourceCheck:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.groups = set(self.params['checks'])
        self.report = CheckReport('resource_check')
        self.facts = {}

    def fail(self, msg):
        self.module.fail_json(msg=msg)

    def validate(self):
        params = self.params
        if params['cpu_interval'] is None or params['cpu_interval'] < 0:
            self.fail('cpu_interval: must be 0 or more seconds, got %s' % params['cpu_interval'])
        if params['cpu_interval'] > 60:
            self.fail('cpu_interval: at most 60 seconds, got %s' % params['cpu_interval'])
        if params['top_processes'] < 0:
            self.fail('top_processes: must be 0 or more, got %d' % params['top_processes'])
        given = dict(params['thresholds'] or {})
        try:
            self.thresholds = resource_thresholds(given, 'thresholds')
        except ValueError as exc:
            self.fail(str(exc))
        self.mount_thresholds = {}
        for mount, levels in (params['mount_thresholds'] or {}).items():
            param = 'mount_thresholds.%s' % mount
            if not isinstance(levels, dict):
                self.fail('%s: expected a mapping with disk and/or inodes' % param)
            base = {'disk': {}, 'inodes': {}}
            for name in ('disk', 'inodes'):
                for level in ('warning', 'critical'):
                    rng = getattr(self.thresholds[name], level)
                    base[name][level] = rng.text if rng else None
            inode_levels = dict(base['inodes'])
            if isinstance(levels.get('disk'), dict) and 'inodes' not in levels and 'inodes' not in given:
                inode_levels.update(levels['disk'])
            base['inodes'] = inode_levels
            try:
                self.mount_thresholds[os.path.normpath(mount)] = parse_thresholds(levels, base, param)
            except ValueError as exc:
                self.fail(str(exc))

    def run(self):
        self.validate()
        want_cpu = 'cpu' in self.groups
        top_n = self.params['top_processes']
        sampler = CpuSampler(top_n > 0) if (want_cpu or top_n) else None
        # Everything else is measured while the CPU sample runs.
        if 'load' in self.groups:
            self.check_load()
        if 'memory' in self.groups or 'swap' in self.groups:
            self.check_memory()
        if 'disk' in self.groups or 'inodes' in self.groups:
            self.check_filesystems()
        if sampler is not None:
            sampler.wait(self.params['cpu_interval'])
            if want_cpu:
                self.check_cpu(sampler)
            if top_n:
                self.facts['processes'] = self.top_processes(sampler, top_n)
        finish(self.module, self.report, **self.facts)

    def check_cpu(self, sampler):
        shares = sampler.shares()
        cores = psutil.cpu_count() or 1
        if shares is None:
            self.report.unknown('cpu', 'cpu: no CPU time passed during the sample; raise cpu_interval',
                                unit='percent')
            return
        self.facts['cpu'] = dict(shares, cores=cores, interval=self.params['cpu_interval'])
        self.report.add('cpu', shares['percent'], 'percent', self.thresholds['cpu'])
        for name in ('iowait', 'steal'):
            if shares[name] is not None:
                self.report.add(name, shares[name], 'percent', self.thresholds[name])

    def check_load(self):
        try:
            loads = os.getloadavg()
        except (AttributeError, OSError):
            loads = psutil.getloadavg()
        cores = psutil.cpu_count() or 1
        facts = {'cores': cores}
        for name, value in zip(('load1', 'load5', 'load15'), loads):
            facts[name] = round(value, 2)
            facts[name + '_per_core'] = round(value / cores, 3)
            self.report.add(name, round(value, 2), '', self.thresholds[name])
            self.report.add(name + '_per_core', round(value / cores, 3), '',
                            self.thresholds[name + '_per_core'])
        self.facts['load'] = facts

    def check_memory(self):
        mem = psutil.virtual_memory()
        swap = psutil.swap_memory()
        memory_percent = _percent(mem.total - mem.available, mem.total)
        swap_percent = _percent(swap.used, swap.total)
        self.facts['memory'] = {
            'total': mem.total,
            'available': mem.available,
            'percent': memory_percent,
            'swap_total': swap.total,
            'swap_used': swap.used,
            'swap_percent': swap_percent,
        }
        if 'memory' in self.groups:
            self.report.add('memory', memory_percent, 'percent', self.thresholds['memory'])
        if 'swap' in self.groups:
            if swap.total:
                self.report.add('swap', swap_percent, 'percent', self.thresholds['swap'])
            else:
                self.report.add('swap', 0.0, 'percent', self.thresholds['swap'],
                                message='swap: no swap configured')

    def check_filesystems(self):
        chosen, error = Filesystems(self.params).select()
        if error:
            self.fail(error)
        known = set(part.mountpoint for part, st in chosen)
        for mount in self.mount_thresholds:
            if mount not in known:
                self.fail("mount_thresholds: '%s' is not a checked mounted filesystem" % mount)
        filesystems = []
        for part, st in chosen:
            fs = Filesystems.describe(part, st)
            filesystems.append(fs)
            limits = self.mount_thresholds.get(part.mountpoint, self.thresholds)
            labels = {'fstype': part.fstype}
            if 'disk' in self.groups:
                self.report.add('disk', fs['percent'], 'percent', limits['disk'],
                                target=part.mountpoint, labels=labels)
            if 'inodes' in self.groups and fs['inodes_percent'] is not None:
                self.report.add('inodes', fs['inodes_percent'], 'percent', limits['inodes'],
                                target=part.mountpoint, labels=labels)
        if not filesystems:
            self.report.unknown('disk', 'disk: no filesystem matched the include and exclude options',
                                unit='percent')
        self.facts['filesystems'] = filesystems

    @staticmethod
    def top_processes(sampler, count):
        rows = []
        for pid, proc in sampler.processes.items():
            try:
                with proc.oneshot():
                    mem = proc.memory_info()
                    rows.append({
                        'pid': pid,
                        'name': proc.name(),
                        'user': proc.username(),
                        'cpu_percent': round(proc.cpu_percent(None), 1),
                        'memory_percent': round(proc.memory_percent(), 2),
                        'rss': mem.rss,
                        'cmdline': ' '.join(proc.cmdline())[:200],
                    })
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, KeyError):
                continue
        by_cpu = sorted(rows, key=lambda r: (-r['cpu_percent'], r['pid']))[:count]
        by_memory = sorted(rows, key=lambda r: (-r['rss'], r['pid']))[:count]
        return {'by_cpu': by_cpu, 'by_memory': by_memory}


def main():
    argument_spec = status_argument_spec(thresholds=True)
    argument_spec.update(
        checks=dict(type='list', elements='str', choices=CHECK_GROUPS, default=CHECK_GROUPS),
        cpu_interval=dict(type='float', default=0.1),
        mount_thresholds=dict(type='dict', default={}),
        include_mounts=dict(type='list', elements='path', default=[]),
        exclude_mounts=dict(type='list', elements='str', default=list(CONTAINER_MOUNTS)),
        include_fstypes=dict(type='list', elements='str', default=[]),
        exclude_fstypes=dict(type='list', elements='str', default=[]),
        top_processes=dict(type='int', default=0),
    )
    module = RunbookModule(argument_spec=argument_spec, supports_check_mode=True)
    if psutil is None:
        module.fail_json(msg=missing_required_lib('psutil'), exception=PSUTIL_IMPORT_ERROR)
    ResourceCheck(module).run()


if __name__ == '__main__':
    main()
