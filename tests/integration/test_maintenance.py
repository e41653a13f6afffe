# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""weekly_maintenance.yml (log cleanup, restore test) and security_audit.yml on this host."""

from __future__ import annotations

import json
import os
import time

import pytest

from .emergency_helpers import (backup_now, counts, databases, failures, make_shop, only_reports,
                                tree, write_inventory)
from .harness import REPO

pytestmark = pytest.mark.emergency

OLD = time.time() - 9 * 86400


@pytest.fixture
def logs(tmp_path):
    directory = tmp_path / 'logs'
    directory.mkdir()
    for name, when in (('app.log', OLD), ('app.log.1', OLD), ('app.log.2.gz', OLD),
                       ('fresh.log', time.time()), ('notes.txt', OLD)):
        (directory / name).write_text(name * 100)
        os.utime(directory / name, (when, when))
    return directory


def weekly(ansible, tmp_path, logs, check, **extra):
    inventory = write_inventory(tmp_path / 'inventory.yml', {})
    return ansible.playbook(REPO / 'playbooks' / 'weekly_maintenance.yml', inventory=inventory,
                            check=check, extra_vars=dict({
                                'maintenance_log_paths': [str(logs)],
                                'maintenance_report_dir': str(tmp_path / 'reports')}, **extra))


def test_log_cleanup_dry_run_in_check_mode(ansible, tmp_path, logs):
    before = tree(logs)
    result = weekly(ansible, tmp_path, logs, check=True,
                    maintenance_log_patterns=['*.log', '*.log.[0-9]*', '*.gz'])
    assert result.rc == 0, failures(result)
    assert tree(logs) == before
    cleanup = result.task('Remove logs older than the limit (lists them in check mode)')
    assert sorted(os.path.basename(f['path']) for f in cleanup['removed']) == [
        'app.log', 'app.log.1', 'app.log.2.gz']
    assert cleanup['checks'][0]['message'].startswith('would remove 3 files')
    assert only_reports(tmp_path / 'reports', 'weekly_maintenance')


def test_weekly_with_postgres_in_check_mode_changes_nothing(
        ansible, tmp_path, logs, pg_cluster_factory):
    cluster = pg_cluster_factory()
    make_shop(cluster, 'mw_shop', orders=40, leads=4)
    dumps = backup_now(cluster, tmp_path / 'backups', ['mw_shop'], tmp_path)
    analyzed = "SELECT relname, analyze_count FROM pg_stat_user_tables ORDER BY relname"
    before = (databases(cluster), counts(cluster, 'mw_shop'),
              cluster.execute(analyzed, dbname='mw_shop'), tree(logs), tree(tmp_path / 'backups'))
    inventory = write_inventory(tmp_path / 'inventory.yml', {})
    result = ansible.playbook(REPO / 'playbooks' / 'weekly_maintenance.yml', inventory=inventory,
                              check=True, extra_vars={
                                  'maintenance_log_paths': [str(logs)],
                                  'maintenance_pg_enabled': True,
                                  'maintenance_pg_databases': ['mw_shop'],
                                  'maintenance_postgres_connection': {
                                      'login_host': cluster.host, 'login_port': cluster.port,
                                      'login_user': cluster.superuser,
                                      'login_password': cluster.superuser_password},
                                  'maintenance_backup_path': str(dumps[0]),
                                  'maintenance_report_dir': str(tmp_path / 'reports')})
    assert result.rc == 0, failures(result)
    assert result.task('Update the planner statistics (ANALYZE)')['skipped'] is True
    assert result.task('Check dead tuples, vacuum and analyze state')['status'] in (
        'OK', 'WARNING', 'CRITICAL')
    after = (databases(cluster), counts(cluster, 'mw_shop'),
             cluster.execute(analyzed, dbname='mw_shop'), tree(logs), tree(tmp_path / 'backups'))
    assert after == before
    assert only_reports(tmp_path / 'reports', 'weekly_maintenance')


def test_log_cleanup_removes_only_old_logs(ansible, tmp_path, logs):
    # by default rotated files are logrotate's to expire (its policies keep them 30 days)
    result = weekly(ansible, tmp_path, logs, check=False)
    assert result.rc == 0, failures(result)
    assert sorted(p.name for p in logs.iterdir()) == ['app.log.1', 'app.log.2.gz', 'fresh.log',
                                                      'notes.txt']
    report = json.loads((tmp_path / 'reports' / 'weekly_maintenance.json').read_text())
    cell = report['hosts'][0]['results']['log_cleanup']
    assert cell['status'] == 'OK' and cell['checks'][0]['value'] == 1


def test_log_cleanup_rotated_files_when_told(ansible, tmp_path, logs):
    result = weekly(ansible, tmp_path, logs, check=False,
                    maintenance_log_patterns=['*.log', '*.log.[0-9]*', '*.gz'])
    assert result.rc == 0, failures(result)
    assert sorted(p.name for p in logs.iterdir()) == ['fresh.log', 'notes.txt']


def test_security_audit_findings(ansible, tmp_path):
    access = tmp_path / 'access.log'
    stamp = time.strftime('%d/%b/%Y:%H:%M:%S +0000', time.gmtime(time.time() - 60))
    old = time.strftime('%d/%b/%Y:%H:%M:%S +0000', time.gmtime(time.time() - 3 * 86400))
    lines = ['203.0.113.7 - - [%s] "POST /login HTTP/1.1" 401 12 "-" "x"\n' % stamp] * 12
    lines += ['198.51.100.2 - - [%s] "GET / HTTP/1.1" 200 99 "-" "x"\n' % stamp] * 3
    lines += ['192.0.2.5 - - [%s] "POST /login HTTP/1.1" 403 12 "-" "x"\n' % old] * 50
    access.write_text(''.join(lines))
    www = tmp_path / 'www'
    www.mkdir()
    (www / 'upload.php').write_text('x')
    os.chmod(www / 'upload.php', 0o666)
    etc = tmp_path / 'etc'
    etc.mkdir()
    (etc / 'changed.conf').write_text('x')
    inventory = write_inventory(tmp_path / 'inventory.yml', {})
    result = ansible.playbook(REPO / 'playbooks' / 'security_audit.yml', inventory=inventory,
                              extra_vars={
                                  'maintenance_audit_access_logs': [str(access)],
                                  'maintenance_audit_world_writable_paths': [str(www)],
                                  'maintenance_audit_etc_paths': [str(etc)],
                                  'maintenance_report_dir': str(tmp_path / 'reports')},
                              args=('-e', 'ansible_become=false'))
    assert result.rc == 0, failures(result)
    audit = result.task('Audit the host')
    assert audit['access_log'] == {'requests': 15, 'auth_errors': 12, 'top_sources': [
        {'source': '203.0.113.7', 'requests': 12}, {'source': '198.51.100.2', 'requests': 3}]}
    checks = dict((c['name'], c) for c in audit['checks'])
    assert checks['auth_errors']['status'] == 'WARNING'
    assert checks['world_writable']['status'] == 'CRITICAL'
    assert audit['world_writable'] == [str(www / 'upload.php')]
    assert audit['etc_changes'] == [str(etc / 'changed.conf')]
    assert checks['security_upgrades']['status'] in ('OK', 'WARNING', 'UNKNOWN')
    report = json.loads((tmp_path / 'reports' / 'security_audit.json').read_text())
    assert report['hosts'][0]['status'] == 'CRITICAL'


def test_security_audit_in_check_mode_changes_nothing(ansible, tmp_path):
    access = tmp_path / 'access.log'
    stamp = time.strftime('%d/%b/%Y:%H:%M:%S +0000', time.gmtime(time.time() - 60))
    access.write_text('203.0.113.7 - - [%s] "POST /login HTTP/1.1" 401 12 "-" "x"\n' % stamp * 3)
    www = tmp_path / 'www'
    www.mkdir()
    (www / 'upload.php').write_text('x')
    os.chmod(www / 'upload.php', 0o666)
    inputs = {path: (path.stat().st_mode, path.stat().st_mtime, path.read_bytes())
              for path in (access, www / 'upload.php')}
    inventory = write_inventory(tmp_path / 'inventory.yml', {})
    result = ansible.playbook(REPO / 'playbooks' / 'security_audit.yml', inventory=inventory,
                              check=True, extra_vars={
                                  'maintenance_audit_access_logs': [str(access)],
                                  'maintenance_audit_world_writable_paths': [str(www)],
                                  'maintenance_audit_etc_paths': [str(tmp_path / 'etc')],
                                  'maintenance_report_dir': str(tmp_path / 'reports')},
                              args=('-e', 'ansible_become=false'))
    assert result.rc == 0, failures(result)
    assert result.stats['localhost'].get('changed', 0) == 0
    audit = result.task('Audit the host')
    assert audit['world_writable'] == [str(www / 'upload.php')]
    assert {path: (path.stat().st_mode, path.stat().st_mtime, path.read_bytes())
            for path in inputs} == inputs
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        'access.log', 'inventory.yml', 'reports', 'www']
    assert only_reports(tmp_path / 'reports', 'security_audit')


def test_bad_extra_vars_stop_before_anything_changes(ansible, tmp_path, logs):
    before = tree(logs)
    inventory = write_inventory(tmp_path / 'inventory.yml', {})
    result = ansible.playbook(REPO / 'playbooks' / 'weekly_maintenance.yml', inventory=inventory,
                              extra_vars={'maintenance_log_paths': [str(logs)],
                                          'maintenance_pg_enabled': 'maybe',
                                          'maintenance_report_dir': str(tmp_path / 'reports')})
    assert result.rc != 0
    assert 'maintenance_pg_enabled' in result.stdout
    assert tree(logs) == before
    assert not (tmp_path / 'reports').exists()

    result = ansible.playbook(REPO / 'playbooks' / 'security_audit.yml', inventory=inventory,
                              extra_vars={'maintenance_audit_fail_on': 'sometimes',
                                          'maintenance_report_dir': str(tmp_path / 'reports')},
                              args=('-e', 'ansible_become=false'))
    assert result.rc != 0
    assert 'maintenance_audit_fail_on' in result.stdout and 'sometimes' in result.stdout
    assert not (tmp_path / 'reports').exists()


def test_monthly_report_without_rehearsal(ansible, tmp_path):
    inventory = write_inventory(tmp_path / 'inventory.yml', {})
    result = ansible.playbook(REPO / 'playbooks' / 'monthly_maintenance.yml', inventory=inventory,
                              extra_vars={'maintenance_report_dir': str(tmp_path / 'reports')},
                              args=('-e', 'ansible_become=false'))
    assert result.rc == 0, failures(result)
    upgrades = result.task('Report pending package upgrades')
    assert set(c['name'] for c in upgrades['checks']) == {'upgrades', 'security_upgrades'}
    report = json.loads((tmp_path / 'reports' / 'monthly_maintenance.json').read_text())
    results = report['hosts'][0]['results']
    assert results['upgrades']['status'] == upgrades['status']
    assert results['certificates']['applicable'] is False  # no certificates given: not checked
    assert results['certificates']['status'] is None


# ---- the PostgreSQL half of the weekly maintenance --------------------------------------------

WEEKLY_DB = 'maint_weekly_pg'


def last_analyze(cluster):
    return cluster.execute("SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'orders'",
                           dbname=WEEKLY_DB)[0][0]


def weekly_pg(ansible, tmp_path, cluster, check):
    inventory = write_inventory(tmp_path / 'inventory.yml', {})
    login = cluster.login_args()
    login.pop('login_db')
    return ansible.playbook(REPO / 'playbooks' / 'weekly_maintenance.yml', inventory=inventory,
                            check=check, extra_vars={
                                'maintenance_pg_enabled': True,
                                'maintenance_postgres_connection': login,
                                'maintenance_pg_databases': [WEEKLY_DB],
                                'maintenance_report_dir': str(tmp_path / 'reports')})


def test_weekly_postgres_tasks(ansible, tmp_path, pg_cluster):
    pg_cluster.execute('DROP DATABASE IF EXISTS %s WITH (FORCE)' % WEEKLY_DB)
    pg_cluster.execute('CREATE DATABASE %s' % WEEKLY_DB)
    try:
        pg_cluster.execute("CREATE TABLE orders (id int PRIMARY KEY, customer int, note text)"
                           " WITH (autovacuum_enabled = off);"
                           " INSERT INTO orders SELECT g, g % 100, 'n' || g"
                           " FROM generate_series(1, 5000) g;"
                           " CREATE INDEX orders_note_idx ON orders (note)", dbname=WEEKLY_DB)

        # Check mode: ANALYZE is not run, nothing in the database changes.
        result = weekly_pg(ansible, tmp_path, pg_cluster, check=True)
        assert result.rc == 0, failures(result)
        assert last_analyze(pg_cluster) is None
        assert pg_cluster.execute("SELECT count(*) FROM pg_indexes WHERE indexname ="
                                  " 'orders_note_idx'", dbname=WEEKLY_DB)[0][0] == 1
        bloat = result.task('Report table and index bloat and unused indexes')
        assert bloat['changed'] is False
        assert 'public.orders_note_idx' in [
            '%s.%s' % (r['schema'], r['index']) for r in bloat['databases'][0]['unused_indexes']]

        result = weekly_pg(ansible, tmp_path, pg_cluster, check=False)
        assert result.rc == 0, failures(result)
        assert last_analyze(pg_cluster) is not None
        slow = result.task('Review the slow queries')
        assert slow['is_available'] is True and slow['checks']
        report = json.loads((tmp_path / 'reports' / 'weekly_maintenance.json').read_text())
        results = report['hosts'][0]['results']
        assert {'vacuum', 'bloat', 'slow_queries'} <= set(results)
        assert {c['name'] for c in results['vacuum']['checks']} >= {'last_vacuum', 'last_analyze'}
        messages = [c['message'] for c in results['bloat']['checks']
                    if c['name'] == 'unused_indexes']
        assert len(messages) == 1 and 'public.orders_note_idx' in messages[0], messages
        # Statistics younger than a week: the unused index is listed, not judged.
        assert 'not judged' in messages[0]
        unused = result.task('Report table and index bloat and unused indexes')['databases'][0]
        assert unused['database'] == WEEKLY_DB
        assert [r['drop_statement'] for r in unused['unused_indexes']] == [
            'DROP INDEX CONCURRENTLY public.orders_note_idx;']
    finally:
        pg_cluster.execute('DROP DATABASE IF EXISTS %s WITH (FORCE)' % WEEKLY_DB)
