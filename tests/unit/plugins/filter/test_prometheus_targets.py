# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The monitoring server's scrape jobs from the inventory."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

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
