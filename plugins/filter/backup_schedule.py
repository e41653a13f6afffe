# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: backup_schedule
short_description: What a backup schedule guarantees, against a recovery point objective
version_added: 0.1.0
description:
  - Takes a systemd C(OnCalendar) schedule (O(_input)) and returns the longest time between two of
    its firings (C(interval_seconds)) and the age its newest backup may reach (C(max_age_seconds),
    the interval plus O(grace)).
  - With O(target), an RPO, C(met) is false and C(message) says plainly that the schedule cannot
    meet it when the longest time between two firings exceeds it (a dump holds the data of its
    start, so the run's duration does not add to the data lost).
  - "Understood: V(hourly), V(daily), V(weekly), V(monthly) and C([weekdays] [*-*-days] hh:mm[:ss])
    where each time field is V(*), a number, a comma list, a range C(a..b) or a step C(*/n); weekdays
    Mon..Sun, lists and ranges. Anything else is refused with a message (give the age explicitly)."
author:
  - fleetops.runbook maintainers (@fleetops)
options:
  _input:
    description: The C(OnCalendar) schedule.
    type: str
    required: true
  grace:
    description: Time allowed on top of the interval for a run to finish (seconds or a number with s, m, h, d, w).
    type: raw
    default: 1h
  target:
    description: The recovery point objective to judge the schedule against; empty for none.
    type: raw
'''

EXAMPLES = r'''
- name: Does the nightly backup meet the one-hour RPO?
  ansible.builtin.debug:
    msg: "{{ ('*-*-* 03:00:00' | fleetops.runbook.backup_schedule(target='1h')).message }}"
'''

RETURN = r'''
_value:
  description: C(interval_seconds), C(max_age_seconds), C(target_seconds), C(met) and C(message).
  type: dict
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.runbook.plugins.module_utils.status import ParameterError
from ansible_collections.fleetops.runbook.plugins.module_utils.schedule import objective


def backup_schedule(spec, grace='1h', target=None):
    try:
        return objective(spec, grace=grace, target=target, name='the backup schedule')
    except ParameterError as exc:
        raise AnsibleFilterError('backup_schedule: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'backup_schedule': backup_schedule}
