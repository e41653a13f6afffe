# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The notify action: its checks before anything is sent, routing, and check mode (nothing sent,
deduplication read from the state file). Sending itself: tests/integration/test_notify.py against
a local Slack receiver and SMTP sink; the helpers: plugin_utils/test_notify.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os

import pytest

from ansible.errors import AnsibleActionFail

from ansible_collections.fleetops.runbook.plugins.action.notify import WEBHOOK_ENV, ActionModule
from ansible_collections.fleetops.runbook.plugins.plugin_utils.notify import DedupStore, NotifyError

URL = 'https://hooks.slack.com/services/T000/B000/XXXX'
CRITICAL_RESULT = {'status': 'CRITICAL', 'summary': 'CRITICAL: disk / is 97%', 'checks': [
    {'name': 'disk', 'target': '/', 'value': 97.0, 'unit': 'percent', 'warning': '85', 'critical': '95',
     'status': 'CRITICAL', 'message': 'disk / is 97% (critical 95)'}]}
OK_RESULT = {'status': 'OK', 'summary': 'OK: 1 OK', 'checks': [
    {'name': 'disk', 'target': '/', 'value': 20.0, 'unit': 'percent', 'warning': '85', 'critical': '95',
     'status': 'OK', 'message': 'disk / is 20%'}]}


@pytest.fixture(autouse=True)
def no_webhook_in_the_environment(monkeypatch):
    for name in WEBHOOK_ENV:
        monkeypatch.delenv(name, raising=False)


def run(make_action, tmp_path, check_mode=True, **args):
    args.setdefault('title', 'Daily checks')
    args.setdefault('state_path', str(tmp_path / 'state.json'))
    return make_action(ActionModule, args, check_mode=check_mode).run(task_vars={})


def test_check_mode_builds_the_message_and_sends_nothing(make_action, tmp_path):
    result = run(make_action, tmp_path, results={'db01': CRITICAL_RESULT, 'web01': OK_RESULT},
                 slack={'webhook_url': URL}, mail={'to': ['ops@example.com'], 'sender': 'fleet@example.com'})
    assert result['status'] == 'CRITICAL' and result['severity'] == 'critical'
    assert result['hosts_with_findings'] == ['db01']
    assert result['channels'] == ['slack', 'mail'] and result['would_send'] == ['slack', 'mail']
    assert result['sent'] == [] and result['changed'] is False and result['msg'] == 'check mode: nothing sent'
    assert set(result['notification']) == {'slack', 'mail'}
    assert 'disk / is 97%' in json.dumps(result['notification']['slack'])
    # The webhook URL is a secret: it is in no part of the result.
    assert URL not in json.dumps(result)
    assert not os.path.exists(tmp_path / 'state.json')


def test_check_mode_reads_the_dedup_state(make_action, tmp_path):
    first = run(make_action, tmp_path, results={'db01': CRITICAL_RESULT}, slack={'webhook_url': URL}, channels=['slack'])
    with DedupStore(str(tmp_path / 'state.json')) as store:
        store.record(first['key'], 'slack', 'critical', 'Daily checks')
    again = run(make_action, tmp_path, results={'db01': CRITICAL_RESULT}, slack={'webhook_url': URL}, channels=['slack'])
    assert again['key'] == first['key']
    assert again['suppressed'] == ['slack'] and again['would_send'] == []


def test_nothing_at_min_status_is_not_sent(make_action, tmp_path):
    result = run(make_action, tmp_path, check_mode=False, results={'web01': OK_RESULT}, slack={'webhook_url': URL},
                 mail={'to': ['ops@example.com']})
    assert result['sent'] == [] and result['channels'] == [] and result['changed'] is False
    assert result['msg'] == 'nothing to notify: no finding at WARNING or worse'
    assert not os.path.exists(tmp_path / 'state.json')


def test_text_alone_needs_a_severity_and_something_to_say(make_action, tmp_path):
    with pytest.raises(AnsibleActionFail, match=r'^severity: required when only text is given'):
        run(make_action, tmp_path, text='disk full on db01', slack={'webhook_url': URL})
    with pytest.raises(AnsibleActionFail, match=r'^one of text or results is required$'):
        run(make_action, tmp_path, severity='info', slack={'webhook_url': URL})


def test_info_goes_to_slack_only_unless_routed(make_action, tmp_path):
    result = run(make_action, tmp_path, text='maintenance at 22:00', severity='info', slack={'webhook_url': URL})
    assert result['channels'] == ['slack']
    routed = run(make_action, tmp_path, text='maintenance at 22:00', severity='info', routing={'info': 'mail'},
                 mail={'to': ['ops@example.com']})
    assert routed['channels'] == ['mail']


def test_the_webhook_may_come_from_the_controllers_environment(make_action, tmp_path, monkeypatch):
    with pytest.raises(AnsibleActionFail, match=r'^slack.webhook_url: required to send to Slack'):
        run(make_action, tmp_path, text='x', severity='info')
    monkeypatch.setenv(WEBHOOK_ENV[1], URL)
    assert run(make_action, tmp_path, text='x', severity='info')['channels'] == ['slack']


def test_every_possible_channel_is_checked_on_a_quiet_day(make_action, tmp_path):
    # No finding today, but the mail settings that a CRITICAL day would use are wrong: say so now.
    with pytest.raises(AnsibleActionFail, match=r'^mail.to: at least one recipient is required'):
        run(make_action, tmp_path, results={'web01': OK_RESULT}, slack={'webhook_url': URL})


@pytest.mark.parametrize('routing, message', [
    ({'page': ['slack']}, "routing: unknown severity 'page'; use critical, warning, info"),
    ({'critical': ['pager']}, "routing.critical: unknown channel 'pager'; use slack, mail"),
    ({'critical': {'slack': True}}, 'routing.critical: expected a list of channels'),
])
def test_bad_routing_is_named(routing, message):
    with pytest.raises(NotifyError) as failed:
        ActionModule._routing(routing)
    assert failed.value.msg == message


def test_routing_overrides_one_severity_and_keeps_the_defaults():
    routing = ActionModule._routing({'warning': 'slack'})
    assert routing == {'critical': ['slack', 'mail'], 'warning': ['slack'], 'info': ['slack']}


@pytest.mark.parametrize('args, message', [
    ({'dedup_window': -1}, 'dedup_window: must be 0 (off) or a number of seconds, got -1'),
    ({'slack': {'webhook_url': URL, 'timeout': 0}}, 'slack.timeout'),
    ({'slack': {'webhook_url': URL, 'backoff': 90000}}, 'slack.backoff'),
    ({'slack': {'webhook_url': URL, 'retries': 11}}, 'slack.retries: must be between 0 and 10, got 11'),
    ({'slack': {'webhook_url': URL, 'max_hosts': 0}}, 'slack.max_hosts: must be at least 1'),
    ({'mail': {'to': ['a@b'], 'port': 0}}, 'mail.port: 0 is not a TCP port'),
    ({'mail': {'to': ['a@b'], 'starttls': True, 'use_ssl': True}}, 'mail: starttls and use_ssl are mutually exclusive'),
    ({'mail': {'to': ['a@b'], 'password': 'x'}}, 'mail.password: given without mail.username'),
    ({'mail': {'to': ['a@b'], 'username': 'u', 'password': 'x'}}, 'mail.username: logging in without TLS'),
    ({'mail': {'to': ['ops, boss@example.com']}}, "mail.to: 'ops, boss@example.com' is not a mail address"),
    ({'slack': {'webhook_url': 'http://hooks.example.com/x'}}, 'slack.webhook_url'),
])
def test_bad_settings_are_refused_before_anything_is_sent(make_action, tmp_path, args, message):
    args.setdefault('slack', {'webhook_url': URL})
    args.setdefault('mail', {'to': ['ops@example.com']})
    with pytest.raises(AnsibleActionFail) as failed:
        run(make_action, tmp_path, check_mode=False, text='x', severity='critical', **args)
    assert str(failed.value).startswith(message)
    assert URL not in str(failed.value)
    assert not os.path.exists(tmp_path / 'state.json')
