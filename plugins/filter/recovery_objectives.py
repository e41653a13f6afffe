# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: recovery_objectives
short_description: Measure a recovery's RTO and RPO against their targets, in the status model
version_added: 0.1.0
description:
  - The recovery time (RTO) is the time from O(_input), when the recovery started, to O(verified),
    when the recovered service was verified.
  - The recovery point (RPO) is the data lost, the time from the backup (O(backup_time)) to the
    incident (O(incident_time)), or to O(verified) when no incident time is given.
  - Each is a check of the status model, V(CRITICAL) when it exceeds its target. The runbook's
    targets are four hours and one hour.
  - A backup taken after O(incident_time) is no recovery point before the incident, so the C(rpo)
    check is V(WARNING) and says so. A backup time after O(verified) without an incident time means
    that the clocks disagree, and the C(rpo) check is V(UNKNOWN). A negative RPO is never judged V(OK).
  - With O(schedule), the backup schedule of the restored backups, a third check C(schedule) says
    whether that schedule can meet the RPO target at all (V(WARNING) with a plain message when the
    time between two backups exceeds it), and an empty O(rpo_target) is derived from the schedule
    (its interval plus O(grace)), as P(fleetops.runbook.backup_schedule#filter) computes it.
author:
  - fleetops.runbook maintainers (@fleetops)
options:
  _input:
    description: When the recovery started, in seconds since the epoch or as an ISO 8601 time.
    type: raw
    required: true
  verified:
    description: When the recovery was verified (seconds since the epoch or ISO 8601).
    type: raw
    required: true
  backup_time:
    description: When the restored backup was taken (seconds since the epoch or ISO 8601).
    type: raw
    required: true
  incident_time:
    description: When the data was lost (seconds since the epoch or ISO 8601); empty for O(verified).
    type: raw
  rto_target:
    description: The recovery time objective (seconds, or a number with s, m, h, d).
    type: raw
    default: 4h
  rpo_target:
    description: The recovery point objective (seconds, or a number with s, m, h, d); empty to
      derive it from O(schedule).
    type: raw
    default: 1h
  schedule:
    description: The C(OnCalendar) schedule of the backups restored; empty for none.
    type: str
  grace:
    description: Time allowed on top of the schedule's interval (seconds or a number with a unit).
    type: raw
    default: 1h
'''

EXAMPLES = r'''
- name: Measure the recovery
  ansible.builtin.set_fact:
    objectives: >-
      {{ started | fleetops.runbook.recovery_objectives(verified=now().timestamp(),
         backup_time=restore.backup_time, incident_time='2025-01-19T09:40:00+00:00') }}
'''

RETURN = r'''
_value:
  description: The status-model result with C(rto_seconds), C(rpo_seconds) and the targets in seconds.
  type: dict
'''

import datetime

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.runbook.plugins.module_utils.status import (
    UNKNOWN, WARNING, CheckReport, ParameterError, human_duration, parse_duration, parse_thresholds)
from ansible_collections.fleetops.runbook.plugins.module_utils.schedule import objective


def to_epoch(value, name):
    if value is None or value == '':
        return None
    if isinstance(value, bool):
        raise AnsibleFilterError('recovery_objectives: %s: %r is not a time' % (name, value))
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        stamp = datetime.datetime.fromisoformat(text.replace('Z', '+00:00'))
    except ValueError:
        raise AnsibleFilterError('recovery_objectives: %s: %r is neither seconds since the epoch '
                                 'nor an ISO 8601 time such as 2025-01-19T09:40:00+00:00'
                                 % (name, value))
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.timezone.utc)
    return stamp.timestamp()


def objectives(started, verified, backup_time, incident_time=None, rto_target='4h',
               rpo_target='1h', schedule=None, grace='1h'):
    start = to_epoch(started, 'started')
    done = to_epoch(verified, 'verified')
    backup = to_epoch(backup_time, 'backup_time')
    incident = to_epoch(incident_time, 'incident_time')
    if start is None or done is None or backup is None:
        raise AnsibleFilterError('recovery_objectives: started, verified and backup_time are needed')
    goal = None
    try:
        rto_limit = parse_duration(rto_target, 'rto_target')
        if schedule:
            goal = objective(schedule, grace=grace, target=rpo_target or None, name='the backup schedule')
        elif rpo_target in (None, ''):
            raise ParameterError('rpo_target: empty, and no schedule to derive it from')
        rpo_limit = parse_duration(rpo_target, 'rpo_target') if rpo_target not in (None, '') \
            else goal['max_age_seconds']
    except ParameterError as exc:
        raise AnsibleFilterError('recovery_objectives: %s' % exc)
    thresholds = parse_thresholds({}, {
        'rto': {'critical': '~:%d' % rto_limit}, 'rpo': {'critical': '~:%d' % rpo_limit}})
    point = incident if incident is not None else done
    rto = max(done - start, 0.0)
    rpo = point - backup
    report = CheckReport('recovery_objectives')
    check = report.add('rto', round(rto, 3), unit='seconds', thresholds=thresholds['rto'])
    check['message'] = 'recovery took %s (target %s)%s' % (
        human_duration(rto), human_duration(rto_limit),
        '' if check['status'] == 'OK' else ': RTO missed')
    if rpo < 0 and incident is not None:
        # A backup taken after the incident is no recovery point before it: it may hold the damage.
        report.add('rpo', round(rpo, 3), unit='seconds', thresholds=thresholds['rpo'], status=WARNING,
                   message='the backup was taken %s after the incident: it may hold what the incident did, '
                           'so it is no recovery point before it' % human_duration(-rpo))
    elif rpo < 0:
        # Backup time after the verification finished: the clocks of the hosts disagree.
        report.add('rpo', round(rpo, 3), unit='seconds', thresholds=thresholds['rpo'], status=UNKNOWN,
                   message='the backup time is %s after the recovery was verified: the clocks of the backup '
                           'and the controller disagree, so the RPO cannot be measured' % human_duration(-rpo))
    else:
        check = report.add('rpo', round(rpo, 3), unit='seconds', thresholds=thresholds['rpo'])
        check['message'] = 'the backup is %s older than %s (target %s)%s' % (
            human_duration(rpo), 'the incident' if incident is not None else 'the recovery',
            human_duration(rpo_limit),
            '' if check['status'] == 'OK' else ': RPO missed')
    if goal is not None:
        report.add('schedule', goal['max_age_seconds'], unit='seconds',
                   status='OK' if goal['met'] else 'WARNING', message=goal['message'])
    out = report.result()
    out.update(rto_seconds=round(rto, 3), rpo_seconds=round(rpo, 3), rto_target_seconds=rto_limit,
               rpo_target_seconds=rpo_limit,
               met=all(c['status'] == 'OK' for c in out['checks'] if c['name'] in ('rto', 'rpo')))
    return out


class FilterModule(object):
    def filters(self):
        return {'recovery_objectives': objectives}
