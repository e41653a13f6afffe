# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure parts of cert_check: endpoint addresses and certificate name matching."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.fleetops.runbook.plugins.modules.cert_check import (
    AddressError,
    hostname_matches,
    parse_address,
)


@pytest.mark.parametrize('text,expected', [
    ('www.example.test:443', ('www.example.test', 443)),
    ('www.example.test', ('www.example.test', 443)),
    ('10.0.0.1:8443', ('10.0.0.1', 8443)),
    ('[2001:db8::1]:993', ('2001:db8::1', 993)),
    ('[::1]', ('::1', 443)),
    (' host_1.internal:65535 ', ('host_1.internal', 65535)),
])
def test_parse_address(text, expected):
    assert parse_address(text) == expected


@pytest.mark.parametrize('text', [
    '', 'host:', 'host:-1', 'host:99999', 'host:4 43', '::1', '[::1]443', '[nope]:443',
    'a..b:443', '-bad:443', 'host/path:443', 'user@host:443',
])
def test_parse_address_rejects(text):
    with pytest.raises(AddressError):
        parse_address(text)


DNS = ['www.example.test', '*.apps.example.test', '*.test']


@pytest.mark.parametrize('hostname,matched', [
    ('www.example.test', True),
    ('WWW.EXAMPLE.TEST.', True),
    ('x.apps.example.test', True),
    ('apps.example.test', False),
    ('x.y.apps.example.test', False),
    ('example.test', False),          # '*.test' is too broad to count
    ('other.example.test', False),
])
def test_hostname_matches_dns(hostname, matched):
    assert hostname_matches(hostname, DNS, []) is matched


def test_hostname_matches_ip():
    assert hostname_matches('127.0.0.1', ['127.0.0.1'], []) is False
    assert hostname_matches('127.0.0.1', [], ['127.0.0.1']) is True
    assert hostname_matches('::1', [], ['0:0:0:0:0:0:0:1']) is True
    assert hostname_matches('[::1]', [], ['::1']) is True
