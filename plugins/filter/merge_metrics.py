# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: merge_metrics
short_description: Merge the metrics of several check results into one Prometheus text document
version_added: 0.1.0
description:
  - Takes a list of check results (the dicts the check modules of this collection return, or
    their C(metrics) lists) and returns one list of Prometheus text exposition lines in which
    every metric has a single HELP and TYPE line, ready for the node exporter's textfile collector.
  - Results without metrics (skipped, failed or unreachable) are left out.
author:
  - fleetops.runbook maintainers (@fleetops)
options:
  _input:
    description: Check results, or lists of exposition lines.
    type: list
    elements: raw
    required: true
'''

EXAMPLES = r'''
- name: Export the last daily run to the node exporter
  ansible.builtin.copy:
    dest: /var/lib/prometheus/node-exporter/fleetops.prom
    content: "{{ [resources, pg] | fleetops.runbook.merge_metrics | join('\n') }}\n"
    mode: "0644"
'''

RETURN = r'''
_value:
  description: Exposition lines.
  type: list
  elements: str
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.collections import is_sequence

from ansible_collections.fleetops.runbook.plugins.module_utils.status import merge_metrics


def _lines(item):
    if isinstance(item, dict):
        return item.get('metrics') or []
    if is_sequence(item):
        return [str(line) for line in item]
    if item is None:
        return []
    raise AnsibleFilterError('merge_metrics: expected check results or lists of lines, got %s'
                             % type(item).__name__)


def merge_metrics_filter(items):
    if not is_sequence(items):
        raise AnsibleFilterError('merge_metrics: expected a list, got %s' % type(items).__name__)
    return merge_metrics([_lines(item) for item in items])


class FilterModule(object):
    def filters(self):
        return {'merge_metrics': merge_metrics_filter}
