# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The execution environment: what tools/ee-deps.py stages for it, and the daily checks inside it
the way AWX runs a job (ansible-runner with process isolation in the EE image, no pull) against a
container host.

The image tests run when FLEETOPS_EE_IMAGE names a built EE image (make test-ee builds it and sets it)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import uuid

import ansible_runner
import pytest
import yaml

from .harness import REPO, ansible_env
from .test_daily_checks import NO_THRESHOLDS

pytestmark = pytest.mark.awx

IMAGE = os.environ.get('FLEETOPS_EE_IMAGE')
needs_image = pytest.mark.skipif(not IMAGE, reason='FLEETOPS_EE_IMAGE is not set (make test-ee builds the EE)')
EE_DEPS = REPO / 'tools' / 'ee-deps.py'
# galaxy.yml's dependencies and what they depend on (community.docker and community.general:
# community.library_inventory_filtering_v1).
CLOSURE = {'ansible.posix', 'community.crypto', 'community.docker', 'community.general',
           'community.library_inventory_filtering_v1', 'community.postgresql'}


def ee_deps(*args):
    return subprocess.run([sys.executable, str(EE_DEPS)] + list(args), env=ansible_env(), capture_output=True, text=True,
                          timeout=300, check=False)


def test_debian_packages_are_the_dpkg_lines_of_bindep():
    proc = ee_deps('debian-packages')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ['postgresql-client', 'openssh-client', 'ca-certificates']


def test_collections_staged_are_the_dependency_closure(tmp_path):
    proc = ee_deps('collections', str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert {line.split()[0] for line in proc.stdout.splitlines()} == CLOSURE
    staged = {'%s.%s' % (ns.name, c.name) for ns in (tmp_path / 'ansible_collections').iterdir() for c in ns.iterdir()}
    assert staged == CLOSURE
    general = tmp_path / 'ansible_collections' / 'community' / 'general'
    assert json.loads((general / 'MANIFEST.json').read_text())['collection_info']['name'] == 'general'
    assert not list(general.rglob('__pycache__'))


def test_a_dependency_out_of_range_is_refused(capsys):
    spec = importlib.util.spec_from_file_location('ee_deps', EE_DEPS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(SystemExit):
        module.dependency_closure({'community.general': '>=99.0.0'}, {'community.general': ('8.0.0', '/nowhere')},
                                  lambda version, wanted: False)
    assert 'community.general 8.0.0 is installed here, galaxy.yml asks for >=99.0.0' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        module.dependency_closure({'community.missing': '*'}, {}, lambda version, wanted: True)
    assert 'community.missing (asked for by galaxy.yml) is not installed here' in capsys.readouterr().err


@needs_image
def test_the_image_holds_ansible_core_and_the_staged_collections():
    proc = subprocess.run(['docker', 'run', '--rm', '--pull=never', IMAGE, 'ansible-galaxy', 'collection', 'list', '--format', 'json'],
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    found = {name for collections in json.loads(proc.stdout).values() for name in collections}
    assert found - {'ansible._protomatter'} == CLOSURE | {'fleetops.runbook'}
    proc = subprocess.run(['docker', 'run', '--rm', '--pull=never', IMAGE, 'python3', '-c',
                           'import importlib.metadata as m; print("\\n".join(d.metadata["Name"].lower() for d in m.distributions()))'],
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr
    distributions = set(proc.stdout.split())
    assert 'ansible-core' in distributions and 'ansible-runner' in distributions, distributions
    assert 'ansible' not in distributions


@pytest.fixture
def container_host():
    """A container of the locally built Debian image with psutil, reached from the EE over the Docker socket."""
    name = 'fleetops-ee-target-%s' % uuid.uuid4().hex[:8]
    image = subprocess.run(['tools/build-image.sh', '--packages', 'python3-psutil'], capture_output=True, text=True, check=True,
                           cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__)))).stdout.strip()
    subprocess.run(['docker', 'run', '-d', '--name', name, image, 'sleep', 'infinity'], check=True, capture_output=True)
    yield name
    subprocess.run(['docker', 'rm', '-f', name], check=False, capture_output=True)


@needs_image
def test_daily_checks_run_inside_the_execution_environment(tmp_path, container_host):
    private = tmp_path / 'runner'
    (private / 'inventory').mkdir(parents=True)
    (private / 'inventory' / 'hosts.yml').write_text(yaml.safe_dump({'all': {'hosts': {container_host: {
        'ansible_connection': 'community.docker.docker_api', 'ansible_python_interpreter': '/usr/bin/python3',
        'daily_checks_resource_thresholds': NO_THRESHOLDS}}}}))
    result = ansible_runner.run(
        private_data_dir=str(private), playbook='fleetops.runbook.daily_checks', ident='job', quiet=True,
        extravars={'daily_checks_enabled': ['resource'], 'daily_checks_report_dir': '/runner/artifacts/job/reports',
                   'daily_checks_fail_on': 'critical'},
        process_isolation=True, process_isolation_executable='docker', container_image=IMAGE,
        container_options=['--pull=never', '--user=0'],
        container_volume_mounts=['/var/run/docker.sock:/var/run/docker.sock'], timeout=1200)
    output = result.stdout.read()
    assert result.status == 'successful', output[-4000:]
    summary = [e for e in result.events if e['event'] == 'playbook_on_stats'][0]['event_data']['artifact_data']
    assert summary['daily_checks_summary']['hosts'] == 1
    report = json.loads((private / 'artifacts' / 'job' / 'reports' / 'daily_checks.json').read_text())
    assert report['hosts'][0]['host'] == container_host
    # resource_check ran in the container host (psutil there), reached from the EE.
    cell = report['hosts'][0]['results']['resource']
    assert cell['status'] == 'OK', cell
    assert any(c['name'] == 'memory' for c in cell['checks'])
