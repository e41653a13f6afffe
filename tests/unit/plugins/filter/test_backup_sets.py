# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""backup_sets: the postgres_backup role's backup sets, each with its schedule's objective."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.runbook.plugins.filter.backup_sets import backup_sets

pytestmark = pytest.mark.backup

H = 3600
D = 86400


DEFAULTS = {'dir': '/var/backups/postgresql', 'on_calendar': '*-*-* 03:00:00', 'retention_days': 30,
            'retention_count': 35, 'databases': [], 'config_paths': ['/etc/nginx'],
            'config_archive_name': 'config', 'grace': '1h'}


def test_no_sets_is_the_single_daily_backup():
    sets = backup_sets([], DEFAULTS)
    assert len(sets) == 1
    only = sets[0]
    assert only['name'] == 'default' and only['unit'] == 'fleetops-pg-backup'
    assert only['dir'] == '/var/backups/postgresql'
    assert (only['retention_days'], only['retention_count']) == (30, 35)
    assert only['config_paths'] == ['/etc/nginx'] and only['dump'] is True
    assert only['max_age_seconds'] == D + H


def test_the_seed_004_sets():
    sets = backup_sets([
        {'name': 'config', 'on_calendar': '*-*-* 02:00:00', 'retention_days': 30, 'dump': False},
        {'name': 'logs', 'on_calendar': '*-*-* 03:00:00', 'retention_days': 7, 'dump': False,
         'config_paths': ['/var/log/app'], 'config_archive_name': 'logs'},
        {'name': 'data', 'on_calendar': '*-*-* 04:00:00', 'retention_days': 14, 'config_paths': []},
        {'name': 'weekly', 'on_calendar': 'Sun *-*-* 05:00:00', 'retention_days': 14},
        {'name': 'hourly', 'on_calendar': 'hourly', 'retention_days': 2, 'rpo': '1h'},
        {'name': 'fixed', 'on_calendar': 'hourly', 'retention_days': 2, 'rpo': '1h', 'max_age': '1h'},
    ], DEFAULTS)
    by_name = dict((s['name'], s) for s in sets)
    assert by_name['data']['dir'] == '/var/backups/postgresql/data'
    assert by_name['data']['unit'] == 'fleetops-pg-backup-data'
    assert by_name['logs']['retention_days'] == 7 and by_name['logs']['config_paths'] == ['/var/log/app']
    assert by_name['weekly']['max_age_seconds'] == 7 * D + H
    assert by_name['hourly']['max_age_seconds'] == 2 * H and by_name['hourly']['rpo_met'] is True
    assert by_name['fixed']['max_age_seconds'] == H and by_name['fixed']['rpo_met'] is True


def test_a_set_that_cannot_meet_its_rpo():
    sets = backup_sets([{'name': 'data', 'rpo': '1h'}], DEFAULTS)
    assert sets[0]['rpo_met'] is False
    assert 'cannot meet the RPO' in sets[0]['message']


@pytest.mark.parametrize('sets, message', [
    ([{'on_calendar': 'daily'}], 'set 1: name must be'),
    ([{'name': 'a b'}], 'set 1: name must be'),
    ([{'name': 'x'}, {'name': 'x'}], 'set x: the name is used twice'),
    ([{'name': 'x', 'retention_days': 0}], 'set x: retention_days'),
    ([{'name': 'x', 'retention_days': 'many'}], 'set x: retention_days'),
    ([{'name': 'x', 'colour': 'red'}], 'set 1: unknown keys colour'),
    ([{'name': 'x', 'dump': False, 'config_paths': []}], 'writes nothing'),
    ([{'name': 'x', 'config_paths': ['etc/nginx']}], 'absolute'),
    ([{'name': 'x', 'on_calendar': 'whenever'}], 'set x: '),
    ([{'name': 'x', 'on_calendar': '*-*-* 03:00\nExecStart=/bin/sh'}], 'one line'),
    ([{'name': 'x', 'max_age': 'soon'}], 'max_age'),
    ('daily', 'a list of sets'),
    (['daily'], 'set 1: each set is a mapping'),
])
def test_bad_sets_are_refused_by_name(sets, message):
    with pytest.raises(AnsibleFilterError, match=message):
        backup_sets(sets, DEFAULTS)


def test_the_command_reads_only_its_keys():
    config = backup_sets([{'name': 'data', 'rpo': '2d'}], DEFAULTS)[0]['config']
    assert config == {'name': 'data', 'dir': '/var/backups/postgresql/data', 'dump': True,
                      'databases': [], 'config_paths': ['/etc/nginx'], 'config_archive_name': 'config',
                      'retention_days': 30, 'retention_count': 35, 'max_age_seconds': D + H}
