#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: container_check
short_description: Check the containers of a compose project or a list of names on a Docker engine
version_added: 0.2.0
description:
  - Asks the Docker engine of the managed host, through the Docker SDK for Python, about the
    containers of a compose project (found by their C(com.docker.compose.project) label, so no
    compose file is needed) and about containers named in O(containers), and judges each in the
    status model every check of this collection speaks.
  - "For every container: its state (V(running) is OK; V(paused) a warning; V(restarting),
    V(exited), V(created), V(dead) and V(removing) are critical, except V(exited) for the
    O(one_shot) containers, whose exit code decides), its health (V(healthy) and V(none), that is
    no healthcheck, are OK, V(starting) a warning, V(unhealthy) critical), its restart count, whether
    the kernel killed it for lack of memory (OOM), the exit code of an exited container and the
    uptime of a running one (from C(State.StartedAt), never negative)."
  - "For every running container, CPU and memory from one stats sample of the engine (the
    C(stream=false) sample that C(docker stats --no-stream) shows): CPU from the differences
    between the sample's C(cpu_stats) and C(precpu_stats), as C(docker stats) computes it, then
    divided by the CPUs the container may use; memory as C(docker stats) counts it, the usage less
    the inactive page cache (C(total_inactive_file) on cgroup v1, C(inactive_file) on cgroup v2),
    in percent of the container's memory limit (of the host's memory when it has none)."
  - A container named in O(containers) that does not exist, a service of O(services) without a
    container, and a project without any container are critical.
  - An engine that cannot be reached (not running, no socket, no permission on the socket, no
    answer within O(timeout)) is reported as a V(CRITICAL) check C(docker) with the reason and
    RV(is_available=false), not as a module failure.
  - Reads only; it never changes a container.
requirements:
  - docker (the Docker SDK for Python, C(pip install docker) or Debian's C(python3-docker)) on the managed host
extends_documentation_fragment:
  - fleetops.runbook.attributes
  - fleetops.runbook.status
options:
  project:
    description:
      - Name of a compose project. Every container with the label C(com.docker.compose.project)
        of this value is checked, running or not; one-off containers (C(docker compose run),
        label C(com.docker.compose.oneoff=True)) are left out.
      - At least one of O(project) and O(containers) is required.
    type: str
  services:
    description:
      - Services of O(project) that must each have at least one container (label
        C(com.docker.compose.service)); one without is critical. Needs O(project).
    type: list
    elements: str
    default: []
  containers:
    description:
      - Names (or IDs) of containers that must exist; each one missing is critical.
    type: list
    elements: str
    default: []
  one_shot:
    description:
      - Names of containers, or services of O(project), that run a job and exit (a migration, a
        seeder). Their V(exited) state is OK and their exit code decides.
    type: list
    elements: str
    default: []
  docker_host:
    description:
      - Where the Docker engine listens, V(unix:///path/to/docker.sock) or V(tcp://host:port)
        (plain TCP without TLS, so only for an engine on loopback).
      - Defaults to the E(DOCKER_HOST) environment variable, else V(unix:///var/run/docker.sock).
      - The user the module runs as must be allowed to read and write the socket (root, or a
        member of the C(docker) group).
    type: str
  timeout:
    description:
      - Seconds any one call to the Docker engine may take (the SDK client's timeout); more than
        0, at most 3600.
      - The containers are inspected and sampled concurrently, up to 32 at a time. Whatever the
        engine does, the module returns within about 4 times O(timeout) plus 5 seconds for up to
        32 containers, and 2 times O(timeout) more for every further 32. A container whose sample
        did not arrive in time has its CPU and memory V(UNKNOWN), with the reason.
      - The engine takes one to two seconds for a stats sample, so keep this at 3 or above.
    type: float
    default: 10
  stats:
    description:
      - Take a stats sample of every running container for CPU and memory. V(false) skips it
        (the run is then a few calls of the engine only).
    type: bool
    default: true
  restart_window:
    description:
      - Seconds in which a (re)start counts. The restart count of a container is judged only when
        its last start (C(State.StartedAt)) lies within this window; a container that restarted
        once long ago and has been running steadily since is reported with its count, as OK.
      - The default, one day, is the period of the daily checks. V(0) judges every count.
    type: float
    default: 86400
  thresholds:
    description:
      - Warning and critical ranges per check, merged over the defaults.
      - "C(cpu): percent of the CPUs the container may use (its C(--cpus) or CPU quota, else its
        C(--cpuset-cpus), else every online CPU); default warning V(70) and critical V(85), the
        normal/caution/danger bands of the runbooks' performance baseline (seed 000, also seed
        002's C(cpuUsage))."
      - "C(memory): percent of the memory limit; default V(80) / V(90) (seed 000)."
      - "C(restarts): restarts by the restart policy (C(RestartCount)) of a container last started
        within O(restart_window); default warning V(0) (any restart) and critical V(3) (more than
        three: a restart loop)."
      - "C(exit_code): exit code of an exited or dead container; default critical V(0), that is
        any code but 0."
      - "C(oom_killed): 1 when the kernel killed the container's last run for lack of memory;
        default critical V(0). The engine keeps this mark after a restart; for a running container
        it is judged only when the restart lies within O(restart_window), like C(restarts)."
      - "C(uptime): seconds since a running container started; no default (V(300:) warns about a
        container up for less than five minutes)."
    type: dict
    default: {}
notes:
  - The engine's own clock and the host's are the same clock on the managed host; an uptime that
    comes out negative (a clock step) is shown as 0.
  - C(docker stats) reports CPU with 100 for one whole CPU; that figure is returned as
    RV(containers[].cpu_percent), the judged one as RV(containers[].cpu_percent_of_limit).
seealso:
  - module: community.docker.docker_container_info
  - module: community.docker.docker_compose_v2
'''

EXAMPLES = r'''
- name: Check every container of the compose project "shop"
  fleetops.runbook.container_check:
    project: shop
    services: [api, worker, nginx, postgres, redis]
    one_shot: [migrate]
  register: containers

- name: Containers started by hand, with a stricter memory limit, never fail the task
  fleetops.runbook.container_check:
    containers: [forex_alert_postgres, forex_alert_redis]
    thresholds:
      memory:
        warning: 70
        critical: 85
      uptime:
        warning: "300:"
    fail_on: never
  register: containers

- name: Tell the on-call engineer
  ansible.builtin.debug:
    msg: "{{ containers.summary }}"
  when: containers.status != 'OK'
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
is_available:
  description: Whether the Docker engine answered.
  returned: always
  type: bool
  sample: true
docker:
  description: The engine asked, and what it said about itself.
  returned: always
  type: dict
  sample: {"host": "unix:///var/run/docker.sock", "server_version": "20.10.24", "api_version": "1.41"}
containers:
  description: Every container found, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the container.
      type: str
      sample: shop-api-1
    id:
      description: The first 12 characters of the container's ID.
      type: str
      sample: 3f2a9c0d1e4b
    image:
      description: The image the container was created from.
      type: str
      sample: shop/api:1.4
    project:
      description: Its compose project, or null.
      type: str
      sample: shop
    service:
      description: Its compose service, or null.
      type: str
      sample: api
    state:
      description: State as the engine says (running, paused, restarting, exited, created, dead, removing).
      type: str
      sample: running
    health:
      description: healthy, unhealthy, starting, or none when the container has no healthcheck.
      type: str
      sample: healthy
    restart_count:
      description: Restarts by the restart policy since the container was last started by hand.
      type: int
      sample: 0
    restart_policy:
      description: The restart policy (no, always, unless-stopped, on-failure).
      type: str
      sample: unless-stopped
    oom_killed:
      description: Whether the kernel killed the last run for lack of memory.
      type: bool
      sample: false
    exit_code:
      description: Exit code of the last run, for a container that is not running; else null.
      type: int
      sample: null
    started_at:
      description: When the container last started (ISO 8601, UTC), or null if it never did.
      type: str
      sample: "2026-11-29T06:00:01.123456+00:00"
    uptime:
      description: Seconds since a running container started (never negative); null when not running.
      type: float
      sample: 86400.5
    cpu_percent:
      description: CPU as C(docker stats) shows it (100 is one whole CPU); null without a sample.
      type: float
      sample: 12.5
    cpu_limit:
      description: CPUs the container may use.
      type: float
      sample: 2.0
    cpu_percent_of_limit:
      description: RV(containers[].cpu_percent) divided by RV(containers[].cpu_limit); the judged figure.
      type: float
      sample: 6.25
    memory_usage:
      description: Bytes used, less the inactive page cache, as C(docker stats) counts them.
      type: int
      sample: 104857600
    memory_limit:
      description: The container's memory limit in bytes (the host's memory when it has none).
      type: int
      sample: 2147483648
    memory_limited:
      description: Whether the container has a memory limit of its own.
      type: bool
      sample: true
    memory_percent:
      description: RV(containers[].memory_usage) in percent of RV(containers[].memory_limit).
      type: float
      sample: 4.88
missing:
  description: Expected containers (O(containers)) and services (V(project/service)) that were not found.
  returned: always
  type: list
  elements: str
  sample: [forex_alert_redis, shop/worker]
'''

import os
import re
import threading
import time
import traceback
from datetime import datetime, timedelta

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.fleetops.runbook.plugins.module_utils.module import RunbookModule
from ansible_collections.fleetops.runbook.plugins.module_utils.status import (
    CRITICAL,
    OK,
    UNKNOWN,
    WARNING,
    CheckReport,
    finish,
    finite_number,
    human_duration,
    parse_thresholds,
    status_argument_spec,
)

try:
    import docker
    import docker.errors
except ImportError:
    docker = None
    DOCKER_IMPORT_ERROR = traceback.format_exc()
else:
    DOCKER_IMPORT_ERROR = None

DEFAULT_HOST = 'unix:///var/run/docker.sock'
PROJECT_LABEL = 'com.docker.compose.project'
SERVICE_LABEL = 'com.docker.compose.service'
ONEOFF_LABEL = 'com.docker.compose.oneoff'
MAX_WORKERS = 32

DEFAULT_THRESHOLDS = {
    'cpu': {'warning': '70', 'critical': '85'},
    'memory': {'warning': '80', 'critical': '90'},
    'restarts': {'warning': '0', 'critical': '3'},
    'exit_code': {'critical': '0'},
    'oom_killed': {'critical': '0'},
    'uptime': {},
}

# Docker's own rule for container names; an ID is hexadecimal and matches it too.
_NAME_RE = re.compile(r'^[a-zA-Z0-9][a-zA-Z0-9_.-]*$')
_PROJECT_RE = re.compile(r'^[a-zA-Z0-9][a-zA-Z0-9_.-]*$')
_TIME_RE = re.compile(r'^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$')

STATE_STATUS = {
    'running': OK,
    'paused': WARNING,
    'restarting': CRITICAL,
    'exited': CRITICAL,
    'created': CRITICAL,
    'dead': CRITICAL,
    'removing': CRITICAL,
}

HEALTH_STATUS = {'healthy': OK, 'none': OK, 'starting': WARNING, 'unhealthy': CRITICAL}


def parse_docker_time(text):
    """Seconds since the epoch of an RFC 3339 time as the engine writes it (nanoseconds, Z), or
    None for the engine's zero time (never started) and for anything unreadable."""
    match = _TIME_RE.match(text or '')
    if not match:
        return None
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    if year <= 1:
        return None
    fraction = float('0.' + match.group(7)) if match.group(7) else 0.0
    zone = match.group(8)
    offset = 0
    if zone != 'Z':
        sign = -1 if zone[0] == '-' else 1
        offset = sign * (int(zone[1:3]) * 3600 + int(zone[4:6]) * 60)
    epoch = datetime(1970, 1, 1)
    try:
        moment = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    return (moment - epoch).total_seconds() + fraction - offset


def iso_time(seconds):
    if seconds is None:
        return None
    return (datetime(1970, 1, 1) + timedelta(seconds=seconds)).strftime('%Y-%m-%dT%H:%M:%S.%f') + '+00:00'


def cpuset_count(text):
    """Number of CPUs in a cpuset list such as '0-2,5', or None when it is empty or unreadable."""
    count = 0
    for part in (text or '').split(','):
        part = part.strip()
        if not part:
            continue
        bounds = part.split('-')
        try:
            if len(bounds) == 1:
                int(bounds[0])
                count += 1
            elif len(bounds) == 2 and int(bounds[1]) >= int(bounds[0]):
                count += int(bounds[1]) - int(bounds[0]) + 1
            else:
                return None
        except ValueError:
            return None
    return count or None


def online_cpus(stats):
    cpu = stats.get('cpu_stats') or {}
    count = cpu.get('online_cpus') or 0
    if not count:
        count = len((cpu.get('cpu_usage') or {}).get('percpu_usage') or [])
    return count or None


def cpu_limit(host_config, online):
    """CPUs a container may use: the smallest of its --cpus, its CPU quota, its cpuset and the
    online CPUs."""
    limits = []
    if online:
        limits.append(float(online))
    host_config = host_config or {}
    nano = host_config.get('NanoCpus') or 0
    if nano > 0:
        limits.append(nano / 1e9)
    quota = host_config.get('CpuQuota') or 0
    period = host_config.get('CpuPeriod') or 100000
    if quota > 0:
        limits.append(float(quota) / period)
    cpus = cpuset_count(host_config.get('CpusetCpus'))
    if cpus:
        limits.append(float(cpus))
    return min(limits) if limits else None


def cpu_percent(stats):
    """CPU of one stats sample as `docker stats` computes it (100 is one whole CPU), or None when
    the sample holds no earlier reading to compare with."""
    cpu = stats.get('cpu_stats') or {}
    pre = stats.get('precpu_stats') or {}
    if not pre.get('system_cpu_usage') or not cpu.get('system_cpu_usage'):
        return None
    cpu_delta = (cpu.get('cpu_usage') or {}).get('total_usage', 0) - (pre.get('cpu_usage') or {}).get('total_usage', 0)
    system_delta = cpu['system_cpu_usage'] - pre['system_cpu_usage']
    online = online_cpus(stats)
    if system_delta <= 0 or cpu_delta <= 0 or not online:
        return 0.0
    return 100.0 * cpu_delta / system_delta * online


def memory_usage(stats):
    """(used bytes, limit bytes) as `docker stats` counts them: the usage less the inactive page
    cache, which the kernel reclaims before it runs out. None without a usage figure."""
    memory = stats.get('memory_stats') or {}
    usage = memory.get('usage')
    limit = memory.get('limit')
    if usage is None or not limit:
        return None
    detail = memory.get('stats') or {}
    inactive = detail.get('total_inactive_file')
    if inactive is None:
        inactive = detail.get('inactive_file')
    if inactive is not None and inactive < usage:
        usage -= inactive
    return usage, limit


def empty_sample(stats):
    """Whether a stats sample holds nothing, as the engine answers for a container that stopped."""
    return parse_docker_time(stats.get('read')) is None or memory_usage(stats) is None


def state_status(state, one_shot):
    if state == 'exited' and one_shot:
        return OK
    return STATE_STATUS.get(state, UNKNOWN)


def describe(info, now):
    """The facts of one inspected container."""
    state = info.get('State') or {}
    config = info.get('Config') or {}
    labels = config.get('Labels') or {}
    host_config = info.get('HostConfig') or {}
    status = state.get('Status') or ('running' if state.get('Running') else 'exited')
    started = parse_docker_time(state.get('StartedAt'))
    running = status in ('running', 'paused')
    health = (state.get('Health') or {}).get('Status') or 'none'
    return {
        'name': (info.get('Name') or '').lstrip('/'),
        'id': (info.get('Id') or '')[:12],
        'image': config.get('Image'),
        'project': labels.get(PROJECT_LABEL),
        'service': labels.get(SERVICE_LABEL),
        'state': status,
        'health': health,
        'restart_count': int(info.get('RestartCount') or 0),
        'restart_policy': (host_config.get('RestartPolicy') or {}).get('Name') or 'no',
        'oom_killed': bool(state.get('OOMKilled')),
        'exit_code': None if running else state.get('ExitCode'),
        'started_at': iso_time(started),
        '_started': started,
        # A clock step must not make an uptime negative.
        'uptime': max(0.0, now - started) if running and started is not None else None,
        'cpu_percent': None,
        'cpu_limit': None,
        'cpu_percent_of_limit': None,
        'memory_usage': None,
        'memory_limit': None,
        'memory_limited': bool(host_config.get('Memory')),
        'memory_percent': None,
    }


def add_sample(facts, stats, host_config):
    percent = cpu_percent(stats)
    limit = cpu_limit(host_config, online_cpus(stats))
    facts['cpu_limit'] = limit
    if percent is not None:
        facts['cpu_percent'] = round(percent, 2)
        if limit:
            facts['cpu_percent_of_limit'] = round(percent / limit, 2)
    memory = memory_usage(stats)
    if memory is not None:
        facts['memory_usage'], facts['memory_limit'] = memory
        facts['memory_percent'] = round(100.0 * memory[0] / memory[1], 2)


def unreachable_reason(host, exc):
    """What to tell about an engine that could not be asked."""
    text = str(exc)
    path = host[len('unix://'):] if host.startswith('unix://') else None
    if 'Permission denied' in text:
        return ('docker_host: permission denied on %s; run the module as root (become) or as a member of '
                'the docker group' % (path or host))
    if path is not None and ('No such file' in text or 'FileNotFoundError' in text):
        return 'docker_host: no Docker socket at %s (is the Docker engine running?)' % path
    if 'Connection refused' in text:
        return 'docker_host: the Docker engine at %s refuses connections (is it running?)' % host
    if 'timed out' in text.lower() or 'timeout' in text.lower():
        return 'docker_host: the Docker engine at %s did not answer within the timeout' % host
    return 'docker_host: cannot talk to the Docker engine at %s: %s' % (host, text[:300])


class ContainerCheck:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.report = CheckReport('container_check')
        self.host = None
        self.client = None
        self.one_shot = set()

    def fail(self, msg):
        self.module.fail_json(msg=msg)

    def validate(self):
        params = self.params
        host = params['docker_host'] or os.environ.get('DOCKER_HOST') or DEFAULT_HOST
        param = 'docker_host' if params['docker_host'] else 'DOCKER_HOST'
        if host.startswith('unix://'):
            if not host[len('unix://'):].startswith('/'):
                self.fail('%s: a unix socket must be an absolute path (unix:///var/run/docker.sock), got %r' % (param, host))
        elif host.startswith('tcp://'):
            if not re.match(r'^tcp://(\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9.-]+):\d{1,5}/?$', host) \
                    or not 0 < int(host.rstrip('/').rsplit(':', 1)[1]) < 65536:
                self.fail('%s: expected tcp://HOST:PORT with a port from 1 to 65535, got %r' % (param, host))
        else:
            self.fail('%s: expected unix:///path/to/docker.sock or tcp://HOST:PORT, got %r' % (param, host))
        self.host = host
        try:
            self.timeout = finite_number(params['timeout'], 'timeout', above=0, maximum=3600)
            self.window = finite_number(params['restart_window'], 'restart_window', minimum=0)
            self.thresholds = parse_thresholds(params['thresholds'], DEFAULT_THRESHOLDS, 'thresholds')
        except ValueError as exc:
            self.fail(str(exc))
        project = params['project']
        if project is not None and (not _PROJECT_RE.match(project) or len(project) > 255):
            self.fail('project: %r is not a compose project name (letters, digits, _ . -)' % project)
        if params['services'] and project is None:
            self.fail('services: needs project')
        for option in ('containers', 'services', 'one_shot'):
            for index, name in enumerate(params[option]):
                if not isinstance(name, str) or not _NAME_RE.match(name.lstrip('/')) or len(name) > 255:
                    self.fail('%s[%d]: %r is not a container or service name (letters, digits, _ . -)' % (option, index, name))
        if project is None and not params['containers']:
            self.fail('project, containers: give a compose project or a list of container names')
        self.one_shot = set(name.lstrip('/') for name in params['one_shot'])

    def connect(self):
        """The engine's description, or None with the reason reported."""
        try:
            self.client = docker.APIClient(base_url=self.host, version='auto', timeout=self.timeout,
                                           max_pool_size=MAX_WORKERS)
            version = self.client.version()
        except Exception as exc:  # the SDK wraps requests, socket and HTTP errors differently per version
            self.report.add('docker', None, status=CRITICAL, target=self.host,
                            message=unreachable_reason(self.host, exc))
            return None
        return {'host': self.host, 'server_version': version.get('Version'),
                'api_version': version.get('ApiVersion')}

    def list_project(self):
        filters = {'label': ['%s=%s' % (PROJECT_LABEL, self.params['project'])]}
        found = self.client.containers(all=True, filters=filters)
        return [c['Id'] for c in found if (c.get('Labels') or {}).get(ONEOFF_LABEL, '').lower() != 'true']

    def fetch(self, key, results):
        """Inspect one container and sample it when it runs: results[key] = [info, stats, error],
        filled in as the answers come, so what arrived before a deadline is kept."""
        entry = results[key] = [None, None, None]
        try:
            info = self.client.inspect_container(key)
        except docker.errors.NotFound:
            entry[0] = False
            return
        except Exception as exc:  # a timeout or an engine error: reported for this container
            entry[2] = 'no answer from the Docker engine: %s' % str(exc)[:300]
            return
        entry[0] = info
        if not self.params['stats'] or (info.get('State') or {}).get('Status') != 'running':
            return
        try:
            stats = self.client.stats(info['Id'], stream=False)
        except Exception as exc:  # same: only CPU and memory are lost
            stats, entry[2] = None, 'no stats sample: %s' % str(exc)[:300]
        if stats is not None and not empty_sample(stats):
            entry[1] = stats
            return
        # A container that stopped between the inspection and the sample is judged as it is now.
        try:
            again = self.client.inspect_container(info['Id'])
        except Exception:  # keep what the first inspection said
            again = None
        if again is not None and (again.get('State') or {}).get('Status') != 'running':
            entry[0], entry[2] = again, None
        elif entry[2] is None:
            entry[2] = 'the stats sample came back empty'

    def gather(self, keys):
        results = {}
        pending = list(keys)
        lock = threading.Lock()

        def worker():
            while True:
                with lock:
                    if not pending:
                        return
                    key = pending.pop(0)
                self.fetch(key, results)

        # Daemon threads: one stuck past the deadline must not keep the module from returning.
        threads = [threading.Thread(target=worker) for dummy in range(min(MAX_WORKERS, len(keys)))]
        for thread in threads:
            thread.daemon = True
            thread.start()
        # A worker spends at most two calls (inspect, stats) per container: only a hung call reaches
        # this, never a host with many containers.
        rounds = (len(keys) + MAX_WORKERS - 1) // MAX_WORKERS
        deadline = time.monotonic() + 2 * self.timeout * rounds + 5
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return dict(results)

    def run(self):
        self.validate()
        engine = self.connect()
        if engine is None:
            finish(self.module, self.report, is_available=False, docker={'host': self.host},
                   containers=[], missing=[])
            return
        project = self.params['project']
        keys = []
        if project is not None:
            try:
                keys = self.list_project()
            except Exception as exc:  # same as connect: any engine failure is a finding
                self.report.add('docker', None, status=CRITICAL, target=self.host,
                                message=unreachable_reason(self.host, exc))
                finish(self.module, self.report, is_available=False, docker=engine, containers=[], missing=[])
                return
        names = [name.lstrip('/') for name in self.params['containers']]
        # Each container once, even when named twice or found through the project as well.
        results = self.gather(list(dict.fromkeys(keys + names)))
        now = time.time()
        seen = {}
        missing = []
        results = dict((key, tuple(entry)) for key, entry in results.items())
        for key in keys + names:
            info, stats, error = results.get(key) or (None, None, 'no answer from the Docker engine within the deadline')
            if not info:
                if info is False and key in names and key not in missing:
                    missing.append(key)
                    self.report.add('state', 'missing', status=CRITICAL, target=key,
                                    message='container %s: expected but not found' % key)
                elif info is None:
                    self.report.unknown('state', 'state %s: %s' % (
                        key, error or 'no answer from the Docker engine within the deadline'), target=key)
                continue
            if info['Id'] in seen:
                continue
            facts = describe(info, now)
            if stats is not None:
                add_sample(facts, stats, info.get('HostConfig'))
            elif error is None:
                error = 'no stats sample within the deadline'
            seen[info['Id']] = facts
            self.judge(facts, error)
        containers = sorted(seen.values(), key=lambda f: f['name'])
        if project is not None:
            self.check_project(project, containers, missing)
        for facts in containers:
            facts.pop('_started', None)
        finish(self.module, self.report, is_available=True, docker=engine, containers=containers,
               missing=missing)

    def check_project(self, project, containers, missing):
        mine = [f for f in containers if f['project'] == project]
        if not mine:
            self.report.add('containers', 0, 'count', status=CRITICAL, target=project,
                            message='project %s: no container has the label %s=%s' % (project, PROJECT_LABEL, project))
        else:
            self.report.add('containers', len(mine), 'count', target=project,
                            message='project %s: %d containers' % (project, len(mine)))
        services = set(f['service'] for f in mine)
        for service in self.params['services']:
            if service not in services:
                missing.append('%s/%s' % (project, service))
                self.report.add('state', 'missing', status=CRITICAL, target='%s/%s' % (project, service),
                                message='service %s of project %s: no container' % (service, project))

    def judge(self, facts, stats_error):
        name = facts['name']
        one_shot = name in self.one_shot or (facts['service'] is not None and facts['service'] in self.one_shot)
        state = facts['state']
        status = state_status(state, one_shot)
        message = 'container %s is %s' % (name, state)
        if state == 'exited' and one_shot:
            message += ' (one-shot)'
        self.report.add('state', state, status=status, target=name, message=message)
        if state in ('running', 'paused'):
            health = facts['health']
            self.report.add('health', health, status=HEALTH_STATUS.get(health, UNKNOWN), target=name,
                            message='health %s is %s' % (name, health if health != 'none' else 'none (no healthcheck)'))
        self.judge_restarts(facts)
        self.judge_oom(facts)
        if facts['exit_code'] is not None and state in ('exited', 'dead'):
            check = self.report.add('exit_code', facts['exit_code'], 'count', self.thresholds['exit_code'], target=name)
            check['message'] = 'container %s exited with code %s%s' % (
                name, facts['exit_code'], self.thresholds['exit_code'].note(check['status']))
        if facts['uptime'] is not None:
            uptime = self.report.add('uptime', facts['uptime'], 'seconds', self.thresholds['uptime'], target=name)
            uptime['message'] = 'uptime %s is %s%s' % (name, human_duration(facts['uptime']),
                                                       self.thresholds['uptime'].note(uptime['status']))
        if state == 'running' and self.params['stats']:
            if stats_error is None:
                self.judge_usage(facts)
            else:
                for check in ('cpu', 'memory'):
                    self.report.unknown(check, '%s %s: %s' % (check, name, stats_error), target=name, unit='percent')

    def recent(self, facts):
        """Whether the container's last start lies within restart_window."""
        started = facts['_started']
        return self.window == 0 or (started is not None and time.time() - started <= self.window)

    def judge_restarts(self, facts):
        name = facts['name']
        count = facts['restart_count']
        limits = self.thresholds['restarts']
        recent = self.recent(facts)
        check = self.report.add('restarts', count, 'count', limits, target=name,
                                status=None if recent or count == 0 else OK)
        check['message'] = 'container %s restarted %d times%s' % (name, count, limits.note(check['status']))
        if not recent and count:
            check['message'] += ', the last more than %s ago' % human_duration(self.window)

    def judge_oom(self, facts):
        """The engine keeps OOMKilled of the last exit after a restart, so for a running container it
        tells how its previous run ended: judged, like restarts, only when that was within the window."""
        name = facts['name']
        killed = facts['oom_killed']
        limits = self.thresholds['oom_killed']
        up = facts['state'] in ('running', 'paused')
        old = killed and up and not self.recent(facts)
        check = self.report.add('oom_killed', int(killed), 'count', limits, target=name, status=OK if old else None)
        if not killed:
            check['message'] = 'container %s was not killed for lack of memory' % name
        elif not up:
            check['message'] = 'container %s was killed for lack of memory (OOM)%s' % (name, limits.note(check['status']))
        elif not old:
            check['message'] = 'container %s was killed for lack of memory (OOM) and restarted at %s%s' % (
                name, facts['started_at'], limits.note(check['status']))
        else:
            check['message'] = 'container %s was killed for lack of memory before its last start, more than %s ago' % (
                name, human_duration(self.window))

    def judge_usage(self, facts):
        name = facts['name']
        if facts['cpu_percent_of_limit'] is None:
            self.report.unknown('cpu', 'cpu %s: the stats sample holds no earlier reading to compare with' % name,
                                target=name, unit='percent')
        else:
            self.report.add('cpu', facts['cpu_percent_of_limit'], 'percent', self.thresholds['cpu'], target=name)
        if facts['memory_percent'] is None:
            self.report.unknown('memory', 'memory %s: the stats sample holds no memory figure' % name,
                                target=name, unit='percent')
        else:
            self.report.add('memory', facts['memory_percent'], 'percent', self.thresholds['memory'], target=name)


def main():
    argument_spec = status_argument_spec(thresholds=True)
    argument_spec.update(
        project=dict(type='str'),
        services=dict(type='list', elements='str', default=[]),
        containers=dict(type='list', elements='str', default=[]),
        one_shot=dict(type='list', elements='str', default=[]),
        docker_host=dict(type='str'),
        timeout=dict(type='float', default=10),
        stats=dict(type='bool', default=True),
        restart_window=dict(type='float', default=86400),
    )
    module = RunbookModule(argument_spec=argument_spec, supports_check_mode=True)
    if docker is None:
        module.fail_json(msg=missing_required_lib('docker'), exception=DOCKER_IMPORT_ERROR)
    ContainerCheck(module).run()


if __name__ == '__main__':
    main()
