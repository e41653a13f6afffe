# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.fleetops.runbook.plugins.module_utils.module import nul_parameters


def test_nul_parameters_looks_into_lists_and_mappings():
    params = dict(login_user='ok', databases=['a', 'b\x00'], thresholds={'x\x00': {}},
                  limits={'k': ['v\x00']}, login_port=5432, login_password=None)
    assert nul_parameters(params) == ['databases', 'limits', 'thresholds']
    assert nul_parameters(dict(login_user='fine')) == []


def test_a_nul_in_a_secret_is_named_not_shown():
    assert nul_parameters(dict(login_password='se\x00cret')) == ['login_password']


def test_nul_parameters_names_the_suboption_with_the_spec():
    spec = dict(endpoints=dict(type='list', elements='dict', options=dict(url=dict(), headers=dict(type='dict'))),
                mail=dict(type='dict', options=dict(host=dict())), tags=dict(type='dict'))
    params = dict(endpoints=[dict(url='fine', headers={}), dict(url='x\x00', headers={'a': 'b\x00'})],
                  mail=dict(host='h\x00'), tags={'k': '\x00'})
    assert nul_parameters(params, spec) == ['endpoints[1].headers', 'endpoints[1].url', 'mail.host', 'tags']
    # Without the spec, the top-level name as before.
    assert nul_parameters(params) == ['endpoints', 'mail', 'tags']
