# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The daily checks' variables checked on the controller before any host is touched.

Each check module validates its own options when it runs, but by then a mistake shows only as an
UNKNOWN cell in the report and the run exits 0. These functions apply the modules' own parsers
(their default thresholds, ``parse_thresholds``, ``parse_duration``, the address and URL parsers)
to the role's variables and name the variable in every message.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.fleetops.runbook.plugins.module_utils.resource import DEFAULT_THRESHOLDS as RESOURCE_THRESHOLDS
from ansible_collections.fleetops.runbook.plugins.module_utils.status import finite_number, parse_duration, parse_thresholds
from ansible_collections.fleetops.runbook.plugins.modules import (
    cert_check,
    container_check,
    http_check,
    log_stats,
    pg_health,
    redis_check,
    service_check,
)

# Role variable holding thresholds -> the defaults of the module that reads them.
THRESHOLD_VARIABLES = (
    ('daily_checks_resource_thresholds', RESOURCE_THRESHOLDS),
    ('daily_checks_pg_health_thresholds', pg_health.DEFAULT_THRESHOLDS),
    ('daily_checks_cert_thresholds', cert_check.DEFAULT_THRESHOLDS),
    ('daily_checks_http_thresholds', http_check.DEFAULT_THRESHOLDS),
    ('daily_checks_containers_thresholds', container_check.DEFAULT_THRESHOLDS),
    ('daily_checks_services_thresholds', service_check.DEFAULT_THRESHOLDS),
    ('daily_checks_logs_thresholds', log_stats.DEFAULT_THRESHOLDS),
    ('daily_checks_redis_thresholds', redis_check.DEFAULT_THRESHOLDS),
)

MOUNT_LEVELS = {'disk': {}, 'inodes': {}}

# Variables that are durations, numbers of seconds with bounds, and connection mappings.
DURATION_VARIABLES = ('daily_checks_backup_max_age',)
SECONDS_VARIABLES = (
    ('daily_checks_resource_cpu_interval', dict(minimum=0, maximum=60)),
    ('daily_checks_cert_timeout', dict(above=0, maximum=cert_check.MAX_TIMEOUT)),
    ('daily_checks_http_timeout', dict(above=0, maximum=http_check.MAX_TIMEOUT)),
    ('daily_checks_services_timeout', dict(above=0, maximum=service_check.MAX_TIMEOUT)),
    ('daily_checks_containers_timeout', dict(above=0, maximum=3600)),
    ('daily_checks_containers_restart_window', dict(above=0)),
)
CONNECTION_VARIABLES = ('daily_checks_postgres_connection', 'daily_checks_redis_connection')


def _mapping(name, value, errors):
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors.append('%s: expected a mapping, got %s' % (name, _short(value)))
        return {}
    return value


def _entries(name, value, errors):
    if value is None:
        return []
    if not isinstance(value, list):
        errors.append('%s: expected a list, got %s' % (name, _short(value)))
        return []
    return value


def _short(value, limit=80):
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + '...'


def _port(name, value, errors):
    if value in (None, ''):
        return
    try:
        port = int(value) if not isinstance(value, bool) and str(value).strip().isdigit() else None
    except (TypeError, ValueError):
        port = None
    if port is None or not 1 <= port <= 65535:
        errors.append('%s: %s is not a port; use a number from 1 to 65535' % (name, _short(value)))


def threshold_errors(variables):
    errors = []
    for name, defaults in THRESHOLD_VARIABLES:
        try:
            parse_thresholds(variables.get(name), defaults, name)
        except (ValueError, AttributeError) as exc:
            errors.append(str(exc) if not isinstance(exc, AttributeError) else '%s: expected a mapping' % name)
    name = 'daily_checks_resource_mount_thresholds'
    for mount, levels in _mapping(name, variables.get(name), errors).items():
        try:
            parse_thresholds(levels, MOUNT_LEVELS, '%s.%s' % (name, mount))
        except (ValueError, AttributeError) as exc:
            errors.append(str(exc) if not isinstance(exc, AttributeError) else '%s.%s: expected a mapping' % (name, mount))
    # Thresholds given per entry are merged over the module's defaults as well.
    for name, module in (('daily_checks_http_endpoints', http_check), ('daily_checks_logs_files', log_stats)):
        for index, entry in enumerate(_entries(name, variables.get(name), errors)):
            if isinstance(entry, dict) and entry.get('thresholds') is not None:
                try:
                    parse_thresholds(entry['thresholds'], module.DEFAULT_THRESHOLDS, '%s[%d].thresholds' % (name, index))
                except (ValueError, AttributeError) as exc:
                    errors.append(str(exc) if not isinstance(exc, AttributeError)
                                  else '%s[%d].thresholds: expected a mapping' % (name, index))
    return errors


def duration_errors(variables):
    errors = []
    for name in DURATION_VARIABLES:
        try:
            parse_duration(variables.get(name), name)
        except ValueError as exc:
            errors.append(str(exc))
    for name, bounds in SECONDS_VARIABLES:
        if name in variables:
            try:
                finite_number(variables[name], name, **bounds)
            except ValueError as exc:
                errors.append(str(exc))
    return errors


def address_errors(variables):
    errors = []
    for name in CONNECTION_VARIABLES:
        _port(name + '.login_port', _mapping(name, variables.get(name), errors).get('login_port'), errors)
    name = 'daily_checks_cert_endpoints'
    for index, entry in enumerate(_entries(name, variables.get(name), errors)):
        address = entry.get('address') if isinstance(entry, dict) else entry
        try:
            cert_check.parse_address(address)
        except ValueError as exc:
            errors.append('%s[%d].address: %s' % (name, index, exc))
    name = 'daily_checks_http_endpoints'
    for index, entry in enumerate(_entries(name, variables.get(name), errors)):
        url = entry.get('url') if isinstance(entry, dict) else entry
        try:
            http_check.parse_url(url, '%s[%d].url' % (name, index))
        except ValueError as exc:
            errors.append(str(exc))
    for name in ('daily_checks_services_listening', 'daily_checks_services_not_listening'):
        for index, entry in enumerate(_entries(name, variables.get(name), errors)):
            try:
                service_check.SocketSpec.parse(entry, '%s[%d]' % (name, index))
            except ValueError as exc:
                errors.append(str(exc))
    return errors


VARIABLES = frozenset(
    [name for name, dummy in THRESHOLD_VARIABLES] + [name for name, dummy in SECONDS_VARIABLES]
    + list(DURATION_VARIABLES) + list(CONNECTION_VARIABLES)
    + ['daily_checks_resource_mount_thresholds', 'daily_checks_http_endpoints', 'daily_checks_logs_files',
       'daily_checks_cert_endpoints', 'daily_checks_services_listening', 'daily_checks_services_not_listening'])


def daily_checks_errors(variables):
    """Every mistake found in the daily checks' variables (a mapping of name to value), each
    message naming the variable; empty when there is none."""
    return threshold_errors(variables) + duration_errors(variables) + address_errors(variables)
