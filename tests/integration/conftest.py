# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared harness for integration tests: run real playbooks through ansible-playbook."""

from __future__ import annotations

import pytest

from . import slack_receiver
from .harness import AnsibleRunner

pytest_plugins = ['tests.integration.pg_fixtures']


@pytest.fixture(scope='session')
def ansible(tmp_path_factory):
    """Runs tasks, modules and playbooks through ansible-playbook on localhost."""
    return AnsibleRunner(tmp_path_factory.mktemp('ansible'))


@pytest.fixture(scope='module')
def receiver():
    """A local HTTP receiver on 127.0.0.1 that answers like a Slack incoming webhook."""
    server = slack_receiver.SlackReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def hook(receiver):
    """The receiver, with no recorded requests and no queued answers."""
    receiver.reset()
    return receiver
