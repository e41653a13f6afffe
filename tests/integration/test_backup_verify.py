# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""backup_verify against real dumps of real data: every good backup OK, every damage CRITICAL.

Dumps of two databases of different sizes are made with the real pg_dump in every format; the
damaged copies are batched into one directory and checked in a single module call.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from .pg_helpers import check as check_named, checks_named, frozen, wait_until
from .restore_helpers import (
    add_rows, inject, make_live, pg_dump, rows, scratch_databases, tamper_toc)

pytestmark = pytest.mark.backup

MODULE = 'fleetops.runbook.backup_verify'

DATABASES = {
    # name: SQL that fills it
    'bv_small': [
        "CREATE TABLE orders (id serial PRIMARY KEY, note text, amount numeric, "
        "created timestamptz DEFAULT now())",
        "INSERT INTO orders (note, amount) SELECT 'order ' || g || E'\\twith tab\\nand newline', "
        "g * 1.5 FROM generate_series(1, 3000) g",
        "CREATE TABLE empty_t (x int)",
        "CREATE SCHEMA s2",
        "CREATE TABLE s2.items (id int, payload bytea)",
        "INSERT INTO s2.items SELECT g, decode(md5(g::text), 'hex') FROM generate_series(1, 700) g",
        "SELECT lo_from_bytea(0, 'a large object')",
    ],
    'bv_medium': [
        "CREATE TABLE events (id bigint PRIMARY KEY, kind text, payload text, at timestamptz)",
        "INSERT INTO events SELECT g, 'kind' || (g % 17), md5(g::text) || repeat('x', g % 50), "
        "'2025-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, 250000) g",
        "CREATE TABLE tags (event_id bigint REFERENCES events, tag text)",
        "INSERT INTO tags SELECT g, 't' || (g % 7) FROM generate_series(1, 250000, 3) g",
    ],
}

FORMATS = {
    # name: (pg_dump options, file suffix)
    'custom': (['-Fc'], '.dump'),
    'custom_z0': (['-Fc', '-Z0'], '.dump'),
    'directory': (['-Fd'], '.dir'),
    'tar': (['-Ft'], '.tar'),
    'plain': (['-Fp'], '.sql'),
    'plain_gz': (['-Fp'], '.sql.gz'),
}


def sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def write_sidecar(path):
    path = Path(path)
    if path.is_dir():
        lines = ['%s  %s/%s\n' % (sha256(f), path.name, f.name) for f in sorted(path.iterdir())]
    else:
        lines = ['%s  %s\n' % (sha256(path), path.name)]
    Path(str(path) + '.sha256').write_text(''.join(lines))


class DumpSet:
    """Good dumps of every database in every format, with sidecars and manifests."""

    def __init__(self, cluster, root):
        self.cluster = cluster
        self.root = Path(root)
        self.good = self.root / 'good'
        self.good.mkdir(parents=True)
        self.env = dict(os.environ, **cluster.env())
        self.counts = {}
        self.files = {}

    def build(self):
        for db, statements in DATABASES.items():
            self.cluster.execute('DROP DATABASE IF EXISTS %s' % db)
            self.cluster.execute('CREATE DATABASE %s' % db)
            for sql in statements:
                self.cluster.execute(sql, dbname=db)
            tables = self.cluster.execute(
                "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname NOT IN "
                "('pg_catalog', 'information_schema')", dbname=db)
            self.counts[db] = dict(
                (t, self.cluster.execute('SELECT count(*) FROM %s' % t, dbname=db)[0][0])
                for (t,) in tables)
            for fmt, (options, suffix) in FORMATS.items():
                target = self.good / ('%s_%s%s' % (db, fmt, suffix))
                if fmt == 'plain_gz':
                    with gzip.open(target, 'wb') as out:
                        out.write(subprocess.run(['pg_dump', *options, db], env=self.env,
                                                 check=True, capture_output=True).stdout)
                else:
                    subprocess.run(['pg_dump', *options, '-f', str(target), db], env=self.env,
                                   check=True, capture_output=True)
                write_sidecar(target)
                manifest = {'database': db, 'format': fmt, 'tables': self.counts[db],
                            'row_count_method': 'exact count(*)'}
                if target.is_file():
                    manifest['sha256'] = sha256(target)
                    manifest['size'] = target.stat().st_size
                Path(str(target) + '.manifest.json').write_text(json.dumps(manifest))
                self.files[(db, fmt)] = target
        return self


@pytest.fixture(scope='module')
def dumps(pg_cluster, tmp_path_factory):
    return DumpSet(pg_cluster, tmp_path_factory.mktemp('backup_verify')).build()


def by_path(result):
    return dict((b['path'], b) for b in result['backups'])


# --------------------------------------------------------------------------------------------
# Good backups


def test_every_good_backup_is_ok(ansible, dumps):
    result = ansible.module(MODULE, {'path': str(dumps.good), 'latest': 0})
    assert not result.get('failed'), result
    assert result['status'] == 'OK', result['summary']
    backups = by_path(result)
    assert len(backups) == len(DATABASES) * len(FORMATS)
    for (db, fmt), path in dumps.files.items():
        entry = backups[str(path)]
        assert entry['status'] == 'OK', entry['problems']
        assert entry['checksum'] == 'match'
        expected_format = 'custom' if fmt == 'custom_z0' else fmt
        assert entry['format'] == expected_format
        if fmt.startswith('plain'):
            continue
        assert entry['toc']['database'] == db
        assert entry['toc']['tables'] == len(dumps.counts[db])
        assert entry['toc']['table_data'] == len(dumps.counts[db])
        assert entry['toc']['dumped_from'].startswith(
            str(dumps.cluster.execute('SHOW server_version')[0][0]).split()[0])
        # rows counted from the dump itself equal the exact count(*) at dump time
        assert entry['data']['rows'] == dumps.counts[db]
        assert entry['manifest'].endswith('.manifest.json')
    small = backups[str(dumps.files[('bv_small', 'custom')])]
    assert small['data']['large_objects'] == 1
    assert small['toc']['compression'] == 'gzip'
    assert backups[str(dumps.files[('bv_small', 'custom_z0')])]['toc']['compression'] == 'none'
    assert small['sha256'] == sha256(dumps.files[('bv_small', 'custom')])
    names = [c['name'] for c in result['checks']]
    for name in ('exists', 'age', 'checksum', 'toc', 'data', 'gzip', 'footer', 'manifest'):
        assert name in names
    assert 'fleetops_check_status{source="backup_verify"' in '\n'.join(result['metrics'])


def test_series_age_and_shrink(ansible, dumps, tmp_path):
    """Backups differing only in their timestamp form a series; the newest is judged."""
    src = dumps.files[('bv_small', 'custom_z0')]
    small = dumps.files[('bv_small', 'custom')]
    old = tmp_path / 'bv_small_20250101T030000Z.dump'
    new = tmp_path / 'bv_small_20250102T030000Z.dump'
    shutil.copy(src, old)
    shutil.copy(small, new)  # the newer backup is far smaller: a shrink
    past = time.time() - 7200
    os.utime(old, (past, past))
    result = ansible.module(MODULE, {'path': str(tmp_path), 'checksum_missing': 'ok'})
    assert result['status'] == 'WARNING', result['summary']
    assert [b['path'] for b in result['backups']] == [str(new)]
    shrink = [c for c in result['checks'] if c['name'] == 'size_change'][0]
    assert shrink['status'] == 'WARNING'
    assert shrink['value'] < -20
    assert str(old) in shrink['message']

    # the newest is only two hours old in a world with a 1 hour RPO
    os.utime(new, (past, past))
    result = ansible.module(MODULE, {'path': str(tmp_path), 'checksum_missing': 'ok',
                                     'fail_on': 'never'})
    age = [c for c in result['checks'] if c['name'] == 'age'][0]
    assert age['status'] == 'CRITICAL'
    assert 7100 < age['value'] < 7400
    assert 'newest good backup' in age['message']
    result = ansible.module(MODULE, {'path': str(tmp_path), 'checksum_missing': 'ok',
                                     'max_age': '3h', 'latest': 0})
    assert [c for c in result['checks'] if c['name'] == 'age'][0]['status'] == 'OK'
    assert len(result['backups']) == 2


def test_a_dump_of_another_database_is_critical(ansible, dumps, tmp_path):
    """A valid dump of bv_medium where a dump of bv_small is expected, by file name, manifest or
    the database option, in every archive format."""
    named = tmp_path / 'named'
    named.mkdir()
    for fmt, suffix in (('custom', '.dump'), ('tar', '.tar'), ('directory', '.dir')):
        src = dumps.files[('bv_medium', fmt)]
        target = named / ('bv_small_20250101T0%d0000Z%s' % (len(suffix), suffix))
        (shutil.copytree if src.is_dir() else shutil.copy)(src, target)
    result = ansible.module(MODULE, {'path': str(named), 'latest': 0, 'checksum_missing': 'ok',
                                     'max_age': '30d', 'fail_on': 'never'})
    assert result['status'] == 'CRITICAL', result['summary']
    found = checks_named(result, 'database')
    assert len(found) == 3
    for check in found:
        assert check['status'] == 'CRITICAL'
        assert 'is a dump of database bv_medium, but the file name says bv_small' in \
            check['message'], check['message']

    manifest = tmp_path / 'manifest'
    manifest.mkdir()
    target = manifest / 'nightly.dump'
    shutil.copy(dumps.files[('bv_medium', 'custom')], target)
    Path(str(target) + '.manifest.json').write_text(json.dumps({'database': 'bv_small'}))
    result = ansible.module(MODULE, {'path': str(target), 'checksum_missing': 'ok',
                                     'max_age': '30d', 'fail_on': 'never'})
    check = check_named(result, 'database')
    assert check['status'] == 'CRITICAL'
    assert 'bv_medium' in check['message'] and 'manifest' in check['message']
    assert 'says bv_small' in check['message']

    option = tmp_path / 'option.tar'
    shutil.copy(dumps.files[('bv_medium', 'tar')], option)
    args = {'path': str(option), 'checksum_missing': 'ok', 'max_age': '30d', 'fail_on': 'never'}
    result = ansible.module(MODULE, dict(args, database='bv_small'))
    check = check_named(result, 'database')
    assert check['status'] == 'CRITICAL'
    assert 'the database option says bv_small' in check['message']
    result = ansible.module(MODULE, dict(args, database='bv_medium'))
    assert result['status'] == 'OK', result['summary']
    assert check_named(result, 'database')['status'] == 'OK'


def test_the_database_of_a_plain_dump_cannot_be_told(ansible, dumps):
    result = ansible.module(MODULE, {'path': str(dumps.files[('bv_small', 'plain')]),
                                     'database': 'bv_medium', 'max_age': '30d'})
    check = check_named(result, 'database')
    assert check['status'] == 'OK'
    assert 'does not record the database it was dumped from' in check['message']
    assert 'cannot be compared with bv_medium' in check['message']


# --------------------------------------------------------------------------------------------
# Damage: each case is one file (or directory) in one batch


def _toc_end(path):
    from ansible_collections.fleetops.runbook.plugins.module_utils import pg_archive  # pylint: disable=import-outside-toplevel
    with pg_archive.OnePassFile(str(path)) as reader:
        cursor = pg_archive.Cursor(reader.blocks(), str(path))
        archive = pg_archive.Archive()
        pg_archive.read_header(cursor, archive)
        header_end = cursor.tell()
        pg_archive.read_toc(cursor, archive, os.path.getsize(path))
        return header_end, cursor.tell(), archive


def _largest_block(path):
    """(start, end) of the largest data block of a custom archive, from its TOC offsets."""
    dummy, toc_end, archive = _toc_end(path)
    starts = sorted(e.data_pos for e in archive.entries if e.data_state == 2)
    bounds = list(zip(starts, starts[1:] + [os.path.getsize(path)]))
    return max(bounds, key=lambda b: b[1] - b[0])


def truncate(src, dst, offset):
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[:offset])


def flip(src, dst, offset):
    data = bytearray(Path(src).read_bytes())
    data[offset] ^= 0x5A
    Path(dst).write_bytes(bytes(data))


def build_damage(dumps, bad):
    """Damaged copies of the good dumps; returns {case: (path, words the message must contain)}."""
    cases = {}
    for db in DATABASES:
        for fmt in ('custom', 'custom_z0', 'tar', 'plain', 'plain_gz'):
            src = dumps.files[(db, fmt)]
            size = src.stat().st_size
            suffix = FORMATS[fmt][1]
            offsets = {'header': 12, 'middle': size // 2, 'last_bytes': size - 3}
            if fmt.startswith('custom'):
                header_end, toc_end, dummy = _toc_end(src)
                offsets['toc'] = (header_end + toc_end) // 2
                start, end = _largest_block(src)
                offsets['data_middle'] = (start + end) // 2
                offsets['block_start'] = start + 3
            if fmt == 'tar':
                offsets['toc'] = 512 + 300
                offsets['block_end'] = size - 700
            for where, offset in offsets.items():
                name = '%s_%s_cut_%s%s' % (db, fmt, where, suffix)
                truncate(src, bad / name, offset)
                cases[name] = (bad / name, None)
            # one byte flipped in the middle of the table data; the sidecar travels with it
            if fmt.startswith('custom'):
                start, end = _largest_block(src)
                offset = (start + end) // 2
            else:
                offset = size // 2
            name = '%s_%s_flip%s' % (db, fmt, suffix)
            flip(src, bad / name, offset)
            shutil.copy(str(src) + '.sha256', str(bad / name) + '.sha256')
            cases[name] = (bad / name, None)
            if fmt in ('custom', 'plain_gz'):
                # compressed data carries its own checksum: found without any sidecar
                name = '%s_%s_flip_nosidecar%s' % (db, fmt, suffix)
                flip(src, bad / name, offset)
                cases[name] = (bad / name, 'corrupt' if fmt == 'custom' else 'gzip')
        # directory format: damage inside the directory
        src = dumps.files[(db, 'directory')]
        data_files = sorted((f for f in src.iterdir() if f.name.endswith('.dat.gz')),
                            key=lambda f: f.stat().st_size)
        biggest = data_files[-1]
        for case, action in (
                ('toc_cut_header', lambda d: truncate(src / 'toc.dat', d / 'toc.dat', 12)),
                ('toc_cut_middle', lambda d: truncate(
                    src / 'toc.dat', d / 'toc.dat', (src / 'toc.dat').stat().st_size // 2)),
                ('data_cut_middle', lambda d: truncate(
                    biggest, d / biggest.name, biggest.stat().st_size // 2)),
                ('data_cut_last_bytes', lambda d: truncate(
                    biggest, d / biggest.name, biggest.stat().st_size - 3)),
                ('data_flip', lambda d: flip(biggest, d / biggest.name,
                                             biggest.stat().st_size // 2)),
                ('data_missing', lambda d: (d / biggest.name).unlink())):
            target = bad / ('%s_directory_%s.dir' % (db, case))
            shutil.copytree(src, target)
            action(target)
            cases[target.name] = (target, None)
    # whole-file cases
    src = dumps.files[('bv_small', 'custom')]
    (bad / 'zero_bytes.dump').write_bytes(b'')
    cases['zero_bytes.dump'] = (bad / 'zero_bytes.dump', 'empty')
    (bad / 'not_a_dump.dump').write_bytes(os.urandom(4096))
    cases['not_a_dump.dump'] = (bad / 'not_a_dump.dump', 'not a PostgreSQL backup')
    (bad / 'notes.sql').write_text('SELECT 1;\n-- just some SQL, not pg_dump output\n')
    cases['notes.sql'] = (bad / 'notes.sql', 'not a PostgreSQL backup')
    (bad / 'gz_of_nothing.sql.gz').write_bytes(gzip.compress(b'hello world\n'))
    cases['gz_of_nothing.sql.gz'] = (bad / 'gz_of_nothing.sql.gz', 'header')
    shutil.copy(src, bad / 'too_old.dump')
    shutil.copy(str(src) + '.sha256', bad / 'too_old.dump.sha256')
    past = time.time() - 3 * 86400
    os.utime(bad / 'too_old.dump', (past, past))
    cases['too_old.dump'] = (bad / 'too_old.dump', 'old')
    shutil.copy(src, bad / 'bad_sidecar.dump')
    (bad / 'bad_sidecar.dump.sha256').write_text('%s  bad_sidecar.dump\n' % ('0' * 64))
    cases['bad_sidecar.dump'] = (bad / 'bad_sidecar.dump', 'sha256')
    shutil.copy(src, bad / 'garbled_sidecar.dump')
    (bad / 'garbled_sidecar.dump.sha256').write_text('this is not sha256sum output\n')
    cases['garbled_sidecar.dump'] = (bad / 'garbled_sidecar.dump', 'sidecar')
    shutil.copy(src, bad / 'manifest_rows.dump')
    manifest = json.loads(Path(str(src) + '.manifest.json').read_text())
    manifest['tables']['public.orders'] += 1
    manifest.pop('sha256')
    manifest.pop('size')
    Path(str(bad / 'manifest_rows.dump') + '.manifest.json').write_text(json.dumps(manifest))
    cases['manifest_rows.dump'] = (bad / 'manifest_rows.dump', 'public.orders')
    return cases


@pytest.fixture(scope='module')
def damage(ansible, dumps):
    bad = dumps.root / 'bad'
    bad.mkdir()
    cases = build_damage(dumps, bad)
    result = ansible.module(MODULE, {'path': str(bad), 'latest': 0})
    return cases, result


def _case_names():
    names = []
    for db in DATABASES:
        for fmt in ('custom', 'custom_z0', 'tar', 'plain', 'plain_gz'):
            suffix = FORMATS[fmt][1]
            wheres = ['header', 'middle', 'last_bytes']
            if fmt.startswith('custom'):
                wheres += ['toc', 'data_middle', 'block_start']
            if fmt == 'tar':
                wheres += ['toc', 'block_end']
            names += ['%s_%s_cut_%s%s' % (db, fmt, w, suffix) for w in wheres]
            names.append('%s_%s_flip%s' % (db, fmt, suffix))
            if fmt in ('custom', 'plain_gz'):
                names.append('%s_%s_flip_nosidecar%s' % (db, fmt, suffix))
        names += ['%s_directory_%s.dir' % (db, c) for c in (
            'toc_cut_header', 'toc_cut_middle', 'data_cut_middle', 'data_cut_last_bytes',
            'data_flip', 'data_missing')]
    return names + ['zero_bytes.dump', 'not_a_dump.dump', 'notes.sql', 'gz_of_nothing.sql.gz',
                    'too_old.dump', 'bad_sidecar.dump', 'garbled_sidecar.dump',
                    'manifest_rows.dump']


def test_damage_fails_the_task(damage):
    cases, result = damage
    assert result['failed'] is True
    assert result['status'] == 'CRITICAL'
    assert result['msg'].startswith('CRITICAL: ')
    assert len(result['backups']) == len(cases)
    assert set(_case_names()) == set(cases)


@pytest.mark.parametrize('case', _case_names())
def test_damage_is_critical(damage, case):
    cases, result = damage
    path, words = cases[case]
    entry = by_path(result)[str(path)]
    assert entry['status'] == 'CRITICAL', entry
    critical = [p for p in entry['problems'] if p.startswith('CRITICAL ')]
    assert critical, entry
    text = ' '.join(critical)
    assert str(path) in text or path.name in text
    if words:
        assert words in text, text


def test_damage_never_modifies_a_backup(damage):
    cases, dummy = damage
    for path, dummy_words in cases.values():
        assert not Path(str(path) + '.sha256.tmp').exists()
    assert (Path(str(cases['bad_sidecar.dump'][0]) + '.sha256').read_text()
            == '%s  bad_sidecar.dump\n' % ('0' * 64))


# --------------------------------------------------------------------------------------------
# Sidecars written on request


def test_write_checksum(ansible, dumps, tmp_path):
    target = tmp_path / 'shop.dump'
    shutil.copy(dumps.files[('bv_small', 'custom')], target)
    directory = tmp_path / 'shop.dir'
    shutil.copytree(dumps.files[('bv_small', 'directory')], directory)
    args = {'path': str(tmp_path), 'latest': 0, 'write_checksum': True}

    result = ansible.module(MODULE, args, check=True, diff=True)
    assert result['changed'] is True
    assert not Path(str(target) + '.sha256').exists()
    assert any(d['after'] == '%s  shop.dump\n' % sha256(target) for d in result['diff'])

    result = ansible.module(MODULE, args)
    assert result['changed'] is True
    assert result['status'] == 'OK', result['summary']
    sidecar = Path(str(target) + '.sha256')
    assert sidecar.read_text() == '%s  shop.dump\n' % sha256(target)
    assert oct(sidecar.stat().st_mode & 0o777) == '0o600'
    # the directory sidecar is what sha256sum -c accepts from the parent directory
    check = subprocess.run(['sha256sum', '-c', 'shop.dir.sha256'], cwd=str(tmp_path),
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(': OK') == len(list(directory.iterdir()))

    result = ansible.module(MODULE, args)
    assert result['changed'] is False
    assert all(b['checksum'] == 'match' for b in result['backups'])


def test_write_checksum_never_blesses_damage(ansible, dumps, tmp_path):
    target = tmp_path / 'broken.dump'
    src = dumps.files[('bv_small', 'custom')]
    truncate(src, target, src.stat().st_size // 2)
    result = ansible.module(MODULE, {'path': str(target), 'write_checksum': True,
                                     'fail_on': 'never'})
    assert result['status'] == 'CRITICAL'
    assert result['changed'] is False
    assert not Path(str(target) + '.sha256').exists()


# --------------------------------------------------------------------------------------------
# Test restore


@pytest.mark.parametrize('fmt', ['custom', 'directory', 'tar', 'plain', 'plain_gz'])
def test_restore_check(ansible, dumps, fmt):
    cluster = dumps.cluster
    path = dumps.files[('bv_small', fmt)]
    result = ansible.module(MODULE, {
        'path': str(path), 'restore_check': True, 'login_host': cluster.host,
        'login_port': cluster.port, 'login_user': cluster.superuser,
        'login_password': cluster.superuser_password})
    assert result['status'] == 'OK', result['summary']
    restore = result['backups'][0]['restore']
    assert restore['error'] is None
    assert restore['dropped'] is True
    assert restore['rows'] == dumps.counts['bv_small']
    assert restore['mismatches'] == []
    assert 'manifest' in restore['compared_with']
    duration = [c for c in result['checks'] if c['name'] == 'restore_duration'][0]
    assert duration['unit'] == 'seconds' and 0 < duration['value'] < 600
    assert duration['critical'] == '~:14400'
    leftovers = cluster.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE 'fleetops_verify_%'")
    assert leftovers == []
    assert cluster.superuser_password not in json.dumps(result)


def test_restore_finds_wrong_counts_and_drops_scratch(ansible, dumps, tmp_path):
    cluster = dumps.cluster
    target = tmp_path / 'counts.dump'
    shutil.copy(dumps.files[('bv_small', 'custom')], target)
    # a manifest that expects one row more than the dump holds, and no per-dump row compare
    manifest = {'tables': dict(dumps.counts['bv_small'])}
    manifest['tables']['s2.items'] += 1
    Path(str(target) + '.manifest.json').write_text(json.dumps(manifest))
    result = ansible.module(MODULE, {
        'path': str(target), 'restore_check': True, 'checks': ['exists', 'data'],
        'login_host': cluster.host, 'login_port': cluster.port,
        'login_user': cluster.superuser, 'login_password': cluster.superuser_password})
    assert result['failed'] is True
    rows = [c for c in result['checks'] if c['name'] == 'restore_rows'][0]
    assert rows['status'] == 'CRITICAL'
    assert 's2.items: 700 restored, 701 expected' in rows['message']
    assert cluster.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE 'fleetops_verify_%'") == []


WRAPPER = """#!/bin/sh
# records how the module started the real program, then runs it
{{ printf '%s\\n' "$0" "$@"; echo --; }} >> {log}/args
env | grep '^PG' | sort >> {log}/env
echo -- >> {log}/env
exec {real} "$@"
"""


def _wrapped_client_programs(tmp_path):
    """A PATH directory whose psql and pg_restore record their arguments and PG* environment."""
    bindir = tmp_path / 'bin'
    log = tmp_path / 'log'
    bindir.mkdir()
    log.mkdir()
    for name in ('psql', 'pg_restore'):
        real = shutil.which(name)
        assert real, name
        wrapper = bindir / name
        wrapper.write_text(WRAPPER.format(log=log, real=real))
        wrapper.chmod(0o755)
    return bindir, log


def test_restore_connection_only_in_the_environment(ansible, dumps, tmp_path):
    """The shared connection options, taken from PGHOST/PGPORT/PGUSER/PGPASSWORD as libpq
    would, reach psql and pg_restore in their environment and never on a command line."""
    cluster = dumps.cluster
    bindir, log = _wrapped_client_programs(tmp_path)
    env = dict(cluster.env())
    env.pop('PGDATABASE')
    env['PATH'] = os.pathsep.join([str(bindir), str(Path(sys.executable).parent),
                                   os.environ['PATH']])
    path = dumps.files[('bv_small', 'directory')]
    result = ansible.module(MODULE, {'path': str(path), 'restore_check': True,
                                     'restore_jobs': 2, 'connect_timeout': 7}, env=env)
    assert result['status'] == 'OK', result['summary']
    assert result['backups'][0]['restore']['rows'] == dumps.counts['bv_small']
    args = (log / 'args').read_text()
    programs = [block.split('\n')[0] for block in args.split('--\n') if block.strip()]
    assert sorted(set(os.path.basename(p) for p in programs)) == ['pg_restore', 'psql']
    for secret in (cluster.superuser_password, cluster.superuser, str(cluster.port),
                   cluster.host):
        assert secret not in args, secret
    environments = [block for block in (log / 'env').read_text().split('--\n') if block]
    assert len(environments) == len(programs)
    for block in environments:
        lines = block.splitlines()
        for name in ('PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD'):
            assert '%s=%s' % (name, env[name]) in lines, (name, lines)
        assert 'PGSSLMODE=prefer' in lines
        assert 'PGCONNECT_TIMEOUT=7' in lines
        assert any(line.startswith('PGDATABASE=') for line in lines)
    # created and dropped from the maintenance database, restored into the scratch one
    scratch = result['backups'][0]['restore']['database']
    assert sum('PGDATABASE=postgres' in b.splitlines() for b in environments) == 2
    assert sum('PGDATABASE=%s' % scratch in b.splitlines() for b in environments) == 2
    assert cluster.superuser_password not in json.dumps(result)


def test_restore_with_module_defaults_of_the_postgres_group(ansible, dumps):
    cluster = dumps.cluster
    path = dumps.files[('bv_small', 'custom')]
    result = ansible.tasks([{
        'name': 'verify',
        'module_defaults': {'group/fleetops.runbook.postgres': {
            'login_unix_socket': cluster.socket_dir, 'login_port': cluster.port,
            'login_user': cluster.superuser, 'login_password': cluster.superuser_password}},
        MODULE: {'path': str(path), 'restore_check': True}}])
    task = result.task('verify')
    assert task['status'] == 'OK', task['summary']
    assert task['backups'][0]['restore']['rows'] == dumps.counts['bv_small']
    assert task['backups'][0]['restore']['dropped'] is True


def test_restore_honours_ssl_mode(ansible, dumps):
    """ssl_mode reaches the client programs: the test cluster has no SSL, so require fails."""
    cluster = dumps.cluster
    path = dumps.files[('bv_small', 'custom')]
    result = ansible.module(MODULE, {
        'path': str(path), 'restore_check': True, 'ssl_mode': 'require', 'fail_on': 'never',
        'login_host': cluster.host, 'login_port': cluster.port,
        'login_user': cluster.superuser, 'login_password': cluster.superuser_password})
    assert result['status'] == 'CRITICAL', result['summary']
    restore = [c for c in result['checks'] if c['name'] == 'restore'][0]
    assert restore['status'] == 'CRITICAL'
    assert 'cannot create the scratch database' in restore['message']
    assert 'SSL' in restore['message'], restore['message']


# --------------------------------------------------------------------------------------------
# Base backups


def test_base_backup(ansible, dumps, tmp_path):
    cluster = dumps.cluster
    base = tmp_path / 'base'
    subprocess.run(['pg_basebackup', '-D', str(base), '-X', 'fetch', '-c', 'fast'],
                   env=dict(os.environ, **cluster.env()), check=True, capture_output=True)
    result = ansible.module(MODULE, {'path': str(base), 'format': 'basebackup',
                                     'checks': ['exists', 'age', 'basebackup']})
    assert result['status'] == 'OK', result['summary']
    check = [c for c in result['checks'] if c['name'] == 'basebackup'][0]
    assert 'pg_verifybackup accepts' in check['message']
    assert result['backups'][0]['format'] == 'basebackup'

    victim = base / 'global' / 'pg_control'
    flip(victim, victim, 100)
    result = ansible.module(MODULE, {'path': str(base), 'fail_on': 'never'})
    assert result['status'] == 'CRITICAL'
    check = [c for c in result['checks'] if c['name'] == 'basebackup'][0]
    assert 'pg_control' in check['message']


# --------------------------------------------------------------------------------------------
# Bad input


@pytest.mark.parametrize('args, words', [
    ({'path': '/nonexistent/backups'}, 'path: /nonexistent/backups does not exist'),
    ({'path': '/nonexistent/*.dump'}, 'path: the pattern /nonexistent/*.dump matches no backup'),
    ({'path': '{empty}'}, 'holds no backups'),
    ({'path': '{empty}', 'max_age': 'soon'}, "max_age: 'soon' is not a duration"),
    ({'path': '{empty}', 'restore_check': True}, 'restore_check: a test restore needs a server'),
    ({'path': '{empty}', 'thresholds': {'age': {'critical': 'x'}}}, 'thresholds.age.critical'),
    ({'path': '{empty}', 'thresholds': {'speed': {'critical': 1}}}, 'unknown check'),
    ({'path': '{empty}', 'latest': -1}, 'latest: must be 0'),
    ({'path': '{empty}', 'login_port': 70000}, 'login_port: 70000 is not a TCP port'),
    ({'path': '{empty}', 'restore_timeout': 0}, 'restore_timeout: must be at least 1'),
    ({'path': '{empty}', 'thresholds': {'age': 5}}, 'thresholds.age: expected a mapping'),
    ({'path': '{empty}', 'thresholds': {'age': [1, 2]}}, 'thresholds.age: expected a mapping'),
    ({'path': '{empty}', 'thresholds': {'size_change': 'x'}},
     "thresholds.size_change: expected a mapping with warning and/or critical, got 'x'"),
    ({'path': '{empty}', 'thresholds': 7}, "'thresholds'"),
    ({'path': '{empty}', 'thresholds': [1, 2]}, "'thresholds'"),
])
def test_bad_input(ansible, tmp_path, args, words):
    args = dict(args)
    if args['path'] == '{empty}':
        args['path'] = str(tmp_path)
        (tmp_path / 'README.json').write_text('{}')
    result = ansible.module(MODULE, args)
    assert result['failed'] is True
    assert words in result['msg'], result['msg']
    assert 'Traceback' not in json.dumps(result)
    assert 'MODULE FAILURE' not in result['msg']


# --------------------------------------------------------------------------------------------
# A test restore touches nothing but its scratch database


@pytest.fixture(scope='module')
def live(pg_cluster_factory, tmp_path_factory):
    """A cluster of its own (the frozen-server test stops it) with a live database and plain
    dumps of it: pg_dump -C -c (.sql and .sql.gz), a clean one, and rows added after the dumps."""
    cluster = pg_cluster_factory()
    work = tmp_path_factory.mktemp('restore_safety')
    make_live(cluster, 'rs_live', rows=100)
    files = {
        'create_clean': pg_dump(cluster, 'rs_live', work / 'rs_live_cc.sql', '-C', '-c'),
        'create_clean_gz': pg_dump(cluster, 'rs_live', work / 'rs_live_cc.sql.gz', '-C', '-c'),
        'create': pg_dump(cluster, 'rs_live', work / 'rs_live_c.sql', '-C'),
        'clean': pg_dump(cluster, 'rs_live', work / 'rs_live_plain.sql'),
        'archive_create_clean': pg_dump(cluster, 'rs_live', work / 'rs_live_cc.dump', '-Fc', '-C',
                                        '-c'),
    }
    add_rows(cluster, 'rs_live', 101, 150)
    return {'cluster': cluster, 'work': work, 'files': files}


def restore_args(cluster, path, **extra):
    args = {'path': str(path), 'restore_check': True, 'checksum_missing': 'ok', 'fail_on': 'never',
            'login_host': cluster.host, 'login_port': cluster.port,
            'login_user': cluster.superuser, 'login_password': cluster.superuser_password}
    args.update(extra)
    return args


@pytest.mark.parametrize('check_mode', [False, True])
@pytest.mark.parametrize('kind, command', [('create_clean', 'DROP DATABASE'),
                                           ('create_clean_gz', 'DROP DATABASE'),
                                           ('create', 'CREATE DATABASE')])
def test_restore_check_refuses_a_dump_that_replaces_its_database(
        ansible, live, kind, command, check_mode):
    cluster = live['cluster']
    before = scratch_databases(cluster)
    result = ansible.module(MODULE, restore_args(cluster, live['files'][kind]), check=check_mode)
    assert result['status'] == 'CRITICAL', result['summary']
    restore = check_named(result, 'restore')
    assert restore['status'] == 'CRITICAL'
    assert 'refused' in restore['message']
    assert 'the command %s' % command in restore['message'], restore['message']
    assert 'rs_live' in restore['message']
    assert re.search(r'line \d+ holds', restore['message'])
    assert 'pg_dump without -C/--create' in restore['message'] and '-Fc' in restore['message']
    assert result['backups'][0]['restore']['database'] is None
    # the live database still has the rows written after the dump
    assert rows(cluster, 'rs_live') == (150, 150)
    assert scratch_databases(cluster) == before == []
    assert result['changed'] is False


@pytest.mark.parametrize('payload, where', [
    ('\\! touch {marker}', 'footer'),
    ('\\o {marker}', 'footer'),
    ('\\! touch {marker}', 'after_copy'),
    ('\\connect postgres', 'footer'),
    ("ALTER DATABASE rs_live RENAME TO rs_gone;", 'footer'),
    ("COPY items TO '{marker}';", 'footer'),
])
def test_restore_check_refuses_meta_commands(ansible, live, tmp_path, payload, where):
    cluster = live['cluster']
    marker = tmp_path / 'marker'
    dump = inject(live['files']['clean'], tmp_path / 'rs_live_edited.sql',
                  payload.format(marker=marker), where)
    result = ansible.module(MODULE, restore_args(cluster, dump))
    restore = check_named(result, 'restore')
    assert restore['status'] == 'CRITICAL', result['summary']
    assert 'refused' in restore['message']
    line = dump.read_text().splitlines().index(payload.format(marker=marker)) + 1
    assert 'line %d holds' % line in restore['message'], restore['message']
    assert not marker.exists()
    assert rows(cluster, 'rs_live') == (150, 150)
    assert scratch_databases(cluster) == []


def test_restore_check_restores_a_clean_plain_dump(ansible, live, tmp_path):
    """The control case: a plain dump without -C (rows starting with a backslash in its COPY data)
    restores into the scratch database, which is dropped."""
    cluster = live['cluster']
    result = ansible.module(MODULE, restore_args(cluster, live['files']['clean']))
    assert result['status'] == 'OK', result['summary']
    restore = result['backups'][0]['restore']
    assert restore['error'] is None and restore['dropped'] is True
    assert restore['rows'] == {}  # no manifest: the row counts come from archives only
    assert scratch_databases(cluster) == []
    assert result['scratch_databases_left'] == []
    gz = tmp_path / 'rs_live_plain.sql.gz'
    gz.write_bytes(gzip.compress(live['files']['clean'].read_bytes()))
    result = ansible.module(MODULE, restore_args(cluster, gz), check=True)
    assert result['status'] == 'OK', result['summary']
    assert scratch_databases(cluster) == []


@pytest.mark.parametrize('check_mode', [False, True])
def test_restore_check_of_an_archive_made_with_create_leaves_its_database_alone(
        ansible, live, check_mode):
    """pg_restore without --create never runs an archive's DATABASE entries, nor its DROPs
    without --clean: a pg_dump -Fc -C -c archive is restored into the scratch database only."""
    cluster = live['cluster']
    result = ansible.module(MODULE, restore_args(cluster, live['files']['archive_create_clean'],
                                                 database='rs_live'), check=check_mode)
    assert result['status'] == 'OK', result['summary']
    restore = result['backups'][0]['restore']
    assert restore['rows'] == {'public.items': 100} and restore['mismatches'] == []
    assert restore['dropped'] is True
    assert check_named(result, 'database')['status'] == 'OK'
    assert rows(cluster, 'rs_live') == (150, 150)
    assert scratch_databases(cluster) == []


@pytest.mark.parametrize('prefix, words', [
    ('DROP DATABASE rs_live;\n', 'the command DROP DATABASE'),
    ("ALTER ROLE postgres PASSWORD 'x';\n", 'the command ALTER ROLE'),
])
def test_restore_check_refuses_an_archive_with_foreign_sql_in_its_toc(
        ansible, live, tmp_path, prefix, words):
    """pg_restore runs what a table of contents entry defines: a crafted archive is scanned too."""
    cluster = live['cluster']
    target = tmp_path / 'rs_live_crafted.dir'
    subprocess.run(['pg_dump', '-Fd', '-f', str(target), 'rs_live'],
                   env=dict(os.environ, **cluster.env()), check=True, capture_output=True)
    tamper_toc(target / 'toc.dat', 'CREATE TABLE public.items', prefix)
    result = ansible.module(MODULE, restore_args(cluster, target))
    restore = check_named(result, 'restore')
    assert restore['status'] == 'CRITICAL', result['summary']
    assert 'refused' in restore['message'] and words in restore['message'], restore['message']
    assert 'TABLE public.items' in restore['message']
    assert rows(cluster, 'rs_live') == (150, 150)
    assert scratch_databases(cluster) == []


def test_restore_timeout_drops_the_scratch_database(ansible, live, tmp_path):
    cluster = live['cluster']
    dump = inject(live['files']['clean'], tmp_path / 'rs_live_slow.sql', 'SELECT pg_sleep(600);')
    result = ansible.module(MODULE, restore_args(cluster, dump, restore_timeout=2))
    restore = check_named(result, 'restore')
    assert restore['status'] == 'CRITICAL'
    assert 'psql did not finish within 2 seconds' in restore['message'], restore['message']
    assert result['backups'][0]['restore']['dropped'] is True
    assert result['scratch_databases_left'] == []
    assert scratch_databases(cluster) == []
    assert rows(cluster, 'rs_live') == (150, 150)


def test_restore_check_on_a_server_that_freezes(ansible, live, tmp_path):
    """The server stops (SIGSTOP of the postmaster and every backend) while the restore runs: the
    module returns, names the scratch database it could not drop, and it is the only one left."""
    cluster = live['cluster']
    dump = inject(live['files']['clean'], tmp_path / 'rs_live_frozen.sql', 'SELECT pg_sleep(600);')
    outcome = {}

    def run():
        outcome['result'] = ansible.module(MODULE, restore_args(
            cluster, dump, restore_timeout=30, connect_timeout=2), timeout=900)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    try:
        wait_until(lambda: cluster.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname LIKE 'fleetops_verify_%' "
            "AND query LIKE '%pg_sleep%'"), timeout=300, what='the restore in pg_sleep')
        with frozen(cluster):
            worker.join(600)  # a hang guard only, far beyond the module's own deadlines
            assert not worker.is_alive(), 'backup_verify did not return on a frozen server'
    finally:
        worker.join(600)
    result = outcome['result']
    restore = check_named(result, 'restore')
    assert restore['status'] == 'CRITICAL'
    assert 'did not finish within 30 seconds' in restore['message'], restore['message']
    scratch = result['backups'][0]['restore']['database']
    assert scratch.startswith('fleetops_verify_')
    assert result['backups'][0]['restore']['dropped'] is False
    cleanup = check_named(result, 'restore_cleanup')
    assert cleanup['status'] == 'CRITICAL'
    assert scratch in cleanup['message'] and 'DROP DATABASE' in cleanup['message']
    assert result['scratch_databases_left'] == [scratch]
    # thawed: the named database is the only one left, and it can be dropped as the message says
    assert scratch_databases(cluster) == [scratch]
    cluster.execute('DROP DATABASE %s WITH (FORCE)' % scratch)
    assert rows(cluster, 'rs_live') == (150, 150)


@pytest.mark.parametrize('kind', ['fifo', 'device'])
def test_a_fifo_or_device_is_not_opened(ansible, tmp_path, kind):
    if kind == 'fifo':
        path = tmp_path / 'shop_20250101T030000Z.dump'
        os.mkfifo(path)
        words = 'is a FIFO, not a backup file'
    else:
        path = '/dev/zero'
        words = 'is a character device, not a backup file'
    # the harness timeout is only a hang guard: a blocking open would never return
    result = ansible.module(MODULE, {'path': str(path), 'fail_on': 'never'}, timeout=600)
    assert result['status'] == 'CRITICAL'
    assert words in check_named(result, 'exists')['message']


def test_a_fifo_as_manifest_or_sidecar_is_not_opened(ansible, dumps, tmp_path):
    target = tmp_path / 'copy.dump'
    shutil.copy(dumps.files[('bv_small', 'custom')], target)
    os.mkfifo(str(target) + '.manifest.json')
    os.mkfifo(str(target) + '.sha256')
    result = ansible.module(MODULE, {'path': str(target), 'fail_on': 'never'}, timeout=600)
    assert result['status'] == 'CRITICAL'
    assert 'is a FIFO' in check_named(result, 'manifest')['message']
    assert 'is a FIFO' in check_named(result, 'checksum')['message']
