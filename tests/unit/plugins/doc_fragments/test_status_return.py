# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every check module documents the status keys exactly as the status doc fragment does."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import os

import pytest
import yaml

from ansible.utils.plugin_docs import read_docstring

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
MODULES = os.path.join(ROOT, 'plugins', 'modules')


def _tool():
    spec = importlib.util.spec_from_file_location('status_return', os.path.join(ROOT, 'tools', 'status-return.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def _fragment_return():
    from ansible_collections.fleetops.runbook.plugins.doc_fragments.status import ModuleDocFragment
    return yaml.safe_load(ModuleDocFragment.RETURN)


def _check_modules():
    with open(os.path.join(ROOT, 'meta', 'runtime.yml')) as handle:
        return yaml.safe_load(handle)['action_groups']['checks']


def _docs(name):
    # read_docstring is what ansible-doc reads a module with, before it adds fragments.
    return read_docstring(os.path.join(MODULES, name + '.py'))


def test_fragment_names_the_status_keys():
    assert sorted(_fragment_return()) == ['checks', 'metrics', 'perfdata', 'status', 'summary']


@pytest.mark.parametrize('name', _check_modules())
def test_check_module_extends_the_status_fragment(name):
    assert 'fleetops.runbook.status' in _docs(name)['doc']['extends_documentation_fragment']


@pytest.mark.parametrize('name', sorted(set(_check_modules()) | set(
    os.path.basename(path)[:-3] for path in _tool().status_modules())))
def test_return_carries_the_status_keys_as_the_fragment_says(name):
    returned = _docs(name)['returndocs']
    for key, doc in _fragment_return().items():
        assert returned.get(key) == doc, '%s: RETURN.%s differs from doc_fragments/status.py' % (name, key)


def test_generated_blocks_are_up_to_date():
    assert _tool().main(['--check']) == 0


def test_tool_replaces_an_older_block():
    tool = _tool()
    source = "DOC = 1\nRETURN = r'''\n" + tool.BEGIN + 'old: 1\n' + tool.END + "own:\n  x: 1\n'''\n"
    assert tool.with_status_keys(source, 'new: 2\n') == (
        "DOC = 1\nRETURN = r'''\n" + tool.BEGIN + 'new: 2\n' + tool.END + "own:\n  x: 1\n'''\n")
