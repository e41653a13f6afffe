# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: alert_threshold
short_description: The number above which a resource threshold alerts, for a Prometheus rule
version_added: 0.1.0
description:
  - Reads resource thresholds in the shape resource_check takes (C(fleetops_resource_thresholds)
    of an inventory), merged over resource_check's defaults, and returns the value above which
    one level of one check alerts, so that a rule C(usage > N) fires where the daily check turns
    WARNING (or CRITICAL).
  - Only the ranges V(N) and V(~:N) alert above a single value; any other range, or a level
    switched off, is an error naming the variable, the check and the level.
author:
  - fleetops.runbook maintainers (@fleetops)
options:
  _input:
    description: Thresholds per check (C(cpu), C(memory), C(disk), ...), each with C(warning) and/or C(critical).
    type: dict
    required: true
  name:
    description: The check, e.g. V(disk).
    type: str
    required: true
  level:
    description: The level whose bound is wanted.
    type: str
    choices: [warning, critical]
    default: warning
  param:
    description: The variable's name, for error messages.
    type: str
    default: fleetops_resource_thresholds
'''

EXAMPLES = r'''
- name: Disk alert at the inventory's warning band
  ansible.builtin.debug:
    msg: "{{ fleetops_resource_thresholds | default({}) | fleetops.runbook.alert_threshold('disk') }}"
'''

RETURN = r'''
_value:
  description: The bound, an integer when it is whole.
  type: float
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.runbook.plugins.module_utils.resource import alert_bound


def alert_threshold(thresholds, name, level='warning', param='fleetops_resource_thresholds'):
    if thresholds is None or thresholds == '':
        thresholds = {}
    if not isinstance(thresholds, dict):
        raise AnsibleFilterError('alert_threshold: %s must be a mapping of checks, got %r' % (param, thresholds))
    try:
        return alert_bound(thresholds, name, level, param)
    except ValueError as exc:
        raise AnsibleFilterError('alert_threshold: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'alert_threshold': alert_threshold}
