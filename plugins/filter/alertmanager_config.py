# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: alertmanager_config
short_description: The Alertmanager configuration of the monitoring server, from its role's variables
version_added: 0.1.0
description:
  - Builds the receivers C(slack) (incoming webhook whose URL Alertmanager reads from a file),
    C(mail) (through a local relay) and C(eda) (the collection's Event-Driven Ansible source, with a
    bearer token read from a file), plus any further receivers given.
  - Routes each severity to its receivers at once, then escalates as data, each level of the
    escalation list is a route that notifies its receivers when an alert of its severities is still
    firing after the level's wait.
  - Inhibits the other alerts of a host whose node exporter is down (equal C(host) label), and a
    warning of an alert that also fires as critical for the same instance.
  - Secrets never appear in the result; only the paths of the files holding them.
author:
  - fleetops.runbook maintainers (@fleetops)
options:
  _input:
    description:
      - The settings, a dict with C(slack) (C(api_url_file), C(channel); empty file name disables it),
        C(mail) (C(to) list, C(from), C(smarthost), C(require_tls)), C(eda) (C(enabled), C(url),
        C(credentials_file)), C(extra_receivers), C(severity_receivers) (severity to receiver names),
        C(default_receivers), C(escalation_levels) (list of C(name), C(wait), C(receivers),
        C(severities)), C(group_by), C(group_wait), C(group_interval), C(repeat_interval),
        C(resolve_timeout), C(down_alert), C(down_job) and C(variable_prefix) (the prefix of the
        variable names an error names, such as C(monitoring_server_)).
    type: dict
    required: true
'''

EXAMPLES = r'''
- name: Write the Alertmanager configuration
  ansible.builtin.copy:
    content: "{{ settings | fleetops.runbook.alertmanager_config | to_nice_yaml }}"
    dest: /etc/prometheus/fleetops/alertmanager.yml
    mode: "0644"
'''

RETURN = r'''
_value:
  description: The Alertmanager configuration (global, route, receivers, inhibit_rules).
  type: dict
'''

import copy
import re

from ansible.errors import AnsibleFilterError

DURATION = re.compile(r'^([0-9]+(ms|s|m|h|d|w|y))+$')
LABEL = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]*$')

SLACK_TITLE = ('[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}] '
               '{{ .CommonLabels.alertname }} {{ .CommonLabels.host }}')
# Alertmanager's default subject, which a level prefixes.
MAIL_SUBJECT = '{{ template "email.default.subject" . }}'
SLACK_TEXT = ('{{ range .Alerts }}*{{ .Labels.severity }}* {{ .Annotations.summary }}\n'
              '{{ .Annotations.description }}\n{{ end }}')


class ConfigError(ValueError):
    pass


def _duration(value, name):
    text = str(value)
    if not DURATION.match(text):
        raise ConfigError('%s: %r is not an Alertmanager duration such as 30s, 5m or 1h' % (name, value))
    return text


# The prefix of the role's variable names, so that an error names the variable to fix.
P = ['']


def _receivers(settings):
    """The named receivers, each as a dict of *_configs lists."""
    out = {}
    slack = settings.get('slack') or {}
    if slack.get('api_url_file'):
        config = {'send_resolved': True, 'title': SLACK_TITLE, 'text': SLACK_TEXT}
        if slack.get('channel'):
            config['channel'] = str(slack['channel'])
        out['slack'] = {'slack_configs': [config]}
    mail = settings.get('mail') or {}
    to = mail.get('to') or []
    if isinstance(to, str):
        to = [to]
    if to:
        out['mail'] = {'email_configs': [{'to': ', '.join(str(a) for a in to), 'send_resolved': True}]}
    eda = settings.get('eda') or {}
    if eda.get('enabled'):
        if not eda.get('url') or not eda.get('credentials_file'):
            raise ConfigError('the EDA receiver needs its %seda_url and its %seda_credentials_file' % (P[0], P[0]))
        out['eda'] = {'webhook_configs': [{
            'url': str(eda['url']), 'send_resolved': True, 'max_alerts': 0,
            'http_config': {'authorization': {'type': 'Bearer', 'credentials_file': str(eda['credentials_file'])}},
        }]}
    for index, receiver in enumerate(settings.get('extra_receivers') or []):
        if not isinstance(receiver, dict) or not NAME.match(str(receiver.get('name', ''))):
            raise ConfigError('%sextra_receivers[%d] needs a name (letters, digits, _ . -)' % (P[0], index))
        if receiver['name'] in out:
            raise ConfigError('%sextra_receivers[%d]: the name %s is taken' % (P[0], index, receiver['name']))
        out[receiver['name']] = dict((k, v) for k, v in receiver.items() if k != 'name')
    return out


def _combined(name, names, receivers, what, prefix=''):
    """One receiver holding the configurations of the named ones; prefix goes before Slack titles and mail subjects."""
    unknown = [n for n in names if n not in receivers]
    if unknown:
        raise ConfigError('%s names receivers that are not configured: %s (configured: %s)' % (
            what, ', '.join(map(str, unknown)), ', '.join(sorted(receivers)) or 'none'))
    combined = {'name': name}
    for receiver in names:
        for key, configs in receivers[receiver].items():
            for config in configs:
                config = copy.deepcopy(config)
                if prefix and key == 'slack_configs':
                    config['title'] = prefix + config.get('title', SLACK_TITLE)
                elif prefix and key == 'email_configs':
                    config.setdefault('headers', {})['Subject'] = prefix + MAIL_SUBJECT
                combined.setdefault(key, []).append(config)
    return combined


def _matcher(label, values):
    values = [re.escape(str(v)) for v in values]
    if len(values) == 1:
        return '%s="%s"' % (label, values[0].replace('\\', '\\\\'))
    return '%s=~"%s"' % (label, '|'.join(values).replace('\\', '\\\\'))


def build(settings):
    settings = settings or {}
    P[0] = str(settings.get('variable_prefix') or '')
    receivers = _receivers(settings)
    out_receivers = [_combined('default', list(settings.get('default_receivers') or []), receivers, P[0] + 'default_receivers')]
    routes = []
    for severity, names in sorted((settings.get('severity_receivers') or {}).items()):
        if not LABEL.match('x' + str(severity)):
            raise ConfigError('%sseverity_receivers: %r is not a severity' % (P[0], severity))
        name = 'severity-%s' % severity
        out_receivers.append(_combined(name, list(names or []), receivers, '%sseverity_receivers.%s' % (P[0], severity)))
        routes.append({'receiver': name, 'matchers': [_matcher('severity', [severity])], 'continue': True})
    seen = set()
    for index, level in enumerate(settings.get('escalation_levels') or []):
        what = '%sescalation_levels[%d]' % (P[0], index)
        if not isinstance(level, dict) or not NAME.match(str(level.get('name', ''))):
            raise ConfigError('%s needs a name (letters, digits, _ . -)' % what)
        if level['name'] in seen:
            raise ConfigError('%s: the name %s is used twice' % (what, level['name']))
        seen.add(level['name'])
        if not level.get('receivers'):
            raise ConfigError('%s (%s) has no receivers' % (what, level['name']))
        name = 'escalation-%s' % level['name']
        out_receivers.append(_combined(name, list(level['receivers']), receivers, what,
                                       '[escalation %s after %s] ' % (level['name'], level.get('wait'))))
        routes.append({
            'receiver': name,
            'matchers': [_matcher('severity', level.get('severities') or ['critical'])],
            'group_wait': _duration(level.get('wait', ''), what + '.wait'),
            'continue': True,
        })
    group_by = list(settings.get('group_by') or ['alertname', 'host'])
    for label in group_by:
        if label != '...' and not LABEL.match(str(label)):
            raise ConfigError('%sgroup_by: %r is not a label name' % (P[0], label))
    route = {'receiver': 'default', 'group_by': group_by, 'routes': routes}
    for key in ('group_wait', 'group_interval', 'repeat_interval'):
        route[key] = _duration(settings.get(key, {'group_wait': '30s', 'group_interval': '5m', 'repeat_interval': '4h'}[key]), P[0] + key)
    config = {
        'global': {'resolve_timeout': _duration(settings.get('resolve_timeout', '5m'), P[0] + 'resolve_timeout')},
        'route': route,
        'receivers': out_receivers,
        'inhibit_rules': [
            {
                # A host whose node exporter is down: its other alerts add nothing.
                'source_matchers': ['alertname="%s"' % settings.get('down_alert', 'InstanceDown'),
                                    'job="%s"' % settings.get('down_job', 'node')],
                'target_matchers': ['severity=~".+"'],
                'equal': ['host'],
            },
            {
                'source_matchers': ['severity="critical"'],
                'target_matchers': ['severity="warning"'],
                'equal': ['alertname', 'instance'],
            },
        ],
    }
    if 'slack' in receivers:
        config['global']['slack_api_url_file'] = str(settings['slack']['api_url_file'])
    if 'mail' in receivers:
        mail = settings['mail']
        if not mail.get('from') or not mail.get('smarthost'):
            raise ConfigError('the mail receiver needs %smail_from and %smail_smarthost' % (P[0], P[0]))
        config['global'].update({
            'smtp_from': str(mail['from']),
            'smtp_smarthost': str(mail['smarthost']),
            'smtp_require_tls': bool(mail.get('require_tls', False)),
        })
    return config


def alertmanager_config(settings):
    try:
        return build(settings)
    except ConfigError as exc:
        raise AnsibleFilterError('alertmanager_config: %s' % exc)


class FilterModule(object):
    def filters(self):
        return {'alertmanager_config': alertmanager_config}
