# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine of log_stats: the latency sketch, the top counter, the parsers and the state."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import gzip
import json
import math
import os

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.fleetops.runbook.plugins.module_utils import log_stats as L

pytestmark = pytest.mark.log_stats

ALPHA = 0.01


def exact_quantile(values, q):
    ordered = sorted(values)
    return ordered[int(math.floor(q * (len(ordered) - 1)))]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=1e-5, max_value=1e5, allow_nan=False), min_size=1, max_size=400),
       st.sampled_from([0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 1.0]))
def test_sketch_quantile_within_relative_error(values, q):
    sketch = L.LatencySketch(ALPHA)
    for value in values:
        sketch.add(value)
    exact = exact_quantile(values, q)
    assert abs(sketch.quantile(q) - exact) <= ALPHA * exact * (1 + 1e-9)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(min_value=1e-4, max_value=100, allow_nan=False), st.integers(1, 50)),
                min_size=1, max_size=60),
       st.integers(0, 3))
def test_sketch_weighted_and_merged_like_one(pairs, split):
    whole = L.LatencySketch(ALPHA)
    parts = [L.LatencySketch(ALPHA) for dummy in range(split + 1)]
    values = []
    for i, (value, count) in enumerate(pairs):
        whole.add(value, count)
        parts[i % len(parts)].add(value, count)
        values.extend([value] * count)
    merged = parts[0]
    for part in parts[1:]:
        merged.merge(part)
    for q in (0.5, 0.95, 0.99):
        exact = exact_quantile(values, q)
        assert merged.quantile(q) == whole.quantile(q)
        assert abs(whole.quantile(q) - exact) <= ALPHA * exact * (1 + 1e-9)
    assert whole.count == len(values)


def test_sketch_memory_is_bounded_and_zeros_counted():
    sketch = L.LatencySketch(ALPHA)
    value = 1e-9
    while value < 1e9:
        sketch.add(value)
        value *= 1.001
    # From 1 microsecond to the clamp at 1e6 s: about 1,400 buckets, however many values.
    assert len(sketch) <= 1400
    assert sketch.quantile(0.0) == 0.0
    assert L.LatencySketch().quantile(0.5) is None
    sketch = L.LatencySketch(ALPHA)
    for junk in (float('inf'), float('nan'), -1.0):
        sketch.add(junk)
    assert sketch.count == 0
    sketch.add(0.0, 10)
    sketch.add(2.0)
    assert sketch.quantile(0.5) == 0.0 and sketch.quantile(1.0) == 2.0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 40), max_size=600), st.integers(1, 8), st.integers(1, 50))
def test_top_counter_error_bound(stream, capacity, batch):
    top = L.TopCounter(capacity)
    truth = collections.Counter(stream)
    for start in range(0, len(stream), batch):
        top.update(collections.Counter(stream[start:start + batch]))
    bound = len(stream) / (capacity + 1.0)
    assert top.max_error <= bound
    assert len(top.counts) <= capacity
    for value, true_count in truth.items():
        held = top.counts.get(value, 0)
        assert true_count - top.max_error <= held <= true_count
        if true_count > bound:
            assert value in top.counts


def test_top_counter_exact_when_it_fits():
    top = L.TopCounter(10)
    top.update({'a': 5, 'b': 2})
    top.update({'b': 4, 'c': 1})
    assert top.top(2) == [('b', 6), ('a', 5)]
    assert top.max_error == 0


@pytest.mark.parametrize('text,expected', [
    (b'30/Nov/2026:00:37:43 +0000', 1795999063),
    (b'30/Nov/2026:09:37:43 +0900', 1795999063),
    (b'29/Nov/2026:19:37:43 -0500', 1795999063),
    (b'30/Nov/2026:00:37:43', 1795999063),
    (b'30/Foo/2026:00:37:43 +0000', None),
    (b'31/Nov/2026:00:37:43 +0000', None),
    (b'garbage', None),
])
def test_parse_clf_time(text, expected):
    assert L.parse_clf_time(text) == expected


@pytest.mark.parametrize('value,expected', [
    ('2026-11-30T00:37:43Z', 1795999063),
    ('2026-11-30T09:37:43.123+09:00', 1795999063),
    ('2026-11-30 00:37:43,5 ERROR x', 1795999063),
    (1795999063, 1795999063),
    (1795999063000, 1795999063),
    (True, None),
    ('yesterday', None),
    (float('nan'), None),
])
def test_parse_time_value(value, expected):
    assert L.parse_time_value(value) == expected


ACCESS = (
    b'10.0.0.1 - - [30/Nov/2026:00:00:01 +0000] "GET /a?x=1 HTTP/1.1" 200 12 "-" "curl/8" 0.120\n'
    b'10.0.0.2 - bob [30/Nov/2026:00:00:02 +0000] "POST /b HTTP/1.1" 503 0 "http://r/" "Mozilla/5.0 (X)" 1.500\n'
    b'::1 - - [30/Nov/2026:00:00:03 +0000] "GET /a HTTP/1.1" 404 5 "-" "x"\n'
    b'10.0.0.1 - - [30/Nov/2026:00:00:04 +0000] "-" 400 0 "-" "-" 0.000\n'
    b'10.0.0.1 - - [30/Nov/2026:00:00:05 +0000] "GET /c HTTP/1.1" 200 1\n'
    b'this is not an access log line\n'
)


def test_access_parser_counts_and_latency():
    stats = L.Stats()
    L.AccessParser(stats).feed(ACCESS)
    assert (stats.lines, stats.unparsed, stats.requests) == (6, 1, 5)
    assert (stats.status_4xx, stats.status_5xx) == (2, 1)
    assert stats.latency.count == 3
    assert abs(stats.latency.max - 1.5) < 1e-12
    assert stats.clients.top(1) == [(b'10.0.0.1', 3)]
    assert dict(stats.paths.top(5))[b'/a'] == 2
    assert stats.error_messages.top(5) == [(b'503 /b', 1)]


def test_access_parser_window():
    stats = L.Stats()
    L.AccessParser(stats, window_start=L.parse_clf_time(b'30/Nov/2026:00:00:03 +0000')).feed(ACCESS)
    assert (stats.requests, stats.outside) == (3, 2)


def test_json_parser_fields_units_and_errors():
    lines = [
        {'t': '2026-11-30T00:00:01Z', 'http': {'status': 200}, 'ms': 120, 'path': '/a?q', 'ip': '10.0.0.1', 'level': 'info'},
        {'t': '2026-11-30T00:00:02Z', 'http': {'status': '502'}, 'ms': '2500', 'path': '/b', 'ip': '10.0.0.2',
         'level': 'error', 'msg': 'upstream down'},
        {'t': '2026-11-30T00:00:03Z', 'level': 'ERROR', 'msg': 'upstream down'},
    ]
    data = b''.join(json.dumps(line).encode() + b'\n' for line in lines) + b'[1]\nnot json\n\n'
    data += b'{"ms": 1e400, "ip": "x"}\n{"ms": "' + b'9' * 400 + b'", "ip": "x"}\n'
    fields = {'status': 'http.status', 'latency': 'ms', 'path': 'path', 'client': 'ip', 'level': 'level',
              'message': 'msg', 'time': 't'}
    stats = L.Stats()
    L.JsonParser(stats, fields, 'ms', L.ErrorMatcher('ERROR', None)).feed(data)
    assert (stats.lines, stats.unparsed, stats.requests, stats.status_5xx, stats.errors) == (7, 2, 2, 1, 2)
    assert abs(stats.latency.max - 2.5) < 1e-12
    assert stats.error_messages.top(1) == [('upstream down', 2)]
    assert dict(stats.paths.top(5)) == {'/a': 1, '/b': 1}
    stats = L.Stats()
    L.JsonParser(stats, fields, 'ms', L.ErrorMatcher('ERROR', None),
                 window_start=L.parse_iso_time('2026-11-30T00:00:02Z')).feed(data)
    assert (stats.requests, stats.errors, stats.outside) == (1, 2, 3)


def test_plain_parser_level_pattern_and_window():
    data = (b'2026-11-30 00:00:01 ERROR db down\n'
            b'Traceback (most recent call last):\n'
            b'2026-11-30 00:00:05 INFO ok ERRORS=0\n'
            b'2026-11-30 00:00:06 ERROR db down\n')
    stats = L.Stats()
    L.PlainParser(stats, L.ErrorMatcher('ERROR', None)).feed(data)
    assert (stats.lines, stats.errors) == (4, 2)
    assert stats.error_messages.top(1) == [('ERROR db down', 2)]
    stats = L.Stats()
    L.PlainParser(stats, L.ErrorMatcher('ERROR', r'Traceback|ERRORS=[1-9]')).feed(data)
    assert stats.errors == 1
    stats = L.Stats()
    L.PlainParser(stats, L.ErrorMatcher('ERROR', None), window_start=L.parse_iso_time('2026-11-30 00:00:02')).feed(data)
    assert (stats.errors, stats.outside) == (1, 2)


def _line(i):
    return b'10.0.0.%d - - [30/Nov/2026:00:00:01 +0000] "GET /p%d HTTP/1.1" 200 1 "-" "-" 0.%03d\n' % (i % 5, i, i % 1000)


def _run(path, state):
    stats = L.Stats()
    info = L.collect(str(path), L.AccessParser(stats), stats, state)
    return stats, info


def test_state_offsets_partial_line_and_rotation_to_gz(tmp_path):
    log = tmp_path / 'access.log'
    log.write_bytes(b''.join(_line(i) for i in range(10)) + _line(10)[:20])
    state = L.StateFile(str(tmp_path / 'state')).load()
    stats, info = _run(log, state)
    assert stats.requests == 10 and info['notes'] == ['first run: the whole file is read']
    # The unfinished line is read when it is complete.
    with open(str(log), 'ab') as handle:
        handle.write(_line(10)[20:] + _line(11))
    stats, info = _run(log, state)
    assert stats.requests == 2 and stats.unparsed == 0
    # Rotated and compressed (a new inode for both), then a new file.
    with open(str(log), 'ab') as handle:
        handle.write(b''.join(_line(i) for i in range(12, 15)))
    with gzip.open(str(log) + '.1.gz', 'wb') as handle:
        handle.write(log.read_bytes())
    log.unlink()
    log.write_bytes(b''.join(_line(i) for i in range(100, 104)))
    stats, info = _run(log, state)
    assert stats.requests == 7, info
    assert [f['rotated'] for f in info['files']] == [True, False]
    state.save()
    assert os.stat(state.path).st_mode & 0o777 == 0o600
    again = L.StateFile(state.path).load()
    stats, info = _run(log, again)
    assert stats.requests == 0


def test_state_truncated_and_missed_rotation(tmp_path):
    log = tmp_path / 'app.log'
    log.write_bytes(b''.join(_line(i) for i in range(5)))
    state = L.StateFile(str(tmp_path / 'state')).load()
    _run(log, state)
    log.write_bytes(_line(0))
    stats, info = _run(log, state)
    assert stats.requests == 1 and 'truncated' in info['notes'][0]
    new = tmp_path / 'new.log'
    new.write_bytes(_line(7) + _line(8))
    new.rename(log)
    stats, info = _run(log, state)
    assert stats.requests == 2 and info['missed_rotation'] and 'not found' in info['notes'][0]


@pytest.mark.parametrize('content', [b'', b'{"files": {}}', b'not json', b'{"schema": "other", "files": {}}'])
def test_foreign_state_refused(tmp_path, content):
    path = tmp_path / 'state'
    path.write_bytes(content)
    with pytest.raises(L.LogStatsError) as info:
        L.StateFile(str(path)).load()
    assert info.value.msg.startswith('state_file: ')
    assert path.read_bytes() == content


def test_fifo_refused(tmp_path):
    fifo = tmp_path / 'fifo'
    os.mkfifo(str(fifo))
    stats = L.Stats()
    with pytest.raises(L.FileRefused) as info:
        L.collect(str(fifo), L.AccessParser(stats), stats, None, 0)
    assert 'path: ' in info.value.msg and 'FIFO' in info.value.msg


def test_long_line_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(L, 'CHUNK', 64)
    monkeypatch.setattr(L, 'MAX_LINE', 100)
    log = tmp_path / 'access.log'
    log.write_bytes(_line(1) + b'x' * 500 + b'\n' + _line(2))
    stats = L.Stats()
    L.collect(str(log), L.AccessParser(stats), stats, None, 0)
    assert stats.requests == 2
    assert stats.unparsed >= 1
