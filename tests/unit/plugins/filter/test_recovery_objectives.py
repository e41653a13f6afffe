# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""recovery_objectives: RTO and RPO of a recovery against their targets, and the schedule's own."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.runbook.plugins.filter.recovery_objectives import (
    FilterModule,
    objectives,
    to_epoch,
)

pytestmark = pytest.mark.emergency

START = 1737279600.0  # 2025-01-19T09:40:00+00:00
HOUR = 3600


@pytest.mark.parametrize('value, epoch', [
    (START, START), (int(START), START), (str(START), START),
    ('2025-01-19T09:40:00+00:00', START), ('2025-01-19T09:40:00Z', START),
    ('2025-01-19T10:40:00+01:00', START), ('2025-01-19T09:40:00', START),
    (None, None), ('', None),
])
def test_times_are_seconds_or_iso_8601(value, epoch):
    assert to_epoch(value, 'verified') == epoch


@pytest.mark.parametrize('value', [True, 'yesterday', '19/01/2025'])
def test_other_times_are_refused_by_name(value):
    with pytest.raises(AnsibleFilterError, match=r'^recovery_objectives: verified: '):
        to_epoch(value, 'verified')


def test_objectives_met():
    out = objectives(START, START + 2 * HOUR, START - 1800, incident_time=START - 600)
    assert (out['rto_seconds'], out['rpo_seconds']) == (7200.0, 1200.0)
    assert (out['rto_target_seconds'], out['rpo_target_seconds']) == (4 * HOUR, HOUR)
    assert out['met'] is True and out['status'] == 'OK'
    rto, rpo = out['checks']
    assert rto['message'] == 'recovery took 2.0 h (target 4.0 h)'
    assert rpo['message'] == 'the backup is 20.0 min older than the incident (target 60.0 min)'


def test_a_target_is_missed_only_beyond_it():
    at = objectives(START, START + 4 * HOUR, START - HOUR, incident_time=START)
    assert at['met'] is True
    beyond = objectives(START, START + 4 * HOUR + 1, START - HOUR - 1, incident_time=START)
    assert beyond['met'] is False and beyond['status'] == 'CRITICAL'
    assert [c['message'].endswith(' missed') for c in beyond['checks']] == [True, True]


def test_without_an_incident_time_the_rpo_runs_to_the_verification():
    out = objectives(START, START + 600, START - 1200, rpo_target='30m')
    assert out['rpo_seconds'] == 1800.0 and out['met'] is True
    assert 'older than the recovery' in out['checks'][1]['message']


def test_a_backup_taken_after_the_incident_is_no_recovery_point():
    out = objectives(START, START + HOUR, START + 1800, incident_time=START)
    rpo = out['checks'][1]
    assert (rpo['status'], rpo['value']) == ('WARNING', -1800.0)
    assert rpo['message'] == ('the backup was taken 30.0 min after the incident: it may hold what the '
                              'incident did, so it is no recovery point before it')
    assert out['met'] is False and out['status'] == 'WARNING'


def test_a_backup_newer_than_the_verification_is_a_clock_problem_not_an_ok():
    out = objectives(START, START + 600, START + 660)
    rpo = out['checks'][1]
    assert rpo['status'] == 'UNKNOWN' and 'clocks' in rpo['message']
    assert out['met'] is False


def test_a_clock_going_backwards_does_not_make_a_negative_rto():
    out = objectives(START, START - 5, START - 60)
    assert out['rto_seconds'] == 0.0 and out['checks'][0]['status'] == 'OK'


def test_a_schedule_that_cannot_meet_the_rpo_warns_plainly():
    out = objectives(START, START + HOUR, START - 600, incident_time=START, schedule='daily', rpo_target='1h')
    assert [c['name'] for c in out['checks']] == ['rto', 'rpo', 'schedule']
    schedule = out['checks'][2]
    assert schedule['status'] == 'WARNING' and 'cannot meet the RPO of 60.0 min' in schedule['message']
    assert out['met'] is True and out['status'] == 'WARNING'


def test_an_empty_rpo_target_comes_from_the_schedule():
    out = objectives(START, START + HOUR, START - 600, schedule='hourly', rpo_target='', grace='15m')
    assert out['rpo_target_seconds'] == HOUR + 900
    assert out['checks'][2]['status'] == 'OK'


@pytest.mark.parametrize('kwargs, words', [
    (dict(rpo_target=''), 'rpo_target: empty, and no schedule to derive it from'),
    (dict(rto_target='soon'), 'rto_target'),
    (dict(schedule='whenever'), 'the backup schedule'),
])
def test_bad_targets_are_refused_by_name(kwargs, words):
    with pytest.raises(AnsibleFilterError) as failed:
        objectives(START, START + HOUR, START - 600, **kwargs)
    assert str(failed.value).startswith('recovery_objectives: ') and words in str(failed.value)


def test_the_three_times_are_needed():
    with pytest.raises(AnsibleFilterError, match='started, verified and backup_time are needed'):
        objectives(START, START + HOUR, '')


def test_the_filter_is_registered():
    assert FilterModule().filters() == {'recovery_objectives': objectives}
