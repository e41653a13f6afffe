# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Controller-side fleet reports: one JSON document with a stable schema, one HTML page.

The JSON schema is in docs/fleet_report.schema.json; ``SCHEMA_VERSION`` changes only when a key
changes meaning or goes away.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import html
import json
import os
import tempfile

from ansible_collections.fleetops.runbook.plugins.module_utils.status import (
    STATUS_CODES,
    UNKNOWN,
    worst,
)

SCHEMA_VERSION = 1

COLOURS = {
    'OK': ('#1e7b34', '#e3f4e6'),
    'WARNING': ('#8a5a00', '#fff1cc'),
    'CRITICAL': ('#a4161a', '#fbe0e0'),
    'UNKNOWN': ('#5a2d82', '#eee4f7'),
    None: ('#6b7280', '#f3f4f6'),
}


def isoformat(timestamp):
    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc).strftime(
        '%Y-%m-%dT%H:%M:%SZ')


def cell_from_result(result):
    """Turn one registered task result into a report cell.

    Returns a dict with ``status`` (None when the check does not apply to the host),
    ``summary``, ``applicable``, ``unreachable`` and, for check modules, ``checks``.
    """
    if not isinstance(result, dict):
        return {'status': None, 'applicable': False, 'unreachable': False,
                'summary': 'not run on this host'}
    if result.get('unreachable'):
        return {'status': UNKNOWN, 'applicable': True, 'unreachable': True,
                'summary': 'unreachable: %s' % (result.get('msg') or 'no connection').strip()}
    if result.get('skipped'):
        return {'status': None, 'applicable': False, 'unreachable': False,
                'summary': 'skipped: %s' % (result.get('skip_reason') or 'condition not met')}
    status = result.get('status')
    if status not in STATUS_CODES:
        msg = result.get('msg') or 'the check returned no status'
        return {'status': UNKNOWN, 'applicable': True, 'unreachable': False,
                'summary': 'UNKNOWN: check failed: %s' % str(msg).strip()[:2000]}
    return {
        'status': status,
        'applicable': True,
        'unreachable': False,
        'summary': result.get('summary') or status,
        'checks': result.get('checks') or [],
    }


NOT_IN_INVENTORY = 'UNKNOWN: this host is not in the inventory'


def build_fleet_report(name, check_names, host_results, started, finished, fail_on='never',
                       missing_hosts=()):
    """Assemble the report document.

    ``host_results`` maps a host name to a mapping of check name to its registered result.
    ``missing_hosts`` are hosts that were asked for but are not in the inventory: each is UNKNOWN
    with that reason, so a typo in the host list shows in the report instead of being skipped.
    """
    hosts = []
    counts = dict((status, 0) for status in STATUS_CODES)
    for host, results in host_results.items():
        cells = dict((check, cell_from_result((results or {}).get(check))) for check in check_names)
        applicable = [c['status'] for c in cells.values() if c['status'] is not None]
        unreachable = any(c['unreachable'] for c in cells.values())
        status = worst(applicable) if applicable else UNKNOWN
        if host in missing_hosts:
            status, summary = UNKNOWN, NOT_IN_INVENTORY
        elif not applicable:
            summary = 'UNKNOWN: no check ran on this host'
        else:
            problems = ['%s: %s' % (check, cells[check]['summary']) for check in check_names
                        if cells[check]['status'] not in (None, 'OK')]
            summary = '; '.join(problems) if problems else 'OK: all checks passed'
        counts[status] += 1
        hosts.append({
            'host': host,
            'status': status,
            'reachable': not unreachable,
            'summary': summary,
            'results': cells,
        })
    hosts.sort(key=lambda h: (-STATUS_CODES[h['status']], h['host']))
    overall = worst(h['status'] for h in hosts) if hosts else UNKNOWN
    failing = []
    if fail_on != 'never':
        level = STATUS_CODES[fail_on.upper()]
        failing = [h['host'] for h in hosts if STATUS_CODES[h['status']] >= level]
    return {
        'schema_version': SCHEMA_VERSION,
        'report': name,
        'started_at': isoformat(started),
        'finished_at': isoformat(finished),
        'duration_seconds': round(max(finished - started, 0.0), 3),
        'status': overall,
        'fail_on': fail_on,
        'failing_hosts': failing,
        'counts': counts,
        'host_count': len(hosts),
        'checks': list(check_names),
        'hosts': hosts,
    }


_CSS = '''
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#111827}
h1{font-size:20px;margin:0 0 4px} .meta{color:#4b5563;margin-bottom:16px}
.badges span{display:inline-block;padding:3px 10px;border-radius:12px;margin-right:6px;font-weight:600}
table{border-collapse:collapse;width:100%;margin-top:12px}
th,td{border:1px solid #d1d5db;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#f9fafb;position:sticky;top:0}
td.st{font-weight:700;white-space:nowrap} td.summary{font-size:13px;color:#374151}
details summary{cursor:pointer} .checks td{font-size:12px;border-color:#e5e7eb}
.na{color:#9ca3af}
'''


def _style(status):
    fg, bg = COLOURS.get(status, COLOURS[None])
    return 'color:%s;background:%s' % (fg, bg)


def _esc(value):
    return html.escape('' if value is None else str(value), quote=True)


def _check_row(group, check):
    name = check.get('name', '')
    if check.get('target') not in (None, ''):
        name = '%s %s' % (name, check['target'])
    value = check.get('value')
    unit = check.get('unit') or ''
    if value is None:
        shown = ''
    elif unit == 'percent':
        shown = '%s%%' % value
    else:
        shown = ('%s %s' % (value, unit)).strip()
    return '<tr><td>%s</td><td style="%s">%s</td><td>%s</td><td>%s</td><td>%s / %s</td><td>%s</td></tr>' % (
        _esc(group), _style(check.get('status')), _esc(check.get('status')), _esc(name), _esc(shown),
        _esc(check.get('warning') or '-'), _esc(check.get('critical') or '-'), _esc(check.get('message')))


def _checks_table(groups):
    flat = [(group, check) for group, checks in groups for check in checks]
    # Problems first; the sort is stable, so each group keeps its own order.
    flat.sort(key=lambda item: -STATUS_CODES.get(item[1].get('status'), 0))
    return ('<table class="checks"><tr><th>group</th><th>status</th><th>check</th><th>value</th>'
            '<th>warning / critical</th><th>message</th></tr>%s</table>'
            % ''.join(_check_row(group, check) for group, check in flat))


def render_html(report, title=None):
    """A self-contained page: a row per host, a column per check, worst hosts first."""
    title = title or 'Fleet report: %s' % report['report']
    counts = report['counts']
    badges = ''.join('<span style="%s">%s %d</span>' % (_style(s), s, counts[s])
                     for s in ('CRITICAL', 'WARNING', 'UNKNOWN', 'OK'))
    head = '<tr><th>host</th><th>status</th>%s<th>summary</th></tr>' % ''.join(
        '<th>%s</th>' % _esc(c) for c in report['checks'])
    rows = []
    for host in report['hosts']:
        cells = []
        groups = []
        for check in report['checks']:
            cell = host['results'][check]
            if cell['status'] is None:
                cells.append('<td class="na" title="%s">n/a</td>' % _esc(cell['summary']))
                continue
            if cell.get('checks'):
                groups.append((check, cell['checks']))
            cells.append('<td class="st" style="%s" title="%s">%s</td>' % (
                _style(cell['status']), _esc(cell['summary']), _esc(cell['status'])))
        detail = ''
        if groups:
            detail = '<details><summary>%d checks</summary>%s</details>' % (
                sum(len(checks) for _group, checks in groups), _checks_table(groups))
        reach = '' if host['reachable'] else ' (unreachable)'
        rows.append('<tr><td><b>%s</b>%s</td><td class="st" style="%s">%s</td>%s'
                    '<td class="summary">%s%s</td></tr>' % (
                        _esc(host['host']), _esc(reach), _style(host['status']), _esc(host['status']),
                        ''.join(cells), _esc(host['summary']), detail))
    meta = 'Run started %s, finished %s, took %.1f s. %d hosts. Overall: <b style="%s">%s</b>.' % (
        _esc(report['started_at']), _esc(report['finished_at']), report['duration_seconds'],
        report['host_count'], _style(report['status']), _esc(report['status']))
    if report['fail_on'] != 'never':
        meta += ' Fails at %s: %s.' % (
            _esc(report['fail_on'].upper()),
            _esc(', '.join(report['failing_hosts'])) if report['failing_hosts'] else 'no host')
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width,initial-scale=1">'
            '<title>%s</title><style>%s</style></head><body>'
            '<h1>%s</h1><div class="meta">%s</div><div class="badges">%s</div>'
            '<table><thead>%s</thead><tbody>%s</tbody></table>'
            '<p class="meta">Schema version %d. Generated by fleetops.runbook.</p>'
            '</body></html>\n' % (_esc(title), _CSS, _esc(title), meta, badges, head,
                                  ''.join(rows), report['schema_version']))


def write_atomic(path, text, mode=0o644):
    """Write a file so readers never see half of it."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix='.%s.' % os.path.basename(path))
    try:
        with os.fdopen(fd, 'w') as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_report(report, directory, basename, keep_history=True, title=None):
    """Write <basename>.json and <basename>.html (and a dated JSON copy under history/)."""
    paths = {
        'json': os.path.join(directory, basename + '.json'),
        'html': os.path.join(directory, basename + '.html'),
    }
    document = json.dumps(report, indent=2, sort_keys=False, default=str) + '\n'
    write_atomic(paths['json'], document)
    write_atomic(paths['html'], render_html(report, title))
    if keep_history:
        stamp = report['finished_at'].replace('-', '').replace(':', '')
        paths['history'] = os.path.join(directory, 'history', '%s-%s.json' % (basename, stamp))
        write_atomic(paths['history'], document)
    return paths
