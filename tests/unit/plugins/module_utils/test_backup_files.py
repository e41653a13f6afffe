# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup files: series names, sha256 sidecars, bounded reads of side files, discovery."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.fleetops.runbook.plugins.module_utils import backup_files
from ansible_collections.fleetops.runbook.plugins.module_utils.status import ParameterError

pytestmark = pytest.mark.backup


def test_series_key_strips_timestamps():
    key = backup_files.series_key
    assert key('/b/shop_20250119T030000Z.dump') == key('/b/shop_20250120T030000Z.dump')
    assert key('/b/shop_2025-01-19_03-00.sql.gz') == key('/b/shop_2025-01-20_03-00.sql.gz')
    assert key('/b/shop_20250119T030000Z.dump') != key('/b/crm_20250119T030000Z.dump')


def test_sidecar_round_trip(tmp_path):
    text = backup_files.sidecar_text('/x/shop.dump', 'a' * 64)
    assert text == '%s  shop.dump\n' % ('a' * 64)
    (tmp_path / 's').write_text(text + '%s *other\n' % ('B' * 64))
    assert backup_files.read_sidecar(str(tmp_path / 's')) == {
        'shop.dump': 'a' * 64, 'other': 'b' * 64}
    (tmp_path / 'bad').write_text('nonsense\n')
    with pytest.raises(ValueError, match='sha256sum format'):
        backup_files.read_sidecar(str(tmp_path / 'bad'))


def test_side_files_are_read_with_a_bound(tmp_path):
    small = tmp_path / 'x.sha256'
    small.write_text('%s  x\n' % ('a' * 64))
    assert backup_files.read_sidecar(str(small)) == {'x': 'a' * 64}
    big = tmp_path / 'big.json'
    big.write_bytes(b' ' * 2048)
    with pytest.raises(ValueError, match='larger than 1024 bytes'):
        backup_files.read_small_file(str(big), limit=1024)
    fifo = tmp_path / 'fifo.json'
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match='is a FIFO'):
        backup_files.read_small_file(str(fifo))
    with pytest.raises(ValueError, match='is a character device'):
        backup_files.read_small_file('/dev/zero')


def test_discover_skips_side_files(tmp_path):
    for name in ('shop.dump', 'shop.dump.sha256', 'shop.dump.manifest.json', '.hidden.dump'):
        (tmp_path / name).write_text('x')
    assert backup_files.discover(str(tmp_path)) == [str(tmp_path / 'shop.dump')]
    with pytest.raises(ParameterError, match='path: the pattern'):
        backup_files.discover(str(tmp_path / 'none*'))
    with pytest.raises(ParameterError, match='does not exist'):
        backup_files.discover(str(tmp_path / 'missing'))
