# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import time

from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.fleetops.runbook.plugins.module_utils.regular_file import FileRefused
from ansible_collections.fleetops.runbook.plugins.module_utils.status import FAIL_ON_CHOICES, finite_number
from ansible_collections.fleetops.runbook.plugins.plugin_utils.arguments import argument_errors
from ansible_collections.fleetops.runbook.plugins.plugin_utils.report import (
    build_fleet_report,
    read_history,
    write_report,
)

_NAME_RE = re.compile(r'^[A-Za-z0-9_.-]+$')


# Bulky keys a notification or a follow-up task does not need.
_STRIPPED = frozenset(('metrics', 'perfdata', 'invocation', 'filesystems', 'processes'))


def _problem_results(report, host_results):
    """The registered results of the hosts that are not OK, by host and check, for notify."""
    out = {}
    for host in report['hosts']:
        if host['status'] == 'OK':
            continue
        checks = {}
        for check, cell in host['results'].items():
            raw = host_results[host['host']].get(check)
            if cell['applicable'] and isinstance(raw, dict):
                checks[check] = dict((k, v) for k, v in raw.items() if k not in _STRIPPED)
            elif cell['applicable']:
                checks[check] = {'failed': True, 'msg': cell['summary']}
        if not checks:
            checks['daily_checks'] = {'failed': True, 'msg': host['summary']}
        out[host['host']] = checks
    return out


class ActionModule(ActionBase):
    """Collects the registered check results of every host and writes the fleet report."""

    TRANSFERS_FILES = False
    _requires_connection = False

    _VALID_ARGS = frozenset(('checks', 'hosts', 'var_prefix', 'dest', 'name', 'started', 'fail_on',
                             'keep_history', 'title'))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        result['changed'] = False
        spec = dict(
            checks=dict(type='list', elements='str', required=True),
            hosts=dict(type='list', elements='str', required=True),
            var_prefix=dict(type='str', default='__daily_checks_'),
            dest=dict(type='path', default='reports'),
            name=dict(type='str', default='daily_checks'),
            started=dict(type='float'),
            fail_on=dict(type='str', default='never', choices=FAIL_ON_CHOICES),
            keep_history=dict(type='bool', default=True),
            title=dict(type='str'),
        )
        errors = argument_errors(self._task.args, spec)
        if errors:
            raise AnsibleActionFail('; '.join(errors))
        validation, args = self.validate_argument_spec(argument_spec=spec)
        if not _NAME_RE.match(args['name']):
            raise AnsibleError("name: '%s' may hold only letters, digits, '.', '_' and '-'" % args['name'])
        for check in args['checks']:
            if not _NAME_RE.match(check):
                raise AnsibleError("checks: '%s' is not a valid check name" % check)
        finished = time.time()
        started = args['started'] if args['started'] is not None else finished
        try:
            # A Unix time: after 1970, and within what a date can show.
            started = finite_number(started, 'started', minimum=0, maximum=253402300799)
        except ValueError as exc:
            raise AnsibleError(str(exc))
        if started > finished + 60:
            raise AnsibleError('started: %s lies in the future' % args['started'])

        hostvars = task_vars.get('hostvars', {})
        host_results = {}
        missing = []
        for host in args['hosts']:
            if host not in hostvars:
                missing.append(host)
                variables = {}
            else:
                variables = hostvars[host]
            host_results[host] = dict(
                (check, self._lookup(variables, args['var_prefix'] + check)) for check in args['checks'])
        if missing:
            self._display.warning('fleet_report: hosts not in the inventory, reported UNKNOWN: %s' % ', '.join(missing))

        dest = os.path.abspath(os.path.expanduser(args['dest']))
        report = build_fleet_report(args['name'], args['checks'], host_results, started, finished,
                                    args['fail_on'], missing_hosts=missing, history=read_history(dest, args['name']))
        try:
            paths = write_report(report, dest, args['name'], args['keep_history'], args['title'])
        except FileRefused as exc:
            raise AnsibleError(exc.msg)
        except (IOError, OSError) as exc:
            raise AnsibleError('dest: cannot write the report under %s: %s' % (dest, to_native(exc)))

        result.update(
            paths=paths,
            status=report['status'],
            counts=report['counts'],
            failing_hosts=report['failing_hosts'],
            hosts=dict((h['host'], h['status']) for h in report['hosts']),
            summaries=dict((h['host'], h['summary']) for h in report['hosts'] if h['status'] != 'OK'),
            duration_seconds=report['duration_seconds'],
            headline=report['headline'],
            changes=report['changes'],
            results=_problem_results(report, host_results),
        )
        if report['failing_hosts']:
            result['failed'] = True
            result['msg'] = '%d host(s) at or above %s: %s (report: %s)' % (
                len(report['failing_hosts']), args['fail_on'].upper(),
                ', '.join(report['failing_hosts']), paths['html'])
        else:
            result['msg'] = 'fleet report written to %s' % paths['html']
        return result

    @staticmethod
    def _lookup(variables, name):
        try:
            value = variables[name]
        except KeyError:
            return None
        # Registered results of hosts the task skipped or never reached are plain dicts too.
        return value if isinstance(value, dict) else None
