#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: service_check
short_description: Check systemd units and the listening sockets of a host
version_added: 0.2.0
description:
  - Judges the systemd units a host must run and the sockets it must (or must not) listen on, in
    the status model every check of this collection speaks.
  - "Units: the active and sub state, whether the unit failed, the automatic restarts systemd made
    (C(NRestarts)) and the time the unit has been in its current state. All units are read with one
    C(systemctl show) call, bounded by O(timeout)."
  - "Sockets: what C(ss -tuln) shows, read from C(/proc/net/tcp), C(tcp6), C(udp) and C(udp6) of
    the module's network namespace: TCP sockets in state LISTEN and unconnected UDP sockets."
  - Reads only; it never changes the host.
extends_documentation_fragment:
  - fleetops.runbook.attributes
  - fleetops.runbook.status
options:
  units:
    description:
      - The systemd units to check, of the system manager.
      - "A unit is V(CRITICAL) when it is required and not found, masked, failed or inactive, or
        down waiting for an automatic restart; V(WARNING) while a required unit starts or stops.
        A unit that is not required is only reported, except a failed one (V(WARNING))."
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - A unit name (V(nginx.service), V(postgresql@15-main.service)) or a shell-style pattern
            (V(app-*.service)).
          - A name without a unit type suffix is a service (V(nginx) is V(nginx.service)).
          - A pattern matches the units systemd has loaded, as C(systemctl list-units --all PATTERN)
            shows them; a required pattern that matches none is V(CRITICAL).
        type: str
        required: true
      required:
        description:
          - Whether the unit must be running. V(false) reports its state and restarts only.
        type: bool
        default: true
  listening:
    description:
      - Sockets the host must listen on; a missing one is V(CRITICAL).
      - "V(tcp/5432) or V(5432): TCP port 5432 on any address. V(udp/53): UDP port 53.
        V(127.0.0.1:6379), V([::1]:5432), V(udp/127.0.0.1:53): a socket that accepts on that
        address, bound to it or to the wildcard of its family. V(0.0.0.0:5432) and V([::]:5432)
        name the wildcards themselves."
      - An IPv6 wildcard socket is taken to accept IPv4 as well when C(net.ipv6.bindv6only) is 0
        (the kernel's default dual stack); C(/proc) does not show a program's own C(IPV6_V6ONLY).
    type: list
    elements: raw
    default: []
  not_listening:
    description:
      - Sockets the host must not listen on, written as in O(listening); one found is V(CRITICAL).
      - V(0.0.0.0:5432) finds a port open on every IPv4 address that should be bound to loopback
        only (or an IPv6 wildcard socket that also accepts IPv4).
    type: list
    elements: raw
    default: []
  thresholds:
    description:
      - Warning and critical ranges per check, merged over the defaults.
      - "C(restarts): automatic restarts of a service since it was last started by hand or
        C(systemctl reset-failed); default warning V(0) (any restart) and critical V(5) (more than
        five: a restart loop)."
      - "C(state_age): seconds a unit has been in its current state; no default. V(300:) warns of a
        unit that changed state (was restarted) less than five minutes ago."
    type: dict
    default: {}
  timeout:
    description:
      - Seconds the C(systemctl show) call may take before it is stopped and the units are
        V(UNKNOWN) (more than 0, at most 300).
    type: float
    default: 10
notes:
  - Without systemd as the init system (no C(/run/systemd/system), as in most containers) or
    without C(systemctl), the units are one V(UNKNOWN) check named C(systemd) saying why; the
    sockets are checked all the same.
  - The time in the current state comes from C(StateChangeTimestampMonotonic) against the monotonic
    clock read after C(systemctl show) returned; it is never negative.
  - At least one of O(units), O(listening) and O(not_listening) must be given.
  - The sockets are read from Linux's C(/proc); where it cannot be read, the socket checks are
    V(UNKNOWN) saying why.
seealso:
  - module: ansible.builtin.service_facts
  - module: ansible.builtin.systemd_service
'''

EXAMPLES = r'''
- name: The services of the application host, and PostgreSQL and Redis on loopback only
  fleetops.runbook.service_check:
    units:
      - name: nginx.service
      - name: app-*.service
      - name: postgresql@15-main.service
      - name: backup-report.service
        required: false
    listening:
      - tcp/443
      - 127.0.0.1:5432
      - 127.0.0.1:6379
    not_listening:
      - 0.0.0.0:5432
      - "[::]:5432"
      - 0.0.0.0:6379
  register: services

- name: Warn about a unit restarted less than ten minutes ago, never fail the task
  fleetops.runbook.service_check:
    units:
      - name: api.service
    thresholds:
      state_age:
        warning: "600:"
      restarts:
        warning: 2
        critical: 10
    fail_on: never
  register: services

- name: Tell the on-call engineer
  ansible.builtin.debug:
    msg: "{{ services.summary }}"
  when: services.status != 'OK'
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
units:
  description: Every unit checked, in the order of O(units).
  returned: when O(units) is given and systemd answered
  type: list
  elements: dict
  contains:
    name:
      description: The unit as reported (the name given, or the unit a pattern matched).
      type: str
      sample: nginx.service
    id:
      description: The unit's primary name (differs from RV(units[].name) for an alias).
      type: str
      sample: nginx.service
    pattern:
      description: The O(units[].name) that selected the unit.
      type: str
      sample: nginx.service
    required:
      description: Whether the unit must be running.
      type: bool
      sample: true
    description:
      description: The unit's description.
      type: str
      sample: A high performance web server and a reverse proxy server
    load_state:
      description: C(LoadState) (loaded, not-found, masked, error...).
      type: str
      sample: loaded
    active_state:
      description: C(ActiveState) (active, inactive, failed, activating, deactivating, reloading).
      type: str
      sample: active
    sub_state:
      description: C(SubState) (running, exited, dead, auto-restart...).
      type: str
      sample: running
    result:
      description: C(Result) of a service (success, exit-code, signal, timeout...), or null.
      type: str
      sample: success
    unit_file_state:
      description: C(UnitFileState) (enabled, disabled, static...), or null.
      type: str
      sample: enabled
    restarts:
      description: C(NRestarts), automatic restarts of a service; null for other unit types.
      type: int
      sample: 0
    state_age:
      description: Seconds in the current state, or null when systemd has no time for it.
      type: float
      sample: 86412.5
sockets:
  description: Every listening TCP socket and unconnected UDP socket, like C(ss -tuln).
  returned: when O(listening) or O(not_listening) is given
  type: list
  elements: dict
  sample:
    - {"protocol": "tcp", "family": "ipv4", "address": "127.0.0.1", "port": 5432, "uid": 105}
    - {"protocol": "udp", "family": "ipv6", "address": "::", "port": 53, "uid": 0}
'''

import fnmatch
import ipaddress
import os
import re
import struct
import time

from ansible_collections.fleetops.runbook.plugins.module_utils.programs import (
    ProgramTimeout,
    run_program,
)
from ansible_collections.fleetops.runbook.plugins.module_utils.module import RunbookModule
from ansible_collections.fleetops.runbook.plugins.module_utils.status import (
    CRITICAL,
    OK,
    UNKNOWN,
    WARNING,
    CheckReport,
    Range,
    Thresholds,
    finish,
    finite_number,
    human_duration,
    parse_thresholds,
    status_argument_spec,
)

SOURCE = 'service_check'

# No seed gives a restart count: any automatic restart is worth a look, more than five is a loop.
DEFAULT_THRESHOLDS = {
    'restarts': {'warning': '0', 'critical': '5'},
    'state_age': {},
}

MAX_TIMEOUT = 300

SHOW_PROPERTIES = ('Id', 'Names', 'Description', 'LoadState', 'ActiveState', 'SubState', 'Result',
                   'UnitFileState', 'NRestarts', 'StateChangeTimestampMonotonic')

UNIT_SUFFIXES = ('.service', '.socket', '.target', '.timer', '.mount', '.automount', '.path',
                 '.slice', '.scope', '.swap', '.device')

# systemd's unit name characters, plus the glob characters of a pattern.
_UNIT_NAME_RE = re.compile(r'^[A-Za-z0-9:_.\\@*?\[\]-]+$')
UNIT_NAME_MAX = 255

_PORT_RE = re.compile(r'^[0-9]{1,5}$')

# /proc/net/tcp state codes (include/net/tcp_states.h).
TCP_LISTEN = 0x0A
TCP_CLOSE = 0x07

PROC_NET_FILES = (('tcp', 'tcp'), ('tcp6', 'tcp'), ('udp', 'udp'), ('udp6', 'udp'))

IPV4_ANY = ipaddress.ip_address('0.0.0.0')
IPV6_ANY = ipaddress.ip_address('::')


# --- systemd units ----------------------------------------------------------------------------------

def unit_name(name, param):
    """The unit name (or pattern) ``name`` as systemd sees it: a service when it has no type suffix.
    Raises ValueError naming ``param``."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError('%s: expected a unit name such as nginx.service, got %r' % (param, name))
    if name != name.strip():
        raise ValueError('%s: %r has leading or trailing blanks' % (param, name))
    if not _UNIT_NAME_RE.match(name):
        raise ValueError("%s: '%s' is not a unit name: use letters, digits and ':_.\\@-' (and *?[] in a pattern)"
                         % (param, name if len(name) <= 80 else name[:77] + '...'))
    if name.startswith(('-', '.')):
        raise ValueError("%s: '%s' is not a unit name: it must not start with '%s'" % (param, name, name[0]))
    if not name.endswith(UNIT_SUFFIXES):
        name += '.service'
    if len(name) > UNIT_NAME_MAX:
        raise ValueError('%s: a unit name is at most %d characters, got %d' % (param, UNIT_NAME_MAX, len(name)))
    return name


def is_pattern(name):
    return any(char in name for char in '*?[')


def parse_show(text):
    """The units of ``systemctl show`` output: one dict of properties per blank-line-separated block."""
    units = []
    current = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                units.append(current)
                current = {}
            continue
        key, sep, value = line.partition('=')
        if sep:
            current[key] = value
    if current:
        units.append(current)
    return units


def _int_or_none(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def state_age(props, now):
    """Seconds the unit has been in its current state at monotonic time ``now`` (seconds), never
    negative; None when systemd recorded no change (a unit never loaded or started)."""
    stamp = _int_or_none(props.get('StateChangeTimestampMonotonic'))
    if not stamp:
        return None
    return max(0.0, now - stamp / 1e6)


def unit_names(props):
    names = (props.get('Names') or '').split()
    if props.get('Id') and props['Id'] not in names:
        names.insert(0, props['Id'])
    return names


def select_units(wanted, blocks):
    """Pair every wanted unit with the blocks ``systemctl show`` returned.

    ``wanted`` is a list of (name, required). Returns a list of (pattern, name, props, required),
    one per unit in the order of ``wanted`` (a unit that several entries select is reported once,
    required when any of them requires it), and the patterns that matched nothing.
    """
    selected = []
    by_id = {}
    unmatched = []
    for pattern, required in wanted:
        if is_pattern(pattern):
            matches = [(props.get('Id'), props) for props in blocks
                       if any(fnmatch.fnmatchcase(name, pattern) for name in unit_names(props))]
        else:
            matches = [(pattern, props) for props in blocks if pattern in unit_names(props)][:1]
        if not matches:
            unmatched.append((pattern, required))
        for name, props in matches:
            key = props.get('Id') or name
            if key in by_id:
                entry = by_id[key]
                entry[3] = entry[3] or required
                continue
            entry = [pattern, name, props, required]
            by_id[key] = entry
            selected.append(entry)
    return [tuple(entry) for entry in selected], unmatched


def judge_unit(props, required):
    """(status, state, note) of one unit: its state in words, and what a message adds after the
    time in that state (or None)."""
    load = props.get('LoadState') or ''
    active = props.get('ActiveState') or ''
    sub = props.get('SubState') or ''
    result = props.get('Result') or ''
    must = CRITICAL if required else OK
    if load == 'not-found' and active in ('', 'inactive'):
        return must, 'not found', None
    if load == 'masked' and active != 'active':
        return must, 'masked', None
    if load in ('error', 'bad-setting') and active != 'active':
        return (CRITICAL if required else WARNING), 'not loaded (%s)' % load, None
    state = active + (' (%s)' % sub if sub and sub != active else '')
    if active in ('active', 'reloading'):
        return OK, state, None
    if active == 'failed':
        note = 'result %s' % result if result and result != 'success' else None
        return (CRITICAL if required else WARNING), state, note
    if active == 'inactive':
        return must, state, None
    if active == 'activating' and sub.startswith('auto-restart'):
        return must, state, 'down until its automatic restart'
    if active in ('activating', 'deactivating', 'maintenance'):
        return (WARNING if required else OK), state, None
    return UNKNOWN, "in an unknown state '%s'" % state, None


class UnitChecker:
    """The units part: one ``systemctl show`` call, then a check per unit."""

    # Present when systemd is the init system (sd_booted(3) looks for it).
    booted_dir = '/run/systemd/system'

    def __init__(self, module, report, thresholds, wanted, timeout):
        self.module = module
        self.report = report
        self.thresholds = thresholds
        self.wanted = wanted
        self.timeout = timeout

    def unavailable(self, reason):
        self.report.unknown('systemd', 'systemd: %s; units not checked: %s' % (
            reason, ', '.join(name for name, dummy in self.wanted)))

    @staticmethod
    def init_name():
        try:
            with open('/proc/1/comm') as handle:
                return handle.read().strip() or None
        except (IOError, OSError):
            return None

    def read(self):
        """The ``systemctl show`` blocks and the monotonic time after they were read, or None."""
        if not os.path.isdir(self.booted_dir):
            init = self.init_name()
            self.unavailable('not the init system here (no %s%s)' % (
                self.booted_dir, '; PID 1 is %s' % init if init and init != 'systemd' else ''))
            return None, None
        systemctl = self.module.get_bin_path('systemctl')
        if not systemctl:
            self.unavailable('systemctl is not installed')
            return None, None
        names = [name for name, dummy in self.wanted]
        cmd = [systemctl, 'show', '--no-pager', '--property=' + ','.join(SHOW_PROPERTIES), '--'] + names
        try:
            rc, out, err = run_program(self.module.run_command, cmd, timeout=self.timeout)
        except ProgramTimeout:
            self.unavailable('systemctl show did not answer within %s (timeout)' % human_duration(self.timeout))
            return None, None
        now = time.monotonic()
        if rc != 0:
            detail = ' '.join((err or out or '').split())[:300]
            self.unavailable('systemctl show failed (exit %d): %s' % (rc, detail or 'no message'))
            return None, None
        return parse_show(out), now

    def run(self):
        blocks, now = self.read()
        if blocks is None:
            return None
        selected, unmatched = select_units(self.wanted, blocks)
        facts = []
        for pattern, name, props, required in selected:
            facts.append(self.check(pattern, name, props, required, now))
        for pattern, required in unmatched:
            if required:
                self.report.add('unit', None, target=pattern, status=CRITICAL,
                                message='unit %s: no loaded unit matches' % pattern)
            else:
                self.report.add('unit', None, target=pattern, status=OK,
                                message='unit %s: no loaded unit matches (not required)' % pattern)
        return facts

    def check(self, pattern, name, props, required, now):
        status, state, note = judge_unit(props, required)
        age = state_age(props, now)
        restarts = _int_or_none(props.get('NRestarts'))
        loaded = props.get('LoadState') not in (None, '', 'not-found')
        message = 'unit %s is %s' % (name, state)
        if age is not None:
            message += ' for %s' % human_duration(age)
        if note:
            message += ', ' + note
        if not required and status == OK:
            message += ' (not required)'
        self.report.add('unit', props.get('ActiveState') or None, target=name, status=status, message=message)
        if restarts is not None and loaded:
            limits = self.thresholds['restarts']
            judged = limits.judge(restarts)
            self.report.add('restarts', restarts, 'count', limits, target=name, status=judged,
                            message='restarts %s: %d automatic restart%s%s' % (
                                name, restarts, '' if restarts == 1 else 's', limits.note(judged)))
        if age is not None:
            limits = self.thresholds['state_age']
            judged = limits.judge(age)
            self.report.add('state_age', age, 'seconds', limits, target=name, status=judged,
                            message='state_age %s: %s for %s%s' % (
                                name, props.get('ActiveState') or 'in its state', human_duration(age),
                                limits.note(judged)))
        return {
            'name': name,
            'id': props.get('Id') or name,
            'pattern': pattern,
            'required': required,
            'description': props.get('Description'),
            'load_state': props.get('LoadState'),
            'active_state': props.get('ActiveState'),
            'sub_state': props.get('SubState'),
            'result': props.get('Result') or None,
            'unit_file_state': props.get('UnitFileState') or None,
            'restarts': restarts,
            'state_age': round(age, 3) if age is not None else None,
        }


# --- listening sockets ------------------------------------------------------------------------------

def decode_address(text):
    """The address of a /proc/net hex field (``0100007F``, or 32 digits for IPv6): each 32-bit
    word is in the host's byte order. An IPv4-mapped IPv6 address comes back as IPv4."""
    if len(text) not in (8, 32):
        raise ValueError('not an address: %r' % text)
    packed = b''.join(struct.pack('=I', int(text[i:i + 8], 16)) for i in range(0, len(text), 8))
    address = ipaddress.ip_address(packed)
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def parse_proc_net(lines, protocol):
    """The listening sockets in the lines of /proc/net/{tcp,tcp6,udp,udp6}: TCP in LISTEN, UDP
    unconnected (state CLOSE, no remote port). Returns dicts with protocol, address, port, uid."""
    found = []
    for line in lines:
        fields = line.split()
        if len(fields) < 8 or not fields[0].endswith(':') or not fields[0][:-1].isdigit():
            continue
        try:
            local_hex, port_hex = fields[1].split(':')
            remote_port = int(fields[2].split(':')[1], 16)
            state = int(fields[3], 16)
            address = decode_address(local_hex)
            port = int(port_hex, 16)
            uid = int(fields[7])
        except (ValueError, IndexError):
            continue
        if protocol == 'tcp' and state != TCP_LISTEN:
            continue
        if protocol == 'udp' and (state != TCP_CLOSE or remote_port != 0 or port == 0):
            continue
        found.append({'protocol': protocol, 'address': address, 'port': port, 'uid': uid})
    return found


def show_socket(address, port):
    return ('[%s]:%d' if address.version == 6 else '%s:%d') % (address, port)


class SocketSpec:
    """One entry of ``listening`` / ``not_listening``: protocol, address (None: any) and port."""

    __slots__ = ('protocol', 'address', 'port')

    def __init__(self, protocol, address, port):
        self.protocol = protocol
        self.address = address
        self.port = port

    @property
    def text(self):
        if self.address is None:
            return '%s/%d' % (self.protocol, self.port)
        return '%s/%s' % (self.protocol, show_socket(self.address, self.port))

    @classmethod
    def parse(cls, value, param):
        """Parse ``5432``, ``tcp/5432``, ``udp/53``, ``127.0.0.1:6379``, ``tcp/[::1]:5432``,
        ``*:80``. Raises ValueError naming ``param``."""
        usage = "write PORT, tcp/PORT, udp/PORT or [tcp/|udp/]ADDRESS:PORT (an IPv6 address in brackets)"
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValueError('%s: %s, got %r' % (param, usage, value))
        text = str(value).strip()
        shown = text if len(text) <= 80 else text[:77] + '...'
        protocol = 'tcp'
        head, sep, rest = text.partition('/')
        if sep:
            if head.lower() not in ('tcp', 'udp'):
                raise ValueError("%s: '%s': the protocol '%s' is neither tcp nor udp" % (param, shown, head[:20]))
            protocol, text = head.lower(), rest
        if text.startswith('['):
            end = text.find(']')
            if end < 0 or not text[end + 1:].startswith(':'):
                raise ValueError("%s: '%s': %s" % (param, shown, usage))
            host, port_text = text[1:end], text[end + 2:]
            address = _ip(host, 6)
            if address is None:
                raise ValueError("%s: '%s': '%s' in brackets is not an IPv6 address" % (param, shown, host[:40]))
        elif ':' in text:
            host, dummy, port_text = text.rpartition(':')
            if ':' in host:
                raise ValueError("%s: '%s': write an IPv6 address in brackets, e.g. [::1]:5432" % (param, shown))
            if host == '*':
                address = None
            else:
                address = _ip(host, 4)
                if address is None:
                    raise ValueError("%s: '%s': '%s' is not an IPv4 address (host names are not resolved)"
                                     % (param, shown, host[:40]))
        else:
            address, port_text = None, text
        if not _PORT_RE.match(port_text) or not 1 <= int(port_text) <= 65535:
            raise ValueError("%s: '%s': the port must be a number from 1 to 65535" % (param, shown))
        return cls(protocol, address, int(port_text))


def _ip(text, version):
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    return address if address.version == version else None


def covers(bound, wanted, dual_stack):
    """Whether a socket bound to ``bound`` accepts connections to ``wanted`` (None: any address)."""
    if wanted is None or bound == wanted:
        return True
    if bound == IPV4_ANY:
        return wanted.version == 4
    if bound == IPV6_ANY:
        return wanted.version == 6 or dual_stack
    return False


def matching_sockets(spec, sockets, dual_stack):
    return [s for s in sockets if s['protocol'] == spec.protocol and s['port'] == spec.port
            and covers(s['address'], spec.address, dual_stack)]


class SocketChecker:
    """The sockets part: /proc/net read once, then a check per entry."""

    def __init__(self, report, listening, not_listening, proc='/proc'):
        self.report = report
        self.listening = listening
        self.not_listening = not_listening
        self.proc = proc

    def read(self):
        """(sockets, {protocol: reason it could not be read}, dual_stack)."""
        sockets = []
        unreadable = {}
        for name, protocol in PROC_NET_FILES:
            path = os.path.join(self.proc, 'net', name)
            try:
                with open(path) as handle:
                    sockets.extend(parse_proc_net(handle, protocol))
            except (IOError, OSError) as exc:
                if name.endswith('6') and not os.path.exists(path):
                    continue  # IPv6 is disabled: there are no IPv6 sockets.
                unreadable[protocol] = 'cannot read %s: %s' % (path, exc.strerror or exc)
        dual_stack = True
        try:
            with open(os.path.join(self.proc, 'sys', 'net', 'ipv6', 'bindv6only')) as handle:
                dual_stack = handle.read().strip() == '0'
        except (IOError, OSError):
            pass
        return sockets, unreadable, dual_stack

    def run(self):
        sockets, unreadable, dual_stack = self.read()
        for option, specs in (('listening', self.listening), ('not_listening', self.not_listening)):
            for spec in specs:
                if spec.protocol in unreadable:
                    self.report.unknown(option, '%s %s: %s' % (option, spec.text, unreadable[spec.protocol]),
                                        target=spec.text, unit='count')
                    continue
                found = matching_sockets(spec, sockets, dual_stack)
                shown = ', '.join(sorted(set(show_socket(s['address'], s['port']) for s in found)))
                if option == 'listening':
                    limits = Thresholds(critical=Range.parse('1:'))
                    message = '%s %s: %s' % (option, spec.text, 'listening on ' + shown if found else 'nothing listens')
                else:
                    limits = Thresholds(critical=Range.parse('0'))
                    message = '%s %s: %s' % (option, spec.text, 'found ' + shown if found else 'nothing listens')
                self.report.add(option, len(found), 'count', limits, target=spec.text, message=message)
        rows = [dict(s, address=str(s['address']), family='ipv%d' % s['address'].version) for s in sockets]
        unique = dict(((r['protocol'], r['family'], r['address'], r['port'], r['uid']), r) for r in rows)
        return sorted(unique.values(), key=lambda r: (r['protocol'], r['port'], r['family'], r['address']))


# --- the module -------------------------------------------------------------------------------------

class ServiceCheck:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.report = CheckReport(SOURCE)

    def fail(self, msg):
        self.module.fail_json(msg=msg)

    def validate(self):
        params = self.params
        if not params['units'] and not params['listening'] and not params['not_listening']:
            self.fail('units, listening, not_listening: give at least one unit or socket to check')
        try:
            self.thresholds = parse_thresholds(params['thresholds'], DEFAULT_THRESHOLDS)
            self.timeout = finite_number(params['timeout'], 'timeout', above=0, maximum=MAX_TIMEOUT)
        except ValueError as exc:
            self.fail(str(exc))
        self.wanted = []
        seen = {}
        for index, entry in enumerate(params['units']):
            param = 'units[%d].name' % index
            try:
                name = unit_name(entry.get('name'), param)
            except ValueError as exc:
                self.fail(str(exc))
            required = entry.get('required')
            if name in seen:
                self.fail('%s: %s is already units[%d].name' % (param, name, seen[name]))
            seen[name] = index
            self.wanted.append((name, True if required is None else bool(required)))
        self.specs = {}
        where = {}
        for option in ('listening', 'not_listening'):
            self.specs[option] = []
            for index, value in enumerate(params[option]):
                param = '%s[%d]' % (option, index)
                try:
                    spec = SocketSpec.parse(value, param)
                except ValueError as exc:
                    self.fail(str(exc))
                if spec.text in where:
                    self.fail('%s: %s is already %s' % (param, spec.text, where[spec.text]))
                where[spec.text] = param
                self.specs[option].append(spec)

    def run(self):
        self.validate()
        facts = {}
        if self.wanted:
            units = UnitChecker(self.module, self.report, self.thresholds, self.wanted, self.timeout).run()
            if units is not None:
                facts['units'] = units
        if self.specs['listening'] or self.specs['not_listening']:
            facts['sockets'] = SocketChecker(self.report, self.specs['listening'],
                                             self.specs['not_listening']).run()
        finish(self.module, self.report, **facts)


def main():
    argument_spec = status_argument_spec(thresholds=True)
    argument_spec.update(
        units=dict(type='list', elements='dict', default=[], options=dict(
            name=dict(type='str', required=True),
            required=dict(type='bool', default=True),
        )),
        listening=dict(type='list', elements='raw', default=[]),
        not_listening=dict(type='list', elements='raw', default=[]),
        timeout=dict(type='float', default=10),
    )
    module = RunbookModule(argument_spec=argument_spec, supports_check_mode=True)
    ServiceCheck(module).run()


if __name__ == '__main__':
    main()
