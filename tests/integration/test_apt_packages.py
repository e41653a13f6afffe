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
import shutil
import subprocess
import sys

import pytest

LISTS = '/var/lib/apt/lists'
POLICY = '/usr/sbin/policy-rc.d'
# A small package with no dependencies beyond libc, installed and purged again by the tests below.
SMALL = 'hello'

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


def _installed(package):
    return subprocess.run(['dpkg-query', '-W', '-f=${Status}', package], capture_output=True, text=True,
                          check=False).stdout.endswith(' installed')


@pytest.fixture
def small_package(tmp_path):
    """SMALL, not installed, and purged again after the test; an apt configuration whose dpkg hook
    copies the policy-rc.d that dpkg sees while it installs."""
    if os.geteuid() != 0 or _installed(SMALL):
        pytest.skip('needs root and %s not installed' % SMALL)
    seen = tmp_path / 'policy-rc.d.seen'
    conf = tmp_path / 'apt.conf'
    conf.write_text('DPkg::Pre-Invoke {"cp %s %s 2>/dev/null || true";};\n' % (POLICY, seen))
    yield {'APT_CONFIG': str(conf)}, seen
    subprocess.run(['apt-get', 'purge', '-y', '-qq', SMALL], capture_output=True, check=False,
                   env=dict(os.environ, DEBIAN_FRONTEND='noninteractive'))


@pytest.fixture
def own_usr_sbin(tmp_path):
    """ansible-playbook in a mount namespace of its own whose /usr/sbin has no policy-rc.d: the
    machine's /usr/sbin and its policy-rc.d are never touched."""
    if not shutil.which('unshare') or subprocess.run(['unshare', '-m', 'true'], check=False).returncode != 0:
        pytest.skip('needs unshare -m')
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    real = os.path.join(os.path.dirname(sys.executable), 'ansible-playbook')
    wrapper = bindir / 'ansible-playbook'
    wrapper.write_text(
        '#!/bin/sh\n'
        'exec unshare -m /bin/sh -c \''
        'mount --make-rprivate / && mount -t tmpfs tmpfs "$0" && cp -a /usr/sbin/. "$0"/ && rm -f "$0"/policy-rc.d '
        '&& mount --bind "$0" /usr/sbin && exec "$@"\' %s %s "$@"\n' % (tmp_path / 'sbin', real))
    (tmp_path / 'sbin').mkdir()
    wrapper.chmod(0o755)
    return {'PATH': os.pathsep.join([str(bindir), os.environ.get('PATH', '')])}


def test_start_services_false_holds_them_with_a_policy_of_its_own_then_removes_it(ansible, small_package, own_usr_sbin):
    env, seen = small_package
    env = dict(env, **own_usr_sbin)
    play = [
        {'name': 'install', 'fleetops.runbook.apt_packages': {'name': [SMALL], 'start_services': False}},
        {'name': 'after', 'ansible.builtin.stat': {'path': POLICY}},
    ]
    run = ansible.tasks(play, env=env)
    result = run.task('install')
    assert result.get('failed') is not True, result
    assert result['changed'] is True and result['missing'] == [SMALL]
    assert result['policy_rc_d'] == 'ours'
    assert result['msg'].endswith('; their services were not started')
    assert _installed(SMALL)
    # What dpkg saw while it installed: the task's own policy, refusing every start.
    text = seen.read_text()
    assert 'fleetops.runbook.apt_packages start_services=false' in text and text.endswith('exit 101\n')
    # Gone afterwards, in the same mount namespace.
    assert run.task('after')['stat']['exists'] is False


def test_start_services_false_removes_its_policy_when_the_install_fails(ansible, own_usr_sbin):
    play = [
        {'name': 'install', 'fleetops.runbook.apt_packages': {'name': ['fleetops-no-such-package'], 'start_services': False},
         'register': 'installed', 'ignore_errors': True},
        {'name': 'after', 'ansible.builtin.stat': {'path': POLICY}},
    ]
    result = ansible.tasks(play, env=own_usr_sbin)
    installed = result.task('install')
    assert installed['failed'] is True and 'installing fleetops-no-such-package failed' in installed['msg']
    assert installed['policy_rc_d'] == 'ours'
    assert result.task('after')['stat']['exists'] is False


def test_start_services_false_leaves_the_hosts_own_policy_alone(ansible, small_package):
    if not os.path.exists(POLICY):
        pytest.skip('this host has no policy-rc.d of its own')
    before = os.stat(POLICY)
    with open(POLICY, 'rb') as handle:
        content = handle.read()
    env, seen = small_package
    result = ansible.module('fleetops.runbook.apt_packages', {'name': [SMALL], 'start_services': False}, env=env)
    assert result.get('failed') is not True, result
    assert result['policy_rc_d'] == 'host'
    assert any('has a /usr/sbin/policy-rc.d of its own; it was left as it is' in w for w in result.get('warnings', []))
    assert _installed(SMALL)
    assert seen.read_bytes() == content
    after = os.stat(POLICY)
    assert (after.st_ino, after.st_mtime_ns, after.st_mode) == (before.st_ino, before.st_mtime_ns, before.st_mode)
    with open(POLICY, 'rb') as handle:
        assert handle.read() == content


def test_check_mode_writes_no_policy(ansible, own_usr_sbin):
    play = [
        {'name': 'install', 'fleetops.runbook.apt_packages': {'name': ['fleetops-no-such-package'], 'start_services': False}},
        {'name': 'after', 'ansible.builtin.stat': {'path': POLICY}},
    ]
    result = ansible.tasks(play, check=True, env=own_usr_sbin)
    installed = result.task('install')
    assert installed['changed'] is True and installed['policy_rc_d'] == 'none'
    assert installed['msg'].endswith('installs fleetops-no-such-package without starting their services')
    assert result.task('after')['stat']['exists'] is False
