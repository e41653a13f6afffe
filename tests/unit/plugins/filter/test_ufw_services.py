# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ufw role's rules to add; the expected values are what the role's former Jinja loops rendered for the same inputs."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.runbook.plugins.filter.ufw_services import ufw_services

PREFIX = 'fleetops: '


def rule(port, proto='tcp', source='any', comment=None, kind='allow'):
    return {'port': port, 'proto': proto, 'from': source, 'rule': kind, 'comment': PREFIX + comment}


def test_defaults_filled_and_comments_written():
    given = [
        {'port': 22},
        {'port': 443, 'proto': 'any', 'comment': 'web'},
        {'port': 5432, 'from': '10.0.0.0/8', 'rule': 'limit'},
        {'port': '8000:8010', 'proto': 'udp', 'from': '192.168.1.5'},
    ]
    assert ufw_services(given, prefix=PREFIX) == [
        rule('22', comment='22/tcp'),
        rule('443', proto='any', comment='web'),
        rule('5432', source='10.0.0.0/8', kind='limit', comment='5432/tcp from 10.0.0.0/8'),
        rule('8000:8010', proto='udp', source='192.168.1.5', comment='8000:8010/udp from 192.168.1.5'),
    ]


def test_exporter_ports_once_per_monitoring_address_after_the_services():
    # Empty addresses (monitoring hosts without facts) and repeats are left out, order kept.
    got = ufw_services([{'port': 22}], [9100, 9187], ['10.1.1.1', '', '10.1.1.2', '10.1.1.1', None], PREFIX)
    assert got == [rule('22', comment='22/tcp')] + [
        rule(str(port), source=source, comment='exporter %s from %s' % (port, source))
        for port in (9100, 9187) for source in ('10.1.1.1', '10.1.1.2')
    ]


def test_nothing_wanted_gives_nothing():
    assert ufw_services([], [9100], [], PREFIX) == []
    assert ufw_services(None, None, None, PREFIX) == []


@pytest.mark.parametrize('given, words', [
    ('22', 'ufw_allowed_services must be a list'),
    (['22'], 'ufw_allowed_services[0] must be a mapping'),
    ([{'port': 22}, {'proto': 'tcp'}], 'ufw_allowed_services[1] has no port'),
])
def test_bad_services_name_the_variable(given, words):
    with pytest.raises(AnsibleFilterError, match=words.replace('[', r'\[').replace(']', r'\]')):
        ufw_services(given, prefix=PREFIX)
