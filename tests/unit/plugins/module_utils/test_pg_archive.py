# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the pieces of the backup reader that need no PostgreSQL."""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib

import pytest

from ansible_collections.fleetops.runbook.plugins.module_utils import pg_archive

pytestmark = pytest.mark.backup


def test_one_pass_file_hashes_what_it_hands_out(tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 17)
    path = tmp_path / 'blob'
    path.write_bytes(data)
    with pg_archive.OnePassFile(str(path), block_size=65536) as reader:
        seen = b''.join(reader.blocks())
        assert reader.hexdigest() == hashlib.sha256(data).hexdigest()
    assert seen == data


def test_one_pass_file_hashes_what_the_decoder_left(tmp_path):
    data = os.urandom(500000)
    path = tmp_path / 'blob'
    path.write_bytes(data)
    with pg_archive.OnePassFile(str(path), block_size=4096) as reader:
        next(reader.blocks())
        assert reader.hexdigest() == hashlib.sha256(data).hexdigest()


def test_cursor_reads_across_blocks_and_reports_truncation():
    cursor = pg_archive.Cursor([b'ab', b'cde', b'f'], 'x')
    assert cursor.read(4, 'four') == b'abcd'
    assert cursor.tell() == 4
    with pytest.raises(pg_archive.BackupError, match='truncated'):
        cursor.read(3, 'three')


def test_stream_decoder_finds_truncation_and_corruption():
    payload = b'row\n' * 10000 + pg_archive.COPY_END
    packed = zlib.compress(payload)
    decoder = pg_archive.StreamDecoder('gzip')
    assert decoder.feed(packed) == payload
    decoder.finish()
    decoder = pg_archive.StreamDecoder('gzip')
    decoder.feed(packed[:-4])
    with pytest.raises(pg_archive.BackupError, match='ends early'):
        decoder.finish()
    damaged = bytearray(packed)
    damaged[len(damaged) // 2] ^= 0xFF
    with pytest.raises(pg_archive.BackupError, match='corrupt'):
        decoder = pg_archive.StreamDecoder('gzip')
        decoder.feed(bytes(damaged))
        decoder.finish()


def test_copy_counter():
    counter = pg_archive.CopyCounter()
    counter.feed(b'1\ta\n2\tb\n')
    counter.feed(pg_archive.COPY_END)
    assert counter.rows('t') == 2
    cut = pg_archive.CopyCounter()
    cut.feed(b'1\ta\n2\tb\n\\.\n')
    with pytest.raises(pg_archive.BackupError, match='COPY end marker'):
        cut.rows('t')


def test_lz4_without_the_library_is_unknown():
    try:
        import lz4.frame  # noqa: F401  pylint: disable=unused-import
        pytest.skip('lz4 is installed here')
    except ImportError:
        pass
    with pytest.raises(pg_archive.Unverifiable, match='lz4'):
        pg_archive.StreamDecoder('lz4')


def test_detect_format(tmp_path):
    (tmp_path / 'a').write_bytes(b'PGDMP\x01\x0e\x00')
    (tmp_path / 'b').write_bytes(b'--\n-- PostgreSQL database dump\n--\n')
    (tmp_path / 'c').write_bytes(gzip.compress(b'--\n-- PostgreSQL database dump\n--\n'))
    (tmp_path / 'd').write_bytes(b'hello')
    assert pg_archive.detect_format(str(tmp_path / 'a')) == 'custom'
    assert pg_archive.detect_format(str(tmp_path / 'b')) == 'plain'
    assert pg_archive.detect_format(str(tmp_path / 'c')) == 'plain_gz'
    assert pg_archive.detect_format(str(tmp_path / 'd')) is None


# --------------------------------------------------------------------------------------------
# The scan of plain dumps before a restore

DUMP_HEAD = ('--\n-- PostgreSQL database dump\n--\n\n\\restrict a1B2c3\n\n'
             'SET statement_timeout = 0;\nSET standard_conforming_strings = on;\n'
             "SELECT pg_catalog.set_config('search_path', '', false);\n")
DUMP_TAIL = '\n--\n-- PostgreSQL database dump complete\n--\n\n\\unrestrict a1B2c3\n\n'


def scan(body, head=DUMP_HEAD, tail=DUMP_TAIL, pieces=1):
    data = (head + body + tail).encode()
    size = max(1, len(data) // pieces)
    return pg_archive.check_plain_script([data[i:i + size] for i in range(0, len(data), size)],
                                         'dump.sql')


def refused(body, **kwargs):
    with pytest.raises(pg_archive.UnsafeDump) as info:
        scan(body, **kwargs)
    return info.value


@pytest.mark.parametrize('pieces', [1, 3, 50])
def test_what_pg_dump_writes_passes(pieces):
    body = ('CREATE TABLE public.t (id integer, note text);\n'
            'CREATE FUNCTION public.f() RETURNS integer LANGUAGE plpgsql AS $_$\n'
            "BEGIN EXECUTE 'DROP DATABASE x'; RETURN 1; END\n$_$;\n"
            "COMMENT ON TABLE public.t IS 'a \\ backslash; and DROP DATABASE in a string';\n"
            'COPY public.t (id, note) FROM stdin;\n'
            '1\t\\\\! not a command\n2\t\\N\n3\tDROP DATABASE live;\n\\.\n\n'
            "CREATE USER MAPPING FOR postgres SERVER s OPTIONS (user 'x');\n"
            'GRANT ALL ON SCHEMA public TO PUBLIC;\n'
            '/* a /* nested */ comment with \\! inside */ SELECT 1; -- and \\connect here\n'
            "SELECT E'it''s \\' \\\\ ok';\n")
    stats = scan(body, pieces=pieces)
    assert stats['copy_blocks'] == 1
    assert stats['meta_commands'] == ['\\restrict', '\\unrestrict']


@pytest.mark.parametrize('body, line, words', [
    ('DROP DATABASE IF EXISTS shop;\n', 10, 'the command DROP DATABASE'),
    ('CREATE DATABASE shop WITH TEMPLATE = template0;\n', 10, 'the command CREATE DATABASE'),
    ('ALTER DATABASE shop\n  RENAME TO old;\n', 10, 'the command ALTER DATABASE'),
    ('\\connect shop\n', 10, 'a psql meta-command'),
    ('\\c shop\n', 10, 'a psql meta-command'),
    ('SELECT 1; \\! touch /tmp/x\n', 10, 'a psql meta-command'),
    ("SELECT 'a\\' \\o /tmp/x\n", 10, 'a psql meta-command'),
    ('COPY t FROM stdin;\n1\n\\.\n\\! touch /tmp/x\n', 13, 'a psql meta-command'),
    ("COPY t TO '/tmp/x';\n", 10, 'COPY other than COPY ... FROM stdin'),
    ("COPY t FROM PROGRAM 'id';\n", 10, 'COPY other than COPY ... FROM stdin'),
    ('COPY t FROM stdin; SELECT 1;\n', 10, 'text after a COPY'),
    ("ALTER ROLE postgres PASSWORD 'x';\n", 10, 'the command ALTER ROLE'),
    ('GRANT admin TO bob;\n', 10, 'role membership'),
    ('GRANT CONNECT ON DATABASE shop TO bob;\n', 10, 'ON DATABASE'),
    ('COMMENT ON DATABASE shop IS $$x$$;\n', 10, 'COMMENT ON DATABASE'),
    ('ALTER SYSTEM SET work_mem = 1;\n', 10, 'ALTER SYSTEM'),
    ("DO $$ BEGIN PERFORM 1; END $$;\n", 10, 'the command DO'),
    ('SET standard_conforming_strings = off;\n', 10, 'standard_conforming_strings'),
])
def test_what_reaches_beyond_the_database_is_refused(body, line, words):
    error = refused(body)
    assert error.line == line, str(error)
    assert words in str(error)
    assert 'line %d holds' % line in str(error)
    assert 'pg_dump without -C/--create' in str(error) and '-Fc' in str(error)


@pytest.mark.parametrize('pieces', [1, 7])
def test_quoted_identifiers_and_strings_close_at_an_undoubled_quote(pieces):
    body = ('CREATE TABLE public."a""b; DROP DATABASE x; \\! id" (id integer);\n'
            'CREATE TABLE public."two\nlines ;" (note text);\n'
            "COMMENT ON TABLE public.t IS 'it''s \"quoted\"; DROP DATABASE x';\n")
    assert scan(body, pieces=pieces)['statements'] == 6
    # After the identifier closes, what follows is SQL again and judged as such.
    assert 'the command DROP DATABASE' in str(refused('SELECT 1 AS "a""b"; DROP DATABASE x;\n'))


@pytest.mark.parametrize('statement', ["SET standard_conforming_strings = 'on';\n",
                                       'SET standard_conforming_strings TO on;\n'])
def test_standard_conforming_strings_on_passes(statement):
    assert scan(statement)['statements'] == 4


def test_a_meta_command_is_not_hidden_in_copy_data_nor_data_taken_for_one():
    # a data row that starts with \. but is longer is data; the block ends only at a bare \.
    stats = scan('COPY t FROM stdin;\n\\.x\n\\!\n\\.\n')
    assert stats['copy_blocks'] == 1
    error = refused('COPY t FROM stdin;\n\\.x\n\\.\n\\o /tmp/out\n')
    assert error.line == 13 and '\\o /tmp/out' in str(error)


def test_scan_of_a_gzip_dump_streams(tmp_path):
    path = tmp_path / 'dump.sql.gz'
    body = 'COPY t FROM stdin;\n' + '1\tx\n' * 200000 + '\\.\n\\connect other\n'
    path.write_bytes(gzip.compress((DUMP_HEAD + body + DUMP_TAIL).encode()))
    with pytest.raises(pg_archive.UnsafeDump) as info:
        pg_archive.check_plain_dump(str(path), True)
    assert info.value.line == 200012
    assert '\\connect other' in str(info.value)
