#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: incident_evidence
short_description: Collect the evidence of a security or availability incident on a host
version_added: 0.1.0
description:
  - Collects what an incident responder needs before anything on the host is stopped or changed
    the process list, listening sockets, containers with their recent logs, application and
    system logs, the system journal, recent authentication failures and a resource snapshot.
  - Everything goes into a new directory, O(dest)/O(incident_id)/C(<label>-<UTC stamp>), with a
    C(SHA256SUMS) file (sha256sum format) and a C(manifest.json) that records every file's
    checksum, size and source; the directory is then packed into a gzip tar archive with its own
    C(.sha256) sidecar, ready to be fetched to the controller.
  - A collection that starts in the same second as an earlier one of the same incident and host
    (two alerts at once) takes the next name, C(<label>-<UTC stamp>_01) and so on, and never writes
    into the other's files.
  - Never deletes, truncates or moves anything; a source that cannot be read is recorded in the
    manifest as not collected, with the reason, and does not fail the collection.
  - Log files larger than O(log_max_bytes) are cut to their last O(log_max_bytes) bytes, and the
    manifest says so.
extends_documentation_fragment:
  - fleetops.runbook.attributes
attributes:
  check_mode:
    support: full
    details: Lists the sources it would collect and the archive it would write; writes nothing.
options:
  incident_id:
    description:
      - The incident this evidence belongs to; letters, digits, C(.), C(_) and C(-) only.
    type: str
    required: true
  dest:
    description:
      - Directory under which the evidence of each incident is kept (O(dest)/O(incident_id)).
      - Created with mode 0700 when missing.
    type: path
    default: /var/lib/fleetops/incidents
  collect:
    description:
      - What to collect.
      - V(processes) C(ps) with owners, start times, CPU and memory; V(sockets) listening TCP and
        UDP sockets with their processes (C(ss)); V(containers) the Docker containers, their
        inspection and recent logs, when a Docker engine answers; V(logs) the files of
        O(log_paths); V(journal) the systemd journal since O(since_hours); V(auth) the
        authentication failures since O(since_hours) from O(auth_log_paths) and the journal;
        V(resources) the O(resources) snapshot.
    type: list
    elements: str
    default: [processes, sockets, containers, logs, journal, auth, resources]
    choices: [processes, sockets, containers, logs, journal, auth, resources]
  log_paths:
    description:
      - Application and system log files to copy; glob patterns are expanded. A path that matches
        nothing is recorded as skipped.
    type: list
    elements: str
    default: [/var/log/syslog, /var/log/messages, /var/log/nginx/*.log]
  log_max_bytes:
    description: The most bytes copied from one log file (its end).
    type: int
    default: 52428800
  auth_log_paths:
    description: Files searched for authentication failures.
    type: list
    elements: str
    default: [/var/log/auth.log, /var/log/secure]
  since_hours:
    description: How far back the journal and the authentication failures go (more than 0, at most 87600).
    type: float
    default: 24
  container_log_lines:
    description: Lines of each container's log to keep.
    type: int
    default: 2000
  resources:
    description:
      - A resource snapshot to store as C(resources.json), normally the registered result of
        M(fleetops.runbook.resource_check).
      - A registered result that failed (C(failed=true), for example psutil missing on the host) is
        not stored; the source C(resources) is listed in RV(not_collected) with its message, so the
        manifest says why the snapshot is missing and the rest is still collected.
    type: dict
  label:
    description: Name of the host in the archive name and the manifest; defaults to the host name.
    type: str
notes:
  - Run it with C(become=true); most sources are readable by root only. The evidence directory and
    files are created with modes 0700 and 0600, since logs may hold personal data and secrets.
seealso:
  - module: fleetops.runbook.resource_check
'''

EXAMPLES = r'''
- name: Take a resource snapshot
  fleetops.runbook.resource_check:
    top_processes: 10
    fail_on: never
  register: snapshot

- name: Collect the evidence of incident INC-2025-0042
  fleetops.runbook.incident_evidence:
    incident_id: INC-2025-0042
    log_paths:
      - /var/log/racepredictor/*.log
      - /var/log/nginx/*.log
      - /var/log/syslog
    resources: "{{ snapshot }}"
  become: true
  register: evidence

- name: Fetch the archive to the controller
  ansible.builtin.fetch:
    src: "{{ evidence.archive }}"
    dest: "incidents/INC-2025-0042/{{ inventory_hostname }}/"
    flat: true
'''

RETURN = r'''
directory:
  description: The evidence directory on the host.
  returned: always
  type: str
  sample: /var/lib/fleetops/incidents/INC-2025-0042/web1-20250119T101500Z
archive:
  description: The gzip tar archive of that directory.
  returned: always
  type: str
  sample: /var/lib/fleetops/incidents/INC-2025-0042/evidence-web1-20250119T101500Z.tar.gz
archive_sha256:
  description: SHA-256 of the archive (also in the C(.sha256) sidecar next to it); null in check mode.
  returned: always
  type: str
manifest:
  description: Path of the manifest next to the archive.
  returned: always
  type: str
files:
  description: Every collected file.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Path inside the evidence directory.
      type: str
      sample: logs/var/log/syslog
    source:
      description: Where it came from (a path or a command).
      type: str
    size:
      description: Size in bytes.
      type: int
    sha256:
      description: SHA-256 of the file.
      type: str
    truncated:
      description: True when only the end of a larger log file was copied.
      type: bool
not_collected:
  description: Sources that could not be collected, with the reason.
  returned: always
  type: list
  elements: dict
  sample: [{"source": "containers", "reason": "docker is not installed"}]
auth_failures:
  description: Authentication failures found since O(since_hours), with the sources that failed most.
  returned: always
  type: dict
  sample: {"count": 41, "top_sources": [{"source": "203.0.113.7", "count": 38}]}
'''

import datetime
import glob
import hashlib
import json
import os
import re
import shutil
import socket
import tarfile
import time

from ansible_collections.fleetops.runbook.plugins.module_utils.module import RunbookModule

from ansible_collections.fleetops.runbook.plugins.module_utils.regular_file import FileRefused, open_regular
from ansible_collections.fleetops.runbook.plugins.module_utils.status import finite_number

COLLECT = ['processes', 'sockets', 'containers', 'logs', 'journal', 'auth', 'resources']
ID_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$')
AUTH_FAILURE_RE = re.compile(
    r'(Failed password|Invalid user|authentication failure|Failed publickey|'
    r'maximum authentication attempts|Connection closed by authenticating user|'
    r'FAILED LOGIN|Did not receive identification)', re.I)
SOURCE_IP_RE = re.compile(r'(?:from|rhost=)\s*(\d{1,3}(?:\.\d{1,3}){3}|[0-9a-fA-F:]{3,39})\b')
SYSLOG_TIME_RE = re.compile(r'^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})|^([A-Z][a-z]{2}\s+\d+ \d{2}:\d{2}:\d{2})')


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


# Collections of one incident and host started within the same second keep their own files:
# <label>-<stamp>, then <label>-<stamp>_01 ... _99.
SAME_SECOND = 99


class Evidence:
    """One evidence directory, filled source by source."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.files = []
        self.skipped = []
        self.plan = []
        self.auth_found = {'count': 0, 'top_sources': []}
        self.stamp = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ')
        self.label = re.sub(r'[^A-Za-z0-9._-]', '_', self.params['label'] or socket.gethostname())
        self.incident_dir = os.path.join(self.params['dest'], self.params['incident_id'])
        self._name('%s-%s' % (self.label, self.stamp))

    def _name(self, name):
        self.name = name
        self.directory = os.path.join(self.incident_dir, name)
        self.archive = os.path.join(self.incident_dir, 'evidence-%s.tar.gz' % name)
        self.manifest_path = os.path.join(self.incident_dir, 'evidence-%s.manifest.json' % name)

    def _taken(self):
        return any(os.path.lexists(path) for path in (self.directory, self.archive, self.archive + '.partial',
                                                      self.manifest_path))

    def claim(self):
        """Take a name of its own: a collection that starts in the same second as an earlier one of
        this incident and host (two alerts at once) gets the next suffix, _01 to _99, and never
        writes into the other's files. In check mode, the name a run would take."""
        base = self.name
        for number in range(SAME_SECOND + 1):
            self._name(base if number == 0 else '%s_%02d' % (base, number))
            if self._taken():
                continue
            if self.module.check_mode:
                return
            try:
                os.mkdir(self.directory, 0o700)
            except FileExistsError:
                continue
            return
        self.module.fail_json(msg='dest: %d evidence collections of %s already started at %s under %s; '
                                  'nothing was written' % (SAME_SECOND + 1, self.label, self.stamp, self.incident_dir))

    # -- writing ---------------------------------------------------------------------------------

    def _path(self, name):
        path = os.path.join(self.directory, name)
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            os.makedirs(parent, mode=0o700)
        return path

    def _record(self, name, source, truncated=False):
        path = os.path.join(self.directory, name)
        self.files.append({'name': name, 'source': source, 'size': os.path.getsize(path),
                           'sha256': sha256_of(path), 'truncated': truncated})

    def write_text(self, name, source, text):
        path = self._path(name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, 'w') as handle:
            handle.write(text)
        self._record(name, source)

    def copy_tail(self, name, source):
        path = self._path(name)
        size = os.path.getsize(source)
        limit = self.params['log_max_bytes']
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(source, 'rb') as src, os.fdopen(fd, 'wb') as dst:
            if size > limit:
                src.seek(size - limit)
            shutil.copyfileobj(src, dst, 1 << 20)
        self._record(name, source, truncated=size > limit)

    def skip(self, source, reason):
        self.skipped.append({'source': source, 'reason': reason})

    def command(self, name, argv, source=None):
        """Run a read-only command and keep its output; a missing program is a skip, not a failure."""
        program = self.module.get_bin_path(argv[0])
        label = source or ' '.join(argv)
        if program is None:
            self.skip(label, '%s is not installed' % argv[0])
            return None
        if self.module.check_mode:
            self.plan.append(label)
            return None
        rc, out, err = self.module.run_command([program] + argv[1:], errors='surrogate_or_replace')
        if rc != 0:
            self.skip(label, 'exit code %d: %s' % (rc, (err or out).strip()[-500:]))
            return None
        self.write_text(name, label, out)
        return out

    # -- sources ---------------------------------------------------------------------------------

    def processes(self):
        self.command('processes.txt', ['ps', '-eo',
                                       'pid,ppid,user,lstart,etime,pcpu,pmem,rss,stat,tty,args',
                                       '--sort=-pcpu', '-ww'])

    def sockets(self):
        self.command('sockets.txt', ['ss', '-tulpnaH'])

    def containers(self):
        docker = self.module.get_bin_path('docker')
        if docker is None:
            self.skip('containers', 'docker is not installed')
            return
        rc, dummy, err = self.module.run_command([docker, 'info', '--format', '{{.ID}}'])
        if rc != 0:
            self.skip('containers', 'the Docker engine does not answer: %s' % err.strip()[-300:])
            return
        out = self.command('containers/ps.jsonl', ['docker', 'ps', '--all', '--no-trunc',
                                                   '--format', '{{json .}}'])
        if self.module.check_mode:
            self.plan.append('docker inspect and logs of every container')
            return
        ids = []
        for line in (out or '').splitlines():
            try:
                ids.append(json.loads(line)['ID'])
            except (ValueError, KeyError):
                continue
        if ids:
            self.command('containers/inspect.json', ['docker', 'inspect'] + ids)
        for cid in ids:
            rc, out, err = self.module.run_command(
                [docker, 'logs', '--timestamps', '--tail', str(self.params['container_log_lines']),
                 cid], errors='surrogate_or_replace')
            if rc != 0:
                self.skip('docker logs %s' % cid[:12], err.strip()[-300:])
                continue
            # docker logs writes the container's stderr to ours: keep both.
            self.write_text('containers/%s.log' % cid[:12], 'docker logs %s' % cid[:12],
                            out + (('\n--- stderr ---\n' + err) if err else ''))

    def _matches(self, patterns):
        found = []
        for pattern in patterns:
            paths = sorted(glob.glob(pattern)) if any(c in pattern for c in '*?[') else (
                [pattern] if os.path.exists(pattern) else [])
            if not paths:
                self.skip(pattern, 'no such file')
            found.extend(p for p in paths if p not in found)
        return found

    def logs(self):
        for path in self._matches(self.params['log_paths']):
            if not os.path.isfile(path):
                self.skip(path, 'not a regular file')
                continue
            if self.module.check_mode:
                self.plan.append(path)
                continue
            try:
                self.copy_tail('logs' + os.path.abspath(path), path)
            except (IOError, OSError) as exc:
                self.skip(path, exc.strerror or str(exc))

    def journal(self):
        self.command('journal.txt', ['journalctl', '--no-pager', '--output=short-iso',
                                     '--since=-%dmin' % int(self.params['since_hours'] * 60)],
                     source='journalctl (last %s h)' % self.params['since_hours'])

    def auth(self):
        since = time.time() - self.params['since_hours'] * 3600
        lines = []
        for path in self._matches(self.params['auth_log_paths']):
            if self.module.check_mode:
                self.plan.append('authentication failures in %s' % path)
                continue
            try:
                # A FIFO or a device would hold the read forever.
                fd, st = open_regular(path, 'auth_log_paths')
                with os.fdopen(fd, 'r', errors='replace') as handle:
                    if st.st_mtime < since:
                        continue
                    lines.extend(line.rstrip('\n') for line in handle
                                 if AUTH_FAILURE_RE.search(line) and self._recent(line, since))
            except FileRefused as exc:
                self.skip(path, exc.msg)
            except (IOError, OSError) as exc:
                self.skip(path, exc.strerror or str(exc))
        journalctl = self.module.get_bin_path('journalctl')
        if journalctl and not self.module.check_mode:
            rc, out, dummy = self.module.run_command(
                [journalctl, '--no-pager', '--output=short-iso', '--facility=auth,authpriv',
                 '--since=-%dmin' % int(self.params['since_hours'] * 60)],
                errors='surrogate_or_replace')
            if rc == 0:
                lines.extend(line for line in out.splitlines()
                             if AUTH_FAILURE_RE.search(line) and line not in lines)
        if self.module.check_mode:
            return
        counts = {}
        for line in lines:
            match = SOURCE_IP_RE.search(line)
            if match:
                counts[match.group(1)] = counts.get(match.group(1), 0) + 1
        top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:20]
        self.auth_found = {'count': len(lines),
                           'top_sources': [{'source': s, 'count': c} for s, c in top]}
        self.write_text('auth_failures.txt', 'authentication failures (last %s h)'
                        % self.params['since_hours'], '\n'.join(lines) + ('\n' if lines else ''))

    @staticmethod
    def _recent(line, since):
        match = SYSLOG_TIME_RE.match(line)
        if not match:
            return True
        try:
            if match.group(1):
                stamp = datetime.datetime.strptime(match.group(1), '%Y-%m-%dT%H:%M:%S')
            else:
                now = datetime.datetime.now()
                stamp = datetime.datetime.strptime('%d %s' % (now.year, ' '.join(
                    match.group(2).split())), '%Y %b %d %H:%M:%S')
                if stamp > now + datetime.timedelta(days=1):
                    stamp = stamp.replace(year=now.year - 1)
        except ValueError:
            return True
        return time.mktime(stamp.timetuple()) >= since - 3600

    def resources(self):
        snapshot = self.params['resources']
        if not snapshot:
            self.skip('resources', 'no resource snapshot was given')
            return
        if snapshot.get('failed'):
            self.skip('resources', 'the resource snapshot failed: %s'
                      % (snapshot.get('msg') or 'no message'))
            return
        if self.module.check_mode:
            self.plan.append('resource snapshot')
            return
        snapshot = dict((k, v) for k, v in snapshot.items() if k != 'invocation')
        self.write_text('resources.json', 'resource snapshot',
                        json.dumps(snapshot, indent=2, sort_keys=True, default=str) + '\n')

    # -- the whole run ---------------------------------------------------------------------------

    def manifest(self):
        return {
            'incident_id': self.params['incident_id'],
            'host': self.label,
            'collected_at': self.stamp,
            'files': self.files,
            'not_collected': self.skipped,
            'auth_failures': self.auth_found,
        }

    def run(self):
        if not self.module.check_mode:
            for path in (self.params['dest'], self.incident_dir):
                if not os.path.isdir(path):
                    os.makedirs(path, mode=0o700)
        self.claim()
        for source in self.params['collect']:
            getattr(self, source)()
        if self.module.check_mode:
            return {'changed': True, 'directory': self.directory, 'archive': self.archive,
                    'archive_sha256': None, 'manifest': self.manifest_path, 'files': [],
                    'would_collect': self.plan, 'not_collected': self.skipped,
                    'auth_failures': self.auth_found}
        sums = ''.join('%s  %s\n' % (f['sha256'], f['name']) for f in self.files)
        self.write_text('SHA256SUMS', 'checksums of the files above', sums)
        self.files.pop()
        text = json.dumps(self.manifest(), indent=2, sort_keys=True) + '\n'
        self.write_text('manifest.json', 'this manifest', text)
        self.files.pop()
        partial = self.archive + '.partial'
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, 'wb') as handle:
            with tarfile.open(fileobj=handle, mode='w:gz') as tar:
                tar.add(self.directory, arcname=self.name)
        os.rename(partial, self.archive)
        digest = sha256_of(self.archive)
        for path, content in ((self.archive + '.sha256', '%s  %s\n' % (
                digest, os.path.basename(self.archive))), (self.manifest_path, text)):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, 'w') as handle:
                handle.write(content)
        return {'changed': True, 'directory': self.directory, 'archive': self.archive,
                'archive_sha256': digest, 'manifest': self.manifest_path, 'files': self.files,
                'not_collected': self.skipped, 'auth_failures': self.auth_found}


def main():
    module = RunbookModule(
        argument_spec=dict(
            incident_id=dict(type='str', required=True),
            dest=dict(type='path', default='/var/lib/fleetops/incidents'),
            collect=dict(type='list', elements='str', default=list(COLLECT), choices=COLLECT),
            log_paths=dict(type='list', elements='str',
                           default=['/var/log/syslog', '/var/log/messages', '/var/log/nginx/*.log']),
            log_max_bytes=dict(type='int', default=52428800),
            auth_log_paths=dict(type='list', elements='str',
                                default=['/var/log/auth.log', '/var/log/secure']),
            since_hours=dict(type='float', default=24),
            container_log_lines=dict(type='int', default=2000),
            resources=dict(type='dict'),
            label=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not ID_RE.match(params['incident_id']):
        module.fail_json(msg="incident_id: %r may hold only letters, digits, '.', '_' and '-' "
                             "(at most 128, starting with a letter or digit)" % params['incident_id'])
    if params['log_max_bytes'] < 1:
        module.fail_json(msg='log_max_bytes: must be at least 1')
    try:
        # Ten years: further back than any log is kept.
        finite_number(params['since_hours'], 'since_hours', above=0, maximum=87600)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    if params['container_log_lines'] < 0:
        module.fail_json(msg='container_log_lines: must be 0 or more')
    if not os.path.isabs(params['dest']):
        module.fail_json(msg='dest: %s must be an absolute path' % params['dest'])
    evidence = Evidence(module)
    try:
        result = evidence.run()
    except (IOError, OSError) as exc:
        module.fail_json(msg='dest: cannot write the evidence under %s: %s' % (
            evidence.incident_dir, exc.strerror or exc))
    module.exit_json(**result)


if __name__ == '__main__':
    main()
