# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    # The attributes shared by the collection's modules, and its author line. A module that
    # behaves differently in check mode or diff mode restates only that attribute.
    DOCUMENTATION = r'''
author:
  - fleetops.runbook maintainers (@fleetops)
attributes:
  check_mode:
    description: Whether the module can run with C(--check), and what it then does.
    support: full
    details: It only reads, so check mode returns the same measurements as a normal run.
  diff_mode:
    description: Whether the module shows a C(--diff) of what it changes.
    support: none
  platform:
    description: The target systems the module runs on.
    support: full
    platforms: posix
'''

    # Action plugins that run on the controller (fleet_report, notify, capacity_trend).
    ACTION = r'''
attributes:
  action:
    description: Whether the task runs on the controller as an action plugin.
    support: full
    details: Nothing is executed on the managed hosts.
  async:
    description: Whether the task can run asynchronously.
    support: none
  bypass_host_loop:
    description: Whether the task runs once for the play instead of once per host.
    support: none
'''
