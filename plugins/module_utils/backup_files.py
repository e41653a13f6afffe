# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Backup files: finding the backups a path names, their sha256 sidecars and JSON manifests.

Shared by the ``backup_verify`` and ``db_restore`` modules and the command the ``postgres_backup``
role installs on a host.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import glob
import json
import os
import re
import stat

from ansible_collections.fleetops.runbook.plugins.module_utils.status import UNKNOWN, ParameterError, worst
from ansible_collections.fleetops.runbook.plugins.module_utils import pg_archive

SIDECAR_SUFFIX = '.sha256'
MANIFEST_SUFFIX = '.manifest.json'
IGNORED_SUFFIXES = (SIDECAR_SUFFIX, MANIFEST_SUFFIX, '.json', '.tmp', '.partial', '.lock', '.log')
TIMESTAMP_RE = re.compile(
    r'\d{4}-?\d{2}-?\d{2}(?:[T_-]?\d{2}[:-]?\d{2}(?:[:-]?\d{2})?(?:\.\d+)?Z?)?')
HEX64 = re.compile(r'^[0-9a-fA-F]{64}$')
# <database>_<UTC stamp>.<ext>: how the postgres_backup role names its dumps
SERIES_NAME_RE = re.compile(r'^(?P<database>.+)_\d{8}T\d{6}Z\.[A-Za-z0-9.]+$')


def series_key(path):
    """Backups of the same thing share a name once the timestamp is taken out."""
    name = os.path.basename(path.rstrip('/'))
    return TIMESTAMP_RE.sub('*', name)


# --------------------------------------------------------------------------------------------
# Finding the backups


def is_candidate(path):
    base = os.path.basename(path)
    if base.startswith('.') or base.endswith(IGNORED_SUFFIXES):
        return False
    if os.path.isdir(path):
        return pg_archive.detect_format(path) is not None
    return os.path.isfile(path) or os.path.islink(path)


def discover(path):
    """The backups that ``path`` names (a file, a dump directory, a directory of dumps, a glob)."""
    if any(ch in path for ch in '*?['):
        found = [p for p in glob.glob(path) if is_candidate(p)]
        if not found:
            raise ParameterError('path: the pattern %s matches no backup' % path)
        return found
    if not os.path.lexists(path):
        raise ParameterError('path: %s does not exist' % path)
    if os.path.isdir(path):
        if pg_archive.detect_format(path) is not None:
            return [path]
        if not os.access(path, os.R_OK | os.X_OK):
            raise ParameterError('path: directory %s is not readable' % path)
        found = [os.path.join(path, name) for name in os.listdir(path)]
        found = [p for p in found if is_candidate(p)]
        if not found:
            raise ParameterError('path: the directory %s holds no backups (no dump files, no '
                                 'directory dumps with toc.dat, no base backups with '
                                 'backup_manifest)' % path)
        return found
    return [path]


def backup_mtime(path):
    try:
        if os.path.isdir(path):
            for name in ('backup_manifest', 'toc.dat'):
                if os.path.exists(os.path.join(path, name)):
                    return os.stat(os.path.join(path, name)).st_mtime
        return os.stat(path).st_mtime
    except OSError:
        return None


def backup_size(path):
    if os.path.isdir(path):
        total = 0
        for root, dummy, files in os.walk(path):
            for name in files:
                try:
                    total += os.lstat(os.path.join(root, name)).st_size
                except OSError:
                    pass
        return total
    return os.stat(path).st_size


# --------------------------------------------------------------------------------------------
# Sidecars and manifests


MAX_SIDE_FILE = 16 * 1024 * 1024


def file_kind(mode):
    """What a non-regular, non-directory file is, for messages."""
    for test, name in ((stat.S_ISFIFO, 'a FIFO'), (stat.S_ISCHR, 'a character device'),
                       (stat.S_ISBLK, 'a block device'), (stat.S_ISSOCK, 'a socket')):
        if test(mode):
            return name
    return 'not a regular file'


def read_small_file(path, limit=MAX_SIDE_FILE):
    """The text of a sidecar or manifest: a regular file of at most ``limit`` bytes, opened without
    blocking (a FIFO or a device raises ValueError instead of hanging)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ValueError('%s is %s' % (path, file_kind(mode)))
        chunks = []
        total = 0
        while total <= limit:
            chunk = os.read(fd, limit + 1 - total)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        data = b''.join(chunks)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise ValueError('%s is larger than %d bytes' % (path, limit))
    return data.decode('utf-8')


def read_sidecar(path):
    """Parse a sha256sum-format file into ``{name: hex}``; raises ValueError on a bad line."""
    text = read_small_file(path)
    sums = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or not HEX64.match(parts[0]):
            raise ValueError('line %d is not in sha256sum format' % number)
        name = parts[1].lstrip('*').strip()
        sums[name] = parts[0].lower()
    if not sums:
        raise ValueError('it holds no checksum')
    return sums


def sidecar_text(path, digests):
    """sha256sum-format content for a file (one line) or a directory dump (one line per file)."""
    base = os.path.basename(path.rstrip('/'))
    if isinstance(digests, dict):
        return ''.join('%s  %s/%s\n' % (digests[name], base, name) for name in sorted(digests))
    return '%s  %s\n' % (digests, base)


def load_manifest(path):
    """The JSON manifest written next to a backup at backup time, or None."""
    manifest_path = path.rstrip('/') + MANIFEST_SUFFIX
    if not os.path.exists(manifest_path):
        return None, manifest_path
    manifest = json.loads(read_small_file(manifest_path))
    if not isinstance(manifest, dict):
        raise ValueError('%s does not hold a JSON object' % manifest_path)
    return manifest, manifest_path


class BackupResult:
    """Everything found about one backup."""

    def __init__(self, path):
        self.path = path
        self.format = None
        self.size = None
        self.mtime = None
        self.sha256 = None
        self.digests = None
        self.toc = None
        self.data = None
        self.rows = None
        self.manifest = None
        self.restore = None
        self.checksum = None
        self.problems = []
        self.statuses = []
        self.good = False

    def as_dict(self, now):
        return {
            'path': self.path,
            'format': self.format,
            'size': self.size,
            'mtime': self.mtime,
            'age': None if self.mtime is None else round(now - self.mtime, 3),
            'sha256': self.sha256,
            'checksum': self.checksum,
            'toc': self.toc,
            'data': self.data,
            'manifest': self.manifest,
            'restore': self.restore,
            'status': worst(self.statuses) if self.statuses else UNKNOWN,
            'problems': list(self.problems),
        }
