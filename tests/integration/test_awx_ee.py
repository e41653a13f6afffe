# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The daily checks inside the execution environment, the way AWX runs a job: ansible-runner with
process isolation in the EE image (no pull), against a container host.

Runs when FLEETOPS_EE_IMAGE names a built EE image (make test-ee builds it and sets it)."""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import ansible_runner
import pytest
import yaml

from .test_daily_checks import NO_THRESHOLDS

IMAGE = os.environ.get('FLEETOPS_EE_IMAGE')
pytestmark = pytest.mark.skipif(not IMAGE, reason='FLEETOPS_EE_IMAGE is not set (make test-ee builds the EE)')


@pytest.fixture
def container_host():
    """A container of the locally built Debian image with psutil, reached from the EE over the Docker socket."""
    name = 'fleetops-ee-target-%s' % uuid.uuid4().hex[:8]
    image = subprocess.run(['tools/build-image.sh', '--packages', 'python3-psutil'], capture_output=True, text=True, check=True,
                           cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__)))).stdout.strip()
    subprocess.run(['docker', 'run', '-d', '--name', name, image, 'sleep', 'infinity'], check=True, capture_output=True)
    yield name
    subprocess.run(['docker', 'rm', '-f', name], check=False, capture_output=True)


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
