# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: ufw_services
short_description: The ufw rules of the services to let in, with their defaults and comments
version_added: 0.1.0
description:
  - Takes the services of the ufw role (C(ufw_allowed_services)) and returns one rule per service
    with C(port) (a string), C(proto) (default V(tcp)), C(from) (default V(any)), C(rule) (default
    V(allow)) and C(comment), the comment being the service's own or C(port/proto[ from source]),
    after O(prefix).
  - Each of O(monitoring_ports) is added after the services, once per monitoring address, as a
    V(tcp) rule from that address commented C(exporter PORT from ADDRESS). Empty addresses (a
    monitoring host without facts) and repeated ones are left out.
author:
  - fleetops.runbook maintainers (@fleetops)
options:
  _input:
    description: Services, each a dict with C(port) and optionally C(proto), C(from), C(rule) and C(comment).
    type: list
    elements: dict
    required: true
  monitoring_ports:
    description: The exporter ports to open to the monitoring addresses.
    type: list
    elements: raw
    default: []
  monitoring_addresses:
    description: The addresses of the monitoring hosts.
    type: list
    elements: str
    default: []
  prefix:
    description: What every comment starts with, so that the role knows the rules it added.
    type: str
    default: ''
'''

EXAMPLES = r'''
- name: Let the services and the exporters in
  community.general.ufw:
    rule: "{{ item.rule }}"
    to_port: "{{ item.port }}"
    proto: "{{ item.proto }}"
    from_ip: "{{ item.from }}"
    comment: "{{ item.comment }}"
  loop: "{{ ufw_allowed_services | fleetops.runbook.ufw_services([9100], ['192.0.2.10'], 'fleetops: ') }}"
'''

RETURN = r'''
_value:
  description: The rules, each a dict with C(port), C(proto), C(from), C(rule) and C(comment).
  type: list
  elements: dict
'''

from ansible.errors import AnsibleFilterError


def _exporters(ports, addresses):
    sources = []
    for address in addresses or []:
        if address and address not in sources:
            sources.append(address)
    return [{'port': port, 'proto': 'tcp', 'from': source, 'comment': 'exporter %s from %s' % (port, source)}
            for port in ports or [] for source in sources]


def ufw_services(services, monitoring_ports=None, monitoring_addresses=None, prefix=''):
    if services is None:
        services = []
    if not isinstance(services, list):
        raise AnsibleFilterError('ufw_services: ufw_allowed_services must be a list of services, got %r' % (services,))
    for index, service in enumerate(services):
        if not isinstance(service, dict):
            raise AnsibleFilterError('ufw_services: ufw_allowed_services[%d] must be a mapping, got %r' % (index, service))
        if 'port' not in service:
            raise AnsibleFilterError('ufw_services: ufw_allowed_services[%d] has no port: %r' % (index, service))
    rules = []
    for service in services + _exporters(monitoring_ports, monitoring_addresses):
        proto = service.get('proto', 'tcp')
        source = service.get('from', 'any')
        if 'comment' in service:
            text = service['comment']
        else:
            text = '%s/%s%s' % (service['port'], proto, ' from %s' % source if source != 'any' else '')
        rules.append({'port': str(service['port']), 'proto': proto, 'from': source,
                      'rule': service.get('rule', 'allow'), 'comment': '%s%s' % (prefix, text)})
    return rules


class FilterModule(object):
    def filters(self):
        return {'ufw_services': ufw_services}
