# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Findings across a fleet: the same finding on many hosts as one group, and what changed since
the previous report.

A finding is a mapping with ``host``, ``source`` (the report column or the result's name),
``check``, ``target``, ``status``, ``message`` and ``note`` (the range it broke, see
``range_note``). The fleet report and the notification both group through :func:`group_findings`,
so a page and a message name a problem the same way.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.fleetops.runbook.plugins.module_utils.status import (
    OK,
    display_name,
    range_note,
    urgency,
)

# Longest text of a finding without a check (a module error) that still joins a group.
_MESSAGE_KEY_MAX = 120

UNREACHABLE_CHECK = 'unreachable'


def finding(host, source, check, status, message, target=None, note=''):
    return {'host': host, 'source': source, 'check': check, 'target': target, 'status': status,
            'message': message, 'note': note}


def check_finding(host, source, check):
    """The finding of one recorded check of the status model."""
    return finding(host, source, check.get('name'), check['status'], check.get('message') or check.get('name') or '',
                   target=check.get('target'), note=range_note(check))


def group_key(item):
    """What makes two findings the same: where, which check, which status and range; not the value.

    A finding without a check (an unreachable host, a module that failed) is keyed by its message.
    """
    what = item['check'] if item['check'] is not None else (item['message'] or '')[:_MESSAGE_KEY_MAX]
    target = item['target'] if item['target'] not in (None, '') else ''
    return (item['source'] or '', what, '%s' % target, item['status'], item.get('note') or '')


def group_label(item):
    """'resource: disk / WARNING (warning 85)'; the message itself for a finding without a check."""
    prefix = '%s: ' % item['source'] if item['source'] else ''
    if item['check'] == UNREACHABLE_CHECK and item['source'] is None:
        return 'host unreachable'
    if item['check'] is None:
        return '%s%s' % (prefix, item['message'])
    return '%s%s %s%s' % (prefix, display_name(item['check'], item['target']), item['status'],
                          item.get('note') or '')


def group_findings(findings):
    """Group findings that are the same on several hosts.

    Returns a list of groups, most urgent status first, then the group with the most hosts, then
    by label. A group is ``{'key', 'label', 'status', 'source', 'check', 'target', 'hosts'}`` where
    ``hosts`` lists ``{'host', 'message'}`` (and ``change`` when the finding carries one) by host name.
    """
    groups = {}
    for item in findings:
        if item['status'] == OK:
            continue
        key = group_key(item)
        group = groups.get(key)
        if group is None:
            group = groups[key] = {
                'key': '|'.join(key), 'label': group_label(item), 'status': item['status'],
                'source': item['source'], 'check': item['check'], 'target': item['target'], 'hosts': []}
        member = {'host': item['host'], 'message': item['message']}
        if item.get('change'):
            member['change'] = item['change']
        group['hosts'].append(member)
    out = list(groups.values())
    for group in out:
        group['hosts'].sort(key=lambda m: '%s' % (m['host'] or ''))
    out.sort(key=lambda g: (urgency(g['status']), -len(g['hosts']), g['label']))
    return out


def group_headline(group, max_hosts=5):
    """'resource: disk / WARNING (warning 85) on 12 hosts: a, b, c, d, e and 7 more'."""
    names = [m['host'] for m in group['hosts'] if m['host'] is not None]
    if not names:
        return group['label']
    shown = names[:max_hosts]
    more = len(names) - len(shown)
    return '%s on %d host%s: %s%s' % (group['label'], len(names), '' if len(names) == 1 else 's',
                                      ', '.join(shown), ' and %d more' % more if more else '')


def _identity(item):
    target = item['target'] if item['target'] not in (None, '') else ''
    what = item['check'] if item['check'] is not None else '(%s)' % (item['message'] or '')[:_MESSAGE_KEY_MAX]
    return (item['host'], item['source'] or '', what, '%s' % target)


def diff_findings(previous, current):
    """What changed between two lists of findings of the same fleet.

    Returns ``{'new': [...], 'resolved': [...], 'worsened': [...]}``; each entry is the current
    finding (the previous one for resolved ones) with ``was``, the previous status or None. A
    finding is worsened when its status moved up the human order (WARNING to CRITICAL, UNKNOWN to
    CRITICAL, WARNING to UNKNOWN). The current findings get ``change`` set to 'new' or 'worsened'.
    """
    before = dict((_identity(item), item) for item in previous if item['status'] != OK)
    now = dict((_identity(item), item) for item in current if item['status'] != OK)
    changes = {'new': [], 'resolved': [], 'worsened': []}
    for key, item in now.items():
        old = before.get(key)
        if old is None:
            item['change'] = 'new'
            changes['new'].append(dict(item, was=None))
        elif urgency(item['status']) < urgency(old['status']):
            item['change'] = 'worsened'
            changes['worsened'].append(dict(item, was=old['status']))
    for key, old in before.items():
        if key not in now:
            changes['resolved'].append(dict(old, was=old['status']))
    for items in changes.values():
        items.sort(key=lambda i: (urgency(i['status']), '%s' % i['host'], i['source'] or '', '%s' % (i['check'] or '')))
    return changes
