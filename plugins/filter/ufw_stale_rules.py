# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: ufw_stale_rules
short_description: The rules the ufw role added earlier that it no longer wants
version_added: 0.1.0
description:
  - Reads the lines of C(ufw show added) and returns those rules (lines starting with C(ufw ))
    whose comment starts with O(prefix) but is none of O(wanted).
  - Rules without a comment, or with a comment not starting with O(prefix) (added by hand), are
    never returned.
author:
  - fleetops.runbook maintainers (@fleetops)
options:
  _input:
    description: The output lines of C(ufw show added).
    type: list
    elements: str
    required: true
  prefix:
    description: What the comments of the rules the role added start with.
    type: str
    required: true
  wanted:
    description: The comments of every rule the role wants now.
    type: list
    elements: str
    required: true
'''

EXAMPLES = r'''
- name: Delete the rules this role added that are no longer wanted
  ansible.builtin.command:
    argv: "{{ ['ufw', 'delete'] + (item | regex_replace(\" comment '.*'$\", '')).split()[1:] }}"
  loop: "{{ __ufw_added.stdout_lines | fleetops.runbook.ufw_stale_rules('fleetops: ', ['fleetops: SSH']) }}"
'''

RETURN = r'''
_value:
  description: The stale rules, as C(ufw show added) printed them.
  type: list
  elements: str
'''

import re

from ansible.errors import AnsibleFilterError

_COMMENT = re.compile(r"comment '(.*)'$")


def ufw_stale_rules(lines, prefix, wanted):
    if lines is None:
        return []
    if not isinstance(lines, list):
        raise AnsibleFilterError('ufw_stale_rules: the added rules must be a list of lines, got %r' % (lines,))
    stale = []
    for line in lines:
        if not line.startswith('ufw '):
            continue
        found = _COMMENT.search(line)
        if found and found.group(1).startswith(prefix) and found.group(1) not in wanted:
            stale.append(line)
    return stale


class FilterModule(object):
    def filters(self):
        return {'ufw_stale_rules': ufw_stale_rules}
