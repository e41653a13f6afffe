# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.fleetops.runbook.plugins.plugin_utils.preflight import VARIABLES, daily_checks_errors


class ActionModule(ActionBase):
    """Checks the daily checks' variables of one host on the controller; touches no host."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset()

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        variables = {}
        for name in VARIABLES:
            if name in task_vars:
                variables[name] = self._templar.template(task_vars[name])
        errors = daily_checks_errors(variables)
        report_host = self._templar.template(task_vars.get('daily_checks_report_host') or '')
        if report_host and report_host not in task_vars.get('groups', {}).get('all', []):
            errors.append('daily_checks_report_host: %s is not a host of the inventory' % report_host)
        result.update(changed=False, errors=errors)
        if errors:
            raise AnsibleActionFail('the daily checks are misconfigured for %s: %s' % (
                task_vars.get('inventory_hostname', 'this host'), '; '.join(errors)), result=result)
        result['msg'] = 'the daily checks variables are valid'
        return result
