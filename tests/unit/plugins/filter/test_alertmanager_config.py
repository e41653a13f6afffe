# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The monitoring server's Alertmanager configuration."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.runbook.plugins.filter.alertmanager_config import alertmanager_config


SETTINGS = {
    'slack': {'api_url_file': '/etc/prometheus/fleetops/slack_api_url', 'channel': '#alerts'},
    'mail': {'to': ['ops@example.net', 'dba@example.net'], 'from': 'am@example.net', 'smarthost': 'localhost:25'},
    'eda': {'enabled': False},
    'default_receivers': ['slack'],
    'severity_receivers': {'critical': ['slack', 'mail'], 'warning': ['slack']},
    'escalation_levels': [{'name': 'level1', 'wait': '5m', 'receivers': ['slack']},
                          {'name': 'level2', 'wait': '15m', 'receivers': ['mail'], 'severities': ['critical', 'warning']}],
    'group_wait': '10s', 'group_interval': '1m', 'repeat_interval': '4h',
}


def test_secrets_are_named_by_their_files_only():
    config = alertmanager_config(SETTINGS)
    assert config['global']['slack_api_url_file'] == '/etc/prometheus/fleetops/slack_api_url'
    assert 'slack_api_url' not in config['global']
    assert config['global']['smtp_smarthost'] == 'localhost:25' and config['global']['smtp_require_tls'] is False
    assert all('api_url' not in c for r in config['receivers'] for c in r.get('slack_configs', []))


def test_severities_route_at_once_and_levels_after_their_wait():
    config = alertmanager_config(SETTINGS)
    route = config['route']
    assert (route['group_wait'], route['group_interval'], route['repeat_interval']) == ('10s', '1m', '4h')
    assert route['group_by'] == ['alertname', 'host']
    assert [(r['receiver'], r['matchers'], r.get('group_wait'), r['continue']) for r in route['routes']] == [
        ('severity-critical', ['severity="critical"'], None, True),
        ('severity-warning', ['severity="warning"'], None, True),
        ('escalation-level1', ['severity="critical"'], '5m', True),
        ('escalation-level2', ['severity=~"critical|warning"'], '15m', True),
    ]
    receivers = dict((r['name'], r) for r in config['receivers'])
    critical = receivers['severity-critical']
    assert critical['email_configs'] == [{'to': 'ops@example.net, dba@example.net', 'send_resolved': True}]
    assert critical['slack_configs'][0]['send_resolved'] is True and critical['slack_configs'][0]['channel'] == '#alerts'
    assert 'email_configs' not in receivers['severity-warning']
    # A level says which it is.
    assert receivers['escalation-level1']['slack_configs'][0]['title'].startswith('[escalation level1 after 5m] ')
    assert receivers['escalation-level2']['email_configs'][0]['headers']['Subject'].startswith('[escalation level2 after 15m] ')
    # ... without touching the receivers it was copied from.
    assert not critical['slack_configs'][0]['title'].startswith('[escalation')


def test_a_host_that_is_down_inhibits_its_other_alerts():
    rules = alertmanager_config(SETTINGS)['inhibit_rules']
    assert rules[0] == {'source_matchers': ['alertname="InstanceDown"', 'job="node"'],
                        'target_matchers': ['severity=~".+"'], 'equal': ['host']}
    assert rules[1]['source_matchers'] == ['severity="critical"'] and rules[1]['equal'] == ['alertname', 'instance']


def test_eda_receiver_reads_its_bearer_token_from_a_file():
    settings = dict(SETTINGS, eda={'enabled': True, 'url': 'http://127.0.0.1:5050/alerts',
                                   'credentials_file': '/etc/prometheus/fleetops/eda_token'},
                    escalation_levels=[{'name': 'auto', 'wait': '5m', 'receivers': ['eda']}])
    receivers = dict((r['name'], r) for r in alertmanager_config(settings)['receivers'])
    hook = receivers['escalation-auto']['webhook_configs'][0]
    assert hook['url'] == 'http://127.0.0.1:5050/alerts' and hook['send_resolved'] is True
    assert hook['http_config'] == {'authorization': {'type': 'Bearer', 'credentials_file': '/etc/prometheus/fleetops/eda_token'}}


def test_extra_receivers_can_be_named():
    settings = dict(SETTINGS, extra_receivers=[{'name': 'pager', 'webhook_configs': [{'url': 'http://pager/'}]}],
                    escalation_levels=[{'name': 'l4', 'wait': '1h', 'receivers': ['pager', 'mail']}])
    receivers = dict((r['name'], r) for r in alertmanager_config(settings)['receivers'])
    assert receivers['escalation-l4']['webhook_configs'] == [{'url': 'http://pager/'}]
    assert len(receivers['escalation-l4']['email_configs']) == 1


@pytest.mark.parametrize('change,message', [
    ({'slack': {}}, 'default_receivers names receivers that are not configured: slack (configured: mail)'),
    ({'slack': {}, 'default_receivers': ['mail']}, 'severity_receivers.critical names receivers that are not configured: slack'),
    ({'variable_prefix': 'monitoring_server_', 'mail': {'to': ['a@b'], 'from': 'x@y'}},
     'the mail receiver needs monitoring_server_mail_from and monitoring_server_mail_smarthost'),
    ({'escalation_levels': [{'name': 'x', 'wait': 'soon', 'receivers': ['mail']}]}, "escalation_levels[0].wait: 'soon' is not"),
    ({'escalation_levels': [{'name': 'x', 'wait': '5m'}]}, 'escalation_levels[0] (x) has no receivers'),
    ({'escalation_levels': [{'name': 'x', 'wait': '5m', 'receivers': ['mail']}] * 2}, 'escalation_levels[1]: the name x is used twice'),
    ({'eda': {'enabled': True, 'url': 'http://127.0.0.1:5050/alerts'}}, 'the EDA receiver needs its eda_url and its eda_credentials_file'),
    ({'group_by': ['alert name']}, "group_by: 'alert name' is not a label name"),
    ({'repeat_interval': '4 hours'}, "repeat_interval: '4 hours' is not"),
    ({'extra_receivers': [{'name': 'slack'}]}, 'extra_receivers[0]: the name slack is taken'),
])
def test_bad_settings_are_named(change, message):
    with pytest.raises(AnsibleFilterError) as err:
        alertmanager_config(dict(SETTINGS, **change))
    assert message in str(err.value)
