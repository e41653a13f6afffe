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
  - Hosts, findings and the headline follow the order people act on, the status model's C(URGENCY);
    V(CRITICAL) first, then V(UNKNOWN), V(WARNING), V(OK). A host's status is the most urgent of its
    checks. The exit-code order of a single check (perfdata, Nagios plugins, O(fail_on)) is unchanged.
  - A host that could not be reached, or whose check failed to run, is reported as V(UNKNOWN) with
    the reason; a check that was skipped on a host is shown as not applicable.
  - The same finding on several hosts (the same column, check, target, status and threshold) is
    grouped into one entry that lists its hosts, most urgent and biggest first.
  - The report is compared with the previous one of the same O(name) under O(dest) (the newest file
    under O(dest)/history/, or the last O(name).json); new, resolved and worsened findings are marked,
    and each host gets a trend of its status and highest percent value over the newest 14 kept
    reports. Files there that are not reports this module wrote are left out, never changed.
  - The HTML page is one self-contained file (inline CSS, script and SVG; nothing is fetched) that
    opens with a headline counting each status and naming what is new, then the grouped findings,
    then a row per host and a column per check. It filters by status and text, hides OK hosts, and
    every cell unfolds to its checks (value, thresholds, message). At 500 hosts and 10 columns it is
    about 0.7 MB and needs no horizontal scrolling in a 1366 px window.
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
      - Fail when any host's checks reach this level or worse in the exit-code order of a check
        (OK < WARNING < CRITICAL < UNKNOWN), after the report is written. V(never) does not fail.
    type: str
    default: never
    choices: [critical, warning, unknown, never]
  keep_history:
    description:
      - Also keep a dated copy of the JSON under O(dest)/history/ for trends.
      - The copy is named C(<name>-<UTC stamp>.json). A copy is never replaced. A run that finishes
        in the same second as an earlier one gets the next suffix, C(<name>-<UTC stamp>_01.json).
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
  description:
    - The worst status of the fleet in the exit-code order (V(UNKNOWN) above V(CRITICAL)), as O(fail_on)
      reads it. For people, use RV(headline.status).
  returned: always
  type: str
  sample: WARNING
headline:
  description: The most urgent host status (V(CRITICAL) before V(UNKNOWN)) and the count of each status.
  returned: always
  type: dict
  contains:
    status:
      description: The most urgent host status.
      type: str
      sample: CRITICAL
    text:
      description: Each status counted, in the human order.
      type: str
      sample: 3 critical, 1 unknown, 41 warning of 50 hosts
changes:
  description:
    - Findings since the previous report - C(new), C(resolved) and C(worsened) lists of
      C(host), C(source) (the column), C(check), C(target), C(status), C(was), C(message) and C(note) -
      and C(previous_at), the time of the previous report (null when there is none).
  returned: always
  type: dict
  sample: {"previous_at": "2026-11-22T03:00:12Z", "new": [{"host": "db01", "source": "resource", "check": "disk",
           "target": "/var", "status": "WARNING", "was": null, "message": "disk /var is 88.1% (warning 85)",
           "note": " (warning 85)"}], "resolved": [], "worsened": []}
counts:
  description: Number of hosts per status.
  returned: always
  type: dict
  sample: {"OK": 41, "WARNING": 2, "CRITICAL": 0, "UNKNOWN": 1}
hosts:
  description: Status per host (the most urgent of its checks).
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
