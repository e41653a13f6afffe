# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared harness for integration tests: run real playbooks through ansible-playbook."""

from __future__ import annotations

import pytest

from .harness import AnsibleRunner

pytest_plugins = ['integration.pg_fixtures']


@pytest.fixture(scope='session')
def ansible(tmp_path_factory):
    """Runs tasks, modules and playbooks through ansible-playbook on localhost."""
    return AnsibleRunner(tmp_path_factory.mktemp('ansible'))
