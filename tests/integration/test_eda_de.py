# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The decision environment (extensions/eda/decision-environment.yml) as EDA controller runs it.

make test-de builds the image with ansible-builder on the locally built Debian image and runs this
file with FLEETOPS_DE_IMAGE set; make test-integration leaves it out (it needs the image).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid

import pytest
import yaml

from .test_eda_rulebook import free_port, post

pytestmark = pytest.mark.awx

DE_IMAGE = os.environ.get('FLEETOPS_DE_IMAGE')
DE_TOKEN = 'de-test-token-0123456789abcdef'


def test_the_decision_environment_serves_the_rulebook(tmp_path):
    """ansible-rulebook of the DE image (its Java, the collection installed in it) serves the rulebook
    with its bearer token, on this machine's loopback as EDA controller would run the image."""
    if not DE_IMAGE:
        pytest.fail('FLEETOPS_DE_IMAGE is not set: run this test through make test-de, which builds the image')
    (tmp_path / 'token').write_text(DE_TOKEN + '\n')
    os.chmod(tmp_path / 'token', 0o600)
    (tmp_path / 'inventory.yml').write_text(yaml.safe_dump({'all': {'hosts': {'app1': {'ansible_connection': 'local'}}}}))
    port = free_port()
    (tmp_path / 'vars.yml').write_text(yaml.safe_dump({'fleetops_eda_port': port, 'fleetops_eda_token_file': '/eda/token'}))
    name = 'fleetops-de-test-%s' % uuid.uuid4().hex[:8]
    subprocess.run(['docker', 'run', '-d', '--name', name, '--pull=never', '--network=host', '--user=%d:0' % os.getuid(),
                    '-v', '%s:/eda' % tmp_path, DE_IMAGE, 'ansible-rulebook', '-i', '/eda/inventory.yml',
                    '-r', 'fleetops.runbook.incident_response', '--vars', '/eda/vars.yml'], check=True, capture_output=True)
    try:
        deadline = time.monotonic() + 300  # a hang guard only
        while True:
            state = subprocess.run(['docker', 'inspect', '-f', '{{.State.Running}}', name], capture_output=True, text=True, check=False)
            logs = subprocess.run(['docker', 'logs', name], capture_output=True, text=True, check=False)
            assert state.stdout.strip() == 'true', logs.stdout[-4000:] + logs.stderr[-4000:]
            try:
                socket.create_connection(('127.0.0.1', port), timeout=2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, 'hang guard: not listening\n' + logs.stderr[-4000:]
                time.sleep(1)
        document = {'version': '4', 'status': 'resolved', 'receiver': 'fleetops-incident-response', 'alerts': []}
        bed = {'url': 'http://127.0.0.1:%d' % port}
        assert post(bed, document, token=None) == (401, {'error': 'unauthorized'})
        assert post(bed, document, token='wrong') == (401, {'error': 'unauthorized'})
        status, answer = post(bed, document, token=DE_TOKEN)
        assert status == 202, answer
        assert answer['accepted'] == 0
    finally:
        subprocess.run(['docker', 'rm', '-f', name], check=False, capture_output=True)
