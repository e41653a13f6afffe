# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.fleetops.runbook.plugins.module_utils.status import (
    FAIL_ON_CHOICES,
    reaches,
    worst,
)
from ansible_collections.fleetops.runbook.plugins.plugin_utils.arguments import argument_errors
from ansible_collections.fleetops.runbook.plugins.plugin_utils.trend import (
    DEFAULT_METRICS,
    TrendError,
    capacity_trend,
)

_NAME_RE = re.compile(r'^[A-Za-z0-9_.-]+$')


class ActionModule(ActionBase):
    """Reads the dated daily reports once and returns the capacity trend of every host."""

    TRANSFERS_FILES = False
    _requires_connection = False

    _VALID_ARGS = frozenset(('history_dir', 'report', 'window', 'metrics', 'thresholds', 'horizon',
                             'min_samples', 'drop_ratio', 'hosts', 'fail_on'))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        result['changed'] = False
        spec = dict(
            history_dir=dict(type='path', default='reports/history'),
            report=dict(type='str', default='daily_checks'),
            window=dict(type='float', default=30),
            metrics=dict(type='list', elements='dict', default=[dict(m) for m in DEFAULT_METRICS],
                         options=dict(name=dict(type='str', required=True),
                                      column=dict(type='str'),
                                      limit=dict(type='float'))),
            thresholds=dict(type='dict', default={}),
            horizon=dict(type='float', default=90),
            min_samples=dict(type='int', default=3),
            drop_ratio=dict(type='float', default=0.1),
            hosts=dict(type='list', elements='str'),
            fail_on=dict(type='str', default='never', choices=FAIL_ON_CHOICES),
        )
        errors = argument_errors(self._task.args, spec)
        if errors:
            raise AnsibleActionFail('; '.join(errors))
        _validation, args = self.validate_argument_spec(argument_spec=spec)
        if not _NAME_RE.match(args['report']):
            return dict(result, failed=True,
                        msg="report: '%s' may hold only letters, digits, '.', '_' and '-'" % args['report'])
        directory = os.path.abspath(os.path.expanduser(args['history_dir']))
        try:
            trend = capacity_trend(directory, report=args['report'], window_days=args['window'],
                                   metrics=args['metrics'], thresholds=args['thresholds'],
                                   horizon_days=args['horizon'], min_samples=args['min_samples'],
                                   drop_ratio=args['drop_ratio'], hosts=args['hosts'])
        except TrendError as exc:
            return dict(result, failed=True, msg=str(exc))

        hosts = trend['hosts']
        status = worst(h['status'] for h in hosts.values()) if hosts else 'UNKNOWN'
        failing = sorted(h for h, r in hosts.items() if reaches(r['status'], args['fail_on']))
        result.update(
            status=status,
            hosts=hosts,
            history_dir=directory,
            files_read=trend['files_read'],
            files_skipped=trend['files_skipped'],
            failing_hosts=failing,
        )
        read = len(trend['files_read'])
        if failing:
            result['failed'] = True
            result['msg'] = '%d host(s) at or above %s: %s' % (
                len(failing), args['fail_on'].upper(), ', '.join(failing))
        else:
            result['msg'] = 'capacity trend of %d host(s) from %d report(s)%s' % (
                len(hosts), read,
                ', %d file(s) skipped' % len(trend['files_skipped']) if trend['files_skipped'] else '')
        return result
