# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The apt_packages action: what it asks the host to run, in which order, and what it reports.
The host is a script of module answers (tests/integration/test_apt_packages.py runs it for real)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64

import pytest

from ansible.errors import AnsibleActionFail

from ansible_collections.fleetops.runbook.plugins.action.apt_packages import POLICY_RC_D, POLICY_SCRIPT, ActionModule

QUERY = 'fleetops.runbook.apt_packages'


class Host:
    """Answers _execute_module by module name from queues; records every call."""

    def __init__(self, **answers):
        self.answers = dict((name.replace('__', '.'), list(queue)) for name, queue in answers.items())
        self.calls = []

    def __call__(self, module_name=None, module_args=None, task_vars=None, **kwargs):
        self.calls.append((module_name, module_args))
        return self.answers[module_name].pop(0)

    @property
    def modules(self):
        return [name for name, args in self.calls]


def query(missing, installed=()):
    return {'changed': False, 'missing': list(missing), 'installed': dict(installed)}


def run(make_action, host, check_mode=False, **args):
    action = make_action(ActionModule, dict({'name': ['nginx-light', 'jq']}, **args), check_mode=check_mode)
    action._execute_module = host
    return action.run(task_vars={})


def test_nothing_missing_leaves_the_lists_and_packages_alone(make_action):
    host = Host(**{'fleetops.runbook.apt_packages': [query([], {'jq': '1.6', 'nginx-light': '1.22'})]})
    result = run(make_action, host)
    assert host.modules == [QUERY]
    assert host.calls[0][1] == {'name': ['nginx-light', 'jq']}
    assert result['changed'] is False and result['cache_updated'] is False and result['missing'] == []
    assert result['msg'] == 'all 2 packages are installed; the package lists were left alone'


def test_check_mode_says_what_it_would_do_and_runs_only_the_query(make_action):
    host = Host(**{'fleetops.runbook.apt_packages': [query(['jq'])]})
    result = run(make_action, host, check_mode=True, start_services=False, install_recommends=False)
    assert host.modules == [QUERY]
    assert host.calls[0][1] == {'name': ['nginx-light', 'jq'], 'install_recommends': False}
    assert result['changed'] is True
    assert result['msg'] == ('check mode: a real run refreshes the package lists and installs jq without '
                             'starting their services')


def test_missing_packages_are_installed_and_checked_again(make_action):
    host = Host(**{'fleetops.runbook.apt_packages': [query(['jq']), query([], {'jq': '1.6'})],
                   'ansible.legacy.apt': [{'changed': True, 'cache_updated': True}]})
    result = run(make_action, host)
    assert host.modules == [QUERY, 'ansible.legacy.apt', QUERY]
    assert host.calls[1][1] == {'name': ['jq'], 'state': 'present', 'update_cache': True}
    assert (result['changed'], result['cache_updated'], result['installed'], result['policy_rc_d']) == (
        True, True, {'jq': '1.6'}, 'none')
    assert result['msg'] == 'refreshed the package lists and installed jq'


def test_apt_reporting_success_for_a_package_still_missing_fails(make_action):
    host = Host(**{'fleetops.runbook.apt_packages': [query(['jq']), query(['jq'])],
                   'ansible.legacy.apt': [{'changed': False, 'cache_updated': True}]})
    result = run(make_action, host)
    assert result['failed'] is True and result['msg'] == 'apt-get reported success, but jq is still not installed'


def test_a_failed_install_says_which_packages(make_action):
    host = Host(**{'fleetops.runbook.apt_packages': [query(['jq', 'nginx-light'])],
                   'ansible.legacy.apt': [{'failed': True, 'msg': 'E: Unable to locate package', 'stderr': 'E: x'}]})
    result = run(make_action, host)
    assert host.modules == [QUERY, 'ansible.legacy.apt']
    assert result['failed'] is True and result['changed'] is False
    assert result['msg'] == 'installing jq, nginx-light failed: E: Unable to locate package'
    assert result['stderr'] == 'E: x'


def test_a_failed_query_is_returned_as_it_is(make_action):
    host = Host(**{'fleetops.runbook.apt_packages': [{'failed': True, 'msg': 'name: bad package name'}]})
    result = run(make_action, host)
    assert host.modules == [QUERY]
    assert result['failed'] is True and result['msg'] == 'name: bad package name'


def test_start_services_false_holds_services_and_removes_only_its_own_policy(make_action):
    host = Host(**{'fleetops.runbook.apt_packages': [query(['nginx-light']), query([], {'nginx-light': '1.22'})],
                   'ansible.legacy.command': [{'rc': 0}],
                   'ansible.legacy.apt': [{'changed': True, 'cache_updated': True}],
                   'ansible.legacy.file': [{'changed': True}]})
    result = run(make_action, host, start_services=False)
    assert host.modules == [QUERY, 'ansible.legacy.command', 'ansible.legacy.apt', QUERY, 'ansible.legacy.file']
    # The policy is created only where none exists (set -C: noclobber).
    argv = host.calls[1][1]['argv']
    assert argv[:2] == ['/bin/sh', '-c'] and argv[2].startswith('set -C') and argv[3:] == [POLICY_RC_D, POLICY_SCRIPT]
    assert host.calls[4][1] == {'path': POLICY_RC_D, 'state': 'absent'}
    assert result['policy_rc_d'] == 'ours'
    assert result['msg'] == 'refreshed the package lists and installed nginx-light; their services were not started'


def test_the_hosts_own_policy_is_left_alone_with_a_warning(make_action):
    own = base64.b64encode(b'#!/bin/sh\nexit 0\n').decode()
    host = Host(**{'fleetops.runbook.apt_packages': [query(['nginx-light']), query([], {'nginx-light': '1.22'})],
                   'ansible.legacy.command': [{'rc': 1, 'stderr': 'cannot overwrite existing file'}],
                   'ansible.legacy.slurp': [{'content': own}],
                   'ansible.legacy.apt': [{'changed': True}]})
    result = run(make_action, host, start_services=False)
    assert 'ansible.legacy.file' not in host.modules
    assert result['policy_rc_d'] == 'host' and result['changed'] is True
    assert result['warnings'] == ['start_services=false: this host has a %s of its own; it was left as it is and '
                                  'decided which services of nginx-light started' % POLICY_RC_D]


def test_a_policy_an_interrupted_run_left_is_ours_and_removed(make_action):
    ours = base64.b64encode(POLICY_SCRIPT.encode()).decode()
    host = Host(**{'fleetops.runbook.apt_packages': [query(['jq']), query([], {'jq': '1.6'})],
                   'ansible.legacy.command': [{'rc': 1}],
                   'ansible.legacy.slurp': [{'content': ours}],
                   'ansible.legacy.apt': [{'changed': True}],
                   'ansible.legacy.file': [{'changed': True}]})
    result = run(make_action, host, start_services=False)
    assert host.modules[-1] == 'ansible.legacy.file' and result['policy_rc_d'] == 'ours'


def test_no_policy_written_means_nothing_installed(make_action):
    host = Host(**{'fleetops.runbook.apt_packages': [query(['jq'])],
                   'ansible.legacy.command': [{'rc': 1, 'stderr': 'Read-only file system'}],
                   'ansible.legacy.slurp': [{'failed': True, 'msg': 'file not found'}]})
    result = run(make_action, host, start_services=False)
    assert 'ansible.legacy.apt' not in host.modules
    assert result['failed'] is True
    assert result['msg'] == 'start_services=false: could not write %s: Read-only file system; nothing was installed' % POLICY_RC_D


def test_a_policy_that_cannot_be_removed_fails_the_task(make_action):
    host = Host(**{'fleetops.runbook.apt_packages': [query(['jq']), query([], {'jq': '1.6'})],
                   'ansible.legacy.command': [{'rc': 0}],
                   'ansible.legacy.apt': [{'changed': True}],
                   'ansible.legacy.file': [{'failed': True, 'msg': 'permission denied'}]})
    result = run(make_action, host, start_services=False)
    assert result['failed'] is True
    assert result['msg'] == 'refreshed the package lists and installed jq; removing our %s failed: permission denied' % POLICY_RC_D


def test_unknown_options_are_refused(make_action):
    host = Host()
    action = make_action(ActionModule, {'name': ['jq'], 'state': 'latest'})
    action._execute_module = host
    with pytest.raises(AnsibleActionFail, match='Invalid options'):
        action.run(task_vars={})
    assert host.calls == []
