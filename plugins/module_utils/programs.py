# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Running client programs under a deadline, and finding them.

Programs run through the caller's ``run_command``: a module passes ``AnsibleModule.run_command``,
the host command of the ``postgres_backup`` role a function with the same signature.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import os
import re
import shutil
import signal
import sys
import threading


class ProgramTimeout(RuntimeError):
    """A client program did not finish in time and was killed."""


# Runs a client program as the leader of its own process group, so that a deadline stops the
# program and whatever it forked (pg_restore -j workers) at once; run_command has no such option.
_GROUP_LEADER = 'import os, sys; os.setpgid(0, 0); os.execvp(sys.argv[1], sys.argv[1:])'


def run_program(run_command, args, env=None, timeout=None, pass_fds=None, on_start=None):
    """``(rc, stdout, stderr)`` of ``args`` run through ``run_command``.

    ``env`` updates the inherited environment; ``timeout`` kills the program (and every process it
    started) after that many seconds and raises ProgramTimeout; ``on_start(proc)`` runs once the
    program has started, before its output is read: a thread it starts (to feed the program)
    overlaps with that read.
    """
    expired = []
    timers = []

    def started(proc):
        if timeout:
            def expire():
                expired.append(True)
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except OSError:
                    pass
                try:
                    proc.kill()
                except OSError:
                    pass
            timer = threading.Timer(timeout, expire)
            timer.daemon = True
            timer.start()
            timers.append(timer)
        if on_start is not None:
            on_start(proc)

    kwargs = dict(environ_update=env or {}, expand_user_and_vars=False,
                  before_communicate_callback=started)
    if pass_fds:
        kwargs['pass_fds'] = pass_fds
    command = list(args)
    if timeout and sys.executable:
        command = [sys.executable, '-c', _GROUP_LEADER] + command
    try:
        rc, out, err = run_command(command, **kwargs)
    finally:
        for timer in timers:
            timer.cancel()
    if expired:
        raise ProgramTimeout('%s did not finish within %s seconds and was stopped' % (
            os.path.basename(args[0]), number_text(timeout)))
    return rc, out, err


def find_tool(name):
    """A PostgreSQL client program from PATH or the newest Debian/RHEL server bin directory."""
    found = shutil.which(name)
    if found:
        return found
    candidates = glob.glob('/usr/lib/postgresql/*/bin/%s' % name) + glob.glob(
        '/usr/pgsql-*/bin/%s' % name)

    def version(path):
        digits = re.findall(r'\d+', path)
        return int(digits[0]) if digits else 0
    candidates.sort(key=version)
    return candidates[-1] if candidates else None


def number_text(value):
    """A number of seconds for a message: 5, 2.5."""
    return str(int(value)) if float(value).is_integer() else str(value)
