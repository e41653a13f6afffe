# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.fleetops.runbook.plugins.module_utils.module import nul_errors, nul_parameters


def test_nul_parameters_looks_into_lists_and_mappings():
    params = dict(login_user='ok', databases=['a', 'b\x00'], thresholds={'x\x00': {}},
                  limits={'k': ['v\x00']}, login_port=5432, login_password=None)
    assert nul_parameters(params) == ['databases[1]', 'limits.k[0]', 'thresholds']
    assert nul_parameters(dict(login_user='fine')) == []


def test_a_nul_in_a_secret_is_named_not_shown():
    assert nul_parameters(dict(login_password='se\x00cret')) == ['login_password']


def test_suboptions_are_named_by_their_path():
    params = dict(certificates=[dict(path='/ok'), dict(path='/etc/x\x00', key_path='k\x00')])
    assert nul_errors(params) == ['certificates[1].key_path: must not contain a NUL byte',
                                  'certificates[1].path: must not contain a NUL byte']
