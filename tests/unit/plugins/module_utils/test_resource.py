# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host resource thresholds that resource_check judges by and the Prometheus rules alert at
(the alert_threshold filter over them: filter/test_alert_threshold.py)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.fleetops.runbook.plugins.module_utils.resource import (
    DEFAULT_THRESHOLDS,
    alert_bound,
    resource_thresholds,
)


def test_defaults_are_the_runbooks_bands():
    parsed = resource_thresholds({})
    assert set(parsed) == set(DEFAULT_THRESHOLDS)
    assert [parsed['cpu'].judge(v) for v in (70, 71, 86)] == ['OK', 'WARNING', 'CRITICAL']
    assert [parsed['memory'].judge(v) for v in (80, 81, 91)] == ['OK', 'WARNING', 'CRITICAL']
    assert [parsed['disk'].judge(v) for v in (85, 86, 96)] == ['OK', 'WARNING', 'CRITICAL']
    # Raw load averages are reported without thresholds.
    assert parsed['load1'].judge(1000) == 'OK'


def test_inodes_follow_disk_unless_given():
    parsed = resource_thresholds({'disk': {'warning': '70'}})
    assert (parsed['inodes'].warning.text, parsed['inodes'].critical.text) == ('70', '95')
    own = resource_thresholds({'disk': {'warning': '70'}, 'inodes': {'warning': '50'}})
    assert own['inodes'].warning.text == '50'


def test_the_defaults_are_not_changed_by_a_call():
    resource_thresholds({'disk': {'warning': '10'}})
    assert DEFAULT_THRESHOLDS['inodes'] == {} and DEFAULT_THRESHOLDS['disk'] == {'warning': '85', 'critical': '95'}


@pytest.mark.parametrize('given, message', [
    ({'memroy': {'warning': '80'}}, "inventory: unknown check 'memroy'"),
    ({'cpu': {'warning': 'high'}}, "inventory.cpu.warning: 'high' is not a valid range"),
])
def test_mistakes_name_the_parameter(given, message):
    with pytest.raises(ValueError) as failed:
        resource_thresholds(given, 'inventory')
    assert message in str(failed.value)


@pytest.mark.parametrize('given, name, level, bound', [
    ({}, 'cpu', 'warning', 70),
    ({}, 'disk', 'critical', 95),
    ({'memory': {'warning': '~:75.5'}}, 'memory', 'warning', 75.5),
    ({'disk': {'critical': '97'}}, 'inodes', 'critical', 97),
])
def test_alert_bound_is_the_value_a_rule_alerts_above(given, name, level, bound):
    assert alert_bound(given, name, level) == bound


@pytest.mark.parametrize('given, name, level, words', [
    ({}, 'cpu', 'info', "thresholds: level must be 'warning' or 'critical', got 'info'"),
    ({}, 'temperature', 'warning', "thresholds: unknown check 'temperature'; known checks: cpu, disk"),
    ({}, 'load1', 'warning', 'thresholds.load1.warning: is switched off'),
    ({'cpu': {'warning': '@10:20'}}, 'cpu', 'warning', "thresholds.cpu.warning: '@10:20' does not alert above a single value"),
    ({'cpu': {'warning': '5:'}}, 'cpu', 'warning', "does not alert above a single value"),
])
def test_alert_bound_refuses_what_a_rule_cannot_say(given, name, level, words):
    with pytest.raises(ValueError) as failed:
        alert_bound(given, name, level)
    assert words in str(failed.value)
