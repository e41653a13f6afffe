# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""libpq: the connection options as libpq keywords and as the client programs' environment."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from ansible_collections.fleetops.runbook.plugins.module_utils import libpq

pytestmark = pytest.mark.postgres


def test_libpq_keywords_leave_unset_options_out():
    assert libpq.libpq_keywords({'login_host': 'db1', 'login_password': '', 'login_db': None}) == {'host': 'db1'}


def test_libpq_environment_of_every_option():
    env = libpq.libpq_environment(dict(
        login_host='db1', login_unix_socket='/run/postgresql', login_port=5433, login_user='mon',
        login_password='s3cret', login_db='shop', ssl_mode='verify-ca', ca_cert='/ca.pem',
        ssl_cert='/c.pem', ssl_key='/c.key', connect_timeout=7, statement_timeout=500,
        connect_params={'target_session_attrs': 'primary', 'sslcompression': True}))
    assert env == {
        'PGHOST': '/run/postgresql', 'PGPORT': '5433', 'PGUSER': 'mon', 'PGPASSWORD': 's3cret',
        'PGDATABASE': 'shop', 'PGSSLMODE': 'verify-ca', 'PGSSLROOTCERT': '/ca.pem', 'PGSSLCERT': '/c.pem',
        'PGSSLKEY': '/c.key', 'PGCONNECT_TIMEOUT': '7', 'PGTARGETSESSIONATTRS': 'primary',
        'PGSSLCOMPRESSION': '1'}


def test_libpq_environment_refuses_a_keyword_without_variable():
    with pytest.raises(ValueError, match='connect_params: keepalives_idle has no libpq environment variable'):
        libpq.libpq_environment({'connect_params': {'keepalives_idle': 30}})
