# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every role documents exactly the variables it has: defaults, argument specs and README agree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]

ROLES = sorted(p.name for p in (REPO / 'roles').iterdir() if (p / 'meta').is_dir())


def load(path):
    return yaml.safe_load(path.read_text()) or {}


@pytest.mark.parametrize('role', ROLES)
def test_defaults_and_argument_specs_have_the_same_keys(role):
    base = REPO / 'roles' / role
    defaults = load(base / 'defaults' / 'main.yml') if (base / 'defaults' / 'main.yml').exists() else {}
    specs = load(base / 'meta' / 'argument_specs.yml')['argument_specs']
    # Every entry point reads the same defaults/main.yml; together they document every variable.
    options = {}
    for entry in specs.values():
        options.update(entry.get('options') or {})
    # A required variable has no default: the user must give it.
    optional = set(name for name, spec in options.items() if not spec.get('required'))
    assert set(defaults) == optional, (
        'only in defaults: %s; only in argument_specs: %s' % (
            sorted(set(defaults) - optional), sorted(optional - set(defaults))))
    for name, spec in options.items():
        assert spec.get('description'), '%s: %s has no description' % (role, name)
        if 'default' in spec:
            assert spec['default'] == defaults[name], '%s: %s default differs' % (role, name)
        if spec.get('required'):
            assert name not in defaults, '%s: %s is required but has a default' % (role, name)
    # Public variables carry the role's name.
    prefix = role + '_'
    assert all(name.startswith(prefix) for name in defaults), [n for n in defaults if not n.startswith(prefix)]


@pytest.mark.parametrize('role', ROLES)
def test_readme_names_every_variable(role):
    base = REPO / 'roles' / role
    readme = (base / 'README.md').read_text()
    options = {}
    for entry in load(base / 'meta' / 'argument_specs.yml')['argument_specs'].values():
        options.update(entry.get('options') or {})
    missing = [name for name in options if name not in readme]
    assert not missing, '%s README does not mention %s' % (role, missing)


def test_readme_tables_are_generated_from_the_argument_specs():
    proc = subprocess.run([sys.executable, str(REPO / 'tools' / 'role-readme.py'), '--check'],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize('role', ROLES)
def test_galaxy_metadata(role):
    meta = REPO / 'roles' / role / 'meta' / 'main.yml'
    assert meta.exists(), '%s has no meta/main.yml (galaxy-importer warns)' % role
    info = load(meta)['galaxy_info']
    assert info['role_name'] == role and info['namespace'] == 'fleetops'
    assert info['license'] == 'GPL-3.0-or-later' and info['description']
