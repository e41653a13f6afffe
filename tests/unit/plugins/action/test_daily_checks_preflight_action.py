# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The daily checks' preflight action: the host's variables, templated, checked on the controller."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleActionFail

from ansible_collections.fleetops.runbook.plugins.action.daily_checks_preflight import ActionModule


def host_vars(**variables):
    base = {'inventory_hostname': 'web01', 'groups': {'all': ['web01', 'report01']}}
    base.update(variables)
    return base


def test_valid_variables_pass(make_action):
    result = make_action(ActionModule, {}).run(task_vars=host_vars(daily_checks_backup_max_age='2d',
                                                                   daily_checks_report_host='report01'))
    assert result == {'changed': False, 'errors': [], 'msg': 'the daily checks variables are valid'}


def test_every_mistake_is_named_with_the_host(make_action):
    with pytest.raises(AnsibleActionFail) as failed:
        make_action(ActionModule, {}).run(task_vars=host_vars(daily_checks_backup_max_age='yesterday',
                                                              daily_checks_report_host='nowhere'))
    message = str(failed.value)
    assert message.startswith('the daily checks are misconfigured for web01: ')
    assert "daily_checks_backup_max_age: 'yesterday' is not a duration" in message
    assert message.endswith('daily_checks_report_host: nowhere is not a host of the inventory')
    assert len(failed.value.result['errors']) == 2


def test_values_are_templated_before_they_are_checked(make_action):
    action = make_action(ActionModule, {})
    seen = []

    def template(value):
        seen.append(value)
        return {'{{ max_age }}': '3d', '{{ report }}': 'report01'}.get(value, value)

    action._templar.template = template
    result = action.run(task_vars=host_vars(daily_checks_backup_max_age='{{ max_age }}',
                                            daily_checks_report_host='{{ report }}', unrelated='{{ x }}'))
    assert result['errors'] == []
    assert '{{ max_age }}' in seen and '{{ report }}' in seen and '{{ x }}' not in seen


def test_the_action_takes_no_arguments(make_action):
    with pytest.raises(AnsibleActionFail):
        make_action(ActionModule, {'strict': True}).run(task_vars=host_vars())
