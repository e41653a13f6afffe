#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: notify
short_description: Send one alert to Slack and mail, routed by severity, grouped and de-duplicated
version_added: 0.1.0
description:
  - Sends one notification with a O(severity) and a O(title), made of a O(text), of status-model
    results of this collection's check modules (O(results)), or of both.
  - The channels follow the severity (O(routing)); by default V(critical) and V(warning) go to
    Slack and mail, V(info) to Slack only.
  - Results of a whole fleet, given as a mapping of host to result, become B(one) message. The
    findings are grouped across hosts - the same check, status and threshold on several hosts is one
    finding that lists its hosts - in the order people act on them, CRITICAL first, then UNKNOWN,
    WARNING, and the biggest group first within a status. When no result reaches O(min_status),
    nothing is sent, unless O(ok_digest=true).
  - Slack gets an incoming-webhook message with blocks, a colour per severity and a plain-text
    fallback. HTTP 429 is retried after the C(Retry-After) Slack sends, 5xx answers and network
    errors with exponential backoff, both a bounded number of times; any other 4xx fails at once
    with Slack's error text.
  - Mail goes through an SMTP relay, by default the local postfix that the
    P(fleetops.runbook.alerting#role) role sets up as a send-only relay.
  - An alert that was delivered to a channel is not sent there again for O(dedup_window) seconds.
    The state is kept on the controller in O(state_path), under a lock, so the forks of one play
    and concurrent plays agree.
  - This is an action plugin, so it runs on the controller whatever host the task runs for. Use
    C(run_once=true) with a fleet mapping.
  - Every option is checked before anything is sent.
extends_documentation_fragment:
  - fleetops.runbook.attributes
  - fleetops.runbook.attributes.action
  - ansible.builtin.action_common_attributes.flow
attributes:
  check_mode:
    support: full
    details: Sends nothing and writes no state; returns the message and the channels it would go to.
options:
  title:
    description: Short title of the alert; the Slack header and the mail subject.
    type: str
    required: true
  severity:
    description:
      - V(critical), V(warning) or V(info).
      - Required with O(text) alone. With O(results) it defaults to the worst status found;
        V(CRITICAL) and V(UNKNOWN) give V(critical), V(WARNING) gives V(warning), V(OK) gives V(info).
    type: str
    choices: [critical, warning, info]
  text:
    description: Free text of the message. With O(results) it comes before the findings.
    type: str
  results:
    description:
      - Status-model results (mappings with C(status), C(checks) and C(summary)) as registered from
        this collection's check modules.
      - Either one result, a list of results (a loop's registered result is accepted as is), or a
        mapping of host name to a result, a list of results, or a mapping of check name to a result.
      - A registered result of a host that was unreachable, or of a check that failed to run, counts
        as V(UNKNOWN); a skipped one is left out.
    type: raw
  min_status:
    description:
      - The lowest status reported as a finding (OK < WARNING < CRITICAL < UNKNOWN).
    type: str
    default: warning
    choices: [warning, critical, unknown]
  ok_digest:
    description:
      - Also send a message when O(results) hold no finding (an "all OK" digest, severity V(info)
        unless O(severity) says otherwise).
    type: bool
    default: false
  channels:
    description: Send to exactly these channels, whatever the severity; overrides O(routing).
    type: list
    elements: str
    choices: [slack, mail]
  routing:
    description:
      - Channels per severity (a mapping of severity to a list of channels), merged over the
        default, which sends V(critical) and V(warning) to Slack and mail, and V(info) to Slack.
      - Every channel that some severity routes to must be configured (O(slack.webhook_url),
        O(mail.to)); otherwise the task fails before sending anything.
    type: dict
    default: {}
  key:
    description:
      - De-duplication key of the alert.
      - Defaults to a hash of the severity, the title, the text and the findings (host, check,
        target and status, not the measured values), so the same problems are not repeated while
        new ones are sent at once.
    type: str
  dedup_window:
    description:
      - Seconds during which an alert with the same O(key) is not sent again to a channel that
        already received it. V(0) turns de-duplication off.
    type: int
    default: 3600
  state_path:
    description:
      - JSON file on the controller that records when each alert key was delivered. It is created
        (mode 0600, its directory 0700) only where nothing exists yet.
      - The file is read only when it is notify's own state - a regular file of at most 1 MiB
        holding a JSON object whose key C(format) is C(fleetops.runbook.notify/state) and whose
        C(version) is 1, or the unmarked object of exactly C(version) 1 and C(alerts) that earlier
        versions wrote (taken over and marked at the next save). Anything else - a file that is not JSON or not a notify state, a
        larger file, a symbolic link, a directory, a FIFO or a device - is refused with an error
        naming O(state_path) and what was found, and is never renamed, truncated or overwritten;
        nothing is sent then.
      - In check mode the file is only read.
    type: path
    default: ~/.cache/fleetops/notify/state.json
  source:
    description: Name shown as the sender of the alert in the message footer.
    type: str
    default: fleetops.runbook
  report:
    description:
      - Link (an C(https://) URL) or path of the fleet report, named in the message; Slack shows a
        URL as a link. Typically the C(paths.html) that M(fleetops.runbook.fleet_report) returned.
    type: str
  slack:
    description: Slack incoming webhook.
    type: dict
    default: {}
    suboptions:
      webhook_url:
        description:
          - Incoming-webhook URL (a secret). When not given, the controller's environment variable
            E(FLEETOPS_SLACK_WEBHOOK_URL) or E(SLACK_WEBHOOK_URL) is used.
          - Must be C(https://); plain C(http://) is refused unless O(slack.allow_insecure_http=true).
        type: str
      channel:
        description: Channel override (only legacy webhooks honour it).
        type: str
      username:
        description: Sender name override (only legacy webhooks honour it).
        type: str
      icon_emoji:
        description: Sender icon override, such as V(:rotating_light:).
        type: str
      timeout:
        description: Seconds to wait for one answer (more than 0, at most 86400).
        type: float
        default: 10
      retries:
        description: Retries after a 429, a 5xx answer or a network error (0 to 10).
        type: int
        default: 3
      backoff:
        description:
          - Seconds before the first retry of a 5xx or network error, doubled each time; also used
            for a 429 without C(Retry-After).
        type: float
        default: 1
      max_backoff:
        description: Upper bound of one backoff wait, in seconds.
        type: float
        default: 30
      max_retry_after:
        description:
          - The longest C(Retry-After) honoured, in seconds. When Slack asks for a longer wait, the
            task fails at once instead of holding the play.
        type: float
        default: 60
      max_hosts:
        description: Hosts listed under each finding in the Slack message; the rest are counted (the mail lists all).
        type: int
        default: 20
      validate_certs:
        description: Verify the TLS certificate of the webhook host.
        type: bool
        default: true
      allow_insecure_http:
        description: Accept a plain C(http://) webhook URL. Meant for a local test receiver only.
        type: bool
        default: false
  mail:
    description: Mail through an SMTP relay.
    type: dict
    default: {}
    suboptions:
      to:
        description: Recipients.
        type: list
        elements: str
        default: []
      sender:
        description: Sender address. Defaults to C(fleetops@) and the controller's FQDN.
        type: str
      host:
        description: The SMTP relay.
        type: str
        default: localhost
      port:
        description: Port of the relay.
        type: int
        default: 25
      starttls:
        description: Upgrade the connection with STARTTLS before sending.
        type: bool
        default: false
      use_ssl:
        description: Connect with implicit TLS (port 465). Mutually exclusive with O(mail.starttls).
        type: bool
        default: false
      username:
        description:
          - Log in to the relay with this user.
          - The login is refused unless O(mail.starttls) or O(mail.use_ssl) encrypts the connection,
            or O(mail.allow_plaintext_login) allows a login in clear text.
        type: str
      password:
        description: Password for O(mail.username) (a secret).
        type: str
      allow_plaintext_login:
        description:
          - Allow O(mail.username) and O(mail.password) to be sent over a connection without TLS
            (C(AUTH PLAIN) readable by anyone on the path). Only for a relay on a trusted network
            or on the same host.
        type: bool
        default: false
      validate_certs:
        description: Verify the relay's TLS certificate when TLS is used.
        type: bool
        default: true
      timeout:
        description: Seconds to wait for the relay (more than 0, at most 86400).
        type: float
        default: 30
      subject_prefix:
        description: Text put before the subject, such as V([prod]).
        type: str
notes:
  - The webhook URL and the mail password are never returned, logged or written to the state file.
seealso:
  - name: Slack incoming webhooks
    description: The message format and the answers Slack gives.
    link: https://api.slack.com/messaging/webhooks
'''

EXAMPLES = r'''
- name: Page the on-call channels
  fleetops.runbook.notify:
    severity: critical
    title: PostgreSQL primary down
    text: db1 does not accept connections since 03:12.
    slack:
      webhook_url: "{{ vault_slack_webhook_url }}"
    mail:
      to: [oncall@example.com]
  run_once: true

- name: One grouped message with the findings of the whole fleet
  fleetops.runbook.notify:
    title: Daily checks
    results: "{{ dict(ansible_play_hosts_all | zip(ansible_play_hosts_all | map('extract', hostvars, '__resources'))) }}"
    report: https://reports.example.com/daily_checks.html
    slack:
      webhook_url: "{{ vault_slack_webhook_url }}"
    mail:
      to: [ops-team@example.com]
  run_once: true

- name: Info to Slack only, warnings and worse to mail only
  fleetops.runbook.notify:
    title: Disk usage
    results: "{{ __disk_check }}"
    routing:
      warning: [mail]
      critical: [mail]
    slack:
      webhook_url: "{{ vault_slack_webhook_url }}"
    mail:
      to: [dba@example.com]
'''

RETURN = r'''
status:
  description:
    - The most urgent status found in O(results), in the order people act on them (CRITICAL, then
      UNKNOWN, WARNING, OK); null with O(text) alone.
  returned: always
  type: str
  sample: CRITICAL
hosts_with_findings:
  description: Hosts with at least one finding.
  returned: always
  type: list
  elements: str
  sample: [db1, web3]
severity:
  description: Severity of the message.
  returned: when a message was built
  type: str
  sample: critical
channels:
  description: Channels the severity is routed to (empty when there was nothing to notify).
  returned: always
  type: list
  elements: str
  sample: [slack, mail]
key:
  description: De-duplication key of the message.
  returned: when a message was built
  type: str
  sample: 4f1c9d0e2b7a6c3d8e9f0a1b2c3d4e5f
sent:
  description: Channels the message was delivered to by this run.
  returned: always
  type: list
  elements: str
  sample: [slack, mail]
suppressed:
  description: Channels skipped because the same key was delivered there within O(dedup_window).
  returned: always
  type: list
  elements: str
  sample: []
would_send:
  description: In check mode, the channels the message would be sent to; otherwise empty.
  returned: always
  type: list
  elements: str
  sample: [slack]
notification:
  description: The message per channel; C(slack) is the webhook payload, C(mail) the mail.
  returned: when a message was built
  type: dict
  sample:
    slack:
      text: "CRITICAL: Daily checks 1 of 3 hosts need attention (1 CRITICAL)."
      blocks: []
      attachments: [{color: "#D0021B"}]
    mail:
      from: fleetops@ops1.example.com
      to: [oncall@example.com]
      subject: "[CRITICAL] Daily checks - 1 of 3 hosts need attention (1 CRITICAL)"
      relay: localhost:25
      body: "..."
delivery:
  description: >-
    Per channel, how it went: for C(slack) the list of attempts (HTTP status, Slack's answer, the
    wait before the next attempt); for C(mail) the relay, the recipients and the Message-ID.
  returned: when not in check mode and a message was built
  type: dict
  sample:
    slack:
      attempts:
        - {attempt: 1, status: 429, retry_after: 1.0, waited: 1.0, response: rate_limited}
        - {attempt: 2, status: 200, response: ok}
'''
