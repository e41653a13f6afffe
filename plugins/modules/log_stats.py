#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: log_stats
short_description: Request rates, latency percentiles and error counts from access, JSON and application logs
version_added: 0.2.0
description:
  - Reads one log file on the managed host and judges what it finds in the status model every
    check of this collection speaks.
  - "Access logs (O(format=access)): the nginx/Apache combined format, with C($request_time) in
    seconds as the last field when the log has it. Requests, the rates of 4xx and 5xx responses,
    latency p50/p95/p99, the top client addresses and paths, and the top C(STATUS PATH) of the 5xx
    responses."
  - "JSON-lines logs (O(format=json)): the same figures from fields whose names O(fields) sets,
    and the lines whose level is O(error_level) (or that match O(error_pattern)) with their top
    messages."
  - "Application logs (O(format=plain)): the count of lines with the word O(error_level) (or
    matching O(error_pattern)), and their top messages."
  - "The window is either the lines written since the last run, remembered per file in
    O(state_file), or the last O(window_minutes) minutes by the times written in the lines."
  - Memory stays bounded whatever the size of the log. The file is streamed in 4 MiB chunks;
    percentiles come from a log-bucket histogram whose values are within 1% (relative) of the
    exact percentile; the top lists come from a summary of O(top_capacity) counters whose counts
    are at most RV(log.top_max_error) below the truth.
  - Reads the log only. In check mode the state file is read but never written.
extends_documentation_fragment:
  - fleetops.runbook.attributes
  - fleetops.runbook.status
options:
  path:
    description:
      - The log file. It must be a regular file; a FIFO, a device or a directory is refused.
    type: path
    required: true
  format:
    description:
      - C(access) the combined format, C(json) one JSON object per line, C(plain) any text.
    type: str
    choices: [access, json, plain]
    default: access
  fields:
    description:
      - Field names of a JSON-lines log, merged over the defaults. A dotted name (V(http.status))
        reaches into nested objects.
      - "Keys: C(status) (HTTP status, default V(status)), C(latency) (response time, default
        V(request_time), in O(latency_unit)), C(path) (V(path)), C(client) (V(remote_addr)),
        C(level) (V(level)), C(message) (V(message)), C(time) (V(time): ISO 8601 or epoch seconds)."
    type: dict
    default: {}
  latency_unit:
    description:
      - Unit of the latency field of a JSON-lines log. Access logs' C($request_time) is in seconds.
    type: str
    choices: [s, ms, us]
    default: s
  error_level:
    description:
      - The level that marks an error line in JSON-lines (the C(level) field, case-insensitive)
        and plain logs (the word, case-sensitive).
    type: str
    default: ERROR
  error_pattern:
    description:
      - A Python regular expression; when set, a line is an error when it matches, instead of
        O(error_level).
    type: str
  window_minutes:
    description:
      - Count only the lines whose time is within the last N minutes (the log's own times, so the
        file and its rotated predecessor C(.1) or C(.1.gz) are read from the start).
      - When not set, the window is since the last run and O(state_file) is required.
    type: int
  state_file:
    description:
      - Where the offsets of the files read are kept between runs, for the window since the last
        run. Created mode 0600 by this module; a file that exists and is not one of its state files
        is refused and left untouched. Not written in check mode.
      - A rotated file (its inode changed) is read to its end from the saved offset when found as
        C(PATH.1), C(PATH.1.gz) or C(PATH.gz); the first run reads the whole file.
    type: path
  top:
    description:
      - How many clients, paths and error messages to return.
    type: int
    default: 10
  top_capacity:
    description:
      - Counters held for each top list (memory bound); at least O(top).
    type: int
    default: 1000
  thresholds:
    description:
      - Warning and critical ranges per check, merged over the defaults.
      - "Keys: C(rate_5xx), C(rate_4xx) (percent of requests), C(latency_p50), C(latency_p95),
        C(latency_p99) (seconds), C(errors) (error lines), C(requests), C(unparsed) (lines)."
      - "Defaults: rate_5xx warning 1 / critical 5 (the runbooks' error rate: 1% warning, 5%
        critical); latency_p95 warning 2 / critical 5 seconds (the API response time bands);
        errors critical above 10 lines (the runbooks' error-count alert); the others none."
    type: dict
    default: {}
notes:
  - Percentiles are within 1% of the exact value (relative error of the sketch); the counts of
    requests, statuses and error lines are exact.
  - Lines that do not parse are counted in RV(log.unparsed); when no line of a non-empty window
    parses the status is UNKNOWN, not OK.
'''

EXAMPLES = r'''
- name: nginx access log since the last run
  fleetops.runbook.log_stats:
    path: /var/log/nginx/access.log
    state_file: /var/lib/fleetops/log_stats.state
  register: access

- name: JSON application log, latency in milliseconds, the last 60 minutes
  fleetops.runbook.log_stats:
    path: /var/log/app/app.json
    format: json
    fields:
      latency: duration_ms
      path: request.path
    latency_unit: ms
    window_minutes: 60
    fail_on: never

- name: ERROR lines of an application log
  fleetops.runbook.log_stats:
    path: /var/log/racepredictor/error.log
    format: plain
    state_file: /var/lib/fleetops/log_stats.state
    thresholds:
      errors:
        warning: 5
        critical: 10
'''

RETURN = r'''
log:
  description: What was read and measured.
  returned: always
  type: dict
  contains:
    path:
      description: The log file (absolute).
      type: str
    format:
      description: The format read.
      type: str
    window:
      description: C(since_last_run) or C(last N minutes).
      type: str
    files:
      description: The files read, with the offset read from and the bytes read; a rotated one first.
      type: list
      elements: dict
    lines:
      description: Lines read in the files (in and outside the window).
      type: int
    outside_window:
      description: Lines whose time was before the window (O(window_minutes)).
      type: int
    unparsed:
      description: Lines that did not parse in the format.
      type: int
    requests:
      description: Requests in the window (access and JSON logs).
      type: int
    status_4xx:
      description: Responses with a 4xx status.
      type: int
    status_5xx:
      description: Responses with a 5xx status.
      type: int
    rate_4xx:
      description: Percent of requests with a 4xx status, null without requests.
      type: float
    rate_5xx:
      description: Percent of requests with a 5xx status, null without requests.
      type: float
    errors:
      description: Error lines (JSON and plain logs).
      type: int
    latency:
      description: Latency in seconds (count, p50, p95, p99, max, mean); the percentiles within
        C(relative_accuracy) of the exact ones.
      type: dict
    top_clients:
      description: The most frequent client addresses, C(value) and C(count).
      type: list
      elements: dict
    top_paths:
      description: The most frequent paths (without query string).
      type: list
      elements: dict
    top_errors:
      description: The most frequent error messages (C(STATUS PATH) of 5xx responses for access logs).
      type: list
      elements: dict
    top_max_error:
      description: The most a count of a top list may be below the truth (0 while every distinct
        value fits in O(top_capacity) counters).
      type: int
    notes:
      description: First run, truncation, a rotation whose previous file was not found.
      type: list
      elements: str
  sample: {"path": "/var/log/nginx/access.log", "format": "access", "window": "since_last_run",
           "lines": 1200, "requests": 1200, "rate_5xx": 0.5, "latency": {"p95": 0.41}}
'''

import re
import time

from ansible_collections.fleetops.runbook.plugins.module_utils.module import RunbookModule
from ansible_collections.fleetops.runbook.plugins.module_utils.regular_file import FileRefused
from ansible_collections.fleetops.runbook.plugins.module_utils.status import (
    CheckReport,
    OK,
    WARNING,
    finish,
    parse_thresholds,
    status_argument_spec,
)
from ansible_collections.fleetops.runbook.plugins.module_utils.log_stats import (
    AccessParser,
    ErrorMatcher,
    JsonParser,
    LogStatsError,
    PlainParser,
    StateFile,
    Stats,
    collect,
)

DEFAULT_FIELDS = {
    'status': 'status',
    'latency': 'request_time',
    'path': 'path',
    'client': 'remote_addr',
    'level': 'level',
    'message': 'message',
    'time': 'time',
}

# Seed 002 (alert settings: errorRate warning 1 / critical 5 %; seed 004 too: error rate > 5 %),
# seeds 000 and 003 (API response time: 2 s warning, 5 s critical; monitor_response.sh 2.0 s),
# seed 003 (monitor_errors.sh: more than 10 ERROR lines).
DEFAULT_THRESHOLDS = {
    'requests': {},
    'unparsed': {},
    'rate_5xx': {'warning': '1', 'critical': '5'},
    'rate_4xx': {},
    'latency_p50': {},
    'latency_p95': {'warning': '2', 'critical': '5'},
    'latency_p99': {},
    'errors': {'critical': '10'},
}

MAX_WINDOW_MINUTES = 10 * 366 * 24 * 60


def _rate(part, whole):
    return round(100.0 * part / whole, 4) if whole else None


def _top(counter, count):
    return [{'value': value.decode('utf-8', 'replace') if isinstance(value, bytes) else value, 'count': n}
            for value, n in counter.top(count)]


class LogStats:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.report = CheckReport('log_stats')

    def fail(self, msg):
        self.module.fail_json(msg=msg)

    def validate(self):
        params = self.params
        if not params['path'] or not params['path'].strip():
            self.fail('path: must name a log file')
        fields = dict(DEFAULT_FIELDS)
        for key, value in (params['fields'] or {}).items():
            if key not in DEFAULT_FIELDS:
                self.fail('fields: unknown key %r; known keys: %s' % (key, ', '.join(sorted(DEFAULT_FIELDS))))
            if not isinstance(value, str) or not value.strip():
                self.fail('fields.%s: must be a non-empty field name' % key)
            fields[key] = value.strip()
        self.fields = fields
        pattern = params['error_pattern']
        if pattern is not None:
            try:
                re.compile(pattern)
            except (re.error, OverflowError, RecursionError) as exc:
                self.fail('error_pattern: not a valid regular expression: %s' % exc)
            if pattern == '':
                self.fail('error_pattern: must not be empty (leave it out to use error_level)')
        level = params['error_level']
        if pattern is None and (level is None or not level.strip()):
            self.fail('error_level: must not be empty unless error_pattern is set')
        minutes = params['window_minutes']
        if minutes is not None and not 1 <= minutes <= MAX_WINDOW_MINUTES:
            self.fail('window_minutes: must be between 1 and %d, got %d' % (MAX_WINDOW_MINUTES, minutes))
        if minutes is None and not params['state_file']:
            self.fail('state_file: required for the window since the last run (or set window_minutes)')
        if params['state_file'] is not None and not params['state_file'].strip():
            self.fail('state_file: must name a file')
        if not 1 <= params['top'] <= 1000:
            self.fail('top: must be between 1 and 1000, got %d' % params['top'])
        if not params['top'] <= params['top_capacity'] <= 100000:
            self.fail('top_capacity: must be between top (%d) and 100000, got %d' % (params['top'], params['top_capacity']))
        try:
            self.thresholds = parse_thresholds(params['thresholds'], DEFAULT_THRESHOLDS, 'thresholds')
        except ValueError as exc:
            self.fail(str(exc))

    def run(self):
        self.validate()
        params = self.params
        now = time.time()
        window_start = now - params['window_minutes'] * 60 if params['window_minutes'] else None
        stats = Stats(capacity=params['top_capacity'])
        matcher = ErrorMatcher(params['error_level'] and params['error_level'].strip(), params['error_pattern'])
        fmt = params['format']
        if fmt == 'access':
            parser = AccessParser(stats, window_start)
        elif fmt == 'json':
            parser = JsonParser(stats, self.fields, params['latency_unit'], matcher, window_start)
        else:
            parser = PlainParser(stats, matcher, window_start)
        state = None
        try:
            if window_start is None:
                state = StateFile(params['state_file']).load()
            try:
                info = collect(params['path'], parser, stats, state, window_start, 'path', now)
            except OSError as exc:
                self.fail('path: cannot read %s: %s' % (params['path'], exc.strerror or exc))
            if state is not None and not self.module.check_mode:
                try:
                    state.save()
                except OSError as exc:
                    self.fail('state_file: cannot write %s: %s' % (params['state_file'], exc.strerror or exc))
        except (LogStatsError, FileRefused) as exc:
            self.fail(exc.msg)
        self.judge(stats, fmt)
        if info.get('missed_rotation'):
            # Counts that miss lines are not an OK.
            self.report.add('rotation', None, status=WARNING, message='rotation: ' + info['notes'][-1])
        latency = stats.latency
        log = {
            'path': info['path'],
            'format': fmt,
            'window': 'last %d minutes' % params['window_minutes'] if window_start else 'since_last_run',
            'files': info['files'],
            'notes': info['notes'],
            'lines': stats.lines,
            'outside_window': stats.outside,
            'unparsed': stats.unparsed,
            'requests': stats.requests,
            'status_4xx': stats.status_4xx,
            'status_5xx': stats.status_5xx,
            'rate_4xx': _rate(stats.status_4xx, stats.requests),
            'rate_5xx': _rate(stats.status_5xx, stats.requests),
            'errors': stats.errors,
            'latency': {
                'count': latency.count,
                'p50': latency.quantile(0.50),
                'p95': latency.quantile(0.95),
                'p99': latency.quantile(0.99),
                'max': latency.max,
                'mean': latency.total / latency.count if latency.count else None,
                'relative_accuracy': latency.alpha,
            },
            'top_clients': _top(stats.clients, params['top']),
            'top_paths': _top(stats.paths, params['top']),
            'top_errors': _top(stats.error_messages, params['top']),
            'top_max_error': max(stats.clients.max_error, stats.paths.max_error, stats.error_messages.max_error),
        }
        finish(self.module, self.report, log=log, state_updated=state is not None and not self.module.check_mode)

    def judge(self, stats, fmt):
        report = self.report
        thresholds = self.thresholds
        window_lines = stats.lines - stats.outside
        parsed = window_lines - stats.unparsed
        report.add('unparsed', stats.unparsed, 'count', thresholds['unparsed'])
        if fmt != 'plain':
            if window_lines and stats.requests == 0 and (fmt == 'access' or parsed <= 0):
                reason = 'none of the %d lines in the window parsed as %s log lines' % (
                    window_lines, 'combined-format' if fmt == 'access' else 'JSON')
                for name, unit in (('requests', 'count'), ('rate_5xx', 'percent'), ('latency_p95', 'seconds')):
                    report.unknown(name, '%s: %s' % (name, reason), unit=unit)
                return
            report.add('requests', stats.requests, 'count', thresholds['requests'])
            for name, part in (('rate_5xx', stats.status_5xx), ('rate_4xx', stats.status_4xx)):
                if stats.requests:
                    report.add(name, _rate(part, stats.requests), 'percent', thresholds[name])
                else:
                    report.add(name, None, 'percent', status=OK,
                               message='%s: no requests in the window' % name)
            for name, q in (('latency_p50', 0.5), ('latency_p95', 0.95), ('latency_p99', 0.99)):
                value = stats.latency.quantile(q)
                if value is not None:
                    report.add(name, value, 'seconds', thresholds[name])
                elif stats.requests and fmt == 'access':
                    report.add(name, None, 'seconds', status=OK,
                               message='%s: the log has no $request_time field' % name)
                elif stats.requests:
                    report.add(name, None, 'seconds', status=OK,
                               message='%s: no line has the latency field %r' % (name, self.fields['latency']))
                else:
                    report.add(name, None, 'seconds', status=OK, message='%s: no requests in the window' % name)
        if fmt != 'access':
            if fmt == 'json' and window_lines and parsed <= 0:
                report.unknown('errors', 'errors: none of the %d lines in the window is a JSON object' % window_lines)
                return
            report.add('errors', stats.errors, 'count', thresholds['errors'])
        if window_lines == 0:
            report.checks[0]['message'] = 'unparsed: 0 (no lines in the window)'


def main():
    argument_spec = status_argument_spec()
    argument_spec.update(
        path=dict(type='path', required=True),
        format=dict(type='str', choices=['access', 'json', 'plain'], default='access'),
        fields=dict(type='dict', default={}),
        latency_unit=dict(type='str', choices=['s', 'ms', 'us'], default='s'),
        error_level=dict(type='str', default='ERROR'),
        error_pattern=dict(type='str'),
        window_minutes=dict(type='int'),
        state_file=dict(type='path'),
        top=dict(type='int', default=10),
        top_capacity=dict(type='int', default=1000),
        thresholds=dict(type='dict', default={}),
    )
    module = RunbookModule(argument_spec=argument_spec, supports_check_mode=True)
    LogStats(module).run()


if __name__ == '__main__':
    main()
