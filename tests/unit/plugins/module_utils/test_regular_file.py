# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest

from ansible_collections.fleetops.runbook.plugins.module_utils.regular_file import (
    FileRefused,
    check_regular,
    read_regular,
)


def test_a_regular_file_is_read_with_its_stat(tmp_path):
    path = tmp_path / 'a.pem'
    path.write_bytes(b'data')
    data, st = read_regular(str(path), 'p', 10)
    assert data == b'data' and st.st_size == 4


def test_a_symlink_is_followed_only_when_asked(tmp_path):
    real = tmp_path / 'real'
    real.write_bytes(b'x')
    link = tmp_path / 'link'
    link.symlink_to(real)
    assert read_regular(str(link), 'p', 10)[0] == b'x'
    with pytest.raises(FileRefused) as exc:
        read_regular(str(link), 'p', 10, follow_symlinks=False)
    assert exc.value.msg == 'p: %s is a symbolic link to %s, not a regular file' % (link, real)


@pytest.mark.parametrize('kind, words', [
    ('fifo', 'is a FIFO'), ('directory', 'is a directory'), ('device', 'is a character device'),
])
def test_anything_else_is_refused_before_it_is_opened(tmp_path, kind, words):
    path = tmp_path / 'x'
    if kind == 'fifo':
        os.mkfifo(str(path))   # opening it for reading would wait for a writer
    elif kind == 'directory':
        path.mkdir()
    else:
        path = '/dev/zero'     # reading it would never end
    with pytest.raises(FileRefused) as exc:
        read_regular(str(path), 'certificates[0].path', 1024)
    assert exc.value.msg == 'certificates[0].path: %s %s, not a regular file' % (path, words)


def test_a_file_larger_than_the_limit_is_refused(tmp_path):
    path = tmp_path / 'big'
    path.write_bytes(b'x' * 2049)
    with pytest.raises(FileRefused) as exc:
        read_regular(str(path), 'p', 2048)
    assert exc.value.msg == 'p: %s is larger than 2 KiB; refused' % path
    assert read_regular(str(path), 'p', 2049)[0] == b'x' * 2049


def test_a_missing_file_is_left_to_the_caller(tmp_path):
    assert check_regular(str(tmp_path / 'none'), 'p') is None
    with pytest.raises(OSError):
        read_regular(str(tmp_path / 'none'), 'p', 10)
