# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The tls role's layout: listen lines, one default server per address and port."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.fleetops.runbook.plugins.filter.tls_layout import tls_layout


def site(name, port=443, address=None, default=False):
    return {'name': name, 'listen_port': port, 'listen_address': address, 'default_server': default}


def test_the_first_site_of_a_port_becomes_its_default_server():
    layout = tls_layout([site('a'), site('b'), site('c', port=8443)], http_port=80)
    assert layout['errors'] == []
    assert [s['https_default'] for s in layout['sites']] == [True, False, True]
    assert layout['sites'][0]['https_listen'] == ['443', '[::]:443']
    assert layout['sites'][0]['http_listen'] == ['80', '[::]:80']
    assert layout['sites'][2]['socket'] == '*:8443'


def test_the_site_marked_default_wins_wherever_it_is_listed():
    layout = tls_layout([site('a'), site('b', default=True)], http_port=80, ipv6=False)
    assert [s['https_default'] for s in layout['sites']] == [False, True]
    assert layout['sites'][1]['https_listen'] == ['443']


def test_two_defaults_on_one_address_and_port_are_refused():
    layout = tls_layout([site('a', default=True), site('b', default=True), site('c', port=8443, default=True)],
                        http_port=80)
    assert layout['errors'] == [
        'tls_sites[1] (b) and tls_sites[0] (a) are both default_server of *:443; '
        'nginx has one default server per address and port']


def test_addresses_are_separate_sockets_and_formatted_for_nginx():
    layout = tls_layout([site('a', default=True), site('b', address='192.0.2.10'),
                         site('c', address='2001:db8:0::1'), site('d')],
                        http_port=8080, listen_address='')
    assert layout['errors'] == []
    assert [s['https_default'] for s in layout['sites']] == [True, True, True, False]
    assert layout['sites'][1]['https_listen'] == ['192.0.2.10:443']
    assert layout['sites'][1]['http_listen'] == ['192.0.2.10:8080']
    assert layout['sites'][2]['https_listen'] == ['[2001:db8::1]:443']
    assert layout['sites'][2]['socket'] == '[2001:db8::1]:443'


def test_the_role_wide_address_applies_to_sites_without_their_own():
    layout = tls_layout([site('a'), site('b', address='')], http_port=80, listen_address='127.0.0.1')
    assert layout['sites'][0]['https_listen'] == ['127.0.0.1:443']
    assert layout['sites'][1]['https_listen'] == ['443', '[::]:443']


@pytest.mark.parametrize('sites,listen_address,word', [
    ([site('a', address='www.example.test')], '', "tls_sites[0] (a): listen_address 'www.example.test'"),
    ([site('a', address='10.0.0.300')], '', 'tls_sites[0] (a): listen_address'),
    ([site('a')], '10.0.0.0/8', "tls_listen_address '10.0.0.0/8' is not an IP address"),
    ([], 'any', "tls_listen_address 'any'"),
])
def test_bad_addresses_are_named(sites, listen_address, word):
    errors = tls_layout(sites, http_port=80, listen_address=listen_address)['errors']
    assert len(errors) == 1 and errors[0].startswith(word), errors
