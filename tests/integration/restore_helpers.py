# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live databases and real dumps of them for the restore-safety tests of backup_verify and
db_restore: a restore must never reach beyond the database it restores into."""

from __future__ import annotations

import gzip
import os
import subprocess
from pathlib import Path

FOOTER = '-- PostgreSQL database dump complete'


def make_live(cluster, name, rows=100):
    """A database with rows, some of them starting with a backslash (COPY writes them as \\\\...)."""
    cluster.execute('DROP DATABASE IF EXISTS %s WITH (FORCE)' % name)
    cluster.execute('CREATE DATABASE %s' % name)
    cluster.execute('CREATE TABLE items (id int PRIMARY KEY, note text)', dbname=name)
    cluster.execute("INSERT INTO items SELECT g, CASE WHEN g %% 10 = 0 THEN E'\\\\! touch /tmp/x' "
                    "ELSE 'n' || g END FROM generate_series(1, %d) g" % rows, dbname=name)
    return name


def add_rows(cluster, name, first, last):
    cluster.execute("INSERT INTO items SELECT g, 'newer ' || g FROM generate_series(%d, %d) g"
                    % (first, last), dbname=name)


def rows(cluster, name):
    return cluster.execute('SELECT count(*), max(id) FROM items', dbname=name)[0]


def pg_dump(cluster, database, target, *options):
    """The real pg_dump; ``target`` ending in .gz is gzip-compressed like a nightly .sql.gz."""
    proc = subprocess.run(['pg_dump', *options, database], env=dict(os.environ, **cluster.env()),
                          check=True, capture_output=True)
    target = Path(target)
    if target.name.endswith('.gz'):
        with gzip.open(target, 'wb') as out:
            out.write(proc.stdout)
    else:
        target.write_bytes(proc.stdout)
    return target


def inject(source, target, text, where='footer'):
    """A copy of a plain dump with ``text`` inserted before the dump-complete footer, or right
    after the end marker of the first COPY data block (``where='after_copy'``)."""
    lines = Path(source).read_text().splitlines(keepends=True)
    if where == 'footer':
        index = max(i for i, line in enumerate(lines) if line.startswith(FOOTER)) - 1
    else:
        index = lines.index('\\.\n') + 1
    lines[index:index] = [text if text.endswith('\n') else text + '\n']
    Path(target).write_text(''.join(lines))
    return Path(target)


def scratch_databases(cluster):
    return sorted(r[0] for r in cluster.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE 'fleetops_verify_%' "
        "OR datname LIKE '%\\_restoring\\_%'"))


def tamper_toc(toc_path, starts_with, prefix):
    """Put ``prefix`` (SQL) before the definition of the table of contents entry whose definition
    starts with ``starts_with``, in the toc.dat of a directory-format dump (its entries hold no
    file offsets, so the rest stays valid)."""
    data = Path(toc_path).read_bytes()
    int_size = data[8]
    start = data.index(starts_with.encode())
    head = start - 1 - int_size
    length = int.from_bytes(data[head + 1:start], 'little')
    text = prefix.encode() + data[start:start + length]
    encoded = b'\0' + len(text).to_bytes(int_size, 'little') + text
    Path(toc_path).write_bytes(data[:head] + encoded + data[start + length:])
