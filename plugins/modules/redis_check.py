#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: redis_check
short_description: Check a Redis server's health, memory, persistence and replication
version_added: 0.2.0
description:
  - Connects to one Redis server, speaks the Redis protocol itself (no client library needed) and
    judges what the cache group's runbook looks at, in the status model every check of this
    collection speaks.
  - Reachability and the round-trip time of a C(PING).
  - Used memory in percent of C(maxmemory); connected clients in percent of C(maxclients);
    evicted keys and rejected connections since the server started.
  - The last RDB snapshot (its status and age) and the AOF status.
  - The replication link, its lag and, on a primary, the lag of every replica.
  - Sends only C(AUTH), C(PING), C(INFO) and C(CONFIG GET) (for C(maxmemory), C(maxclients) and
    C(save)); it never changes the server. When C(CONFIG) is disabled, renamed or not permitted
    to the user, the same figures are taken from C(INFO) where it has them.
  - A server that cannot be reached, does not answer or refuses the login is reported as data
    (RV(is_available)), V(CRITICAL), not as a module crash.
extends_documentation_fragment:
  - fleetops.runbook.attributes
  - fleetops.runbook.status
options:
  login_host:
    description:
      - Host name or IP address of the server.
    type: str
    default: 127.0.0.1
  login_port:
    description:
      - TCP port of the server, from 1 to 65535.
    type: int
    default: 6379
  login_unix_socket:
    description:
      - Path of the server's unix socket. Takes precedence over O(login_host) and O(login_port).
    type: path
  login_user:
    description:
      - ACL user to log in as (Redis 6 and later). Needs O(login_password).
      - Left out, the password is sent for the default user (C(requirepass)).
    type: str
  login_password:
    description:
      - Password for O(login_user), or the C(requirepass) of the server.
      - Defaults to the E(REDISCLI_AUTH) environment variable, as C(redis-cli) reads it.
      - An empty password is no password (no C(AUTH) is sent).
      - Never logged and never returned.
    type: str
  tls:
    description:
      - Connect with TLS (a server with C(tls-port)). The certificate is verified against
        O(ca_cert), else the system's trusted CAs, and must cover O(login_host).
    type: bool
    default: false
  ca_cert:
    description:
      - PEM file of the certificate authorities that sign the server certificate. Needs O(tls).
      - Only a regular file of at most 1 MiB is read.
    type: path
  connect_timeout:
    description:
      - Seconds to wait for the connection (and the TLS handshake). More than 0, at most 3600.
      - A server that does not accept in time is reported unavailable.
    type: float
    default: 5
  command_timeout:
    description:
      - Seconds to wait for the complete reply to each command. More than 0, at most 3600.
      - A server that accepts the connection but stops answering is reported V(CRITICAL) once
        this deadline passes; a run sends at most 6 commands, so it is bounded by
        O(connect_timeout) plus 6 times this.
    type: float
    default: 5
  expected_role:
    description:
      - The replication role the server must have; another role is V(CRITICAL).
      - Left out, any role is fine and only reported.
    type: str
    choices: [master, replica]
  memory_against_host:
    description:
      - When the server has no C(maxmemory) limit (V(0)), judge the used memory in percent of the
        host's memory (C(total_system_memory) of C(INFO)) instead.
      - Off by default, the memory check then says that no limit is set and is not judged.
    type: bool
    default: false
  thresholds:
    description:
      - Warning and critical ranges per check, merged over the defaults.
      - "C(memory): used memory in percent of C(maxmemory) (or of the host's memory, see
        O(memory_against_host)); default 80 / 90, the runbooks' caution and danger bands for
        memory (seed 000's memory usage 80-90 % caution, over 90 % danger; seed 002's
        memoryUsage warning 80, critical 90)."
      - "C(clients): connected clients in percent of C(maxclients); default 80 / 90."
      - "C(rejected_connections): connections refused since the server started because
        C(maxclients) was reached; default warning V(0), that is any."
      - "C(evicted_keys): keys evicted since the server started. No default: a cache with an
        C(allkeys-*) or C(volatile-*) policy evicts by design. Set a range (V(0) warns on any) for
        a server that must not lose keys. C(evicted_keys_rate), the same per second since the
        server started, has no default either."
      - "C(ping_time): round-trip time of C(PING) in milliseconds; default 200 / 1000."
      - "C(rdb_save_age): seconds since the last successful RDB snapshot; default 90000 / 176400
        (25 h and 49 h: one and two daily snapshots missed). Judged only when there are changes
        not yet saved and snapshots are configured (C(save) is not empty; when C(CONFIG) is
        refused, when a snapshot was made since the server started); otherwise reported without
        a judgement."
      - "C(replication_lag): on a replica, seconds since the last interaction with its primary;
        on a primary, the lag each replica reports. Default 30 / 60 (a primary pings its replicas
        every 10 seconds by default)."
      - "C(connected_clients) and C(connected_replicas) (counts) have no default."
    type: dict
    default: {}
notes:
  - The counters of evicted keys and rejected connections are the server's own, since it started
    (or since C(CONFIG RESETSTAT)); the module keeps no state between runs. The rate per second
    over the server's uptime is reported next to the count.
  - Ages are measured on the server's clock (C(server_time_usec)) where C(INFO) gives it, and are
    never negative.
  - A host name is resolved before O(connect_timeout) applies; give an address to bound that too.
  - RESP2 only; Redis 2.8 and later (ACL users need 6.0).
seealso:
  - module: fleetops.runbook.resource_check
'''

EXAMPLES = r'''
- name: Check the cache on this host (seed 001's Redis on 6379)
  fleetops.runbook.redis_check:
  register: redis

- name: A replica with a password and an ACL user, never fail the task
  fleetops.runbook.redis_check:
    login_host: 10.0.0.21
    login_user: monitor
    login_password: "{{ vault_redis_monitor_password }}"
    expected_role: replica
    fail_on: never
  register: redis

- name: A store that must not lose keys, over TLS
  fleetops.runbook.redis_check:
    login_host: redis.internal.example
    login_port: 6380
    tls: true
    ca_cert: /etc/ssl/certs/internal-ca.pem
    thresholds:
      evicted_keys:
        critical: 0
  register: redis

- name: Tell the on-call engineer
  ansible.builtin.debug:
    msg: "{{ redis.summary }}"
  when: redis.status != 'OK'
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
is_available:
  description: Whether the server accepted the connection and answered.
  returned: always
  type: bool
  sample: true
server:
  description: What the server said about itself, from C(INFO) and C(CONFIG GET).
  returned: when the server answered C(INFO)
  type: dict
  sample: {"redis_version": "7.0.15", "role": "master", "uptime_seconds": 86400,
           "used_memory": 1048576, "maxmemory": 104857600, "maxmemory_policy": "allkeys-lru",
           "maxmemory_source": "config", "connected_clients": 3, "maxclients": 10000,
           "evicted_keys": 0, "rejected_connections": 0, "rdb_last_bgsave_status": "ok",
           "rdb_last_save_time": 1767225600, "rdb_changes_since_last_save": 12,
           "save": "3600 1 300 100 60 10000", "aof_enabled": false,
           "master_link_status": null, "connected_replicas": 0}
'''

import errno
import math
import socket
import ssl
import time

from ansible.module_utils.basic import env_fallback
from ansible_collections.fleetops.runbook.plugins.module_utils.module import RunbookModule
from ansible_collections.fleetops.runbook.plugins.module_utils.regular_file import FileRefused, read_regular
from ansible_collections.fleetops.runbook.plugins.module_utils.status import (
    CRITICAL,
    OK,
    WARNING,
    CheckReport,
    finish,
    finite_number,
    human_bytes,
    human_duration,
    parse_thresholds,
    status_argument_spec,
)

DEFAULT_THRESHOLDS = {
    'memory': {'warning': '80', 'critical': '90'},
    'clients': {'warning': '80', 'critical': '90'},
    'connected_clients': {},
    'rejected_connections': {'warning': '0'},
    'evicted_keys': {},
    'evicted_keys_rate': {},
    'ping_time': {'warning': '200', 'critical': '1000'},
    'rdb_save_age': {'warning': '90000', 'critical': '176400'},
    'replication_lag': {'warning': '30', 'critical': '60'},
    'connected_replicas': {},
}

MAX_TIMEOUT = 3600
# A reply larger than this is no INFO or CONFIG answer of a sane server; memory stays bounded.
MAX_REPLY = 4 * 1024 * 1024
MAX_CA_FILE = 1024 * 1024


class RedisError(Exception):
    """An error reply of the server (``-ERR ...``); ``code`` is its first word."""

    def __init__(self, text):
        super(RedisError, self).__init__(text)
        self.text = text
        self.code = text.split(' ', 1)[0] if text else ''


class ProtocolError(Exception):
    """The peer does not speak RESP, or broke off, or took longer than the deadline."""


class Deadline(ProtocolError):
    """No complete reply within the command timeout."""


class RespConnection:
    """A RESP2 client over one socket: every reply must arrive within ``timeout`` seconds."""

    def __init__(self, sock, timeout):
        self.sock = sock
        self.timeout = timeout
        self.buffer = b''
        self.deadline = None

    def _fill(self):
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise Deadline('no reply within %s s (command_timeout)' % _seconds(self.timeout))
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise Deadline('no reply within %s s (command_timeout)' % _seconds(self.timeout))
        except ssl.SSLError as exc:
            raise ProtocolError('TLS error while reading: %s' % exc)
        except OSError as exc:
            raise ProtocolError('connection lost: %s' % (exc.strerror or exc))
        if not chunk:
            raise ProtocolError('the server closed the connection')
        self.buffer += chunk
        if len(self.buffer) > MAX_REPLY + 1024:
            raise ProtocolError('reply larger than %s' % human_bytes(MAX_REPLY))

    def _line(self):
        while True:
            end = self.buffer.find(b'\r\n')
            if end >= 0:
                line, self.buffer = self.buffer[:end], self.buffer[end + 2:]
                return line
            if len(self.buffer) > 65536:
                raise ProtocolError('not a Redis server: no line end in the first 64 KiB')
            self._fill()

    def _exact(self, size):
        while len(self.buffer) < size + 2:
            self._fill()
        data, trailer = self.buffer[:size], self.buffer[size:size + 2]
        self.buffer = self.buffer[size + 2:]
        if trailer != b'\r\n':
            raise ProtocolError('not a Redis server: a bulk reply without its line end')
        return data

    def _length(self, text):
        try:
            value = int(text)
        except ValueError:
            raise ProtocolError('not a Redis server: bad length %r' % text[:40])
        if value > MAX_REPLY:
            raise ProtocolError('reply larger than %s' % human_bytes(MAX_REPLY))
        return value

    def _reply(self, depth=0):
        line = self._line()
        if not line:
            raise ProtocolError('not a Redis server: an empty reply line')
        kind, rest = line[:1], line[1:].decode('utf-8', 'replace')
        if kind == b'+':
            return rest
        if kind == b'-':
            return RedisError(rest)
        if kind == b':':
            try:
                return int(rest)
            except ValueError:
                raise ProtocolError('not a Redis server: bad integer %r' % rest[:40])
        if kind == b'$':
            size = self._length(rest)
            return None if size < 0 else self._exact(size).decode('utf-8', 'replace')
        if kind == b'*':
            count = self._length(rest)
            if count < 0:
                return None
            if depth > 4:
                raise ProtocolError('not a Redis server: arrays nested too deep')
            return [self._reply(depth + 1) for dummy in range(count)]
        raise ProtocolError('not a Redis server: unexpected reply %r' % line[:40])

    def call(self, *args):
        """Send one command and return its reply; an error reply is returned as RedisError."""
        parts = [b'*%d\r\n' % len(args)]
        for arg in args:
            data = arg.encode('utf-8') if not isinstance(arg, bytes) else arg
            parts.append(b'$%d\r\n%s\r\n' % (len(data), data))
        self.deadline = time.monotonic() + self.timeout
        self.sock.settimeout(self.timeout)
        try:
            self.sock.sendall(b''.join(parts))
        except socket.timeout:
            raise Deadline('could not send within %s s (command_timeout)' % _seconds(self.timeout))
        except OSError as exc:
            raise ProtocolError('connection lost: %s' % (exc.strerror or exc))
        return self._reply()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def _seconds(value):
    return ('%g' % value)


def parse_info(text):
    """INFO's ``key:value`` lines as a dict of strings; ``slaveN`` lines become dicts."""
    info = {}
    for line in (text or '').splitlines():
        line = line.strip()
        if not line or line.startswith('#') or ':' not in line:
            continue
        key, value = line.split(':', 1)
        if key.startswith('slave') and key[5:].isdigit() and '=' in value:
            info[key] = dict(pair.split('=', 1) for pair in value.split(',') if '=' in pair)
        else:
            info[key] = value
    return info


def number(info, key):
    """A numeric INFO field, or None when it is missing or not a finite number."""
    value = info.get(key)
    if value is None or isinstance(value, dict):
        return None
    try:
        result = float(value)
    except ValueError:
        return None
    if not math.isfinite(result):
        return None
    return int(result) if result == int(result) else result


def config_value(reply):
    """The value of a ``CONFIG GET name`` reply ([name, value]), or None when it is none."""
    if isinstance(reply, list) and len(reply) >= 2 and isinstance(reply[1], str):
        return reply[1]
    return None


def save_age(info, now):
    """Seconds since the last successful RDB save, on the server's clock when INFO gives it;
    never negative. ``now`` is the module's clock, used when the server's is not there."""
    last = number(info, 'rdb_last_save_time')
    if last is None:
        return None
    server_usec = number(info, 'server_time_usec')
    reference = server_usec / 1e6 if server_usec else now
    return max(0.0, reference - last)


def is_replica(info):
    return info.get('role') in ('slave', 'replica')


class RedisCheck:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.report = CheckReport('redis_check')
        self.server = {}
        self.connection = None

    def fail(self, msg):
        self.module.fail_json(msg=msg)

    def validate(self):
        params = self.params
        try:
            for name in ('connect_timeout', 'command_timeout'):
                finite_number(params[name], name, above=0, maximum=MAX_TIMEOUT)
            self.thresholds = parse_thresholds(params['thresholds'], DEFAULT_THRESHOLDS, 'thresholds')
        except ValueError as exc:
            self.fail(str(exc))
        if params['login_unix_socket'] is None:
            host = params['login_host']
            if host is None or not host.strip():
                self.fail('login_host: give a host name or address (or login_unix_socket)')
            if host != host.strip() or any(c.isspace() for c in host):
                self.fail('login_host: %r holds white space' % host)
            if not 1 <= params['login_port'] <= 65535:
                self.fail('login_port: must be from 1 to 65535, got %d' % params['login_port'])
        elif not params['login_unix_socket'].strip():
            self.fail('login_unix_socket: must be a path, got an empty string')
        if params['login_user'] is not None:
            if not params['login_user'] or any(c.isspace() for c in params['login_user']):
                self.fail('login_user: must be a user name without white space')
            if not params['login_password']:
                self.fail('login_user: needs login_password (or the REDISCLI_AUTH environment variable)')
        if params['ca_cert'] is not None and not params['tls']:
            self.fail('ca_cert: is set but tls is false')
        self.ca_data = None
        if params['ca_cert'] is not None:
            try:
                data = read_regular(params['ca_cert'], 'ca_cert', MAX_CA_FILE)[0]
            except FileRefused as exc:
                self.fail(exc.msg)
            except (IOError, OSError) as exc:
                self.fail('ca_cert: cannot read %s: %s' % (params['ca_cert'], exc.strerror or exc))
            try:
                self.ca_data = data.decode('ascii')
                ssl.create_default_context(cadata=self.ca_data)
            except (UnicodeDecodeError, ssl.SSLError, ValueError) as exc:
                self.fail('ca_cert: %s holds no PEM CA certificate: %s' % (params['ca_cert'], exc))

    @property
    def where(self):
        if self.params['login_unix_socket'] is not None:
            return self.params['login_unix_socket']
        host = self.params['login_host']
        return '%s:%d' % ('[%s]' % host if ':' in host else host, self.params['login_port'])

    def connect(self):
        """A RespConnection, or the reason there is none."""
        params = self.params
        timeout = params['connect_timeout']
        try:
            if params['login_unix_socket'] is not None:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(timeout)
                try:
                    sock.connect(params['login_unix_socket'])
                except Exception:
                    sock.close()
                    raise
            else:
                sock = socket.create_connection((params['login_host'], params['login_port']), timeout=timeout)
            if params['tls']:
                context = ssl.create_default_context(cadata=self.ca_data) if self.ca_data else \
                    ssl.create_default_context()
                sock.settimeout(timeout)
                try:
                    sock = context.wrap_socket(sock, server_hostname=params['login_host'])
                except Exception:
                    sock.close()
                    raise
        except socket.timeout:
            return None, 'no connection within %s s (connect_timeout)' % _seconds(timeout)
        except ssl.SSLError as exc:
            return None, 'TLS handshake failed: %s' % (getattr(exc, 'verify_message', None) or exc.reason or exc)
        except socket.gaierror as exc:
            return None, 'cannot resolve %s: %s' % (params['login_host'], exc.strerror or exc)
        except (OSError, UnicodeError, ValueError) as exc:
            reason = getattr(exc, 'strerror', None) or str(exc)
            if getattr(exc, 'errno', None) == errno.ECONNREFUSED:
                reason = 'connection refused'
            return None, reason
        return RespConnection(sock, params['command_timeout']), None

    def unavailable(self, check, reason, **facts):
        self.report.add(check, None, status=CRITICAL, message='%s %s: %s' % (check, self.where, reason))
        self.finish(False, **facts)

    def finish(self, available, **facts):
        if self.connection is not None:
            self.connection.close()
        if self.server:
            facts['server'] = self.server
        finish(self.module, self.report, is_available=available, **facts)

    def run(self):
        self.validate()
        connection, reason = self.connect()
        if connection is None:
            self.unavailable('available', 'cannot connect: %s' % reason)
        self.connection = connection
        try:
            self.login()
            started = time.monotonic()
            pong = connection.call('PING')
            rtt = (time.monotonic() - started) * 1000.0
            if isinstance(pong, RedisError):
                if pong.code == 'NOAUTH':
                    self.unavailable('auth', 'the server requires a password: set login_password '
                                             '(or REDISCLI_AUTH)')
                self.unavailable('available', 'PING answered with an error: %s' % pong.text)
            if pong != 'PONG':
                self.unavailable('available', 'not a Redis server: PING answered %r' % str(pong)[:40])
            self.report.add('available', 'yes', message='available %s: answers PING' % self.where)
            self.report.add('ping_time', rtt, 'milliseconds', self.thresholds['ping_time'])
            info = connection.call('INFO')
            if isinstance(info, RedisError) or not isinstance(info, str):
                self.report.unknown('info', 'info: INFO was refused: %s' % getattr(info, 'text', info))
                self.finish(True)
            info = parse_info(info)
            config = self.read_config(connection)
        except ProtocolError as exc:
            self.unavailable('available', str(exc))
        self.judge(info, config)
        self.finish(True)

    def login(self):
        password = self.params['login_password']
        if not password:
            return
        args = ['AUTH'] + ([self.params['login_user']] if self.params['login_user'] else []) + [password]
        reply = self.connection.call(*args)
        if isinstance(reply, RedisError):
            user = self.params['login_user'] or 'default'
            text = reply.text.replace(password, '********')
            self.unavailable('auth', 'login as %s refused: %s' % (user, text))

    @staticmethod
    def read_config(connection):
        """CONFIG GET of the few settings INFO may lack; a setting that is refused is left out."""
        config = {}
        for name in ('maxmemory', 'maxclients', 'save'):
            reply = connection.call('CONFIG', 'GET', name)
            if isinstance(reply, RedisError):
                # Disabled, renamed or not permitted: the first refusal says the rest will be too.
                config['refused'] = reply.text
                break
            value = config_value(reply)
            if value is not None:
                config[name] = value
        return config

    def judge(self, info, config):
        server = self.server
        for key in ('redis_version', 'uptime_in_seconds', 'used_memory', 'maxmemory_policy',
                    'connected_clients', 'evicted_keys', 'rejected_connections', 'rdb_last_bgsave_status',
                    'rdb_last_save_time', 'rdb_changes_since_last_save', 'aof_enabled', 'role',
                    'master_link_status', 'total_system_memory'):
            value = number(info, key)
            server[key if key != 'uptime_in_seconds' else 'uptime_seconds'] = \
                value if value is not None else info.get(key)
        if is_replica(info):
            server['role'] = 'replica'
        server['aof_enabled'] = bool(number(info, 'aof_enabled'))
        if 'refused' in config:
            server['config_refused'] = config['refused']
        self.check_role(info)
        self.check_memory(info, config)
        self.check_clients(info, config)
        self.check_counters(info)
        self.check_rdb(info, config)
        self.check_aof(info)
        self.check_replication(info)

    def check_role(self, info):
        role = self.server['role']
        expected = self.params['expected_role']
        if role is None:
            self.report.unknown('role', 'role: INFO gave no replication role')
            return
        if expected is not None and role != expected:
            self.report.add('role', role, status=CRITICAL,
                            message='role is %s, expected %s' % (role, expected))
        else:
            self.report.add('role', role, message='role is %s' % role)

    def check_memory(self, info, config):
        used = number(info, 'used_memory')
        limit = None
        source = None
        if config.get('maxmemory') is not None:
            try:
                limit, source = int(config['maxmemory']), 'config'
            except ValueError:
                limit = None
        if limit is None and number(info, 'maxmemory') is not None:
            limit, source = number(info, 'maxmemory'), 'info'
        self.server['maxmemory'] = limit
        self.server['maxmemory_source'] = source
        if used is None:
            self.report.unknown('memory', 'memory: INFO gave no used_memory', unit='percent')
            return
        self.report.add('used_memory', used, 'bytes', message='used_memory is %s' % human_bytes(used))
        thresholds = self.thresholds['memory']
        if limit is None:
            self.report.unknown('memory', 'memory: used %s; maxmemory is unknown (CONFIG GET was refused%s and '
                                          'INFO has no maxmemory field)' % (
                                              human_bytes(used), ': %s' % config['refused'] if 'refused' in config else ''),
                                unit='percent')
            return
        if limit > 0:
            percent = 100.0 * used / limit
            status = thresholds.judge(percent)
            self.report.add('memory', percent, 'percent', thresholds, status=status,
                            message='memory is %.1f%% of maxmemory (%s of %s, policy %s)%s' % (
                                percent, human_bytes(used), human_bytes(limit), info.get('maxmemory_policy', 'unknown'),
                                thresholds.note(status)))
            return
        host_total = number(info, 'total_system_memory')
        if self.params['memory_against_host'] and host_total:
            percent = 100.0 * used / host_total
            status = thresholds.judge(percent)
            self.report.add('memory', percent, 'percent', thresholds, status=status,
                            message='memory is %.1f%% of the host\'s memory (%s of %s; no maxmemory limit)%s' % (
                                percent, human_bytes(used), human_bytes(host_total), thresholds.note(status)))
            return
        if self.params['memory_against_host']:
            self.report.unknown('memory', 'memory: used %s; no maxmemory limit and INFO gives no '
                                          'total_system_memory to judge against' % human_bytes(used), unit='percent')
            return
        self.report.add('memory', None, 'percent', status=OK,
                        message='memory: used %s; no maxmemory limit is set (maxmemory 0), so it is not judged '
                                '(memory_against_host judges it against the host\'s memory)' % human_bytes(used))

    def check_clients(self, info, config):
        clients = number(info, 'connected_clients')
        if clients is None:
            self.report.unknown('connected_clients', 'connected_clients: INFO gave no connected_clients')
            return
        thresholds = self.thresholds['connected_clients']
        status = thresholds.judge(clients)
        self.report.add('connected_clients', clients, 'count', thresholds, status=status,
                        message='connected_clients is %d%s' % (clients, thresholds.note(status)))
        limit = None
        if config.get('maxclients') is not None:
            try:
                limit = int(config['maxclients'])
            except ValueError:
                limit = None
        if limit is None:
            limit = number(info, 'maxclients')
        self.server['maxclients'] = limit
        if not limit:
            self.report.unknown('clients', 'clients: %d connected; maxclients is unknown' % clients, unit='percent')
            return
        percent = 100.0 * clients / limit
        thresholds = self.thresholds['clients']
        status = thresholds.judge(percent)
        self.report.add('clients', percent, 'percent', thresholds, status=status,
                        message='clients is %.1f%% of maxclients (%d of %d)%s' % (
                            percent, clients, limit, thresholds.note(status)))

    def check_counters(self, info):
        uptime = number(info, 'uptime_in_seconds')
        since = ' since the server started %s ago' % human_duration(uptime) if uptime is not None else \
            ' since the server started'
        for name in ('rejected_connections', 'evicted_keys'):
            value = number(info, name)
            if value is None:
                self.report.unknown(name, '%s: INFO gave no %s' % (name, name), unit='count')
                continue
            thresholds = self.thresholds[name]
            status = thresholds.judge(value)
            self.report.add(name, value, 'count', thresholds, status=status,
                            message='%s is %d%s%s' % (name, value, since, thresholds.note(status)))
        evicted = number(info, 'evicted_keys')
        if evicted is not None and uptime:
            rate = float(evicted) / uptime
            thresholds = self.thresholds['evicted_keys_rate']
            status = thresholds.judge(rate)
            self.report.add('evicted_keys_rate', rate, '', thresholds, status=status,
                            message='evicted_keys_rate is %.4g keys/s over the server\'s uptime%s' % (
                                rate, thresholds.note(status)))

    def check_rdb(self, info, config):
        status_text = info.get('rdb_last_bgsave_status')
        if status_text is not None:
            if status_text == 'ok':
                self.report.add('rdb_bgsave', status_text, message='rdb_bgsave: the last RDB snapshot succeeded')
            else:
                self.report.add('rdb_bgsave', status_text, status=CRITICAL,
                                message='rdb_bgsave: the last RDB snapshot failed (rdb_last_bgsave_status %s)' % status_text)
        age = save_age(info, time.time())
        if age is None:
            return
        thresholds = self.thresholds['rdb_save_age']
        changes = number(info, 'rdb_changes_since_last_save') or 0
        save = config.get('save')
        self.server['save'] = save
        if save is not None and not save.strip():
            self.report.add('rdb_save_age', age, 'seconds', status=OK,
                            message='rdb_save_age: RDB snapshots are off (save is empty); last snapshot %s ago' % (
                                human_duration(age)))
            return
        if not changes:
            self.report.add('rdb_save_age', age, 'seconds', status=OK,
                            message='rdb_save_age: last snapshot %s ago, no changes since' % human_duration(age))
            return
        if save is None and number(info, 'rdb_last_bgsave_time_sec') in (None, -1):
            # CONFIG refused and no snapshot since the start: snapshots may well be off.
            self.report.add('rdb_save_age', age, 'seconds', status=OK,
                            message='rdb_save_age: no snapshot since the server started %s ago and the save setting '
                                    'cannot be read (CONFIG refused); not judged' % human_duration(age))
            return
        status = thresholds.judge(age)
        self.report.add('rdb_save_age', age, 'seconds', thresholds, status=status,
                        message='rdb_save_age: last snapshot %s ago, %d changes not saved%s%s' % (
                            human_duration(age), changes, '' if save is not None else ' (save setting unknown)',
                            thresholds.note(status)))

    def check_aof(self, info):
        if not number(info, 'aof_enabled'):
            self.report.add('aof', 'off', message='aof: append-only file is off')
            return
        failed = ['%s %s' % (key, info.get(key)) for key in ('aof_last_write_status', 'aof_last_bgrewrite_status')
                  if info.get(key) not in (None, 'ok')]
        if failed:
            self.report.add('aof', 'err', status=CRITICAL, message='aof: %s' % ', '.join(failed))
        else:
            self.report.add('aof', 'ok', message='aof: on, the last write and rewrite succeeded')

    def check_replication(self, info):
        lag_thresholds = self.thresholds['replication_lag']
        if is_replica(info):
            master = '%s:%s' % (info.get('master_host', '?'), info.get('master_port', '?'))
            link = info.get('master_link_status')
            self.server['master'] = master
            if link == 'up':
                self.report.add('master_link', 'up', target=master, message='master_link to %s is up' % master)
                lag = number(info, 'master_last_io_seconds_ago')
                if lag is not None and lag >= 0:
                    self.report.add('replication_lag', lag, 'seconds', lag_thresholds, target=master)
                return
            down = number(info, 'master_link_down_since_seconds')
            since = ''
            if down is not None and 0 <= down < 10 ** 9:
                since = ' for %s' % human_duration(down)
            self.report.add('master_link', link or 'unknown', target=master, status=CRITICAL,
                            message='master_link to %s is %s%s' % (master, link or 'not reported', since))
            return
        replicas = [value for key, value in sorted(info.items()) if isinstance(value, dict)]
        count = number(info, 'connected_slaves')
        self.server['connected_replicas'] = count
        if count is not None:
            thresholds = self.thresholds['connected_replicas']
            status = thresholds.judge(count)
            self.report.add('connected_replicas', count, 'count', thresholds, status=status,
                            message='connected_replicas is %d%s' % (count, thresholds.note(status)))
        for replica in replicas:
            target = '%s:%s' % (replica.get('ip', '?'), replica.get('port', '?'))
            state = replica.get('state')
            if state != 'online':
                # wait_bgsave, send_bulk: a replica that is (re)syncing.
                self.report.add('replica_state', state or 'unknown', target=target, status=WARNING,
                                message='replica %s is %s, not online' % (target, state or 'in no state'))
                continue
            try:
                lag = float(replica.get('lag'))
            except (TypeError, ValueError):
                continue
            if math.isfinite(lag) and lag >= 0:
                self.report.add('replication_lag', lag, 'seconds', lag_thresholds, target=target)


def main():
    argument_spec = status_argument_spec(thresholds=True)
    argument_spec.update(
        login_host=dict(type='str', default='127.0.0.1'),
        login_port=dict(type='int', default=6379),
        login_unix_socket=dict(type='path'),
        login_user=dict(type='str'),
        login_password=dict(type='str', no_log=True, fallback=(env_fallback, ['REDISCLI_AUTH'])),
        tls=dict(type='bool', default=False),
        ca_cert=dict(type='path'),
        connect_timeout=dict(type='float', default=5),
        command_timeout=dict(type='float', default=5),
        expected_role=dict(type='str', choices=['master', 'replica']),
        memory_against_host=dict(type='bool', default=False),
    )
    module = RunbookModule(argument_spec=argument_spec, supports_check_mode=True)
    RedisCheck(module).run()


if __name__ == '__main__':
    main()
