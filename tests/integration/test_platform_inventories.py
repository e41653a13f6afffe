# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every shipped inventory parses, names only variables the roles know, and every threshold it
sets is accepted by the check that reads it: a bad number fails here, before any host is touched."""

from __future__ import annotations

import importlib
import json
import subprocess

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.fleetops.runbook.plugins.filter.alert_threshold import alert_threshold
from ansible_collections.fleetops.runbook.plugins.module_utils.resource import resource_thresholds
from ansible_collections.fleetops.runbook.plugins.module_utils.status import parse_thresholds

from .harness import REPO, ansible_env

PLATFORMS = ['ai_semble', 'crypto_ai', 'forex_alert', 'miraikakaku', 'racepredictor']
INVENTORIES = (['inventory/platforms/%s' % name for name in PLATFORMS]
               + ['inventory/example/%s' % env for env in ('development', 'staging', 'production')])

# Threshold variables of the daily checks and the module whose defaults they are merged over.
MODULE_THRESHOLDS = {
    'daily_checks_pg_health_thresholds': 'pg_health',
    'daily_checks_http_thresholds': 'http_check',
    'daily_checks_logs_thresholds': 'log_stats',
    'daily_checks_containers_thresholds': 'container_check',
    'daily_checks_redis_thresholds': 'redis_check',
    'daily_checks_services_thresholds': 'service_check',
    'daily_checks_cert_thresholds': 'cert_check',
}
ROLE_PREFIXES = ('daily_checks', 'monitoring_agent', 'logrotate', 'postgres_backup', 'disaster_recovery',
                 'alerting', 'ufw', 'tls', 'maintenance', 'schedule')


def inventory(path, *args):
    proc = subprocess.run(['ansible-inventory', '-i', str(REPO / path)] + list(args), capture_output=True,
                          text=True, env=ansible_env(), timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert '[WARNING]' not in proc.stderr, proc.stderr
    return proc.stdout


def role_options(role):
    specs = yaml.safe_load((REPO / 'roles' / role / 'meta' / 'argument_specs.yml').read_text())['argument_specs']
    options = {}
    for entry in specs.values():
        options.update(entry.get('options') or {})
    return options


def module_defaults(module):
    return importlib.import_module('ansible_collections.fleetops.runbook.plugins.modules.%s' % module).DEFAULT_THRESHOLDS


@pytest.fixture(scope='module', params=INVENTORIES)
def listed(request):
    return request.param, json.loads(inventory(request.param, '--list'))


def test_graph_shows_the_contract_groups(listed):
    path = listed[0]
    graph = inventory(path, '--graph')
    for group in ('@web', '@postgres', '@cache', '@monitoring'):
        assert group + ':' in graph, '%s: no group %s' % (path, group)


def test_every_host_has_groups_and_a_connection(listed):
    path, data = listed
    hostvars = data['_meta']['hostvars']
    assert hostvars, '%s has no hosts' % path
    for host, hvars in hostvars.items():
        assert hvars.get('ansible_user') == 'ops', host
    if path.startswith('inventory/platforms/'):
        assert data['operations']['hosts'], '%s: no operations host for the schedule' % path
        assert data['monitoring'].get('hosts') or data['monitoring'].get('children'), path


def test_every_role_variable_is_one_the_role_knows(listed):
    path, data = listed
    known = {prefix: set(role_options(prefix)) for prefix in ROLE_PREFIXES}
    for host, hvars in data['_meta']['hostvars'].items():
        for name in hvars:
            prefix = next((p for p in ROLE_PREFIXES if name.startswith(p + '_')), None)
            if prefix:
                assert name in known[prefix], '%s: %s sets %s, which the %s role does not know' % (
                    path, host, name, prefix)


def test_every_role_variable_passes_the_roles_argument_validation(listed):
    """What each role's argument specification checks first (types, choices), for every value the
    inventory gives literally; a templated value is checked when the role runs."""
    path, data = listed
    specs = {prefix: role_options(prefix) for prefix in ROLE_PREFIXES}
    for host, hvars in data['_meta']['hostvars'].items():
        for prefix, options in specs.items():
            given = {name: value for name, value in hvars.items()
                     if name in options and '{{' not in json.dumps(value)}
            if not given:
                continue
            errors = role_errors(options, given)
            assert not errors, '%s %s (%s): %s' % (path, host, prefix, errors)


def role_errors(options, given):
    return ArgumentSpecValidator({name: options[name] for name in given}).validate(given).error_messages


def test_the_argument_validation_catches_a_bad_value():
    errors = role_errors(role_options('alerting'), {'alerting_tls_security_level': 'may'})
    assert errors and 'alerting_tls_security_level must be one of' in errors[0]
    errors = role_errors(role_options('schedule'), {'schedule_runs': [{'name': 'daily'}]})
    assert errors and 'playbook' in ' '.join(errors)


def test_every_threshold_is_accepted_by_the_check_that_reads_it(listed):
    path, data = listed
    for host, hvars in data['_meta']['hostvars'].items():
        where = '%s %s' % (path, host)
        for name in ('fleetops_resource_thresholds', 'daily_checks_resource_thresholds'):
            if isinstance(hvars.get(name), dict):
                resource_thresholds(hvars[name], name)
        bands = hvars.get('fleetops_resource_thresholds') or {}
        for check in ('cpu', 'memory', 'disk'):
            if 'monitoring_agent_alert_%s_percent' % check not in hvars:
                # The Prometheus rule's bound: a number for every band the inventory leaves to the rules.
                assert isinstance(alert_threshold(bands, check), (int, float)), where
        for name, module in MODULE_THRESHOLDS.items():
            if name in hvars:
                parse_thresholds(hvars[name], module_defaults(module), name)
        for endpoint in hvars.get('daily_checks_http_endpoints') or []:
            assert endpoint['url'].startswith(('http://', 'https://')), where
            if 'thresholds' in endpoint:
                parse_thresholds(endpoint['thresholds'], module_defaults('http_check'), endpoint['name'])


def test_the_rules_and_the_daily_check_agree_on_each_platform(listed):
    path, data = listed
    for host, hvars in data['_meta']['hostvars'].items():
        bands = hvars.get('fleetops_resource_thresholds')
        if not bands or 'daily_checks_resource_thresholds' in hvars:
            continue
        judged = resource_thresholds(bands)
        for check in ('cpu', 'memory', 'disk'):
            if 'monitoring_agent_alert_%s_percent' % check in hvars:
                continue
            bound = alert_threshold(bands, check)
            # Just above the rule's bound the daily check warns too; at it, neither does.
            assert judged[check].judge(bound + 0.5) != 'OK', (path, host, check)
            assert judged[check].judge(bound) == 'OK', (path, host, check)


@pytest.mark.parametrize('platform, disk_warning', [
    ('miraikakaku', 85), ('crypto_ai', 80), ('racepredictor', 80), ('ai_semble', 80)])
def test_seed_disk_bands(platform, disk_warning):
    data = json.loads(inventory('inventory/platforms/%s' % platform, '--list'))
    for hvars in data['_meta']['hostvars'].values():
        assert alert_threshold(hvars['fleetops_resource_thresholds'], 'disk') == disk_warning


def test_a_bad_threshold_is_named(tmp_path):
    bad = {'disk': {'warning': '80%'}}
    with pytest.raises(ValueError, match=r"fleetops_resource_thresholds\.disk\.warning: '80%' is not a valid range"):
        resource_thresholds(bad, 'fleetops_resource_thresholds')
