# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  fail_on:
    description:
      - The worst status at which the task fails.
      - Statuses are ordered like the exit codes of monitoring plugins,
        V(OK) < V(WARNING) < V(CRITICAL) < V(UNKNOWN); the task fails when the worst status
        of all checks is this level or above. V(never) never fails on a status.
      - A failed task still returns every key below, so a registered result is complete.
    type: str
    default: critical
    choices: [critical, warning, unknown, never]
notes:
  - Thresholds use the monitoring-plugins range syntax. V(10) alerts when the value is below 0 or
    above 10; V(10:) when it is below 10; V(~:10) when it is above 10; V(10:20) when it is outside
    10 to 20; V(@10:20) when it is inside 10 to 20. A number is read as the first form. An empty
    string or V(null) switches that level off. Bounds are finite numbers (V(inf), V(nan) and
    numbers too large for a float are refused, naming the threshold); V(~) is the open lower bound.
  - A value is judged as measured; the value and message show it rounded to 6 decimals.
'''

    RETURN = r'''
status:
  description: The worst status of all checks.
  returned: always
  type: str
  sample: WARNING
checks:
  description: Every individual check.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the check.
      type: str
      sample: disk
    target:
      description: What the check looked at (a mount point, a database, a table), or null.
      type: str
      sample: /var
    value:
      description: The measured value, or null when it could not be measured.
      type: raw
      sample: 87.5
    unit:
      description: Unit of RV(checks[].value) (percent, seconds, milliseconds, bytes, count, ratio).
      type: str
      sample: percent
    warning:
      description: The warning range applied, or null.
      type: str
      sample: "85"
    critical:
      description: The critical range applied, or null.
      type: str
      sample: "95"
    status:
      description: OK, WARNING, CRITICAL or UNKNOWN.
      type: str
      sample: WARNING
    message:
      description: What was found, in words.
      type: str
      sample: disk /var is 87.5% (warning 85)
    labels:
      description: Extra labels of the check in RV(metrics), present only on checks that have some.
      type: dict
      sample: {database: app}
summary:
  description: One line for a human, worst findings first.
  returned: always
  type: str
  sample: "WARNING: disk /var is 87.5% (warning 85); 11 OK"
perfdata:
  description: The numeric checks as Nagios performance data.
  returned: always
  type: str
  sample: "cpu=12.5%;70;85;0;100 'disk /var'=87.5%;85;95;0;100"
metrics:
  description:
    - The checks as Prometheus text exposition lines, ready for the node exporter's textfile
      collector.
  returned: always
  type: list
  elements: str
  sample:
    - 'fleetops_check_status{source="resource_check",check="cpu"} 0'
'''
