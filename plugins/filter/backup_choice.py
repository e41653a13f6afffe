# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: backup_choice
short_description: Choose the newest backup that passed backup_verify and is recent enough
version_added: 0.1.0
description:
  - Takes the registered result of M(fleetops.runbook.backup_verify) run over a series of backups
    (O(_input)) and returns the newest backup that passed its checks and is not older than
    O(max_age), with every newer backup that was passed over and why.
  - The answer speaks the status model (C(status), C(checks), C(summary)), so it goes into a fleet
    report as it is. V(OK) when the newest backup was chosen, V(WARNING) when newer ones were
    skipped, V(CRITICAL) when there is no usable backup.
author:
  - fleetops.runbook maintainers (@fleetops)
options:
  _input:
    description: The registered result of backup_verify (it needs C(backups)).
    type: dict
    required: true
  max_age:
    description: The oldest a usable backup may be, in seconds or with a unit (V(90m), V(2d)).
    type: raw
    default: 7d
'''

EXAMPLES = r'''
- name: Verify every backup of the database
  fleetops.runbook.backup_verify:
    path: /var/backups/postgresql/shop_*.dump
    latest: 0
    max_age: 7d
    fail_on: never
  register: verified

- name: Choose one
  ansible.builtin.set_fact:
    chosen: "{{ verified | fleetops.runbook.backup_choice(max_age='2d') }}"
'''

RETURN = r'''
_value:
  description: The choice.
  type: dict
  contains:
    chosen:
      description: Path of the chosen backup, or null.
      type: str
    chosen_mtime:
      description: Modification time of the chosen backup (seconds since the epoch), or null.
      type: float
    skipped:
      description: Newer backups passed over, each with C(path) and C(reason).
      type: list
      elements: dict
    status:
      description: Status of the choice.
      type: str
    summary:
      description: One line saying what was chosen and what was skipped.
      type: str
    checks:
      description: The status-model checks of the choice.
      type: list
      elements: dict
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.runbook.plugins.module_utils.status import (
    CRITICAL, OK, WARNING, CheckReport, ParameterError, parse_duration)


def choose(result, max_age='7d'):
    if not isinstance(result, dict) or not isinstance(result.get('backups'), list):
        raise AnsibleFilterError('backup_choice: expected the registered result of backup_verify '
                                 '(with a backups list), got %s' % type(result).__name__)
    try:
        limit = parse_duration(max_age, 'max_age')
    except ParameterError as exc:
        raise AnsibleFilterError('backup_choice: %s' % exc)
    backups = sorted(result['backups'], key=lambda b: b.get('mtime') or 0, reverse=True)
    chosen = None
    skipped = []
    for backup in backups:
        age = backup.get('age')
        # backup_verify judges the age of the newest good backup only; age is judged here.
        problems = [p for p in backup.get('problems') or [] if 'newest good backup' not in p]
        if backup.get('status') not in (OK, WARNING) and problems:
            skipped.append({'path': backup['path'], 'reason': '; '.join(problems[:3])})
            continue
        if backup.get('status') not in (OK, WARNING, CRITICAL):
            skipped.append({'path': backup['path'], 'reason': 'its status is %s: %s' % (
                backup.get('status'), '; '.join(backup.get('problems') or []) or 'not verified')})
            continue
        if age is None or age > limit:
            skipped.append({'path': backup['path'], 'reason': 'older than max_age %s (%s s)'
                            % (max_age, int(age or 0))})
            continue
        chosen = backup
        break
    report = CheckReport('backup_choice')
    if chosen is None:
        report.add('backup_choice', len(skipped), unit='count', status=CRITICAL,
                   message='no usable backup among %d: %s' % (len(backups), '; '.join(
                       '%s (%s)' % (s['path'], s['reason']) for s in skipped[:5]) or 'none found'))
    else:
        message = 'chose %s' % chosen['path']
        if skipped:
            message += ', skipping %d newer: %s' % (len(skipped), '; '.join(
                '%s (%s)' % (s['path'], s['reason']) for s in skipped[:5]))
        report.add('backup_choice', len(skipped), unit='count',
                   status=WARNING if skipped else OK, message=message)
    out = report.result()
    # The one check's message is the whole story; the status model's count ("OK: 1 OK") is not.
    out['summary'] = '%s: %s' % (out['status'], out['checks'][0]['message'])
    out.update(chosen=chosen['path'] if chosen else None,
               chosen_mtime=chosen.get('mtime') if chosen else None, skipped=skipped)
    return out


class FilterModule(object):
    def filters(self):
        return {'backup_choice': choose}
