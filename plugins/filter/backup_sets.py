# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: backup_sets
short_description: The backup sets of the postgres_backup role, completed and checked
version_added: 0.1.0
description:
  - Takes the role's C(postgres_backup_sets) (O(_input)) and completes every set from O(defaults)
    (the role's single-backup variables). An empty list is one set named V(default), exactly the
    single daily backup of earlier versions (its units keep the name C(fleetops-pg-backup)).
  - Every set gets its directory (the backup directory for V(default), a subdirectory named after
    the set otherwise, so that each set's retention sees only its own files), its systemd unit name,
    and C(max_age_seconds), the age its newest backup may reach, derived from its schedule with
    P(fleetops.runbook.backup_schedule#filter) unless the set gives C(max_age).
  - A set with an C(rpo) that its schedule cannot meet has C(rpo_met) false and a C(message) saying so.
  - Bad sets are refused with a message naming the set and the key.
author:
  - fleetops.runbook maintainers (@fleetops)
options:
  _input:
    description: The list of sets (C(name), C(on_calendar), C(retention_days), C(retention_count),
      C(dump), C(databases), C(config_paths), C(max_age), C(rpo)).
    type: list
    elements: dict
    required: true
  defaults:
    description: C(dir), C(on_calendar), C(retention_days), C(retention_count), C(databases),
      C(config_paths), C(config_archive_name) and C(grace), the role's values.
    type: dict
    required: true
'''

EXAMPLES = r'''
- name: The sets with their directories and allowed ages
  ansible.builtin.set_fact:
    sets: >-
      {{ postgres_backup_sets | fleetops.runbook.backup_sets({'dir': postgres_backup_dir,
         'on_calendar': postgres_backup_on_calendar, 'retention_days': 30, 'retention_count': 35,
         'databases': [], 'config_paths': [], 'config_archive_name': 'config', 'grace': '1h'}) }}
'''

RETURN = r'''
_value:
  description: The completed sets, each with C(unit), C(dir), C(interval_seconds), C(max_age_seconds),
    C(rpo_seconds), C(rpo_met) and C(message) added, and C(config), what the backup command reads.
  type: list
  elements: dict
'''

import os
import re

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.runbook.plugins.module_utils.status import ParameterError, parse_duration
from ansible_collections.fleetops.runbook.plugins.module_utils.schedule import objective

NAME_RE = re.compile(r'^[A-Za-z0-9_-]{1,40}$')
ARCHIVE_RE = re.compile(r'^[A-Za-z0-9_.-]+$')
KEYS = ('name', 'on_calendar', 'retention_days', 'retention_count', 'dump', 'databases',
        'config_paths', 'config_archive_name', 'max_age', 'rpo')
UNIT = 'fleetops-pg-backup'


def _fail(where, message):
    raise AnsibleFilterError('postgres_backup_sets: %s: %s' % (where, message))


def _positive_int(value, where, key):
    if isinstance(value, bool):
        _fail(where, '%s must be a whole number of at least 1' % key)
    try:
        number = int(value)
    except (TypeError, ValueError):
        _fail(where, '%s must be a whole number of at least 1, not %r' % (key, value))
    if number < 1 or str(number) != str(value).strip():
        _fail(where, '%s must be a whole number of at least 1, not %r' % (key, value))
    return number


def complete(sets, defaults):
    if sets is None:
        sets = []
    if not isinstance(sets, list):
        _fail('the variable', 'a list of sets is expected')
    implicit = not sets
    if implicit:
        sets = [{'name': 'default'}]
    out = []
    seen = set()
    for index, raw in enumerate(sets):
        where = 'set %d' % (index + 1)
        if not isinstance(raw, dict):
            _fail(where, 'each set is a mapping with at least a name')
        unknown = sorted(set(raw) - set(KEYS))
        if unknown:
            _fail(where, 'unknown keys %s (known: %s)' % (', '.join(map(str, unknown)), ', '.join(KEYS)))
        name = raw.get('name')
        if not isinstance(name, str) or not NAME_RE.match(name):
            _fail(where, 'name must be 1-40 letters, digits, _ or -, not %r' % (name,))
        where = 'set %s' % name
        if name in seen:
            _fail(where, 'the name is used twice')
        seen.add(name)
        item = {
            'name': name,
            'unit': UNIT if name == 'default' else '%s-%s' % (UNIT, name),
            'dir': defaults['dir'] if name == 'default' else os.path.join(defaults['dir'], name),
            'on_calendar': raw.get('on_calendar', defaults['on_calendar']),
            'retention_days': _positive_int(raw.get('retention_days', defaults['retention_days']),
                                            where, 'retention_days'),
            'retention_count': _positive_int(raw.get('retention_count', defaults['retention_count']),
                                             where, 'retention_count'),
            'dump': raw.get('dump', True),
            'databases': raw.get('databases', defaults['databases']),
            'config_paths': raw.get('config_paths', defaults['config_paths']),
            'config_archive_name': raw.get('config_archive_name', defaults['config_archive_name']),
        }
        if not isinstance(item['dump'], bool):
            _fail(where, 'dump must be true or false')
        for key in ('databases', 'config_paths'):
            if not isinstance(item[key], list) or not all(isinstance(v, str) for v in item[key]):
                _fail(where, '%s must be a list of strings' % key)
        if not all(os.path.isabs(p) for p in item['config_paths']):
            _fail(where, 'config_paths must be absolute paths')
        if not ARCHIVE_RE.match(str(item['config_archive_name'])):
            _fail(where, 'config_archive_name may hold letters, digits, _ . and - only')
        if not item['dump'] and not item['config_paths']:
            _fail(where, 'the set writes nothing: dump is false and config_paths is empty')
        if not isinstance(item['on_calendar'], str) or not item['on_calendar'].strip() or \
                any(c in item['on_calendar'] for c in '\n\r'):
            _fail(where, 'on_calendar must be a systemd OnCalendar expression on one line')
        try:
            if raw.get('max_age') not in (None, ''):
                age = int(parse_duration(raw['max_age'], 'max_age'))
                item.update(interval_seconds=None, max_age_seconds=age, rpo_seconds=None, rpo_met=True,
                            message='set %s: max_age %s given explicitly' % (name, raw['max_age']))
                if raw.get('rpo') not in (None, ''):
                    goal = objective(item['on_calendar'], grace=defaults['grace'], target=raw['rpo'],
                                     name='set %s' % name)
                    item.update(interval_seconds=goal['interval_seconds'], rpo_seconds=goal['target_seconds'],
                                rpo_met=goal['met'], message=goal['message'])
            else:
                goal = objective(item['on_calendar'], grace=defaults['grace'], target=raw.get('rpo'),
                                 name='set %s' % name)
                item.update(interval_seconds=goal['interval_seconds'],
                            max_age_seconds=goal['max_age_seconds'],
                            rpo_seconds=goal['target_seconds'], rpo_met=goal['met'],
                            message=goal['message'])
        except ParameterError as exc:
            _fail(where, str(exc))
        # what the backup command on the host reads of the set
        item['config'] = dict((key, item[key]) for key in (
            'name', 'dir', 'dump', 'databases', 'config_paths', 'config_archive_name',
            'retention_days', 'retention_count', 'max_age_seconds'))
        out.append(item)
    dirs = [s['dir'] for s in out]
    if len(set(dirs)) != len(dirs):
        _fail('the sets', 'two sets would share a directory')
    return out


def backup_sets(sets, defaults):
    return complete(sets, defaults)


class FilterModule(object):
    def filters(self):
        return {'backup_sets': backup_sets}
