# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugins built as Ansible builds them for a task, without a play: a task with its
arguments and check mode, a connection whose remote tmp is already set (none of these plugins
transfers files) and a templar that hands values back as they are."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import types

import pytest


@pytest.fixture
def make_action():
    def make(cls, args, check_mode=False, name='fleetops.runbook.test'):
        task = types.SimpleNamespace(args=dict(args), check_mode=check_mode, async_val=0, action=name)
        connection = types.SimpleNamespace(_shell=types.SimpleNamespace(tmpdir='/nonexistent'))
        templar = types.SimpleNamespace(template=lambda value: value)
        return cls(task, connection, None, None, templar)
    return make
