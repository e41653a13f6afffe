# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared set-up of the incident response and disaster recovery tests."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import yaml

from .harness import COLLECTIONS, REPO

BACKUP_COMMAND = REPO / 'roles' / 'postgres_backup' / 'files' / 'fleetops_pg_backup.py'


def write_inventory(path, host_vars):
    """localhost, reached without SSH and without become (the tests run as root)."""
    inventory = {'all': {'hosts': {'localhost': dict({
        'ansible_connection': 'local',
        'ansible_python_interpreter': sys.executable,
        'ansible_become': False,
    }, **host_vars)}}}
    Path(path).write_text(yaml.safe_dump(inventory, sort_keys=False))
    os.chmod(path, 0o600)
    return path


def make_shop(cluster, name, orders=1234, leads=77):
    cluster.execute('DROP DATABASE IF EXISTS %s WITH (FORCE)' % name)
    cluster.execute('CREATE DATABASE %s' % name)
    cluster.execute('CREATE TABLE orders (id int PRIMARY KEY, note text)', dbname=name)
    cluster.execute("INSERT INTO orders SELECT g, 'n' || g FROM generate_series(1, %d) g" % orders,
                    dbname=name)
    cluster.execute('CREATE SCHEMA crm', dbname=name)
    cluster.execute('CREATE TABLE crm.leads (id int)', dbname=name)
    cluster.execute('INSERT INTO crm.leads SELECT generate_series(1, %d)' % leads, dbname=name)


def counts(cluster, name):
    return {
        'public.orders': cluster.execute('SELECT count(*) FROM orders', dbname=name)[0][0],
        'crm.leads': cluster.execute('SELECT count(*) FROM crm.leads', dbname=name)[0][0],
    }


def databases(cluster):
    return sorted(r[0] for r in cluster.execute(
        'SELECT datname FROM pg_database WHERE NOT datistemplate'))


def backup_now(cluster, backup_dir, databases_, work):
    """One run of the postgres_backup role's backup command, as its timer runs it."""
    passfile = Path(work) / 'pgpass'
    passfile.write_text('*:*:*:%s:%s\n' % (cluster.superuser, cluster.superuser_password))
    os.chmod(passfile, 0o600)
    config = {
        'sets': [{'name': 'default', 'dir': str(backup_dir), 'dump': True,
                  'databases': list(databases_), 'config_paths': [], 'config_archive_name': 'config',
                  'retention_days': 3650, 'retention_count': 1000, 'max_age_seconds': 90000}],
        'exclude_databases': [],
        'environment': {'PGHOST': cluster.host, 'PGPORT': str(cluster.port), 'PGUSER': cluster.superuser},
        'passfile': str(passfile), 'dump_options': [],
        'compression': None, 'row_counts': True, 'verify': True, 'verify_max_age': '1h',
        'lib_dir': str(COLLECTIONS), 'bin_dir': None, 'metric_dir': None, 'container': None,
        'container_user': None,
    }
    config_file = Path(work) / 'backup.json'
    config_file.write_text(json.dumps(config))
    proc = subprocess.run([sys.executable, str(BACKUP_COMMAND), '--config', str(config_file)],
                          capture_output=True, text=True, check=False, timeout=300,
                          env=dict(os.environ, FLEETOPS_RUNBOOK_LIB=str(COLLECTIONS)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return sorted(Path(backup_dir).glob('*.dump'))


def tree(root):
    """Every file under root with its size, to prove nothing was lost."""
    out = {}
    for base, dummy, files in os.walk(root):
        for name in files:
            path = os.path.join(base, name)
            out[path] = os.path.getsize(path)
    return out


def failures(result):
    """The failed tasks of a run, for assertion messages."""
    out = []
    for task in result.tasks:
        for host, res in task['hosts'].items():
            if res.get('failed') or res.get('unreachable'):
                out.append('%s on %s: %s' % (task['task']['name'], host, str(res.get('msg'))[:1500]))
    return '\n'.join(out) or repr(result)


def only_reports(root, *names):
    """True when root holds the reports of names and nothing else (fleetops.runbook.fleet_report
    documents them as written in check mode too: JSON, HTML and a dated JSON copy in history/)."""
    found = sorted(str(p.relative_to(root)) for p in root.rglob('*') if p.is_file())
    allowed = '|'.join(re.escape(n) for n in names)
    pattern = re.compile(r'^(%s)\.(json|html)$|^history/(%s)-[^/]+\.json$' % (allowed, allowed))
    assert found and all(pattern.match(f) for f in found), found
    return set(f for f in found if not f.startswith('history/')) == set(
        '%s.%s' % (n, ext) for n in names for ext in ('json', 'html'))


def verified_evidence(fetched, host, unpack_to):
    """The one evidence archive of host fetched to the controller, checked against its .sha256
    sidecar, unpacked under unpack_to and checked against the SHA256SUMS inside it. Returns the
    unpacked root and the names SHA256SUMS lists."""
    archives = list(Path(fetched).glob('evidence-%s-*.tar.gz' % host))
    assert len(archives) == 1, archives
    sidecar = Path(str(archives[0]) + '.sha256')
    check = subprocess.run(['sha256sum', '-c', sidecar.name], cwd=str(fetched),
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    with tarfile.open(archives[0]) as tar:
        tar.extractall(unpack_to, filter='data')
    root = next(Path(unpack_to).iterdir())
    check = subprocess.run(['sha256sum', '-c', 'SHA256SUMS'], cwd=str(root),
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout
    return root, set(check.stdout.replace(': OK', '').split())
