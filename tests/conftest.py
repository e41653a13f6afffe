# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The test areas, as pytest markers.

A test file names its areas with ``pytestmark = [pytest.mark.<area>, ...]``; ``make test-<area>``
runs ``pytest -m <area>`` over tests/unit and tests/integration. The markers are registered here
rather than in pytest.ini because ``ansible-test units`` runs pytest with a configuration file of
its own (and --strict-markers); this conftest is read by both runs.
"""

from __future__ import annotations

AREAS = {
    'awx': 'AWX / Automation Platform: job templates, the execution environment',
    'backup': 'backups: backup_verify, the archive reader, restore checks, the postgres_backup role',
    'capacity': 'the capacity trend of the monthly maintenance',
    'containers': 'container_check against the Docker engine',
    'eda': 'Event-Driven Ansible: the alertmanager event source, the rulebook, alert_incident',
    'emergency': 'incident response, disaster recovery, maintenance and db_restore',
    'gate': 'the generated-input gate over every module and action plugin',
    'http': 'http_check',
    'log_stats': 'log_stats: access, JSON-lines and application logs',
    'postgres': 'PostgreSQL checks: pg_health, slow_queries, pg_bloat, the connection code',
    'redis': 'redis_check',
    'report': 'the fleet report and its findings',
    'services': 'service_check: systemd units and listening sockets',
}


def pytest_configure(config):
    for name, description in AREAS.items():
        config.addinivalue_line('markers', '%s: %s' % (name, description))
