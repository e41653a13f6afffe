# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Readers for PostgreSQL backups that hash and decode a backup in one read.

Every reader takes a :class:`OnePassFile`: a thread reads the file once in large blocks and feeds
them to SHA-256 (hashlib releases the GIL) while the calling thread parses and decompresses the same
blocks. Nothing here needs Ansible, a database driver or pg_restore, so the same code runs inside the
``backup_verify`` module and in the command the ``postgres_backup`` role installs on a host.

Format facts (custom, directory and tar archives of pg_dump):

* header: ``PGDMP``, version major/minor/revision bytes, integer size, offset size, format byte,
  compression (an integer level before archive version 1.15, an algorithm byte since), the creation
  time as seven integers, then the database name, server version and pg_dump version as strings;
* an integer is a sign byte followed by ``int_size`` little-endian bytes; a string is an integer
  length (-1 for NULL) followed by that many bytes;
* the table of contents: a count, then per entry its dump id, whether it has data, catalog ids,
  tag, description, section, definitions, namespace, tablespace, table access method, relkind,
  owner, a with-oids flag, a NULL-terminated list of dependencies and a format-specific tail (a data
  offset in custom archives, a file name in directory and tar archives);
* custom-format data: blocks of a type byte (1 table data, 3 large objects) and a dump id, then
  length-prefixed chunks ended by a zero length (large objects: an OID before each object's chunks,
  a zero OID at the end). The chunks of one block form one compressed stream.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import queue
import re
import tarfile
import threading
import time
import zlib

BLOCK_SIZE = 4 * 1024 * 1024
QUEUE_DEPTH = 8

MAGIC = b'PGDMP'
FORMAT_CUSTOM = 1
FORMAT_TAR = 3
FORMAT_DIRECTORY = 5
FORMAT_NAMES = {FORMAT_CUSTOM: 'custom', FORMAT_TAR: 'tar', FORMAT_DIRECTORY: 'directory'}

BLK_DATA = 1
BLK_BLOBS = 3

OFFSET_NOT_SET = 1
OFFSET_SET = 2
OFFSET_NO_DATA = 3

COMPRESSION_NAMES = {0: 'none', 1: 'gzip', 2: 'lz4', 3: 'zstd'}


def _version(major, minor, rev=0):
    return (major * 256 + minor) * 256 + rev


V_1_3 = _version(1, 3)
V_1_5 = _version(1, 5)
V_1_6 = _version(1, 6)
V_1_8 = _version(1, 8)
V_1_9 = _version(1, 9)
V_1_10 = _version(1, 10)
V_1_11 = _version(1, 11)
V_1_14 = _version(1, 14)
V_1_15 = _version(1, 15)
V_1_16 = _version(1, 16)
V_MAX = _version(1, 16, 255)

COPY_END = b'\\.\n\n\n'
PLAIN_HEADER = b'--\n-- PostgreSQL database dump\n--'
PLAIN_FOOTER = b'-- PostgreSQL database dump complete'

SECTION_NAMES = {1: 'none', 2: 'pre-data', 3: 'data', 4: 'post-data'}


class BackupError(Exception):
    """The backup is damaged or is not what it claims to be (CRITICAL)."""


class Unverifiable(Exception):
    """The backup could not be checked here, e.g. a compression this host cannot decode (UNKNOWN)."""


# --------------------------------------------------------------------------------------------
# Reading a file once


class OnePassFile:
    """Reads a file exactly once, hashing it in a thread while the consumer decodes the blocks."""

    def __init__(self, path, block_size=BLOCK_SIZE, depth=QUEUE_DEPTH):
        self.path = path
        self.block_size = block_size
        self._queue = queue.Queue(maxsize=depth)
        self._hash = hashlib.sha256()
        self._thread = None
        self._error = None
        self._stop = False
        self.size = 0
        self.seconds = 0.0
        self.tail = b''

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, name='backup-reader', daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _run(self):
        started = time.monotonic()
        try:
            with open(self.path, 'rb', buffering=0) as handle:
                while not self._stop:
                    block = handle.read(self.block_size)
                    if not block:
                        break
                    self._hash.update(block)
                    self.size += len(block)
                    self.tail = (self.tail + block[-1024:])[-1024:]
                    self._queue.put(block)
        except (IOError, OSError) as exc:
            self._error = exc
        finally:
            self.seconds = time.monotonic() - started
            self._queue.put(None)

    def blocks(self):
        """The file's blocks in order; raises the reader's I/O error, if any, at the end."""
        while True:
            block = self._queue.get()
            if block is None:
                self._queue.put(None)
                if self._error is not None:
                    raise self._error
                return
            yield block

    def drain(self):
        """Consume what the decoder did not need, so that the checksum covers the whole file."""
        for dummy in self.blocks():
            pass

    def hexdigest(self):
        self.drain()
        self._thread.join()
        return self._hash.hexdigest()

    def close(self):
        if self._thread is None:
            return
        self._stop = True
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.05)
            except queue.Empty:
                pass
        self._thread.join()


def sha256_file(path):
    """SHA-256 of a file (used for files that need no decoding)."""
    with OnePassFile(path) as reader:
        return reader.hexdigest()


class Cursor:
    """Sequential reads over a stream of blocks, tracking the file offset."""

    def __init__(self, blocks, name='file'):
        self._blocks = iter(blocks)
        self.name = name
        self.buf = b''
        self.pos = 0
        self.base = 0
        self.eof = False

    def tell(self):
        return self.base + self.pos

    def fill(self, need):
        """Make at least ``need`` bytes available from ``pos``; False at end of file."""
        have = len(self.buf) - self.pos
        if have >= need:
            return True
        parts = [self.buf[self.pos:]]
        self.base += self.pos
        while have < need:
            block = next(self._blocks, None)
            if block is None:
                self.eof = True
                break
            parts.append(block)
            have += len(block)
        self.buf = b''.join(parts) if len(parts) > 1 else parts[0]
        self.pos = 0
        return have >= need

    def at_end(self):
        return not self.fill(1)

    def read(self, count, what):
        if not self.fill(count):
            raise BackupError('%s: unexpected end of file at offset %d while reading %s (%d bytes '
                              'missing): the file is truncated' % (
                                  self.name, self.tell() + len(self.buf) - self.pos, what,
                                  count - (len(self.buf) - self.pos)))
        data = self.buf[self.pos:self.pos + count]
        self.pos += count
        return data

    def read_up_to(self, count):
        """Up to ``count`` bytes (fewer only at end of file): the file-object read() contract."""
        if count is None or count < 0:
            count = 1 << 62
        self.fill(min(count, BLOCK_SIZE))
        data = self.buf[self.pos:self.pos + count]
        self.pos += len(data)
        return data


class CursorFile:
    """A minimal read-only file object over a Cursor (for tarfile's stream mode)."""

    def __init__(self, cursor):
        self.cursor = cursor

    def read(self, size=-1):
        return self.cursor.read_up_to(size)


# --------------------------------------------------------------------------------------------
# Decompression of data streams


def _optional_decompressor(algorithm):
    if algorithm == 'lz4':
        try:
            import lz4.frame  # pylint: disable=import-outside-toplevel
        except ImportError:
            raise Unverifiable('data is lz4-compressed and the Python lz4 package is not installed '
                               'on this host, so the data blocks cannot be decoded here')
        return lz4.frame.LZ4FrameDecompressor()
    if algorithm == 'zstd':
        try:
            import zstandard  # pylint: disable=import-outside-toplevel
        except ImportError:
            raise Unverifiable('data is zstd-compressed and the Python zstandard package is not '
                               'installed on this host, so the data blocks cannot be decoded here')
        return zstandard.ZstdDecompressor().decompressobj()
    raise Unverifiable('unknown compression algorithm %r' % algorithm)


class StreamDecoder:
    """Decodes one compressed stream fed in pieces and checks that it ends cleanly."""

    def __init__(self, algorithm, wbits=zlib.MAX_WBITS):
        self.algorithm = algorithm
        self._wbits = wbits
        self.decoded = 0
        if algorithm == 'none':
            self._obj = None
        elif algorithm == 'gzip':
            self._obj = zlib.decompressobj(wbits)
        else:
            self._obj = _optional_decompressor(algorithm)

    def feed(self, data):
        if self._obj is None:
            out = bytes(data)
        else:
            try:
                out = self._obj.decompress(data)
            except zlib.error as exc:
                raise BackupError('compressed data is corrupt (%s)' % exc)
            except Exception as exc:  # lz4/zstd raise their own error classes
                raise BackupError('compressed data is corrupt (%s)' % exc)
            if self.algorithm == 'gzip':
                while self._obj.eof and self._obj.unused_data:
                    # another member of a multi-member gzip stream
                    rest = self._obj.unused_data
                    if self._wbits == zlib.MAX_WBITS:
                        raise BackupError('%d bytes of garbage after the end of a compressed '
                                          'stream' % len(rest))
                    self._obj = zlib.decompressobj(self._wbits)
                    try:
                        out += self._obj.decompress(rest)
                    except zlib.error as exc:
                        raise BackupError('compressed data is corrupt (%s)' % exc)
        self.decoded += len(out)
        return out

    def finish(self):
        if self._obj is None:
            return b''
        if self.algorithm == 'gzip':
            if not self._obj.eof:
                raise BackupError('compressed stream ends early (no end-of-stream marker or '
                                  'checksum): the data is truncated')
            return b''
        if self.algorithm == 'lz4':
            if not self._obj.eof:
                raise BackupError('lz4 frame ends early: the data is truncated')
            return b''
        try:
            return self._obj.flush()
        except Exception as exc:
            raise BackupError('compressed stream ends early (%s)' % exc)


class CopyCounter:
    """Counts COPY rows in decoded table data and checks the end-of-data marker."""

    def __init__(self):
        self.newlines = 0
        self.tail = b''

    def feed(self, data):
        if data:
            self.newlines += data.count(b'\n')
            self.tail = (self.tail + data[-8:])[-8:]

    def rows(self, label):
        if not self.tail.endswith(COPY_END):
            raise BackupError('%s: table data does not end with the COPY end marker: the data '
                              'is truncated or damaged' % label)
        return self.newlines - COPY_END.count(b'\n')


# --------------------------------------------------------------------------------------------
# Header and table of contents


class TocEntry:
    __slots__ = ('dump_id', 'had_dumper', 'tableoid', 'oid', 'tag', 'desc', 'section', 'defn',
                 'copy_stmt', 'namespace', 'owner', 'deps', 'data_state', 'data_pos', 'filename')

    def label(self):
        if self.namespace:
            return '%s %s.%s' % (self.desc, self.namespace, self.tag)
        return '%s %s' % (self.desc, self.tag)

    def table_name(self):
        return '%s.%s' % (self.namespace, self.tag) if self.namespace else self.tag


class Archive:
    """Header and table of contents of a custom, directory or tar archive."""

    def __init__(self):
        self.version = None
        self.version_text = None
        self.int_size = None
        self.off_size = None
        self.format = None
        self.compression = 'none'
        self.compression_level = None
        self.created = None
        self.database = None
        self.server_version = None
        self.dump_version = None
        self.entries = []
        self.toc_end = None

    def stats(self):
        descs = {}
        for entry in self.entries:
            descs[entry.desc] = descs.get(entry.desc, 0) + 1
        return {
            'archive_version': self.version_text,
            'format': FORMAT_NAMES.get(self.format, str(self.format)),
            'compression': self.compression,
            'database': self.database,
            'dumped_from': self.server_version,
            'dumped_by': self.dump_version,
            'created': self.created,
            'entries': len(self.entries),
            'tables': descs.get('TABLE', 0),
            'table_data': descs.get('TABLE DATA', 0),
            'large_objects': descs.get('BLOB', 0) + descs.get('BLOB METADATA', 0),
            'data_entries': sum(1 for e in self.entries if e.had_dumper),
        }


class _Reader:
    def __init__(self, cursor, archive):
        self.c = cursor
        self.a = archive

    def byte(self, what):
        return self.c.read(1, what)[0]

    def int(self, what):
        raw = self.c.read(1 + self.a.int_size, what)
        sign = raw[0]
        if sign not in (0, 1):
            raise BackupError('%s: invalid sign byte %d in %s at offset %d: the archive is '
                              'damaged' % (self.c.name, sign, what, self.c.tell() - len(raw)))
        value = int.from_bytes(raw[1:], 'little')
        return -value if sign else value

    def str(self, what, limit=None):
        length = self.int('length of ' + what)
        if length < 0:
            if length != -1:
                raise BackupError('%s: invalid length %d of %s at offset %d: the archive is '
                                  'damaged' % (self.c.name, length, what, self.c.tell()))
            return None
        if limit is not None and length > limit:
            raise BackupError('%s: %s claims %d bytes at offset %d, more than the file holds: '
                              'the archive is damaged or truncated' % (
                                  self.c.name, what, length, self.c.tell()))
        return self.c.read(length, what).decode('utf-8', 'replace')


def read_header(cursor, archive, expect_format=None):
    """Parse the archive header (format facts in the module docstring)."""
    magic = cursor.read(5, 'the archive header')
    if magic != MAGIC:
        raise BackupError('%s: no PGDMP signature: not a pg_dump archive' % cursor.name)
    major, minor, rev = bytearray(cursor.read(3, 'the archive version'))
    archive.version = _version(major, minor, rev)
    archive.version_text = '%d.%d-%d' % (major, minor, rev)
    if archive.version > V_MAX:
        raise Unverifiable('%s: archive version %d.%d is newer than this verifier knows (up to '
                           '1.16)' % (cursor.name, major, minor))
    if archive.version < V_1_10:
        raise Unverifiable('%s: archive version %d.%d (pg_dump before 8.4) is too old to verify '
                           'here' % (cursor.name, major, minor))
    reader = _Reader(cursor, archive)
    archive.int_size = reader.byte('the integer size')
    archive.off_size = reader.byte('the offset size')
    if not 1 <= archive.int_size <= 8 or not 1 <= archive.off_size <= 16:
        raise BackupError('%s: implausible integer size %d / offset size %d in the header: the '
                          'archive is damaged' % (cursor.name, archive.int_size, archive.off_size))
    archive.format = reader.byte('the format byte')
    if archive.format not in FORMAT_NAMES:
        raise BackupError('%s: unknown archive format code %d in the header: the archive is '
                          'damaged' % (cursor.name, archive.format))
    if isinstance(expect_format, int):
        expect_format = (expect_format,)
    if expect_format is not None and archive.format not in expect_format:
        raise BackupError('%s: header says %s format, expected %s' % (
            cursor.name, FORMAT_NAMES[archive.format], FORMAT_NAMES[expect_format[0]]))
    if archive.version >= V_1_15:
        code = reader.byte('the compression algorithm')
        if code not in COMPRESSION_NAMES:
            raise BackupError('%s: unknown compression algorithm code %d in the header: the '
                              'archive is damaged' % (cursor.name, code))
        archive.compression = COMPRESSION_NAMES[code]
    else:
        level = reader.int('the compression level')
        if not -1 <= level <= 9:
            raise BackupError('%s: invalid compression level %d in the header: the archive is '
                              'damaged' % (cursor.name, level))
        archive.compression_level = level
        archive.compression = 'gzip' if level != 0 else 'none'
    fields = [reader.int('the creation time') for dummy in range(7)]
    sec, minute, hour, mday, mon, year = fields[:6]
    if not (0 <= sec <= 61 and 0 <= minute <= 59 and 0 <= hour <= 23 and 1 <= mday <= 31
            and 0 <= mon <= 11 and 0 <= year <= 1100):
        raise BackupError('%s: invalid creation time in the header: the archive is damaged'
                          % cursor.name)
    archive.created = '%04d-%02d-%02d %02d:%02d:%02d' % (year + 1900, mon + 1, mday, hour,
                                                         minute, sec)
    archive.database = reader.str('the database name', limit=65536)
    archive.server_version = reader.str('the server version', limit=65536)
    archive.dump_version = reader.str('the pg_dump version', limit=65536)


def read_toc(cursor, archive, file_size):
    """Parse the table of contents that follows the header."""
    reader = _Reader(cursor, archive)
    version = archive.version
    count = reader.int('the TOC entry count')
    if count < 0 or count > file_size:
        raise BackupError('%s: implausible TOC entry count %d: the archive is damaged'
                          % (cursor.name, count))
    seen = set()
    for index in range(count):
        what = 'TOC entry %d of %d' % (index + 1, count)
        entry = TocEntry()
        entry.dump_id = reader.int(what)
        if entry.dump_id <= 0 or entry.dump_id in seen:
            raise BackupError('%s: invalid or repeated dump id %d in %s: the table of contents '
                              'is damaged' % (cursor.name, entry.dump_id, what))
        seen.add(entry.dump_id)
        had = reader.int(what)
        if had not in (0, 1):
            raise BackupError('%s: invalid data flag %d in %s: the table of contents is damaged'
                              % (cursor.name, had, what))
        entry.had_dumper = bool(had)
        entry.tableoid = reader.str(what, file_size) if version >= V_1_8 else None
        entry.oid = reader.str(what, file_size)
        entry.tag = reader.str(what, file_size)
        entry.desc = reader.str(what, file_size)
        if entry.desc is None:
            raise BackupError('%s: %s has no object type: the table of contents is damaged'
                              % (cursor.name, what))
        if version >= V_1_11:
            entry.section = reader.int(what)
            if entry.section not in SECTION_NAMES:
                raise BackupError('%s: invalid section %d in %s (%s): the table of contents is '
                                  'damaged' % (cursor.name, entry.section, what, entry.desc))
        else:
            entry.section = None
        entry.defn = reader.str(what, file_size)
        reader.str(what, file_size)  # drop statement
        entry.copy_stmt = reader.str(what, file_size) if version >= V_1_3 else None
        entry.namespace = reader.str(what, file_size) if version >= V_1_6 else None
        if version >= V_1_10:
            reader.str(what, file_size)  # tablespace
        if version >= V_1_14:
            reader.str(what, file_size)  # table access method
        if version >= V_1_16:
            reader.int(what)  # relkind
        entry.owner = reader.str(what, file_size)
        if version >= V_1_9:
            with_oids = reader.str(what, file_size)
            if with_oids not in ('true', 'false'):
                raise BackupError('%s: invalid with-oids flag in %s (%s): the table of contents '
                                  'is damaged' % (cursor.name, what, entry.desc))
        deps = []
        if version >= V_1_5:
            while True:
                dep = reader.str('dependencies of ' + what, file_size)
                if dep is None:
                    break
                if not dep.isdigit():
                    raise BackupError('%s: invalid dependency %r in %s: the table of contents is '
                                      'damaged' % (cursor.name, dep, what))
                deps.append(int(dep))
        entry.deps = deps
        entry.data_state = None
        entry.data_pos = None
        entry.filename = None
        if archive.format == FORMAT_CUSTOM:
            flag = reader.byte(what)
            if flag not in (OFFSET_NOT_SET, OFFSET_SET, OFFSET_NO_DATA):
                raise BackupError('%s: invalid data offset flag %d in %s (%s): the table of '
                                  'contents is damaged' % (cursor.name, flag, what, entry.desc))
            raw = cursor.read(archive.off_size, what)
            entry.data_state = flag
            entry.data_pos = int.from_bytes(raw, 'little')
        else:
            entry.filename = reader.str(what, file_size)
        archive.entries.append(entry)
    archive.toc_end = cursor.tell()


# --------------------------------------------------------------------------------------------
# Custom format


class DataResult:
    """What a full read of the data found."""

    def __init__(self):
        self.blocks = 0
        self.chunks = 0
        self.compressed_bytes = 0
        self.decoded_bytes = 0
        self.rows = {}
        self.large_objects = 0

    def as_dict(self):
        return {
            'blocks': self.blocks,
            'chunks': self.chunks,
            'compressed_bytes': self.compressed_bytes,
            'decoded_bytes': self.decoded_bytes,
            'large_objects': self.large_objects,
            'rows': dict(self.rows),
        }


_BATCH = 1024 * 1024


def _read_chunks(cursor, archive, decoder, counter, result, label):
    """Read length-prefixed chunks up to the zero terminator, decoding them in batches."""
    int_size = archive.int_size
    head = 1 + int_size
    pending = []
    pending_size = 0
    while True:
        if len(cursor.buf) - cursor.pos < head and not cursor.fill(head):
            raise BackupError('%s: unexpected end of file at offset %d inside the data of %s: the '
                              'file is truncated' % (cursor.name, cursor.tell(), label))
        buf = cursor.buf
        pos = cursor.pos
        sign = buf[pos]
        length = int.from_bytes(buf[pos + 1:pos + head], 'little')
        if sign or length < 0:
            raise BackupError('%s: invalid chunk length at offset %d in the data of %s: the '
                              'archive is damaged' % (cursor.name, cursor.tell(), label))
        cursor.pos = pos + head
        if length == 0:
            break
        if len(buf) - cursor.pos < length:
            if not cursor.fill(length):
                raise BackupError('%s: unexpected end of file at offset %d inside the data of %s '
                                  '(a chunk of %d bytes is cut short): the file is truncated' % (
                                      cursor.name, cursor.tell(), label, length))
            buf = cursor.buf
        start = cursor.pos
        pending.append(buf[start:start + length])
        cursor.pos = start + length
        pending_size += length
        result.chunks += 1
        if pending_size >= _BATCH:
            _decode(cursor, decoder, counter, pending, label)
            result.compressed_bytes += pending_size
            pending = []
            pending_size = 0
    if pending:
        _decode(cursor, decoder, counter, pending, label)
        result.compressed_bytes += pending_size
    try:
        tail = decoder.finish()
    except BackupError as exc:
        raise BackupError('%s: %s: %s' % (cursor.name, label, exc))
    if counter is not None:
        counter.feed(tail)
    result.decoded_bytes += decoder.decoded


def _decode(cursor, decoder, counter, pieces, label):
    data = pieces[0] if len(pieces) == 1 else b''.join(pieces)
    try:
        out = decoder.feed(data)
    except BackupError as exc:
        raise BackupError('%s: %s, in the data before offset %d: %s' % (
            cursor.name, label, cursor.tell(), exc))
    if counter is not None:
        counter.feed(out)


def _is_copy(entry):
    return entry.desc == 'TABLE DATA' and bool(entry.copy_stmt)


def verify_custom(reader, name=None):
    """Header, TOC and every data block of a custom-format archive, in one read.

    Returns ``(archive, data_result, unverifiable_reason)``; raises BackupError for damage.
    """
    cursor = Cursor(reader.blocks(), name or reader.path)
    file_size = os.path.getsize(reader.path)
    archive = Archive()
    read_header(cursor, archive, FORMAT_CUSTOM)
    read_toc(cursor, archive, file_size)
    by_id = dict((e.dump_id, e) for e in archive.entries)
    expected = dict((e.dump_id, e) for e in archive.entries
                    if e.had_dumper and e.data_state != OFFSET_NO_DATA)
    result = DataResult()
    reason = None
    try:
        StreamDecoder(archive.compression)
    except Unverifiable as exc:
        reason = str(exc)
    seen = set()
    while not cursor.at_end():
        block_pos = cursor.tell()
        kind = cursor.read(1, 'a data block type')[0]
        block_id = _Reader(cursor, archive).int('a data block id')
        entry = by_id.get(block_id)
        if kind not in (BLK_DATA, BLK_BLOBS) or entry is None or block_id in seen:
            raise BackupError('%s: invalid data block header at offset %d (type %d, id %d): the '
                              'archive is damaged' % (cursor.name, block_pos, kind, block_id))
        if not entry.had_dumper:
            raise BackupError('%s: data block at offset %d belongs to %s, which has no data: the '
                              'archive is damaged' % (cursor.name, block_pos, entry.label()))
        if entry.data_state == OFFSET_SET and entry.data_pos != block_pos:
            raise BackupError('%s: data of %s found at offset %d but the table of contents says '
                              '%d: the archive is damaged' % (
                                  cursor.name, entry.label(), block_pos, entry.data_pos))
        seen.add(block_id)
        result.blocks += 1
        label = entry.label()
        algorithm = 'none' if reason else archive.compression
        if kind == BLK_DATA:
            counter = CopyCounter() if (_is_copy(entry) and not reason) else None
            _read_chunks(cursor, archive, StreamDecoder(algorithm), counter, result, label)
            if counter is not None:
                result.rows[entry.table_name()] = counter.rows('%s: %s' % (cursor.name, label))
        else:
            while True:
                oid = _Reader(cursor, archive).int('a large object OID in ' + label)
                if oid == 0:
                    break
                if oid < 0:
                    raise BackupError('%s: invalid large object OID %d in %s: the archive is '
                                      'damaged' % (cursor.name, oid, label))
                result.large_objects += 1
                _read_chunks(cursor, archive, StreamDecoder(algorithm), None, result,
                             '%s (large object %d)' % (label, oid))
    missing = [expected[i].label() for i in sorted(expected) if i not in seen]
    if missing:
        raise BackupError('%s: the data of %d entr%s is missing (%s): the file is truncated or '
                          'damaged' % (cursor.name, len(missing), 'y' if len(missing) == 1 else 'ies',
                                       ', '.join(missing[:5]) + (', ...' if len(missing) > 5 else '')))
    return archive, result, reason


# --------------------------------------------------------------------------------------------
# Directory and tar formats


def _algorithm_for(filename):
    if filename.endswith('.gz'):
        return 'gzip'
    if filename.endswith('.lz4'):
        return 'lz4'
    if filename.endswith('.zst'):
        return 'zstd'
    return 'none'


def _read_data_stream(blocks, filename, label, counting, result):
    """Decode one data file (directory/tar member) fed as blocks; returns rows or None."""
    algorithm = _algorithm_for(filename)
    wbits = 16 + zlib.MAX_WBITS if algorithm == 'gzip' else zlib.MAX_WBITS
    decoder = StreamDecoder(algorithm, wbits)
    counter = CopyCounter() if counting else None
    for block in blocks:
        result.compressed_bytes += len(block)
        try:
            out = decoder.feed(block)
        except BackupError as exc:
            raise BackupError('%s: %s' % (filename, exc))
        if counter is not None:
            counter.feed(out)
    try:
        tail = decoder.finish()
    except BackupError as exc:
        raise BackupError('%s (%s): %s' % (filename, label, exc))
    if counter is not None:
        counter.feed(tail)
    result.decoded_bytes += decoder.decoded
    if counter is not None:
        return counter.rows('%s (%s)' % (filename, label))
    return None


def verify_directory(path):
    """A directory-format dump: toc.dat, then every data file it names, each read once.

    Returns ``(archive, data_result, sha256_per_file, unverifiable_reason)``.
    """
    toc_path = os.path.join(path, 'toc.dat')
    if not os.path.isfile(toc_path):
        raise BackupError('%s: no toc.dat: not a directory-format dump, or its table of contents '
                          'is missing' % path)
    digests = {}
    archive = Archive()
    with OnePassFile(toc_path) as reader:
        cursor = Cursor(reader.blocks(), toc_path)
        # pg_dump writes the tar format code into a directory dump's toc.dat (both share it)
        read_header(cursor, archive, (FORMAT_DIRECTORY, FORMAT_TAR))
        read_toc(cursor, archive, os.path.getsize(toc_path))
        archive.format = FORMAT_DIRECTORY
        if not cursor.at_end():
            raise BackupError('%s: unexpected bytes after the table of contents at offset %d'
                              % (toc_path, cursor.tell()))
        digests['toc.dat'] = reader.hexdigest()
    result = DataResult()
    reason = None
    for entry in archive.entries:
        if not entry.had_dumper:
            continue
        if not entry.filename:
            raise BackupError('%s: %s has data but no file name in toc.dat' % (path, entry.label()))
        if entry.desc in ('BLOBS', 'BLOB', 'BLOB METADATA') or entry.filename.startswith('blobs'):
            reason = _verify_directory_blobs(path, entry, result, digests) or reason
            continue
        data_path = _find_data_file(path, entry.filename, archive)
        name = os.path.basename(data_path)
        try:
            with OnePassFile(data_path) as reader:
                rows = _read_data_stream(reader.blocks(), data_path, entry.label(),
                                         _is_copy(entry), result)
                digests[name] = reader.hexdigest()
        except Unverifiable as exc:
            reason = str(exc)
            digests[name] = sha256_file(data_path)
            continue
        result.blocks += 1
        if rows is not None:
            result.rows[entry.table_name()] = rows
    return archive, result, digests, reason


def _find_data_file(path, filename, archive):
    candidates = [filename]
    if archive.compression != 'none' and '.' not in filename.split('.dat', 1)[-1]:
        candidates = [filename + ext for ext in ('.gz', '.lz4', '.zst')] + [filename]
    for candidate in candidates:
        full = os.path.join(path, candidate)
        if os.path.isfile(full):
            return full
    raise BackupError('%s: data file %s named in toc.dat is missing' % (path, filename))


def _verify_directory_blobs(path, entry, result, digests):
    toc_name = entry.filename
    toc_file = os.path.join(path, toc_name)
    if not os.path.isfile(toc_file):
        raise BackupError('%s: large object list %s named in toc.dat is missing' % (path, toc_name))
    with open(toc_file, 'rb') as handle:
        listing = handle.read()
    digests[toc_name] = hashlib.sha256(listing).hexdigest()
    reason = None
    for line in listing.splitlines():
        parts = line.split(b' ', 1)
        if len(parts) != 2 or not parts[0].isdigit():
            raise BackupError('%s: malformed line %r in %s' % (path, line[:80], toc_name))
        name = parts[1].decode('utf-8', 'replace')
        full = None
        for candidate in (name, name + '.gz', name + '.lz4', name + '.zst'):
            if os.path.isfile(os.path.join(path, candidate)):
                full = os.path.join(path, candidate)
                name = candidate
                break
        if full is None:
            raise BackupError('%s: large object file %s listed in %s is missing' % (
                path, name, toc_name))
        try:
            with OnePassFile(full) as reader:
                _read_data_stream(reader.blocks(), full, entry.label(), False, result)
                digests[name] = reader.hexdigest()
        except Unverifiable as exc:
            reason = str(exc)
            digests[name] = sha256_file(full)
        result.large_objects += 1
    result.blocks += 1
    return reason


def verify_tar(reader, name=None):
    """A tar-format dump read as a stream: toc.dat first, then the data members."""
    cursor = Cursor(reader.blocks(), name or reader.path)
    size = os.path.getsize(reader.path)
    if size % 512:
        raise BackupError('%s: size %d is not a multiple of the 512-byte tar block: the file is '
                          'truncated' % (cursor.name, size))
    stream = CursorFile(cursor)
    try:
        tar = tarfile.open(fileobj=stream, mode='r|')
    except tarfile.TarError as exc:
        raise BackupError('%s: not a readable tar archive (%s)' % (cursor.name, exc))
    archive = None
    result = DataResult()
    members = set()
    by_file = {}
    tail = b''
    try:
        for member in tar:
            members.add(member.name)
            handle = tar.extractfile(member) if member.isfile() else None
            if handle is None:
                continue
            pieces = iter(lambda h=handle: h.read(BLOCK_SIZE), b'')
            if member.name == 'toc.dat':
                archive = Archive()
                toc_cursor = Cursor(pieces, '%s:toc.dat' % cursor.name)
                read_header(toc_cursor, archive, FORMAT_TAR)
                read_toc(toc_cursor, archive, size)
                by_file = dict((e.filename, e) for e in archive.entries if e.filename)
                continue
            entry = by_file.get(member.name)
            if archive is None:
                raise BackupError('%s: member %s comes before toc.dat: not a pg_dump tar archive'
                                  % (cursor.name, member.name))
            if entry is not None and entry.had_dumper:
                rows = _read_data_stream(pieces, member.name, entry.label(), _is_copy(entry),
                                         result)
                result.blocks += 1
                if rows is not None:
                    result.rows[entry.table_name()] = rows
            elif member.name.startswith('blob_'):
                _read_data_stream(pieces, member.name, 'large object', False, result)
                result.large_objects += 1
            else:
                for dummy in pieces:
                    pass
        while stream.read(BLOCK_SIZE):
            pass
        reader.drain()
        tail = reader.tail
    except tarfile.TarError as exc:
        raise BackupError('%s: tar archive is damaged or truncated (%s)' % (cursor.name, exc))
    except (EOFError, zlib.error) as exc:
        raise BackupError('%s: tar archive is truncated (%s)' % (cursor.name, exc))
    if archive is None:
        raise BackupError('%s: no toc.dat member: not a pg_dump tar archive' % cursor.name)
    blob_lists = [m for m in members if m.startswith('blobs') and m.endswith('.toc')]
    missing = [e.label() for e in archive.entries
               if e.had_dumper and e.filename and e.filename not in members
               and not (e.desc == 'BLOBS' and blob_lists)]
    if missing:
        raise BackupError('%s: the data of %d entr%s is missing (%s): the file is truncated or '
                          'damaged' % (cursor.name, len(missing), 'y' if len(missing) == 1 else 'ies',
                                       ', '.join(missing[:5])))
    if 'restore.sql' not in members:
        raise BackupError('%s: restore.sql member is missing: the file is truncated' % cursor.name)
    if len(tail) < 1024 or tail.strip(b'\0'):
        raise BackupError('%s: the tar end-of-archive marker is missing: the file is truncated'
                          % cursor.name)
    return archive, result, None


# --------------------------------------------------------------------------------------------
# Plain SQL, compressed or not


def verify_plain(reader, gzipped, name=None):
    """Plain SQL dump (.sql or .sql.gz): gzip stream integrity and the dump-complete footer."""
    label = name or reader.path
    decoder = StreamDecoder('gzip', 16 + zlib.MAX_WBITS) if gzipped else None
    head = b''
    tail = b''
    decoded = 0
    for block in reader.blocks():
        if decoder is not None:
            try:
                block = decoder.feed(block)
            except BackupError as exc:
                raise BackupError('%s: gzip stream is damaged: %s' % (label, exc))
        decoded += len(block)
        if len(head) < 4096:
            head += block[:4096 - len(head)]
        tail = (tail + block[-4096:])[-4096:]
    if decoder is not None:
        try:
            decoder.finish()
        except BackupError as exc:
            raise BackupError('%s: gzip stream is damaged: %s' % (label, exc))
    if not head.startswith(PLAIN_HEADER) and b'PostgreSQL database dump' not in head[:200]:
        if head.startswith(MAGIC):
            raise BackupError('%s: a custom-format archive inside a plain/gzip name' % label)
        raise BackupError('%s: no "PostgreSQL database dump" header: not a pg_dump SQL file'
                          % label)
    lines = [line.strip() for line in tail.splitlines()]
    if PLAIN_FOOTER not in lines or not tail.endswith(b'\n\n'):
        raise BackupError('%s: the "-- PostgreSQL database dump complete" footer is missing: the '
                          'dump is truncated or pg_dump did not finish' % label)
    # pg_dump 17.6/16.10/15.14 and later fence the script with \restrict KEY ... \unrestrict KEY
    for line in head.splitlines()[:40]:
        if line.startswith(b'\\restrict '):
            key = line.split(b' ', 1)[1].strip()
            after = lines[lines.index(PLAIN_FOOTER) + 1:]
            if b'\\unrestrict ' + key not in after:
                raise BackupError('%s: the closing \\unrestrict line after the footer is missing '
                                  'or cut: the dump is truncated' % label)
            break
    return {'decoded_bytes': decoded, 'gzip': bool(gzipped)}


def verify_gzip(reader, name=None):
    """Integrity of any gzip file (every member's CRC and length), without interpreting it."""
    decoder = StreamDecoder('gzip', 16 + zlib.MAX_WBITS)
    for block in reader.blocks():
        try:
            decoder.feed(block)
        except BackupError as exc:
            raise BackupError('%s: gzip stream is damaged: %s' % (name or reader.path, exc))
    try:
        decoder.finish()
    except BackupError as exc:
        raise BackupError('%s: gzip stream is damaged: %s' % (name or reader.path, exc))
    return decoder.decoded


# --------------------------------------------------------------------------------------------
# Format detection


def detect_format(path):
    """custom, directory, tar, plain, plain_gz, basebackup, gzip or None (not a backup)."""
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, 'backup_manifest')):
            return 'basebackup'
        if os.path.isfile(os.path.join(path, 'toc.dat')):
            return 'directory'
        return None
    with open(path, 'rb') as handle:
        head = handle.read(512)
    if head.startswith(MAGIC):
        return 'custom'
    if head.startswith(b'\x1f\x8b'):
        inner = b''
        try:
            inner = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head)
        except zlib.error:
            pass
        if inner.startswith(MAGIC) or inner[257:262] == b'ustar':
            return 'gzip'
        return 'plain_gz'
    if len(head) == 512 and head[257:262] == b'ustar':
        return 'tar'
    if head.startswith(PLAIN_HEADER) or b'PostgreSQL database dump' in head[:200]:
        return 'plain'
    return None


# --------------------------------------------------------------------------------------------
# Is a plain dump safe to restore into a scratch database?
#
# psql runs a plain dump as a script, so a dump can do anything psql and the login role can:
# pg_dump -C writes CREATE DATABASE and \connect, -C -c DROP DATABASE first, and a hand-made file
# can hold \! or \o (CVE-2025-8714 is about such lines). The scan below reads the script as psql's
# lexer does (quotes, dollar quotes, comments, COPY data blocks) and accepts only what plain
# pg_dump writes without -C: SQL that stays inside the database it runs in, COPY ... FROM stdin
# with its data, and pg_dump's own \restrict / \unrestrict lines.

MAX_SQL_LINE = 32 * 1024 * 1024
TESTABLE_DUMP_HINT = ('make a dump that can be restored into another database name with pg_dump '
                      'without -C/--create and -c/--clean (plain), or better pg_dump -Fc')

_RESTRICT_RE = re.compile(r'^\\(restrict|unrestrict) [A-Za-z0-9]+\r?$')
_SQL_TOKEN_RE = re.compile(r"""
    (?P<space>\s+)
  | (?P<comment>--[^\n]*)
  | (?P<block>/\*)
  | (?P<estring>[Ee]')
  | (?P<dollar>\$(?:[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_\x80-\U0010ffff]*)?\$)
  | (?P<word>[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_$\x80-\U0010ffff]*)
  | (?P<squote>')
  | (?P<dquote>")
  | (?P<semi>;)
  | (?P<backslash>\\)
  | (?P<other>[0-9]+[A-Za-z0-9_$]*|.)
""", re.VERBOSE | re.DOTALL)

_STD_STRINGS_ON_RE = re.compile(r"standard_conforming_strings\s*(=|\bTO\b)\s*'?on'?\s*;?\s*$", re.IGNORECASE)
# first words of a statement that reach beyond the database the script runs in
_CLUSTER_OBJECTS = ('DATABASE', 'ROLE', 'USER', 'GROUP', 'TABLESPACE')


class UnsafeDump(Exception):
    """A plain dump holds a command that could leave the database it is restored into."""

    def __init__(self, label, line, what, text):
        self.line = line
        self.what = what
        self.text = text
        super(UnsafeDump, self).__init__(
            '%s: line %d holds %s: %s. It could act outside the database it is restored into '
            '(other databases, the cluster or the host), so the dump was refused and nothing was '
            'restored. Plain dumps are restored only when they '
            'hold nothing but what pg_dump writes without -C: %s' % (
                label, line, what, text, TESTABLE_DUMP_HINT))


class _ScriptReader:
    """Lines of a stream of byte blocks, and a fast skip over COPY data. A line longer than
    ``limit`` comes in pieces, so memory stays bounded."""

    def __init__(self, blocks, limit):
        self._blocks = iter(blocks)
        self.limit = limit
        self.buf = b''
        self.pos = 0

    def _more(self):
        block = next(self._blocks, None)
        if block is None:
            return False
        self.buf = self.buf[self.pos:] + block
        self.pos = 0
        return True

    def line(self):
        """``(bytes, complete)`` of the next line (``complete`` False for a piece of a long line),
        or None at the end."""
        while True:
            end = self.buf.find(b'\n', self.pos)
            if end >= 0:
                text = self.buf[self.pos:end + 1]
                self.pos = end + 1
                return text, True
            if len(self.buf) - self.pos > self.limit:
                text = self.buf[self.pos:self.pos + self.limit]
                self.pos += self.limit
                return text, False
            if not self._more():
                if self.pos < len(self.buf):
                    text = self.buf[self.pos:]
                    self.pos = len(self.buf)
                    return text, True
                return None

    def skip_copy(self):
        """Skip COPY data from a line start up to and including the line that is exactly ``\\.``
        (psql's end-of-data marker); returns the number of lines skipped, the marker's included."""
        lines = 0
        midline = False
        while True:
            if midline:
                end = self.buf.find(b'\n', self.pos)
                if end < 0:
                    self.pos = len(self.buf)
                    if not self._more():
                        return lines + 1
                    continue
                self.pos = end + 1
                lines += 1
                midline = False
            if self.buf.startswith((b'\\.\n', b'\\.\r\n'), self.pos):
                self.pos = self.buf.index(b'\n', self.pos) + 1
                return lines + 1
            found = [i for i in (self.buf.find(b'\n\\.\n', self.pos),
                                 self.buf.find(b'\n\\.\r\n', self.pos)) if i >= 0]
            if found:
                lines += self.buf.count(b'\n', self.pos, min(found) + 1)
                self.pos = min(found) + 1
                continue
            last = self.buf.rfind(b'\n', self.pos)
            if last >= 0:
                lines += self.buf.count(b'\n', self.pos, last + 1)
                self.pos = last + 1
            if len(self.buf) - self.pos > 4:
                midline = True  # longer than any end marker: data
                continue
            if not self._more():
                if self.pos < len(self.buf):
                    lines += 1
                    self.pos = len(self.buf)
                return lines


class _Statement:
    """What the scan keeps of the statement being read: its first words and a few flags."""

    def __init__(self, line, source):
        self.line = line
        self.source = source
        self.words = []
        self.text = []
        self.on_next = False
        self.has_on = False
        self.on_database = None
        self.copy_from = None
        self.copy_to = False
        self.after_from = False

    def word(self, word):
        upper = word.upper()
        if len(self.words) < 6:
            self.words.append(upper)
            self.text.append(word)
        if self.on_next:
            self.on_next = False
            if upper in _CLUSTER_OBJECTS and self.on_database is None:
                self.on_database = upper
        if upper == 'ON':
            self.has_on = True
            self.on_next = True
        if self.words and self.words[0] == 'COPY':
            if self.after_from and self.copy_from is None:
                self.copy_from = upper
            self.after_from = upper == 'FROM'
            if upper == 'TO':
                self.copy_to = True

    def other(self):
        """A token that is not a word (a string, a number, punctuation)."""
        self.on_next = False
        if self.after_from and self.copy_from is None:
            self.copy_from = '(a file name)'
        self.after_from = False

    def verdict(self):
        """None, or what makes this statement unsafe."""
        words = self.words
        if not words:
            return None
        first = words[0]
        second = words[1] if len(words) > 1 else ''
        if first in ('CREATE', 'ALTER', 'DROP') and second in _CLUSTER_OBJECTS and \
                words[1:3] != ['USER', 'MAPPING']:
            return 'the command %s %s' % (first, second)
        if first == 'ALTER' and second == 'SYSTEM':
            return 'the command ALTER SYSTEM'
        if first in ('COMMENT', 'SECURITY') and self.on_database:
            command = ' '.join(words[:2]) if first == 'SECURITY' else first
            return 'the command %s ON %s' % (command, self.on_database)
        if first in ('GRANT', 'REVOKE'):
            if self.on_database:
                return 'the command %s ... ON %s' % (first, self.on_database)
            if not self.has_on:
                return 'the command %s of a role membership (cluster-wide)' % first
        if first == 'COPY' and not (self.copy_from == 'STDIN' and not self.copy_to):
            return 'a COPY other than COPY ... FROM stdin (server files or programs)'
        if first in ('DO', 'CALL'):
            return 'the command %s, which pg_dump never writes' % first
        if first == 'SET' and second == 'STANDARD_CONFORMING_STRINGS' and \
                not _STD_STRINGS_ON_RE.search(self.source):
            return 'SET standard_conforming_strings other than on'
        return None


def check_plain_script(blocks, label):
    """Scan a plain dump (decoded byte blocks) as psql would read it.

    Returns ``{'statements': n, 'copy_blocks': n, 'meta_commands': [...]}``; raises
    :class:`UnsafeDump` at the first database-level or cluster-wide command, psql meta-command
    (other than pg_dump's \\restrict / \\unrestrict lines) or COPY other than FROM stdin.
    """
    state = 'sql'           # sql, squote, estring, dquote, dollar, block, copy
    tag = None              # the closing tag of a dollar quote; nesting depth of a block comment
    statement = None
    number = 0
    line_done = True        # the previous piece ended a line
    stats = {'statements': 0, 'copy_blocks': 0, 'meta_commands': []}

    def refuse(what, text):
        raise UnsafeDump(label, number, what, text.strip()[:200])

    reader = _ScriptReader(blocks, MAX_SQL_LINE)
    while True:
        if state == 'copy':
            number += reader.skip_copy()
            state = 'sql'
            continue
        item = reader.line()
        if item is None:
            break
        raw, complete = item
        text = raw.decode('utf-8', 'replace')
        if line_done:
            number += 1
        line_done = complete
        if not complete and state == 'sql':
            refuse('an SQL line longer than %d MiB that cannot be checked' % (MAX_SQL_LINE >> 20),
                   text[:80])
        if state == 'sql' and statement is None and text.startswith('\\'):
            if _RESTRICT_RE.match(text.rstrip('\n')):
                stats['meta_commands'].append(text.split()[0])
                continue
        pos = 0
        end = len(text)
        while pos < end:
            if state in ('squote', 'dquote'):
                # A quote closes the string or identifier; a doubled one stands for itself.
                quote = "'" if state == 'squote' else '"'
                close = text.find(quote, pos)
                if close < 0:
                    pos = end
                elif text.startswith(quote * 2, close):
                    pos = close + 2
                else:
                    pos = close + 1
                    state = 'sql'
                continue
            if state == 'estring':
                index = pos
                while index < end and text[index] not in "'\\":
                    index += 1
                if index >= end:
                    pos = end
                elif text[index] == '\\':
                    pos = index + 2
                elif text.startswith("''", index):
                    pos = index + 2
                else:
                    pos = index + 1
                    state = 'sql'
                continue
            if state == 'dollar':
                close = text.find(tag, pos)
                if close < 0:
                    pos = end
                else:
                    pos = close + len(tag)
                    state = 'sql'
                continue
            if state == 'block':
                opens = text.find('/*', pos)
                close = text.find('*/', pos)
                if close < 0 and opens < 0:
                    pos = end
                elif opens >= 0 and (close < 0 or opens < close):
                    tag += 1
                    pos = opens + 2
                else:
                    tag -= 1
                    pos = close + 2
                    if tag == 0:
                        state = 'sql'
                continue
            match = _SQL_TOKEN_RE.match(text, pos)
            kind = match.lastgroup
            token = match.group()
            pos = match.end()
            if kind in ('space', 'comment'):
                continue
            if kind == 'block':
                state, tag = 'block', 1
                continue
            if kind == 'backslash':
                refuse('a psql meta-command', text[pos - 1:])
            if kind == 'semi':
                if statement is not None:
                    stats['statements'] += 1
                    verdict = statement.verdict()
                    if verdict:
                        number = statement.line if statement.line else number
                        refuse(verdict, statement.source)
                    if statement.words[:1] == ['COPY']:
                        if text[pos:].strip():
                            refuse('text after a COPY ... FROM stdin statement on its line',
                                   text[pos:])
                        state = 'copy'
                        stats['copy_blocks'] += 1
                        statement = None
                        break
                statement = None
                continue
            if statement is None:
                statement = _Statement(number, text)
            if kind == 'word':
                statement.word(token)
                continue
            statement.other()
            if kind == 'squote':
                state = 'squote'
            elif kind == 'estring':
                state = 'estring'
            elif kind == 'dquote':
                state = 'dquote'
            elif kind == 'dollar':
                state, tag = 'dollar', token
    if statement is not None:
        verdict = statement.verdict()
        if verdict:
            number = statement.line
            refuse(verdict, statement.source)
    return stats


def plain_blocks(path, gzipped, block_size=1 << 20):
    """The decoded content of a plain dump, block by block (streaming, for a .gz too)."""
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS) if gzipped else None
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(block_size), b''):
            if decoder is None:
                yield block
                continue
            out = decoder.decompress(block)
            while decoder.eof and decoder.unused_data:
                rest = decoder.unused_data
                decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
                out += decoder.decompress(rest)
            yield out
        if decoder is not None:
            yield decoder.flush()


def check_plain_dump(path, gzipped):
    """:func:`check_plain_script` over a .sql or .sql.gz file (zlib.error when damaged)."""
    return check_plain_script(plain_blocks(path, gzipped), path)


# TOC entries that pg_restore runs only with --create, which a test restore never uses
_CREATE_ONLY = ('DATABASE', 'DATABASE PROPERTIES')


def read_archive_toc(path, fmt):
    """The header and table of contents of a custom, directory or tar archive (no data read)."""
    archive = Archive()
    if fmt == 'directory':
        toc_path = os.path.join(path, 'toc.dat')
        with OnePassFile(toc_path) as reader:
            cursor = Cursor(reader.blocks(), toc_path)
            read_header(cursor, archive, (FORMAT_DIRECTORY, FORMAT_TAR))
            read_toc(cursor, archive, os.path.getsize(toc_path))
        return archive
    if fmt == 'custom':
        with OnePassFile(path) as reader:
            cursor = Cursor(reader.blocks(), path)
            read_header(cursor, archive, FORMAT_CUSTOM)
            read_toc(cursor, archive, os.path.getsize(path))
        return archive
    try:
        with tarfile.open(path, mode='r|') as tar:
            for member in tar:
                if member.name != 'toc.dat' or not member.isfile():
                    continue
                handle = tar.extractfile(member)
                cursor = Cursor(iter(lambda: handle.read(BLOCK_SIZE), b''), '%s:toc.dat' % path)
                read_header(cursor, archive, FORMAT_TAR)
                read_toc(cursor, archive, os.path.getsize(path))
                return archive
    except tarfile.TarError as exc:
        raise BackupError('%s: not a readable tar archive (%s)' % (path, exc))
    raise BackupError('%s: no toc.dat member: not a pg_dump tar archive' % path)


def check_archive_toc(path, fmt):
    """:func:`check_plain_script` over the SQL of every TOC entry pg_restore runs without
    --create: a crafted archive can hold any SQL in an entry's definition, as a plain dump can."""
    archive = read_archive_toc(path, fmt)
    checked = 0
    for entry in archive.entries:
        if entry.desc in _CREATE_ONLY or (
                entry.desc in ('ACL', 'COMMENT', 'SECURITY LABEL') and
                (entry.tag or '').startswith('DATABASE ')):
            continue
        for text in (entry.defn, entry.copy_stmt):
            if text:
                check_plain_script([text.encode('utf-8')], '%s: the table of contents entry %d '
                                   '(%s)' % (path, entry.dump_id, entry.label()))
                checked += 1
    return {'database': archive.database, 'entries': len(archive.entries), 'checked': checked}
