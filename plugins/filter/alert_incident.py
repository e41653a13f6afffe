# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: alert_incident
short_description: Turn an Alertmanager alert event into an incident, and the one host it may touch
version_added: 0.1.0
description:
  - Takes the event the rulebook C(fleetops.runbook.incident_response) hands to its playbook
    (C(ansible_eda.event), made by the event source C(fleetops.runbook.alertmanager)) and returns the
    incident id, a one-line summary and the host the alert names.
  - The host is taken from the alert only when its C(instance) label, without its port, is exactly
    the name of one host of the inventory (O(hosts)) and no group's name (O(groups)). Anything
    else, a host pattern (V(all), V(web*), V(a,b), V(web[1:3]), V(~regex), V(!db1)), a group, a name
    the inventory does not have or no C(instance) label at all, gives no host and the reason in
    C(refused), so that the playbook only notifies.
author:
  - fleetops.runbook maintainers (@fleetops)
options:
  _input:
    description: The event (C(ansible_eda.event)), with C(alert).
    type: dict
    required: true
  hosts:
    description: The names of the inventory's hosts (C(groups['all'])).
    type: list
    elements: str
    required: true
  groups:
    description: The names of the inventory's groups (C(groups.keys())).
    type: list
    elements: str
    default: []
'''

EXAMPLES = r'''
- name: Read the alert
  ansible.builtin.set_fact:
    alert: "{{ ansible_eda.event | fleetops.runbook.alert_incident(groups['all'], groups.keys() | list) }}"
'''

RETURN = r'''
_value:
  description: The incident of the alert.
  type: dict
  contains:
    incident_id:
      description: C(ALERT-<fingerprint>-<start time digits>), the same for every repetition of one firing alert.
      type: str
    host:
      description: The inventory host the alert names, or an empty string when it names none (see C(refused)).
      type: str
    refused:
      description: Why no host is taken from the alert; empty when C(host) is set.
      type: str
    instance:
      description: The alert's C(instance) label as it came (empty when there is none).
      type: str
    alertname:
      description: The alert's C(alertname) label.
      type: str
    severity:
      description: The alert's C(severity) label when it is V(critical), V(warning) or V(info); otherwise V(critical).
      type: str
    summary:
      description: "One line, C(<alertname> on <instance>: <summary annotation>), at most 300 characters."
      type: str
'''

import re

from ansible.errors import AnsibleFilterError

# A plain host name or address: nothing Ansible reads as a pattern (* ? [ ] , : ! & ~ @ ...).
_NAME = re.compile(r'^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252})$')
_PORT = re.compile(r'^(?P<name>[^:\[\]]*):[0-9]{1,5}$')
_BRACKETED = re.compile(r'^\[(?P<name>[^\]]*)\](?::[0-9]{1,5})?$')
_ID_PART = re.compile(r'[^A-Za-z0-9]')
_NOT_DIGIT = re.compile(r'[^0-9]')
_SEVERITIES = ('critical', 'warning', 'info')


def instance_host(instance, hosts, groups=()):
    """(host, reason): the one inventory host ``instance`` names without its port, or '' and why not."""
    if not isinstance(instance, str) or not instance.strip():
        return '', 'the alert has no instance label'
    name = instance.strip()
    match = _BRACKETED.match(name) or _PORT.match(name)
    if match:
        name = match.group('name')
    if not _NAME.match(name) or name.endswith('.'):
        return '', ('instance %r is not a plain host name (host patterns, lists, ranges and '
                    'wildcards are never taken from an alert)' % instance)
    if name in set(groups or ()):
        return '', 'instance %r names the inventory group %r, not one host' % (instance, name)
    if name not in set(hosts or ()):
        return '', 'instance %r names no host of the inventory' % instance
    return name, ''


def _text(value):
    return value.strip() if isinstance(value, str) else ''


def alert_incident(event, hosts, groups=None):
    if not isinstance(event, dict) or not isinstance(event.get('alert'), dict):
        raise AnsibleFilterError('alert_incident: expected the event of fleetops.runbook.alertmanager '
                                 '(ansible_eda.event, with an alert), got %s' % type(event).__name__)
    if not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError("alert_incident: hosts must be the list of inventory host names (groups['all'])")
    alert = event['alert']
    labels = alert.get('labels') if isinstance(alert.get('labels'), dict) else {}
    annotations = alert.get('annotations') if isinstance(alert.get('annotations'), dict) else {}
    instance = _text(labels.get('instance'))
    host, refused = instance_host(instance, [str(h) for h in hosts], [str(g) for g in groups or ()])
    fingerprint = _ID_PART.sub('', _text(alert.get('fingerprint')))[:32] or 'nofingerprint'
    started = _NOT_DIGIT.sub('', _text(alert.get('startsAt')))[:20]
    incident_id = 'ALERT-%s%s' % (fingerprint, ('-' + started) if started else '')
    alertname = _text(labels.get('alertname')) or 'alert'
    severity = _text(labels.get('severity')).lower()
    summary = '%s on %s' % (alertname, instance or 'no instance')
    described = _text(annotations.get('summary')) or _text(annotations.get('description'))
    if described:
        summary += ': ' + ' '.join(described.split())
    return {
        'incident_id': incident_id,
        'host': host,
        'refused': refused,
        'instance': instance,
        'alertname': alertname,
        'severity': severity if severity in _SEVERITIES else 'critical',
        'summary': summary[:300],
    }


class FilterModule(object):
    def filters(self):
        return {'alert_incident': alert_incident}
