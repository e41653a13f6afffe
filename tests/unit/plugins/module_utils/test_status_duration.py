# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Durations given as parameters (status.parse_duration)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.fleetops.runbook.plugins.module_utils.status import ParameterError, parse_duration

pytestmark = pytest.mark.backup


@pytest.mark.parametrize('value, seconds', [(3600, 3600), ('90m', 5400), ('1h', 3600),
                                            ('2d', 172800), ('45', 45), ('1.5h', 5400)])
def test_parse_duration(value, seconds):
    assert parse_duration(value, 'max_age') == seconds


@pytest.mark.parametrize('value', ['soon', '-1h', '0', True, '1y'])
def test_parse_duration_rejects(value):
    with pytest.raises(ParameterError, match='max_age'):
        parse_duration(value, 'max_age')
