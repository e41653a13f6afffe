#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: backup_verify
short_description: Prove that PostgreSQL backups are complete, intact, recent and restorable
version_added: 0.1.0
description:
  - Checks PostgreSQL logical dumps in every C(pg_dump) format (custom C(-Fc), directory C(-Fd),
    tar C(-Ft), plain C(.sql) and C(.sql.gz)) and physical base backups that carry a
    C(backup_manifest), and judges them in the status model every check of this collection speaks.
  - "Custom, directory and tar archives are read by this module itself: the header, the table of
    contents (what C(pg_restore --list) shows) and every data block, decompressed, which is what
    C(pg_restore -f /dev/null) reads. It happens in the same single pass over the file as the
    SHA-256 checksum: a thread reads and hashes while the module decodes, so a backup is read from
    disk once. pg_restore is needed only for O(restore_check)."
  - "Table data in COPY form is also counted row by row, and the counts are compared with the JSON
    manifest written at backup time (C(<backup>.manifest.json), as the
    R(fleetops.runbook.postgres_backup,ansible_collections.fleetops.runbook.postgres_backup_role) role writes it), without restoring anything."
  - Plain dumps must end with the C(-- PostgreSQL database dump complete) footer (and the closing
    C(\unrestrict) line of newer pg_dump); C(.gz) files must be complete gzip streams whose CRC
    matches.
  - Base backups are checked with C(pg_verifybackup) (checksums of every file, and the WAL when the
    backup holds it).
  - Never modifies or deletes a backup. The only file it writes is a missing checksum sidecar, and
    only when O(write_checksum=true) and the backup passed every other check.
requirements:
  - pg_verifybackup on the managed host, for base backups.
  - psql and pg_restore on the managed host, for O(restore_check). No Python database driver is
    needed.
  - The Python packages lz4 or zstandard, only to decode archives written with
    C(--compress=lz4) or C(--compress=zstd) (PostgreSQL 16 and later); without them the data of
    such archives is reported as V(UNKNOWN), with the reason.
extends_documentation_fragment:
  - fleetops.runbook.attributes
  - fleetops.runbook.postgres
  - fleetops.runbook.postgres.container
  - fleetops.runbook.status
attributes:
  check_mode:
    support: full
    details:
      - With O(write_checksum=true), reports the sidecar it would write without writing it.
      - O(restore_check) is a measurement and runs in check mode as well; it touches nothing but
        its scratch database, which is dropped, so nothing remains of it. Leave O(restore_check)
        off for a run that must not load the server.
  diff_mode:
    support: full
    details: Shows the content of a sidecar that is written.
options:
  path:
    description:
      - A backup file, a directory dump, a base backup directory, a directory holding backups, or
        a glob (V(/var/backups/postgresql/*.dump)).
      - In a directory of backups every entry is a candidate except hidden files, checksum
        sidecars, manifests and C(.json), C(.tmp), C(.partial), C(.lock), C(.log) files.
      - Backups whose names differ only in a timestamp form a series (one per database); age and
        size are judged per series.
    type: str
    required: true
  latest:
    description:
      - How many of the newest backups of each series to check. V(0) checks every one.
    type: int
    default: 1
  format:
    description:
      - The backup format. V(auto) recognises it from the content, never from the name.
    type: str
    default: auto
    choices: [auto, custom, directory, tar, plain, plain_gz, basebackup]
  checks:
    description:
      - Which checks to run.
      - V(exists) existence, readability and a non-zero size; V(age) the age of the newest good
        backup (the RPO); V(size_change) the size against the previous backup of the series;
        V(checksum) SHA-256 against the C(<backup>.sha256) sidecar; V(gzip) gzip stream
        integrity; V(toc) the table of contents; V(data) a full read of every data block;
        V(footer) the dump-complete footer of plain dumps; V(manifest) agreement with the JSON
        manifest; V(database) the database named in the archive against the expected one (see
        O(database)); V(basebackup) pg_verifybackup.
      - Every backup is read once whatever is selected; deselecting a check only drops it from the
        report.
    type: list
    elements: str
    choices: [exists, age, size_change, checksum, gzip, toc, data, footer, manifest, database, basebackup]
    default: [exists, age, size_change, checksum, gzip, toc, data, footer, manifest, database, basebackup]
  max_age:
    description:
      - The recovery point objective. The newest good backup of a series is V(CRITICAL) when it is
        older. Seconds, or a number with V(s), V(m), V(h), V(d) or V(w).
      - Shorthand for the critical range of the V(age) threshold; O(thresholds) can still set a
        warning range.
    type: str
    default: 1h
  thresholds:
    description:
      - Warning and critical ranges per check, merged over the defaults.
      - V(age) in seconds (default critical V(~:3600) from O(max_age)); V(size_change) in percent
        against the previous backup (default warning V(-20:), a shrink of more than 20%);
        V(restore_duration) in seconds (default critical V(~:14400), the four-hour RTO).
    type: dict
    default: {}
  database:
    description:
      - The database the backups must be dumps of. The name recorded in a custom, directory or
        tar archive's header is compared with it, and with the C(database) of the backup's
        manifest; a difference is V(CRITICAL) with both names (a dump of another database under
        the expected file name).
      - Without it, a file named like the R(fleetops.runbook.postgres_backup,ansible_collections.fleetops.runbook.postgres_backup_role) role names its dumps,
        C(<database>_<YYYYmmddTHHMMSSZ>.<ext>), is expected to hold C(<database>).
      - Plain dumps do not record the database they were dumped from; for them the check says so
        and compares nothing.
    type: str
  checksum_missing:
    description:
      - The status of a backup that has no C(.sha256) sidecar.
    type: str
    default: warning
    choices: [ok, warning, critical]
  write_checksum:
    description:
      - Write a missing C(<backup>.sha256) sidecar (sha256sum format, mode 0600) for backups that
        pass every other check. An existing sidecar is never overwritten, so a mismatch stays
        visible. For a directory dump the sidecar lists every file as C(<dir>/<file>), checkable
        with C(sha256sum -c) from the parent directory.
    type: bool
    default: false
  restore_check:
    description:
      - Restore each checked backup that passed the other checks into a scratch database created
        for it, count the rows of every table and compare them with the manifest (or with the
        counts read from the dump). The scratch database is dropped afterwards, also after an
        error or a timeout; when it cannot be dropped (the server does not answer), the V(CRITICAL)
        check C(restore_cleanup) names it and RV(scratch_databases_left) lists it.
      - "A plain dump (C(.sql), C(.sql.gz)) is read first, the way psql reads it, and refused
        (V(CRITICAL), nothing created) when it holds a database-level or cluster-wide command
        (C(CREATE), C(ALTER) or C(DROP DATABASE), roles, tablespaces, C(ALTER SYSTEM)), a psql
        meta-command other than pg_dump's C(\\restrict)/C(\\unrestrict) lines (C(\\connect),
        C(\\!), C(\\o), ...), or a C(COPY) other than C(COPY ... FROM stdin): what C(pg_dump -C)
        or C(-C -c) writes would otherwise replace the live database. The message gives the line and
        the command. Dumps made with C(pg_dump -Fc), or plain C(pg_dump) without C(-C)/C(-c), can be
        tested. A plain dump that passes runs with C(psql -X -v ON_ERROR_STOP=1
        --single-transaction). Of a custom, directory or tar archive, the SQL of every table of
        contents entry that C(pg_restore) runs (without C(--create) it never runs the database
        entries) is checked the same way."
      - Every client program runs under a client-side deadline (see O(restore_timeout) and
        O(statement_timeout)); at the deadline it is killed with everything it started.
      - "The restore duration is returned and judged against the V(restore_duration) threshold:
        it is a recovery time measurement."
      - Connects with the connection options (O(login_host), O(login_port), O(login_user),
        O(login_password), O(login_db), O(ssl_mode), O(ca_cert), O(connect_timeout)), which reach
        C(psql) and C(pg_restore) as libpq environment variables, never on their command lines.
      - Needs a server named explicitly, by O(login_host), O(login_unix_socket) or E(PGHOST), so a
        test restore never lands on a server by default.
    type: bool
    default: false
  restore_jobs:
    description:
      - Parallel jobs for pg_restore (custom and directory archives).
    type: int
    default: 1
  restore_timeout:
    description:
      - Seconds after which a test restore, or the row counts after it, are abandoned (the
        program is killed, client side, and the scratch database dropped). Also bounds a server
        that stops answering in the middle of a restore.
    type: int
    default: 14400
  login_user:
    description:
      - Role the test restore of O(restore_check) connects as; it needs the right to create
        databases (C(CREATEDB)) and to create the objects of the dump.
      - Defaults to E(PGUSER), else libpq's default (the name of the operating system user the
        module runs as).
  login_db:
    description:
      - Database to connect to while creating and dropping the scratch database of
        O(restore_check).
      - Defaults to E(PGDATABASE), else V(postgres).
  statement_timeout:
    description:
      - Milliseconds that creating or dropping the scratch database of O(restore_check) may take
        on the server. On the client, each of these statements is abandoned after
        O(connect_timeout) + O(statement_timeout) + 5 seconds, whatever the server does.
        The restore itself and the row counts of the restored tables are bound by
        O(restore_timeout) instead.
notes:
  - A flipped byte inside compressed data is always found (every compressed stream carries a
    checksum). In uncompressed data (C(-Z0) archives, tar archives, plain SQL) a flipped byte is
    found by the sidecar checksum, or when it breaks the structure or a row count; write sidecars
    at backup time.
  - Row counts in the manifest of R(fleetops.runbook.postgres_backup,ansible_collections.fleetops.runbook.postgres_backup_role) are exact C(count(*)) taken
    in the same snapshot as the dump, so they must match exactly.
seealso:
  - name: pg_verifybackup
    description: Verify the integrity of a base backup.
    link: https://www.postgresql.org/docs/current/app-pgverifybackup.html
  - name: pg_restore
    description: The program whose read this module reproduces.
    link: https://www.postgresql.org/docs/current/app-pgrestore.html
'''

EXAMPLES = r'''
- name: Verify the newest dump of every database against the 1 hour RPO
  fleetops.runbook.backup_verify:
    path: /var/backups/postgresql
  register: backups

- name: Daily checks, one day RPO, never fail the play (the report collects the status)
  fleetops.runbook.backup_verify:
    path: /var/backups/postgresql/*.dump
    max_age: 26h
    fail_on: never
  register: backups

- name: Check every dump in a directory, write missing sidecars
  fleetops.runbook.backup_verify:
    path: /srv/dumps
    latest: 0
    write_checksum: true

- name: Monthly recovery drill, restore the newest dump and measure the RTO
  fleetops.runbook.backup_verify:
    path: /var/backups/postgresql/shop_*.dump
    restore_check: true
    login_unix_socket: /var/run/postgresql
    login_user: postgres
    thresholds:
      restore_duration:
        warning: 3600
        critical: 14400
  become: true
  become_user: postgres

- name: A physical base backup
  fleetops.runbook.backup_verify:
    path: /var/backups/base/2025-01-19
    format: basebackup
    checks: [exists, age, basebackup]
    max_age: 8d
'''

RETURN = r'''
# Status keys: generated by tools/status-return.py from doc_fragments/status.py, do not edit.
status:
  description: The worst status of all checks.
  returned: always
  type: str
  sample: WARNING
checks:
  description: Every individual check.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the check.
      type: str
      sample: disk
    target:
      description: What the check looked at (a mount point, a database, a table), or null.
      type: str
      sample: /var
    value:
      description: The measured value, or null when it could not be measured.
      type: raw
      sample: 87.5
    unit:
      description: Unit of RV(checks[].value) (percent, seconds, milliseconds, bytes, count, ratio).
      type: str
      sample: percent
    warning:
      description: The warning range applied, or null.
      type: str
      sample: "85"
    critical:
      description: The critical range applied, or null.
      type: str
      sample: "95"
    status:
      description: OK, WARNING, CRITICAL or UNKNOWN.
      type: str
      sample: WARNING
    message:
      description: What was found, in words.
      type: str
      sample: disk /var is 87.5% (warning 85)
    labels:
      description: Extra labels of the check in RV(metrics), present only on checks that have some.
      type: dict
      sample: {database: app}
summary:
  description: One line for a human, worst findings first.
  returned: always
  type: str
  sample: "WARNING: disk /var is 87.5% (warning 85); 11 OK"
perfdata:
  description: The numeric checks as Nagios performance data.
  returned: always
  type: str
  sample: "cpu=12.5%;70;85;0;100 'disk /var'=87.5%;85;95;0;100"
metrics:
  description:
    - The checks as Prometheus text exposition lines, ready for the node exporter's textfile
      collector.
  returned: always
  type: list
  elements: str
  sample:
    - 'fleetops_check_status{source="resource_check",check="cpu"} 0'
# End of status keys.
backups:
  description: One entry per checked backup.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The backup.
      type: str
    format:
      description: V(custom), V(directory), V(tar), V(plain), V(plain_gz), V(gzip) or V(basebackup).
      type: str
    size:
      description: Size in bytes (of all files, for a directory).
      type: int
    mtime:
      description: Modification time, seconds since the epoch.
      type: float
    age:
      description: Seconds since RV(backups[].mtime).
      type: float
    sha256:
      description: SHA-256 of the file (null for directories).
      type: str
    checksum:
      description: >-
        Outcome of the sidecar comparison: V(match), V(mismatch), V(missing), V(unreadable),
        V(written) or V(would write).
      type: str
    toc:
      description: The table of contents of an archive.
      type: dict
      sample:
        archive_version: 1.14-0
        format: custom
        compression: gzip
        database: shop
        dumped_from: 15.10 (Debian 15.10-0+deb12u1)
        dumped_by: 15.10 (Debian 15.10-0+deb12u1)
        created: '2025-01-19 03:00:02'
        entries: 18
        tables: 3
        table_data: 3
        large_objects: 1
        data_entries: 4
    data:
      description: What the full read found.
      type: dict
      sample:
        blocks: 4
        chunks: 71
        compressed_bytes: 278579
        decoded_bytes: 1754310
        large_objects: 1
        rows: {public.orders: 20000, s2.items: 5000}
    manifest:
      description: The manifest file compared with, or null.
      type: str
    restore:
      description: The test restore, when O(restore_check=true).
      type: dict
      sample:
        database: fleetops_verify_3f2a9c1b7d4e
        seconds: 2.41
        rows: {public.orders: 20000}
        mismatches: []
        compared_with: the manifest /var/backups/postgresql/shop_20250119T030000Z.dump.manifest.json
        error: null
        dropped: true
        refused: null
    status:
      description: The worst status of this backup's checks.
      type: str
    problems:
      description: The messages of this backup's checks that are not OK.
      type: list
      elements: str
scratch_databases_left:
  description:
    - Scratch databases of O(restore_check) that could not be dropped (the server did not answer
      in time); each is also named by a V(CRITICAL) C(restore_cleanup) check. Empty normally.
  returned: always
  type: list
  elements: str
newest_good:
  description: The newest backup that passed its checks, or null.
  returned: always
  type: str
'''

from ansible_collections.fleetops.runbook.plugins.module_utils.module import RunbookModule

from ansible_collections.fleetops.runbook.plugins.module_utils.status import (
    ParameterError, finish, status_argument_spec)
from ansible_collections.fleetops.runbook.plugins.module_utils.postgres import (
    container_argument_spec, postgres_argument_spec, validate_connection_params,
    validate_container_params)
from ansible_collections.fleetops.runbook.plugins.module_utils.backup_verify import ALL_CHECKS, FORMATS, Verifier


def argument_spec():
    spec = status_argument_spec(thresholds=True)
    spec.update(postgres_argument_spec())
    spec.update(container_argument_spec())
    spec.update(
        path=dict(type='str', required=True),
        latest=dict(type='int', default=1),
        format=dict(type='str', default='auto', choices=FORMATS),
        checks=dict(type='list', elements='str', default=list(ALL_CHECKS), choices=ALL_CHECKS),
        max_age=dict(type='str', default='1h'),
        checksum_missing=dict(type='str', default='warning', choices=['ok', 'warning', 'critical']),
        write_checksum=dict(type='bool', default=False),
        restore_check=dict(type='bool', default=False),
        restore_jobs=dict(type='int', default=1),
        restore_timeout=dict(type='int', default=14400),
        database=dict(type='str'),
    )
    return spec


def main():
    module = RunbookModule(argument_spec=argument_spec(), supports_check_mode=True)
    errors = validate_connection_params(module.params, programs=module.params['restore_check']) + validate_container_params(module.params)
    if errors:
        module.fail_json(msg='; '.join(errors))
    try:
        verifier = Verifier(module.params, check_mode=module.check_mode,
                            run_command=module.run_command)
        report, extra = verifier.result()
    except ParameterError as exc:
        module.fail_json(msg=str(exc))
    except (IOError, OSError) as exc:
        module.fail_json(msg='path: %s: %s' % (getattr(exc, 'filename', None) or
                                               module.params['path'], exc.strerror or exc))
    diffs = extra.pop('diff', None)
    if diffs and module._diff:
        extra['diff'] = diffs
    finish(module, report, **extra)


if __name__ == '__main__':
    main()
