#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: capacity_trend
short_description: Capacity trend of every host from the dated daily fleet reports
version_added: 0.2.0
description:
  - Reads the dated copies of a fleet report (C(history/daily_checks-<UTC stamp>.json), written by
    M(fleetops.runbook.fleet_report) at every daily run) that started within O(window) days, once,
    on the controller, and returns the capacity trend of every host in the status model.
  - For every host and every series (metric name and target, for example V(disk) of V(/)), a
    least-squares line through the samples gives the growth per day. From the newest sample, the
    growth gives the value at O(horizon) days and the days until the limit.
  - The limit of a percent metric is the metric's own critical threshold in the newest sample
    when that is a plain upper bound (V(95), V(~:95)), else 100 %; a O(metrics[].limit) wins over
    both. Other units (V(bytes) of V(database_size)) have a limit only when O(metrics[].limit) gives
    one; without it the growth is reported and not judged.
  - The days to the limit are judged with O(thresholds) in the range syntax of the status model.
    The defaults warn below 90 days (the resource runs out before the next quarterly review) and
    are critical below 30 days (before the next monthly capacity review). A series that is not
    growing has no days to the limit and is OK.
  - A sharp drop, a fall between two consecutive samples of more than O(drop_ratio) of the earlier
    value (a cleanup, a VACUUM FULL, a grown volume), starts the series afresh; only the samples
    from the last drop on are fitted.
  - A series with fewer than O(min_samples) samples, or whose samples span less than one day, is
    reported with its last value and not judged (status OK, C(judged=false) in RV(hosts)). A
    host of O(hosts) found in no report of the window is V(UNKNOWN).
  - Files that cannot be read, are not JSON, belong to another report or another schema version
    are skipped and listed in RV(files_skipped) with the reason.
  - "Run it once (C(run_once: true)); each host's result is in RV(hosts)[host], in the shape of a
    check module's result, ready for M(fleetops.runbook.fleet_report)."
extends_documentation_fragment:
  - fleetops.runbook.attributes
  - fleetops.runbook.attributes.action
attributes:
  bypass_host_loop:
    support: none
    details: Runs per host like any task; use it with C(run_once) to read the files once.
options:
  history_dir:
    description:
      - Directory on the controller with the dated reports. A relative path is taken from the
        current directory, like O(fleetops.runbook.fleet_report#module:dest).
    type: path
    default: reports/history
  report:
    description: Name of the report whose dated copies are read (V(report)-<stamp>.json).
    type: str
    default: daily_checks
  window:
    description: Days back from now, by the C(started_at) of each report (not the file's time).
    type: float
    default: 30
  metrics:
    description:
      - The metrics to follow. Every target of a metric (each file system of V(disk), each database
        of V(database_size)) is its own series.
      - V(memory) and V(swap) (column V(resource)) may be added.
    type: list
    elements: dict
    default:
      - {name: disk, column: resource}
      - {name: inodes, column: resource}
      - {name: database_size, column: pg_health}
    suboptions:
      name:
        description: Name of the check in the daily report.
        type: str
        required: true
      column:
        description:
          - Column of the daily report the check is in.
          - Known for V(disk), V(inodes), V(memory), V(swap) (V(resource)) and V(database_size)
            (V(pg_health)); required for others.
        type: str
      limit:
        description:
          - The limit in the metric's unit (percent, bytes). Required for a judgement of units other
            than percent.
        type: float
  thresholds:
    description:
      - Warning and critical ranges on the days to the limit, per metric name, merged over a
        warning of V(90:) and a critical of V(30:); V(90:) alerts below 90 days.
    type: dict
    default: {}
  horizon:
    description: Days ahead for the projected value.
    type: float
    default: 90
  min_samples:
    description: Samples a series needs (since its last drop) to be judged; at least 2.
    type: int
    default: 3
  drop_ratio:
    description: A fall between consecutive samples of more than this fraction of the earlier value is a drop.
    type: float
    default: 0.1
  hosts:
    description:
      - Hosts to report, normally C(ansible_play_hosts_all); each has a result, V(UNKNOWN) when no
        report of the window has it.
      - Default every host found in the reports.
    type: list
    elements: str
  fail_on:
    description: Fail when a host's status is this level or worse. V(never) does not fail.
    type: str
    default: never
    choices: [critical, warning, unknown, never]
'''

EXAMPLES = r'''
- name: Capacity trend of the last 30 days
  fleetops.runbook.capacity_trend:
    history_dir: /var/lib/fleetops/reports/history
    hosts: "{{ ansible_play_hosts_all }}"
    metrics:
      - name: disk
      - name: database_size
        limit: 107374182400  # 100 GiB
    thresholds:
      disk: {warning: "60:", critical: "14:"}
  run_once: true
  register: __capacity

- name: Each host's capacity result, for fleet_report
  ansible.builtin.set_fact:
    __monthly_capacity: "{{ __capacity.hosts[inventory_hostname] }}"
'''

RETURN = r'''
status:
  description: The worst status of all hosts.
  returned: always
  type: str
  sample: WARNING
hosts:
  description:
    - Per host, the result of a check module (status, summary, checks, perfdata, metrics) and the
      series behind it. Each check is a series; its value is the days to the limit.
  returned: always
  type: dict
  sample: {"db01": {"status": "WARNING", "summary": "WARNING: disk / at 71.2%, +0.31% per day, reaches 95.0% in 76.8 days (warning 90: days); 3 OK",
           "checks": [], "perfdata": "", "metrics": [], "series": []}}
  contains:
    series:
      description: One entry per series.
      type: list
      elements: dict
      contains:
        name:
          description: 'Metric name.'
          type: str
        target:
          description: 'Target of the metric (a mount point, a database).'
          type: str
        column:
          description: 'Column of the daily report.'
          type: str
        unit:
          description: 'Unit of the values.'
          type: str
        samples:
          description: 'Samples in the window.'
          type: int
        samples_used:
          description: 'Samples fitted (since the last drop).'
          type: int
        first_at:
          description: 'Time of the first fitted sample.'
          type: str
        last_at:
          description: 'Time of the newest sample.'
          type: str
        span_days:
          description: 'Days between the first fitted and the newest sample.'
          type: float
        dropped_at:
          description: 'Time of the last drop, or null.'
          type: str
        last_value:
          description: 'Value of the newest sample.'
          type: float
        growth_per_day:
          description: 'Least-squares growth per day, null when not computed.'
          type: float
        projected:
          description: 'Value expected O(horizon) days after the newest sample.'
          type: float
        horizon_days:
          description: 'The horizon.'
          type: float
        limit:
          description: 'The limit, null when there is none.'
          type: float
        limit_source:
          description: 'V(option), V(critical threshold) or V(full) (100 %)'
          type: str
        days_to_limit:
          description: 'Days from the newest sample to the limit; 0 at or above it; null when not growing or not judged.'
          type: float
        judged:
          description: 'Whether the series was judged against the thresholds.'
          type: bool
        reason:
          description: 'Why a series was not judged.'
          type: str
files_read:
  description: The reports used, oldest name first.
  returned: always
  type: list
  elements: str
  sample: ["/srv/reports/history/daily_checks-20261101T030012Z.json"]
files_skipped:
  description: Files of the report's name that could not be used, and why.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/srv/reports/history/daily_checks-20261102T030011Z.json", "reason": "not valid JSON: Expecting value: line 1 column 1 (char 0)"}]
history_dir:
  description: The directory read, as an absolute path.
  returned: always
  type: str
  sample: /srv/reports/history
failing_hosts:
  description: Hosts at or above O(fail_on).
  returned: always
  type: list
  elements: str
  sample: []
'''
