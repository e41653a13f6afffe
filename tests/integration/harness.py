# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs Ansible for real from tests and returns parsed results.

Every run goes through ``ansible-playbook`` with the ``ansible.posix.json`` stdout callback, so a
test sees exactly what a user's playbook would register.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / '.cache' / 'collections'
DEMO_INVENTORY = REPO / 'inventory' / 'demo'


def ansible_env(extra=None):
    """Environment for ansible-playbook: this checkout as fleetops.runbook, the venv's tools first."""
    env = dict(os.environ)
    env['ANSIBLE_CONFIG'] = str(REPO / 'ansible.cfg')
    env['ANSIBLE_COLLECTIONS_PATH'] = str(COLLECTIONS)
    env['ANSIBLE_NOCOLOR'] = '1'
    env['ANSIBLE_FORCE_COLOR'] = '0'
    env['ANSIBLE_DEPRECATION_WARNINGS'] = '0'
    env['ANSIBLE_LOCALHOST_WARNING'] = '0'
    env['PATH'] = os.pathsep.join([str(Path(sys.executable).parent), env.get('PATH', '')])
    if extra:
        env.update(extra)
    return env


def _same_task(full, name):
    # Role tasks are shown as '<role> : <task name>'.
    return full == name or full.endswith(' : ' + name)


class PlaybookResult:
    """Parsed output of one ansible-playbook run (json callback)."""

    def __init__(self, proc, data):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.data = data

    @property
    def tasks(self):
        for play in (self.data or {}).get('plays', []):
            yield from play.get('tasks', [])

    def task(self, name, host='localhost'):
        """Result of the task called ``name`` on ``host`` (the last one, if several share it)."""
        found = None
        for task in self.tasks:
            if _same_task(task['task']['name'], name) and host in task['hosts']:
                found = task['hosts'][host]
        if found is None:
            raise KeyError('no result for task %r on %s:\n%s\n%s' % (
                name, host, self.stdout[-4000:], self.stderr[-4000:]))
        return found

    @property
    def stats(self):
        return (self.data or {}).get('stats', {})

    def __repr__(self):
        return '<PlaybookResult rc=%s>\nSTDOUT:\n%s\nSTDERR:\n%s' % (
            self.rc, self.stdout[-6000:], self.stderr[-3000:])


class AnsibleRunner:
    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.counter = 0

    def _next(self, suffix):
        self.counter += 1
        return self.workdir / ('run%03d_%s' % (self.counter, suffix))

    def playbook(self, playbook, inventory=None, extra_vars=None, check=False, diff=False,
                 verbosity=0, callback='ansible.posix.json', env=None, args=(), timeout=900):
        """Run a playbook (a path, or a list of plays to write out) and return a PlaybookResult."""
        if not isinstance(playbook, (str, Path)):
            path = self._next('playbook.yml')
            path.write_text(yaml.safe_dump(playbook, sort_keys=False))
            playbook = path
        cmd = ['ansible-playbook', str(playbook), '-i', str(inventory or DEMO_INVENTORY)]
        if extra_vars:
            vars_file = self._next('vars.json')
            vars_file.write_text(json.dumps(extra_vars))
            cmd += ['-e', '@%s' % vars_file]
        if check:
            cmd.append('--check')
        if diff:
            cmd.append('--diff')
        if verbosity:
            cmd.append('-' + 'v' * verbosity)
        cmd += list(args)
        run_env = ansible_env(env)
        run_env['ANSIBLE_STDOUT_CALLBACK'] = callback
        proc = subprocess.run(cmd, cwd=str(REPO), env=run_env, capture_output=True, text=True,
                              timeout=timeout, check=False)
        data = None
        if callback == 'ansible.posix.json':
            try:
                data = json.loads(proc.stdout[proc.stdout.index('{'):])
            except ValueError:
                data = None
        return PlaybookResult(proc, data)

    def tasks(self, tasks, hosts='localhost', gather_facts=False, play_vars=None, **kwargs):
        """Run a list of tasks in one play."""
        play = {'name': 'test', 'hosts': hosts, 'gather_facts': gather_facts, 'tasks': tasks}
        if play_vars:
            play['vars'] = play_vars
        return self.playbook([play], **kwargs)

    def module(self, name, args=None, check=False, host='localhost', **kwargs):
        """Run one module on one host and return its result dict."""
        task = {'name': 'module under test', name: args or {}}
        result = self.tasks([task], hosts=host, check=check, **kwargs)
        return result.task('module under test', host=host)
