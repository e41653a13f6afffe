# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure parts of container_check: times, CPU and memory from a stats sample, states."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar

import pytest

from ansible_collections.fleetops.runbook.plugins.modules.container_check import (
    cpu_limit,
    cpu_percent,
    cpuset_count,
    describe,
    empty_sample,
    memory_usage,
    parse_docker_time,
    state_status,
    unreachable_reason,
)

pytestmark = pytest.mark.containers


def test_parse_docker_time():
    assert parse_docker_time('1970-01-01T00:01:40Z') == 100.0
    assert parse_docker_time('1970-01-01T00:01:40.250000000Z') == pytest.approx(100.25)
    assert parse_docker_time('1970-01-01T01:01:40+01:00') == 100.0
    expected = calendar.timegm((2026, 11, 30, 0, 38, 34, 0, 0, 0)) + 0.302933628
    assert parse_docker_time('2026-11-30T00:38:34.302933628Z') == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize('text', ['0001-01-01T00:00:00Z', '', None, 'yesterday', '2026-02-30T00:00:00Z'])
def test_parse_docker_time_never_or_unreadable(text):
    assert parse_docker_time(text) is None


@pytest.mark.parametrize('text,expected', [
    ('0-2,5', 4), ('3', 1), ('0-1,4-5', 4), ('', None), (None, None), ('2-1', None), ('a', None),
])
def test_cpuset_count(text, expected):
    assert cpuset_count(text) == expected


def test_cpu_limit_is_the_smallest_bound():
    assert cpu_limit({}, 8) == 8.0
    assert cpu_limit({'NanoCpus': 1500000000}, 8) == 1.5
    assert cpu_limit({'CpuQuota': 50000, 'CpuPeriod': 100000}, 8) == 0.5
    assert cpu_limit({'CpusetCpus': '0-1'}, 8) == 2.0
    assert cpu_limit({'NanoCpus': 4000000000, 'CpusetCpus': '0'}, 8) == 1.0
    assert cpu_limit({}, None) is None


def sample(total, pre_total, system, pre_system, online=2):
    return {'cpu_stats': {'cpu_usage': {'total_usage': total}, 'system_cpu_usage': system, 'online_cpus': online},
            'precpu_stats': {'cpu_usage': {'total_usage': pre_total}, 'system_cpu_usage': pre_system}}


def test_cpu_percent_like_docker_stats():
    # Half of the whole machine's time on two CPUs is one whole CPU: 100 as docker stats shows it.
    assert cpu_percent(sample(1500, 1000, 2000, 1000)) == pytest.approx(100.0)
    assert cpu_percent(sample(1100, 1000, 2000, 1000)) == pytest.approx(20.0)


def test_cpu_percent_falls_back_to_percpu_count():
    stats = sample(1500, 1000, 2000, 1000, online=0)
    stats['cpu_stats']['cpu_usage']['percpu_usage'] = [1, 2, 3, 4]
    assert cpu_percent(stats) == pytest.approx(200.0)


def test_cpu_percent_without_an_earlier_reading_is_unknown():
    assert cpu_percent(sample(1500, 0, 2000, 0)) is None
    assert cpu_percent({}) is None


def test_cpu_percent_never_negative():
    assert cpu_percent(sample(900, 1000, 2000, 1000)) == 0.0
    assert cpu_percent(sample(1500, 1000, 1000, 1000)) == 0.0


def test_memory_usage_subtracts_inactive_file_cache():
    v1 = {'memory_stats': {'usage': 1000, 'limit': 4000, 'stats': {'total_inactive_file': 300}}}
    assert memory_usage(v1) == (700, 4000)
    v2 = {'memory_stats': {'usage': 1000, 'limit': 4000, 'stats': {'inactive_file': 400}}}
    assert memory_usage(v2) == (600, 4000)
    # Docker keeps the usage when the cache figure is not below it.
    odd = {'memory_stats': {'usage': 1000, 'limit': 4000, 'stats': {'inactive_file': 1000}}}
    assert memory_usage(odd) == (1000, 4000)
    assert memory_usage({'memory_stats': {}}) is None


@pytest.mark.parametrize('state,one_shot,expected', [
    ('running', False, 'OK'), ('paused', False, 'WARNING'), ('restarting', False, 'CRITICAL'),
    ('exited', False, 'CRITICAL'), ('exited', True, 'OK'), ('dead', True, 'CRITICAL'),
    ('created', False, 'CRITICAL'), ('something-new', False, 'UNKNOWN'),
])
def test_state_status(state, one_shot, expected):
    assert state_status(state, one_shot) == expected


def inspected(status, started, **state):
    state.update(Status=status, StartedAt=started)
    return {'Id': 'abcdef0123456789', 'Name': '/web', 'State': state, 'RestartCount': 2,
            'Config': {'Image': 'img', 'Labels': {'com.docker.compose.project': 'shop'}},
            'HostConfig': {'RestartPolicy': {'Name': 'always'}, 'Memory': 0}}


def test_describe_running():
    facts = describe(inspected('running', '1970-01-01T00:01:40Z', Health={'Status': 'healthy'}), 160.0)
    assert facts['uptime'] == 60.0
    assert (facts['name'], facts['id'], facts['project'], facts['service']) == ('web', 'abcdef012345', 'shop', None)
    assert (facts['health'], facts['restart_count'], facts['restart_policy']) == ('healthy', 2, 'always')
    assert facts['exit_code'] is None and facts['memory_limited'] is False
    assert facts['started_at'] == '1970-01-01T00:01:40.000000+00:00'


def test_uptime_never_negative():
    # The engine's start time a little ahead of the clock read after it.
    assert describe(inspected('running', '1970-01-01T00:01:40.5Z'), 100.0)['uptime'] == 0.0


def test_describe_exited():
    facts = describe(inspected('exited', '0001-01-01T00:00:00Z', ExitCode=137, OOMKilled=True), 100.0)
    assert facts['uptime'] is None and facts['started_at'] is None
    assert (facts['exit_code'], facts['oom_killed'], facts['health']) == (137, True, 'none')


@pytest.mark.parametrize('text,words', [
    ("('Connection aborted.', PermissionError(13, 'Permission denied'))", 'permission denied on /run/d.sock'),
    ("('Connection aborted.', FileNotFoundError(2, 'No such file or directory'))", 'no Docker socket at /run/d.sock'),
    ("('Connection aborted.', ConnectionRefusedError(111, 'Connection refused'))", 'refuses connections'),
    ("UnixHTTPConnectionPool(host='localhost', port=None): Read timed out. (read timeout=1)", 'did not answer'),
])
def test_unreachable_reason(text, words):
    reason = unreachable_reason('unix:///run/d.sock', Exception(text))
    assert reason.startswith('docker_host: ') and words in reason


def test_empty_sample():
    stopped = {'read': '0001-01-01T00:00:00Z', 'memory_stats': {}, 'cpu_stats': {}}
    assert empty_sample(stopped)
    live = {'read': '2026-11-30T00:00:01.5Z', 'memory_stats': {'usage': 1, 'limit': 2}}
    assert not empty_sample(live)
