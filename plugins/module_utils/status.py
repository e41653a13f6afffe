# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The status model every check module of fleetops.runbook speaks.

A check module collects individual measurements in a :class:`CheckReport`, each judged against
``warning`` / ``critical`` thresholds written in the monitoring-plugins range syntax, and ends with
:func:`finish`, which returns the same keys for every module: ``status``, ``checks``, ``summary``,
``perfdata`` and ``metrics``, and fails the task only as ``fail_on`` says.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re

OK = 'OK'
WARNING = 'WARNING'
CRITICAL = 'CRITICAL'
UNKNOWN = 'UNKNOWN'

# Ordered like the exit codes of monitoring plugins: the worst status is the highest code.
STATUS_CODES = {OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3}

# The order people read statuses in (reports, notifications, headlines): a CRITICAL finding is the
# one to act on first, then what could not be checked, as Checkmk and Icinga rank them. The exit-code
# order above stays the order of a single check (perfdata, Nagios plugins, fail_on).
URGENCY = (CRITICAL, UNKNOWN, WARNING, OK)
_URGENCY_RANK = dict((status, rank) for rank, status in enumerate(URGENCY))

FAIL_ON_CHOICES = ['critical', 'warning', 'unknown', 'never']

# Units of the status model, with the unit of measure perfdata uses for them.
PERFDATA_UOM = {
    'percent': '%',
    'seconds': 's',
    'milliseconds': 'ms',
    'bytes': 'B',
    'count': '',
    'ratio': '',
    'days': '',
    '': '',
}

METRIC_PREFIX = 'fleetops'


class RangeError(ValueError):
    """A threshold that is not valid range syntax."""


_NUMBER = r'[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?'
_RANGE_RE = re.compile(
    r'^(?P<inside>@)?(?:(?P<start>~|%s)?:)?(?P<end>%s)?$' % (_NUMBER, _NUMBER))


class Range:
    """A monitoring-plugins threshold range.

    ``10``      alert when the value is < 0 or > 10
    ``10:``     alert when the value is < 10
    ``~:10``    alert when the value is > 10
    ``10:20``   alert when the value is < 10 or > 20
    ``@10:20``  alert when the value is >= 10 and <= 20
    """

    __slots__ = ('text', 'start', 'end', 'inside')

    def __init__(self, text, start, end, inside):
        self.text = text
        self.start = start
        self.end = end
        self.inside = inside

    @classmethod
    def parse(cls, spec):
        """Parse a range given as text or as a number; ``None`` and ``''`` mean no threshold."""
        if spec is None:
            return None
        if isinstance(spec, bool):
            raise RangeError('a boolean is not a threshold range')
        if isinstance(spec, (int, float)):
            if isinstance(spec, float) and not math.isfinite(spec):
                raise RangeError('%s is not a threshold range: use a finite number' % spec)
            text = _format_number(spec)
        else:
            text = str(spec).strip()
        if text == '':
            return None
        match = _RANGE_RE.match(text)
        if not match or text in ('@', ':', '@:'):
            raise RangeError(
                "'%s' is not a valid range: use N, N:, ~:N, N:M or @N:M" % text)
        start_text = match.group('start')
        end_text = match.group('end')
        for number in (start_text, end_text):
            if number not in (None, '~') and not math.isfinite(float(number)):
                raise RangeError("'%s' is not a valid range: %s is too large a number" % (text, number))
        if start_text == '~':
            start = float('-inf')
        elif start_text is None:
            start = 0.0
        else:
            start = float(start_text)
        end = float('inf') if end_text is None else float(end_text)
        if end_text is None and ':' not in text:
            raise RangeError("'%s' is not a valid range: the end is missing" % text)
        if start > end:
            raise RangeError(
                "'%s' is not a valid range: the start is greater than the end" % text)
        return cls(text, start, end, match.group('inside') is not None)

    def alerts(self, value):
        """True when ``value`` is outside the range (inside it, for ``@`` ranges)."""
        within = self.start <= value <= self.end
        return within if self.inside else not within

    def __repr__(self):
        return 'Range(%r)' % self.text

    def __eq__(self, other):
        return isinstance(other, Range) and (self.start, self.end, self.inside) == (
            other.start, other.end, other.inside)

    def __hash__(self):
        return hash((self.start, self.end, self.inside))


def _format_number(value):
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return ('%.6f' % value).rstrip('0').rstrip('.')


def human_duration(seconds):
    """A duration for a message: seconds below two minutes, minutes below two hours, hours below
    two days, then days."""
    seconds = float(seconds)
    if abs(seconds) < 120:
        return '%.1f s' % seconds
    if abs(seconds) < 7200:
        return '%.1f min' % (seconds / 60)
    if abs(seconds) < 172800:
        return '%.1f h' % (seconds / 3600)
    return '%.1f days' % (seconds / 86400)


def human_bytes(value):
    """A size for a message, in binary units: 0 B, 1.5 KiB, 5.0 GiB."""
    value = float(value or 0)
    for unit in ('B', 'KiB', 'MiB', 'GiB'):
        if abs(value) < 1024:
            return ('%.0f %s' if unit == 'B' else '%.1f %s') % (value, unit)
        value /= 1024.0
    return '%.1f TiB' % value


def range_note(check):
    """What a message adds for a check that broke a range: ' (critical 95)', ' (warning 85)' or
    nothing. ``check`` is a recorded check (status, warning and critical texts)."""
    if check['status'] == CRITICAL and check.get('critical'):
        return ' (critical %s)' % check['critical']
    if check['status'] == WARNING and check.get('warning'):
        return ' (warning %s)' % check['warning']
    return ''


def worst(statuses):
    """The worst of some statuses (OK when there are none)."""
    result = OK
    for status in statuses:
        if STATUS_CODES[status] > STATUS_CODES[result]:
            result = status
    return result


def urgency(status):
    """Sort key of a status in the human order: 0 for CRITICAL, then UNKNOWN, WARNING, OK; anything
    else (a check that does not apply) after OK."""
    return _URGENCY_RANK.get(status, len(URGENCY))


def most_urgent(statuses):
    """The status a person acts on first among ``statuses`` (OK when there are none): CRITICAL
    before UNKNOWN. For the exit code of one check, use :func:`worst`."""
    result = OK
    for status in statuses:
        if urgency(status) < urgency(result):
            result = status
    return result


def reaches(status, fail_on):
    """True when ``status`` reaches the ``fail_on`` level (``never`` is never reached)."""
    if fail_on == 'never':
        return False
    return STATUS_CODES[status] >= STATUS_CODES[fail_on.upper()]


class Thresholds:
    """The warning and critical ranges of one check."""

    __slots__ = ('warning', 'critical')

    def __init__(self, warning=None, critical=None):
        self.warning = warning
        self.critical = critical

    def judge(self, value):
        if value is None:
            return UNKNOWN
        if self.critical is not None and self.critical.alerts(value):
            return CRITICAL
        if self.warning is not None and self.warning.alerts(value):
            return WARNING
        return OK

    def note(self, status):
        """The range a value of ``status`` broke, as a message adds it (see range_note)."""
        return range_note({'status': status,
                           'warning': self.warning.text if self.warning is not None else None,
                           'critical': self.critical.text if self.critical is not None else None})


def parse_thresholds(given, defaults, param='thresholds', allow_unknown=False):
    """Merge user thresholds over defaults and parse them.

    ``given`` maps a check name to ``{'warning': spec, 'critical': spec}`` (either may be left out to
    keep the default, or set to ``null``/``''`` to switch that level off). ``defaults`` has the same
    shape and names every known check. Returns ``{name: Thresholds}``. Raises ``ValueError`` with a
    message that names the parameter and the cause.
    """
    merged = {}
    for name, levels in defaults.items():
        merged[name] = dict(levels)
    for name, levels in (given or {}).items():
        if name not in merged:
            if not allow_unknown:
                raise ValueError('%s: unknown check %r; known checks: %s' % (
                    param, name, ', '.join(sorted(defaults))))
            merged[name] = {}
        if levels is None:
            levels = {}
        if isinstance(levels, (str, int, float)) and not isinstance(levels, bool):
            raise ValueError(
                '%s.%s: expected a mapping with warning and/or critical, got %r' % (param, name, levels))
        if not isinstance(levels, dict):
            raise ValueError('%s.%s: expected a mapping with warning and/or critical' % (param, name))
        for level, spec in levels.items():
            if level not in ('warning', 'critical'):
                raise ValueError("%s.%s: unknown key %r; use 'warning' and 'critical'" % (
                    param, name, level))
            merged[name][level] = spec
    parsed = {}
    for name, levels in merged.items():
        ranges = {}
        for level in ('warning', 'critical'):
            try:
                ranges[level] = Range.parse(levels.get(level))
            except RangeError as exc:
                raise ValueError('%s.%s.%s: %s' % (param, name, level, exc))
        parsed[name] = Thresholds(ranges['warning'], ranges['critical'])
    return parsed


def finite_number(value, param, minimum=None, maximum=None, above=None):
    """``value`` as a float when it is a finite number within the bounds, else ValueError naming
    ``param``. ``minimum``/``maximum`` are inclusive, ``above`` is exclusive."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError('%s: expected a number, got %r' % (param, value))
    try:
        number = float(value)
    except OverflowError:
        number = float('inf') if value > 0 else float('-inf')
    if not math.isfinite(number):
        shown = str(value)
        raise ValueError('%s: must be a finite number, got %s' % (param, shown if len(shown) <= 24 else shown[:20] + '...'))
    if above is not None and not number > above:
        raise ValueError('%s: must be greater than %s, got %s' % (param, _format_number(above), _short_number(number)))
    if minimum is not None and number < minimum:
        raise ValueError('%s: must be at least %s, got %s' % (param, _format_number(minimum), _short_number(number)))
    if maximum is not None and number > maximum:
        raise ValueError('%s: must be at most %s, got %s' % (param, _format_number(maximum), _short_number(number)))
    return number


def _short_number(value):
    return _format_number(value) if abs(value) < 1e15 else '%g' % value


def _clean_value(value):
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return round(value, 6)
    return value


class CheckReport:
    """Collects the individual checks of one module run."""

    def __init__(self, source):
        self.source = source
        self.checks = []

    def add(self, name, value, unit='', thresholds=None, target=None, message=None, status=None,
            labels=None):
        """Record one measurement and judge it.

        ``status`` overrides the judgement (for checks whose outcome is not a number, or that could
        not be measured: pass ``value=None`` and ``status=UNKNOWN`` with a message saying why).
        """
        # Judged as measured: the value kept for display is rounded, and rounding must not decide.
        measured = value
        value = _clean_value(value)
        thresholds = thresholds or Thresholds()
        if status is None:
            if isinstance(value, (int, float)):
                status = thresholds.judge(measured)
            else:
                status = OK if value is not None else UNKNOWN
        if message is None:
            message = self._default_message(name, target, value, unit, status, thresholds)
        check = {
            'name': name,
            'target': target,
            'value': value,
            'unit': unit,
            'warning': thresholds.warning.text if thresholds.warning else None,
            'critical': thresholds.critical.text if thresholds.critical else None,
            'status': status,
            'message': message,
        }
        if labels:
            check['labels'] = dict(labels)
        self.checks.append(check)
        return check

    def unknown(self, name, reason, target=None, unit=''):
        return self.add(name, None, unit=unit, target=target, status=UNKNOWN, message=reason)

    @staticmethod
    def _default_message(name, target, value, unit, status, thresholds):
        label = display_name(name, target)
        if value is None:
            return '%s: no value' % label
        shown = _format_number(value) if isinstance(value, (int, float)) else str(value)
        suffix = PERFDATA_UOM.get(unit, '') if unit == 'percent' else (' ' + unit if unit else '')
        return '%s is %s%s%s' % (label, shown, suffix, thresholds.note(status))

    @property
    def status(self):
        return worst(c['status'] for c in self.checks)

    def summary(self):
        return summarize(self.checks)

    def perfdata(self):
        return perfdata(self.checks)

    def metrics(self, labels=None):
        return metrics_lines(self.checks, self.source, labels)

    def result(self):
        return {
            'status': self.status,
            'checks': self.checks,
            'summary': self.summary(),
            'perfdata': self.perfdata(),
            'metrics': self.metrics(),
        }


def display_name(name, target=None):
    return '%s %s' % (name, target) if target not in (None, '') else name


def summarize(checks):
    """One line for a human: the worst status, then what is not OK, then how many are OK."""
    if not checks:
        return 'UNKNOWN: no checks ran'
    overall = worst(c['status'] for c in checks)
    problems = [c for c in checks if c['status'] != OK]
    problems.sort(key=lambda c: -STATUS_CODES[c['status']])
    ok_count = len(checks) - len(problems)
    parts = [c['message'] if c['status'] == overall else '%s %s' % (c['status'], c['message'])
             for c in problems]
    if ok_count:
        parts.append('%d OK' % ok_count)
    return '%s: %s' % (overall, '; '.join(parts))


def _perf_label(check):
    label = display_name(check['name'], check.get('target'))
    label = label.replace("'", '"').replace('=', '_')
    if re.search(r"[\s']", label):
        return "'%s'" % label
    return label


def perfdata(checks):
    """Nagios perfdata: 'label'=value[UOM];warn;crit for every numeric check."""
    items = []
    for check in checks:
        value = check['value']
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        uom = PERFDATA_UOM.get(check['unit'], '')
        fields = [
            '%s%s' % (_format_number(value), uom),
            check['warning'] or '',
            check['critical'] or '',
        ]
        if check['unit'] == 'percent':
            fields.extend(['0', '100'])
        items.append('%s=%s' % (_perf_label(check), ';'.join(fields).rstrip(';')))
    return ' '.join(items)


def _metric_name(text):
    name = re.sub(r'[^a-zA-Z0-9_]', '_', text)
    if not re.match(r'[a-zA-Z_]', name):
        name = '_' + name
    return name


def _label_value(value):
    return str(value).replace('\\', '\\\\').replace('\n', '\\n').replace('"', '\\"')


def _labels(pairs):
    return '{%s}' % ','.join('%s="%s"' % (_metric_name(k), _label_value(v)) for k, v in pairs)


def metrics_lines(checks, source, extra_labels=None):
    """Prometheus text exposition lines: a status gauge for every check, a value gauge for numbers."""
    status_name = '%s_check_status' % METRIC_PREFIX
    value_name = '%s_check_value' % METRIC_PREFIX
    base = sorted((extra_labels or {}).items())
    status_lines = []
    value_lines = []
    for check in checks:
        pairs = base + [('source', source), ('check', check['name'])]
        if check.get('target') not in (None, ''):
            pairs.append(('target', check['target']))
        for key, val in sorted((check.get('labels') or {}).items()):
            pairs.append((key, val))
        status_lines.append('%s%s %d' % (status_name, _labels(pairs), STATUS_CODES[check['status']]))
        value = check['value']
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value_lines.append('%s%s %s' % (
                value_name, _labels(pairs + [('unit', check['unit'] or 'none')]), repr(float(value))))
    lines = [
        '# HELP %s Status of a fleetops.runbook check (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).' % status_name,
        '# TYPE %s gauge' % status_name,
    ] + status_lines
    if value_lines:
        lines += [
            '# HELP %s Measured value of a fleetops.runbook check.' % value_name,
            '# TYPE %s gauge' % value_name,
        ] + value_lines
    return lines


def status_argument_spec(thresholds=False):
    """Options every check module shares; ``thresholds=True`` adds the ``thresholds`` option of a
    module that judges values against ranges. Its default is empty: what the user gives is merged
    over the module's own defaults by :func:`parse_thresholds`."""
    spec = dict(
        fail_on=dict(type='str', default='critical', choices=FAIL_ON_CHOICES),
    )
    if thresholds:
        spec['thresholds'] = dict(type='dict', default={})
    return spec


def finish(module, report, **extra):
    """End a check module: exit with the status-model keys, or fail as ``fail_on`` says.

    A failed task still returns every key, so a registered result is complete either way.
    """
    result = report.result()
    result.update(extra)
    result.setdefault('changed', False)
    fail_on = module.params.get('fail_on') or 'critical'
    if reaches(result['status'], fail_on):
        module.fail_json(msg=result['summary'], **result)
    module.exit_json(**result)


def merge_metrics(line_lists):
    """Merge several modules' exposition lines into one valid document.

    Each metric keeps one HELP and one TYPE line, followed by all of its samples; samples that
    repeat exactly are written once.
    """
    order = []
    comments = {}
    samples = {}
    for lines in line_lists:
        for line in lines or []:
            line = line.rstrip('\n')
            if not line:
                continue
            if line.startswith('#'):
                parts = line.split(None, 3)
                if len(parts) >= 3 and parts[1] in ('HELP', 'TYPE'):
                    name = parts[2]
                    if name not in comments:
                        comments[name] = {}
                        order.append(name)
                    comments[name].setdefault(parts[1], line)
                continue
            name = re.split(r'[{\s]', line, maxsplit=1)[0]
            if name not in comments:
                comments[name] = {}
                order.append(name)
            bucket = samples.setdefault(name, [])
            if line not in bucket:
                bucket.append(line)
    out = []
    for name in order:
        for kind in ('HELP', 'TYPE'):
            if kind in comments[name]:
                out.append(comments[name][kind])
        out.extend(samples.get(name, []))
    return out


# --------------------------------------------------------------------------------------------
# Durations given as parameters (max_age, grace, retention): seconds or a number with a unit


class ParameterError(ValueError):
    """Bad input: the message names the parameter and the cause."""


DURATION_RE = re.compile(r'^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$')
DURATION_UNITS = {'': 1, 's': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}


def parse_duration(value, param):
    """Seconds from 300, '300', '90m', '1h', '2d'."""
    if isinstance(value, bool):
        raise ParameterError('%s: expected a duration such as 3600, 90m, 1h or 2d' % param)
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = DURATION_RE.match(str(value))
        if not match:
            raise ParameterError('%s: %r is not a duration; use seconds or a number with s, m, h, '
                                 'd or w (e.g. 1h)' % (param, value))
        seconds = float(match.group(1)) * DURATION_UNITS[match.group(2)]
    if seconds <= 0:
        raise ParameterError('%s: the duration must be greater than zero' % param)
    return seconds
