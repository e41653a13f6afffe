#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: apt_packages
short_description: Install missing Debian packages, refreshing the package lists only then
version_added: 0.3.0
description:
  - Looks in the dpkg database of the host which of the packages in O(name) are installed. A name
    is satisfied by an installed package of that name (and architecture and version, when the name
    gives them), or by an installed package that provides it (a virtual package such as
    C(mail-transport-agent)).
  - When every package is installed, nothing else happens; in particular the package lists are
    not refreshed, so a second run changes nothing and does not touch C(/var/lib/apt/lists).
  - When a package is missing, the package lists are always refreshed first (C(apt-get update),
    without the C(cache_valid_time) shortcut, which takes emptied lists for fresh ones) and the
    missing packages are installed with M(ansible.builtin.apt). A host whose lists were emptied
    (Debian cloud images, container images) converges on the first run.
  - In check mode the missing packages are reported as a change (RV(missing)) and nothing is
    refreshed or installed, also on a host whose lists are empty.
  - The shared package step of every role of the collection.
author:
  - fleetops.runbook maintainers (@fleetops)
attributes:
  action:
    description: Runs as an action plugin that calls this module on the host, then M(ansible.builtin.apt).
    support: full
  async:
    description: Whether the task can run asynchronously.
    support: none
  bypass_host_loop:
    description: Whether the task runs once for the play instead of once per host.
    support: none
  check_mode:
    description: Whether the module can run with C(--check), and what it then does.
    support: full
    details: Reports the missing packages as a change; refreshes, installs and writes nothing (no C(policy-rc.d) either).
  diff_mode:
    description: Whether the module shows a C(--diff) of what it changes.
    support: none
  platform:
    description: The target systems the module runs on.
    support: full
    platforms: debian
options:
  name:
    description:
      - Debian packages that must be installed. A name may carry an architecture
        (V(libc6:amd64)) and a version, exact (V(nginx=1.22.1-9)), a prefix (V(nginx=1.22*)) or a
        lower bound (V(nginx>=1.22)), as M(ansible.builtin.apt) takes them.
      - An empty list does nothing.
    type: list
    elements: str
    required: true
  install_recommends:
    description:
      - Install the recommended packages as well. Unset - the host's apt configuration decides.
    type: bool
  start_services:
    description:
      - V(false) - the services of the packages being installed are not started by their maintainer
        scripts (they are still enabled), so that no program runs with the package's own example
        configuration before the role has written its own and starts it.
      - For the installation only, a C(/usr/sbin/policy-rc.d) that refuses every start is written,
        and removed afterwards, also when the installation fails. It is written only where none
        exists; a C(policy-rc.d) of the host's own is never changed or removed, it then decides
        what starts, and the task warns and returns RV(policy_rc_d=host).
      - Nothing is written when every package is installed, nor in check mode.
    type: bool
    default: true
requirements:
  - dpkg-query on the host; python3-apt for the installation (M(ansible.builtin.apt)).
notes:
  - Packages already installed are never upgraded or downgraded, whatever version O(name) asks for
    is checked only to decide whether to install.
seealso:
  - module: ansible.builtin.apt
'''

EXAMPLES = r'''
- name: Install Prometheus without starting it on the package's example configuration
  fleetops.runbook.apt_packages:
    name: [prometheus, prometheus-alertmanager]
    start_services: false

- name: Install nginx, refreshing the package lists only if it is missing
  fleetops.runbook.apt_packages:
    name: [nginx, python3-cryptography]
    install_recommends: false
  register: __tls_install

- name: Stop here in check mode when nginx would be installed
  ansible.builtin.meta: end_host
  when: ansible_check_mode and __tls_install is changed
'''

RETURN = r'''
missing:
  description: The names of O(name) that were not installed before the task.
  returned: always
  type: list
  elements: str
  sample: [python3-psutil]
installed:
  description: Installed version of every name of O(name) found installed before the task.
  returned: always
  type: dict
  sample: {nginx: 1.22.1-9}
cache_updated:
  description: Whether the package lists were refreshed (only when a package was missing, never in check mode).
  returned: always
  type: bool
policy_rc_d:
  description:
    - Which C(policy-rc.d) held the services back during the installation. V(none) - none was written
      (O(start_services=true), or nothing was installed); V(ours) - the task's own, removed afterwards;
      V(host) - the host's own, left in place.
  returned: always
  type: str
  sample: ours
msg:
  description: What was done, or would be done in check mode.
  returned: always
  type: str
  sample: "refreshed the package lists and installed python3-psutil"
'''

import fnmatch
import re

from ansible_collections.fleetops.runbook.plugins.module_utils.module import RunbookModule

# Debian policy 5.6.1 for the name, 5.6.12 for the version; the architecture as dpkg names it.
_SPEC_RE = re.compile(
    r'^(?P<name>[a-z0-9][a-z0-9+.-]+)'
    r'(?::(?P<arch>[a-z0-9-]+))?'
    r'(?:(?P<op>>=|=)(?P<version>[A-Za-z0-9.+~:*-]+))?$')

QUERY_FORMAT = '${Package}\\t${Architecture}\\t${db:Status-Abbrev}\\t${Version}\\t${Provides}\\n'


class SpecError(ValueError):
    """A name of the package list that is not a Debian package name."""


def parse_spec(index, spec):
    """(name, arch, op, version) of one entry of the name option."""
    if not isinstance(spec, str):
        raise SpecError('name[%d]: %r is not a string' % (index, spec))
    match = _SPEC_RE.match(spec)
    if not match:
        raise SpecError("name[%d]: %r is not a Debian package name (lowercase letters, digits, '+', '-', '.'; "
                        "optionally ':arch' and '=version', 'version*' or '>=version')" % (index, spec))
    if match.group('op') == '>=' and '*' in match.group('version'):
        raise SpecError("name[%d]: %r: '*' belongs to '=' only" % (index, spec))
    return match.group('name'), match.group('arch'), match.group('op'), match.group('version')


def parse_dpkg(output):
    """Installed packages from dpkg-query: {name: [(arch, version)]} and {provided name: [provider]}."""
    installed = {}
    provided = {}
    for line in output.splitlines():
        fields = line.split('\t')
        if len(fields) < 4:
            continue
        name, arch, status, version = fields[:4]
        # 'ii' installed, 'hi' installed and held; anything else is not (yet, or any more) installed.
        if len(status) < 2 or status[1] != 'i':
            continue
        installed.setdefault(name, []).append((arch, version))
        for item in (fields[4] if len(fields) > 4 else '').split(','):
            virtual = item.strip().split(' ')[0].split(':')[0]
            if virtual:
                provided.setdefault(virtual, []).append(name)
    return installed, provided


def version_ok(op, wanted, have, compare):
    if op is None:
        return True
    if op == '=':
        if wanted.endswith('*'):
            return fnmatch.fnmatchcase(have, wanted)
        return have == wanted
    return compare(have, wanted)


def missing_packages(specs, installed, provided, compare):
    """The specs that no installed package satisfies, and {spec: version} of the others."""
    missing = []
    found = {}
    for index, spec in enumerate(specs):
        name, arch, op, version = parse_spec(index, spec)
        candidates = [(a, v) for a, v in installed.get(name, []) if arch is None or a in (arch, 'all')]
        hits = [v for a, v in candidates if version_ok(op, version, v, compare)]
        if hits:
            found[spec] = hits[0]
        elif op is None and arch is None and name in provided:
            found[spec] = 'provided by %s' % ', '.join(sorted(provided[name]))
        else:
            missing.append(spec)
    return missing, found


def main():
    module = RunbookModule(
        argument_spec=dict(
            name=dict(type='list', elements='str', required=True),
            install_recommends=dict(type='bool'),
            # Read by the action plugin, which does the installing; the query on the host ignores it.
            start_services=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    specs = module.params['name']
    try:
        for index, spec in enumerate(specs):
            parse_spec(index, spec)
    except SpecError as exc:
        module.fail_json(msg=str(exc))

    dpkg_query = module.get_bin_path('dpkg-query')
    if not dpkg_query:
        module.fail_json(msg='dpkg-query is not on this host: apt_packages works on Debian and its derivatives only')
    rc, out, err = module.run_command([dpkg_query, '--show', '--showformat', QUERY_FORMAT])
    if rc != 0:
        module.fail_json(msg='dpkg-query --show failed (rc %d): %s' % (rc, err.strip()))
    installed, provided = parse_dpkg(out)

    def compare(have, wanted):
        return module.run_command(['dpkg', '--compare-versions', have, 'ge', wanted])[0] == 0

    missing, found = missing_packages(specs, installed, provided, compare)
    module.exit_json(changed=False, missing=missing, installed=found, cache_updated=False, policy_rc_d='none',
                     msg=('missing: %s' % ', '.join(missing)) if missing else 'every package is installed')


if __name__ == '__main__':
    main()
