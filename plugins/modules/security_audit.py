#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: security_audit
short_description: Audit a host for signs of attack and weak spots, in the status model
version_added: 0.1.0
description:
  - V(access_log) counts the 401 and 403 answers of the web server's access logs over the last
    O(since_hours) and names the addresses that sent the most requests (the runbook alerts above
    ten failed logins a day).
  - V(etc_changes) lists the files under C(/etc) (O(etc_paths)) changed in the last O(since_hours).
  - V(listening_ports) lists the TCP and UDP ports listening on addresses other than loopback, and
    judges those not in O(allowed_ports) when that list is given.
  - V(world_writable) finds world-writable files and directories (without the sticky bit) under
    O(world_writable_paths).
  - V(security_upgrades) and V(upgrades) count the pending package upgrades APT would install
    (a simulation, from the package lists as they are).
  - Reads only; changes nothing.
extends_documentation_fragment:
  - fleetops.runbook.attributes
  - fleetops.runbook.status
attributes:
  platform:
    platforms: debian
options:
  checks:
    description: Which audits to run.
    type: list
    elements: str
    default: [access_log, etc_changes, listening_ports, world_writable, security_upgrades]
    choices: [access_log, etc_changes, listening_ports, world_writable, security_upgrades, upgrades]
  access_logs:
    description:
      - Web server access logs in the combined format (globs allowed).
      - A match that is not a regular file (a directory, FIFO or device) or cannot be read is
        reported as V(UNKNOWN) naming the path; the other logs are still counted.
    type: list
    elements: str
    default: [/var/log/nginx/access.log]
  since_hours:
    description: How far back the access logs and the changes under /etc are read (more than 0, at most 87600).
    type: float
    default: 24
  top_sources:
    description: How many of the busiest source addresses to return.
    type: int
    default: 5
  etc_paths:
    description: Directories searched for changed files.
    type: list
    elements: path
    default: [/etc]
  allowed_ports:
    description:
      - Ports expected to listen on non-loopback addresses, as V(22) or V(22/tcp). Empty lists the
        ports without judging them.
    type: list
    elements: str
    default: []
  world_writable_paths:
    description: Directories searched for world-writable files.
    type: list
    elements: path
    default: [/etc, /usr/local, /var/www, /srv, /opt]
  thresholds:
    description:
      - Warning and critical ranges per check, merged over the defaults.
      - V(auth_errors) 401/403 answers (warning V(~:10)); V(etc_changes) changed files (warning
        V(~:0)); V(unexpected_ports) (warning V(~:0)); V(world_writable) (critical V(~:0));
        V(security_upgrades) (warning V(~:0)); V(upgrades) (no default range).
    type: dict
    default: {}
'''

EXAMPLES = r'''
- name: Daily security audit
  fleetops.runbook.security_audit:
    allowed_ports: [22/tcp, 80/tcp, 443/tcp]
    fail_on: never
  become: true
  register: audit
'''

RETURN = r'''
access_log:
  description: The 401 and 403 answers and the busiest sources.
  returned: when V(access_log) is checked
  type: dict
  sample: {"requests": 5120, "auth_errors": 41, "top_sources": [{"source": "203.0.113.7", "requests": 3900}]}
etc_changes:
  description: Files changed under O(etc_paths) (at most 100).
  returned: when V(etc_changes) is checked
  type: list
  elements: str
listening_ports:
  description: Listening sockets on non-loopback addresses, as C(port/proto address).
  returned: when V(listening_ports) is checked
  type: list
  elements: str
world_writable:
  description: World-writable paths found (at most 100).
  returned: when V(world_writable) is checked
  type: list
  elements: str
upgrades:
  description: Pending upgrades, each with C(package), C(version) and C(security).
  returned: when V(upgrades) or V(security_upgrades) is checked
  type: list
  elements: dict
'''

import datetime
import glob
import os
import re
import stat
import time

from ansible_collections.fleetops.runbook.plugins.module_utils.module import RunbookModule

from ansible_collections.fleetops.runbook.plugins.module_utils.regular_file import FileRefused, open_regular
from ansible_collections.fleetops.runbook.plugins.module_utils.status import (
    UNKNOWN, CheckReport, finish, finite_number, parse_thresholds, range_note, status_argument_spec)

# Ten years: further back than any log is kept.
MAX_SINCE_HOURS = 87600

CHECKS = ['access_log', 'etc_changes', 'listening_ports', 'world_writable', 'security_upgrades',
          'upgrades']
DEFAULT_THRESHOLDS = {
    'auth_errors': {'warning': '~:10', 'critical': None},
    'etc_changes': {'warning': '~:0', 'critical': None},
    'unexpected_ports': {'warning': '~:0', 'critical': None},
    'world_writable': {'warning': None, 'critical': '~:0'},
    'security_upgrades': {'warning': '~:0', 'critical': None},
    'upgrades': {'warning': None, 'critical': None},
}
ACCESS_RE = re.compile(r'^(\S+) \S+ \S+ \[([^\]]+)\] "[^"]*" (\d{3}) ')
INST_RE = re.compile(r'^Inst (\S+) (?:\[[^\]]*\] )?\((\S+) ([^)]*)\)')
LOOPBACK = ('127.', '::1', '0000:0000:0000:0000:0000:0000:0000:0001')
TCP_LISTEN = '0A'
LIMIT = 100


def _proc_addr(text):
    address, port = text.split(':')
    if len(address) == 8:
        raw = bytes.fromhex(address)[::-1]
        shown = '.'.join(str(b) for b in raw)
    else:
        words = [address[i:i + 8] for i in range(0, 32, 8)]
        raw = b''.join(bytes.fromhex(w)[::-1] for w in words)
        shown = ':'.join(raw[i:i + 2].hex() for i in range(0, 16, 2))
    return shown, int(port, 16)


class Audit:
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.report = CheckReport('security_audit')
        self.extra = {}
        self.since = time.time() - self.params['since_hours'] * 3600
        try:
            self.thresholds = parse_thresholds(self.params['thresholds'], DEFAULT_THRESHOLDS)
        except ValueError as exc:
            module.fail_json(msg=str(exc))

    def _count_access(self, handle):
        """Requests, 401/403 answers and requests per source since ``self.since`` in one log."""
        requests, errors, sources = 0, 0, {}
        for line in handle:
            match = ACCESS_RE.match(line)
            if not match:
                continue
            try:
                when = datetime.datetime.strptime(match.group(2), '%d/%b/%Y:%H:%M:%S %z')
            except ValueError:
                continue
            if when.timestamp() < self.since:
                continue
            requests += 1
            sources[match.group(1)] = sources.get(match.group(1), 0) + 1
            if match.group(3) in ('401', '403'):
                errors += 1
        return requests, errors, sources

    def access_log(self):
        paths = []
        for pattern in self.params['access_logs']:
            paths.extend(sorted(glob.glob(pattern)))
        if not paths:
            self.report.unknown('auth_errors', 'no access log found at %s' % ', '.join(
                self.params['access_logs']))
            return
        requests, errors, sources, read = 0, 0, {}, []
        for path in paths:
            try:
                fd, st = open_regular(path, 'access_logs')
            except FileRefused as exc:
                self.report.unknown('auth_errors', exc.msg, target=path)
                continue
            except (IOError, OSError) as exc:
                self.report.unknown('auth_errors', 'access_logs: cannot read %s: %s' % (path, exc.strerror or exc),
                                    target=path)
                continue
            with os.fdopen(fd, 'r', errors='replace') as handle:
                if st.st_mtime < self.since:
                    read.append(path)
                    continue
                try:
                    counted = self._count_access(handle)
                except (IOError, OSError) as exc:
                    # A regular file that cannot be read through (/proc/self/mem, a failing disk).
                    self.report.unknown('auth_errors', 'access_logs: cannot read %s: %s' % (
                        path, exc.strerror or exc), target=path)
                    continue
                read.append(path)
                requests += counted[0]
                errors += counted[1]
                for source, count in counted[2].items():
                    sources[source] = sources.get(source, 0) + count
        if not read:
            return
        top = sorted(sources.items(), key=lambda item: (-item[1], item[0]))[:self.params['top_sources']]
        self.extra['access_log'] = {'requests': requests, 'auth_errors': errors,
                                    'top_sources': [{'source': s, 'requests': n} for s, n in top]}
        check = self.report.add('auth_errors', errors, unit='count', target=', '.join(read),
                                thresholds=self.thresholds['auth_errors'])
        check['message'] = '%d of %d requests answered 401/403 in the last %s h%s%s' % (
            errors, requests, self.params['since_hours'],
            ('; busiest sources: ' + ', '.join('%s (%d)' % item for item in top)) if top else '',
            range_note(check))

    def etc_changes(self):
        changed = []
        for top in self.params['etc_paths']:
            for root, dirs, files in os.walk(top):
                dirs.sort()
                for name in sorted(files):
                    path = os.path.join(root, name)
                    try:
                        if os.lstat(path).st_mtime >= self.since:
                            changed.append(path)
                    except OSError:
                        continue
        self.extra['etc_changes'] = changed[:LIMIT]
        check = self.report.add('etc_changes', len(changed), unit='count',
                                target=', '.join(self.params['etc_paths']),
                                thresholds=self.thresholds['etc_changes'])
        check['message'] = '%d files changed under %s in the last %s h%s%s' % (
            len(changed), ', '.join(self.params['etc_paths']), self.params['since_hours'],
            (': ' + ', '.join(changed[:10])) if changed else '', range_note(check))

    def listening_ports(self):
        found = set()
        for proto, files in (('tcp', ('/proc/net/tcp', '/proc/net/tcp6')),
                             ('udp', ('/proc/net/udp', '/proc/net/udp6'))):
            for path in files:
                try:
                    with open(path) as handle:
                        lines = handle.readlines()[1:]
                except (IOError, OSError):
                    continue
                for line in lines:
                    fields = line.split()
                    if proto == 'tcp' and fields[3] != TCP_LISTEN:
                        continue
                    if proto == 'udp' and fields[2].split(':')[0].strip('0') != '':
                        continue
                    address, port = _proc_addr(fields[1])
                    if address.startswith(LOOPBACK):
                        continue
                    found.add((port, proto, address))
        listening = ['%d/%s %s' % item for item in sorted(found)]
        self.extra['listening_ports'] = listening
        allowed = set()
        for item in self.params['allowed_ports']:
            port, dummy, proto = str(item).partition('/')
            allowed.add((int(port), proto or 'tcp'))
        if not self.params['allowed_ports']:
            self.report.add('listening_ports', len(found), unit='count',
                            message='%d sockets listen beyond loopback: %s' % (
                                len(found), ', '.join(listening) or 'none'))
            return
        unexpected = sorted(set('%d/%s' % (p, pr) for p, pr, a in found if (p, pr) not in allowed))
        check = self.report.add('unexpected_ports', len(unexpected), unit='count',
                                thresholds=self.thresholds['unexpected_ports'])
        check['message'] = '%d unexpected ports listen beyond loopback%s%s' % (
            len(unexpected), (': ' + ', '.join(unexpected)) if unexpected else '',
            range_note(check))

    def world_writable(self):
        found = []
        for top in self.params['world_writable_paths']:
            for root, dirs, files in os.walk(top):
                dirs.sort()
                for name in dirs + files:
                    path = os.path.join(root, name)
                    try:
                        st = os.lstat(path)
                    except OSError:
                        continue
                    if stat.S_ISLNK(st.st_mode) or not st.st_mode & stat.S_IWOTH:
                        continue
                    if stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX:
                        continue
                    found.append(path)
        self.extra['world_writable'] = found[:LIMIT]
        check = self.report.add('world_writable', len(found), unit='count',
                                target=', '.join(self.params['world_writable_paths']),
                                thresholds=self.thresholds['world_writable'])
        check['message'] = '%d world-writable paths%s%s' % (
            len(found), (': ' + ', '.join(found[:10])) if found else '', range_note(check))

    def _upgrades(self):
        if 'upgrades' in self.extra:
            return self.extra['upgrades']
        apt_get = self.module.get_bin_path('apt-get')
        if apt_get is None:
            self.extra['upgrades'] = None
            return None
        rc, out, err = self.module.run_command([apt_get, '-s', '-o', 'Debug::NoLocking=1',
                                                'dist-upgrade'], environ_update={'LC_ALL': 'C'})
        if rc != 0:
            self.extra['upgrades'] = None
            self.extra['upgrades_error'] = err.strip()[-500:]
            return None
        items = []
        for line in out.splitlines():
            match = INST_RE.match(line)
            if match:
                items.append({'package': match.group(1), 'version': match.group(2),
                              'security': '-security' in match.group(3) or
                                          'Security' in match.group(3)})
        self.extra['upgrades'] = items
        return items

    def _upgrade_check(self, name, security_only):
        items = self._upgrades()
        if items is None:
            self.report.add(name, None, status=UNKNOWN, message='apt-get could not simulate the '
                            'upgrade: %s' % self.extra.get('upgrades_error', 'apt-get not found'))
            return
        chosen = [i for i in items if i['security'] or not security_only]
        check = self.report.add(name, len(chosen), unit='count', thresholds=self.thresholds[name])
        check['message'] = '%d pending %supgrades%s%s' % (
            len(chosen), 'security ' if security_only else '',
            (': ' + ', '.join(i['package'] for i in chosen[:10])) if chosen else '',
            range_note(check))

    def security_upgrades(self):
        self._upgrade_check('security_upgrades', True)

    def upgrades(self):
        self._upgrade_check('upgrades', False)

    def run(self):
        for name in CHECKS:
            if name in self.params['checks']:
                getattr(self, name)()
        finish(self.module, self.report, **self.extra)


def main():
    spec = status_argument_spec()
    spec.update(
        checks=dict(type='list', elements='str', choices=CHECKS,
                    default=['access_log', 'etc_changes', 'listening_ports', 'world_writable',
                             'security_upgrades']),
        access_logs=dict(type='list', elements='str', default=['/var/log/nginx/access.log']),
        since_hours=dict(type='float', default=24),
        top_sources=dict(type='int', default=5),
        etc_paths=dict(type='list', elements='path', default=['/etc']),
        allowed_ports=dict(type='list', elements='str', default=[]),
        world_writable_paths=dict(type='list', elements='path',
                                  default=['/etc', '/usr/local', '/var/www', '/srv', '/opt']),
        thresholds=dict(type='dict', default={}),
    )
    module = RunbookModule(argument_spec=spec, supports_check_mode=True)
    try:
        finite_number(module.params['since_hours'], 'since_hours', above=0, maximum=MAX_SINCE_HOURS)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    for item in module.params['allowed_ports']:
        port, dummy, proto = str(item).partition('/')
        if not port.isdigit() or not 1 <= int(port) <= 65535 or proto not in ('', 'tcp', 'udp'):
            module.fail_json(msg='allowed_ports: %r is not a port such as 22 or 53/udp' % item)
    Audit(module).run()


if __name__ == '__main__':
    main()
