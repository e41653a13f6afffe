# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How often a systemd OnCalendar schedule fires, and what that means for a backup's RPO.

Only the subset of the OnCalendar syntax that backup schedules use is understood; anything else is
refused with a message naming it, so that an objective is never derived from a guess:

    hourly, daily, weekly, monthly
    [WEEKDAYS] [*-*-DAYS] HOURS:MINUTES[:SECONDS]

WEEKDAYS is a comma list of Mon..Sun names or ranges (Mon..Fri); DAYS ``*`` or a comma list of
days of the month; HOURS, MINUTES and SECONDS ``*``, a number, a comma list, a range ``a..b`` or a
step ``a/n`` / ``*/n``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.fleetops.runbook.plugins.module_utils.status import ParameterError, human_duration, parse_duration

WEEKDAYS = ('mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun')
SHORTHANDS = {
    'hourly': '*-*-* *:00:00',
    'daily': '*-*-* 00:00:00',
    'weekly': 'Mon *-*-* 00:00:00',
    'monthly': '*-*-01 00:00:00',
}
WEEK = 7 * 86400
# the longest month: a schedule on given days of the month is judged by its worst gap
MONTH_DAYS = 31


class ScheduleError(ParameterError):
    pass


def _values(field, low, high, what, spec):
    """The set of values a time field (``*``, ``5``, ``1,2``, ``8..18``, ``*/15``, ``0/20``) names."""
    found = set()
    for part in field.split(','):
        step = 1
        if '/' in part:
            part, dummy, step_text = part.partition('/')
            if not step_text.isdigit() or int(step_text) < 1:
                raise ScheduleError('%r: the step of %s must be a positive number' % (spec, what))
            step = int(step_text)
            if part != '*' and not part.isdigit():
                raise ScheduleError('%r: %s: a step starts at * or a number' % (spec, what))
            start, end = (low if part == '*' else int(part)), high
        elif part == '*':
            start, end = low, high
        elif '..' in part:
            first, dummy, last = part.partition('..')
            if not (first.isdigit() and last.isdigit()):
                raise ScheduleError('%r: %s: %r is not a range of numbers' % (spec, what, part))
            start, end = int(first), int(last)
        elif part.isdigit():
            start = end = int(part)
        else:
            raise ScheduleError('%r: %s: %r is not understood (a number, a list, a..b, */n)'
                                % (spec, what, part))
        if start < low or end > high or start > end:
            raise ScheduleError('%r: %s must lie within %d..%d' % (spec, what, low, high))
        found.update(range(start, end + 1, step))
    return found


def _weekdays(field, spec):
    days = set()
    for part in field.lower().split(','):
        first, dummy, last = part.partition('..')
        try:
            start = WEEKDAYS.index(first[:3])
            end = WEEKDAYS.index(last[:3]) if last else start
        except ValueError:
            raise ScheduleError('%r: %r is not a weekday (Mon..Sun)' % (spec, part))
        if end < start:
            raise ScheduleError('%r: the weekday range %r runs backwards' % (spec, part))
        days.update(range(start, end + 1))
    return days


def _max_gap(points, cycle):
    """The longest time between consecutive points of a cyclic schedule."""
    points = sorted(points)
    gaps = [b - a for a, b in zip(points, points[1:])]
    gaps.append(points[0] + cycle - points[-1])
    return max(gaps)


def interval_seconds(spec):
    """The longest time, in seconds, between two firings of the OnCalendar schedule ``spec``."""
    if not isinstance(spec, str) or not spec.strip():
        raise ScheduleError('%r: an OnCalendar schedule such as "*-*-* 03:00:00" is needed' % (spec,))
    text = SHORTHANDS.get(spec.strip().lower(), spec.strip())
    words = text.split()
    weekdays = set(range(7))
    date = '*-*-*'
    if words and words[0][:1].isalpha():
        weekdays = _weekdays(words.pop(0), spec)
    if words and words[0].count('-') == 2:
        date = words.pop(0)
    if len(words) != 1:
        raise ScheduleError('%r: expected [weekdays] [*-*-days] hh:mm[:ss]; time zones, years and '
                            'months are not supported here: give max_age explicitly' % (spec,))
    year, month, day = date.split('-')
    if year != '*' or month != '*':
        raise ScheduleError('%r: schedules on given years or months are not supported here: give '
                            'max_age explicitly' % (spec,))
    fields = words[0].split(':')
    if len(fields) not in (2, 3):
        raise ScheduleError('%r: the time must be hh:mm or hh:mm:ss' % (spec,))
    hours = _values(fields[0], 0, 23, 'the hour', spec)
    minutes = _values(fields[1], 0, 59, 'the minute', spec)
    seconds = _values(fields[2] if len(fields) == 3 else '0', 0, 59, 'the second', spec)
    in_day = [h * 3600 + m * 60 + s for h in hours for m in minutes for s in seconds]
    if day != '*':
        if weekdays != set(range(7)):
            raise ScheduleError('%r: weekdays together with days of the month are not supported '
                                'here: give max_age explicitly' % (spec,))
        days = _values(day, 1, MONTH_DAYS, 'the day of the month', spec)
        return _max_gap([(d - 1) * 86400 + t for d in days for t in in_day], MONTH_DAYS * 86400)
    return _max_gap([d * 86400 + t for d in weekdays for t in in_day], WEEK)


def objective(spec, grace='1h', target=None, name='schedule'):
    """What the schedule guarantees: the allowed age of its newest backup, against an RPO target.

    ``max_age_seconds`` is the longest gap between two firings plus ``grace`` (the time a run may
    take and the timer's delay): the age at which the newest backup is overdue. The data a loss
    can cost is the gap alone (a dump holds the data of its start), so with a ``target``, ``met``
    says whether the longest gap fits the RPO, and ``message`` says so plainly when it does not.
    """
    try:
        interval = interval_seconds(spec)
    except ScheduleError as exc:
        raise ScheduleError('%s: %s' % (name, exc))
    grace_seconds = 0 if grace in (0, '0') else parse_duration(grace, 'grace')
    max_age = int(interval + grace_seconds)
    out = {'interval_seconds': int(interval), 'max_age_seconds': max_age, 'target_seconds': None,
           'met': True,
           'message': '%s runs at least every %s; its newest backup may be %s old' % (
               name, human_duration(interval), human_duration(max_age))}
    if target not in (None, ''):
        limit = parse_duration(target, 'target')
        out['target_seconds'] = int(limit)
        if interval > limit:
            out['met'] = False
            out['message'] = ('%s (%s) runs only every %s, so it cannot meet the RPO of %s' % (
                name, spec, human_duration(interval), human_duration(limit)))
    return out
