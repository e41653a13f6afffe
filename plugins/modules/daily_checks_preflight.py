#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: daily_checks_preflight
short_description: Validate the daily checks' variables of a host before any check runs
version_added: 0.3.0
description:
  - Reads the C(daily_checks_*) variables of the host (host, group and extra variables and the
    role's defaults) on the controller and validates them with the check modules' own parsers
    before any host is touched.
  - Threshold keys and ranges (V(daily_checks_resource_thresholds) and the other C(*_thresholds),
    per mount, per HTTP endpoint and per log file), durations (V(daily_checks_backup_max_age)),
    seconds and timeouts with their bounds, and ports (C(login_port) of the connection mappings,
    the C(address) of certificate endpoints, the C(url) of HTTP endpoints, the sockets of
    V(daily_checks_services_listening)) are checked.
  - Fails with one message naming every variable in error and the cause; the role runs it with
    C(any_errors_fatal), so one misconfigured host stops the run before any check.
  - Takes no options. The role C(fleetops.runbook.daily_checks) runs it as its first task.
extends_documentation_fragment:
  - fleetops.runbook.attributes
  - fleetops.runbook.attributes.action
attributes:
  bypass_host_loop:
    support: none
    details: Runs once per host, on that host's variables.
  check_mode:
    support: full
    details: Reads variables only.
options: {}
'''

EXAMPLES = r'''
- name: Validate the configuration before any host is touched
  fleetops.runbook.daily_checks_preflight:
  any_errors_fatal: true
'''

RETURN = r'''
errors:
  description: One message per mistake, naming the variable; empty when the variables are valid.
  returned: always
  type: list
  elements: str
  sample: ["daily_checks_resource_thresholds: unknown check 'memroy'; known checks: cpu, disk, ..."]
'''
