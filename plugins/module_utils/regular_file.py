# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Reading a file that a parameter names, only when it is a regular file, and boundedly.

A FIFO makes ``open()`` wait for a writer and a device such as ``/dev/zero`` never ends, so a path
given by a user is looked at with ``stat`` before it is opened, opened with ``O_NONBLOCK`` (and
``O_NOFOLLOW`` where a symbolic link is not wanted), checked again on the open descriptor, and read
up to a limit. Anything else is refused with a :class:`FileRefused` naming the parameter and what
was found.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import stat

MiB = 1024 * 1024


class FileRefused(ValueError):
    """A path that is not a regular file, or is larger than allowed. ``msg`` names the parameter."""

    def __init__(self, msg):
        super(FileRefused, self).__init__(msg)
        self.msg = msg


def kind_of(mode):
    """What a stat mode is, for a message: 'a regular file', 'a directory', 'a FIFO' ..."""
    for test, name in ((stat.S_ISREG, 'a regular file'), (stat.S_ISDIR, 'a directory'),
                       (stat.S_ISFIFO, 'a FIFO'), (stat.S_ISCHR, 'a character device'),
                       (stat.S_ISBLK, 'a block device'), (stat.S_ISSOCK, 'a socket'),
                       (stat.S_ISLNK, 'a symbolic link')):
        if test(mode):
            return name
    return 'not a regular file'


def human_size(size):
    if size >= MiB and size % MiB == 0:
        return '%d MiB' % (size // MiB)
    if size >= 1024 and size % 1024 == 0:
        return '%d KiB' % (size // 1024)
    return '%d bytes' % size


def check_regular(path, param, follow_symlinks=True):
    """Raise FileRefused unless ``path`` is a regular file (or does not exist: the caller's
    ``open`` reports that). Returns the stat result, or None when nothing is there."""
    try:
        st = os.stat(path) if follow_symlinks else os.lstat(path)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        raise
    if not stat.S_ISREG(st.st_mode):
        what = kind_of(st.st_mode)
        if stat.S_ISLNK(st.st_mode):
            try:
                what += ' to %s' % os.readlink(path)
            except OSError:
                pass
        raise FileRefused('%s: %s is %s, not a regular file' % (param, path, what))
    return st


def open_regular(path, param, follow_symlinks=True):
    """Open ``path`` for reading when it is a regular file; returns (fd, stat of the open file).

    OSError (missing, permission) is left to the caller; anything but a regular file is refused.
    """
    check_regular(path, param, follow_symlinks)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, 'O_CLOEXEC', 0)
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and not follow_symlinks:
            raise FileRefused('%s: %s is a symbolic link, not a regular file' % (param, path))
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        # Replaced between stat and open.
        os.close(fd)
        raise FileRefused('%s: %s is %s, not a regular file' % (param, path, kind_of(st.st_mode)))
    return fd, st


def read_regular(path, param, limit, follow_symlinks=True):
    """The bytes of ``path`` and the stat of the file read, refusing anything but a regular file
    and any file larger than ``limit`` bytes."""
    fd, st = open_regular(path, param, follow_symlinks)
    with os.fdopen(fd, 'rb') as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise FileRefused('%s: %s is larger than %s; refused' % (param, path, human_size(limit)))
    return data, st
