# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.fleetops.runbook.plugins.module_utils import status
from ansible_collections.fleetops.runbook.plugins.module_utils.status import (
    CRITICAL,
    OK,
    UNKNOWN,
    WARNING,
    CheckReport,
    Range,
    RangeError,
    Thresholds,
    parse_thresholds,
    reaches,
    worst,
)

INF = float('inf')


@pytest.mark.parametrize('text, start, end, inside', [
    ('10', 0, 10, False),
    ('10:', 10, INF, False),
    ('~:10', -INF, 10, False),
    ('10:20', 10, 20, False),
    ('@10:20', 10, 20, True),
    ('@10', 0, 10, True),
    ('0', 0, 0, False),
    ('-5:5', -5, 5, False),
    ('1.5:2.25', 1.5, 2.25, False),
    ('~:', -INF, INF, False),
    (':10', 0, 10, False),
    ('1e3', 0, 1000, False),
    (' 85 ', 0, 85, False),
])
def test_parse(text, start, end, inside):
    rng = Range.parse(text)
    assert (rng.start, rng.end, rng.inside) == (start, end, inside)


@pytest.mark.parametrize('spec, expected', [(85, '85'), (85.0, '85'), (0.5, '0.5'), (12.125, '12.125')])
def test_parse_numbers(spec, expected):
    assert Range.parse(spec).text == expected


@pytest.mark.parametrize('spec', [None, ''])
def test_no_threshold(spec):
    assert Range.parse(spec) is None


@pytest.mark.parametrize('text', [
    'abc', '10:5', '@', ':', '@:', '~', '10::20', '1,5', '10:20:30', '@@10', '~10', '10~',
    '20:10', 'nan', '--5', '5%', '-0.25',
])
def test_parse_rejects(text):
    with pytest.raises(RangeError) as exc:
        Range.parse(text)
    assert repr(text.strip()) in str(exc.value) or text.strip() in str(exc.value)


def test_parse_rejects_bool_and_nan():
    with pytest.raises(RangeError):
        Range.parse(True)
    with pytest.raises(RangeError):
        Range.parse(float('nan'))


@pytest.mark.parametrize('text, value, alerts', [
    # Plain N: alert outside 0..N
    ('10', -1, True), ('10', 0, False), ('10', 10, False), ('10', 10.0001, True),
    # N: alert below N
    ('10:', 9.99, True), ('10:', 10, False), ('10:', 1e12, False),
    # ~:N alert above N
    ('~:10', -1e12, False), ('~:10', 10, False), ('~:10', 11, True),
    # N:M alert outside
    ('10:20', 9, True), ('10:20', 10, False), ('10:20', 20, False), ('10:20', 21, True),
    # @N:M alert inside, inclusive
    ('@10:20', 9, False), ('@10:20', 10, True), ('@10:20', 15, True), ('@10:20', 20, True),
    ('@10:20', 20.5, False),
])
def test_alerts(text, value, alerts):
    assert Range.parse(text).alerts(value) is alerts


finite = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(a=finite, b=finite, value=finite)
def test_inside_is_the_negation_of_outside(a, b, value):
    lo, hi = min(a, b), max(a, b)
    spec = '%r:%r' % (lo, hi)
    outside = Range.parse(spec)
    inside = Range.parse('@' + spec)
    assert outside.alerts(value) is not inside.alerts(value)
    assert outside.alerts(value) is (value < lo or value > hi)


@settings(max_examples=300, deadline=None)
@given(bound=finite, value=finite)
def test_open_ranges(bound, value):
    assert Range.parse('%r:' % bound).alerts(value) is (value < bound)
    assert Range.parse('~:%r' % bound).alerts(value) is (value > bound)
    if bound >= 0:
        assert Range.parse('%r' % bound).alerts(value) is (value < 0 or value > bound)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=12))
def test_parse_never_crashes_on_garbage(text):
    try:
        rng = Range.parse(text)
    except RangeError:
        return
    if rng is not None:
        assert rng.start <= rng.end
        assert not math.isnan(rng.start) and not math.isnan(rng.end)


def test_status_order_follows_plugin_exit_codes():
    assert [status.STATUS_CODES[s] for s in (OK, WARNING, CRITICAL, UNKNOWN)] == [0, 1, 2, 3]
    assert worst([]) == OK
    assert worst([OK, WARNING, OK]) == WARNING
    assert worst([CRITICAL, WARNING]) == CRITICAL
    assert worst([CRITICAL, UNKNOWN, OK]) == UNKNOWN


@pytest.mark.parametrize('state, fail_on, expected', [
    (OK, 'warning', False), (WARNING, 'warning', True), (CRITICAL, 'warning', True),
    (WARNING, 'critical', False), (CRITICAL, 'critical', True), (UNKNOWN, 'critical', True),
    (CRITICAL, 'unknown', False), (UNKNOWN, 'unknown', True),
    (UNKNOWN, 'never', False), (CRITICAL, 'never', False),
])
def test_reaches(state, fail_on, expected):
    assert reaches(state, fail_on) is expected


def test_thresholds_judge_critical_before_warning():
    th = Thresholds(Range.parse('80'), Range.parse('90'))
    assert th.judge(50) == OK
    assert th.judge(85) == WARNING
    assert th.judge(95) == CRITICAL
    assert th.judge(None) == UNKNOWN
    assert Thresholds().judge(1e9) == OK


def test_parse_thresholds_merges_and_switches_off():
    defaults = {'cpu': {'warning': '70', 'critical': '85'}, 'disk': {'warning': 85, 'critical': 95}}
    parsed = parse_thresholds({'cpu': {'critical': '90'}, 'disk': {'warning': None}}, defaults)
    assert parsed['cpu'].warning.text == '70'
    assert parsed['cpu'].critical.text == '90'
    assert parsed['disk'].warning is None
    assert parsed['disk'].critical.text == '95'


@pytest.mark.parametrize('given_, message', [
    ({'cpux': {'warning': 1}}, "thresholds: unknown check 'cpux'"),
    ({'cpu': {'warn': 1}}, "thresholds.cpu: unknown key 'warn'"),
    ({'cpu': {'warning': '9:1'}}, 'thresholds.cpu.warning: '),
    ({'cpu': 5}, 'thresholds.cpu: expected a mapping'),
    ({'cpu': ['a']}, 'thresholds.cpu: expected a mapping'),
])
def test_parse_thresholds_errors_name_the_parameter(given_, message):
    with pytest.raises(ValueError) as exc:
        parse_thresholds(given_, {'cpu': {'warning': '70'}})
    assert str(exc.value).startswith(message)


def _report():
    report = CheckReport('unit')
    report.add('cpu', 91.234, 'percent', Thresholds(Range.parse('70'), Range.parse('85')))
    report.add('disk', 86, 'percent', Thresholds(Range.parse('85'), Range.parse('95')), target='/var lib')
    report.add('load1', 0.5, '')
    report.unknown('replication', 'replication: permission denied for pg_stat_replication')
    report.add('version', '15.4')
    return report


def test_report_result_shape():
    result = _report().result()
    assert set(result) == {'status', 'checks', 'summary', 'perfdata', 'metrics'}
    assert result['status'] == UNKNOWN
    cpu = result['checks'][0]
    assert cpu == {'name': 'cpu', 'target': None, 'value': 91.234, 'unit': 'percent',
                   'warning': '70', 'critical': '85', 'status': CRITICAL,
                   'message': 'cpu is 91.234% (critical 85)'}
    assert result['checks'][1]['status'] == WARNING
    assert result['checks'][2]['status'] == OK
    assert result['checks'][3]['value'] is None
    assert result['checks'][4]['status'] == OK


def test_summary_worst_first():
    summary = _report().summary()
    assert summary.startswith('UNKNOWN: replication: permission denied')
    assert 'CRITICAL cpu is 91.234% (critical 85)' in summary
    assert 'WARNING disk /var lib is 86% (warning 85)' in summary
    assert summary.endswith('2 OK')
    assert summary.index('CRITICAL') < summary.index('WARNING')


def test_perfdata_format():
    perf = _report().perfdata()
    assert perf == "cpu=91.234%;70;85;0;100 'disk /var lib'=86%;85;95;0;100 load1=0.5"


def test_metrics_are_valid_exposition_lines():
    lines = _report().metrics()
    sample = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\} '
                        r'[-+]?[0-9.eE+-]+$')
    for line in lines:
        assert line.startswith('#') or sample.match(line), line
    assert 'fleetops_check_status{source="unit",check="cpu"} 2' in lines
    assert 'fleetops_check_status{source="unit",check="replication"} 3' in lines
    assert 'fleetops_check_value{source="unit",check="disk",target="/var lib",unit="percent"} 86.0' in lines
    # Text values have a status but no value line.
    assert not [line for line in lines if 'check="version"' in line and 'check_value' in line]


def test_metric_labels_are_escaped():
    report = CheckReport('unit')
    report.add('table', 1, 'count', target='we"ird\\name\nx')
    line = [x for x in report.metrics() if x.startswith('fleetops_check_status{')][0]
    assert 'target="we\\"ird\\\\name\\nx"' in line


def test_empty_report():
    report = CheckReport('unit')
    assert report.status == OK
    assert report.summary() == 'UNKNOWN: no checks ran'
    assert report.perfdata() == ''


def test_nan_and_inf_values_become_null():
    report = CheckReport('unit')
    check = report.add('x', float('nan'), 'count', Thresholds(Range.parse('1')))
    assert check['value'] is None and check['status'] == UNKNOWN
    check = report.add('y', float('inf'), 'count')
    assert check['value'] is None


class _Module:
    def __init__(self, fail_on):
        self.params = {'fail_on': fail_on}
        self.exited = None

    def exit_json(self, **kwargs):
        self.exited = ('exit', kwargs)
        raise SystemExit(0)

    def fail_json(self, **kwargs):
        self.exited = ('fail', kwargs)
        raise SystemExit(1)


@pytest.mark.parametrize('fail_on, outcome', [
    ('critical', 'fail'), ('warning', 'fail'), ('unknown', 'fail'), ('never', 'exit')])
def test_finish_fails_only_as_fail_on_says_and_keeps_data(fail_on, outcome):
    module = _Module(fail_on)
    with pytest.raises(SystemExit):
        status.finish(module, _report(), extra='kept')
    kind, payload = module.exited
    assert kind == outcome
    assert payload['extra'] == 'kept'
    assert payload['status'] == UNKNOWN
    assert len(payload['checks']) == 5
    if kind == 'fail':
        assert payload['msg'] == payload['summary']


def test_finish_ok_report_exits_for_warning_level():
    report = CheckReport('unit')
    report.add('cpu', 10, 'percent', Thresholds(Range.parse('70'), Range.parse('85')))
    module = _Module('warning')
    with pytest.raises(SystemExit):
        status.finish(module, report)
    assert module.exited[0] == 'exit'
    assert module.exited[1]['changed'] is False


def test_merge_metrics_keeps_one_help_and_type_per_metric():
    first = _report().metrics()
    other = CheckReport('other')
    other.add('cpu', 5, 'percent')
    merged = status.merge_metrics([first, other.metrics(), first, None, []])
    assert merged.count('# TYPE fleetops_check_status gauge') == 1
    assert merged.count('# HELP fleetops_check_value Measured value of a fleetops.runbook check.') == 1
    assert 'fleetops_check_status{source="other",check="cpu"} 0' in merged
    # Repeated samples are written once.
    assert merged.count('fleetops_check_status{source="unit",check="cpu"} 2') == 1
    # Every sample follows its own metric's TYPE line.
    current = None
    for line in merged:
        if line.startswith('# TYPE'):
            current = line.split()[2]
        elif not line.startswith('#'):
            assert line.split('{')[0] == current


@pytest.mark.parametrize('seconds, text', [
    (0, '0.0 s'), (59.94, '59.9 s'), (119.9, '119.9 s'), (120, '2.0 min'), (5400, '90.0 min'),
    (7200, '2.0 h'), (4 * 3600, '4.0 h'), (172799, '48.0 h'), (172800, '2.0 days'),
    (-90, '-90.0 s'), ('3600', '60.0 min')])
def test_human_duration_picks_the_unit(seconds, text):
    assert status.human_duration(seconds) == text


@pytest.mark.parametrize('value, text', [
    (0, '0 B'), (None, '0 B'), (1023, '1023 B'), (1536, '1.5 KiB'), (10 * 1024 ** 2, '10.0 MiB'),
    (5 * 1024 ** 3, '5.0 GiB'), (3 * 1024 ** 4, '3.0 TiB'), (-2048, '-2.0 KiB')])
def test_human_bytes_picks_the_unit(value, text):
    assert status.human_bytes(value) == text


@pytest.mark.parametrize('level, note', [
    ('CRITICAL', ' (critical 95)'), ('WARNING', ' (warning 85)'), ('OK', ''), ('UNKNOWN', '')])
def test_range_note_names_the_broken_range(level, note):
    thresholds = status.parse_thresholds({}, {'disk': {'warning': '85', 'critical': '95'}})['disk']
    assert thresholds.note(level) == note
    assert status.range_note({'status': level, 'warning': '85', 'critical': '95'}) == note
    assert status.range_note({'status': level, 'warning': None, 'critical': None}) == ''
    assert status.Thresholds().note(level) == ''


def test_status_argument_spec_adds_thresholds_on_request():
    assert status.status_argument_spec() == {
        'fail_on': {'type': 'str', 'default': 'critical', 'choices': ['critical', 'warning', 'unknown', 'never']}}
    spec = status.status_argument_spec(thresholds=True)
    assert spec['thresholds'] == {'type': 'dict', 'default': {}}
    assert spec['fail_on'] == status.status_argument_spec()['fail_on']


# --- non-finite and huge numbers: an error naming the parameter, never a traceback ------------

@pytest.mark.parametrize('spec', [INF, -INF, float('nan'), 10 ** 400, '1e999', '~:1e400', '@1e309:2e309',
                                  '-1e999:5'])
def test_parse_rejects_non_finite_and_huge_numbers(spec):
    with pytest.raises(RangeError) as exc:
        Range.parse(spec)
    assert 'finite' in str(exc.value) or 'too large' in str(exc.value)


@pytest.mark.parametrize('spec', [INF, float('nan'), '1e999', 10 ** 400])
def test_parse_thresholds_names_the_parameter_for_non_finite_numbers(spec):
    with pytest.raises(ValueError) as exc:
        parse_thresholds({'disk': {'critical': spec}}, {'disk': {'warning': '85', 'critical': '95'}})
    assert str(exc.value).startswith('thresholds.disk.critical: ')


@settings(max_examples=300, deadline=None)
@given(spec=st.one_of(st.floats(), st.integers(), st.text(max_size=30),
                      st.from_regex(r'\A@?(~|-?\d{1,400}(\.\d*)?(e-?\d{1,4})?)?:?-?\d{1,400}(e\d{1,4})?\Z')))
def test_parse_accepts_only_finite_ranges(spec):
    try:
        rng = Range.parse(spec)
    except RangeError:
        return
    if rng is not None:
        assert rng.start <= rng.end
        assert math.isfinite(rng.start) or rng.start == -INF
        assert math.isfinite(rng.end) or rng.end == INF


@pytest.mark.parametrize('value, kwargs, message', [
    (INF, {}, 'x: must be a finite number, got inf'),
    (float('nan'), {}, 'x: must be a finite number, got nan'),
    (10 ** 400, {}, 'x: must be a finite number'),
    ('5', {}, "x: expected a number, got '5'"),
    (True, {}, 'x: expected a number'),
    (0, {'above': 0}, 'x: must be greater than 0, got 0'),
    (-1, {'minimum': 0}, 'x: must be at least 0, got -1'),
    (1e300, {'maximum': 86400}, 'x: must be at most 86400, got '),
])
def test_finite_number_names_the_parameter(value, kwargs, message):
    with pytest.raises(ValueError) as exc:
        status.finite_number(value, 'x', **kwargs)
    assert str(exc.value).startswith(message)


def test_finite_number_accepts_what_is_within_bounds():
    assert status.finite_number(2, 'x', above=0, maximum=3) == 2.0
    assert status.finite_number(0.5, 'x', minimum=0.5) == 0.5


# --- a value is judged as measured, not as rounded for display ------------------------------------

@pytest.mark.parametrize('value, rng, expected', [
    (300.0000001, '300', CRITICAL),       # rounds to 300, which would be OK
    (-0.0000001, '300', CRITICAL),        # rounds to -0.0, which would be OK
    (9.9999999, '10:', CRITICAL),         # rounds to 10, which would be OK
    (299.9999999, '300', OK),
])
def test_value_is_judged_before_it_is_rounded(value, rng, expected):
    check = CheckReport('unit').add('x', value, 'seconds', Thresholds(critical=Range.parse(rng)))
    assert check['status'] == expected
    assert check['value'] == round(value, 6)
