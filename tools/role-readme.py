# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Writes the variables table of every role's README from its meta/argument_specs.yml.

    python tools/role-readme.py            rewrite the tables
    python tools/role-readme.py --check    exit 1 when a README is out of date

The table stands between the markers below; a README without them gets the section appended.
"""

import argparse
import json
import sys
from pathlib import Path

import yaml

BEGIN = '<!-- BEGIN ROLE VARIABLES: generated from meta/argument_specs.yml by tools/role-readme.py -->'
END = '<!-- END ROLE VARIABLES -->'
ROOT = Path(__file__).resolve().parents[1]


def _cell(text):
    return str(text).replace('|', '\\|').replace('\n', ' ').strip()


def _default(spec):
    if 'default' not in spec:
        return 'required' if spec.get('required') else ''
    return '`%s`' % json.dumps(spec['default'], ensure_ascii=False)


def _type(spec):
    kind = spec.get('type', 'str')
    if kind == 'list' and spec.get('elements'):
        kind = 'list of %s' % spec['elements']
    if spec.get('choices'):
        kind += ' (%s)' % ', '.join(str(c) for c in spec['choices'])
    return kind


def render(role_dir):
    specs = yaml.safe_load((role_dir / 'meta' / 'argument_specs.yml').read_text())['argument_specs']
    out = [BEGIN, '']
    for entry, spec in specs.items():
        if entry != 'main':
            out += ['### Variables of the `%s` entry point' % entry, '']
        out += ['| variable | type | default | description |', '|---|---|---|---|']
        for name, option in (spec.get('options') or {}).items():
            description = option.get('description', '')
            if isinstance(description, list):
                description = ' '.join(description)
            cells = (name, _cell(_type(option)), _cell(_default(option)), _cell(description))
            out.append('| `%s` | %s | %s | %s |' % cells)
        out.append('')
    out.append(END)
    return '\n'.join(out)


def update(readme, table):
    if BEGIN in readme and END in readme:
        head, rest = readme.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        return head + table + tail
    return readme.rstrip('\n') + '\n\n## Role variables\n\n' + table + '\n'


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--check', action='store_true')
    args = parser.parse_args()
    stale = []
    for role_dir in sorted((ROOT / 'roles').iterdir()):
        if not (role_dir / 'meta' / 'argument_specs.yml').exists():
            continue
        path = role_dir / 'README.md'
        current = path.read_text() if path.exists() else '# fleetops.runbook.%s\n' % role_dir.name
        wanted = update(current, render(role_dir))
        if wanted != current:
            stale.append(str(path.relative_to(ROOT)))
            if not args.check:
                path.write_text(wanted)
    if stale and args.check:
        sys.stderr.write('out of date (run python tools/role-readme.py): %s\n' % ', '.join(stale))
        return 1
    for name in stale:
        print('updated %s' % name)
    return 0


if __name__ == '__main__':
    sys.exit(main())
