# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ufw role's rule lists as its vars render them through Ansible (check mode, nothing touched).

The filters behind them have unit tests; this proves the role's vars hand them the right variables:
the exporter rules from the monitoring sources, and the connection rule and deny comments counted
as wanted when old rules are pruned.
"""

from __future__ import annotations

from .harness import REPO

ROLE = REPO / 'roles' / 'ufw'

ADDED = [
    "Added user rules (see 'ufw status' for running firewall):",
    "ufw limit 22/tcp comment 'fleetops: SSH'",
    "ufw allow 80/tcp comment 'fleetops: HTTP'",
    "ufw prepend deny from 203.0.113.7 comment 'fleetops: deny 203.0.113.7'",
    "ufw prepend deny from 203.0.113.8 comment 'fleetops: deny 203.0.113.8'",
    "ufw allow 2222/tcp comment 'fleetops: Ansible connection'",
    "ufw allow 9100/tcp from 192.0.2.10 comment 'fleetops: exporter 9100 from 192.0.2.10'",
    "ufw allow 9100/tcp from 192.0.2.99 comment 'fleetops: exporter 9100 from 192.0.2.99'",
    "ufw allow 25/tcp comment 'by hand'",
]


def render(ansible, role_vars):
    play = {'name': 'ufw vars', 'hosts': 'localhost', 'gather_facts': False,
            'vars_files': [str(ROLE / 'defaults' / 'main.yml'), str(ROLE / 'vars' / 'main.yml')],
            'tasks': [{'name': 'rules', 'ansible.builtin.debug': {
                'msg': {'services': '{{ _ufw_services }}', 'stale': '{{ _ufw_stale_rules }}'}}}]}
    result = ansible.playbook([play], extra_vars=role_vars, check=True)
    assert result.rc == 0, result
    return result.task('rules')['msg']


def test_services_exporters_and_stale_rules(ansible):
    got = render(ansible, {
        'ufw_allowed_services': [{'port': 22, 'rule': 'limit', 'comment': 'SSH'},
                                 {'port': 5432, 'from': '10.0.0.0/8'}],
        'ufw_monitoring_ports': [9100],
        'ufw_monitoring_sources': ['192.0.2.10', '', '192.0.2.10'],
        'ufw_deny_sources': ['203.0.113.7'],
        '_ufw_connection_port': '2222',
        '__ufw_added': {'stdout_lines': ADDED},
    })
    assert got['services'] == [
        {'port': '22', 'proto': 'tcp', 'from': 'any', 'rule': 'limit', 'comment': 'fleetops: SSH'},
        {'port': '5432', 'proto': 'tcp', 'from': '10.0.0.0/8', 'rule': 'allow', 'comment': 'fleetops: 5432/tcp from 10.0.0.0/8'},
        {'port': '9100', 'proto': 'tcp', 'from': '192.0.2.10', 'rule': 'allow', 'comment': 'fleetops: exporter 9100 from 192.0.2.10'},
    ]
    assert got['stale'] == [
        "ufw allow 80/tcp comment 'fleetops: HTTP'",
        "ufw prepend deny from 203.0.113.8 comment 'fleetops: deny 203.0.113.8'",
        "ufw allow 9100/tcp from 192.0.2.99 comment 'fleetops: exporter 9100 from 192.0.2.99'",
    ]


def test_connection_rule_stale_once_a_service_covers_its_port(ansible):
    got = render(ansible, {
        'ufw_allowed_services': [{'port': 2222}],
        'ufw_monitoring_sources': [],
        '_ufw_connection_port': '2222',
        '__ufw_added': {'stdout_lines': ["ufw allow 2222/tcp comment 'fleetops: Ansible connection'"]},
    })
    assert got['services'] == [{'port': '2222', 'proto': 'tcp', 'from': 'any', 'rule': 'allow', 'comment': 'fleetops: 2222/tcp'}]
    assert got['stale'] == ["ufw allow 2222/tcp comment 'fleetops: Ansible connection'"]
