# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.fleetops.runbook.plugins.modules import pg_health, slow_queries
from ansible_collections.fleetops.runbook.plugins.module_utils.status import parse_thresholds

pytestmark = pytest.mark.postgres


class FakeModule:
    def __init__(self, **params):
        self.params = dict(thresholds={}, table_limit=20, table_min_size=0, checks=pg_health.CHECKS,
                           login_host=None, login_port=None, login_user=None,
                           login_password=None, login_db=None, login_unix_socket=None,
                           ssl_mode='prefer', ca_cert=None, connect_timeout=10,
                           statement_timeout=1000, fail_on='critical')
        self.params.update(params)


def make_health(**params):
    health = pg_health.PgHealth(FakeModule(**params))
    health.thresholds = parse_thresholds({}, pg_health.DEFAULT_THRESHOLDS)
    return health


def test_defaults_parse_and_follow_the_runbook():
    parsed = parse_thresholds({}, pg_health.DEFAULT_THRESHOLDS)
    # The runbook: database connection normal below 500 ms, danger above 1 s.
    assert parsed['connection_time'].warning.text == '500'
    assert parsed['connection_time'].critical.text == '1000'
    assert parsed['connection_time'].judge(499) == 'OK'
    assert parsed['connection_time'].judge(700) == 'WARNING'
    assert parsed['connection_time'].judge(1500) == 'CRITICAL'
    # Ratios alert from below.
    assert parsed['cache_hit_ratio'].judge(85) == 'WARNING'
    assert parsed['cache_hit_ratio'].judge(70) == 'CRITICAL'
    assert parsed['wal_receiver'].judge(0) == 'WARNING'
    assert parsed['replication_slots_inactive'].judge(1) == 'WARNING'
    assert parsed['archive_failing'].judge(1) == 'CRITICAL'


def test_every_check_has_a_method():
    for name in pg_health.CHECKS[1:]:
        assert callable(getattr(pg_health.PgHealth, 'check_' + name))


def test_add_targets_lists_alerting_targets_only():
    health = make_health()
    health.add_targets('sequence_usage', [
        dict(target='a', value=10.0), dict(target='b', value=96.0), dict(target='c', value=88.0)],
        'percent')
    got = [(c['target'], c['status']) for c in health.report.checks]
    assert got == [('b', 'CRITICAL'), ('c', 'WARNING')]


def test_add_targets_shows_the_worst_when_all_ok():
    health = make_health()
    health.add_targets('sequence_usage', [dict(target='a', value=10.0), dict(target='b', value=40.0)],
                       'percent')
    assert [(c['target'], c['value']) for c in health.report.checks] == [('b', 40.0)]
    health = make_health()
    health.add_targets('cache_hit_ratio', [dict(target='x', value=99.5), dict(target='y', value=97.0)],
                       'percent', worse='lower')
    assert [c['target'] for c in health.report.checks] == ['y']


def test_add_targets_keeps_forced_status():
    health = make_health()
    health.add_targets('cache_hit_ratio', [dict(target='quiet', value=20.0, status='OK',
                                                message='too few to judge')], 'percent',
                       worse='lower')
    assert health.report.checks[0]['status'] == 'OK'
    assert health.report.checks[0]['message'] == 'too few to judge'


def test_values_are_judged_before_they_are_rounded():
    health = make_health()
    # 89.996 % shows as 90.0, but it is below the warning line of 90.
    check = health.add('cache_hit_ratio', 89.996, unit='percent')
    assert check['value'] == 90.0 and check['status'] == 'WARNING'
    # 300.0004 s shows as 300.0, but it is above the critical 300.
    check = health.add('query_time', 300.0004, unit='seconds')
    assert check['value'] == 300.0 and check['status'] == 'CRITICAL'
    check = health.add('connection_time', 499.96, unit='milliseconds')
    assert check['value'] == 500.0 and check['status'] == 'OK'


def test_add_targets_picks_and_judges_the_measured_value():
    health = make_health()
    health.add_targets('dead_tuples', [dict(target='a', value=30.004), dict(target='b', value=29.999)],
                       'percent')
    assert [(c['target'], c['value'], c['status']) for c in health.report.checks] == [
        ('a', 30.0, 'WARNING')]


def test_age_sql_uses_the_statement_clock_and_keeps_null():
    sql = pg_health.age_sql('query_start')
    assert 'clock_timestamp()' in sql and 'now()' not in sql
    assert sql.startswith('CASE WHEN (query_start) IS NULL THEN NULL')
    assert 'greatest(' in sql and ', 0)' in sql
    # Every age pg_health reads comes from age_sql: no now() - x left anywhere.
    import inspect
    assert 'now() -' not in inspect.getsource(pg_health)
    assert 'now() -' not in inspect.getsource(slow_queries)


class RecordingModule(FakeModule):
    def __init__(self, **params):
        super(RecordingModule, self).__init__(**params)
        self.deprecations = []

    def deprecate(self, msg, version=None, collection_name=None):
        self.deprecations.append((msg, version, collection_name))


def test_every_check_is_named_after_its_threshold_keys():
    # One vocabulary: each threshold key starts with the name of the check that reports it,
    # except the keys a check reports besides its own (listed here).
    others = {'replicas', 'wal_receiver', 'temp_bytes'}
    for key in pg_health.DEFAULT_THRESHOLDS:
        if key not in others:
            assert any(key.startswith(check) for check in pg_health.CHECKS), key
    for old, new in pg_health.OLD_CHECKS.items():
        assert new in pg_health.CHECKS and old not in pg_health.CHECKS


def test_old_check_names_are_accepted_with_a_deprecation():
    module = RecordingModule()
    health = pg_health.PgHealth.__new__(pg_health.PgHealth)
    health.module = module
    got = health.selected_checks(['backends', 'locks', 'cache_hit_ratio', 'cache_hit', 'sequences'])
    assert got == ['backends', 'lock_wait', 'cache_hit_ratio', 'sequence_usage']
    assert [m[0].split(' is now')[0] for m in module.deprecations] == [
        'checks: locks', 'checks: cache_hit', 'checks: sequences']
    assert {m[1:] for m in module.deprecations} == {('1.0.0', 'fleetops.runbook')}
    assert 'lock_wait' in module.deprecations[0][0]


def test_new_check_names_raise_no_deprecation():
    module = RecordingModule()
    health = pg_health.PgHealth.__new__(pg_health.PgHealth)
    health.module = module
    assert health.selected_checks(list(pg_health.CHECKS)) == pg_health.CHECKS
    assert module.deprecations == []


class FailingSession:
    def query(self, sql, args=None):
        raise pg_health.QueryFailure('42501', 'permission denied for view pg_stat_archiver')

    one = query


def test_fetch_reports_every_name_unknown_when_the_statement_fails():
    health = make_health()
    health.session = FailingSession()
    assert health.fetch(['archive_failing', 'archive_ready'], 'SELECT 1', one=True) is None
    assert [(c['name'], c['status']) for c in health.report.checks] == [
        ('archive_failing', 'UNKNOWN'), ('archive_ready', 'UNKNOWN')]
    assert 'permission denied' in health.report.checks[0]['message']
