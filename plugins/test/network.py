# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja tests for addresses, so roles can validate them without netaddr on the controller.

``x is fleetops.runbook.ip_network``: an IPv4/IPv6 address or a CIDR network whose host bits are
zero (``192.0.2.0/24``, ``2001:db8::/32``, ``203.0.113.7``).
``x is fleetops.runbook.ip_within(list)``: the address ``x`` lies in one of the networks of the list.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress


def _network(value):
    if not isinstance(value, str):
        return None
    try:
        return ipaddress.ip_network(value.strip(), strict=True)
    except ValueError:
        return None


def ip_network(value):
    return _network(value) is not None


def ip_within(value, networks):
    try:
        address = ipaddress.ip_address(str(value).strip())
    except ValueError:
        return False
    for item in networks or []:
        network = _network(item)
        if network is not None and network.version == address.version and address in network:
            return True
    return False


class TestModule(object):
    def tests(self):
        return {
            'ip_network': ip_network,
            'ip_within': ip_within,
        }
