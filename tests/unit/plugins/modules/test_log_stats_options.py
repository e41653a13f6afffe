# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of log_stats: an entry of ``files`` over the module's options over the defaults."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.fleetops.runbook.plugins.modules import log_stats

pytestmark = pytest.mark.log_stats

ENTRY_KEYS = ('format', 'fields', 'latency_unit', 'error_level', 'error_pattern', 'window_minutes', 'thresholds')


class Failed(Exception):
    pass


class FakeModule:
    check_mode = False

    def __init__(self, files, **params):
        self.params = dict(format='access', fields={}, latency_unit='s', error_level='ERROR', error_pattern=None,
                           window_minutes=None, state_file='/state', top=10, top_capacity=1000, thresholds={},
                           fail_on='critical')
        self.params.update(params)
        self.params['files'] = [dict(dict.fromkeys(ENTRY_KEYS), **entry) for entry in files]

    def fail_json(self, **kwargs):
        raise Failed(kwargs['msg'])


def entries(files, **params):
    return log_stats.LogStats(FakeModule(files, **params)).validate()


def failure(files, **params):
    with pytest.raises(Failed) as info:
        entries(files, **params)
    return str(info.value)


def test_an_entry_takes_the_module_options_and_overrides_them():
    first, second = entries(
        [{'path': '/a.log'},
         {'path': '/b.json', 'format': 'plain', 'window_minutes': 30, 'error_pattern': '^Trace',
          'fields': {'status': 'code'}}],
        format='json', latency_unit='ms', window_minutes=60, fields={'latency': 'ms', 'status': 'http.status'})
    assert (first['format'], first['latency_unit'], first['window_minutes'], first['error_pattern']) == ('json', 'ms', 60, None)
    assert first['fields']['latency'] == 'ms' and first['fields']['status'] == 'http.status'
    assert first['fields']['path'] == 'path'
    assert (second['format'], second['latency_unit'], second['window_minutes'], second['error_pattern']) == (
        'plain', 'ms', 30, '^Trace')
    assert second['fields']['latency'] == 'ms' and second['fields']['status'] == 'code'
    assert (first['index'], first['path'], second['index'], second['path']) == (0, '/a.log', 1, '/b.json')


def test_thresholds_merge_level_by_level():
    first, second = entries(
        [{'path': '/a.log'},
         {'path': '/b.log', 'thresholds': {'rate_5xx': {'warning': '50'}, 'errors': {'critical': None}}}],
        thresholds={'rate_5xx': {'critical': '60'}, 'latency_p95': {'warning': '3'}})
    # Defaults: rate_5xx 1 / 5, latency_p95 2 / 5, errors critical 10.
    assert first['thresholds']['rate_5xx'].judge(2) == 'WARNING'
    assert first['thresholds']['rate_5xx'].judge(59) == 'WARNING'
    assert first['thresholds']['rate_5xx'].judge(61) == 'CRITICAL'
    assert first['thresholds']['latency_p95'].judge(2.5) == 'OK'
    assert first['thresholds']['errors'].judge(11) == 'CRITICAL'
    assert second['thresholds']['rate_5xx'].judge(2) == 'OK'
    assert second['thresholds']['rate_5xx'].judge(51) == 'WARNING'
    assert second['thresholds']['rate_5xx'].judge(61) == 'CRITICAL'
    assert second['thresholds']['latency_p95'].judge(3.5) == 'WARNING'
    assert second['thresholds']['errors'].judge(1000) == 'OK'


@pytest.mark.parametrize('files,params,message', [
    ([], {}, 'files: give at least one log file'),
    ([{'path': ' '}], {}, 'files[0].path: must name a log file'),
    ([{'path': '/a.log'}, {'path': '/b.log'}, {'path': '/a.log'}], {},
     'files[2].path: /a.log is already files[0].path; give each log once'),
    ([{'path': '/a.log'}, {'path': '/x/../a.log'}], {}, 'files[1].path: /x/../a.log is already files[0].path'),
    ([{'path': '/a.log'}, {'path': '/b.log'}], {'state_file': None, 'window_minutes': None},
     'state_file: required for the window since the last run of files[0].path /a.log'),
    ([{'path': '/a.log', 'window_minutes': 5}, {'path': '/b.log'}], {'state_file': None},
     'state_file: required for the window since the last run of files[1].path /b.log'),
    ([{'path': '/a.log', 'window_minutes': 0}], {}, 'files[0].window_minutes: must be between 1'),
    ([{'path': '/a.log', 'fields': {'nope': 'x'}}], {}, "files[0].fields: unknown key 'nope'"),
    ([{'path': '/a.log', 'fields': ['status']}], {}, 'files[0].fields: must be a mapping'),
    ([{'path': '/a.log', 'fields': {'time': ''}}], {}, 'files[0].fields.time: must be a non-empty field name'),
    ([{'path': '/a.log', 'error_pattern': ''}], {}, 'files[0].error_pattern: must not be empty'),
    ([{'path': '/a.log', 'error_pattern': '(?P<'}], {}, 'files[0].error_pattern: not a valid regular expression'),
    ([{'path': '/a.log', 'error_level': ' '}], {}, 'files[0].error_level: must not be empty'),
    ([{'path': '/a.log', 'thresholds': {'errors': {'warning': 'many'}}}], {}, 'files[0].thresholds.errors.warning: '),
    ([{'path': '/a.log', 'thresholds': {'p99': {}}}], {}, "files[0].thresholds: unknown check 'p99'"),
    ([{'path': '/a.log'}], {'thresholds': {'errors': 3}}, 'thresholds.errors: expected a mapping'),
    ([{'path': '/a.log'}], {'error_pattern': '['}, 'error_pattern: not a valid regular expression'),
])
def test_bad_input_names_the_option(files, params, message):
    assert failure(files, **params).startswith(message)


def test_an_entry_pattern_allows_an_empty_level():
    entry, = entries([{'path': '/a.log', 'error_level': '', 'error_pattern': 'boom'}])
    assert entry['error_pattern'] == 'boom'
    entry, = entries([{'path': '/a.log', 'error_level': ''}], error_pattern='boom')
    assert entry['error_pattern'] == 'boom'
