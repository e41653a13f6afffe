# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""alert_incident: the one host an alert may touch, and the incident it makes."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.runbook.plugins.filter.alert_incident import alert_incident, instance_host

pytestmark = pytest.mark.eda

HOSTS = ['web1', 'web2', 'db1.example.com', '192.0.2.10', 'cache_1']
GROUPS = ['all', 'ungrouped', 'web', 'postgres', 'monitoring']


@pytest.mark.parametrize('instance, host', [
    ('web1:9100', 'web1'),
    ('web1', 'web1'),
    ('db1.example.com:9187', 'db1.example.com'),
    ('192.0.2.10:9100', '192.0.2.10'),
    ('[192.0.2.10]:9100', '192.0.2.10'),
    ('cache_1:9121', 'cache_1'),
    (' web2:9100 ', 'web2'),
])
def test_one_inventory_host_is_taken(instance, host):
    assert instance_host(instance, HOSTS, GROUPS) == (host, '')


@pytest.mark.parametrize('instance, reason', [
    ('all:9100', "names the inventory group 'all'"),
    ('all', "names the inventory group 'all'"),
    ('web:9100', "names the inventory group 'web'"),
    ('web*', 'not a plain host name'),
    ('web?', 'not a plain host name'),
    ('web1,web2', 'not a plain host name'),
    ('web1:web2', 'not a plain host name'),
    ('web1:&web', 'not a plain host name'),
    ('web[1:2]', 'not a plain host name'),
    ('~web.*', 'not a plain host name'),
    ('!db1', 'not a plain host name'),
    ('@limitfile', 'not a plain host name'),
    ('web1 web2', 'not a plain host name'),
    ('.hidden', 'not a plain host name'),
    ('web1.', 'not a plain host name'),
    ('web1:99999999', 'not a plain host name'),
    ('[::1]:9100', 'not a plain host name'),
    ('web3:9100', 'names no host of the inventory'),
    ('WEB1', 'names no host of the inventory'),
    ('', 'the alert has no instance label'),
    (None, 'the alert has no instance label'),
    (['web1'], 'the alert has no instance label'),
])
def test_anything_else_is_refused(instance, reason):
    host, refused = instance_host(instance, HOSTS, GROUPS)
    assert host == ''
    assert reason in refused


def test_a_name_that_is_both_host_and_group_is_refused():
    # Ansible would read the pattern as the group
    assert instance_host('web', HOSTS + ['web'], GROUPS)[0] == ''


def event(**labels):
    return {'alert': {'status': 'firing', 'fingerprint': '4f1c0de2a97b3e55', 'startsAt': '2026-11-23T03:12:45.118Z',
                      'labels': dict({'alertname': 'HighErrorRate', 'severity': 'critical'}, **labels),
                      'annotations': {'summary': 'More than 5 %\nof requests fail'}},
            'payload': {}}


def test_the_incident_of_an_alert():
    assert alert_incident(event(instance='web1:9100'), HOSTS, GROUPS) == {
        'incident_id': 'ALERT-4f1c0de2a97b3e55-20261123031245118',
        'host': 'web1',
        'refused': '',
        'instance': 'web1:9100',
        'alertname': 'HighErrorRate',
        'severity': 'critical',
        'summary': 'HighErrorRate on web1:9100: More than 5 % of requests fail',
    }


def test_an_alert_without_instance_is_refused_with_its_reason():
    incident = alert_incident(event(severity='page'), HOSTS, GROUPS)
    assert (incident['host'], incident['refused']) == ('', 'the alert has no instance label')
    assert incident['summary'] == 'HighErrorRate on no instance: More than 5 % of requests fail'
    assert incident['severity'] == 'critical'


def test_the_incident_id_is_always_a_valid_one():
    e = event(instance='web1')
    e['alert']['fingerprint'] = '../../etc;rm -rf'
    e['alert']['startsAt'] = ''
    assert alert_incident(e, HOSTS)['incident_id'] == 'ALERT-etcrmrf'
    del e['alert']['fingerprint']
    assert alert_incident(e, HOSTS)['incident_id'] == 'ALERT-nofingerprint'


@pytest.mark.parametrize('value, hosts', [(None, HOSTS), ({}, HOSTS), ({'alert': 'x'}, HOSTS), (event(), 'web1')])
def test_bad_input_is_a_clear_error(value, hosts):
    with pytest.raises(AnsibleFilterError, match='alert_incident'):
        alert_incident(value, hosts)
