# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Range parsing of the status model, as ansible-test units imports it from the collection."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.fleetops.runbook.plugins.module_utils.status import Range, RangeError

INF = float('inf')


@pytest.mark.parametrize('spec, start, end, inside, alerting, quiet', [
    ('10', 0.0, 10.0, False, [-0.5, 10.5], [0, 5, 10]),
    ('10:', 10.0, INF, False, [9.99], [10, 1e9]),
    ('~:10', -INF, 10.0, False, [10.01], [-1e9, 10]),
    ('10:20', 10.0, 20.0, False, [9, 21], [10, 15, 20]),
    ('@10:20', 10.0, 20.0, True, [10, 15, 20], [9, 21]),
    (85, 0.0, 85.0, False, [85.1], [85]),
])
def test_range_parse_and_alert(spec, start, end, inside, alerting, quiet):
    rng = Range.parse(spec)
    assert (rng.start, rng.end, rng.inside) == (start, end, inside)
    assert [v for v in alerting if not rng.alerts(v)] == []
    assert [v for v in quiet if rng.alerts(v)] == []


@pytest.mark.parametrize('spec', [None, '', '  '])
def test_range_empty_means_no_threshold(spec):
    assert Range.parse(spec) is None


@pytest.mark.parametrize('spec, reason', [
    ('abc', 'not a valid range'),
    ('20:10', 'start is greater than the end'),
    ('@', 'not a valid range'),
    (True, 'boolean'),
])
def test_range_rejects_bad_syntax(spec, reason):
    with pytest.raises(RangeError, match=reason):
        Range.parse(spec)
