# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Capacity trends from the dated fleet reports that every daily run keeps under history/.

For every host and every series (metric name, target), a least-squares line through the samples of
the window gives the growth per day; from the newest sample the line is followed to the limit:

* percent metrics: the metric's own critical threshold in the newest sample when it is a plain
  upper bound (``95``, ``~:95``), otherwise 100 %; a limit given for the metric wins over both.
* bytes and other units: only the limit given for the metric; without one the growth is reported
  and not judged.

The days to the limit are counted from the newest sample, along the fitted growth, and judged with the status model's ranges (``90:`` warns below 90 days).

A sharp drop (a cleanup, a VACUUM FULL, a grown volume) starts the series afresh: only the samples
from the last drop on are fitted, because the growth before it says nothing about the volume as it
is now. A drop is a fall between two consecutive samples of more than ``drop_ratio`` of the earlier
value.

A series with fewer than ``min_samples`` samples, or whose samples span less than a day, is
reported with its last value but not judged (status OK, ``judged: false``).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import glob
import json
import math
import os
import re
import time

from ansible_collections.fleetops.runbook.plugins.module_utils.status import (
    OK,
    UNKNOWN,
    CheckReport,
    human_bytes,
    parse_thresholds,
)

SCHEMA_VERSION = 1
DAY = 86400.0
MIN_SPAN_DAYS = 1.0

# The column of the daily report each known metric is read from.
KNOWN_COLUMNS = {
    'disk': 'resource',
    'inodes': 'resource',
    'memory': 'resource',
    'swap': 'resource',
    'database_size': 'pg_health',
}

DEFAULT_METRICS = (
    {'name': 'disk', 'column': 'resource'},
    {'name': 'inodes', 'column': 'resource'},
    {'name': 'database_size', 'column': 'pg_health'},
)

# Capacity is reviewed monthly and the infrastructure quarterly: a resource that runs out before
# the next quarterly review needs planning now (warning); one that runs out before the next
# monthly review needs action now (critical).
DEFAULT_THRESHOLDS = {'warning': '90:', 'critical': '30:'}

_STAMP_RE = re.compile(r'-(\d{8}T\d{6}Z)(?:_\d{2})?\.json$')
_TIME_FORMAT = '%Y-%m-%dT%H:%M:%SZ'


class TrendError(ValueError):
    """A bad option; the message names it."""


def parse_time(text):
    """Seconds since the epoch of a report time stamp (``2026-11-23T03:00:00Z``); None if invalid."""
    if not isinstance(text, str):
        return None
    try:
        return float(calendar.timegm(time.strptime(text, _TIME_FORMAT)))
    except ValueError:
        return None


def _stamp_time(path):
    match = _STAMP_RE.search(os.path.basename(path))
    if not match:
        return None
    try:
        return float(calendar.timegm(time.strptime(match.group(1), '%Y%m%dT%H%M%SZ')))
    except ValueError:
        return None


def normalize_metrics(metrics, param='metrics'):
    """Check the metric list and fill in the known columns; returns a list of dicts."""
    if metrics is None:
        metrics = DEFAULT_METRICS
    out = []
    seen = set()
    for index, item in enumerate(metrics):
        where = '%s[%d]' % (param, index)
        if not isinstance(item, dict):
            raise TrendError('%s: expected a mapping with name, column and limit' % where)
        name = item.get('name')
        if not isinstance(name, str) or not name:
            raise TrendError('%s.name: a metric name is required' % where)
        column = item.get('column') or KNOWN_COLUMNS.get(name)
        if not column:
            raise TrendError('%s.column: required for %r (known metrics: %s)' % (
                where, name, ', '.join(sorted(KNOWN_COLUMNS))))
        limit = item.get('limit')
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, float))
                                  or limit <= 0):
            raise TrendError('%s.limit: %r is not a positive number' % (where, limit))
        if name in seen:
            raise TrendError('%s.name: %r is listed twice' % (where, name))
        seen.add(name)
        out.append({'name': name, 'column': column,
                    'limit': float(limit) if limit is not None else None})
    if not out:
        raise TrendError('%s: name at least one metric' % param)
    return out


def metric_thresholds(given, metrics, param='thresholds'):
    """Thresholds on the days to the limit, per metric name, over DEFAULT_THRESHOLDS."""
    defaults = dict((m['name'], dict(DEFAULT_THRESHOLDS)) for m in metrics)
    try:
        return parse_thresholds(given, defaults, param=param)
    except ValueError as exc:
        raise TrendError(str(exc))


def _foreign(document, report):
    if not isinstance(document, dict):
        return 'not a fleet report (no JSON object)'
    if document.get('report') != report:
        return 'a report of %r, not %r' % (document.get('report'), report)
    if document.get('schema_version') != SCHEMA_VERSION:
        return 'schema version %r, expected %d' % (document.get('schema_version'), SCHEMA_VERSION)
    if not isinstance(document.get('hosts'), list):
        return 'no hosts list'
    if parse_time(document.get('started_at')) is None:
        return 'started_at %r is not a UTC time stamp' % (document.get('started_at'),)
    return None


def read_history(directory, report, window_days, now):
    """The reports named ``report`` under ``directory`` started within the window.

    Returns ``(documents, read, skipped)``: documents oldest first, the paths read, and
    ``{'path', 'reason'}`` for every file that could not be used. Files whose name shows they were
    finished before the window are not opened.
    """
    cutoff = now - window_days * DAY
    documents = []
    read = []
    skipped = []
    for path in sorted(glob.glob(os.path.join(glob.escape(directory), '%s-*.json' % glob.escape(report)))):
        stamp = _stamp_time(path)
        if stamp is not None and stamp < cutoff:
            continue
        try:
            with open(path, 'rb') as handle:
                document = json.loads(handle.read().decode('utf-8'))
        except (IOError, OSError) as exc:
            skipped.append({'path': path, 'reason': 'cannot read: %s' % (exc.strerror or exc)})
            continue
        except ValueError as exc:
            skipped.append({'path': path, 'reason': 'not valid JSON: %s' % exc})
            continue
        reason = _foreign(document, report)
        if reason:
            skipped.append({'path': path, 'reason': reason})
            continue
        started = parse_time(document['started_at'])
        if started < cutoff:
            continue
        documents.append((started, path, document))
        read.append(path)
    documents.sort(key=lambda item: (item[0], item[1]))
    return [(started, document) for started, _path, document in documents], read, skipped


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def collect_series(documents, metrics):
    """``{host: {(name, target): series}}`` from the documents, oldest sample first.

    A series holds its column, unit and samples ``(time, value, critical)``; a host or a check
    missing from some reports simply has fewer samples.
    """
    wanted = dict((m['name'], m['column']) for m in metrics)
    hosts = {}
    for started, document in documents:
        for host in document['hosts']:
            if not isinstance(host, dict) or not isinstance(host.get('host'), str):
                continue
            results = host.get('results')
            if not isinstance(results, dict):
                continue
            per_host = hosts.setdefault(host['host'], {})
            seen = set()
            for name, column in wanted.items():
                cell = results.get(column)
                if not isinstance(cell, dict) or not isinstance(cell.get('checks'), list):
                    continue
                for check in cell['checks']:
                    if not isinstance(check, dict) or check.get('name') != name:
                        continue
                    target = check.get('target')
                    key = (name, target if isinstance(target, str) else None)
                    if key in seen or not _number(check.get('value')):
                        continue
                    seen.add(key)
                    series = per_host.setdefault(key, {'column': column, 'unit': check.get('unit') or '',
                                                       'samples': []})
                    series['unit'] = check.get('unit') or ''
                    series['samples'].append((started, float(check['value']), check.get('critical')))
    return hosts


def least_squares(points):
    """Slope and intercept of the least-squares line through ``(x, y)`` points."""
    count = len(points)
    mean_x = sum(x for x, _y in points) / count
    mean_y = sum(y for _x, y in points) / count
    sxx = sum((x - mean_x) ** 2 for x, _y in points)
    if sxx == 0:
        return 0.0, mean_y
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    slope = sxy / sxx
    return slope, mean_y - slope * mean_x


def since_last_drop(samples, drop_ratio):
    """The samples from the last sharp drop on, and the time of that drop (None without one)."""
    start = 0
    for index in range(1, len(samples)):
        before = samples[index - 1][1]
        if before > 0 and samples[index][1] < before * (1.0 - drop_ratio):
            start = index
    return samples[start:], (samples[start][0] if start else None)


def _upper_bound(spec):
    """The value above which a plain upper-bound range (``95``, ``~:95``, ``0:95``) alerts."""
    if not isinstance(spec, (str, int, float)) or isinstance(spec, bool):
        return None
    text = str(spec).strip()
    match = re.match(r'^(?:(?:~|0(?:\.0*)?)?:)?([-+]?\d+(?:\.\d*)?)$', text)
    if not match:
        return None
    value = float(match.group(1))
    return value if 0 < value <= 100 else None


def limit_of(unit, samples, configured):
    """The limit of a series and where it comes from."""
    if configured is not None:
        return configured, 'option'
    if unit == 'percent':
        critical = _upper_bound(samples[-1][2])
        if critical is not None:
            return critical, 'critical threshold'
        return 100.0, 'full'
    return None, None


def _round(value, digits=3):
    return None if value is None else round(value, digits)


def _day(timestamp):
    return time.strftime(_TIME_FORMAT, time.gmtime(timestamp))


def _shown(value, unit):
    if unit == 'percent':
        return '%s%%' % _round(value, 2)
    if unit == 'bytes':
        return human_bytes(value)
    return ('%s %s' % (_round(value, 3), unit)).strip()


def analyse(samples, unit, configured_limit, horizon_days, min_samples, drop_ratio):
    """The trend of one series; a dict with everything the report shows about it."""
    used, drop_at = since_last_drop(samples, drop_ratio)
    first, last = used[0][0], used[-1][0]
    last_value = used[-1][1]
    limit, limit_source = limit_of(unit, used, configured_limit)
    info = {
        'unit': unit,
        'samples': len(samples),
        'samples_used': len(used),
        'first_at': _day(first),
        'last_at': _day(last),
        'span_days': _round((last - first) / DAY),
        'dropped_at': _day(drop_at) if drop_at is not None else None,
        'last_value': _round(last_value, 6),
        'limit': limit,
        'limit_source': limit_source,
        'horizon_days': horizon_days,
        'growth_per_day': None,
        'projected': None,
        'days_to_limit': None,
        'judged': False,
        'reason': None,
    }
    if len(used) < min_samples:
        info['reason'] = '%d sample(s)%s, at least %d needed' % (
            len(used), ' since the drop' if drop_at is not None else '', min_samples)
        return info
    if (last - first) / DAY < MIN_SPAN_DAYS:
        info['reason'] = 'the samples span %.2f days, less than %g' % ((last - first) / DAY, MIN_SPAN_DAYS)
        return info
    slope, _intercept = least_squares([((t - first) / DAY, v) for t, v, _c in used])
    info['growth_per_day'] = _round(slope, 6)
    info['projected'] = _round(last_value + slope * horizon_days, 6)
    if limit is None:
        info['reason'] = 'no limit for %s' % (unit or 'this unit')
        return info
    info['judged'] = True
    if last_value >= limit:
        info['days_to_limit'] = 0.0
    elif slope > 0:
        info['days_to_limit'] = _round((limit - last_value) / slope, 1)
    return info


def _message(name, target, info):
    label = '%s %s' % (name, target) if target else name
    unit = info['unit']
    now = _shown(info['last_value'], unit)
    if info['growth_per_day'] is None or not info['judged']:
        text = '%s at %s, not judged: %s' % (label, now, info['reason'])
        if info['growth_per_day'] is not None:
            text = '%s at %s, %s%s per day, not judged: %s' % (
                label, now, '+' if info['growth_per_day'] >= 0 else '-',
                _shown(abs(info['growth_per_day']), unit), info['reason'])
        return text
    limit = _shown(info['limit'], unit)
    growth = info['growth_per_day']
    sign = '+' if growth >= 0 else '-'
    text = '%s at %s, %s%s per day' % (label, now, sign, _shown(abs(growth), unit))
    if info['days_to_limit'] == 0:
        text += ', at or above the limit %s' % limit
    elif info['days_to_limit'] is None:
        text += ', not growing towards the limit %s' % limit
    else:
        text += ', reaches %s in %s days' % (limit, _round(info['days_to_limit'], 1))
    if info['dropped_at']:
        text += ' (since the drop at %s)' % info['dropped_at']
    return text


def host_trend(series, metrics, thresholds, horizon_days, min_samples, drop_ratio):
    """The CheckReport result of one host, with ``series`` beside the checks."""
    report = CheckReport('capacity_trend')
    details = []
    limits = dict((m['name'], m['limit']) for m in metrics)
    order = [m['name'] for m in metrics]
    if not series:
        report.unknown('capacity', 'no samples of %s in the window' % ', '.join(order))
    keys = sorted(series, key=lambda k: (order.index(k[0]), k[1] or ''))
    for name, target in keys:
        data = series[(name, target)]
        info = analyse(data['samples'], data['unit'], limits[name], horizon_days, min_samples,
                       drop_ratio)
        message = _message(name, target, info)
        if info['judged'] and info['days_to_limit'] is not None:
            check = report.add(name, info['days_to_limit'], unit='days', target=target,
                               thresholds=thresholds[name], message=message)
            message = check['message']
            if check['status'] != OK:
                level = check['warning'] if check['status'] == 'WARNING' else check['critical']
                check['message'] = '%s (%s %s days)' % (message, check['status'].lower(), level)
        else:
            report.add(name, None, unit='days', target=target, thresholds=thresholds[name],
                       message=message, status=OK)
        info.update(name=name, target=target, column=data['column'])
        details.append(info)
    result = report.result()
    result['series'] = details
    return result


def missing_host(reason):
    report = CheckReport('capacity_trend')
    report.add('capacity', None, status=UNKNOWN, message=reason)
    result = report.result()
    result['series'] = []
    return result


def capacity_trend(directory, report='daily_checks', window_days=30, metrics=None, thresholds=None,
                   horizon_days=90, min_samples=3, drop_ratio=0.1, hosts=None, now=None):
    """Read the history once and return ``{'hosts': {...}, 'files_read': [...], 'files_skipped': [...]}``."""
    if isinstance(window_days, bool) or not isinstance(window_days, (int, float)) \
            or not 0 < window_days < float('inf'):
        raise TrendError('window: %r is not a positive number of days' % (window_days,))
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, (int, float)) \
            or not 0 <= horizon_days < float('inf'):
        raise TrendError('horizon: %r is not a number of days (0 or more)' % (horizon_days,))
    if isinstance(min_samples, bool) or not isinstance(min_samples, int) or min_samples < 2:
        raise TrendError('min_samples: %r is too small; a line needs at least 2 samples' % (min_samples,))
    if isinstance(drop_ratio, bool) or not isinstance(drop_ratio, (int, float)) or not 0 < drop_ratio <= 1:
        raise TrendError('drop_ratio: %r is not a fraction above 0 and at most 1' % (drop_ratio,))
    metrics = normalize_metrics(metrics)
    parsed = metric_thresholds(thresholds, metrics)
    # No directory yet (no daily run so far) is an empty history: every host is UNKNOWN.
    if os.path.exists(directory) and not os.path.isdir(directory):
        raise TrendError('history_dir: %s is not a directory' % directory)
    now = time.time() if now is None else now
    documents, read, skipped = read_history(directory, report, window_days, now)
    found = collect_series(documents, metrics)
    if not read:
        reason = 'no %s report in %s within %g days' % (report, directory, window_days)
    else:
        reason = 'no samples of this host in the window'
    results = {}
    for host in (hosts if hosts is not None else sorted(found)):
        if host in found:
            results[host] = host_trend(found[host], metrics, parsed, horizon_days, min_samples, drop_ratio)
        else:
            results[host] = missing_host(reason)
    return {'hosts': results, 'files_read': read, 'files_skipped': skipped}
