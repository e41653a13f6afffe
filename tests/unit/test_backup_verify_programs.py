# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the backup verification engine runs client programs: real processes, run through the
run_command of the command the postgres_backup role installs (the module passes Ansible's)."""

from __future__ import annotations

import gzip
import importlib.util
import os
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / '.cache' / 'collections'))

from ansible_collections.fleetops.runbook.plugins.module_utils import backup_verify  # noqa: E402


def _host_command():
    spec = importlib.util.spec_from_file_location(
        'fleetops_pg_backup', str(ROOT / 'roles' / 'postgres_backup' / 'files' / 'fleetops_pg_backup.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


run_command = _host_command().run_command


def test_environment_carries_the_connection():
    env = backup_verify.RestoreCheck.environment({
        'login_host': 'db.example', 'login_unix_socket': '/run/pg', 'login_port': 5433,
        'login_user': 'verifier', 'login_password': 's3cret', 'ssl_mode': 'verify-full',
        'ca_cert': '/etc/ssl/pg-ca.pem', 'connect_timeout': 7})
    assert env == {
        'PGHOST': '/run/pg',  # login_unix_socket takes precedence over login_host
        'PGPORT': '5433', 'PGUSER': 'verifier', 'PGPASSWORD': 's3cret',
        'PGSSLMODE': 'verify-full', 'PGSSLROOTCERT': '/etc/ssl/pg-ca.pem',
        'PGCONNECT_TIMEOUT': '7', 'PGAPPNAME': 'fleetops_backup_verify'}


def test_environment_leaves_unset_options_to_libpq():
    env = backup_verify.RestoreCheck.environment({'login_host': 'db', 'login_password': ''})
    assert env == {'PGHOST': 'db', 'PGCONNECT_TIMEOUT': '10',
                   'PGAPPNAME': 'fleetops_backup_verify'}


def test_run_program_passes_the_environment():
    rc, out, dummy = backup_verify.run_program(
        run_command, ['sh', '-c', 'echo "$PGHOST|$PGPASSWORD"'],
        env={'PGHOST': '/run/pg', 'PGPASSWORD': 'p w'})
    assert rc == 0
    assert out == '/run/pg|p w\n'


def test_run_program_stops_a_program_at_its_timeout():
    with pytest.raises(backup_verify.ProgramTimeout, match='sleep did not finish within 1 seconds'):
        backup_verify.run_program(run_command, ['sleep', '60'], timeout=1)


def test_gzip_feeder_streams_through_a_pipe(tmp_path):
    content = b''.join(b'INSERT INTO t VALUES (%d);\n' % i for i in range(200000))
    path = tmp_path / 'dump.sql.gz'
    path.write_bytes(gzip.compress(content))
    read_fd, write_fd = os.pipe()
    feeder = backup_verify.GzipFeeder(str(path), write_fd)

    def start(dummy_proc):
        os.close(read_fd)
        feeder.start()

    rc, out, err = backup_verify.run_program(
        run_command, ['wc', '-c', '/dev/fd/%d' % read_fd], pass_fds=(read_fd,), on_start=start)
    feeder.join()
    assert rc == 0, err
    assert feeder.error is None
    assert int(out.split()[0]) == len(content)


def test_gzip_feeder_stops_when_the_reader_does(tmp_path):
    path = tmp_path / 'dump.sql.gz'
    path.write_bytes(gzip.compress(os.urandom(1 << 20) * 8))
    read_fd, write_fd = os.pipe()
    feeder = backup_verify.GzipFeeder(str(path), write_fd)

    def start(dummy_proc):
        os.close(read_fd)
        feeder.start()

    rc, dummy, dummy_err = backup_verify.run_program(
        run_command, ['head', '-c', '10', '/dev/fd/%d' % read_fd], pass_fds=(read_fd,),
        on_start=start)
    feeder.join()
    assert rc == 0
    assert feeder.error is None  # a closed pipe is not an error of the feeder


def _alive(pid):
    """True while ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        with open('/proc/%d/stat' % pid) as handle:
            return handle.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def test_run_program_stops_what_the_program_started(tmp_path):
    """At the deadline the whole process group goes (pg_restore -j forks its workers): a child
    that would outlive its parent cannot hold the caller."""
    pidfile = tmp_path / 'child.pid'
    script = 'sleep 300 & echo $! > %s; wait' % pidfile
    with pytest.raises(backup_verify.ProgramTimeout):
        backup_verify.run_program(run_command, ['sh', '-c', script], timeout=5)
    child = int(pidfile.read_text())
    for dummy in range(600):  # a hang guard only: the kill is immediate
        if not _alive(child):
            break
        time.sleep(0.1)
    assert not _alive(child)


def test_side_files_are_read_with_a_bound(tmp_path):
    small = tmp_path / 'x.sha256'
    small.write_text('%s  x\n' % ('a' * 64))
    assert backup_verify.read_sidecar(str(small)) == {'x': 'a' * 64}
    big = tmp_path / 'big.json'
    big.write_bytes(b' ' * 2048)
    with pytest.raises(ValueError, match='larger than 1024 bytes'):
        backup_verify.read_small_file(str(big), limit=1024)
    fifo = tmp_path / 'fifo.json'
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match='is a FIFO'):
        backup_verify.read_small_file(str(fifo))
    with pytest.raises(ValueError, match='is a character device'):
        backup_verify.read_small_file('/dev/zero')
