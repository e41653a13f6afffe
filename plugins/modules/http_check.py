#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: http_check
short_description: Probe HTTP endpoints several times for availability and latency
version_added: 0.2.0
description:
  - Requests every endpoint O(endpoints[].probes) times and judges it in the status model every
    check of this collection speaks.
  - "C(availability): the percentage of probes that got an expected status code (and, when asked,
    a body that matches O(endpoints[].body_pattern) and O(endpoints[].json_field)). The failing
    probes are grouped by reason with counts: C(status_mismatch), C(body_mismatch),
    C(json_mismatch), C(timeout), C(connection_refused), C(tls_error), C(connection_error)
    (any other network error, a name that does not resolve) and C(protocol_error) (an answer that
    is not HTTP)."
  - "C(latency_p50), C(latency_p95), C(latency_p99) and C(latency_max) in seconds, over the probes
    that got an HTTP answer (whatever its status). Percentiles are nearest-rank: the smallest
    measured latency that at least P percent of the answered probes did not exceed, so every
    percentile is a latency that was really measured."
  - Default thresholds come from the runbooks. C(latency_p95) warns above 2 s and is critical above
    5 s (seed 000's performance baseline, 2-5 s attention range; seed 003's monitor_response.sh
    alerts above 2.0 s; seed 002 uses 3 s / 5 s for its capacity metrics, set O(thresholds) to
    follow it). C(availability) warns below 99 % and is critical below 95 %, that is an error rate
    above 1 % and above 5 % (seed 002's error rate 1 % / 5 %; seed 004 alerts above 5 %).
  - Endpoints are probed concurrently, O(concurrency) at a time; the probes of one endpoint run one
    after another, O(endpoints[].interval) apart, each on a new connection.
  - "Runs where the task runs, on the host for its local services, or on the controller with
    C(delegate_to: localhost). It needs nothing but Python's standard library."
extends_documentation_fragment:
  - fleetops.runbook.attributes
  - fleetops.runbook.status
attributes:
  check_mode:
    support: full
    details:
      - Probes are made in check mode too, except for methods that may change the service.
      - Endpoints whose method is not V(GET), V(HEAD) or V(OPTIONS) are not requested in check mode;
        each is reported as an V(OK) C(availability) check without a value whose message says it
        was skipped, and with RV(endpoints[].skipped) set.
options:
  endpoints:
    description: The HTTP endpoints to probe.
    type: list
    elements: dict
    required: true
    suboptions:
      url:
        description:
          - V(http://) or V(https://) URL of the endpoint, with host, optional port, path and query.
          - Credentials in the URL (V(user:password@)) are refused; give them in
            O(endpoints[].secret_headers).
        type: str
        required: true
      name:
        description:
          - The endpoint's name in checks, messages and metrics (the C(target) of its checks).
          - Defaults to O(endpoints[].url). Each endpoint needs a distinct name.
        type: str
      method:
        description: HTTP method of every probe.
        type: str
        default: GET
        choices: [GET, HEAD, OPTIONS, POST, PUT, PATCH, DELETE]
      body:
        description: Request body sent with every probe (for V(POST), V(PUT), V(PATCH)).
        type: str
      status_codes:
        description: Status codes that count as an available endpoint. Redirects are not followed.
        type: list
        elements: int
        default: [200]
      body_pattern:
        description:
          - A Python regular expression the body must contain (searched, not anchored) for the
            probe to count as available. The first MiB of the body is searched.
        type: str
      json_field:
        description:
          - A dotted path into the JSON body (V(status), V(data.db.state), V(items.0.name); a number
            indexes a list) whose value must equal O(endpoints[].json_value).
        type: str
      json_value:
        description:
          - The value O(endpoints[].json_field) must have, compared as JSON values (V("ok") is not
            V(true), V(1) equals V(1.0)). Required with O(endpoints[].json_field).
        type: raw
      headers:
        description:
          - Request headers that are not secret; they may appear in the output.
          - C(Authorization), C(Proxy-Authorization), C(Cookie) and headers whose name contains
            C(token), C(key), C(secret) or C(password) are refused here; give them in
            O(endpoints[].secret_headers).
        type: dict
        default: {}
      secret_headers:
        description:
          - Request headers whose values are secrets (an API key, a bearer token). Their values are
            C(no_log), so they never appear in the task's output or logs, at any verbosity.
        type: dict
        default: {}
      validate_certs:
        description: Verify the server's certificate and name for V(https://) URLs.
        type: bool
        default: true
      ca_path:
        description:
          - A PEM file of CA certificates to verify against instead of the system's trust store.
          - Only a regular file is read; a directory, FIFO or device is refused, naming this option.
        type: path
      timeout:
        description:
          - Seconds one probe may take, from connecting to the end of the body it reads (more than
            0, at most 3600). Defaults to O(timeout).
        type: float
      probes:
        description: Number of probes (1 to 1000). Defaults to O(probes).
        type: int
      interval:
        description: Seconds between two probes of the endpoint (0 to 3600). Defaults to O(interval).
        type: float
      thresholds:
        description: Thresholds of this endpoint, merged over O(thresholds).
        type: dict
        default: {}
  probes:
    description: Probes per endpoint unless O(endpoints[].probes) says otherwise (1 to 1000).
    type: int
    default: 5
  timeout:
    description: Seconds one probe may take unless O(endpoints[].timeout) says otherwise (more than 0, at most 3600).
    type: float
    default: 10
  interval:
    description: Seconds between two probes of one endpoint unless O(endpoints[].interval) says otherwise (0 to 3600).
    type: float
    default: 0
  concurrency:
    description: How many endpoints are probed at the same time (1 to 64).
    type: int
    default: 8
  thresholds:
    description:
      - Warning and critical ranges per check, merged over the defaults, for every endpoint.
      - "C(availability): percent of probes that succeeded; default warning V(99:) and critical
        V(95:)."
      - "C(latency_p95): seconds; default warning V(~:2) and critical V(~:5)."
      - "C(latency_p50), C(latency_p99), C(latency_max): seconds; no default thresholds."
    type: dict
    default: {}
notes:
  - "Bounded: a probe ends at its timeout whatever the server does (a watchdog closes a connection
    that trickles). One endpoint takes at most O(endpoints[].probes) x (O(endpoints[].timeout) +
    O(endpoints[].interval)); the module at most that of its slowest endpoint times the number of
    endpoints divided by O(concurrency), rounded up. Probes that have not ended by then are counted
    as timeouts."
  - Probes connect directly; proxy environment variables are not used. Name resolution uses the
    system resolver.
  - "Latency is measured from the start of the connection (TCP and TLS) to the end of the body,
    or of its first MiB when it is longer. A probe that timed out or could not connect has no
    latency; it counts against C(availability). An endpoint without any answer has no latency
    checks, and its C(availability) check says why."
  - With few probes availability moves in large steps; with the default 5 probes one failed probe
    is 80 %, critical by default. Raise O(probes) for a finer measure.
seealso:
  - module: ansible.builtin.uri
  - module: fleetops.runbook.cert_check
'''

EXAMPLES = r'''
- name: Probe the API health endpoint and the home page
  fleetops.runbook.http_check:
    endpoints:
      - name: api-health
        url: http://localhost:8000/health
        json_field: status
        json_value: ok
      - name: home
        url: https://www.example.com/
        body_pattern: "<title>Example</title>"
    probes: 10
  register: http

- name: An internal service with its own CA and an API key, from the controller
  fleetops.runbook.http_check:
    endpoints:
      - url: https://api.internal.example:8443/v1/ping
        ca_path: /usr/local/share/ca-certificates/internal-ca.crt
        secret_headers:
          X-Api-Key: "{{ vault_api_key }}"
        thresholds:
          latency_p95:
            warning: "~:3"
            critical: "~:5"
    fail_on: never
  delegate_to: localhost
  register: http

- name: Tell the on-call engineer
  ansible.builtin.debug:
    msg: "{{ http.summary }}"
  when: http.status != 'OK'
'''

RETURN = r'''
# Status keys: generated by tools/status-return.py from doc_fragments/status.py, do not edit.
status:
  description: The worst status of all checks.
  returned: always
  type: str
  sample: WARNING
checks:
  description: Every individual check.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the check.
      type: str
      sample: disk
    target:
      description: What the check looked at (a mount point, a database, a table), or null.
      type: str
      sample: /var
    value:
      description: The measured value, or null when it could not be measured.
      type: raw
      sample: 87.5
    unit:
      description: Unit of RV(checks[].value) (percent, seconds, milliseconds, bytes, count, ratio).
      type: str
      sample: percent
    warning:
      description: The warning range applied, or null.
      type: str
      sample: "85"
    critical:
      description: The critical range applied, or null.
      type: str
      sample: "95"
    status:
      description: OK, WARNING, CRITICAL or UNKNOWN.
      type: str
      sample: WARNING
    message:
      description: What was found, in words.
      type: str
      sample: disk /var is 87.5% (warning 85)
    labels:
      description: Extra labels of the check in RV(metrics), present only on checks that have some.
      type: dict
      sample: {database: app}
summary:
  description: One line for a human, worst findings first.
  returned: always
  type: str
  sample: "WARNING: disk /var is 87.5% (warning 85); 11 OK"
perfdata:
  description: The numeric checks as Nagios performance data.
  returned: always
  type: str
  sample: "cpu=12.5%;70;85;0;100 'disk /var'=87.5%;85;95;0;100"
metrics:
  description:
    - The checks as Prometheus text exposition lines, ready for the node exporter's textfile
      collector.
  returned: always
  type: list
  elements: str
  sample:
    - 'fleetops_check_status{source="resource_check",check="cpu"} 0'
# End of status keys.
endpoints:
  description: What the probes of every endpoint found, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The endpoint's name (the C(target) of its checks).
      type: str
      sample: api-health
    url:
      description: The URL probed.
      type: str
      sample: http://localhost:8000/health
    method:
      description: The HTTP method.
      type: str
      sample: GET
    skipped:
      description: True when the endpoint was not requested (a changing method in check mode).
      type: bool
      sample: false
    probes:
      description: Number of probes made.
      type: int
      sample: 5
    succeeded:
      description: Probes that got an expected answer.
      type: int
      sample: 4
    availability:
      description: Percent of probes that succeeded, or null when skipped.
      type: float
      sample: 80.0
    answered:
      description: Probes that got an HTTP answer (whatever the status); latencies are theirs.
      type: int
      sample: 5
    latency:
      description: Nearest-rank latency percentiles and the maximum in seconds, or null when no probe was answered.
      type: dict
      sample: {p50: 0.004, p95: 0.012, p99: 0.012, max: 0.012}
    status_codes:
      description: How many probes got each status code.
      type: dict
      sample: {"200": 4, "500": 1}
    failures:
      description: The failing probes grouped by reason, most frequent first.
      type: list
      elements: dict
      contains:
        reason:
          description: status_mismatch, body_mismatch, json_mismatch, timeout, connection_refused,
            tls_error, connection_error or protocol_error.
          type: str
          sample: status_mismatch
        count:
          description: How many probes failed for this reason.
          type: int
          sample: 1
        detail:
          description: What the first of them found.
          type: str
          sample: got 500, expected 200
'''

import http.client
import json
import math
import re
import socket
import ssl
import threading
import time
from urllib.parse import urlsplit

from ansible.module_utils.common.text.converters import to_native
from ansible_collections.fleetops.runbook.plugins.module_utils.module import RunbookModule
from ansible_collections.fleetops.runbook.plugins.module_utils.regular_file import (
    FileRefused,
    check_regular,
)
from ansible_collections.fleetops.runbook.plugins.module_utils.status import (
    OK,
    CheckReport,
    finish,
    finite_number,
    human_duration,
    parse_thresholds,
    range_note,
    status_argument_spec,
)

DEFAULT_THRESHOLDS = {
    # Error rate above 1 % / 5 %: seed 002 (errorRate warning 1, critical 5), seed 004 (> 5 %).
    'availability': {'warning': '99:', 'critical': '95:'},
    'latency_p50': {},
    # Seed 000: API response time < 2 s normal, 2-5 s attention, > 5 s critical; seed 003: 2.0 s.
    'latency_p95': {'warning': '~:2', 'critical': '~:5'},
    'latency_p99': {},
    'latency_max': {},
}

PERCENTILES = (('latency_p50', 'p50', 50), ('latency_p95', 'p95', 95), ('latency_p99', 'p99', 99))
SAFE_METHODS = frozenset(('GET', 'HEAD', 'OPTIONS'))
METHODS = ['GET', 'HEAD', 'OPTIONS', 'POST', 'PUT', 'PATCH', 'DELETE']
# Enough of any health or status body to match it; a longer body is not read further.
MAX_BODY = 1024 * 1024
MAX_TIMEOUT = 3600
MAX_PROBES = 1000
MAX_CONCURRENCY = 64
SECRET_HEADER_RE = re.compile(r'^(authorization|proxy-authorization|cookie)$|token|key|secret|password|passwd|credential', re.I)
HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


class InputError(ValueError):
    """A parameter that cannot be used; the message names it."""


def percentile(values, pct):
    """Nearest-rank percentile of ``values`` (not empty): the smallest value such that at least
    ``pct`` percent of the values are at or below it."""
    ordered = sorted(values)
    rank = max(1, int(math.ceil(pct / 100.0 * len(ordered))))
    return ordered[rank - 1]


def latency_summary(latencies):
    """{'p50', 'p95', 'p99', 'max'} of some latencies, or None when there are none."""
    if not latencies:
        return None
    summary = dict((key, percentile(latencies, pct)) for dummy, key, pct in PERCENTILES)
    summary['max'] = max(latencies)
    return summary


def parse_url(text, param):
    """(scheme, host, port, request target) of an http(s) URL, or InputError naming ``param``."""
    if not isinstance(text, str) or not text.strip():
        raise InputError('%s: an empty URL; expected http://host[:port]/path' % param)
    if any(ch in text for ch in '\r\n\t ') or any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise InputError('%s: the URL holds a space or a control character' % param)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InputError('%s: %r is not a valid URL: %s' % (param, _short(text), exc))
    if parts.scheme not in ('http', 'https'):
        raise InputError('%s: %r: the scheme must be http or https' % (param, _short(text)))
    if parts.username is not None or parts.password is not None:
        raise InputError('%s: credentials in the URL are refused; give them in secret_headers' % param)
    host = parts.hostname
    if not host:
        raise InputError('%s: %r has no host' % (param, _short(text)))
    try:
        host.encode('ascii')
    except UnicodeEncodeError:
        raise InputError('%s: %r: write a non-ASCII host name in its punycode form (xn--...)' % (param, _short(text)))
    if port is None:
        port = 443 if parts.scheme == 'https' else 80
    elif port == 0:
        raise InputError('%s: %r: the port must be 1-65535' % (param, _short(text)))
    target = parts.path or '/'
    if parts.query:
        target += '?' + parts.query
    try:
        target.encode('ascii')
    except UnicodeEncodeError:
        raise InputError('%s: %r: percent-encode non-ASCII characters of the path and query' % (param, _short(text)))
    return parts.scheme, host, port, target


def json_lookup(document, path):
    """(found, value) of a dotted path in a parsed JSON document; numbers index lists."""
    value = document
    for part in path.split('.'):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.lstrip('-').isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            return False, None
    return True, value


def json_equal(actual, expected):
    """JSON equality: a boolean is never a number, 1 equals 1.0."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    if isinstance(actual, (int, float)) and isinstance(expected, (int, float)):
        return actual == expected
    if isinstance(actual, dict) and isinstance(expected, dict):
        return actual.keys() == expected.keys() and all(json_equal(actual[k], expected[k]) for k in actual)
    if isinstance(actual, list) and isinstance(expected, list):
        return len(actual) == len(expected) and all(json_equal(a, e) for a, e in zip(actual, expected))
    return type(actual) is type(expected) and actual == expected


def group_failures(outcomes):
    """Failed probes grouped by reason, most frequent first: [{reason, count, detail}]."""
    groups = {}
    order = []
    for outcome in outcomes:
        if outcome.ok:
            continue
        if outcome.reason not in groups:
            groups[outcome.reason] = {'reason': outcome.reason, 'count': 0, 'detail': outcome.detail}
            order.append(outcome.reason)
        groups[outcome.reason]['count'] += 1
    return sorted((groups[r] for r in order), key=lambda g: -g['count'])


def _short(text, limit=200):
    return text if len(text) <= limit else text[:limit] + '...'


class Outcome:
    """What one probe found."""

    __slots__ = ('ok', 'latency', 'status', 'reason', 'detail')

    def __init__(self, ok, latency=None, status=None, reason=None, detail=None):
        self.ok = ok
        self.latency = latency
        self.status = status
        self.reason = reason
        self.detail = detail


class Endpoint:
    """One endpoint's validated settings."""

    def __init__(self, index, spec, params, thresholds):
        param = 'endpoints[%d]' % index
        self.index = index
        self.url = spec['url']
        self.scheme, self.host, self.port, self.target = parse_url(self.url, param + '.url')
        self.name = spec.get('name') if spec.get('name') not in (None, '') else self.url
        self.method = spec['method']
        self.body = spec.get('body')
        self.status_codes = spec['status_codes'] or []
        if not self.status_codes:
            raise InputError('%s.status_codes: give at least one status code' % param)
        for code in self.status_codes:
            if not 100 <= code <= 599:
                raise InputError('%s.status_codes: %d is not an HTTP status code (100-599)' % (param, code))
        self.pattern = None
        if spec.get('body_pattern') not in (None, ''):
            try:
                self.pattern = re.compile(spec['body_pattern'])
            except (re.error, RecursionError, OverflowError) as exc:
                raise InputError('%s.body_pattern: not a valid regular expression: %s' % (param, exc))
        self.json_field = spec.get('json_field')
        self.json_value = spec.get('json_value')
        if self.json_field is not None:
            if not self.json_field or any(part == '' for part in self.json_field.split('.')):
                raise InputError('%s.json_field: %r is not a dotted path (e.g. data.status)' % (param, _short(self.json_field)))
            if 'json_value' not in spec or spec.get('json_value') is None:
                raise InputError('%s.json_value: required with json_field' % param)
        elif spec.get('json_value') is not None:
            raise InputError('%s.json_value: set json_field as well' % param)
        if self.method == 'HEAD' and (self.pattern is not None or self.json_field is not None):
            raise InputError('%s.method: a HEAD answer has no body for body_pattern or json_field' % param)
        self.headers = {}
        self.secret_names = set()
        for option in ('headers', 'secret_headers'):
            for key, value in (spec.get(option) or {}).items():
                shown = '%s.%s' % (param, option)
                if not isinstance(key, str) or not HEADER_NAME_RE.match(key):
                    raise InputError('%s: %r is not a valid header name' % (shown, _short(str(key), 60)))
                if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                    raise InputError('%s: the value of %s must be a string' % (shown, key))
                value = str(value)
                if '\r' in value or '\n' in value or '\x00' in value:
                    raise InputError('%s: the value of %s holds a line break or NUL byte' % (shown, key))
                if option == 'headers' and SECRET_HEADER_RE.search(key):
                    raise InputError('%s: %s carries a credential; give it in %s.secret_headers, whose values are never shown'
                                     % (shown, key, param))
                if key.lower() in (k.lower() for k in self.headers):
                    raise InputError('%s: the header %s is given twice' % (shown, key))
                self.headers[key] = value
                if option == 'secret_headers':
                    self.secret_names.add(key)
        self.validate_certs = spec['validate_certs']
        self.ca_path = spec.get('ca_path')
        self.timeout = _number(spec, params, 'timeout', param, above=0, maximum=MAX_TIMEOUT)
        self.interval = _number(spec, params, 'interval', param, minimum=0, maximum=MAX_TIMEOUT)
        self.probes = spec.get('probes') if spec.get('probes') is not None else params['probes']
        where = param + '.probes' if spec.get('probes') is not None else 'probes'
        if not 1 <= self.probes <= MAX_PROBES:
            raise InputError('%s: must be 1 to %d, got %d' % (where, MAX_PROBES, self.probes))
        try:
            self.thresholds = parse_thresholds(spec.get('thresholds'), thresholds, param=param + '.thresholds')
        except ValueError as exc:
            raise InputError(str(exc))
        self.context = self._tls_context(param) if self.scheme == 'https' else None

    def _tls_context(self, param):
        if not self.validate_certs:
            if self.ca_path:
                raise InputError('%s.ca_path: set, but validate_certs is false' % param)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        if not self.ca_path:
            return ssl.create_default_context()
        # A FIFO or device would hold the TLS library's read forever.
        try:
            check_regular(self.ca_path, param + '.ca_path')
            return ssl.create_default_context(cafile=self.ca_path)
        except FileRefused as exc:
            raise InputError(exc.msg)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise InputError('%s.ca_path: cannot load %s: %s' % (param, self.ca_path, getattr(exc, 'strerror', None) or exc))

    @property
    def budget(self):
        """The longest the endpoint's probes may take."""
        return self.probes * (self.timeout + self.interval)


def _number(spec, params, key, param, **bounds):
    if spec.get(key) is not None:
        where, value = '%s.%s' % (param, key), spec[key]
    else:
        where, value = key, params[key]
    try:
        return finite_number(value, where, **bounds)
    except ValueError as exc:
        raise InputError(str(exc))


class Prober:
    """Makes the probes of one endpoint, one after another, each on a new connection."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.outcomes = []
        self.headers = dict(endpoint.headers)
        self.headers.setdefault('User-Agent', 'fleetops.runbook.http_check')
        self.headers.setdefault('Connection', 'close')
        self.body = endpoint.body.encode('utf-8') if endpoint.body is not None else None

    def run(self, stop):
        endpoint = self.endpoint
        for number in range(endpoint.probes):
            if stop.is_set():
                return
            if number and endpoint.interval:
                if stop.wait(endpoint.interval):
                    return
            self.outcomes.append(self.probe())

    def _connection(self):
        endpoint = self.endpoint
        if endpoint.scheme == 'https':
            return http.client.HTTPSConnection(endpoint.host, endpoint.port, timeout=endpoint.timeout,
                                               context=endpoint.context)
        return http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=endpoint.timeout)

    def probe(self):
        endpoint = self.endpoint
        conn = self._connection()
        expired = threading.Event()

        def watchdog():
            # A server that trickles bytes would keep each read within the socket timeout.
            expired.set()
            sock = conn.sock
            if sock is not None:
                try:
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)
                except OSError:
                    pass

        timer = threading.Timer(endpoint.timeout, watchdog)
        timer.daemon = True
        start = time.monotonic()
        timer.start()
        try:
            conn.connect()
            if expired.is_set():
                # Connected just as the watchdog fired, too late for it to close the socket.
                raise socket.timeout('connected after the timeout')
            conn.request(endpoint.method, endpoint.target, body=self.body, headers=self.headers)
            response = conn.getresponse()
            data = response.read(MAX_BODY) if endpoint.method != 'HEAD' else b''
            latency = time.monotonic() - start
            if expired.is_set():
                return Outcome(False, reason='timeout', detail='no complete answer within %s' % human_duration(endpoint.timeout))
            return self.judge(response.status, data, latency)
        except ssl.SSLCertVerificationError as exc:
            return Outcome(False, reason='tls_error', detail=to_native(exc.verify_message or exc))
        except (socket.timeout, TimeoutError):
            return Outcome(False, reason='timeout', detail='no answer within %s' % human_duration(endpoint.timeout))
        except ConnectionRefusedError:
            return Outcome(False, reason='connection_refused', detail='%s:%d refused the connection' % (endpoint.host, endpoint.port))
        except ssl.SSLError as exc:
            if expired.is_set():
                return Outcome(False, reason='timeout', detail='no answer within %s' % human_duration(endpoint.timeout))
            return Outcome(False, reason='tls_error', detail=to_native(exc))
        except (http.client.HTTPException, OSError, ValueError) as exc:
            if expired.is_set():
                return Outcome(False, reason='timeout', detail='no answer within %s' % human_duration(endpoint.timeout))
            reason = 'protocol_error' if isinstance(exc, (http.client.HTTPException, ValueError)) else 'connection_error'
            return Outcome(False, reason=reason, detail='%s: %s' % (type(exc).__name__, _short(to_native(exc))))
        finally:
            timer.cancel()
            conn.close()

    def judge(self, status, data, latency):
        endpoint = self.endpoint
        if status not in endpoint.status_codes:
            return Outcome(False, latency, status, 'status_mismatch', 'got %d, expected %s' % (
                status, ', '.join(str(c) for c in endpoint.status_codes)))
        if endpoint.pattern is not None:
            text = data.decode('utf-8', 'replace')
            if not endpoint.pattern.search(text):
                return Outcome(False, latency, status, 'body_mismatch', 'the body does not match %r' % _short(endpoint.pattern.pattern, 80))
        if endpoint.json_field is not None:
            try:
                document = json.loads(data.decode('utf-8'))
            except (ValueError, UnicodeDecodeError, RecursionError):
                return Outcome(False, latency, status, 'json_mismatch', 'the body is not JSON')
            found, value = json_lookup(document, endpoint.json_field)
            if not found:
                return Outcome(False, latency, status, 'json_mismatch', '%s is missing' % endpoint.json_field)
            if not json_equal(value, endpoint.json_value):
                return Outcome(False, latency, status, 'json_mismatch', '%s is %s, expected %s' % (
                    endpoint.json_field, _short(json.dumps(value), 80), _short(json.dumps(endpoint.json_value), 80)))
        return Outcome(True, latency, status)


def probe_all(endpoints, concurrency, clock=time.monotonic):
    """Probe every endpoint, ``concurrency`` at a time; returns one Prober per endpoint.

    Probers still running at the module's deadline are stopped; what they did not finish is
    counted as timed out by :func:`summarize_endpoint`.
    """
    probers = [Prober(endpoint) for endpoint in endpoints]
    slots = threading.Semaphore(concurrency)
    stop = threading.Event()

    def work(prober):
        with slots:
            prober.run(stop)

    threads = [threading.Thread(target=work, args=(prober,), daemon=True) for prober in probers]
    waves = int(math.ceil(len(endpoints) / float(concurrency)))
    deadline = clock() + waves * max(e.budget for e in endpoints) + 1
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(0.0, deadline - clock()))
    stop.set()
    return probers


def summarize_endpoint(endpoint, outcomes):
    """The RV(endpoints) entry of one endpoint from its probes' outcomes (missing probes timed out)."""
    outcomes = list(outcomes)
    for dummy in range(endpoint.probes - len(outcomes)):
        outcomes.append(Outcome(False, reason='timeout', detail='not probed within the module deadline'))
    succeeded = sum(1 for o in outcomes if o.ok)
    latencies = [o.latency for o in outcomes if o.latency is not None]
    codes = {}
    for outcome in outcomes:
        if outcome.status is not None:
            codes[str(outcome.status)] = codes.get(str(outcome.status), 0) + 1
    return {
        'name': endpoint.name,
        'url': endpoint.url,
        'method': endpoint.method,
        'skipped': False,
        'probes': len(outcomes),
        'succeeded': succeeded,
        'availability': 100.0 * succeeded / len(outcomes),
        'answered': len(latencies),
        'latency': latency_summary(latencies),
        'status_codes': codes,
        'failures': group_failures(outcomes),
    }


def judge_endpoint(report, endpoint, info):
    """The endpoint's checks: availability and, when any probe was answered, its latencies."""
    failures = ', '.join('%d %s (%s)' % (f['count'], f['reason'], f['detail']) for f in info['failures'])
    check = report.add('availability', info['availability'], unit='percent', target=endpoint.name,
                       thresholds=endpoint.thresholds['availability'])
    message = 'availability %s: %s%% (%d of %d probes succeeded' % (
        endpoint.name, ('%.1f' % info['availability']).rstrip('0').rstrip('.'), info['succeeded'], info['probes'])
    check['message'] = message + ('; failed: %s)' % failures if failures else ')') + range_note(check)
    latency = info['latency']
    if latency is None:
        return
    for name, key in [(n, k) for n, k, dummy in PERCENTILES] + [('latency_max', 'max')]:
        check = report.add(name, latency[key], unit='seconds', target=endpoint.name,
                           thresholds=endpoint.thresholds[name])
        check['message'] = '%s %s: %.3f s over %d answered probes%s' % (
            name, endpoint.name, latency[key], info['answered'], range_note(check))


def skipped_endpoint(report, endpoint):
    report.add('availability', None, unit='percent', target=endpoint.name, status=OK,
               message='availability %s: not probed in check mode (%s may change the service)' % (
                   endpoint.name, endpoint.method))
    return {'name': endpoint.name, 'url': endpoint.url, 'method': endpoint.method, 'skipped': True,
            'probes': 0, 'succeeded': 0, 'availability': None, 'answered': 0, 'latency': None,
            'status_codes': {}, 'failures': []}


class HttpCheck:
    def __init__(self, module):
        self.module = module
        self.report = CheckReport('http_check')

    def endpoints(self):
        params = self.module.params
        if not params['endpoints']:
            raise InputError('endpoints: give at least one endpoint')
        for key, low, high in (('probes', 1, MAX_PROBES), ('concurrency', 1, MAX_CONCURRENCY)):
            if not low <= params[key] <= high:
                raise InputError('%s: must be %d to %d, got %d' % (key, low, high, params[key]))
        for key, bounds in (('timeout', dict(above=0, maximum=MAX_TIMEOUT)), ('interval', dict(minimum=0, maximum=MAX_TIMEOUT))):
            try:
                finite_number(params[key], key, **bounds)
            except ValueError as exc:
                raise InputError(str(exc))
        try:
            parse_thresholds(params['thresholds'], DEFAULT_THRESHOLDS)
        except ValueError as exc:
            raise InputError(str(exc))
        # Endpoint thresholds are merged over the module's, which are merged over the defaults.
        merged = dict((name, dict(levels)) for name, levels in DEFAULT_THRESHOLDS.items())
        for name, levels in (params['thresholds'] or {}).items():
            merged[name].update(levels or {})
        endpoints, names = [], {}
        for index, spec in enumerate(params['endpoints']):
            endpoint = Endpoint(index, spec, params, merged)
            if endpoint.name in names:
                raise InputError('endpoints[%d].name: %r is also the name of endpoints[%d]; give each endpoint a distinct name'
                                 % (index, _short(endpoint.name), names[endpoint.name]))
            names[endpoint.name] = index
            endpoints.append(endpoint)
        return endpoints

    def run(self):
        try:
            endpoints = self.endpoints()
        except InputError as exc:
            self.module.fail_json(msg=str(exc))
        check_mode = self.module.check_mode
        probed = [e for e in endpoints if not (check_mode and e.method not in SAFE_METHODS)]
        probers = dict((id(p.endpoint), p) for p in probe_all(probed, self.module.params['concurrency'])) if probed else {}
        infos = []
        for endpoint in endpoints:
            prober = probers.get(id(endpoint))
            if prober is None:
                infos.append(skipped_endpoint(self.report, endpoint))
                continue
            info = summarize_endpoint(endpoint, list(prober.outcomes))
            judge_endpoint(self.report, endpoint, info)
            infos.append(info)
        finish(self.module, self.report, endpoints=infos)


def main():
    argument_spec = status_argument_spec(thresholds=True)
    argument_spec.update(
        endpoints=dict(type='list', elements='dict', required=True, options=dict(
            url=dict(type='str', required=True),
            name=dict(type='str'),
            method=dict(type='str', default='GET', choices=METHODS),
            body=dict(type='str'),
            status_codes=dict(type='list', elements='int', default=[200]),
            body_pattern=dict(type='str'),
            json_field=dict(type='str'),
            json_value=dict(type='raw'),
            headers=dict(type='dict', default={}),
            secret_headers=dict(type='dict', default={}, no_log=True),
            validate_certs=dict(type='bool', default=True),
            ca_path=dict(type='path'),
            timeout=dict(type='float'),
            probes=dict(type='int'),
            interval=dict(type='float'),
            thresholds=dict(type='dict', default={}),
        )),
        probes=dict(type='int', default=5),
        timeout=dict(type='float', default=10),
        interval=dict(type='float', default=0),
        concurrency=dict(type='int', default=8),
    )
    module = RunbookModule(argument_spec=argument_spec, supports_check_mode=True)
    HttpCheck(module).run()


if __name__ == '__main__':
    main()
