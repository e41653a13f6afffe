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
  - Reads the log files listed in O(files) on the managed host and judges what it finds in the
    status model every check of this collection speaks, in one result for all of them; every check
    names its file as its C(target), and the overall status is the worst of them.
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
  - Memory stays bounded whatever the size of the logs. A file is streamed in 4 MiB chunks;
    percentiles come from a log-bucket histogram whose values are within 1% (relative) of the
    exact percentile; the top lists come from a summary of O(top_capacity) counters whose counts
    are at most RV(logs.top_max_error) below the truth.
  - Reads the logs only. In check mode the state file is read but never written.
extends_documentation_fragment:
  - fleetops.runbook.attributes
  - fleetops.runbook.status
options:
  files:
    description:
      - The log files to read, each once. The options of an entry left out are taken from the
        options of the same name of the module (O(format), O(fields), O(latency_unit),
        O(error_level), O(error_pattern), O(window_minutes), O(thresholds)).
      - A file that is missing, unreadable or refused (a FIFO, a device, a directory) is a
        critical C(log_file) check naming O(files[].path); the other files are still read.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - The log file. It must be a regular file. Two entries may not name the same file.
        type: path
        required: true
      format:
        description: O(format) for this file.
        type: str
        choices: [access, json, plain]
      fields:
        description: Field names for this file, merged over O(fields).
        type: dict
      latency_unit:
        description: O(latency_unit) for this file.
        type: str
        choices: [s, ms, us]
      error_level:
        description: O(error_level) for this file.
        type: str
      error_pattern:
        description: O(error_pattern) for this file.
        type: str
      window_minutes:
        description: O(window_minutes) for this file; without it (here and at module level) O(state_file) is required.
        type: int
      thresholds:
        description: Thresholds for this file, merged over O(thresholds) (per check and level).
        type: dict
  format:
    description:
      - C(access) the combined format, C(json) one JSON object per line, C(plain) any text.
      - The default of O(files[].format).
    type: str
    choices: [access, json, plain]
    default: access
  fields:
    description:
      - Field names of a JSON-lines log, merged over the defaults. A dotted name (V(http.status))
        reaches into nested objects. The default of O(files[].fields).
      - "Keys: C(status) (HTTP status, default V(status)), C(latency) (response time, default
        V(request_time), in O(latency_unit)), C(path) (V(path)), C(client) (V(remote_addr)),
        C(level) (V(level)), C(message) (V(message)), C(time) (V(time): ISO 8601 or epoch seconds)."
    type: dict
    default: {}
  latency_unit:
    description:
      - Unit of the latency field of a JSON-lines log. Access logs' C($request_time) is in seconds.
      - The default of O(files[].latency_unit).
    type: str
    choices: [s, ms, us]
    default: s
  error_level:
    description:
      - The level that marks an error line in JSON-lines (the C(level) field, case-insensitive)
        and plain logs (the word, case-sensitive). The default of O(files[].error_level).
    type: str
    default: ERROR
  error_pattern:
    description:
      - A Python regular expression; when set, a line is an error when it matches, instead of
        O(error_level). The default of O(files[].error_pattern).
    type: str
  window_minutes:
    description:
      - Count only the lines whose time is within the last N minutes (the log's own times, so the
        file and its rotated predecessor C(.1) or C(.1.gz) are read from the start).
      - When not set, the window is since the last run and O(state_file) is required.
      - The default of O(files[].window_minutes).
    type: int
  state_file:
    description:
      - Where the offsets of the files read are kept between runs, for the window since the last
        run; one state file holds every file (keyed by absolute path). Created mode 0600 by this
        module; a file that exists and is not one of its state files is refused and left
        untouched. Not written in check mode.
      - A rotated file (its inode changed) is read to its end from the saved offset when found as
        C(PATH.1), C(PATH.1.gz) or C(PATH.gz); the first run reads the whole file.
      - A file that could not be read keeps its saved offset.
    type: path
  top:
    description:
      - How many clients, paths and error messages to return per file.
    type: int
    default: 10
  top_capacity:
    description:
      - Counters held for each top list (memory bound); at least O(top).
    type: int
    default: 1000
  thresholds:
    description:
      - Warning and critical ranges per check, merged over the defaults. The default of
        O(files[].thresholds).
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
  - Lines that do not parse are counted in RV(logs.unparsed); when no line of a non-empty window
    parses the status is UNKNOWN, not OK.
'''

EXAMPLES = r'''
- name: nginx access log and application error log since the last run, one result
  fleetops.runbook.log_stats:
    files:
      - path: /var/log/nginx/access.log
      - path: /var/log/racepredictor/error.log
        format: plain
        thresholds:
          errors:
            warning: 5
            critical: 10
    state_file: /var/lib/fleetops/log_stats.state
  register: logs

- name: JSON application logs, latency in milliseconds, the last 60 minutes
  fleetops.runbook.log_stats:
    files:
      - path: /var/log/app/app.json
      - path: /var/log/app/worker.json
        fields:
          path: job.name
    format: json
    fields:
      latency: duration_ms
      path: request.path
    latency_unit: ms
    window_minutes: 60
    fail_on: never

- name: The 5xx rate of one log
  ansible.builtin.debug:
    msg: "{{ logs.logs['/var/log/nginx/access.log'].rate_5xx }}"
'''

RETURN = r'''
# Status keys: generated by tools/status-return.py from doc_fragments/status.py, do not edit.
status:
  description: The worst status of all checks.
  returned: always
  type: str
  sample: WARNING
checks:
  description: Every individual check.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the check.
      type: str
      sample: disk
    target:
      description: What the check looked at (a mount point, a database, a table), or null.
      type: str
      sample: /var
    value:
      description: The measured value, or null when it could not be measured.
      type: raw
      sample: 87.5
    unit:
      description: Unit of RV(checks[].value) (percent, seconds, milliseconds, bytes, count, ratio).
      type: str
      sample: percent
    warning:
      description: The warning range applied, or null.
      type: str
      sample: "85"
    critical:
      description: The critical range applied, or null.
      type: str
      sample: "95"
    status:
      description: OK, WARNING, CRITICAL or UNKNOWN.
      type: str
      sample: WARNING
    message:
      description: What was found, in words.
      type: str
      sample: disk /var is 87.5% (warning 85)
    labels:
      description: Extra labels of the check in RV(metrics), present only on checks that have some.
      type: dict
      sample: {database: app}
summary:
  description: One line for a human, worst findings first.
  returned: always
  type: str
  sample: "WARNING: disk /var is 87.5% (warning 85); 11 OK"
perfdata:
  description: The numeric checks as Nagios performance data.
  returned: always
  type: str
  sample: "cpu=12.5%;70;85;0;100 'disk /var'=87.5%;85;95;0;100"
metrics:
  description:
    - The checks as Prometheus text exposition lines, ready for the node exporter's textfile
      collector.
  returned: always
  type: list
  elements: str
  sample:
    - 'fleetops_check_status{source="resource_check",check="cpu"} 0'
# End of status keys.
logs:
  description: What was read and measured, per file of O(files), keyed by O(files[].path).
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
    error:
      description: Why the file was not read (the message of its C(log_file) check).
      type: str
      returned: when the file could not be read; the keys below are then left out
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
  sample: {"/var/log/nginx/access.log": {"path": "/var/log/nginx/access.log", "format": "access",
           "window": "since_last_run", "lines": 1200, "requests": 1200, "rate_5xx": 0.5,
           "latency": {"p95": 0.41}}}
state_updated:
  description: Whether the state file was written (false in check mode and without a window since the last run).
  returned: always
  type: bool
'''

import os
import re
import time

from ansible_collections.fleetops.runbook.plugins.module_utils.module import RunbookModule
from ansible_collections.fleetops.runbook.plugins.module_utils.regular_file import FileRefused
from ansible_collections.fleetops.runbook.plugins.module_utils.status import (
    CheckReport,
    CRITICAL,
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

    def _fields(self, given, param, base):
        fields = dict(base)
        if given is None:
            return fields
        if not isinstance(given, dict):
            self.fail('%s: must be a mapping of field names' % param)
        for key, value in given.items():
            if key not in DEFAULT_FIELDS:
                self.fail('%s: unknown key %r; known keys: %s' % (param, key, ', '.join(sorted(DEFAULT_FIELDS))))
            if not isinstance(value, str) or not value.strip():
                self.fail('%s.%s: must be a non-empty field name' % (param, key))
            fields[key] = value.strip()
        return fields

    def _thresholds(self, given, param, base):
        try:
            parse_thresholds(given, base, param)
        except ValueError as exc:
            self.fail(str(exc))
        merged = dict((name, dict(levels)) for name, levels in base.items())
        for name, levels in (given or {}).items():
            merged[name].update(levels or {})
        return merged

    def _settings(self, values, prefix, base):
        """Check one set of the per-file options; ``prefix`` names where they were given."""
        pattern = values['error_pattern']
        if pattern is not None:
            if pattern == '':
                self.fail('%serror_pattern: must not be empty (leave it out to use error_level)' % prefix)
            try:
                re.compile(pattern)
            except (re.error, OverflowError, RecursionError) as exc:
                self.fail('%serror_pattern: not a valid regular expression: %s' % (prefix, exc))
        level = values['error_level']
        if level is not None and not level.strip() and (pattern or base.get('error_pattern')) is None:
            self.fail('%serror_level: must not be empty unless error_pattern is set' % prefix)
        minutes = values['window_minutes']
        if minutes is not None and not 1 <= minutes <= MAX_WINDOW_MINUTES:
            self.fail('%swindow_minutes: must be between 1 and %d, got %d' % (prefix, MAX_WINDOW_MINUTES, minutes))
        settings = dict(base)
        for key in ('format', 'latency_unit', 'error_level', 'error_pattern', 'window_minutes'):
            if values[key] is not None:
                settings[key] = values[key]
        settings['fields'] = self._fields(values['fields'], prefix + 'fields', base['fields'])
        settings['thresholds'] = self._thresholds(values['thresholds'], prefix + 'thresholds', base['thresholds'])
        return settings

    def validate(self):
        params = self.params
        base = {'format': 'access', 'latency_unit': 's', 'error_level': None, 'error_pattern': None,
                'window_minutes': None, 'fields': DEFAULT_FIELDS, 'thresholds': DEFAULT_THRESHOLDS}
        defaults = self._settings(params, '', base)
        if params['state_file'] is not None and not params['state_file'].strip():
            self.fail('state_file: must name a file')
        if not 1 <= params['top'] <= 1000:
            self.fail('top: must be between 1 and 1000, got %d' % params['top'])
        if not params['top'] <= params['top_capacity'] <= 100000:
            self.fail('top_capacity: must be between top (%d) and 100000, got %d' % (params['top'], params['top_capacity']))
        if not params['files']:
            self.fail('files: give at least one log file')
        entries = []
        seen = {}
        for index, spec in enumerate(params['files']):
            prefix = 'files[%d].' % index
            path = spec['path']
            if not path or not path.strip():
                self.fail('%spath: must name a log file' % prefix)
            key = os.path.abspath(path)
            if key in seen:
                self.fail('%spath: %s is already files[%d].path; give each log once' % (prefix, path, seen[key]))
            seen[key] = index
            settings = self._settings(spec, prefix, defaults)
            if settings['window_minutes'] is None and not params['state_file']:
                self.fail('state_file: required for the window since the last run of %spath %s '
                          '(or set window_minutes)' % (prefix, path))
            try:
                settings['thresholds'] = parse_thresholds(settings['thresholds'], DEFAULT_THRESHOLDS, prefix + 'thresholds')
            except ValueError as exc:
                self.fail(str(exc))
            settings.update(index=index, path=path)
            entries.append(settings)
        return entries

    def run(self):
        entries = self.validate()
        params = self.params
        now = time.time()
        state = None
        logs = {}
        try:
            if any(entry['window_minutes'] is None for entry in entries):
                state = StateFile(params['state_file']).load()
            for entry in entries:
                logs[entry['path']] = self.read(entry, state, now)
            if state is not None and not self.module.check_mode:
                try:
                    state.save()
                except OSError as exc:
                    self.fail('state_file: cannot write %s: %s' % (params['state_file'], exc.strerror or exc))
        except (LogStatsError, FileRefused) as exc:
            # The state file's own errors; a log's are reported as its log_file check.
            self.fail(exc.msg)
        finish(self.module, self.report, logs=logs, state_updated=state is not None and not self.module.check_mode)

    def read(self, entry, state, now):
        """Read one log into the report; returns its figures for ``logs``."""
        params = self.params
        path = entry['path']
        param = 'files[%d].path' % entry['index']
        minutes = entry['window_minutes']
        window_start = now - minutes * 60 if minutes else None
        stats = Stats(capacity=params['top_capacity'])
        level = entry['error_level'] if entry['error_level'] is not None else 'ERROR'
        matcher = ErrorMatcher(level.strip(), entry['error_pattern'])
        fmt = entry['format']
        if fmt == 'access':
            parser = AccessParser(stats, window_start)
        elif fmt == 'json':
            parser = JsonParser(stats, entry['fields'], entry['latency_unit'], matcher, window_start)
        else:
            parser = PlainParser(stats, matcher, window_start)
        log = {
            'path': os.path.abspath(path),
            'format': fmt,
            'window': 'last %d minutes' % minutes if window_start else 'since_last_run',
        }
        try:
            info = collect(path, parser, stats, state if window_start is None else None, window_start, param, now)
        except (LogStatsError, FileRefused) as exc:
            message = exc.msg
        except OSError as exc:
            message = '%s: cannot read %s: %s' % (param, path, exc.strerror or exc)
        else:
            message = None
        if message is not None:
            # This log is not measured (its state is not advanced); the others still are.
            self.report.add('log_file', None, target=path, status=CRITICAL, message=message)
            log['error'] = message
            return log
        self.judge(stats, entry, path)
        if info.get('missed_rotation'):
            # Counts that miss lines are not an OK.
            self.report.add('rotation', None, target=path, status=WARNING, message='rotation %s: %s' % (path, info['notes'][-1]))
        latency = stats.latency
        log.update({
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
        })
        return log

    def judge(self, stats, entry, path):
        fmt = entry['format']
        thresholds = entry['thresholds']

        def add(name, value, unit, status=None, message=None):
            return self.report.add(name, value, unit, None if status else thresholds[name], target=path,
                                   status=status, message=message and '%s %s: %s' % (name, path, message))

        def unknown(name, reason, unit='count'):
            self.report.unknown(name, '%s %s: %s' % (name, path, reason), target=path, unit=unit)

        window_lines = stats.lines - stats.outside
        parsed = window_lines - stats.unparsed
        first = add('unparsed', stats.unparsed, 'count')
        if window_lines == 0:
            first['message'] = 'unparsed %s: 0 (no lines in the window)' % path
        if fmt != 'plain':
            if window_lines and stats.requests == 0 and (fmt == 'access' or parsed <= 0):
                reason = 'none of the %d lines in the window parsed as %s log lines' % (
                    window_lines, 'combined-format' if fmt == 'access' else 'JSON')
                for name, unit in (('requests', 'count'), ('rate_5xx', 'percent'), ('latency_p95', 'seconds')):
                    unknown(name, reason, unit)
                return
            add('requests', stats.requests, 'count')
            for name, part in (('rate_5xx', stats.status_5xx), ('rate_4xx', stats.status_4xx)):
                if stats.requests:
                    add(name, _rate(part, stats.requests), 'percent')
                else:
                    add(name, None, 'percent', OK, 'no requests in the window')
            for name, q in (('latency_p50', 0.5), ('latency_p95', 0.95), ('latency_p99', 0.99)):
                value = stats.latency.quantile(q)
                if value is not None:
                    add(name, value, 'seconds')
                elif stats.requests and fmt == 'access':
                    add(name, None, 'seconds', OK, 'the log has no $request_time field')
                elif stats.requests:
                    add(name, None, 'seconds', OK, 'no line has the latency field %r' % entry['fields']['latency'])
                else:
                    add(name, None, 'seconds', OK, 'no requests in the window')
        if fmt != 'access':
            if fmt == 'json' and window_lines and parsed <= 0:
                unknown('errors', 'none of the %d lines in the window is a JSON object' % window_lines)
                return
            add('errors', stats.errors, 'count')


def main():
    argument_spec = status_argument_spec(thresholds=True)
    argument_spec.update(
        files=dict(type='list', elements='dict', required=True, options=dict(
            path=dict(type='path', required=True),
            format=dict(type='str', choices=['access', 'json', 'plain']),
            fields=dict(type='dict'),
            latency_unit=dict(type='str', choices=['s', 'ms', 'us']),
            error_level=dict(type='str'),
            error_pattern=dict(type='str'),
            window_minutes=dict(type='int'),
            thresholds=dict(type='dict'),
        )),
        format=dict(type='str', choices=['access', 'json', 'plain'], default='access'),
        fields=dict(type='dict', default={}),
        latency_unit=dict(type='str', choices=['s', 'ms', 'us'], default='s'),
        error_level=dict(type='str', default='ERROR'),
        error_pattern=dict(type='str'),
        window_minutes=dict(type='int'),
        state_file=dict(type='path'),
        top=dict(type='int', default=10),
        top_capacity=dict(type='int', default=1000),
    )
    module = RunbookModule(argument_spec=argument_spec, supports_check_mode=True)
    LogStats(module).run()


if __name__ == '__main__':
    main()
