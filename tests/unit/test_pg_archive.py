# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the pieces of the backup reader that need no PostgreSQL."""

from __future__ import annotations

import gzip
import hashlib
import os
import sys
import zlib
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / '.cache' / 'collections'))

from ansible_collections.fleetops.runbook.plugins.module_utils import pg_archive  # noqa: E402
from ansible_collections.fleetops.runbook.plugins.module_utils import backup_verify  # noqa: E402


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


@pytest.mark.parametrize('value, seconds', [(3600, 3600), ('90m', 5400), ('1h', 3600),
                                            ('2d', 172800), ('45', 45), ('1.5h', 5400)])
def test_parse_duration(value, seconds):
    assert backup_verify.parse_duration(value, 'max_age') == seconds


@pytest.mark.parametrize('value', ['soon', '-1h', '0', True, '1y'])
def test_parse_duration_rejects(value):
    with pytest.raises(backup_verify.ParameterError, match='max_age'):
        backup_verify.parse_duration(value, 'max_age')


def test_series_key_strips_timestamps():
    key = backup_verify.series_key
    assert key('/b/shop_20250119T030000Z.dump') == key('/b/shop_20250120T030000Z.dump')
    assert key('/b/shop_2025-01-19_03-00.sql.gz') == key('/b/shop_2025-01-20_03-00.sql.gz')
    assert key('/b/shop_20250119T030000Z.dump') != key('/b/crm_20250119T030000Z.dump')


def test_sidecar_round_trip(tmp_path):
    text = backup_verify.sidecar_text('/x/shop.dump', 'a' * 64)
    assert text == '%s  shop.dump\n' % ('a' * 64)
    (tmp_path / 's').write_text(text + '%s *other\n' % ('B' * 64))
    assert backup_verify.read_sidecar(str(tmp_path / 's')) == {
        'shop.dump': 'a' * 64, 'other': 'b' * 64}
    (tmp_path / 'bad').write_text('nonsense\n')
    with pytest.raises(ValueError, match='sha256sum format'):
        backup_verify.read_sidecar(str(tmp_path / 'bad'))
