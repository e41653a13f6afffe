# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The generated-input gate: junk for every option of every module and action plugin.

Cases come from each plugin's real argument_spec (tests/integration/generated_input.py). Modules
run in check mode as Ansible runs a module file (tests/integration/gate_runner.py), action plugins
in one ansible-playbook run each (check mode, ``ignore_errors``, a per-task ``timeout`` as the
hang guard). Every case must give one JSON document, no traceback, no hang, and, when the input
made it fail, a message that names the parameter.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from . import generated_input as gi
from .harness import DEMO_INVENTORY, REPO, ansible_env

# Hang guards, far above every deadline the base arguments set (connect_timeout 2 s, timeouts 2 s);
# they only stop a hung case from stopping the suite.
MODULE_GUARD = 30
TASK_GUARD = 30

# Defects other branches of issue 12 fix; the lead removes these entries after the merge.
KNOWN = {}

# ansible-core's own type check of an int option raises OverflowError on an infinite value
# (Decimal('Infinity') to int) before the module's code runs; nothing in the collection can catch it.
UPSTREAM = ('in check_type_int', 'OverflowError: cannot convert Infinity to integer')


def _known(case_id, option, args):
    for (name, path), (reason, match) in KNOWN.items():
        if case_id.startswith(name + ':') and option == path and match(args):
            return reason
    return None


def base_args(name, bed):
    """Sane values for every mandatory option, and for the options that would reach outside."""
    pg = dict(login_host='127.0.0.1', login_port=bed.closed, login_user='gate', login_db='gate',
              connect_timeout=2, statement_timeout=1000)
    root = bed.root
    return {
        'backup_verify': dict(pg, path=str(bed.dump)),
        'cert_check': dict(certificates=[dict(path=str(bed.file))],
                           endpoints=[dict(address='127.0.0.1:%d' % bed.closed)], timeout=2),
        'db_restore': dict(pg, path=str(bed.dump), database='gate_scratch', timeout=5),
        'incident_evidence': dict(incident_id='gate-1', dest=str(root / 'evidence'),
                                  collect=['logs', 'auth', 'resources'], log_paths=[str(root / 'logs' / '*.log')],
                                  auth_log_paths=[str(root / 'access.log')], resources={'status': 'OK'}),
        'log_cleanup': dict(paths=[str(root / 'logs')]),
        'pg_bloat': dict(pg),
        'pg_health': dict(pg),
        'resource_check': dict(checks=['load', 'memory', 'disk'], cpu_interval=0.01,
                               include_mounts=[str(root)]),
        'security_audit': dict(checks=['access_log', 'etc_changes', 'world_writable'],
                               access_logs=[str(root / 'access.log')], etc_paths=[str(root / 'etc')],
                               world_writable_paths=[str(root / 'www')]),
        'slow_queries': dict(pg),
        'capacity_trend': dict(history_dir=str(root / 'history')),
        'fleet_report': dict(checks=['resource'], hosts=['localhost'], dest=str(root / 'reports')),
        'notify': dict(title='gate', text='generated input', severity='warning', channels=['mail'],
                       state_path=str(root / 'state.json'),
                       mail=dict(to=['ops@example.invalid'], host='127.0.0.1', port=bed.closed, timeout=2)),
    }[name]


@pytest.fixture(scope='module')
def bed(tmp_path_factory):
    silent = gi.SilentPort()
    yield gi.Bed(tmp_path_factory.mktemp('gate'), silent.port)
    silent.stop()


def _strict_json(text):
    """Exactly one JSON object (no NaN/Infinity, nothing before or after it)."""
    def reject(token):
        raise ValueError('not JSON: %s' % token)
    value = json.loads(text.strip(), parse_constant=reject)
    assert isinstance(value, dict), 'not a JSON object: %r' % text[:200]
    return value


_RAISED = re.compile(r'(?m)^([A-Za-z_][\w.]*(?:Error|Exception|Fail\w*|Exit)): ')


def _crash(exception):
    """The unexpected exception in a failed action's traceback, or None when it failed on purpose.

    Every failed action result carries its exception chain; a plugin that failed on purpose raised
    an Ansible error (or one of the collection's own, which it turns into one); a builtin exception
    anywhere in the chain is a crash.
    """
    for name in _RAISED.findall(exception or ''):
        if '.' not in name:
            return name
    return None


def _problems(result, spec, option, base_msg, action=False):
    """What is wrong with one case's result (an empty list when nothing is)."""
    problems = []
    if action:
        crash = _crash(result.get('exception'))
        if crash:
            problems.append('crashed with %s: %s' % (crash, str(result.get('msg'))[:300]))
    else:
        text = json.dumps(result, default=str)
        if 'Traceback (most recent call last)' in text or 'MODULE FAILURE' in text:
            problems.append('traceback')
        if result.get('exception'):
            problems.append('exception: %s' % str(result['exception'])[-300:])
    if result.get('failed') and 'status' not in result and option is not None:
        msg = str(result.get('msg', ''))
        if msg != base_msg and not any(n in msg for n in gi.spec_names(spec, option)):
            problems.append('message does not name %s: %s' % (option, msg[:300]))
    return problems


def _report(name, outcomes):
    bad = [(case_id, option, problems) for case_id, option, problems, known in outcomes if problems and not known]
    known = [(case_id, known) for case_id, option, problems, known in outcomes if problems and known]
    print('\n%s: %d cases, %d failing, %d known (issue12-known)' % (name, len(outcomes), len(bad), len(known)))
    for case_id, option, problems in bad:
        print('  %s [%s]: %s' % (case_id, option, '; '.join(problems)[:400]))
    return bad, known


def _check(name, outcomes):
    bad, known = _report(name, outcomes)
    assert not bad, '%d of %d generated cases of %s failed:\n%s' % (
        len(bad), len(outcomes), name, '\n'.join('%s [%s]: %s' % (c, o, '; '.join(p)) for c, o, p in bad[:40]))
    if known:
        pytest.xfail('issue12-known: %d case(s), e.g. %s: %s' % (len(known), known[0][0], known[0][1]))


@pytest.mark.parametrize('name', gi.MODULES)
def test_module_survives_generated_input(name, bed, tmp_path):
    spec = gi.module_spec(name)
    cases = gi.cases_for(name, 'modules', spec, base_args(name, bed), bed)
    for dummy, dummy, args in cases:
        args['_ansible_check_mode'] = True
        # As with no_target_syslog: Ansible's own syslog line would stop every NUL byte before the
        # module sees it ('Failed to log to syslog').
        args['_ansible_no_log'] = True
    payload = [dict(id=case_id, args=args, cwd=str(bed.cwd)) for case_id, dummy, args in cases]
    cases_file = tmp_path / 'cases.json'
    cases_file.write_text(json.dumps(payload))
    results_file = tmp_path / 'results.json'
    env = dict(os.environ, HOME=str(bed.home), PYTHONPATH=str(gi.COLLECTIONS), LC_ALL='C.UTF-8')
    for var in ('PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGDATABASE', 'PGSERVICE', 'PGPASSFILE'):
        env.pop(var, None)
    # The guard of the whole run only stops a runner that itself hangs; each case has its own.
    subprocess.run([sys.executable, str(Path(__file__).with_name('gate_runner.py')), name, str(cases_file),
                    str(results_file), str(MODULE_GUARD)], env=env, check=True,
                   timeout=MODULE_GUARD * 10 + 5 * len(cases))
    results = json.loads(results_file.read_text())
    base_msg = None
    outcomes = []
    upstream = 0
    for case_id, option, args in cases:
        run = results[case_id]
        problems = []
        result = {}
        if run['hung']:
            problems.append('no result within the %d s hang guard' % MODULE_GUARD)
        else:
            try:
                result = _strict_json(run['stdout'])
            except (ValueError, AssertionError) as exc:
                last = (run['stderr'].strip().splitlines() or [''])[-1]
                problems.append('stdout is not one JSON object (%s): %r, stderr ends %r' % (
                    exc, run['stdout'][:200], last[:300]))
            if not problems and 'Traceback (most recent call last)' in run['stderr']:
                problems.append('traceback on stderr: %s' % run['stderr'][-300:])
            if all(sig in run['stderr'] for sig in UPSTREAM):
                upstream += 1
                outcomes.append((case_id, option, [], None))
                continue
        problems += _problems(result, spec, option, base_msg)
        if option is None:
            assert not problems, 'the base case of %s fails: %s' % (name, problems)
            base_msg = result.get('msg')
        outcomes.append((case_id, option, problems, _known(case_id, option, args) if problems else None))
    if upstream:
        print('\n%s: %d case(s) stopped by ansible-core on an infinite int (%s)' % (name, upstream, UPSTREAM[1]))
    _check(name, outcomes)


def _no_templates(value):
    # Task arguments are templates: junk text must not be read as Jinja by Ansible itself.
    if isinstance(value, str):
        return value.replace('{', '(').replace('}', ')')
    if isinstance(value, list):
        return [_no_templates(v) for v in value]
    if isinstance(value, dict):
        return dict((_no_templates(k), _no_templates(v)) for k, v in value.items())
    return value


@pytest.mark.parametrize('name', gi.ACTIONS)
def test_action_plugin_survives_generated_input(name, bed, tmp_path):
    spec = gi.action_spec(name)
    cases = [(case_id, option, _no_templates(args))
             for case_id, option, args in gi.cases_for(name, 'action', spec, base_args(name, bed), bed)]
    tasks = [{'name': case_id, 'fleetops.runbook.' + name: args, 'check_mode': True, 'ignore_errors': True,
              'timeout': TASK_GUARD} for case_id, dummy, args in cases]
    playbook = tmp_path / 'gate.yml'
    playbook.write_text(yaml.safe_dump([{'name': 'gate', 'hosts': 'localhost', 'gather_facts': False,
                                         'tasks': tasks}], sort_keys=False))
    env = ansible_env(dict(HOME=str(bed.home), ANSIBLE_STDOUT_CALLBACK='ansible.posix.json',
                           ANSIBLE_DISPLAY_TRACEBACK='error',
                           ANSIBLE_LOCAL_TEMP=str(tmp_path / 'ansible-local')))
    proc = subprocess.run(['ansible-playbook', str(playbook), '-i', str(DEMO_INVENTORY), '--check'],
                          cwd=str(bed.cwd), env=env, capture_output=True, text=True,
                          timeout=TASK_GUARD * 10 + 5 * len(cases), check=False)
    data = _strict_json(proc.stdout[proc.stdout.index('{'):])
    results = {}
    for task in data['plays'][0]['tasks']:
        results[task['task']['name']] = task['hosts'].get('localhost', {})
    assert set(results) == set(c[0] for c in cases), (proc.stdout[-2000:], proc.stderr[-2000:])
    base_msg = None
    outcomes = []
    for case_id, option, args in cases:
        result = results[case_id]
        problems = []
        if result.get('timedout') or 'timed out' in str(result.get('msg', '')):
            problems.append('no result within the %d s task timeout' % TASK_GUARD)
        problems += _problems(result, spec, option, base_msg, action=True)
        if option is None:
            assert not problems and not result.get('failed'), 'the base case of %s fails: %s %s' % (
                name, problems, result)
            base_msg = result.get('msg')
        outcomes.append((case_id, option, problems, _known(case_id, option, args) if problems else None))
    _check(name, outcomes)


def test_writable_paths_stay_in_the_test_directory(bed):
    """No generated case points an option that may be written outside the test's directory."""
    seen = 0
    for name, kind in [(n, 'modules') for n in gi.MODULES] + [(n, 'action') for n in gi.ACTIONS]:
        spec = gi.module_spec(name) if kind == 'modules' else gi.action_spec(name)
        for case_id, option, args in gi.cases_for(name, kind, spec, base_args(name, bed), bed, examples=2):
            for path in gi.WRITABLE:
                module, key = path.split('.')
                if module != name or key not in args:
                    continue
                values = args[key] if isinstance(args[key], list) else [args[key]]
                assert all(bed.inside(v) for v in values), (case_id, args[key])
                seen += 1
    assert seen > 100
