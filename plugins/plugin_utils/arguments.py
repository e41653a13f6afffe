# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of action plugin arguments that ansible-core's own validation gets wrong.

ansible-core raises ``OverflowError`` (a traceback, no option named) when an ``int`` option gets an
infinite value, answers a mapping or a list of mappings given plain text with "dictionary
requested, could not parse JSON or key=value", naming no option either, and raises ``TypeError``
when a mapping with suboptions gets a number; a NUL byte in a path ends in a ValueError deep in a
system call. These run before ``validate_argument_spec`` and name
the option instead.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math

from ansible.module_utils.common.validation import check_type_dict

from ansible_collections.fleetops.runbook.plugins.module_utils.module import nul_errors


def _infinite(value):
    if isinstance(value, bool) or not isinstance(value, (float, str)):
        return False
    try:
        return not math.isfinite(float(value))
    except ValueError:
        return False


def _mapping(item):
    if isinstance(item, dict):
        return True
    if not isinstance(item, str):
        return False
    try:
        check_type_dict(item)
    except TypeError:
        return False
    return True


def argument_errors(args, spec, prefix=''):
    """Messages naming each option (``parent.sub`` for suboptions) holding such a value, or a
    NUL byte (which no path, address or name the plugins pass on can hold)."""
    errors = [] if prefix or not isinstance(args, dict) else nul_errors(
        dict((name, value) for name, value in args.items() if name in spec))
    for name, desc in spec.items():
        value = args.get(name) if isinstance(args, dict) else None
        if value is None:
            continue
        label = prefix + name
        kind = desc.get('type', 'str')
        if kind == 'int' and _infinite(value):
            errors.append('%s: %s is not an integer' % (label, value))
        elif kind == 'list' and desc.get('elements') == 'dict':
            items = value if isinstance(value, list) else [value]
            if not all(_mapping(item) for item in items):
                errors.append('%s: expected a list of mappings, got %r' % (label, value))
            elif desc.get('options'):
                for index, item in enumerate(items):
                    if isinstance(item, dict):
                        errors += argument_errors(item, desc['options'], '%s[%d].' % (label, index))
        elif kind == 'dict' and desc.get('options'):
            if not _mapping(value):
                errors.append('%s: expected a mapping, got %r' % (label, value))
            elif isinstance(value, dict):
                errors += argument_errors(value, desc['options'], label + '.')
    return errors
