# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The interval of systemd OnCalendar specs, which the backup objectives are computed from."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.fleetops.runbook.plugins.module_utils.schedule import ScheduleError, interval_seconds

pytestmark = pytest.mark.backup

H = 3600
D = 86400


@pytest.mark.parametrize('spec, seconds', [
    ('hourly', H),
    ('daily', D),
    ('weekly', 7 * D),
    ('monthly', 31 * D),
    ('*-*-* 03:00:00', D),
    ('*-*-* 02:00', D),
    ('*-*-* *:00:00', H),
    ('*-*-* *:15', H),
    ('*-*-* *:0/15:00', 15 * 60),
    ('*-*-* 00/6:30:00', 6 * H),
    ('*-*-* 02,14:00:00', 12 * H),
    ('*-*-* 02,08:00:00', 18 * H),
    ('Sun *-*-* 04:00:00', 7 * D),
    ('Sun 04:00', 7 * D),
    ('Mon..Fri *-*-* 03:00:00', 3 * D),
    ('Mon,Thu 01:00', 4 * D),
    ('*-*-01,15 05:00', 17 * D),
    ('*-*-* 08..18:00:00', 14 * H),
])
def test_interval(spec, seconds):
    assert interval_seconds(spec) == seconds


@pytest.mark.parametrize('spec', [
    '', '2025-*-* 03:00', '*-12-* 03:00', 'Funday 03:00', '*-*-* 25:00', '*-*-* 03:00 UTC',
    '*-*-* 03', 'Mon *-*-01 03:00', '*-*-* */0:00', 'Fri..Mon 03:00', None, 5,
])
def test_unsupported_specs_are_refused(spec):
    with pytest.raises(ScheduleError):
        interval_seconds(spec)
