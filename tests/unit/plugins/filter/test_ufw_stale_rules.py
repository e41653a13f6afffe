# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ufw role's managed rules that are no longer wanted; the expected values are what the role's former Jinja loops rendered for the same inputs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.runbook.plugins.filter.ufw_stale_rules import ufw_stale_rules

PREFIX = 'fleetops: '


ADDED = [
    "Added user rules (see 'ufw status' for running firewall):",
    "ufw allow 22/tcp comment 'fleetops: 22/tcp'",
    "ufw allow 80/tcp comment 'fleetops: 80/tcp'",
    "ufw prepend deny from 1.2.3.4 comment 'fleetops: deny 1.2.3.4'",
    "ufw prepend deny from 5.6.7.8 comment 'fleetops: deny 5.6.7.8'",
    "ufw allow 25/tcp comment 'by hand'",
    "ufw allow 26/tcp",
    "ufw allow 2222/tcp comment 'fleetops: Ansible connection'",
    "ufw allow 9100/tcp comment 'fleetops: exporter 9100 from 10.1.1.9'",
    "ufw allow 9100/tcp from 10.1.1.1 comment 'fleetops: exporter 9100 from 10.1.1.1'",
    " ufw allow 81/tcp comment 'fleetops: 81/tcp'",
    "ufw allow 82/tcp comment 'fleetops: it''s'",
]
WANTED = ['fleetops: 22/tcp', 'fleetops: deny 1.2.3.4', 'fleetops: Ansible connection', 'fleetops: exporter 9100 from 10.1.1.1']


def test_stale_rules_are_the_managed_ones_no_longer_wanted():
    # Rules added by hand (other or no comment) and lines that are not rules stay.
    assert ufw_stale_rules(ADDED, PREFIX, WANTED) == [
        "ufw allow 80/tcp comment 'fleetops: 80/tcp'",
        "ufw prepend deny from 5.6.7.8 comment 'fleetops: deny 5.6.7.8'",
        "ufw allow 9100/tcp comment 'fleetops: exporter 9100 from 10.1.1.9'",
        "ufw allow 82/tcp comment 'fleetops: it''s'",
    ]


def test_stale_rules_with_nothing_read():
    assert ufw_stale_rules(None, PREFIX, WANTED) == []
    assert ufw_stale_rules([], PREFIX, []) == []


def test_every_wanted_rule_kept():
    assert ufw_stale_rules(ADDED, PREFIX, WANTED + ['fleetops: 80/tcp', 'fleetops: deny 5.6.7.8',
                                                    'fleetops: exporter 9100 from 10.1.1.9', "fleetops: it''s"]) == []


def test_empty_prefix_matches_every_commented_rule():
    # What the loop did; preflight refuses an empty prefix before rules are touched.
    lines = ["ufw allow 80/tcp comment 'x'", "ufw allow 81/tcp comment ''", 'ufw allow 82/tcp']
    assert ufw_stale_rules(lines, '', []) == lines[:2]


def test_bad_rule_list_names_the_parameter():
    with pytest.raises(AnsibleFilterError, match='ufw_stale_rules: the added rules must be a list of lines'):
        ufw_stale_rules('ufw allow 80/tcp', PREFIX, [])
