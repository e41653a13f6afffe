# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""slow_queries' reading of pg_stat_statements and pg_stat_activity, judged without a server:
the session is a stand-in that answers with given rows (tests/integration/test_slow_queries.py
runs the module against real clusters)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.fleetops.runbook.plugins.modules import slow_queries
from ansible_collections.fleetops.runbook.plugins.module_utils.postgres import (
    INSUFFICIENT_PRIVILEGE,
    OBJECT_NOT_IN_PREREQUISITE_STATE,
    UNDEFINED_TABLE,
    QueryFailure,
)
from ansible_collections.fleetops.runbook.plugins.module_utils.status import parse_thresholds

pytestmark = pytest.mark.postgres


class Failed(Exception):
    pass


class FakeModule:
    def __init__(self, check_mode=False, **params):
        self.check_mode = check_mode
        self.params = dict(thresholds={}, order_by='mean_time', limit=10, min_mean_ms=1000,
                           only_slow=False, running_seconds=60, query_length=200, reset=False,
                           login_db=None, fail_on='critical')
        self.params.update(params)

    def fail_json(self, **kwargs):
        raise Failed(kwargs['msg'])


class FakeSession:
    """Answers one() and query() from queues; records the SQL it was given."""

    def __init__(self, one=(), query=(), server_version=150000, write_error=None):
        self.answers_one = list(one)
        self.answers_query = list(query)
        self.server_version = server_version
        self.write_error = write_error
        self.sql = []
        self.writes = []
        self.closed = False

    @staticmethod
    def _answer(queue):
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def one(self, sql, params=None):
        self.sql.append((sql, params))
        return self._answer(self.answers_one)

    def query(self, sql, params=None):
        self.sql.append((sql, params))
        return self._answer(self.answers_query)

    def run_write(self, sql):
        if self.write_error:
            raise self.write_error
        self.writes.append(sql)

    def close(self):
        self.closed = True


def make(session, check_mode=False, thresholds=None, **params):
    sq = slow_queries.SlowQueries(FakeModule(check_mode=check_mode, thresholds=thresholds or {}, **params))
    sq.session = session
    sq.thresholds = parse_thresholds(thresholds or {}, slow_queries.DEFAULT_THRESHOLDS, 'thresholds')
    return sq


def statement(query, mean_ms, slow, slow_count, **extra):
    row = dict(queryid='1', query=query, user='app', database='shop', calls=3, total_ms=mean_ms * 3,
               mean_ms=mean_ms, max_ms=mean_ms, rows=3, slow=slow, slow_count=slow_count)
    row.update(extra)
    return row


def only_check(sq, name):
    found = [c for c in sq.report.checks if c['name'] == name]
    assert len(found) == 1, sq.report.checks
    return found[0]


def test_defaults_follow_the_runbook():
    parsed = parse_thresholds({}, slow_queries.DEFAULT_THRESHOLDS)
    # The runbook alerts when more than five statements average over one second.
    assert parsed['slow_statements'].judge(5) == 'OK'
    assert parsed['slow_statements'].judge(6) == 'WARNING'
    assert parsed['running_statements'].judge(1) == 'WARNING'
    assert slow_queries.ORDER_COLUMNS == {'mean_time': 'mean_ms', 'total_time': 'total_ms',
                                          'calls': 'calls'}


def test_slow_statements_are_counted_judged_and_masked():
    session = FakeSession(one=[{'schema': 'public'}], query=[[
        statement("ALTER ROLE app PASSWORD 'hunter2'", 1501.4, True, 7),
        statement('SELECT 1', 2.0, False, 7),
    ]])
    sq = make(session)
    assert sq.statements() is True
    check = only_check(sq, 'slow_statements')
    # Seven statements average at least 1000 ms: above the warning line of 5.
    assert (check['value'], check['status'], check['unit']) == (7, 'WARNING', 'count')
    assert check['message'].startswith('slow_statements is 7 (mean time at least 1000 ms); slowest: 1501.4 ms mean, ')
    assert 'hunter2' not in check['message']
    assert [r['query'] for r in sq.result['statements']] == ["ALTER ROLE app PASSWORD '********'", 'SELECT 1']
    # The helper column never reaches the result.
    assert all('slow_count' not in row for row in sq.result['statements'])


def test_the_extension_schema_is_quoted_and_the_pg13_columns_are_used():
    session = FakeSession(one=[{'schema': 'we"ird'}], query=[[]])
    sq = make(session, only_slow=False)
    sq.statements()
    sql = session.sql[1][0]
    assert 'FROM "we""ird".pg_stat_statements s' in sql
    assert 'mean_exec_time' in sql and 'ORDER BY mean_ms DESC' in sql
    old = FakeSession(one=[{'schema': 'public'}], query=[[]], server_version=120000)
    make(old, order_by='calls').statements()
    assert 'mean_exec_time' not in old.sql[1][0] and 's.mean_time' in old.sql[1][0]
    assert 'ORDER BY calls DESC' in old.sql[1][0]


def test_only_slow_with_nothing_slow_says_how_many_it_filtered_to():
    # only_slow leaves no row at all: the count comes from its own query, and the check says the
    # line it counted from, rather than passing silently with an empty list.
    session = FakeSession(one=[{'schema': 'public'}, {'n': 0}], query=[[]])
    sq = make(session, only_slow=True, min_mean_ms=250.5)
    sq.statements()
    assert session.sql[1][1]['floor'] == 250.5
    check = only_check(sq, 'slow_statements')
    assert (check['value'], check['status']) == (0, 'OK')
    assert check['message'] == 'slow_statements is 0 (mean time at least 250.5 ms)'
    assert sq.result['statements'] == []


def test_only_slow_counts_beyond_the_limit():
    session = FakeSession(one=[{'schema': 'public'}], query=[[statement('SELECT pg_sleep(2)', 2000.0, True, 12)]])
    sq = make(session, only_slow=True, limit=1)
    sq.statements()
    check = only_check(sq, 'slow_statements')
    assert check['value'] == 12 and check['status'] == 'WARNING'


@pytest.mark.parametrize('failure, words', [
    (QueryFailure(OBJECT_NOT_IN_PREREQUISITE_STATE, 'pg_stat_statements must be loaded via shared_preload_libraries'),
     'the library is not preloaded; add pg_stat_statements to shared_preload_libraries'),
    (QueryFailure(INSUFFICIENT_PRIVILEGE, 'permission denied for view pg_stat_statements'),
     'pg_stat_statements: insufficient privilege: permission denied'),
])
def test_unreadable_statistics_are_unknown_with_the_cause(failure, words):
    sq = make(FakeSession(one=[{'schema': 'public'}], query=[failure]))
    assert sq.statements() is False
    check = only_check(sq, 'pg_stat_statements')
    assert check['status'] == 'UNKNOWN' and words in check['message']
    assert sq.result['statements'] == []


def test_missing_extension_names_the_database_and_the_fix():
    sq = make(FakeSession(one=[None]), login_db='shop')
    assert sq.statements() is False
    message = only_check(sq, 'pg_stat_statements')['message']
    assert 'not installed in database shop' in message
    assert 'CREATE EXTENSION pg_stat_statements' in message
    assert UNDEFINED_TABLE not in message


def test_running_statements_report_the_longest_and_mask_it():
    rows = [dict(pid=4242, user='app', database='shop', state='active', seconds=75.2,
                 wait_event_type='Lock', wait_event='transactionid',
                 query="CREATE USER x WITH PASSWORD 'sekrit'   -- long\n  one"),
            dict(pid=4243, user='app', database='shop', state='active', seconds=61.0,
                 wait_event_type=None, wait_event=None, query=None)]
    session = FakeSession(query=[rows])
    sq = make(session, running_seconds=60)
    sq.running()
    assert session.sql[0][1] == {'length': 200, 'seconds': 60}
    check = only_check(sq, 'running_statements')
    assert (check['value'], check['status']) == (2, 'WARNING')
    assert check['message'].startswith('running_statements is 2 (running longer than 60 s); longest: pid 4242, 75.2 s, ')
    assert 'sekrit' not in check['message'] and 'sekrit' not in sq.result['running'][0]['query']
    assert sq.result['running'][1]['query'] is None


def test_no_running_statement_is_ok_against_a_raised_threshold():
    sq = make(FakeSession(query=[[]]), thresholds={'running_statements': {'warning': '2'}})
    sq.running()
    check = only_check(sq, 'running_statements')
    assert (check['value'], check['status'], check['warning']) == (0, 'OK', '2')
    assert sq.result['running'] == []


def test_unreadable_activity_is_unknown():
    sq = make(FakeSession(query=[QueryFailure(INSUFFICIENT_PRIVILEGE, 'no')]))
    sq.running()
    check = only_check(sq, 'running_statements')
    assert check['status'] == 'UNKNOWN' and check['message'] == 'running_statements: insufficient privilege: no'


def test_reset_writes_nothing_in_check_mode():
    session = FakeSession()
    sq = make(session, check_mode=True, reset=True)
    assert sq.reset() is True
    assert session.writes == [] and sq.result['reset'] is False


def test_reset_resets_and_a_refusal_names_the_parameter():
    session = FakeSession()
    sq = make(session, reset=True)
    assert sq.reset() is True
    assert session.writes == ['SELECT pg_stat_statements_reset()'] and sq.result['reset'] is True
    refused = FakeSession(write_error=QueryFailure(INSUFFICIENT_PRIVILEGE, 'permission denied for function'))
    with pytest.raises(Failed, match=r'^reset: cannot reset pg_stat_statements: insufficient privilege'):
        make(refused, reset=True).reset()
    assert refused.closed


@pytest.mark.parametrize('value, shown', [(1000, '1000'), (1000.0, '1000'), (250.5, '250.5'),
                                          (0.0004, '0'), (1501.4004, '1501.4')])
def test_numbers_in_messages_drop_trailing_zeros(value, shown):
    assert slow_queries._fmt(value) == shown
