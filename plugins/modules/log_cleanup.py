#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: log_cleanup
short_description: Remove old log files, with a dry run in check mode, in the status model
version_added: 0.1.0
description:
  - Removes the files in O(paths) whose names match O(patterns) and that were last modified more
    than O(age) ago; the runbook's weekly cleanup (older than seven days).
  - In check mode nothing is removed; the result lists what would be.
  - Only regular files are removed; directories, symbolic links and files that do not match are
    never touched, and nothing outside O(paths) is looked at.
  - Reports the number of files and bytes in the status model; a file that cannot be removed is a
    V(WARNING).
extends_documentation_fragment:
  - fleetops.runbook.attributes
  - fleetops.runbook.status
attributes:
  check_mode:
    support: full
    details: A dry run that lists the files it would remove.
options:
  paths:
    description: Directories to clean (globs allowed). A path that does not exist is skipped.
    type: list
    elements: path
    required: true
  patterns:
    description:
      - File name patterns (shell globs) of the files that may be removed.
      - The default leaves rotated files (C(*.log.1), C(*.log.2.gz), C(*.gz)) alone, so that the
        retention of C(logrotate) policies (the runbook's 30 days) is not cut short by this cleanup.
        Add V(*.log.[0-9]*) and V(*.gz) only for directories that no C(logrotate) policy keeps.
    type: list
    elements: str
    default: ['*.log']
  age:
    description: Remove files last modified longer ago than this (seconds, or a number with s, m, h, d, w).
    type: str
    default: 7d
  recurse:
    description: Also look into subdirectories.
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: Weekly log cleanup (a dry run with --check)
  fleetops.runbook.log_cleanup:
    paths: [/srv/app/logs, /var/log/racepredictor]
    age: 7d

- name: Also rotated files, in a directory no logrotate policy keeps
  fleetops.runbook.log_cleanup:
    paths: [/srv/batch/logs]
    patterns: ['*.log', '*.log.[0-9]*', '*.gz']
    age: 30d
'''

RETURN = r'''
removed:
  description: The files removed (in check mode, the files that would be), with their sizes.
  returned: always
  type: list
  elements: dict
  sample: [{"path": "/srv/app/logs/app.log.3.gz", "size": 18211, "age_days": 9.2}]
bytes:
  description: Bytes freed (or that would be).
  returned: always
  type: int
errors:
  description: Files that could not be removed, with the reason.
  returned: always
  type: list
  elements: str
'''

import fnmatch
import glob
import os
import time

from ansible_collections.fleetops.runbook.plugins.module_utils.module import RunbookModule

from ansible_collections.fleetops.runbook.plugins.module_utils.status import (
    WARNING, CheckReport, ParameterError, finish, parse_duration, status_argument_spec)


class Cleanup:
    def __init__(self, module, age):
        self.module = module
        self.limit = time.time() - age
        self.removed = []
        self.errors = []

    def candidates(self, directory):
        if self.module.params['recurse']:
            for root, dirs, files in os.walk(directory):
                dirs.sort()
                for name in sorted(files):
                    yield os.path.join(root, name)
        else:
            for name in sorted(os.listdir(directory)):
                yield os.path.join(directory, name)

    def clean(self, directory):
        for path in self.candidates(directory):
            name = os.path.basename(path)
            if not any(fnmatch.fnmatch(name, p) for p in self.module.params['patterns']):
                continue
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if not os.path.isfile(path) or os.path.islink(path) or st.st_mtime >= self.limit:
                continue
            if not self.module.check_mode:
                try:
                    os.unlink(path)
                except OSError as exc:
                    self.errors.append('%s: %s' % (path, exc.strerror or exc))
                    continue
            self.removed.append({'path': path, 'size': st.st_size,
                                 'age_days': round((time.time() - st.st_mtime) / 86400, 1)})


def main():
    spec = status_argument_spec()
    spec.update(
        paths=dict(type='list', elements='path', required=True),
        patterns=dict(type='list', elements='str', default=['*.log']),
        age=dict(type='str', default='7d'),
        recurse=dict(type='bool', default=False),
    )
    module = RunbookModule(argument_spec=spec, supports_check_mode=True)
    try:
        age = parse_duration(module.params['age'], 'age')
    except ParameterError as exc:
        module.fail_json(msg=str(exc))
    if not module.params['patterns']:
        module.fail_json(msg='patterns: at least one file name pattern is needed')
    for path in module.params['paths']:
        if path.rstrip('/') in ('', '/etc', '/usr', '/bin', '/lib', '/boot'):
            module.fail_json(msg='paths: %s is not a log directory' % path)
    cleanup = Cleanup(module, age)
    looked = []
    for pattern in module.params['paths']:
        for directory in sorted(glob.glob(pattern)) if any(c in pattern for c in '*?[') else [pattern]:
            if os.path.isdir(directory):
                looked.append(directory)
                cleanup.clean(directory)
    report = CheckReport('log_cleanup')
    verb = 'would remove' if module.check_mode else 'removed'
    total = sum(item['size'] for item in cleanup.removed)
    report.add('log_cleanup', len(cleanup.removed), unit='count',
               target=', '.join(looked) or None,
               message='%s %d files (%d bytes) older than %s in %s' % (
                   verb, len(cleanup.removed), total, module.params['age'],
                   ', '.join(looked) or 'no existing directory'))
    if cleanup.errors:
        report.add('log_cleanup_errors', len(cleanup.errors), unit='count', status=WARNING,
                   message='%d files could not be removed: %s' % (
                       len(cleanup.errors), '; '.join(cleanup.errors[:5])))
    finish(module, report, changed=bool(cleanup.removed), removed=cleanup.removed, bytes=total,
           errors=cleanup.errors)


if __name__ == '__main__':
    main()
