# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""apt_packages, the package step of every role, on this machine: it refreshes the apt lists only
when a package is missing, never in check mode, and changes nothing when all are installed.

Nothing here installs anything: the packages asked for are installed already, or the run is a
check-mode run. The installation itself is proven on a container with empty apt lists by the tls
molecule scenario (nginx is not in its image).
"""

from __future__ import annotations

import os

import pytest

LISTS = '/var/lib/apt/lists'

pytestmark = pytest.mark.skipif(not os.path.exists('/usr/bin/dpkg-query'), reason='needs a Debian host')


def lists_state():
    """Names and modification times of everything in the apt lists directory, and its own time."""
    state = {LISTS: os.stat(LISTS).st_mtime_ns} if os.path.isdir(LISTS) else {}
    for root, dirs, files in os.walk(LISTS):
        for name in dirs + files:
            path = os.path.join(root, name)
            try:
                state[path] = os.lstat(path).st_mtime_ns
            except OSError:
                pass
    return state


def test_installed_packages_leave_the_lists_alone(ansible):
    before = lists_state()
    result = ansible.module('fleetops.runbook.apt_packages', {'name': ['dpkg', 'coreutils']})
    assert result.get('failed') is not True, result
    assert result['changed'] is False and result['cache_updated'] is False
    assert result['missing'] == []
    assert set(result['installed']) == {'dpkg', 'coreutils'}
    assert 'left alone' in result['msg']
    assert lists_state() == before


def test_check_mode_reports_a_missing_package_without_refreshing(ansible):
    before = lists_state()
    result = ansible.module('fleetops.runbook.apt_packages',
                            {'name': ['dpkg', 'fleetops-no-such-package', 'dpkg=0.0-not-this-one']}, check=True)
    assert result.get('failed') is not True, result
    assert result['changed'] is True and result['cache_updated'] is False
    assert result['missing'] == ['fleetops-no-such-package', 'dpkg=0.0-not-this-one']
    assert 'a real run refreshes the package lists and installs fleetops-no-such-package' in result['msg']
    assert lists_state() == before


@pytest.mark.parametrize('names,word', [
    (['dpkg', 'Bad Name'], "name[1]: 'Bad Name' is not a Debian package name"),
    (['nginx;reboot'], 'name[0]'),
    (['nginx>=1.*'], "name[0]: 'nginx>=1.*': '*' belongs to '=' only"),
])
def test_bad_names_are_refused_before_anything_runs(ansible, names, word):
    before = lists_state()
    result = ansible.module('fleetops.runbook.apt_packages', {'name': names}, check=True)
    assert result['failed'] is True
    assert word in result['msg'], result['msg']
    assert lists_state() == before
