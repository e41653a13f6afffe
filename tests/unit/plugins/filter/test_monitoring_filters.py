# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The monitoring server's scrape jobs from the inventory and its Alertmanager configuration."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.runbook.plugins.filter.alertmanager_config import alertmanager_config
from ansible_collections.fleetops.runbook.plugins.filter.prometheus_targets import prometheus_targets, probe_url

GROUPS = {
    'all': ['mon1', 'web1', 'db1', 'cache1'],
    'monitoring': ['mon1'],
    'web': ['web1'],
    'postgres': ['db1'],
    'cache': ['cache1'],
}
HOSTVARS = {
    'mon1': {'ansible_host': '10.0.0.1'},
    'web1': {'ansible_host': '10.0.0.2', 'monitoring_agent_node_exporter_port': 9200,
             'daily_checks_http_endpoints': [{'name': 'api', 'url': 'http://127.0.0.1:8080/health'},
                                             {'name': 'site', 'url': 'https://www.example.com/'}],
             'daily_checks_cert_endpoints': [{'address': 'localhost:443', 'server_name': 'www.example.com'}]},
    'db1': {'ansible_host': 'db1.internal', 'fleet_address': '10.0.0.3'},
    'cache1': {},
}


def jobs_by_name(jobs):
    return dict((job['job_name'], job) for job in jobs)


def targets(job):
    return [(c['targets'][0], c['labels']['host']) for c in job['static_configs']]


def test_every_host_is_a_node_target_with_its_host_label():
    jobs = jobs_by_name(prometheus_targets(GROUPS, HOSTVARS))
    assert targets(jobs['node']) == [('10.0.0.1:9100', 'mon1'), ('10.0.0.2:9200', 'web1'),
                                     ('db1.internal:9100', 'db1'), ('cache1:9100', 'cache1')]


def test_postgres_and_redis_exporters_only_on_their_groups():
    jobs = jobs_by_name(prometheus_targets(GROUPS, HOSTVARS, {'postgres_port': 9300}))
    assert targets(jobs['postgres']) == [('db1.internal:9300', 'db1')]
    assert targets(jobs['redis']) == [('cache1:9121', 'cache1')]


def test_address_var_names_the_host_variable_to_scrape():
    jobs = jobs_by_name(prometheus_targets(GROUPS, HOSTVARS, {'address_var': 'fleet_address'}))
    assert targets(jobs['postgres']) == [('10.0.0.3:9187', 'db1')]
    # A host without that variable falls back to ansible_host.
    assert ('10.0.0.1:9100', 'mon1') in targets(jobs['node'])


def test_http_endpoints_are_probed_through_blackbox_at_the_hosts_address():
    jobs = jobs_by_name(prometheus_targets(GROUPS, HOSTVARS, {'blackbox_address': '127.0.0.1:9115'}))
    job = jobs['blackbox_http']
    assert job['metrics_path'] == '/probe' and job['params'] == {'module': ['http_2xx']}
    assert [c['targets'][0] for c in job['static_configs']] == ['http://10.0.0.2:8080/health', 'https://www.example.com/']
    assert [c['labels'] for c in job['static_configs']] == [
        {'host': 'web1', 'endpoint': 'api'}, {'host': 'web1', 'endpoint': 'site'}]
    assert job['relabel_configs'][-1] == {'target_label': '__address__', 'replacement': '127.0.0.1:9115'}
    assert jobs['blackbox_tls']['params'] == {'module': ['tls_connect']}
    assert jobs['blackbox_tls']['static_configs'] == [
        {'targets': ['10.0.0.2:443'], 'labels': {'host': 'web1', 'endpoint': 'www.example.com'}}]


def test_no_endpoints_no_probe_jobs_and_no_empty_groups():
    jobs = jobs_by_name(prometheus_targets({'all': ['a']}, {'a': {}}))
    assert sorted(jobs) == ['node']


@pytest.mark.parametrize('url,expected', [
    ('http://localhost/x?y=1', 'http://10.9.9.9/x?y=1'),
    ('http://[::1]:81/', 'http://10.9.9.9:81/'),
    ('https://user:pw@127.0.0.2:8443/p', 'https://user:pw@10.9.9.9:8443/p'),
    ('http://app.example.com/', 'http://app.example.com/'),
])
def test_probe_url_rewrites_loopback_only(url, expected):
    assert probe_url(url, '10.9.9.9') == expected


def test_ipv6_host_addresses_are_bracketed():
    assert probe_url('http://127.0.0.1/', 'fd00::2') == 'http://[fd00::2]/'
    jobs = jobs_by_name(prometheus_targets({'all': ['a']}, {'a': {'ansible_host': 'fd00::2'}}))
    assert targets(jobs['node']) == [('[fd00::2]:9100', 'a')]


@pytest.mark.parametrize('hostvars,message', [
    ({'a': {'daily_checks_http_endpoints': [{'name': 'x'}]}}, 'host a: daily_checks_http_endpoints[0] has no url'),
    ({'a': {'daily_checks_http_endpoints': [{'url': 'not a url'}]}}, "'not a url' is not an absolute URL"),
    ({'a': {'monitoring_agent_node_exporter_port': 'x'}}, "monitoring_agent_node_exporter_port: 'x' is not a TCP port"),
    ({'a': {'daily_checks_cert_endpoints': [{}]}}, 'daily_checks_cert_endpoints[0] has no address'),
])
def test_bad_host_variables_are_named(hostvars, message):
    with pytest.raises(AnsibleFilterError) as err:
        prometheus_targets({'all': ['a']}, hostvars)
    assert message in str(err.value)


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
