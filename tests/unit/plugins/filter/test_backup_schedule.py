# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""backup_schedule: the objectives a backup schedule meets."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.runbook.plugins.filter.backup_schedule import backup_schedule

pytestmark = pytest.mark.backup

H = 3600
D = 86400


def test_objective_follows_the_schedule():
    nightly = backup_schedule('*-*-* 03:00:00')
    assert nightly['interval_seconds'] == D and nightly['max_age_seconds'] == D + H
    assert nightly['met'] is True and nightly['target_seconds'] is None


def test_objective_says_plainly_when_the_rpo_cannot_be_met():
    nightly = backup_schedule('*-*-* 03:00:00', target='1h')
    assert nightly['met'] is False
    assert 'cannot meet the RPO of 60.0 min' in nightly['message']
    hourly = backup_schedule('hourly', grace='15m', target='1h')
    assert hourly['met'] is True and hourly['max_age_seconds'] == H + 15 * 60
    assert backup_schedule('*-*-* 00/2:00', target='1h')['met'] is False


def test_objective_errors_name_the_parameter():
    with pytest.raises(AnsibleFilterError, match='backup_schedule: the backup schedule:'):
        backup_schedule('every tuesday')
    with pytest.raises(AnsibleFilterError, match='grace'):
        backup_schedule('daily', grace='soon')
