# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The parts of the test restore that need no PostgreSQL: the libpq environment and the gzip
feeder, with real processes through the run_command of the host command."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import gzip
import os

import pytest

from ansible_collections.fleetops.runbook.plugins.module_utils import restore_check
from ansible_collections.fleetops.runbook.plugins.module_utils.programs import run_program

pytestmark = pytest.mark.backup


def test_environment_carries_the_connection():
    env = restore_check.RestoreCheck.environment({
        'login_host': 'db.example', 'login_unix_socket': '/run/pg', 'login_port': 5433,
        'login_user': 'verifier', 'login_password': 's3cret', 'ssl_mode': 'verify-full',
        'ca_cert': '/etc/ssl/pg-ca.pem', 'connect_timeout': 7})
    assert env == {
        'PGHOST': '/run/pg',  # login_unix_socket takes precedence over login_host
        'PGPORT': '5433', 'PGUSER': 'verifier', 'PGPASSWORD': 's3cret',
        'PGSSLMODE': 'verify-full', 'PGSSLROOTCERT': '/etc/ssl/pg-ca.pem',
        'PGCONNECT_TIMEOUT': '7', 'PGAPPNAME': 'fleetops_backup_verify'}


def test_environment_leaves_unset_options_to_libpq():
    env = restore_check.RestoreCheck.environment({'login_host': 'db', 'login_password': ''})
    assert env == {'PGHOST': 'db', 'PGCONNECT_TIMEOUT': '10',
                   'PGAPPNAME': 'fleetops_backup_verify'}


def test_quote_table():
    assert restore_check.quote_table('public.t"x') == '"public"."t""x"'
    assert restore_check.quote_table('t') == '"t"'


def _feed(path, args, run_command):
    """Runs ``args`` (``{fd}`` standing for the pipe) with the gzip feeder writing into the pipe."""
    read_fd, write_fd = os.pipe()
    feeder = restore_check.GzipFeeder(str(path), write_fd)

    def start(dummy_proc):
        os.close(read_fd)
        feeder.start()

    rc, out, err = run_program(run_command, [a.format(fd='/dev/fd/%d' % read_fd) for a in args],
                               pass_fds=(read_fd,), on_start=start)
    feeder.join()
    return feeder, rc, out, err


def test_gzip_feeder_streams_through_a_pipe(tmp_path, run_command):
    content = b''.join(b'INSERT INTO t VALUES (%d);\n' % i for i in range(200000))
    path = tmp_path / 'dump.sql.gz'
    path.write_bytes(gzip.compress(content))
    feeder, rc, out, err = _feed(path, ['wc', '-c', '{fd}'], run_command)
    assert rc == 0, err
    assert feeder.error is None
    assert int(out.split()[0]) == len(content)


def test_gzip_feeder_stops_when_the_reader_does(tmp_path, run_command):
    path = tmp_path / 'dump.sql.gz'
    path.write_bytes(gzip.compress(os.urandom(1 << 20) * 8))
    feeder, rc, dummy, dummy_err = _feed(path, ['head', '-c', '10', '{fd}'], run_command)
    assert rc == 0
    assert feeder.error is None  # a closed pipe is not an error of the feeder
