#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: fleet_report
short_description: Write the fleet report of a run of checks (JSON and HTML) on the controller
version_added: 0.1.0
description:
  - Gathers the registered results of check modules from every host of the play and writes one
    JSON document with a stable schema and one self-contained HTML page on the controller.
  - Hosts are sorted worst first. A host that could not be reached, or whose check failed to run,
    is reported as V(UNKNOWN) with the reason; a check that was skipped on a host is shown as not
    applicable.
  - "Run it once per play (C(run_once: true)); it reads other hosts' results through C(hostvars)."
  - The report is the output of the run, so it is written in check mode too.
  - The JSON schema is documented in C(docs/fleet_report.schema.json) of the collection.
extends_documentation_fragment:
  - fleetops.runbook.attributes
  - fleetops.runbook.attributes.action
attributes:
  bypass_host_loop:
    support: none
    details: Runs per host like any task; use it with C(run_once) to write one report.
  check_mode:
    support: full
    details: The report files are written in check mode as well; no managed host is changed.
options:
  checks:
    description:
      - Names of the checks, in the order of the report's columns.
      - For check V(name) the result is read from the host variable O(var_prefix) + V(name).
    type: list
    elements: str
    required: true
  hosts:
    description:
      - The hosts of the report, normally C(ansible_play_hosts_all).
      - A host that is not in the inventory (a typo, a host removed since) is reported as
        V(UNKNOWN) with the reason C(this host is not in the inventory), and a warning names it.
    type: list
    elements: str
    required: true
  var_prefix:
    description: Prefix of the registered variables that hold the results.
    type: str
    default: __daily_checks_
  dest:
    description:
      - Directory on the controller for the report files; created when missing.
      - A file already at one of the report's paths is replaced only when it is a report this
        module wrote (a JSON document of the report schema, a page it rendered). Anything else -
        another file, a symbolic link, a directory, a FIFO - is refused with an error naming
        O(dest) and the path, before anything is written.
    type: path
    default: reports
  name:
    description: Name of the report, and base name of its files (V(name).json, V(name).html).
    type: str
    default: daily_checks
  started:
    description:
      - When the run started, in seconds since the epoch, for the run's duration.
      - Defaults to the time the report is written.
      - Must be a finite number of seconds, not in the future; V(inf), V(nan) or a negative time
        are refused naming this option.
    type: float
  fail_on:
    description:
      - Fail when any host's status is this level or worse (OK < WARNING < CRITICAL < UNKNOWN),
        after the report is written. V(never) does not fail.
    type: str
    default: never
    choices: [critical, warning, unknown, never]
  keep_history:
    description: Also keep a dated copy of the JSON under O(dest)/history/ for trends.
    type: bool
    default: true
  title:
    description: Title of the HTML page.
    type: str
'''

EXAMPLES = r'''
- name: Check host resources
  fleetops.runbook.resource_check:
    fail_on: never
  register: __daily_checks_resource
  ignore_errors: true
  ignore_unreachable: true

- name: Write the fleet report
  fleetops.runbook.fleet_report:
    checks: [resource]
    hosts: "{{ ansible_play_hosts_all }}"
    dest: /var/lib/fleetops/reports
    fail_on: critical
  run_once: true
'''

RETURN = r'''
paths:
  description: Where the files were written.
  returned: always
  type: dict
  sample: {"json": "/srv/reports/daily_checks.json", "html": "/srv/reports/daily_checks.html",
           "history": "/srv/reports/history/daily_checks-20261123T030000Z.json"}
status:
  description: The worst status of the fleet.
  returned: always
  type: str
  sample: WARNING
counts:
  description: Number of hosts per status.
  returned: always
  type: dict
  sample: {"OK": 41, "WARNING": 2, "CRITICAL": 0, "UNKNOWN": 1}
hosts:
  description: Status per host.
  returned: always
  type: dict
  sample: {"web01": "OK", "db01": "WARNING"}
summaries:
  description: The summary line of every host that is not OK.
  returned: always
  type: dict
  sample: {"db01": "resource: WARNING: WARNING disk /var is 88.1% (warning 85); 12 OK"}
results:
  description:
    - The registered results of every host that is not OK, by host and check, without their
      bulky keys (metrics, perfdata, filesystems, processes); ready for M(fleetops.runbook.notify).
  returned: always
  type: dict
  sample: {"db01": {"resource": {"status": "WARNING", "summary": "WARNING: disk /var is 88.1% (warning 85); 12 OK",
           "checks": []}}}
failing_hosts:
  description: Hosts at or above O(fail_on).
  returned: always
  type: list
  elements: str
  sample: []
duration_seconds:
  description: Seconds from O(started) to the report.
  returned: always
  type: float
  sample: 12.4
'''
