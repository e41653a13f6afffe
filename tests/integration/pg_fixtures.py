# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL fixtures for integration tests, on top of tests/support/pgcluster.py.

``pg_cluster``          one cluster for the whole session (superuser + pg_monitor role, pg_stat_statements)
``pg_cluster_factory``  ``pg_cluster_factory(settings={...})`` makes a fresh started cluster for
                        tests that need special settings or will break it; destroyed at session end
"""

from __future__ import annotations

import pytest

from tests.support.pgcluster import PgCluster, new_cluster

__all__ = ['PgCluster', 'new_cluster', 'pg_cluster', 'pg_cluster_factory']


@pytest.fixture(scope='session')
def pg_cluster_factory():
    made = []

    def make(settings=None, **kwargs):
        cluster = new_cluster(settings=settings, **kwargs)
        made.append(cluster)
        return cluster.start()

    yield make
    for cluster in made:
        cluster.destroy()


@pytest.fixture(scope='session')
def pg_cluster(pg_cluster_factory):
    """The session's shared cluster. Tests must leave it as they found it (close sessions)."""
    return pg_cluster_factory()
