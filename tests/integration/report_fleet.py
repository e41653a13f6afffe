# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Synthetic fleets for the fleet report's browser test: 10 report columns of status-model results
per host, the shape check modules register, for 5, 50 or 500 hosts.

The fleet is derived from the host's index only (no randomness), in three runs, so the last report
has a history: critical hosts were WARNING before (worsened), one warning host was OK (new), and a
memory warning of the first run is resolved.
"""

from __future__ import annotations

COLUMNS = ['resource', 'pg_health', 'backup', 'cert', 'http', 'redis', 'service', 'container', 'log_stats',
           'security']

# How many hosts are CRITICAL, UNKNOWN (unreachable) and WARNING; the rest are OK.
MIX = {5: (1, 1, 1), 50: (3, 1, 41), 500: (25, 8, 400)}

ROLES = ('web-frontend-eu-west', 'db-primary-eu-west', 'cache-sessions-eu-west', 'app-worker-eu-central')


def host_name(index):
    return '%s-%03d' % (ROLES[index % len(ROLES)], index)


def check(name, value, unit, warning, critical, status, target=None):
    label = name if target is None else '%s %s' % (name, target)
    shown = '%s%%' % value if unit == 'percent' else '%s %s' % (value, unit)
    note = {'WARNING': ' (warning %s)' % warning, 'CRITICAL': ' (critical %s)' % critical}.get(status, '')
    return {'name': name, 'target': target, 'value': value, 'unit': unit, 'warning': warning,
            'critical': critical, 'status': status, 'message': '%s is %s%s' % (label, shown, note)}


def result(*checks):
    order = ('OK', 'WARNING', 'CRITICAL', 'UNKNOWN')
    status = max((c['status'] for c in checks), key=order.index)
    problems = [c['message'] for c in checks if c['status'] != 'OK']
    ok = len(checks) - len(problems)
    summary = '%s: %s' % (status, '; '.join(problems + (['%d OK' % ok] if ok else [])))
    return {'changed': False, 'status': status, 'summary': summary, 'checks': list(checks)}


def kind_of(index, size, run):
    critical, unknown, warning = MIX[size]
    if index < critical:
        return 'critical' if run == 2 else 'warning'
    if index < critical + unknown:
        return 'unknown'
    last_warning = critical + unknown + warning - 1
    if index < critical + unknown + warning:
        # The last warning host is new in the last run.
        return 'ok' if index == last_warning and run < 2 else 'warning'
    return 'ok'


def host_results(index, size, run):
    """The registered results of one host in one run, by column."""
    kind = kind_of(index, size, run)
    if kind == 'unknown':
        gone = {'unreachable': True, 'changed': False,
                'msg': 'Failed to connect to the host via ssh: ssh: connect to host %s port 22: No route to host'
                       % host_name(index)}
        return dict((column, gone) for column in COLUMNS)
    drift = run * 2 + index % 5
    if kind == 'critical':
        disk = check('disk', 95 + (index + run) % 4 + 0.5, 'percent', '85', '95', 'CRITICAL', target='/')
    elif kind == 'warning':
        disk = check('disk', 85.5 + drift, 'percent', '85', '95', 'WARNING', target='/')
    else:
        disk = check('disk', 40 + drift, 'percent', '85', '95', 'OK', target='/')
    # A memory warning on every seventh host in the first runs, gone in the last.
    memory_status = 'WARNING' if run < 2 and index % 7 == 3 and kind != 'ok' else 'OK'
    memory = check('memory', 82 if memory_status == 'WARNING' else 55 + index % 10, 'percent', '80', '95', memory_status)
    days = 5 if kind == 'critical' and index % 2 == 1 else 60 + index % 30
    cert_status = 'CRITICAL' if days < 7 else 'OK'
    results = {
        'resource': result(disk, memory, check('load', 0.4, 'ratio', '4', '8', 'OK')),
        'pg_health': result(check('connections', 20 + index % 30, 'percent', '80', '95', 'OK'),
                            check('replication_lag', index % 4, 'seconds', '30', '300', 'OK')),
        'backup': result(check('backup_age', 20000 + index, 'seconds', '93600', '180000', 'OK')),
        'cert': result(check('cert_expiry', days, 'days', '30:', '7:', cert_status, target='/etc/ssl/site.pem')),
        'http': result(check('response_time', 120 + index % 50, 'milliseconds', '500', '2000', 'OK',
                             target='https-health')),
        'redis': (result(check('memory', 30 + index % 20, 'percent', '80', '95', 'OK'))
                  if index % len(ROLES) == 2 else
                  {'skipped': True, 'changed': False, 'skip_reason': 'Conditional result was False'}),
        'service': result(check('active', 1, 'count', None, '1:', 'OK', target='nginx')),
        'container': result(check('restarts', index % 3, 'count', '3', '10', 'OK')),
        'log_stats': result(check('error_rate', 0.2, 'percent', '1', '5', 'OK')),
        'security': result(check('auth_failures', index % 20, 'count', '50', '200', 'OK')),
    }
    return results


def inventory(size, run, prefix='__daily_checks_'):
    """A YAML-ready inventory: every host local, its results as host variables, as a play that
    registered them would leave them."""
    hosts = {}
    for index in range(size):
        variables = {'ansible_connection': 'local'}
        for column, value in host_results(index, size, run).items():
            variables[prefix + column] = value
        hosts[host_name(index)] = variables
    return {'all': {'hosts': hosts}}


def expected(size):
    """What the last run's report must show first: the CRITICAL hosts and the biggest CRITICAL finding."""
    critical, unknown, warning = MIX[size]
    last_warning = critical + unknown + warning - 1
    return {
        # The last warning host, and the certificates of the odd critical hosts.
        'new': 1 + len([i for i in range(critical) if i % 2 == 1]),
        # disk / went from WARNING to CRITICAL on every critical host.
        'worsened': critical,
        # The memory warnings of the earlier runs.
        'resolved': len([i for i in range(critical + unknown + warning) if i % 7 == 3
                         and not critical <= i < critical + unknown and i != last_warning]),
        'critical_hosts': sorted(host_name(i) for i in range(critical)),
        'unknown_hosts': sorted(host_name(i) for i in range(critical, critical + unknown)),
        'ok_hosts': size - critical - unknown - warning,
        'first_group': 'resource: disk / CRITICAL (critical 95)',
        'first_group_hosts': critical,
    }
