# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""container_check run through Ansible against real containers on this machine's Docker engine.

The containers come from the locally built Debian image (tools/build-image.sh, no registry), carry
a project label unique to the run and are removed at the end whatever happens.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid

import docker
import pytest

from .harness import REPO

pytestmark = pytest.mark.containers

MODULE = 'fleetops.runbook.container_check'
PROJECT_LABEL = 'com.docker.compose.project'
SERVICE_LABEL = 'com.docker.compose.service'
# A hang guard for the poll loops, never an assertion on time.
SETTLE_GUARD = 180


def base_image():
    proc = subprocess.run([str(REPO / 'tools' / 'build-image.sh')], capture_output=True, text=True,
                          timeout=1800, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1]


def wait_for(client, name, ready, what):
    """Poll until ready(inspect) holds; fail naming what was awaited after the hang guard."""
    info = None
    stop = time.monotonic() + SETTLE_GUARD
    while time.monotonic() < stop:
        info = client.api.inspect_container(name)
        if ready(info):
            return info
        time.sleep(0.5)
    pytest.fail('%s never became %s: %r' % (name, what, info and info['State']))


@pytest.fixture(scope='module')
def bed():
    client = docker.from_env(timeout=60)
    image = base_image()
    project = 'fleetops-ct-%s' % uuid.uuid4().hex[:8]
    names = dict((role, '%s-%s' % (project, role))
                 for role in ('healthy', 'unhealthy', 'loop', 'oom', 'oomrestart', 'exit1', 'job'))
    second = 10 ** 9

    def run(role, command, **kwargs):
        labels = {PROJECT_LABEL: project, SERVICE_LABEL: role}
        client.containers.run(image, command, name=names[role], labels=labels, detach=True, **kwargs)

    def run_oom(role, command, ready, what, **kwargs):
        """A container killed for lack of memory, as the engine reports it. The engine loses the
        mark now and then (its OOM and exit events race); such a container is made again, at most
        three times, and the last one's state is what the tests compare the module with."""
        for attempt in range(3):
            if attempt:
                client.api.remove_container(names[role], force=True)
            run(role, command, mem_limit='16m', memswap_limit='16m', **kwargs)
            info = wait_for(client, names[role], ready, what)
            if info['State']['OOMKilled']:
                break
        return info

    try:
        run('healthy', ['sleep', 'infinity'], mem_limit='64m', nano_cpus=second // 2,
            healthcheck={'test': ['CMD', 'true'], 'interval': second, 'retries': 1})
        run('unhealthy', ['sleep', 'infinity'],
            healthcheck={'test': ['CMD', 'false'], 'interval': second, 'retries': 1})
        run('loop', ['sh', '-c', 'exit 3'], restart_policy={'Name': 'always'})
        run('exit1', ['sh', '-c', 'exit 1'])
        run('job', ['sh', '-c', 'exit 0'])
        wait_for(client, names['healthy'], lambda i: i['State'].get('Health', {}).get('Status') == 'healthy', 'healthy')
        wait_for(client, names['unhealthy'], lambda i: i['State'].get('Health', {}).get('Status') == 'unhealthy',
                 'unhealthy')
        wait_for(client, names['loop'], lambda i: i['RestartCount'] >= 4, 'restarted 4 times')
        oom = run_oom('oom', ['python3', '-c', "b = b'x' * (256 << 20)"], lambda i: i['State']['Status'] == 'exited',
                      'exited')
        # Killed for lack of memory on its first run, restarted by its policy, then running: its
        # writable layer keeps the mark file across the restart.
        oomrestart = run_oom('oomrestart', ['sh', '-c', 'if [ -e /ran ]; then exec sleep infinity; fi; touch /ran; '
                                            'exec python3 -c "b = b\'x\' * (256 << 20)"'],
                             lambda i: i['State']['Status'] == 'running' and i['RestartCount'] >= 1,
                             'running after a restart', restart_policy={'Name': 'on-failure'})
        wait_for(client, names['exit1'], lambda i: i['State']['Status'] == 'exited', 'exited')
        wait_for(client, names['job'], lambda i: i['State']['Status'] == 'exited', 'exited')
        yield {'client': client, 'project': project, 'names': names, 'absent': '%s-absent' % project,
               'oom_seen': oom['State']['OOMKilled'], 'oomrestart_seen': oomrestart['State']['OOMKilled']}
    finally:
        for name in names.values():
            try:
                client.api.remove_container(name, force=True)
            except docker.errors.NotFound:
                pass
        client.close()


def check(result, name, target):
    found = [c for c in result['checks'] if c['name'] == name and c['target'] == target]
    assert len(found) == 1, (name, target, result['checks'])
    return found[0]


def facts(result, name):
    found = [c for c in result['containers'] if c['name'] == name]
    assert len(found) == 1, (name, result['containers'])
    return found[0]


@pytest.fixture(scope='module')
def project_run(ansible, bed):
    return ansible.module(MODULE, {
        'project': bed['project'],
        'services': ['healthy', 'gone'],
        'containers': [bed['names']['healthy'], bed['absent']],
        'one_shot': ['job'],
        'fail_on': 'never',
    })


def test_overall(project_run, bed):
    result = project_run
    assert not result.get('failed'), result
    assert result['changed'] is False
    assert result['is_available'] is True
    assert result['status'] == 'CRITICAL'
    assert sorted(result['missing']) == sorted([bed['absent'], '%s/gone' % bed['project']])
    assert {c['name'] for c in result['containers']} == set(bed['names'].values())
    count = check(result, 'containers', bed['project'])
    assert (count['value'], count['status']) == (7, 'OK')
    assert result['docker']['api_version']
    assert result['summary'].startswith('CRITICAL: ')


def test_healthy_container(project_run, bed):
    name = bed['names']['healthy']
    assert check(project_run, 'state', name)['status'] == 'OK'
    health = check(project_run, 'health', name)
    assert (health['value'], health['status']) == ('healthy', 'OK')
    restarts = check(project_run, 'restarts', name)
    assert (restarts['value'], restarts['status']) == (0, 'OK')
    assert check(project_run, 'oom_killed', name)['value'] == 0
    uptime = check(project_run, 'uptime', name)
    assert uptime['value'] >= 0 and uptime['status'] == 'OK'
    cpu = check(project_run, 'cpu', name)
    assert (cpu['warning'], cpu['critical'], cpu['unit']) == ('70', '85', 'percent')
    memory = check(project_run, 'memory', name)
    assert (memory['warning'], memory['critical']) == ('80', '90')
    row = facts(project_run, name)
    assert row['cpu_limit'] == 0.5
    assert row['memory_limit'] == 64 * 1024 * 1024 and row['memory_limited'] is True
    assert 0 < row['memory_usage'] <= row['memory_limit']
    assert memory['value'] == pytest.approx(100.0 * row['memory_usage'] / row['memory_limit'], abs=0.01)
    assert cpu['value'] == pytest.approx(row['cpu_percent'] / 0.5, abs=0.02)
    assert (row['project'], row['service'], row['state'], row['exit_code']) == (bed['project'], 'healthy', 'running', None)
    assert "'memory %s'=" % name in project_run['perfdata']
    assert any('check="cpu",target="%s"' % name in line for line in project_run['metrics'])


def test_failing_healthcheck_is_critical(project_run, bed):
    health = check(project_run, 'health', bed['names']['unhealthy'])
    assert (health['value'], health['status']) == ('unhealthy', 'CRITICAL')


def test_restart_loop_is_critical(project_run, bed):
    name = bed['names']['loop']
    restarts = check(project_run, 'restarts', name)
    assert restarts['value'] >= 4 and restarts['status'] == 'CRITICAL'
    assert restarts['message'].startswith('container %s restarted' % name)
    row = facts(project_run, name)
    assert row['restart_policy'] == 'always'
    # Between two runs the loop is restarting; the instant of the check may catch a run.
    assert row['state'] in ('restarting', 'running', 'exited')


def test_oom_killed_is_critical(project_run, bed):
    name = bed['names']['oom']
    # The kernel here reports the OOM kill (cgroup v1 and v2 both do with Docker 20.10).
    assert bed['oom_seen'] is True
    oom = check(project_run, 'oom_killed', name)
    assert (oom['value'], oom['status']) == (1, 'CRITICAL')
    assert facts(project_run, name)['oom_killed'] is True
    exit_code = check(project_run, 'exit_code', name)
    assert (exit_code['value'], exit_code['status']) == (137, 'CRITICAL')
    assert check(project_run, 'state', name)['status'] == 'CRITICAL'


def test_restarted_after_oom_kill(project_run, bed):
    name = bed['names']['oomrestart']
    assert bed['oomrestart_seen'] is True
    assert check(project_run, 'state', name)['status'] == 'OK'
    restarts = check(project_run, 'restarts', name)
    assert (restarts['value'], restarts['status']) == (1, 'WARNING')
    # The engine keeps the mark of the previous run's OOM kill while the container runs again.
    oom = check(project_run, 'oom_killed', name)
    assert (oom['value'], oom['status']) == (1, 'CRITICAL')
    assert 'and restarted at' in oom['message']


def test_old_restart_and_oom_kill_are_reported_ok(ansible, bed):
    """A window shorter than the time since the last start: counted, shown, not judged."""
    name = bed['names']['oomrestart']
    result = ansible.module(MODULE, {'containers': [name], 'restart_window': 0.001, 'stats': False})
    assert result['status'] == 'OK', result['summary']
    oom = check(result, 'oom_killed', name)
    assert oom['value'] == 1 and 'before its last start' in oom['message']
    restarts = check(result, 'restarts', name)
    assert restarts['value'] == 1 and 'the last more than' in restarts['message']


def test_exited_with_code_1_is_critical(project_run, bed):
    name = bed['names']['exit1']
    exit_code = check(project_run, 'exit_code', name)
    assert (exit_code['value'], exit_code['status']) == (1, 'CRITICAL')
    state = check(project_run, 'state', name)
    assert (state['value'], state['status']) == ('exited', 'CRITICAL')
    assert 'cpu' not in {c['name'] for c in project_run['checks'] if c['target'] == name}


def test_one_shot_job_that_exited_0_is_ok(project_run, bed):
    name = bed['names']['job']
    assert check(project_run, 'state', name)['status'] == 'OK'
    assert check(project_run, 'exit_code', name)['value'] == 0
    assert check(project_run, 'exit_code', name)['status'] == 'OK'


def test_absent_container_and_service_are_critical(project_run, bed):
    absent = check(project_run, 'state', bed['absent'])
    assert (absent['value'], absent['status']) == ('missing', 'CRITICAL')
    gone = check(project_run, 'state', '%s/gone' % bed['project'])
    assert gone['status'] == 'CRITICAL'


def test_names_only_in_check_mode_without_stats(ansible, bed):
    names = [bed['names']['healthy'], bed['names']['exit1'], bed['names']['healthy']]
    result = ansible.module(MODULE, {'containers': names, 'stats': False, 'fail_on': 'never',
                                     'thresholds': {'exit_code': {'critical': '0:1'}}}, check=True)
    assert result['is_available'] is True and result['status'] == 'CRITICAL'
    # Named twice, checked once.
    assert check(result, 'state', bed['names']['healthy'])['status'] == 'OK'
    assert [c['name'] for c in result['containers']] == sorted(set(names))
    exit_code = check(result, 'exit_code', bed['names']['exit1'])
    assert (exit_code['value'], exit_code['critical'], exit_code['status']) == (1, '0:1', 'OK')
    assert not [c for c in result['checks'] if c['name'] in ('cpu', 'memory')]
    assert 'containers' not in {c['name'] for c in result['checks']}


def test_project_without_containers_is_critical(ansible, bed):
    result = ansible.module(MODULE, {'project': bed['project'] + '-empty', 'fail_on': 'critical'})
    assert result.get('failed') is True
    count = check(result, 'containers', bed['project'] + '-empty')
    assert (count['value'], count['status']) == (0, 'CRITICAL')
    assert result['containers'] == []


class SilentSocket:
    """A unix socket that accepts connections and never answers."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(16)
        self.held = []
        self.thread = threading.Thread(target=self.accept, daemon=True)
        self.thread.start()

    def accept(self):
        while True:
            try:
                conn, dummy = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self):
        self.sock.close()
        for conn in self.held:
            conn.close()


def test_engine_unreachable_is_a_clear_status(ansible, tmp_path):
    silent = SilentSocket(str(tmp_path / 'silent.sock'))
    try:
        run = ansible.tasks([
            {'name': 'no socket', MODULE: {'containers': ['web'], 'docker_host': 'unix://%s' % (tmp_path / 'none.sock'),
                                           'fail_on': 'never'}},
            {'name': 'silent', MODULE: {'containers': ['web'], 'docker_host': 'unix://%s' % silent.path,
                                        'timeout': 1, 'fail_on': 'never'}},
        ], timeout=300)
    finally:
        silent.close()
    for task, words in (('no socket', 'no Docker socket at'), ('silent', 'did not answer')):
        result = run.task(task)
        assert not result.get('failed'), result
        assert result['is_available'] is False and result['status'] == 'CRITICAL', result
        engine = check(result, 'docker', result['docker']['host'])
        assert engine['status'] == 'CRITICAL' and words in engine['message'], engine
        assert 'Traceback' not in str(result)


class StallingProxy:
    """A unix socket in front of the real engine that passes everything through but never answers
    a stats request: the engine stays real, only its stats sample hangs."""

    def __init__(self, path, engine='/var/run/docker.sock'):
        self.path = path
        self.engine = engine
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(16)
        self.open = []
        self.stalled = 0
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, dummy = self.sock.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            upstream.connect(self.engine)
            self.open += [client, upstream]
            threading.Thread(target=self.pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self.pipe, args=(upstream, client, False), daemon=True).start()

    def pipe(self, source, dest, requests):
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                return
            if not data:
                return
            if requests and b'/stats?' in data:
                # Hold the connection open and silent, like an engine stuck on the sample.
                self.stalled += 1
                return
            try:
                dest.sendall(data)
            except OSError:
                return

    def close(self):
        self.sock.close()
        for conn in self.open:
            conn.close()


def test_stats_sample_that_never_comes_is_unknown(ansible, bed, tmp_path):
    proxy = StallingProxy(str(tmp_path / 'stall.sock'))
    name = bed['names']['healthy']
    try:
        result = ansible.module(MODULE, {'containers': [name], 'docker_host': 'unix://%s' % proxy.path,
                                         'timeout': 3, 'fail_on': 'never'}, timeout=300)
    finally:
        proxy.close()
    assert proxy.stalled >= 1
    assert result['is_available'] is True and result['status'] == 'UNKNOWN', result
    assert check(result, 'state', name)['status'] == 'OK'
    assert check(result, 'health', name)['value'] == 'healthy'
    for name_ in ('cpu', 'memory'):
        sample = check(result, name_, name)
        assert sample['status'] == 'UNKNOWN' and sample['value'] is None
        assert 'no stats sample' in sample['message'], sample
    assert facts(result, name)['cpu_percent'] is None


def test_socket_without_permission(ansible, tmp_path):
    """A socket the module may not open. The tests run as root, which opens any socket, so the
    module runs under an interpreter wrapper that drops root's right to override permissions."""
    path = tmp_path / 'closed.sock'
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.listen(1)
    os.chmod(str(path), 0)
    python = tmp_path / 'python-without-dac-override'
    python.write_text('#!/bin/sh\nexec setpriv --bounding-set=-dac_override,-dac_read_search -- %s "$@"\n'
                      % sys.executable)
    python.chmod(0o755)
    try:
        result = ansible.module(MODULE, {'containers': ['web'], 'docker_host': 'unix://%s' % path, 'fail_on': 'never'},
                                play_vars={'ansible_python_interpreter': str(python)})
    finally:
        sock.close()
    assert result['is_available'] is False
    assert 'permission denied' in check(result, 'docker', 'unix://%s' % path)['message']


BAD_INPUT = [
    ({}, 'project, containers'),
    ({'project': 'bad name'}, 'project'),
    ({'containers': ['web', 'bad/name']}, 'containers[1]'),
    ({'services': ['api']}, 'services'),
    ({'containers': ['web'], 'timeout': 0}, 'timeout'),
    ({'containers': ['web'], 'restart_window': -1}, 'restart_window'),
    ({'containers': ['web'], 'docker_host': 'http://127.0.0.1:2375'}, 'docker_host'),
    ({'containers': ['web'], 'docker_host': 'tcp://127.0.0.1:99999'}, 'docker_host'),
    ({'containers': ['web'], 'thresholds': {'cpu': {'warning': 'lots'}}}, 'thresholds.cpu.warning'),
    ({'containers': ['web'], 'thresholds': {'disk': {'warning': 1}}}, 'thresholds'),
]


def test_bad_input_names_the_parameter(ansible):
    tasks = [{'name': 'bad %d' % index, MODULE: args, 'ignore_errors': True}
             for index, (args, dummy) in enumerate(BAD_INPUT)]
    run = ansible.tasks(tasks, timeout=300)
    for index, (args, param) in enumerate(BAD_INPUT):
        result = run.task('bad %d' % index)
        assert result.get('failed') is True, (args, result)
        assert result['msg'].startswith(param + ':') or result['msg'].startswith(param), (args, result['msg'])
        assert 'Traceback' not in result['msg'], (args, result)


def test_without_the_docker_sdk(ansible, tmp_path):
    """The SDK hidden from the module's Python: the error names the library, not a traceback."""
    hidden = tmp_path / 'hide' / 'docker'
    hidden.mkdir(parents=True)
    (hidden / '__init__.py').write_text("raise ImportError('docker hidden by the test')\n")
    run = ansible.tasks([{'name': 'no sdk', MODULE: {'containers': ['web']}, 'ignore_errors': True,
                          'environment': {'PYTHONPATH': str(hidden.parent)}}])
    result = run.task('no sdk')
    assert result.get('failed') is True
    assert 'Failed to import the required Python library (docker)' in result['msg'], result['msg']
