# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Prometheus rules alert where resource_check turns WARNING: one threshold variable for both."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.runbook.plugins.filter.alert_threshold import alert_threshold
from ansible_collections.fleetops.runbook.plugins.module_utils.resource import resource_thresholds


def test_unset_thresholds_give_resource_checks_defaults():
    assert [alert_threshold({}, name) for name in ('cpu', 'memory', 'disk')] == [70, 80, 85]
    assert [alert_threshold(None, name, 'critical') for name in ('cpu', 'memory', 'disk')] == [85, 90, 95]


def test_an_inventory_value_moves_both_the_rule_and_the_daily_status():
    given = {'disk': {'warning': 80, 'critical': '90'}}
    bound = alert_threshold(given, 'disk')
    assert bound == 80 and isinstance(bound, int)
    judged = resource_thresholds(given)['disk']
    # 82 % is above the rule's bound and WARNING in the daily check alike.
    assert judged.judge(82.0) == 'WARNING' and judged.judge(80.0) == 'OK'
    # Inodes follow disk, as resource_check does.
    assert resource_thresholds(given)['inodes'].judge(82.0) == 'WARNING'


def test_upper_bound_forms_and_fractions():
    assert alert_threshold({'cpu': {'warning': '~:72.5'}}, 'cpu') == 72.5
    assert alert_threshold({'memory': {'critical': 91}}, 'memory', 'critical') == 91


@pytest.mark.parametrize('given, name, level, words', [
    ({'disk': {'warning': '10:'}}, 'disk', 'warning', "fleetops_resource_thresholds.disk.warning: '10:' does not alert above"),
    ({'disk': {'warning': '@0:80'}}, 'disk', 'warning', 'needs N or ~:N'),
    ({'disk': {'warning': '5:80'}}, 'disk', 'warning', 'needs N or ~:N'),
    ({'cpu': {'warning': ''}}, 'cpu', 'warning', 'fleetops_resource_thresholds.cpu.warning: is switched off'),
    ({'disk': {'warning': 'eighty'}}, 'disk', 'warning', "fleetops_resource_thresholds.disk.warning: 'eighty' is not a valid range"),
    ({'dsk': {'warning': 80}}, 'disk', 'warning', "unknown check 'dsk'"),
    ({}, 'gpu', 'warning', "unknown check 'gpu'"),
    ({}, 'disk', 'severe', "level must be 'warning' or 'critical'"),
])
def test_thresholds_a_rule_cannot_use_are_refused_with_their_name(given, name, level, words):
    with pytest.raises(AnsibleFilterError) as err:
        alert_threshold(given, name, level)
    assert words in str(err.value)


def test_a_non_mapping_is_refused():
    with pytest.raises(AnsibleFilterError, match='must be a mapping'):
        alert_threshold(['disk'], 'disk')
