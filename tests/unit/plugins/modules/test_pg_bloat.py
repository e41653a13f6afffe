# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.fleetops.runbook.plugins.modules import pg_bloat
from ansible_collections.fleetops.runbook.plugins.module_utils.status import parse_thresholds

pytestmark = pytest.mark.postgres


class Failed(Exception):
    pass


class FakeModule:
    def __init__(self, **params):
        self.params = dict(databases=[], checks=list(pg_bloat.CHECKS), thresholds={},
                           min_size=10485760, min_wasted=52428800, limit=20, min_stats_age=604800,
                           login_host=None, login_port=None, login_user=None,
                           login_password=None, login_db=None, login_unix_socket=None,
                           ssl_mode='prefer', ca_cert=None, connect_timeout=10,
                           statement_timeout=1000, fail_on='critical')
        self.params.update(params)

    def fail_json(self, **kwargs):
        raise Failed(kwargs['msg'])


def validate(**params):
    checker = pg_bloat.PgBloat(FakeModule(**params))
    checker.validate()
    return checker


def make(**params):
    return validate(**params)


def table_row(**over):
    row = dict(schema='public', name='t', pages=1000, tuples=30000.0, natts=4, readable=True,
               fillfactor=None, columns=4, columns_with_stats=4, data_width=52.0, has_nulls=False)
    row.update(over)
    return row


# ---- input ---------------------------------------------------------------------------------

def test_defaults_validate_and_thresholds_follow_the_docs():
    checker = validate()
    assert checker.thresholds['table_bloat'].judge(29) == 'OK'
    assert checker.thresholds['table_bloat'].judge(35) == 'WARNING'
    assert checker.thresholds['table_bloat'].judge(55) == 'CRITICAL'
    assert checker.thresholds['index_bloat'].judge(45) == 'WARNING'
    assert checker.thresholds['index_bloat'].judge(75) == 'CRITICAL'
    assert checker.thresholds['unused_index_bytes'].judge(200 * 1024 ** 2) == 'WARNING'
    assert checker.thresholds['unused_indexes'].judge(1000) == 'OK'


@pytest.mark.parametrize('params, message', [
    (dict(limit=0), 'limit: must be at least 1, got 0'),
    (dict(min_size=-5), 'min_size: must be at least 0, got -5'),
    (dict(min_wasted=-1), 'min_wasted: must be at least 0, got -1'),
    (dict(min_stats_age=-1), 'min_stats_age: must be at least 0, got -1'),
    (dict(databases=['all', 'shop']), "databases: 'all' stands alone, got all, shop"),
    (dict(databases=['shop', 'shop']), 'databases: shop named twice'),
    (dict(databases=['']), 'databases: names must not be empty'),
    (dict(checks=[]), 'checks: choose at least one of table_bloat, index_bloat, unused_indexes'),
    (dict(thresholds={'table_bloat': {'warning': 'x'}}), 'thresholds.table_bloat.warning:'),
    (dict(thresholds={'bloat': {'warning': 1}}), "thresholds: unknown check 'bloat'"),
    (dict(login_port=70000), 'login_port: 70000 is not a TCP port'),
])
def test_bad_input_names_the_parameter(params, message):
    with pytest.raises(Failed) as exc:
        validate(**params)
    assert str(exc.value).startswith(message)


# ---- the estimate --------------------------------------------------------------------------

def test_heap_tuple_layout():
    layout = pg_bloat.PageLayout(8192)
    # 23-byte header aligned to 24, data aligned to 8.
    assert layout.heap_tuple_bytes(natts=4, data_width=52, has_nulls=False) == 24 + 56
    # A null bitmap of one byte per 8 columns fits in the header's padding for few columns...
    assert layout.heap_tuple_bytes(natts=4, data_width=52, has_nulls=True) == 24 + 56
    # ...and needs another 8 bytes beyond 8 columns.
    assert layout.heap_tuple_bytes(natts=20, data_width=52, has_nulls=True) == 32 + 56


def test_heap_pages_follow_the_page_size_and_fillfactor():
    layout = pg_bloat.PageLayout(8192)
    # 80-byte tuples plus 4-byte line pointers: 97 per 8168-byte page.
    assert layout.heap_pages(97 * 10, 4, 52, False) == 10
    assert layout.heap_pages(97 * 10 + 1, 4, 52, False) == 11
    # fillfactor 50 halves what a page takes.
    assert layout.heap_pages(48 * 10, 4, 52, False, fillfactor=50) == 10
    assert layout.heap_pages(0, 4, 52, False) == 0
    # Tiny tuples are capped by the line pointer limit of a page (291 on 8 kB pages).
    assert layout.heap_pages(291, 1, 0, False) == 1
    assert layout.heap_pages(292, 1, 0, False) == 2


def test_btree_pages_count_leaves_internal_pages_and_the_metapage():
    layout = pg_bloat.PageLayout(8192)
    # An int4 key: 16-byte tuples, 20 bytes with the line pointer; 8152 * 0.9 // 20 = 366 per leaf.
    assert layout.btree_tuple_bytes(4, False) == 16
    assert layout.btree_pages(366, 4, False) == 2           # metapage + a root leaf
    assert layout.btree_pages(366 * 10, 4, False) == 12     # metapage + 10 leaves + a root
    assert layout.btree_pages(366 * 10, 4, False, fillfactor=45) == 1 + 20 + 1


def test_estimate_of_a_bloated_table():
    layout = pg_bloat.PageLayout(8192)
    row = table_row(pages=1000, tuples=97 * 300.0)
    assert pg_bloat.estimate(row, layout, 'table') is True
    assert row['size_bytes'] == 1000 * 8192
    assert row['expected_bytes'] == 300 * 8192
    assert row['wasted_bytes'] == 700 * 8192
    assert row['wasted_percent'] == 70.0
    assert row['estimated_rows'] == 29100


def test_estimate_never_goes_below_zero():
    layout = pg_bloat.PageLayout(8192)
    row = table_row(pages=10, tuples=97 * 300.0)
    assert pg_bloat.estimate(row, layout, 'table') is True
    assert row['wasted_bytes'] == 0 and row['wasted_percent'] == 0.0


@pytest.mark.parametrize('over, reason', [
    (dict(tuples=-1.0, columns_with_stats=0), 'not analyzed, cannot estimate'),
    (dict(columns_with_stats=0), 'not analyzed, cannot estimate'),
    (dict(columns_with_stats=3), 'statistics missing for 1 of 4 columns'),
    (dict(readable=False, columns_with_stats=0), 'no access to the column statistics'),
])
def test_relations_that_cannot_be_estimated_say_why(over, reason):
    row = table_row(**over)
    assert pg_bloat.estimate(row, pg_bloat.PageLayout(8192), 'table') is False
    assert row['reason'].startswith(reason)
    assert 'wasted_percent' not in row


# ---- judging -------------------------------------------------------------------------------

def judge(min_wasted=0, thresholds=None):
    return pg_bloat.BloatJudge(parse_thresholds(thresholds or {}, pg_bloat.DEFAULT_THRESHOLDS),
                               min_wasted)


def test_judge_applies_the_thresholds_with_the_wasted_floor():
    row = dict(wasted_percent=70.0, wasted_bytes=700 * 8192, size_bytes=1000 * 8192)
    item = judge().item('table_bloat', 'shop.public.orders', row)
    assert item['status'] == 'CRITICAL'
    assert item['message'] == ('table_bloat shop.public.orders is 70.0% (about 5.5 MiB of 7.8 MiB '
                               'wasted) (critical 50)')
    item = judge(min_wasted=10 * 1024 ** 2).item('table_bloat', 'shop.public.orders', row)
    assert item['status'] == 'OK'
    assert 'below min_wasted 10.0 MiB, not judged' in item['message']
    item = judge(thresholds={'index_bloat': {'critical': 80}}).item('index_bloat', 'i', row)
    assert item['status'] == 'WARNING' and item['message'].endswith('(warning 40)')


def test_chosen_lists_alerts_or_the_worst():
    items = [dict(value=10.0, status='OK'), dict(value=60.0, status='CRITICAL'),
             dict(value=35.0, status='WARNING')]
    assert [i['value'] for i in pg_bloat.BloatJudge.chosen(items)] == [60.0, 35.0]
    items = [dict(value=10.0, status='OK'), dict(value=12.0, status='OK')]
    assert [i['value'] for i in pg_bloat.BloatJudge.chosen(items)] == [12.0]
    assert pg_bloat.BloatJudge.chosen([]) == []


def unused_rows(count, size=8192):
    return [dict(schema='public', table='t', index='t_idx%d' % n, size_bytes=size, valid=True,
                 definition='CREATE INDEX t_idx%d ON public.t USING btree (c%d)' % (n, n),
                 drop_statement='DROP INDEX CONCURRENTLY public.t_idx%d;' % n)
            for n in range(count)]


def test_unused_indexes_judged_when_statistics_are_old_enough():
    checker = make(thresholds={'unused_index_bytes': {'warning': 10000}})
    entry = dict(stats_age_seconds=30 * 86400.0)
    checker.unused('shop', unused_rows(7), entry)
    count, size = checker.report.checks
    assert count['value'] == 7 and count['status'] == 'OK'
    assert count['message'] == ('unused_indexes shop is 7 (public.t_idx0, public.t_idx1, '
                                'public.t_idx2, public.t_idx3, public.t_idx4, ...)')
    assert size['value'] == 7 * 8192 and size['status'] == 'WARNING'
    assert size['message'] == 'unused_index_bytes shop is 56.0 KiB in 7 index(es) (warning 10000)'
    assert entry['unused_index_count'] == 7 and len(entry['unused_indexes']) == 7


def test_unused_indexes_not_judged_on_young_statistics():
    checker = make(thresholds={'unused_index_bytes': {'warning': 0}}, limit=2)
    entry = dict(stats_age_seconds=3600.0)
    checker.unused('shop', unused_rows(3), entry)
    count, size = checker.report.checks
    assert size['status'] == 'OK'
    assert size['message'].endswith(
        'statistics cover only 60.0 min, less than min_stats_age 7.0 days, not judged')
    assert count['status'] == 'OK' and 'not judged' in count['message']
    assert len(entry['unused_indexes']) == 2 and entry['unused_index_count'] == 3


def test_bloat_is_judged_before_it_is_rounded():
    checker = make(min_wasted=0)
    row = dict(wasted_percent=50.0, wasted_ratio=50.004, wasted_bytes=10 ** 9, size_bytes=2 * 10 ** 9)
    item = checker.judge.item('table_bloat', 'db.public.t', row)
    assert item['value'] == 50.0 and item['status'] == 'CRITICAL'
