# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure parts of http_check: nearest-rank percentiles, URLs, JSON paths and failure groups."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.fleetops.runbook.plugins.modules.http_check import (
    InputError,
    Outcome,
    group_failures,
    json_equal,
    json_lookup,
    latency_summary,
    parse_url,
    percentile,
)

pytestmark = pytest.mark.http


def test_nearest_rank_percentiles_are_measured_values():
    values = [0.1 * i for i in range(1, 21)]  # 0.1 .. 2.0
    assert percentile(values, 50) == values[9]
    assert percentile(values, 95) == values[18]
    assert percentile(values, 99) == values[19]
    assert percentile([3.0], 99) == 3.0
    # Five probes: p95 and p99 are the slowest one, p50 the third.
    five = [0.5, 0.1, 0.4, 0.2, 0.3]
    assert (percentile(five, 50), percentile(five, 95), percentile(five, 99)) == (0.3, 0.5, 0.5)


def test_latency_summary():
    assert latency_summary([]) is None
    assert latency_summary([0.2, 0.1]) == {'p50': 0.1, 'p95': 0.2, 'p99': 0.2, 'max': 0.2}


@pytest.mark.parametrize('url,expected', [
    ('http://localhost:8000/health', ('http', 'localhost', 8000, '/health')),
    ('https://api.example.test', ('https', 'api.example.test', 443, '/')),
    ('http://127.0.0.1/a?b=1&c', ('http', '127.0.0.1', 80, '/a?b=1&c')),
    ('http://[::1]:8080/x', ('http', '::1', 8080, '/x')),
])
def test_parse_url(url, expected):
    assert parse_url(url, 'endpoints[0].url') == expected


@pytest.mark.parametrize('url,words', [
    ('', 'empty'), ('ftp://h/', 'scheme'), ('http:///x', 'no host'), ('http://h:99999/', 'not a valid URL'),
    ('http://u:p@h/', 'credentials'), ('http://h/ x', 'space'), ('http://h:0/', 'port'),
    ('http://h\u00e9.test/', 'punycode'), ('http://h/\u00e9', 'percent-encode'),
])
def test_parse_url_refuses(url, words):
    with pytest.raises(InputError) as info:
        parse_url(url, 'endpoints[2].url')
    assert str(info.value).startswith('endpoints[2].url: ') and words in str(info.value)


def test_json_lookup_and_equality():
    doc = {'status': 'ok', 'data': {'n': 2, 'flag': True}, 'items': [{'name': 'a'}, {'name': 'b'}]}
    assert json_lookup(doc, 'status') == (True, 'ok')
    assert json_lookup(doc, 'items.1.name') == (True, 'b')
    assert json_lookup(doc, 'items.-1.name') == (True, 'b')
    assert json_lookup(doc, 'items.2.name') == (False, None)
    assert json_lookup(doc, 'data.missing') == (False, None)
    assert json_lookup(doc, 'status.x') == (False, None)
    assert json_equal(2, 2.0) and not json_equal(True, 1) and not json_equal('1', 1)
    assert json_equal({'a': [1, 'x']}, {'a': [1.0, 'x']}) and not json_equal({'a': 1}, {'a': 1, 'b': 2})


def test_failures_grouped_most_frequent_first_with_the_first_detail():
    outcomes = [Outcome(True, 0.1, 200), Outcome(False, reason='timeout', detail='t1'),
                Outcome(False, 0.1, 500, 'status_mismatch', 's1'), Outcome(False, reason='timeout', detail='t2'),
                Outcome(False, 0.1, 503, 'status_mismatch', 's2'), Outcome(False, reason='timeout', detail='t3')]
    assert group_failures(outcomes) == [{'reason': 'timeout', 'count': 3, 'detail': 't1'},
                                        {'reason': 'status_mismatch', 'count': 2, 'detail': 's1'}]
    assert group_failures([Outcome(True)]) == []
