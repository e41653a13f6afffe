# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run_command of the command the postgres_backup role installs (the modules pass Ansible's):
the module_utils that run client programs are tested with real processes through it."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import os

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))


@pytest.fixture(scope='session')
def run_command():
    spec = importlib.util.spec_from_file_location(
        'fleetops_pg_backup', os.path.join(ROOT, 'roles', 'postgres_backup', 'files', 'fleetops_pg_backup.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.run_command
