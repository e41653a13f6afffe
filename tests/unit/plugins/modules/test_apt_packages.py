# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""apt_packages decides from the dpkg database which wanted packages are missing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.fleetops.runbook.plugins.modules.apt_packages import (
    SpecError,
    missing_packages,
    parse_dpkg,
    parse_spec,
)

DPKG = '\n'.join([
    'nginx\tamd64\tii \t1.22.1-9+deb12u11\t',
    'nginx-common\tall\tii \t1.22.1-9+deb12u11\t',
    'postfix\tamd64\thi \t3.7.11-0+deb12u1\tmail-transport-agent, default-mta (= 3.7.11-0+deb12u1)',
    'ufw\tall\trc \t0.36.2-1\t',
    'libc6\tamd64\tii \t2.36-9+deb12u14\t',
    'python3-psutil\tamd64\tiU \t5.9.4-1+b1\t',
    'garbage line',
])


def dpkg_ge(have, wanted):
    # Enough of dpkg --compare-versions for the versions below.
    return [int(x) for x in have.split('-')[0].split('.')] >= [int(x) for x in wanted.split('-')[0].split('.')]


def missing(specs):
    installed, provided = parse_dpkg(DPKG)
    return missing_packages(specs, installed, provided, dpkg_ge)


def test_installed_and_held_packages_are_not_missing():
    gone, found = missing(['nginx', 'postfix', 'libc6:amd64', 'nginx-common:amd64'])
    assert gone == []
    assert found == {'nginx': '1.22.1-9+deb12u11', 'postfix': '3.7.11-0+deb12u1',
                     'libc6:amd64': '2.36-9+deb12u14', 'nginx-common:amd64': '1.22.1-9+deb12u11'}


def test_removed_half_installed_and_unknown_packages_are_missing():
    # 'rc' is removed with its configuration left; 'iU' is unpacked, not configured.
    gone, found = missing(['ufw', 'python3-psutil', 'prometheus'])
    assert gone == ['ufw', 'python3-psutil', 'prometheus']
    assert found == {}


def test_a_virtual_package_is_satisfied_by_its_provider():
    gone, found = missing(['mail-transport-agent', 'default-mta'])
    assert gone == []
    assert found['mail-transport-agent'] == 'provided by postfix'


@pytest.mark.parametrize('spec,is_missing', [
    ('nginx=1.22.1-9+deb12u11', False),
    ('nginx=1.22.1-9+deb12u10', True),
    ('nginx=1.22*', False),
    ('nginx=1.24*', True),
    ('nginx>=1.22', False),
    ('nginx>=1.25', True),
    ('libc6:arm64', True),
    ('mail-transport-agent=1.0', True),
])
def test_architecture_and_version(spec, is_missing):
    gone, dummy = missing([spec])
    assert (gone == [spec]) is is_missing


@pytest.mark.parametrize('spec', ['', 'Nginx', 'nginx foo', 'a', '-nginx', 'nginx>=1.*', 'nginx<=1',
                                  'nginx\x00', 'nginx;rm', '../nginx'])
def test_bad_names_are_refused_with_their_index(spec):
    with pytest.raises(SpecError) as exc:
        parse_spec(3, spec)
    assert str(exc.value).startswith('name[3]: ')


def test_names_are_parsed():
    assert parse_spec(0, 'libc6:amd64>=2.36') == ('libc6', 'amd64', '>=', '2.36')
    assert parse_spec(0, 'g++') == ('g++', None, None, None)
