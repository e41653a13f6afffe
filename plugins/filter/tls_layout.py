# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: tls_layout
short_description: Listen sockets and default servers of the tls role's sites
version_added: 0.3.0
description:
  - Takes the sites of the C(fleetops.runbook.tls) role (O(_input), defaults filled in) and returns
    them with their C(listen) lines for HTTPS and plain HTTP and whether each is the default
    server of its HTTPS address and port, plus the problems found.
  - nginx negotiates the protocol version and the key exchange groups with the default server of
    the address and port a connection arrives on, before SNI selects the site (measured with
    C(openssl s_client -servername) against nginx 1.22 and OpenSSL 3.0). So every address and port
    the role listens on gets one of the role's sites as its default server - the one with
    C(default_server), else the first listed - and another server that claims to be the default
    there makes C(nginx -t) fail, which the role reports before anything is written.
  - An address of V('') listens on every address (and on V([::]) too when O(ipv6) is true).
author:
  - fleetops.runbook maintainers (@fleetops)
options:
  _input:
    description: The sites, each with C(name), C(listen_port), C(listen_address) and C(default_server).
    type: list
    elements: dict
    required: true
  http_port:
    description: The plain HTTP port of the redirects.
    type: int
    required: true
  ipv6:
    description: Listen on V([::]) as well when the address is V('').
    type: bool
    default: true
  listen_address:
    description: The address of the sites that do not name their own (C(tls_listen_address)).
    type: str
    default: ''
'''

EXAMPLES = r'''
- name: Lay the sites out
  ansible.builtin.set_fact:
    _tls_layout: "{{ _tls_sites | fleetops.runbook.tls_layout(http_port=80, ipv6=true, listen_address='') }}"
'''

RETURN = r'''
_value:
  description: The layout.
  type: dict
  contains:
    sites:
      description:
        - The sites with C(https_listen) and C(http_listen) (lists of nginx listen addresses),
          C(https_default) (the default server of its HTTPS sockets) and C(socket) (the address and
          port, for messages).
      type: list
    errors:
      description: What is wrong, each naming the variable (empty when the layout is good).
      type: list
'''

import ipaddress

from ansible.errors import AnsibleFilterError


def _address(value):
    """The address for an nginx listen directive ('' for every address), or None if not an IP."""
    if value in (None, ''):
        return ''
    try:
        address = ipaddress.ip_address(str(value).strip('[]'))
    except ValueError:
        return None
    return '[%s]' % address.compressed if address.version == 6 else address.compressed


def _listen(address, port, ipv6):
    if address:
        return ['%s:%d' % (address, port)]
    return ['%d' % port] + (['[::]:%d' % port] if ipv6 else [])


def tls_layout(sites, http_port, ipv6=True, listen_address=''):
    if not isinstance(sites, list) or not all(isinstance(s, dict) for s in sites):
        raise AnsibleFilterError('tls_layout: expects the list of sites (dicts)')
    errors = []
    default_address = _address(listen_address)
    if default_address is None:
        errors.append('tls_listen_address %r is not an IP address (empty: every address)' % (listen_address,))
        default_address = ''
    out = []
    keys = []
    defaults = {}
    for index, site in enumerate(sites):
        label = 'tls_sites[%d] (%s)' % (index, site.get('name', '?'))
        own = site.get('listen_address')
        address = default_address if own is None else _address(own)
        if address is None:
            errors.append('%s: listen_address %r is not an IP address (empty: every address)'
                          % (label, site.get('listen_address')))
            address = ''
        try:
            port = int(site.get('listen_port'))
        except (TypeError, ValueError):
            port = 0
        key = (address, port)
        keys.append(key)
        if site.get('default_server'):
            if key in defaults and sites[defaults[key]].get('default_server'):
                other = defaults[key]
                errors.append('%s and tls_sites[%d] (%s) are both default_server of %s:%d; nginx has one default '
                              'server per address and port' % (label, other, sites[other].get('name', '?'), address or '*', port))
            else:
                defaults[key] = index
        else:
            defaults.setdefault(key, index)
        out.append(dict(site, listen_address=address, socket='%s:%d' % (address or '*', port),
                        https_listen=_listen(address, port, ipv6),
                        http_listen=_listen(address, int(http_port), ipv6)))
    for index, site in enumerate(out):
        site['https_default'] = defaults.get(keys[index]) == index
    return dict(sites=out, errors=errors)


class FilterModule(object):
    def filters(self):
        return {'tls_layout': tls_layout}
