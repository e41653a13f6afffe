# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""merge_metrics: several check results into one Prometheus text document."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.runbook.plugins.filter.merge_metrics import FilterModule, merge_metrics_filter

HELP = '# HELP fleetops_check_value The measured value.'
TYPE = '# TYPE fleetops_check_value gauge'


def result(*samples):
    return {'status': 'OK', 'metrics': [HELP, TYPE] + list(samples)}


def test_each_metric_keeps_one_help_and_type_line():
    a = 'fleetops_check_value{check="memory",source="resource_check"} 41.5'
    b = 'fleetops_check_value{check="connections",source="pg_health"} 12'
    lines = merge_metrics_filter([result(a), result(b)])
    assert lines.count(HELP) == 1 and lines.count(TYPE) == 1
    assert lines.index(HELP) < lines.index(TYPE) < lines.index(a)
    assert a in lines and b in lines


def test_results_without_metrics_are_left_out_and_repeats_written_once():
    a = 'fleetops_check_value{check="memory",source="resource_check"} 41.5'
    skipped = {'skipped': True, 'changed': False}
    failed = {'failed': True, 'msg': 'unreachable'}
    lines = merge_metrics_filter([skipped, result(a), None, failed, result(a), [HELP, TYPE, a]])
    assert lines == [HELP, TYPE, a]


def test_nothing_to_merge_gives_no_lines():
    assert merge_metrics_filter([]) == []
    assert merge_metrics_filter([{'skipped': True}]) == []


@pytest.mark.parametrize('items, words', [
    ('fleetops_check_value 1', 'merge_metrics: expected a list, got str'),
    ({'metrics': []}, 'merge_metrics: expected a list, got dict'),
    ([42], 'merge_metrics: expected check results or lists of lines, got int'),
])
def test_bad_input_is_refused(items, words):
    with pytest.raises(AnsibleFilterError) as failed:
        merge_metrics_filter(items)
    assert str(failed.value) == words


def test_the_filter_is_registered():
    assert FilterModule().filters() == {'merge_metrics': merge_metrics_filter}
