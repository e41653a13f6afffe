# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The alerting role refuses bad settings before it changes anything.

Runs in check mode on localhost and stops at the preflight checks; the role itself is exercised
for real by the molecule scenario molecule/alerting.
"""

from __future__ import annotations

import pytest

PASSWORD = 'Pw-never-shown-71'

GOOD = {
    'alerting_relay_host': 'smtp.example.com',
    'alerting_relay_port': 587,
    'alerting_sasl_username': 'alerts@example.com',
    'alerting_sasl_password': PASSWORD,
}

CASES = [
    ('sasl without user', {'alerting_sasl_username': ''},
     'Check the SASL credentials', ['alerting_sasl_username and alerting_sasl_password must both be set']),
    ('sasl without password', {'alerting_sasl_password': ''},
     'Check the SASL credentials', ['alerting_sasl_enabled is true']),
    ('no relay', {'alerting_relay_host': ''},
     'Check the mail settings', ['alerting_relay_host must name the relay']),
    ('relay with a space', {'alerting_relay_host': 'smtp example.com'},
     'Check the mail settings', ["relay 'smtp example.com:587'"]),
    ('465 without wrapper mode', {'alerting_relay_port': 465},
     'Check the TLS settings', ['port 465 needs alerting_relay_wrapper_mode true']),
    ('unknown tls level', {'alerting_tls_security_level': 'may'},
     None, ['alerting_tls_security_level', 'may']),
]


def failed_task(run):
    for task in run.tasks:
        for host, res in task['hosts'].items():
            if res.get('failed'):
                return task['task']['name'], res
    return None, None


@pytest.mark.parametrize('name, override, task, words', CASES, ids=[c[0] for c in CASES])
def test_bad_settings_fail_before_any_change(ansible, name, override, task, words):
    play = {'name': 'alerting', 'hosts': 'localhost', 'gather_facts': False,
            'roles': [{'role': 'fleetops.runbook.alerting'}]}
    run = ansible.playbook([play], extra_vars=dict(GOOD, **override), check=True, verbosity=2)
    assert run.rc != 0, run
    failed, res = failed_task(run)
    assert failed is not None, run
    if task is None:
        # Caught by the role's argument specification, before its first task.
        assert 'Validating arguments against arg spec' in failed, failed
    else:
        assert failed.endswith(task), failed
    message = res['msg']
    for word in words:
        assert word in message, message
    assert 'Traceback' not in message
    # Nothing ran after the failing check.
    changed = [t['task']['name'] for t in run.tasks for r in t['hosts'].values() if r.get('changed')]
    assert changed == []
    assert PASSWORD not in run.stdout + run.stderr
