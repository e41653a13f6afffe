# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.fleetops.runbook.plugins.module_utils.status import finite_number
from ansible_collections.fleetops.runbook.plugins.plugin_utils.arguments import argument_errors
from ansible_collections.fleetops.runbook.plugins.plugin_utils.notify import (
    CHANNELS,
    DEFAULT_ROUTING,
    SEVERITIES,
    STATUS_SEVERITY,
    DedupStore,
    MailSender,
    Message,
    NotifyError,
    SlackSender,
    alert_key,
    check_mail_login,
    check_webhook_url,
    collect_findings,
    overall_status,
)

WEBHOOK_ENV = ('FLEETOPS_SLACK_WEBHOOK_URL', 'SLACK_WEBHOOK_URL')
DEFAULT_STATE_PATH = '~/.cache/fleetops/notify/state.json'
MAX_SECONDS = 86400

ARGUMENT_SPEC = dict(
    title=dict(type='str', required=True),
    severity=dict(type='str', choices=list(SEVERITIES)),
    text=dict(type='str'),
    results=dict(type='raw'),
    min_status=dict(type='str', default='warning', choices=['warning', 'critical', 'unknown']),
    ok_digest=dict(type='bool', default=False),
    channels=dict(type='list', elements='str', choices=list(CHANNELS)),
    routing=dict(type='dict', default={}),
    key=dict(type='str', no_log=False),
    dedup_window=dict(type='int', default=3600),
    state_path=dict(type='path', default=DEFAULT_STATE_PATH),
    source=dict(type='str', default='fleetops.runbook'),
    report=dict(type='str'),
    slack=dict(type='dict', default={}, options=dict(
        webhook_url=dict(type='str', no_log=True),
        channel=dict(type='str'),
        username=dict(type='str'),
        icon_emoji=dict(type='str'),
        timeout=dict(type='float', default=10.0),
        retries=dict(type='int', default=3),
        backoff=dict(type='float', default=1.0),
        max_backoff=dict(type='float', default=30.0),
        max_retry_after=dict(type='float', default=60.0),
        max_hosts=dict(type='int', default=20),
        validate_certs=dict(type='bool', default=True),
        allow_insecure_http=dict(type='bool', default=False),
    )),
    mail=dict(type='dict', default={}, options=dict(
        to=dict(type='list', elements='str', default=[]),
        sender=dict(type='str'),
        host=dict(type='str', default='localhost'),
        port=dict(type='int', default=25),
        starttls=dict(type='bool', default=False),
        use_ssl=dict(type='bool', default=False),
        username=dict(type='str'),
        password=dict(type='str', no_log=True),
        allow_plaintext_login=dict(type='bool', default=False),
        validate_certs=dict(type='bool', default=True),
        timeout=dict(type='float', default=30.0),
        subject_prefix=dict(type='str'),
    )),
)


class ActionModule(ActionBase):
    """Sends one notification per call to the channels its severity is routed to."""

    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        result['changed'] = False
        errors = argument_errors(self._task.args, ARGUMENT_SPEC)
        if errors:
            raise AnsibleActionFail('; '.join(errors))
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            return self._run(args, result)
        except NotifyError as exc:
            raise AnsibleActionFail(exc.msg)

    # --- validation, before anything is sent ------------------------------------------------

    @staticmethod
    def _routing(given):
        routing = dict((k, list(v)) for k, v in DEFAULT_ROUTING.items())
        for severity, channels in given.items():
            if severity not in SEVERITIES:
                raise NotifyError('routing: unknown severity %r; use %s' % (severity, ', '.join(SEVERITIES)))
            if isinstance(channels, str):
                channels = [channels]
            if not isinstance(channels, list):
                raise NotifyError('routing.%s: expected a list of channels' % severity)
            for channel in channels:
                if channel not in CHANNELS:
                    raise NotifyError('routing.%s: unknown channel %r; use %s' % (
                        severity, channel, ', '.join(CHANNELS)))
            routing[severity] = list(channels)
        return routing

    @staticmethod
    def _check_numbers(args):
        if args['dedup_window'] < 0:
            raise NotifyError('dedup_window: must be 0 (off) or a number of seconds, got %d' % args['dedup_window'])
        slack = args['slack']
        try:
            # Seconds; a day bounds every wait, so no value can make the task hang.
            for name in ('timeout', 'backoff', 'max_backoff', 'max_retry_after'):
                finite_number(slack[name], 'slack.%s' % name, maximum=MAX_SECONDS,
                              **({'above': 0} if name == 'timeout' else {'minimum': 0}))
            finite_number(args['mail']['timeout'], 'mail.timeout', above=0, maximum=MAX_SECONDS)
        except ValueError as exc:
            raise NotifyError(str(exc))
        if not 0 <= slack['retries'] <= 10:
            raise NotifyError('slack.retries: must be between 0 and 10, got %d' % slack['retries'])
        if slack['max_hosts'] < 1:
            raise NotifyError('slack.max_hosts: must be at least 1')
        mail = args['mail']
        if not 0 < mail['port'] < 65536:
            raise NotifyError('mail.port: %d is not a TCP port' % mail['port'])
        if mail['starttls'] and mail['use_ssl']:
            raise NotifyError('mail: starttls and use_ssl are mutually exclusive')
        if mail['password'] and not mail['username']:
            raise NotifyError('mail.password: given without mail.username')

    @staticmethod
    def _webhook_url(slack):
        if slack['webhook_url']:
            return slack['webhook_url']
        for name in WEBHOOK_ENV:
            if os.environ.get(name):
                return os.environ[name]
        return None

    def _check_channels(self, channels, args, url):
        if 'slack' in channels:
            if not url:
                raise NotifyError('slack.webhook_url: required to send to Slack (or set %s on the '
                                  'controller)' % ' or '.join(WEBHOOK_ENV))
            check_webhook_url(url, args['slack']['allow_insecure_http'])
        if 'mail' in channels:
            if not args['mail']['to']:
                raise NotifyError('mail.to: at least one recipient is required to send mail')
            for address in args['mail']['to']:
                if '@' not in address or any(c in address for c in ' \r\n,<>'):
                    raise NotifyError('mail.to: %r is not a mail address' % address)
            check_mail_login(args['mail']['username'], args['mail']['starttls'], args['mail']['use_ssl'],
                             args['mail']['allow_plaintext_login'])

    # --- the run --------------------------------------------------------------------------

    def _run(self, args, result):
        if args['text'] is None and args['results'] is None:
            raise NotifyError('one of text or results is required')
        if args['results'] is None and args['severity'] is None:
            raise NotifyError('severity: required when only text is given (critical, warning or info)')
        self._check_numbers(args)
        routing = self._routing(args['routing'])
        url = self._webhook_url(args['slack'])
        # Every channel that could be used is checked now, so a bad setting shows on a quiet day.
        possible = args['channels'] if args['channels'] is not None else sorted(
            set(c for s in SEVERITIES for c in routing[s]) if args['severity'] is None
            else routing[args['severity']])
        self._check_channels(possible, args, url)

        hosts = collect_findings(args['results'], args['min_status']) if args['results'] is not None else []
        status = overall_status(hosts)
        problems = sum(len(h.problems) for h in hosts)
        result['status'] = status
        result['hosts_with_findings'] = sorted(h.host for h in hosts if h.problems and h.host is not None)

        if args['results'] is not None and not problems and not args['ok_digest']:
            result.update(sent=[], suppressed=[], would_send=[], channels=[],
                          msg='nothing to notify: no finding at %s or worse' % args['min_status'].upper())
            return result

        severity = args['severity'] or STATUS_SEVERITY.get(status or 'OK', 'info')
        channels = args['channels'] if args['channels'] is not None else routing[severity]
        key = args['key'] or alert_key(severity, args['title'], args['text'], hosts)
        message = Message(severity, args['title'], args['text'], hosts, key, time.time(),
                          source=args['source'], max_hosts=args['slack']['max_hosts'], report=args['report'])
        slack = args['slack']
        mail = MailSender(host=args['mail']['host'], port=args['mail']['port'],
                          sender=args['mail']['sender'], to=args['mail']['to'],
                          starttls=args['mail']['starttls'], use_ssl=args['mail']['use_ssl'],
                          username=args['mail']['username'], password=args['mail']['password'],
                          allow_plaintext_login=args['mail']['allow_plaintext_login'],
                          validate_certs=args['mail']['validate_certs'],
                          timeout=args['mail']['timeout'], subject_prefix=args['mail']['subject_prefix'])

        notification = {}
        if 'slack' in channels:
            notification['slack'] = message.slack_payload(
                slack['channel'], slack['username'], slack['icon_emoji'])
        if 'mail' in channels:
            notification['mail'] = mail.preview(message)
        result.update(severity=severity, channels=list(channels), key=key, notification=notification)

        state_path = os.path.expanduser(args['state_path'])
        window = args['dedup_window']
        if self._task.check_mode:
            store = DedupStore(state_path)
            store.load()
            suppressed = [c for c in channels if store.is_recent(key, c, window)]
            result.update(sent=[], suppressed=suppressed,
                          would_send=[c for c in channels if c not in suppressed],
                          msg='check mode: nothing sent')
            return result

        sent, suppressed, errors, delivery = [], [], [], {}
        with DedupStore(state_path) as store:
            for channel in channels:
                if store.is_recent(key, channel, window):
                    suppressed.append(channel)
                    continue
                try:
                    if channel == 'slack':
                        sender = SlackSender(url, timeout=slack['timeout'], retries=slack['retries'],
                                             backoff=slack['backoff'], max_backoff=slack['max_backoff'],
                                             max_retry_after=slack['max_retry_after'],
                                             validate_certs=slack['validate_certs'])
                        delivery['slack'] = {'attempts': sender.send(notification['slack'])}
                    else:
                        delivery['mail'] = mail.send(message)
                except NotifyError as exc:
                    errors.append(exc.msg)
                    if exc.attempts:
                        delivery[channel] = {'attempts': exc.attempts}
                    continue
                sent.append(channel)
                if window:
                    store.record(key, channel, severity, args['title'])

        result.update(sent=sent, suppressed=suppressed, would_send=[], delivery=delivery,
                      changed=bool(sent))
        if errors:
            result['failed'] = True
            result['msg'] = '; '.join(errors) + ('' if not sent else ' (delivered to %s)' % ', '.join(sent))
        elif sent:
            result['msg'] = '%s notification sent to %s' % (severity, ', '.join(sent))
        else:
            result['msg'] = 'already sent within dedup_window (%d s) to %s' % (window, ', '.join(suppressed))
        return result
