# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The daily checks' variables as the preflight judges them, with the check modules' parsers."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
import yaml

from ansible_collections.fleetops.runbook.plugins.plugin_utils.preflight import VARIABLES, daily_checks_errors

from pathlib import Path

DEFAULTS = yaml.safe_load((Path(__file__).resolve().parents[4] / 'roles' / 'daily_checks' / 'defaults' / 'main.yml').read_text())
# The resource thresholds default to the inventory's fleetops_resource_thresholds (a template);
# without that variable they are an empty mapping, which is what the role sees.
assert DEFAULTS['daily_checks_resource_thresholds'] == '{{ fleetops_resource_thresholds | default({}) }}'
DEFAULTS['daily_checks_resource_thresholds'] = {}


def test_the_role_defaults_are_valid():
    assert daily_checks_errors(DEFAULTS) == []


def test_every_variable_read_is_a_variable_of_the_role():
    assert VARIABLES <= set(DEFAULTS)


@pytest.mark.parametrize('name, value, message', [
    ('daily_checks_resource_thresholds', {'memroy': {'warning': '80'}}, "daily_checks_resource_thresholds: unknown check 'memroy'"),
    ('daily_checks_resource_thresholds', {'memory': {'warn': '80'}}, "daily_checks_resource_thresholds.memory: unknown key 'warn'"),
    ('daily_checks_resource_thresholds', 'high', 'daily_checks_resource_thresholds: expected a mapping'),
    ('daily_checks_redis_thresholds', {'memory': {'critical': '95:90'}}, 'the start is greater than the end'),
    ('daily_checks_resource_mount_thresholds', {'/var': {'cpu': {}}}, "daily_checks_resource_mount_thresholds./var: unknown check 'cpu'"),
    ('daily_checks_logs_files', [{'path': '/x', 'thresholds': {'rate_5xx': {'warning': '1%'}}}],
     "daily_checks_logs_files[0].thresholds.rate_5xx.warning: '1%' is not a valid range"),
    ('daily_checks_backup_max_age', 'yesterday', "daily_checks_backup_max_age: 'yesterday' is not a duration"),
    ('daily_checks_backup_max_age', 0, 'daily_checks_backup_max_age: the duration must be greater than zero'),
    ('daily_checks_http_timeout', float('inf'), 'daily_checks_http_timeout: must be a finite number'),
    ('daily_checks_resource_cpu_interval', 120, 'daily_checks_resource_cpu_interval: must be at most 60'),
    ('daily_checks_redis_connection', {'login_port': 0}, 'daily_checks_redis_connection.login_port: 0 is not a port'),
    ('daily_checks_postgres_connection', {'login_port': 'pg'}, "daily_checks_postgres_connection.login_port: 'pg' is not a port"),
    ('daily_checks_postgres_connection', ['x'], 'daily_checks_postgres_connection: expected a mapping'),
    ('daily_checks_cert_endpoints', [{'address': 'host:0'}], "daily_checks_cert_endpoints[0].address: 'host:0': the port 0 is outside 1-65535"),
    ('daily_checks_http_endpoints', [{'url': 'ftp://x/'}], 'daily_checks_http_endpoints[0].url'),
    ('daily_checks_services_not_listening', ['0.0.0.0:redis'], 'daily_checks_services_not_listening[0]'),
])
def test_a_mistake_is_named(name, value, message):
    errors = daily_checks_errors(dict(DEFAULTS, **{name: value}))
    assert len(errors) == 1, errors
    assert message in errors[0]


def test_every_mistake_is_listed():
    errors = daily_checks_errors(dict(DEFAULTS, daily_checks_backup_max_age='x', daily_checks_cert_timeout=-1,
                                      daily_checks_services_listening=['tcp/5432', 'tcp/0']))
    assert [e.split(':')[0] for e in errors] == ['daily_checks_backup_max_age', 'daily_checks_cert_timeout',
                                                 'daily_checks_services_listening[1]']
