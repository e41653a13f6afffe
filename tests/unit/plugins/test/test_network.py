# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tests ip_network and ip_within, which the roles use to check addresses in their variables."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.fleetops.runbook.plugins.test import network
from ansible_collections.fleetops.runbook.plugins.test.network import ip_network, ip_within


@pytest.mark.parametrize('value, expected', [
    ('10.0.0.0/8', True), ('10.1.2.3/32', True), ('10.1.2.3', True), (' 192.168.0.0/16 ', True),
    ('2001:db8::/32', True), ('::1', True),
    ('10.0.0.1/8', False),  # host bits set: a typo for 10.0.0.0/8 or for a single address
    ('10.0.0.0/33', False), ('example.org', False), ('', False), (None, False), (10, False), (['10.0.0.0/8'], False),
])
def test_ip_network(value, expected):
    assert ip_network(value) is expected


@pytest.mark.parametrize('value, networks, expected', [
    ('10.1.2.3', ['10.0.0.0/8'], True),
    ('10.1.2.3', ['192.168.0.0/16', '10.1.2.0/24'], True),
    ('11.0.0.1', ['10.0.0.0/8'], False),
    ('10.1.2.3', ['not a network', '10.0.0.1/8'], False),
    ('::ffff:10.1.2.3', ['10.0.0.0/8'], False),  # an IPv6 address is never within an IPv4 network
    ('2001:db8::5', ['2001:db8::/32'], True),
    ('10.1.2.3', None, False),
    ('10.1.2.3', [], False),
    ('host.example.org', ['0.0.0.0/0'], False),
])
def test_ip_within(value, networks, expected):
    assert ip_within(value, networks) is expected


def test_the_tests_are_registered():
    assert network.TestModule().tests() == {'ip_network': ip_network, 'ip_within': ip_within}
