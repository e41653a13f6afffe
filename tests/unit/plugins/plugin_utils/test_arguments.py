# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.fleetops.runbook.plugins.plugin_utils.arguments import argument_errors

SPEC = dict(
    count=dict(type='int'),
    ratio=dict(type='float'),
    metrics=dict(type='list', elements='dict', options=dict(name=dict(type='str'), limit=dict(type='int'))),
    mail=dict(type='dict', options=dict(port=dict(type='int'))),
)


@pytest.mark.parametrize('value', [float('inf'), float('-inf'), float('nan'), 'inf', '-Infinity', 'nan'])
def test_a_non_finite_int_is_named(value):
    assert argument_errors({'count': value}, SPEC) == ['count: %s is not an integer' % value]


@pytest.mark.parametrize('value', [3, '3', 2.0, 'x', None, True])
def test_what_ansible_reports_itself_passes(value):
    # Finite or non-numeric values are left to ansible-core's type check, which names the option.
    assert argument_errors({'count': value, 'ratio': float('inf')}, SPEC) == []


def test_suboptions_are_named_with_their_path():
    assert argument_errors({'mail': {'port': 'inf'}, 'metrics': [{'name': 'a', 'limit': float('nan')}]}, SPEC) == [
        'metrics[0].limit: nan is not an integer', 'mail.port: inf is not an integer']


@pytest.mark.parametrize('value', ['', 'junk', ['junk'], [1], [{'name': 'a'}, None]])
def test_a_list_of_mappings_given_something_else_is_named(value):
    errors = argument_errors({'metrics': value}, SPEC)
    assert len(errors) == 1 and errors[0].startswith('metrics: expected a list of mappings')


@pytest.mark.parametrize('value', [5, 1.5, True, 'junk', ['x']])
def test_a_mapping_with_suboptions_given_something_else_is_named(value):
    errors = argument_errors({'mail': value}, SPEC)
    assert len(errors) == 1 and errors[0].startswith('mail: expected a mapping')


@pytest.mark.parametrize('value', [[{'name': 'a'}], 'name=a', '{"name": "a"}', []])
def test_mappings_as_ansible_reads_them_pass(value):
    assert argument_errors({'metrics': value}, SPEC) == []
