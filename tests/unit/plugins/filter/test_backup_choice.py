# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""backup_choice: the newest usable backup out of backup_verify's result, and why newer ones lost."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.runbook.plugins.filter.backup_choice import FilterModule, choose

pytestmark = pytest.mark.backup

DAY = 86400


def backup(path, mtime, age, status='OK', problems=()):
    return {'path': path, 'mtime': mtime, 'age': age, 'status': status, 'problems': list(problems)}


def test_the_newest_good_backup_is_chosen_whatever_the_order():
    result = {'backups': [backup('/b/old.dump', 100, 3 * DAY), backup('/b/new.dump', 200, DAY)]}
    out = choose(result)
    assert (out['chosen'], out['chosen_mtime'], out['skipped'], out['status']) == ('/b/new.dump', 200, [], 'OK')
    assert out['checks'][0]['message'] == 'chose /b/new.dump' and out['checks'][0]['value'] == 0
    assert out['summary'] == 'OK: chose /b/new.dump'


def test_newer_broken_and_stale_backups_are_skipped_with_their_reasons():
    result = {'backups': [
        backup('/b/3.dump', 300, 100, status='CRITICAL', problems=['truncated: ends inside a data block']),
        backup('/b/2.dump', 200, 200, status='UNKNOWN'),
        backup('/b/1.dump', 100, 300),
    ]}
    out = choose(result)
    assert out['chosen'] == '/b/1.dump' and out['status'] == 'WARNING'
    assert out['skipped'] == [
        {'path': '/b/3.dump', 'reason': 'truncated: ends inside a data block'},
        {'path': '/b/2.dump', 'reason': 'its status is UNKNOWN: not verified'},
    ]
    assert out['checks'][0]['value'] == 2
    assert 'skipping 2 newer' in out['summary']


def test_age_is_judged_here_not_by_backup_verify():
    # backup_verify marks the newest good backup CRITICAL when it is too old; that alone does not
    # disqualify it: max_age decides.
    old = backup('/b/1.dump', 100, 2 * DAY, status='CRITICAL', problems=['newest good backup is 2.0 days old'])
    assert choose({'backups': [old]}, max_age='3d')['chosen'] == '/b/1.dump'
    out = choose({'backups': [old]}, max_age='1d')
    assert out['chosen'] is None and out['status'] == 'CRITICAL'
    assert out['skipped'] == [{'path': '/b/1.dump', 'reason': 'older than max_age 1d (172800 s)'}]
    assert out['summary'] == 'CRITICAL: no usable backup among 1: /b/1.dump (older than max_age 1d (172800 s))'


def test_no_backup_at_all_is_critical_and_says_so():
    out = choose({'backups': []})
    assert out['chosen'] is None and out['chosen_mtime'] is None and out['status'] == 'CRITICAL'
    assert out['summary'] == 'CRITICAL: no usable backup among 0: none found'


def test_a_backup_without_an_age_is_not_usable():
    out = choose({'backups': [backup('/b/x.dump', None, None)]})
    assert out['chosen'] is None and out['skipped'][0]['reason'] == 'older than max_age 7d (0 s)'


@pytest.mark.parametrize('value, kwargs, words', [
    ({'status': 'OK'}, {}, 'expected the registered result of backup_verify (with a backups list), got dict'),
    (['a'], {}, 'got list'),
    ({'backups': []}, {'max_age': 'soon'}, 'backup_choice: max_age'),
])
def test_bad_input_is_refused_by_name(value, kwargs, words):
    with pytest.raises(AnsibleFilterError, match='backup_choice') as failed:
        choose(value, **kwargs)
    assert words in str(failed.value)


def test_the_filter_is_registered():
    assert FilterModule().filters() == {'backup_choice': choose}
