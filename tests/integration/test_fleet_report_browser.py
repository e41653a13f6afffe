# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report as an on-call engineer sees it: Debian's Chromium, headless, driven by
Playwright, renders reports that the real fleet_report action wrote (through ansible-playbook) for
fleets of 5, 50 and 500 hosts, each with two earlier runs in its history.

Checked through the DOM and the layout, never through timings: most urgent host and biggest
finding first, nothing wider than a 1366 px window (before and after unfolding), host names on
one line, the status and text filters and "hide OK" change what is visible, a cell unfolds to its
checks. Screenshots and the page's size and render timings (printed, not asserted) are kept under
tests/output/fleet_report/.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from . import report_fleet
from .harness import REPO

pytestmark = pytest.mark.report

CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
OUTPUT = REPO / 'tests' / 'output' / 'fleet_report'
WIDTH = 1366
ORDER = 'CUWO'


@pytest.fixture(scope='module')
def browser():
    # `make test` installs both (mk/65-report.mk); a missing one is a failure, not a skip.
    assert os.access(CHROMIUM, os.X_OK), 'Debian chromium is not installed: run make chromium'
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        # Playwright's own browser download is not used: the Debian package is the browser.
        # Tests run as root in containers, where Chromium's sandbox cannot start.
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=['--no-sandbox'])
        yield instance
        instance.close()


def write_reports(ansible, tmp_path, size):
    """Three runs of the fleet_report action over the synthetic fleet; returns the last result."""
    dest = tmp_path / 'reports'
    for run in range(3):
        # JSON, which the yaml inventory plugin reads too: 500 hosts of results load in seconds, not a minute.
        inventory = tmp_path / ('inventory-%d.json' % run)
        inventory.write_text(json.dumps(report_fleet.inventory(size, run)))
        result = ansible.playbook([{
            'name': 'fleet report', 'hosts': 'all', 'gather_facts': False,
            'tasks': [{'name': 'report', 'run_once': True, 'fleetops.runbook.fleet_report': {
                'checks': report_fleet.COLUMNS, 'hosts': '{{ ansible_play_hosts_all }}', 'dest': str(dest),
                'name': 'daily_checks', 'title': 'Daily checks (%d hosts)' % size}}]}], inventory=inventory)
        assert result.rc == 0, result
    task = next(t for t in result.tasks if t['task']['name'] == 'report')
    return next(iter(task['hosts'].values()))


def js(page, script):
    return page.evaluate('() => {%s}' % script)


def overflow(page):
    """How far the page is wider than the window (0 when nothing scrolls sideways)."""
    return js(page, 'return document.documentElement.scrollWidth - document.documentElement.clientWidth;')


def visible_rows(page):
    return js(page, "return [...document.querySelectorAll('#ht>tbody>tr[data-h]')]"
                    ".filter(r => r.offsetParent !== null).map(r => [r.cells[0].textContent, r.dataset.s]);")


@pytest.mark.parametrize('size', [5, 50, 500])
def test_fleet_report_in_chromium(ansible, browser, tmp_path, size):
    expect = report_fleet.expected(size)
    res = write_reports(ansible, tmp_path, size)
    path = res['paths']['html']
    report = json.loads(open(res['paths']['json']).read())
    assert report['host_count'] == size and len(report['hosts'][0]['trend']) == 3
    OUTPUT.mkdir(parents=True, exist_ok=True)
    shot = str(OUTPUT / ('fleet-%03d' % size))

    page = browser.new_page(viewport={'width': WIDTH, 'height': 900})
    page.goto('file://' + path)
    timing = js(page, "const n = performance.getEntriesByType('navigation')[0];"
                      "const p = performance.getEntriesByName('first-contentful-paint')[0];"
                      "return {dom_content_loaded_ms: n.domContentLoadedEventEnd, load_ms: n.loadEventEnd,"
                      " first_contentful_paint_ms: p ? p.startTime : null};")
    metrics = dict(timing, hosts=size, html_bytes=os.path.getsize(path), json_bytes=os.path.getsize(res['paths']['json']))
    (OUTPUT / ('metrics-%03d.json' % size)).write_text(json.dumps(metrics, indent=1) + '\n')
    print('fleet report at %d hosts: %s' % (size, json.dumps(metrics)))
    page.screenshot(path=shot + '.png', full_page=size <= 50)

    # Headline: each status counted in people's order, and what changed since the previous run.
    headline = page.inner_text('#headline')
    assert headline.startswith('CRITICAL'), headline
    assert res['headline']['text'] in headline
    assert res['headline']['text'].startswith('%d critical, %d unknown' % (
        len(expect['critical_hosts']), len(expect['unknown_hosts'])))
    changes = page.inner_text('.chg')
    assert '%d new' % expect['new'] in changes and '%d worsened' % expect['worsened'] in changes, changes
    assert '%d resolved' % expect['resolved'] in changes, changes

    # The most urgent host first; the rows never go back up the order.
    rows = visible_rows(page)
    assert len(rows) == size
    assert rows[0] == [expect['critical_hosts'][0], 'C'], rows[:3]
    assert [ORDER.index(s) for h, s in rows] == sorted(ORDER.index(s) for h, s in rows)
    assert sorted(h for h, s in rows if s == 'C') == expect['critical_hosts']

    # The biggest finding of the most urgent status first; then by status, then by size.
    groups = js(page, "return [...document.querySelectorAll('details.g')].map(d => "
                      "[d.dataset.s, d.querySelector('summary').innerText, d.querySelectorAll('li').length]);")
    assert groups[0][0] == 'C' and expect['first_group'] in groups[0][1], groups[:3]
    assert groups[0][2] == expect['first_group_hosts'] == max(g[2] for g in groups if g[0] == 'C')
    keys = [(ORDER.index(s), -n) for s, label, n in groups]
    assert keys == sorted(keys)

    # Nothing wider than the window; host names whole and on one line, hyphens or not.
    assert overflow(page) <= 0
    lines = js(page, "return [...document.querySelectorAll('td.h')].map(td => {"
                     "const r = document.createRange(); r.selectNodeContents(td.firstChild);"
                     "return [new Set([...r.getClientRects()].map(x => x.top)).size, td.scrollWidth <= td.clientWidth];});")
    assert len(lines) == size and all(line == [1, True] for line in lines), lines[:5]

    # A group opens onto its hosts, each a link to its row.
    page.click('details.g >> nth=0 >> summary')
    links = js(page, "return [...document.querySelectorAll('details.g')[0].querySelectorAll('li a')]"
                     ".filter(a => a.offsetParent !== null).map(a => a.getAttribute('href'));")
    assert len(links) == expect['first_group_hosts']
    assert all(js(page, "return !!document.getElementById(%s);" % json.dumps(link[1:])) for link in links[:20])

    # A cell unfolds to its checks: value, thresholds and message, in a row of its own.
    page.click('#ht>tbody>tr[data-h="0"] td.c:nth-child(4)')
    unfolded = page.inner_text('#ht>tbody>tr[data-h="0"] + tr.x')
    first = report['hosts'][0]['results']['resource']['checks']
    disk = next(c for c in first if c['name'] == 'disk')
    for text in ('disk /', '%s%%' % disk['value'], '85 / 95', disk['message'], 'load', 'memory'):
        assert text in unfolded, (text, unfolded)
    assert overflow(page) <= 0
    page.screenshot(path=shot + '-unfolded.png')
    # The same cell folds again; the host's name unfolds all its columns.
    page.click('#ht>tbody>tr[data-h="0"] td.c:nth-child(4)')
    assert js(page, "return document.querySelectorAll('tr.x').length;") == 0
    page.click('#ht>tbody>tr[data-h="0"] td.h')
    listed = js(page, "return document.querySelectorAll('tr.x table.k tr').length - 1;")
    assert listed == sum(len(c.get('checks') or [None]) for c in report['hosts'][0]['results'].values())
    assert overflow(page) <= 0

    # Filters: by status, "hide OK", and by text.
    page.uncheck('#f input[data-s="W"]')
    rows = visible_rows(page)
    assert rows and 'W' not in set(s for h, s in rows)
    assert js(page, "return [...document.querySelectorAll('details.g')].filter(d => !d.hidden && d.dataset.s == 'W').length;") == 0
    page.check('#f input[data-s="W"]')
    assert len(visible_rows(page)) == size
    page.check('#hideok')
    rows = visible_rows(page)
    assert len(rows) == size - expect['ok_hosts'] and 'O' not in set(s for h, s in rows)
    page.uncheck('#hideok')
    target = expect['unknown_hosts'][0]
    page.fill('#q', target)
    assert visible_rows(page) == [[target, 'U']]
    shown_groups = js(page, "return [...document.querySelectorAll('details.g')].filter(d => !d.hidden).length;")
    assert shown_groups == 1
    page.screenshot(path=shot + '-filtered.png')
    page.fill('#q', '')
    assert len(visible_rows(page)) == size
    page.close()
