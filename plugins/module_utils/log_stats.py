# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The engine of the log_stats module: streaming log statistics in bounded memory.

Memory does not grow with the size of a log:

- files are read in chunks of :data:`CHUNK` bytes; a line longer than :data:`MAX_LINE` is
  counted as unparsed and skipped;
- latency percentiles come from :class:`LatencySketch`, a log-bucket histogram (the idea of
  DDSketch) whose quantiles are within a relative error ``alpha`` of an exact rank's value;
- the top clients, paths and error messages come from :class:`TopCounter`, a Misra-Gries summary
  with a fixed number of counters, whose counts are at most ``N / (capacity + 1)`` below the truth.

Access logs are parsed a chunk at a time by one compiled bytes regex (``findall`` runs in C); the
per-line work left in Python is counting, done with ``collections.Counter`` over columns, so the
sketch and the summaries see each distinct value of a chunk once.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import calendar
import collections
import errno
import gzip
import hashlib
import heapq
import itertools
import json
import math
import os
import re
import stat
import tempfile
import time
import zlib

from ansible_collections.fleetops.runbook.plugins.module_utils.regular_file import (
    FileRefused,
    open_regular,
    read_regular,
)

CHUNK = 4 * 1024 * 1024
MAX_LINE = 1024 * 1024
# Bytes at the head of a file whose hash recognises it after rotation (an inode can be reused, a
# compressed copy has a new one).
HEAD_BYTES = 1024
STATE_SCHEMA = 'fleetops.runbook.log_stats/1'
STATE_LIMIT = 16 * 1024 * 1024
MESSAGE_CHARS = 200

LATENCY_UNITS = {'s': 1.0, 'ms': 1e-3, 'us': 1e-6}


class LogStatsError(ValueError):
    """Bad input or a file that cannot be used; ``msg`` names the parameter."""

    def __init__(self, msg):
        super(LogStatsError, self).__init__(msg)
        self.msg = msg


# ---------------------------------------------------------------------------------------------
# Sketches


class LatencySketch:
    """Quantiles of positive values within a relative error ``alpha``, in bounded memory.

    A value x > ``min_value`` falls in bucket ``k = ceil(log(x) / log(gamma))`` with
    ``gamma = (1 + alpha) / (1 - alpha)``: every value of bucket k lies in (gamma^(k-1), gamma^k],
    and the bucket's representative ``2 gamma^k / (gamma + 1)`` is within ``alpha`` of each of them
    relatively. The quantile q is the representative of the bucket holding the value of rank
    ``floor(q (n - 1))`` of the sorted values, so it is within ``alpha`` of that exact value.
    Values at or below ``min_value`` (1 microsecond) are counted as zero; values above
    ``max_value`` are clamped into the top bucket (the exact maximum is kept apart). With the
    defaults there are at most about 1,400 buckets, whatever the number of values.
    """

    def __init__(self, alpha=0.01, min_value=1e-6, max_value=1e6):
        if not 0 < alpha < 1:
            raise ValueError('alpha must be between 0 and 1')
        self.alpha = alpha
        self.gamma = (1 + alpha) / (1 - alpha)
        self._log_gamma = math.log(self.gamma)
        self.min_value = min_value
        self._max_key = self._key(max_value)
        self.buckets = {}
        self.zeros = 0
        self.count = 0
        self.max = None
        self.min = None
        self.total = 0.0

    def _key(self, value):
        return int(math.ceil(math.log(value) / self._log_gamma))

    def add(self, value, count=1):
        if count <= 0 or not math.isfinite(value) or value < 0:
            return
        self.count += count
        self.total += value * count
        if self.max is None or value > self.max:
            self.max = value
        if self.min is None or value < self.min:
            self.min = value
        if value <= self.min_value:
            self.zeros += count
            return
        key = min(self._key(value), self._max_key)
        self.buckets[key] = self.buckets.get(key, 0) + count

    def merge(self, other):
        for key, count in other.buckets.items():
            self.buckets[key] = self.buckets.get(key, 0) + count
        self.zeros += other.zeros
        self.count += other.count
        self.total += other.total
        for name, pick in (('max', max), ('min', min)):
            theirs = getattr(other, name)
            if theirs is not None:
                mine = getattr(self, name)
                setattr(self, name, theirs if mine is None else pick(mine, theirs))

    def quantile(self, q):
        """The value at quantile ``q`` (0..1), or None when no value was added."""
        if self.count == 0:
            return None
        rank = int(math.floor(q * (self.count - 1)))
        # The exact extremes are kept.
        if rank >= self.count - 1:
            return self.max
        if rank == 0:
            return self.min if self.min > self.min_value else 0.0
        seen = self.zeros
        if rank < seen:
            return 0.0
        for key in sorted(self.buckets):
            seen += self.buckets[key]
            if rank < seen:
                value = 2 * self.gamma ** key / (self.gamma + 1)
                # The exact extremes are known; a representative never lies outside them.
                return min(max(value, self.min), self.max)
        return self.max

    def __len__(self):
        return len(self.buckets)


class TopCounter:
    """The most frequent values of a stream with ``capacity`` counters (Misra-Gries summary).

    Counts are added in batches (a chunk's exact counts, :meth:`update`); when more than
    ``capacity`` values are held, the (capacity+1)-th largest count is subtracted from every
    counter and those left at zero or below are dropped. A reported count is never above the true
    count and at most ``total / (capacity + 1)`` below it (``max_error``); every value whose true
    count exceeds that bound is held.
    """

    def __init__(self, capacity=1000):
        if capacity < 1:
            raise ValueError('capacity must be at least 1')
        self.capacity = capacity
        self.counts = {}
        self.total = 0
        self.decremented = 0

    def update(self, counts):
        held = self.counts
        for value, count in counts.items():
            if count > 0:
                held[value] = held.get(value, 0) + count
                self.total += count
        if len(held) > self.capacity:
            cut = heapq.nlargest(self.capacity + 1, held.values())[-1]
            self.decremented += cut
            self.counts = dict((v, c - cut) for v, c in held.items() if c > cut)

    @property
    def max_error(self):
        return self.decremented

    def top(self, n):
        """[(value, count)] of the n largest counts, ties by value."""
        return sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))[:n]


# ---------------------------------------------------------------------------------------------
# Timestamps

_MONTHS = dict((name.encode(), number) for number, name in enumerate(
    ('Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'), 1))
_CLF_TIME = re.compile(rb'^(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?: ([-+])(\d{2})(\d{2}))?$')
_ISO_TIME = re.compile(r'^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,]\d+)?'
                       r'(Z|[-+]\d{2}:?\d{2})?')


def _epoch(year, month, day, hour, minute, second):
    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1] and hour < 24
            and minute < 60 and second <= 60):
        return None
    return calendar.timegm((year, month, day, hour, minute, second))


def parse_clf_time(text):
    """Epoch seconds of a combined-log time ``30/Nov/2026:00:37:43 +0000`` (bytes), or None."""
    match = _CLF_TIME.match(text)
    if not match or match.group(2) not in _MONTHS:
        return None
    day, _mon, year, hour, minute, second = match.group(1, 2, 3, 4, 5, 6)
    epoch = _epoch(int(year), _MONTHS[match.group(2)], int(day), int(hour), int(minute), int(second))
    if epoch is None:
        return None
    if match.group(7):
        offset = int(match.group(8)) * 3600 + int(match.group(9)) * 60
        epoch -= offset if match.group(7) == b'+' else -offset
    return epoch


def parse_iso_time(text):
    """Epoch seconds of an ISO 8601 time at the start of ``text`` (str); no zone means UTC."""
    match = _ISO_TIME.match(text)
    if not match:
        return None
    epoch = _epoch(*(int(part) for part in match.group(1, 2, 3, 4, 5, 6)))
    if epoch is None:
        return None
    zone = match.group(7)
    if zone and zone != 'Z':
        digits = zone[1:].replace(':', '')
        offset = int(digits[:2]) * 3600 + int(digits[2:]) * 60
        epoch -= offset if zone[0] == '+' else -offset
    return epoch


def parse_time_value(value):
    """Epoch seconds of a JSON time field: a number (epoch seconds, or milliseconds when it is
    larger than 1e11) or an ISO 8601 string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            value = float(value)
        except OverflowError:
            return None
        if not math.isfinite(value):
            return None
        return value / 1000.0 if value > 1e11 else value
    if isinstance(value, str):
        return parse_iso_time(value.strip())
    return None


# ---------------------------------------------------------------------------------------------
# Parsers. Each consumes complete lines (bytes, a chunk at a time) into Stats.


class Stats:
    """What one run measured over every file read."""

    def __init__(self, alpha=0.01, capacity=1000):
        self.lines = 0
        self.unparsed = 0
        self.outside = 0
        self.requests = 0
        self.status_4xx = 0
        self.status_5xx = 0
        self.errors = 0
        self.latency = LatencySketch(alpha)
        self.clients = TopCounter(capacity)
        self.paths = TopCounter(capacity)
        self.error_messages = TopCounter(capacity)


# Combined format: client, ident, user, [time], "request", status, size, then optionally
# "referer" "agent" and anything else; $request_time is the last field when present.
_ACCESS_RE = re.compile(
    rb'^(\S+) \S+ \S+ \[([^\]\n]+)\] "(?:[A-Z]+ )?([^ "?\n]*)[^"\n]*" (\d{3}) \S+(?: "[^"\n]*" "[^"\n]*")?([^\n]*)$', re.M)
_LATENCY_RE = re.compile(rb'\s(\d+(?:\.\d+)?)\s*$')


class AccessParser:
    """nginx/Apache combined format, with ``$request_time`` (seconds) as the last field."""

    def __init__(self, stats, window_start=None):
        self.stats = stats
        self.window_start = window_start
        self._times = {}
        self._latencies = {}

    def _in_window(self, text):
        known = self._times.get(text)
        if known is None:
            epoch = parse_clf_time(text)
            known = epoch is not None and epoch >= self.window_start
            if len(self._times) > 100000:
                self._times.clear()
            self._times[text] = known
        return known

    def _latency(self, rest):
        value = self._latencies.get(rest, False)
        if value is False:
            match = _LATENCY_RE.search(rest)
            value = float(match.group(1)) if match else None
            if len(self._latencies) > 100000:
                self._latencies.clear()
            self._latencies[rest] = value
        return value

    def feed(self, data):
        stats = self.stats
        lines = data.count(b'\n')
        rows = _ACCESS_RE.findall(data)
        stats.lines += lines
        stats.unparsed += lines - len(rows)
        if self.window_start is not None:
            kept = [row for row in rows if self._in_window(row[1])]
            stats.outside += len(rows) - len(kept)
            rows = kept
        if not rows:
            return
        clients, _times, paths, statuses, rests = zip(*rows)
        stats.requests += len(rows)
        for status, count in collections.Counter(statuses).items():
            if status[:1] == b'5':
                stats.status_5xx += count
            elif status[:1] == b'4':
                stats.status_4xx += count
        latency = stats.latency
        for rest, count in collections.Counter(rests).items():
            value = self._latency(rest)
            if value is not None:
                latency.add(value, count)
        stats.clients.update(collections.Counter(clients))
        stats.paths.update(collections.Counter(paths))
        # Counted in C: the (status, path) pairs of the 5xx responses.
        failed = collections.Counter(itertools.compress(zip(statuses, paths), map(bytes.startswith, statuses, itertools.repeat(b'5'))))
        if failed:
            stats.error_messages.update(dict((b'%s %s' % pair, count) for pair, count in failed.items()))


def _field(record, name):
    """A possibly dotted field of a JSON object, or None."""
    if name in record:
        return record[name]
    value = record
    for part in name.split('.'):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _short(text):
    text = text if isinstance(text, str) else json.dumps(text, sort_keys=True)
    text = ' '.join(text.split())
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS - 3] + '...'


class ErrorMatcher:
    """Whether a line or a JSON record is an error: a regex on the text, else a level."""

    def __init__(self, level, pattern):
        self.level = level.upper() if level else None
        self.pattern = re.compile(pattern) if pattern else None
        self.level_re = re.compile(r'\b%s\b' % re.escape(level)) if level else None

    def line(self, text):
        if self.pattern is not None:
            return self.pattern.search(text) is not None
        return self.level_re is not None and self.level_re.search(text) is not None

    def record(self, text, level):
        if self.pattern is not None:
            return self.pattern.search(text) is not None
        return self.level is not None and isinstance(level, str) and level.strip().upper() == self.level


class JsonParser:
    """JSON lines with configurable field names; a line that is not a JSON object is unparsed."""

    def __init__(self, stats, fields, latency_unit, matcher, window_start=None):
        self.stats = stats
        self.fields = fields
        self.scale = LATENCY_UNITS[latency_unit]
        self.matcher = matcher
        self.window_start = window_start

    def feed(self, data):
        stats = self.stats
        fields = self.fields
        clients = collections.Counter()
        paths = collections.Counter()
        messages = collections.Counter()
        latencies = collections.Counter()
        for raw in data.splitlines():
            if not raw.strip():
                continue
            stats.lines += 1
            try:
                text = raw.decode('utf-8', 'replace')
                record = json.loads(text)
            except ValueError:
                stats.unparsed += 1
                continue
            if not isinstance(record, dict):
                stats.unparsed += 1
                continue
            if self.window_start is not None:
                when = parse_time_value(_field(record, fields['time']))
                if when is None or when < self.window_start:
                    stats.outside += 1
                    continue
            status = _field(record, fields['status'])
            if isinstance(status, str) and status.strip().isdigit():
                status = int(status.strip())
            if isinstance(status, int) and not isinstance(status, bool):
                stats.requests += 1
                if 500 <= status <= 599:
                    stats.status_5xx += 1
                elif 400 <= status <= 499:
                    stats.status_4xx += 1
            latency = _field(record, fields['latency'])
            if isinstance(latency, (str, int, float)) and not isinstance(latency, bool):
                try:
                    latency = float(latency) * self.scale
                except (ValueError, OverflowError):
                    latency = None
                if latency is not None and math.isfinite(latency) and latency >= 0:
                    latencies[latency] += 1
            client = _field(record, fields['client'])
            if client is not None:
                clients[_short(client)] += 1
            path = _field(record, fields['path'])
            if path is not None:
                paths[_short(path).split('?', 1)[0]] += 1
            if self.matcher.record(text, _field(record, fields['level'])):
                stats.errors += 1
                message = _field(record, fields['message'])
                messages[_short(message if message is not None else text)] += 1
        for value, count in latencies.items():
            stats.latency.add(value, count)
        stats.clients.update(clients)
        stats.paths.update(paths)
        stats.error_messages.update(messages)


_PLAIN_PREFIX = re.compile(r'^\[?\d{4}-\d{2}-\d{2}[T ][0-9:.,]+(?:Z|[-+]\d{2}:?\d{2})?\]?\s*')


class PlainParser:
    """Application logs: lines whose level or pattern marks an error. A line starting with an
    ISO 8601 time sets the time of the lines after it (a traceback's lines follow its header)."""

    def __init__(self, stats, matcher, window_start=None):
        self.stats = stats
        self.matcher = matcher
        self.window_start = window_start
        self.current = None

    def feed(self, data):
        stats = self.stats
        messages = collections.Counter()
        for raw in data.splitlines():
            stats.lines += 1
            text = raw.decode('utf-8', 'replace')
            if self.window_start is not None:
                when = parse_iso_time(text[:40].lstrip('['))
                if when is not None:
                    self.current = when
                if self.current is None or self.current < self.window_start:
                    stats.outside += 1
                    continue
            if self.matcher.line(text):
                stats.errors += 1
                messages[_short(_PLAIN_PREFIX.sub('', text))] += 1
        stats.error_messages.update(messages)


# ---------------------------------------------------------------------------------------------
# Files, rotation and the state


def fingerprint(data):
    return hashlib.sha256(data).hexdigest()


def _read_chunks(handle, limit):
    """Complete lines of ``handle`` up to ``limit`` bytes, a chunk at a time: yields (lines,
    bytes consumed). A line longer than MAX_LINE is dropped (yielded as b'' with its length and
    counted by the caller). The bytes after the last newline are not consumed when ``limit`` is
    the end of a file still being written (``partial=False`` reads them as a last line)."""
    carry = b''
    remaining = limit
    while remaining is None or remaining > 0:
        want = CHUNK if remaining is None else min(CHUNK, remaining)
        block = handle.read(want)
        if not block:
            break
        if remaining is not None:
            remaining -= len(block)
        data = carry + block if carry else block
        cut = data.rfind(b'\n')
        if cut < 0:
            if len(data) > MAX_LINE:
                carry = b''
                yield None, len(data)
            else:
                carry = data
            continue
        carry = data[cut + 1:]
        yield data[:cut + 1], cut + 1
    if carry:
        yield carry, -len(carry)


def _open_stream(path, param, compressed):
    fd, st = open_regular(path, param)
    handle = os.fdopen(fd, 'rb')
    if compressed:
        return gzip.GzipFile(fileobj=handle, mode='rb'), st, handle
    return handle, st, handle


def _head(path, param, compressed):
    handle, st, raw = _open_stream(path, param, compressed)
    try:
        with raw:
            return handle.read(HEAD_BYTES), st
    except (OSError, EOFError, zlib.error):
        return None, st


class FileReader:
    """Reads one log file (plain or gzip) from an offset into a parser."""

    def __init__(self, parser, stats, param):
        self.parser = parser
        self.stats = stats
        self.param = param

    def read(self, path, offset, to_end, compressed=False, limit=None):
        """Feed the lines of ``path`` after ``offset``. ``to_end``: the file is finished (rotated),
        its last line counts even without a newline. Returns (new offset, bytes read)."""
        handle, st, raw = _open_stream(path, self.param, compressed)
        with raw:
            if compressed:
                skip = offset
                while skip > 0:
                    got = len(handle.read(min(CHUNK, skip)))
                    if not got:
                        break
                    skip -= got
                size = None
            else:
                handle.seek(offset)
                size = st.st_size - offset if limit is None else limit
            position = offset
            try:
                for lines, used in _read_chunks(handle, size):
                    if used < 0:
                        if to_end:
                            self.parser.feed(lines + b'\n')
                            position += -used
                        break
                    position += used
                    if lines is None:
                        self.stats.lines += 1
                        self.stats.unparsed += 1
                        continue
                    self.parser.feed(lines)
            except (OSError, EOFError, zlib.error) as exc:
                if not compressed:
                    raise
                raise LogStatsError('%s: %s is not a readable gzip file: %s' % (self.param, path, exc))
        return position, position - offset


def rotated_candidates(path):
    """Where logrotate puts the previous file: ``.1`` (delaycompress) or ``.1.gz``, and the
    dateext names are left out (their date is not known)."""
    return [(path + '.1', False), (path + '.1.gz', True), (path + '.gz', True)]


def find_rotated(path, saved, param):
    """The rotated file that holds the saved position's file: its inode when it kept it, else the
    hash of its head. Returns (path, compressed) or None."""
    for candidate, compressed in rotated_candidates(path):
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if not stat.S_ISREG(st.st_mode):
            raise FileRefused('%s: %s is not a regular file' % (param, candidate))
        if not compressed and st.st_ino == saved.get('inode') and st.st_dev == saved.get('device'):
            return candidate, compressed
        head, _st = _head(candidate, param, compressed)
        if head is not None and saved.get('head_length') and len(head) >= saved['head_length'] and \
                fingerprint(head[:saved['head_length']]) == saved.get('head'):
            return candidate, compressed
    return None


class StateFile:
    """The offsets of the files read, kept in a JSON file this module creates and recognises."""

    def __init__(self, path, param='state_file'):
        self.path = path
        self.param = param
        self.data = {'schema': STATE_SCHEMA, 'files': {}}
        self.exists = False

    def load(self):
        try:
            raw, _st = read_regular(self.path, self.param, STATE_LIMIT, follow_symlinks=False)
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return self
            raise LogStatsError('%s: cannot read %s: %s' % (self.param, self.path, exc.strerror))
        try:
            data = json.loads(raw.decode('utf-8'))
        except ValueError:
            data = None
        if not isinstance(data, dict) or data.get('schema') != STATE_SCHEMA or not isinstance(data.get('files'), dict):
            raise LogStatsError('%s: %s exists and is not a log_stats state file (no schema %r); refused, '
                                'it is left as it is' % (self.param, self.path, STATE_SCHEMA))
        self.data = data
        self.exists = True
        return self

    def get(self, key):
        entry = self.data['files'].get(key)
        return entry if isinstance(entry, dict) else None

    def set(self, key, entry):
        self.data['files'][key] = entry

    def save(self):
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            raise LogStatsError('%s: directory %s does not exist' % (self.param, directory))
        fd, tmp = tempfile.mkstemp(prefix='.log_stats.', dir=directory)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, 'w') as handle:
                json.dump(self.data, handle, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.rename(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise


def collect(path, parser, stats, state=None, window_start=None, param='path', now=None):
    """Read ``path`` for one run. With ``state`` (a loaded StateFile) the window is since the last
    run; else the lines whose time is after ``window_start`` in the file and its rotated
    predecessor. Returns a dict describing what was read (files, rotation, notes)."""
    key = os.path.abspath(path)
    reader = FileReader(parser, stats, param)
    info = {'path': key, 'files': [], 'notes': []}
    try:
        fd, st = open_regular(path, param)
    except OSError as exc:
        raise LogStatsError('%s: cannot open %s: %s' % (param, path, exc.strerror))
    os.close(fd)
    if state is None:
        for candidate, compressed in rotated_candidates(path)[:2]:
            try:
                cst = os.stat(candidate)
            except OSError:
                continue
            if cst.st_mtime >= window_start:
                _end, size = reader.read(candidate, 0, True, compressed)
                info['files'].append({'path': candidate, 'from': 0, 'bytes': size, 'rotated': True})
                break
        end, size = reader.read(path, 0, False)
        info['files'].append({'path': key, 'from': 0, 'bytes': size, 'rotated': False})
        return info
    saved = state.get(key)
    head, _hst = _head(path, param, False)
    head = head or b''
    start = 0
    if saved is None:
        info['notes'].append('first run: the whole file is read')
    else:
        same = st.st_ino == saved.get('inode') and st.st_dev == saved.get('device')
        length = saved.get('head_length', 0)
        same_head = length <= len(head) and fingerprint(head[:length]) == saved.get('head')
        if same and same_head and st.st_size >= saved.get('offset', 0):
            start = saved.get('offset', 0)
        else:
            # Renamed away (a new inode), or copied and truncated in place (copytruncate): the
            # previous content is in the rotated file, found by inode or by the hash of its head.
            rotated = find_rotated(path, saved, param)
            if rotated is not None:
                candidate, compressed = rotated
                _end, size = reader.read(candidate, saved.get('offset', 0), True, compressed)
                info['files'].append({'path': candidate, 'from': saved.get('offset', 0), 'bytes': size, 'rotated': True})
            elif same:
                info['notes'].append('the file was truncated or rewritten since the last run and no rotated copy '
                                     '(.1, .1.gz) was found: read from the start; lines written before the '
                                     'truncation are not counted')
                info['missed_rotation'] = True
            else:
                info['notes'].append('the file was rotated and its previous file (.1, .1.gz) was not found: '
                                     'the lines written between the last run and the rotation are not counted')
                info['missed_rotation'] = True
    end, size = reader.read(path, start, False)
    info['files'].append({'path': key, 'from': start, 'bytes': size, 'rotated': False})
    state.set(key, {'inode': st.st_ino, 'device': st.st_dev, 'offset': end,
                    'head': fingerprint(head), 'head_length': len(head),
                    'updated': int(now if now is not None else time.time())})
    return info
