# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host resource thresholds: resource_check judges by them, the Prometheus rules alert at them.

One inventory variable (``fleetops_resource_thresholds``) feeds both, merged over these defaults.
CPU 70 / 85, memory 80 / 90 and disk 85 / 95 are seed 000's (Miraikakaku) normal, caution and
danger bands; the other platforms set theirs in inventory/platforms/<name>/.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.fleetops.runbook.plugins.module_utils.status import parse_thresholds

DEFAULT_THRESHOLDS = {
    'cpu': {'warning': '70', 'critical': '85'},
    'iowait': {'warning': '20', 'critical': '40'},
    'steal': {'warning': '10', 'critical': '25'},
    'load1': {},
    'load5': {},
    'load15': {},
    'load1_per_core': {'warning': '2', 'critical': '4'},
    'load5_per_core': {'warning': '2', 'critical': '4'},
    'load15_per_core': {'warning': '2', 'critical': '4'},
    'memory': {'warning': '80', 'critical': '90'},
    'swap': {'warning': '50', 'critical': '80'},
    'disk': {'warning': '85', 'critical': '95'},
    'inodes': {},
}


def resource_thresholds(given, param='thresholds'):
    """Parse ``given`` over the defaults as resource_check does: inodes follow disk unless set.

    Returns ``{name: Thresholds}``; raises ``ValueError`` naming ``param`` and the cause.
    """
    given = dict(given or {})
    defaults = dict(DEFAULT_THRESHOLDS)
    disk = dict(defaults['disk'])
    if isinstance(given.get('disk'), dict):
        disk.update(given['disk'])
    defaults['inodes'] = disk
    return parse_thresholds(given, defaults, param)


def alert_bound(thresholds, name, level='warning', param='thresholds'):
    """The value above which ``level`` of check ``name`` alerts, for a rule of the form ``value > N``.

    Only ranges that alert above a number (``N`` and ``~:N``) have one; any other range, or a
    level switched off, raises ``ValueError`` saying why.
    """
    if level not in ('warning', 'critical'):
        raise ValueError("%s: level must be 'warning' or 'critical', got %r" % (param, level))
    parsed = resource_thresholds(thresholds, param)
    if name not in parsed:
        raise ValueError('%s: unknown check %r; known checks: %s' % (param, name, ', '.join(sorted(parsed))))
    rng = getattr(parsed[name], level)
    where = '%s.%s.%s' % (param, name, level)
    if rng is None:
        raise ValueError('%s: is switched off, so no alert rule can use it' % where)
    if rng.inside or rng.start not in (0.0, float('-inf')) or rng.end == float('inf'):
        raise ValueError("%s: '%s' does not alert above a single value; an alert rule needs N or ~:N"
                         % (where, rng.text))
    bound = rng.end
    return int(bound) if bound.is_integer() else bound
