# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Controller-side notification: findings from status-model results, Slack and mail delivery, and
the de-duplication state.

Nothing here talks to Ansible: the notify action plugin validates the options, then uses
:func:`collect_findings`, :class:`Message`, :class:`SlackSender`, :class:`MailSender` and
:class:`DedupStore`. The senders take ``sleep``/``clock`` callables so their retry logic can be
tested without waiting.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import email.utils
import errno
import fcntl
import hashlib
import json
import math
import os
import smtplib
import socket
import ssl
import stat
import tempfile
import time
from email.message import EmailMessage

from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError
from ansible.module_utils.six.moves.urllib.parse import urlsplit
from ansible.module_utils.urls import open_url

from ansible_collections.fleetops.runbook.plugins.module_utils.status import (
    CRITICAL,
    OK,
    STATUS_CODES,
    UNKNOWN,
    WARNING,
    URGENCY,
    most_urgent,
    range_note,
    reaches,
    urgency,
)
from ansible_collections.fleetops.runbook.plugins.module_utils.regular_file import (
    FileRefused,
    check_regular,
    read_regular,
)
from ansible_collections.fleetops.runbook.plugins.plugin_utils.findings import group_findings
from ansible_collections.fleetops.runbook.plugins.plugin_utils.report import cell_from_result

SEVERITIES = ('critical', 'warning', 'info')
CHANNELS = ('slack', 'mail')

# After the operations guide: critical and warning go to Slack and mail, info to Slack only.
DEFAULT_ROUTING = {
    'critical': ['slack', 'mail'],
    'warning': ['slack', 'mail'],
    'info': ['slack'],
}

# A host that cannot be checked is paged like a CRITICAL one.
STATUS_SEVERITY = {OK: 'info', WARNING: 'warning', CRITICAL: 'critical', UNKNOWN: 'critical'}

SLACK_COLOURS = {'critical': '#D0021B', 'warning': '#F5A623', 'info': '#4A90D9'}
SLACK_EMOJI = {'critical': ':rotating_light:', 'warning': ':warning:', 'info': ':information_source:'}
STATUS_EMOJI = {CRITICAL: ':red_circle:', WARNING: ':large_orange_circle:',
                UNKNOWN: ':black_circle:', OK: ':large_green_circle:'}

# Slack's documented limits for a message of blocks.
SLACK_HEADER_MAX = 150
SLACK_SECTION_MAX = 3000
SLACK_FALLBACK_MAX = 3000
# Finding sections of one message; with the header, intro and context blocks well under Slack's 50.
SLACK_MAX_GROUPS = 40

STATE_KEEP_SECONDS = 30 * 86400


class NotifyError(Exception):
    """A failure whose message names the parameter or the channel and the cause."""

    def __init__(self, msg, attempts=None):
        super(NotifyError, self).__init__(msg)
        self.msg = msg
        self.attempts = attempts or []


# ---------------------------------------------------------------------------------------------
# Findings


def _kind(value):
    # Ansible hands in tagged subclasses of the builtin types: name the builtin.
    for kind, name in ((bool, 'a boolean'), (str, 'a string'), (int, 'a number'),
                       (float, 'a number'), (list, 'a list'), (dict, 'a mapping')):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _looks_like_result(value):
    return isinstance(value, dict) and any(
        k in value for k in ('status', 'checks', 'summary', 'failed', 'unreachable', 'skipped',
                             'changed', 'msg'))


class HostFindings:
    """What one host (or an unnamed result) reported: its worst status and the lines not OK."""

    __slots__ = ('host', 'status', 'problems', 'checked')

    def __init__(self, host):
        self.host = host
        self.status = None
        self.problems = []
        self.checked = 0

    def add_cell(self, source, cell, min_status):
        if cell['status'] is None:
            return
        self.checked += 1
        self.status = cell['status'] if self.status is None else most_urgent([self.status, cell['status']])
        checks = cell.get('checks') or []
        listed = False
        for check in checks:
            status = check.get('status')
            if status in STATUS_CODES and status != OK and reaches(status, min_status):
                self.problems.append({'status': status, 'source': source,
                                      'check': check.get('name'), 'target': check.get('target'),
                                      'message': to_text(check.get('message') or check.get('name')),
                                      'note': range_note(check)})
                listed = True
        if not listed and cell['status'] != OK and reaches(cell['status'], min_status):
            self.problems.append({'status': cell['status'], 'source': source, 'check': None,
                                  'target': None, 'message': to_text(cell['summary']), 'note': ''})

    def sort(self):
        self.problems.sort(key=lambda p: (urgency(p['status']), p['message']))


def _add_results(findings, value, source, min_status, where):
    """Add one registered result, a list of them or a loop's registered result."""
    if value is None or value == {} or value == []:
        return
    if isinstance(value, dict) and 'status' not in value and isinstance(value.get('results'), list):
        value = value['results']
    if isinstance(value, list):
        for index, item in enumerate(value):
            _add_results(findings, item, source, min_status, '%s[%d]' % (where, index))
        return
    if not isinstance(value, dict):
        raise NotifyError('%s: expected a status-model result (a mapping with status, checks and '
                          'summary), got %s' % (where, _kind(value)))
    if 'status' in value and value['status'] not in STATUS_CODES:
        raise NotifyError('%s.status: %r is not one of %s' % (
            where, value['status'], ', '.join(STATUS_CODES)))
    findings.add_cell(source, cell_from_result(value), min_status)


def collect_findings(results, min_status='warning'):
    """Turn ``results`` into a list of :class:`HostFindings`.

    ``results`` is a status-model result, a list of them (or of registered task results), or a
    mapping of host name to a result, a list of results or a mapping of check name to a result.
    Raises :class:`NotifyError` on input that is none of these.
    """
    hosts = []
    if results is None:
        return hosts
    if isinstance(results, list) or _looks_like_result(results):
        findings = HostFindings(None)
        _add_results(findings, results, None, min_status, 'results')
        hosts.append(findings)
    elif isinstance(results, dict):
        for host in sorted(results, key=to_text):
            value = results[host]
            findings = HostFindings(to_text(host))
            where = 'results[%s]' % to_text(host)
            if isinstance(value, dict) and not _looks_like_result(value) and 'results' not in value:
                for check in sorted(value, key=to_text):
                    _add_results(findings, value[check], to_text(check), min_status,
                                 '%s[%s]' % (where, to_text(check)))
            else:
                _add_results(findings, value, None, min_status, where)
            hosts.append(findings)
    else:
        raise NotifyError('results: expected a list of status-model results or a mapping of host '
                          'to result, got %s' % _kind(results))
    for findings in hosts:
        findings.sort()
    return [f for f in hosts if f.status is not None]


def overall_status(hosts):
    """The status a person acts on first (CRITICAL before UNKNOWN), None without results."""
    statuses = [h.status for h in hosts if h.status is not None]
    return most_urgent(statuses) if statuses else None


def alert_key(severity, title, text, hosts):
    """A stable key for de-duplication: what is wrong where, not the measured values."""
    problems = sorted(
        (h.host or '', p['source'] or '', p['check'] or p['message'], to_text(p['target'] or ''),
         p['status'])
        for h in hosts for p in h.problems)
    material = json.dumps([severity, title, text or '', problems], sort_keys=True)
    return hashlib.sha256(material.encode('utf-8')).hexdigest()[:32]


# ---------------------------------------------------------------------------------------------
# Messages


def _isoformat(timestamp):
    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc).strftime(
        '%Y-%m-%dT%H:%M:%SZ')


def _mrkdwn(text):
    return to_text(text).replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')


def _cut(text, limit):
    return text if len(text) <= limit else text[:limit - 1] + '\u2026'


class Message:
    """One notification, rendered for Slack (blocks) and for mail (plain text)."""

    def __init__(self, severity, title, text, hosts, key, created, source='fleetops.runbook',
                 max_hosts=20, max_lines=10, report=None):
        self.report = report
        self.severity = severity
        self.title = title
        self.text = text
        self.hosts = hosts
        self.key = key
        self.created = created
        self.source = source
        self.max_hosts = max_hosts
        self.max_lines = max_lines

    @property
    def problem_hosts(self):
        hosts = [h for h in self.hosts if h.problems]
        hosts.sort(key=lambda h: (urgency(h.status), h.host or ''))
        return hosts

    def groups(self):
        """The findings grouped across hosts, most urgent and biggest first (see group_findings)."""
        return group_findings(dict(problem, host=host.host) for host in self.hosts for problem in host.problems)

    def report_line(self):
        return 'Report: %s' % to_text(self.report) if self.report else None

    def counts(self):
        counts = dict((s, 0) for s in STATUS_CODES)
        for host in self.hosts:
            counts[host.status] += 1
        return counts

    def headline(self):
        return '%s: %s' % (self.severity.upper(), self.title)

    def overview(self):
        """One line on the results, or None when the message carries only text."""
        if not self.hosts:
            return None
        counts = self.counts()
        named = [h for h in self.hosts if h.host is not None]
        noun = 'hosts' if named else 'results'
        total = len(named) if named else sum(h.checked for h in self.hosts)
        bad = len(self.problem_hosts)
        if not bad:
            return 'All %d %s OK.' % (total, noun) if named else 'All results OK.'
        parts = ['%d %s' % (counts[s], s) for s in URGENCY if s != OK and counts[s]]
        if named:
            return '%d of %d hosts need attention (%s).' % (bad, total, ', '.join(parts))
        return 'Findings: %s.' % ', '.join(parts)

    @staticmethod
    def _problem_line(problem):
        prefix = '%s: ' % problem['source'] if problem['source'] else ''
        return '%s %s%s' % (problem['status'], prefix, problem['message'])

    @staticmethod
    def _group_title(group):
        size = len([m for m in group['hosts'] if m['host'] is not None])
        label = group['label'] if group['status'] in group['label'] else '%s %s' % (group['status'], group['label'])
        return '%s%s' % (label, ' on %d host%s' % (size, '' if size == 1 else 's') if size else '')

    @staticmethod
    def _member_line(member):
        return '%s: %s' % (member['host'], member['message']) if member['host'] is not None else member['message']

    def plain_text(self, limit=None):
        """The whole message as plain text (the mail body, Slack's fallback when cut)."""
        lines = [self.headline()]
        if self.text:
            lines += ['', to_text(self.text)]
        overview = self.overview()
        if overview:
            lines += ['', overview]
        if self.report:
            lines += ['', self.report_line()]
        for group in self.groups():
            lines += ['', self._group_title(group)]
            lines += ['  - ' + self._member_line(m) for m in group['hosts']]
        lines += ['', '-- ', '%s at %s, alert key %s' % (self.source, _isoformat(self.created), self.key)]
        text = '\n'.join(lines)
        return _cut(text, limit) if limit else text

    def fallback(self):
        """Short text for notifications and clients that do not show blocks."""
        parts = [self.headline()]
        overview = self.overview()
        if overview:
            parts.append(overview)
        named = [h.host for h in self.problem_hosts if h.host is not None]
        if named:
            shown = named[:10]
            more = len(named) - len(shown)
            parts.append('Hosts: %s%s' % (', '.join(shown), ' and %d more' % more if more else ''))
        elif self.text:
            parts.append(to_text(self.text))
        if self.report:
            parts.append(self.report_line())
        return _cut(' '.join(parts), SLACK_FALLBACK_MAX)

    def slack_payload(self, channel=None, username=None, icon_emoji=None):
        header = '%s %s' % (SLACK_EMOJI[self.severity], self.headline())
        blocks = [{'type': 'header', 'text': {'type': 'plain_text', 'emoji': True,
                                              'text': _cut(header, SLACK_HEADER_MAX)}}]
        intro = []
        if self.text:
            intro.append(_mrkdwn(self.text))
        overview = self.overview()
        if overview:
            intro.append('*%s*' % _mrkdwn(overview))
        if self.report:
            link = to_text(self.report)
            intro.append('<%s|Fleet report>' % link if link.startswith(('https://', 'http://')) and '|' not in link
                         and '>' not in link else _mrkdwn(self.report_line()))
        if intro:
            blocks.append({'type': 'section', 'text': {
                'type': 'mrkdwn', 'text': _cut('\n'.join(intro), SLACK_SECTION_MAX)}})
        blocks.append({'type': 'context', 'elements': [{
            'type': 'mrkdwn',
            'text': '%s severity *%s* | %s | %s | key `%s`' % (
                SLACK_EMOJI[self.severity], self.severity, _mrkdwn(self.source),
                _isoformat(self.created), self.key[:12])}]})

        # One section per finding, with the hosts it is on: the same problem on 12 hosts is said once.
        detail = []
        groups = self.groups()
        for group in groups[:SLACK_MAX_GROUPS]:
            lines = ['%s *%s*' % (STATUS_EMOJI[group['status']], _mrkdwn(self._group_title(group)))]
            shown = group['hosts'][:self.max_hosts]
            lines += ['\u2022 ' + _mrkdwn(self._member_line(m)) for m in shown]
            if len(group['hosts']) > len(shown):
                lines.append('_\u2026 and %d more hosts_' % (len(group['hosts']) - len(shown)))
            detail.append({'type': 'section', 'text': {
                'type': 'mrkdwn', 'text': _cut('\n'.join(lines), SLACK_SECTION_MAX)}})
        if len(groups) > SLACK_MAX_GROUPS:
            detail.append({'type': 'context', 'elements': [{
                'type': 'mrkdwn', 'text': '\u2026 and %d more findings (see the mail or the fleet report)' % (
                    len(groups) - SLACK_MAX_GROUPS)}]})

        fallback = self.fallback()
        payload = {'text': fallback, 'blocks': blocks}
        attachment = {'color': SLACK_COLOURS[self.severity], 'fallback': fallback}
        if detail:
            attachment['blocks'] = detail
        payload['attachments'] = [attachment]
        if channel:
            payload['channel'] = channel
        if username:
            payload['username'] = username
        if icon_emoji:
            payload['icon_emoji'] = icon_emoji
        return payload

    def mail_subject(self, prefix=None):
        subject = '[%s] %s' % (self.severity.upper(), self.title)
        overview = self.overview()
        if overview and self.problem_hosts:
            subject += ' - ' + overview.rstrip('.')
        if prefix:
            subject = '%s %s' % (prefix, subject)
        return _cut(subject.replace('\n', ' '), 250)


# ---------------------------------------------------------------------------------------------
# Slack


def check_webhook_url(url, allow_insecure_http=False, param='slack.webhook_url'):
    """Raise NotifyError when ``url`` is not a usable webhook URL. The URL itself is never shown."""
    if not isinstance(url, str) or not url.strip():
        raise NotifyError('%s: empty' % param)
    if url != url.strip() or any(c in url for c in ' \t\r\n'):
        raise NotifyError('%s: malformed URL (it contains white space)' % param)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise NotifyError('%s: malformed URL (%s)' % (param, to_native(exc)))
    if parts.scheme not in ('https', 'http'):
        raise NotifyError("%s: malformed URL (scheme %s; use https://)" % (
            param, repr(parts.scheme) if parts.scheme else 'missing'))
    if not parts.hostname:
        raise NotifyError('%s: malformed URL (no host name)' % param)
    if parts.username or parts.password:
        raise NotifyError('%s: malformed URL (credentials in the URL are not supported)' % param)
    if parts.scheme == 'http' and not allow_insecure_http:
        raise NotifyError('%s: plain http is refused (the webhook URL is a secret); use https://, '
                          'or set slack.allow_insecure_http for a local test receiver' % param)
    if port == 0:
        raise NotifyError('%s: malformed URL (port 0)' % param)
    if not parts.path or parts.path == '/':
        raise NotifyError('%s: malformed URL (no path; an incoming webhook URL has one)' % param)


def parse_retry_after(value, now=None):
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date), or None."""
    if value is None:
        return None
    value = to_text(value).strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.timezone.utc)
        now = time.time() if now is None else now
        seconds = when.timestamp() - now
    if math.isnan(seconds):
        return None
    return max(0.0, seconds)


class SlackSender:
    """Posts a payload to an incoming webhook, retrying rate limits and server errors, boundedly."""

    def __init__(self, url, timeout=10, retries=3, backoff=1.0, max_backoff=30.0,
                 max_retry_after=60.0, validate_certs=True, sleep=time.sleep, clock=time.time):
        self.url = url
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.max_retry_after = max_retry_after
        self.validate_certs = validate_certs
        self.sleep = sleep
        self.clock = clock

    def _hide(self, text):
        return to_text(text).replace(self.url, '<webhook URL>')

    def _post(self, body):
        """One request. Returns (status, text, retry_after header or None)."""
        try:
            response = open_url(self.url, data=body, method='POST', timeout=self.timeout,
                                headers={'Content-Type': 'application/json; charset=utf-8'},
                                validate_certs=self.validate_certs, follow_redirects='none',
                                http_agent='fleetops.runbook-notify', use_proxy=True)
            return response.getcode(), to_text(response.read(), errors='replace'), None
        except HTTPError as exc:
            try:
                text = to_text(exc.read(), errors='replace')
            except Exception:  # the body is informational only
                text = ''
            headers = exc.headers if exc.headers is not None else {}
            return exc.code, text.strip() or to_text(exc.reason), headers.get('Retry-After')

    def backoff_delay(self, retry):
        return min(self.backoff * (2 ** retry), self.max_backoff)

    def send(self, payload):
        """Deliver ``payload``. Returns the list of attempts; raises NotifyError when it gives up."""
        body = json.dumps(payload, ensure_ascii=False).encode('utf-8')
        attempts = []
        for attempt in range(self.retries + 1):
            started = self.clock()
            record = {'attempt': attempt + 1, 'at': round(started, 3)}
            attempts.append(record)
            try:
                status, text, retry_after = self._post(body)
            except (URLError, socket.timeout, socket.error, ssl.SSLError, ValueError) as exc:
                reason = getattr(exc, 'reason', exc)
                record.update(status=None, error=self._hide(to_native(reason)))
                error = 'slack: cannot reach the webhook: %s' % record['error']
                delay = self.backoff_delay(attempt)
            else:
                record.update(status=status, response=_cut(self._hide(text), 500))
                if 200 <= status < 300:
                    return attempts
                if status == 429:
                    wait = parse_retry_after(retry_after, self.clock())
                    record['retry_after'] = wait
                    if wait is not None and wait > self.max_retry_after:
                        raise NotifyError(
                            'slack: rate limited (HTTP 429); Slack asked to retry after %d s, more '
                            'than slack.max_retry_after (%d s)' % (wait, self.max_retry_after),
                            attempts)
                    delay = wait if wait is not None else self.backoff_delay(attempt)
                    error = 'slack: still rate limited (HTTP 429: %s)' % record['response']
                elif status >= 500:
                    delay = self.backoff_delay(attempt)
                    error = 'slack: server error HTTP %d: %s' % (status, record['response'])
                else:
                    raise NotifyError('slack: the webhook refused the message: HTTP %d %s' % (
                        status, record['response'] or '(no text)'), attempts)
            if attempt == self.retries:
                raise NotifyError('%s (gave up after %d attempts)' % (error, len(attempts)), attempts)
            record['waited'] = round(delay, 3)
            self.sleep(delay)
        raise NotifyError('slack: no attempt made', attempts)  # pragma: no cover


# ---------------------------------------------------------------------------------------------
# Mail


def check_mail_login(username, starttls, use_ssl, allow_plaintext_login=False):
    """Refuse a login that would send the password over an unencrypted connection."""
    if username and not (starttls or use_ssl) and not allow_plaintext_login:
        raise NotifyError('mail.username: logging in without TLS would send the password in clear '
                          'text; set mail.starttls or mail.use_ssl, or mail.allow_plaintext_login: true '
                          'for a relay on a trusted network')


def default_sender():
    return 'fleetops@%s' % (socket.getfqdn() or 'localhost')


class MailSender:
    """Hands a message to an SMTP relay (normally the local postfix of the alerting role)."""

    def __init__(self, host='localhost', port=25, sender=None, to=None, starttls=False,
                 use_ssl=False, username=None, password=None, validate_certs=True, timeout=30,
                 subject_prefix=None, allow_plaintext_login=False):
        self.host = host
        self.port = port
        self.sender = sender or default_sender()
        self.to = list(to or [])
        self.starttls = starttls
        self.use_ssl = use_ssl
        self.username = username
        self.password = password
        self.allow_plaintext_login = allow_plaintext_login
        self.validate_certs = validate_certs
        self.timeout = timeout
        self.subject_prefix = subject_prefix

    def _context(self):
        context = ssl.create_default_context()
        if not self.validate_certs:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def build(self, message):
        mail = EmailMessage()
        mail['Subject'] = message.mail_subject(self.subject_prefix)
        mail['From'] = self.sender
        mail['To'] = ', '.join(self.to)
        mail['Date'] = email.utils.formatdate(message.created, localtime=False)
        mail['Message-ID'] = email.utils.make_msgid(domain=self.sender.rpartition('@')[2] or None)
        mail['X-Fleetops-Severity'] = message.severity
        mail['X-Fleetops-Alert-Key'] = message.key
        mail['Auto-Submitted'] = 'auto-generated'
        mail.set_content(message.plain_text())
        return mail

    def preview(self, message):
        mail = self.build(message)
        return {'from': self.sender, 'to': list(self.to), 'subject': mail['Subject'],
                'relay': '%s:%d' % (self.host, self.port), 'body': message.plain_text()}

    def send(self, message):
        check_mail_login(self.username, self.starttls, self.use_ssl, self.allow_plaintext_login)
        mail = self.build(message)
        where = '%s:%d' % (self.host, self.port)
        try:
            if self.use_ssl:
                client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                          context=self._context())
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            try:
                client.ehlo_or_helo_if_needed()
                if self.starttls:
                    client.starttls(context=self._context())
                    client.ehlo()
                if self.username:
                    client.login(self.username, self.password or '')
                refused = client.send_message(mail)
            finally:
                try:
                    client.quit()
                except (smtplib.SMTPException, OSError):
                    pass
        except smtplib.SMTPAuthenticationError as exc:
            raise NotifyError('mail: the relay %s refused the login of mail.username: %s' % (
                where, _smtp_text(exc)))
        except smtplib.SMTPRecipientsRefused as exc:
            raise NotifyError('mail: the relay %s refused every recipient of mail.to: %s' % (
                where, '; '.join('%s: %s' % (rcpt, _smtp_text(err)) for rcpt, err in exc.recipients.items())))
        except smtplib.SMTPNotSupportedError as exc:
            raise NotifyError('mail: the relay %s does not support what was asked (%s)' % (
                where, to_native(exc)))
        except smtplib.SMTPResponseException as exc:
            raise NotifyError('mail: the relay %s answered %d %s' % (where, exc.smtp_code, _smtp_text(exc)))
        except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise NotifyError('mail: cannot hand the message to the relay %s: %s' % (where, to_native(exc)))
        return {'relay': where, 'to': list(self.to), 'refused': sorted(refused or {}),
                'message_id': mail['Message-ID']}


def _smtp_text(exc):
    if isinstance(exc, tuple):
        code, text = exc[0], exc[1]
    else:
        code, text = getattr(exc, 'smtp_code', ''), getattr(exc, 'smtp_error', exc)
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    return ('%s %s' % (code, to_text(text))).strip()


# ---------------------------------------------------------------------------------------------
# De-duplication state


STATE_FORMAT = 'fleetops.runbook.notify/state'
STATE_VERSION = 1
STATE_MAX_BYTES = 1024 * 1024


def state_alerts(data):
    """The alerts of a parsed state file when it is notify's own, else None.

    Own is a mapping with ``format`` = STATE_FORMAT and ``version`` = STATE_VERSION, or the shape
    written before the marker existed: exactly the keys ``version`` (1) and ``alerts``, every alert a
    mapping.
    """
    if not isinstance(data, dict) or not isinstance(data.get('alerts'), dict):
        return None
    if data.get('format') == STATE_FORMAT:
        return data['alerts'] if data.get('version') == STATE_VERSION else None
    legacy = set(data) == set(('version', 'alerts')) and data['version'] == 1
    if legacy and all(isinstance(entry, dict) for entry in data['alerts'].values()):
        return data['alerts']
    return None


def _describe_foreign(data):
    if isinstance(data, dict) and data.get('format') == STATE_FORMAT:
        return 'a notify state of version %r, which this version does not read' % (data.get('version'),)
    if isinstance(data, dict):
        return 'JSON without the notify state marker (format: %s)' % STATE_FORMAT
    return 'JSON that is not a notify state (%s)' % _kind(data)


class DedupStore:
    """When each alert key was last delivered on each channel, in a JSON file under a lock.

    Used as a context manager: the exclusive lock is held from reading the state until it is
    saved, so concurrent runs (forks of one play, or two plays) never both send the same alert.

    The file at ``path`` is only ever read when it is a regular file of at most STATE_MAX_BYTES
    holding notify's own state (see :func:`state_alerts`), and only ever replaced when it is that
    same file; a new one is made only where nothing is. Anything else is refused with a
    NotifyError naming ``state_path``: it may be someone else's file, given by a typo.
    """

    def __init__(self, path, clock=time.time):
        self.path = path
        self.clock = clock
        self.entries = {}
        self.dirty = False
        self._identity = None
        self._lock = None

    def _refuse(self, what):
        raise NotifyError('state_path: %s %s; it is not a notify state file and is left untouched '
                          '(point state_path at a new file, or remove this one if it is a stale '
                          'notify state)' % (self.path, what))

    def __enter__(self):
        # Refused before anything is created next to it.
        self.load()
        directory = os.path.dirname(self.path) or '.'
        lock_path = self.path + '.lock'
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            check_regular(lock_path, 'state_path', follow_symlinks=False)
            self._lock = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK |
                                 getattr(os, 'O_CLOEXEC', 0), 0o600)
            if not stat.S_ISREG(os.fstat(self._lock).st_mode):
                raise FileRefused('state_path: the lock file %s is not a regular file' % lock_path)
            fcntl.flock(self._lock, fcntl.LOCK_EX)
        except FileRefused as exc:
            self._unlock()
            raise NotifyError(exc.msg)
        except OSError as exc:
            self._unlock()
            raise NotifyError('state_path: cannot lock %s: %s' % (self.path, to_native(exc)))
        try:
            self.load()
        except NotifyError:
            self._unlock()
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if self.dirty:
                self._save()
        finally:
            self._unlock()
        return False

    def _unlock(self):
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            os.close(self._lock)
            self._lock = None

    def load(self):
        """Read the state, refusing whatever is not notify's own. Writes nothing."""
        self.entries, self._identity = {}, None
        try:
            raw, st = read_regular(self.path, 'state_path', STATE_MAX_BYTES, follow_symlinks=False)
        except FileRefused as exc:
            raise NotifyError('%s; it is left untouched' % exc.msg)
        except (IOError, OSError) as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                return
            raise NotifyError('state_path: cannot read %s: %s' % (self.path, to_native(exc)))
        if not raw.strip():
            self._refuse('is empty')
        try:
            data = json.loads(raw.decode('utf-8'))
        except (ValueError, UnicodeDecodeError, RecursionError):
            self._refuse('is not JSON')
        alerts = state_alerts(data)
        if alerts is None:
            self._refuse('holds %s' % _describe_foreign(data))
        self.entries = dict(alerts)
        self._identity = (st.st_dev, st.st_ino)

    def _document(self):
        now = self.clock()
        kept = []
        for key, entry in self.entries.items():
            if not isinstance(entry, dict):
                continue
            times = entry.get('sent') if isinstance(entry.get('sent'), dict) else {}
            last = max([v for v in times.values()
                        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)] or [0])
            if now - last < STATE_KEEP_SECONDS:
                kept.append((last, key, entry))
        # Newest first; the oldest go when the file would pass the size it is read with.
        kept.sort(key=lambda item: (-item[0], item[1]))
        while True:
            text = json.dumps({'format': STATE_FORMAT, 'version': STATE_VERSION,
                               'alerts': dict((key, entry) for dummy, key, entry in kept)},
                              indent=1, sort_keys=True)
            if len(text.encode('utf-8')) <= STATE_MAX_BYTES or not kept:
                return text
            kept = kept[:len(kept) * 9 // 10]

    def _save(self):
        directory = os.path.dirname(self.path) or '.'
        fd, tmp = tempfile.mkstemp(dir=directory, prefix='.state-', suffix='.json')
        try:
            with os.fdopen(fd, 'w') as handle:
                handle.write(self._document())
            os.chmod(tmp, 0o600)
            try:
                st = os.lstat(self.path)
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    raise
                st = None
            if self._identity is None:
                if st is not None:
                    self._refuse('appeared while notify ran')
                # link() fails when something is there by now: a new file never replaces one.
                os.link(tmp, self.path)
            elif st is None or (st.st_dev, st.st_ino) != self._identity:
                self._refuse('was replaced by another file while notify ran')
            else:
                os.replace(tmp, self.path)
                tmp = None
        except OSError as exc:
            raise NotifyError('state_path: cannot write %s: %s' % (self.path, to_native(exc)))
        finally:
            if tmp is not None and os.path.lexists(tmp):
                os.unlink(tmp)

    def last_sent(self, key, channel):
        entry = self.entries.get(key)
        if not isinstance(entry, dict):
            return None
        sent = entry.get('sent')
        value = sent.get(channel) if isinstance(sent, dict) else None
        return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    def is_recent(self, key, channel, window):
        last = self.last_sent(key, channel)
        return window > 0 and last is not None and self.clock() - last < window

    def record(self, key, channel, severity, title):
        entry = self.entries.get(key)
        if not isinstance(entry, dict) or not isinstance(entry.get('sent'), dict):
            entry = self.entries[key] = {'sent': {}}
        entry['severity'] = severity
        entry['title'] = title
        entry['sent'][channel] = round(self.clock(), 3)
        self.dirty = True
