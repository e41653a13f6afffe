# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: prometheus_targets
short_description: Prometheus scrape configurations of the inventory's exporters and endpoints
version_added: 0.1.0
description:
  - Builds the C(scrape_configs) of the monitoring server from the inventory, one job per kind of target.
  - C(node) scrapes the node exporter of every host; C(postgres) the postgres exporter of the hosts of
    the PostgreSQL group; C(redis) the Redis exporter of the hosts of the cache group.
  - C(blackbox_http) probes, through the blackbox exporter, every endpoint a host lists in its
    C(daily_checks_http_endpoints) (the list M(fleetops.runbook.http_check) reads); a URL on a loopback
    address is probed at the host's own address. C(blackbox_tls) opens a TLS connection to every
    C(address) of a host's C(daily_checks_cert_endpoints), for the certificate's expiry.
  - Each target carries the label C(host), its inventory name, so that the alerts of one host can be
    grouped and inhibited together.
  - A port a host sets in its own C(monitoring_agent_*_port) variables wins over the defaults given here.
author:
  - fleetops.runbook maintainers (@fleetops)
options:
  _input:
    description: The inventory's C(groups).
    type: dict
    required: true
  hostvars:
    description: The inventory's C(hostvars).
    type: raw
    required: true
  options:
    description:
      - C(address_var) (host variable holding the address to scrape; else C(ansible_host), else the
        inventory name), C(all_group), C(postgres_group), C(cache_group), C(node_port), C(postgres_port),
        C(redis_port), C(blackbox_address), C(http_module), C(tls_module), C(scrape_interval).
    type: dict
    default: {}
'''

EXAMPLES = r'''
- name: Write the scrape configuration
  ansible.builtin.set_fact:
    scrape_configs: "{{ groups | fleetops.runbook.prometheus_targets(hostvars, {'blackbox_address': '127.0.0.1:9115'}) }}"
'''

RETURN = r'''
_value:
  description: A list of Prometheus scrape configurations (job_name, static_configs, and for probes metrics_path, params, relabel_configs).
  type: list
  elements: dict
'''

import ipaddress

from ansible.errors import AnsibleFilterError
from ansible.module_utils.six.moves.urllib.parse import urlsplit, urlunsplit

DEFAULTS = {
    'address_var': 'ansible_host',
    'all_group': 'all',
    'postgres_group': 'postgres',
    'cache_group': 'cache',
    'node_port': 9100,
    'postgres_port': 9187,
    'redis_port': 9121,
    'blackbox_address': '127.0.0.1:9115',
    'http_module': 'http_2xx',
    'tls_module': 'tls_connect',
    'scrape_interval': '',
}
# The host variable that overrides each exporter's port, as monitoring_agent names it.
PORT_VARS = {
    'node': ('monitoring_agent_node_exporter_port', 'node_port'),
    'postgres': ('monitoring_agent_postgres_exporter_port', 'postgres_port'),
    'redis': ('monitoring_agent_redis_exporter_port', 'redis_port'),
}


def _get(vars_, name, default=None):
    try:
        value = vars_[name]
    except (KeyError, TypeError):
        return default
    return default if value is None else value


def _is_loopback(hostname):
    if hostname in ('localhost', 'localhost.localdomain', 'ip6-localhost'):
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _bracket(address):
    return '[%s]' % address if ':' in address and not address.startswith('[') else address


def host_address(name, vars_, address_var='ansible_host'):
    """The address the monitoring server reaches a host at."""
    address = _get(vars_, address_var) or _get(vars_, 'ansible_host') or name
    return str(address)


def probe_url(url, address):
    """The endpoint's URL as seen from the monitoring server: a loopback host becomes the host's address."""
    parts = urlsplit(url)
    if not parts.scheme or not parts.hostname:
        raise ValueError('%r is not an absolute URL' % url)
    if not _is_loopback(parts.hostname):
        return url
    netloc = _bracket(address) + (':%d' % parts.port if parts.port else '')
    if '@' in parts.netloc:
        netloc = parts.netloc.rsplit('@', 1)[0] + '@' + netloc
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _port(vars_, kind, opts):
    var, key = PORT_VARS[kind]
    value = _get(vars_, var, opts[key])
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = 0
    if not 0 < port < 65536:
        raise ValueError('%s: %r is not a TCP port' % (var, value))
    return port


def _probe_job(name, module, targets, blackbox, interval):
    job = {
        'job_name': name,
        'metrics_path': '/probe',
        'params': {'module': [module]},
        'static_configs': targets,
        'relabel_configs': [
            {'source_labels': ['__address__'], 'target_label': '__param_target'},
            {'source_labels': ['__param_target'], 'target_label': 'instance'},
            {'target_label': '__address__', 'replacement': blackbox},
        ],
    }
    if interval:
        job['scrape_interval'] = interval
    return job


def prometheus_targets(groups, hostvars, options=None):
    opts = dict(DEFAULTS)
    opts.update(options or {})
    groups = groups or {}
    every = list(groups.get(opts['all_group']) or [])
    members = {
        'postgres': set(groups.get(opts['postgres_group']) or []),
        'redis': set(groups.get(opts['cache_group']) or []),
    }
    exporters = {'node': [], 'postgres': [], 'redis': []}
    http, tls = [], []
    try:
        for name in every:
            vars_ = hostvars[name]
            address = host_address(name, vars_, opts['address_var'])
            for kind in ('node', 'postgres', 'redis'):
                if kind == 'node' or name in members[kind]:
                    exporters[kind].append({'targets': ['%s:%d' % (_bracket(address), _port(vars_, kind, opts))],
                                            'labels': {'host': name}})
            for index, endpoint in enumerate(_get(vars_, 'daily_checks_http_endpoints', []) or []):
                if not isinstance(endpoint, dict) or not endpoint.get('url'):
                    raise ValueError('daily_checks_http_endpoints[%d] has no url' % index)
                labels = {'host': name, 'endpoint': str(endpoint.get('name') or endpoint['url'])}
                http.append({'targets': [probe_url(str(endpoint['url']), address)], 'labels': labels})
            for index, endpoint in enumerate(_get(vars_, 'daily_checks_cert_endpoints', []) or []):
                if not isinstance(endpoint, dict) or not endpoint.get('address'):
                    raise ValueError('daily_checks_cert_endpoints[%d] has no address' % index)
                target = str(endpoint['address'])
                hostname = target.rsplit(':', 1)[0].strip('[]')
                if _is_loopback(hostname):
                    target = '%s:%s' % (_bracket(address), target.rsplit(':', 1)[1])
                tls.append({'targets': [target], 'labels': {'host': name, 'endpoint': str(endpoint.get('server_name') or target)}})
    except ValueError as exc:
        raise AnsibleFilterError('prometheus_targets: host %s: %s' % (name, exc))
    interval = opts['scrape_interval']
    jobs = []
    for kind in ('node', 'postgres', 'redis'):
        if exporters[kind]:
            job = {'job_name': kind, 'static_configs': exporters[kind]}
            if interval:
                job['scrape_interval'] = interval
            jobs.append(job)
    if http:
        jobs.append(_probe_job('blackbox_http', opts['http_module'], http, opts['blackbox_address'], interval))
    if tls:
        jobs.append(_probe_job('blackbox_tls', opts['tls_module'], tls, opts['blackbox_address'], interval))
    return jobs


class FilterModule(object):
    def filters(self):
        return {'prometheus_targets': prometheus_targets}
