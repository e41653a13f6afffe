# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How client programs run: real processes, through the run_command of the host command."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

import pytest

from ansible_collections.fleetops.runbook.plugins.module_utils import programs

pytestmark = pytest.mark.backup


def test_run_program_passes_the_environment(run_command):
    rc, out, dummy = programs.run_program(
        run_command, ['sh', '-c', 'echo "$PGHOST|$PGPASSWORD"'],
        env={'PGHOST': '/run/pg', 'PGPASSWORD': 'p w'})
    assert rc == 0
    assert out == '/run/pg|p w\n'


def test_run_program_stops_a_program_at_its_timeout(run_command):
    with pytest.raises(programs.ProgramTimeout, match='sleep did not finish within 1 seconds'):
        programs.run_program(run_command, ['sleep', '60'], timeout=1)


def _alive(pid):
    """True while ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        with open('/proc/%d/stat' % pid) as handle:
            return handle.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def test_run_program_stops_what_the_program_started(tmp_path, run_command):
    """At the deadline the whole process group goes (pg_restore -j forks its workers): a child
    that would outlive its parent cannot hold the caller."""
    pidfile = tmp_path / 'child.pid'
    script = 'sleep 300 & echo $! > %s; wait' % pidfile
    with pytest.raises(programs.ProgramTimeout):
        programs.run_program(run_command, ['sh', '-c', script], timeout=5)
    child = int(pidfile.read_text())
    for dummy in range(600):  # a hang guard only: the kill is immediate
        if not _alive(child):
            break
        time.sleep(0.1)
    assert not _alive(child)


@pytest.mark.parametrize('value, text', [(5, '5'), (5.0, '5'), (2.5, '2.5')])
def test_number_text(value, text):
    assert programs.number_text(value) == text
