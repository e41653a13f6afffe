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
from .harness import DEMO_INVENTORY, ansible_env

pytestmark = pytest.mark.gate

# Hang guards, far above every deadline the base arguments set (connect_timeout 2 s, timeouts 2 s);
# they only stop a hung case from stopping the suite.
MODULE_GUARD = 30
TASK_GUARD = 30
# Module runners side by side (each runs its cases one after the other).
RUNNERS = 3

# The shared PostgreSQL connection options. Every case's server is the closed (or silent) port, so
# a connection failure there is named after the address (or the timeout) whichever connection
# option holds the junk: the password, the user or the database cannot be judged by a server that
# never answered.
CONNECTION = ('login_host', 'login_port', 'login_user', 'login_password', 'login_db', 'login_unix_socket',
              'ssl_mode', 'ca_cert', 'ssl_cert', 'ssl_key', 'connect_params', 'connect_timeout', 'statement_timeout')


# ansible-core's own type check of an int option raises OverflowError on an infinite value
# (Decimal('Infinity') to int) before the module's code runs; nothing in a module can catch it.
# (The action plugins check for it first: plugins/plugin_utils/arguments.py.)
UPSTREAM = ('in check_type_int', 'OverflowError: cannot convert Infinity to integer')
# ansible-core's message for a list of mappings given text names no option; a module cannot
# check first either.
UPSTREAM_MSG = 'dictionary requested, could not parse JSON or key=value'


# Options whose junk only reaches the code that uses it with other options set too.
COMBINED = {
    'backup_verify': {'restore_timeout': {'restore_check': True}, 'restore_jobs': {'restore_check': True},
                      'latest': {'restore_check': True}},
    'incident_evidence': {'since_hours': {'collect': ['journal', 'logs', 'auth']},
                          'container_log_lines': {'collect': ['containers']}},
    'security_audit': {'since_hours': {'checks': ['access_log', 'etc_changes']}},
}


def base_args(name, bed):
    """Sane values for every mandatory option, and for the options that would reach outside."""
    pg = dict(login_host='127.0.0.1', login_port=bed.closed, login_user='gate', login_db='gate',
              connect_timeout=2, statement_timeout=1000)
    root = bed.root
    return {
        'backup_verify': dict(pg, path=str(bed.dump)),
        'cert_check': dict(certificates=[dict(path=str(bed.file))],
                           endpoints=[dict(address='127.0.0.1:%d' % bed.closed)], timeout=2),
        # The engine on a closed loopback port: nothing reaches this machine's containers.
        'container_check': dict(containers=['web'], docker_host='tcp://127.0.0.1:%d' % bed.closed, timeout=2),
        'db_restore': dict(pg, path=str(bed.dump), database='gate_scratch', timeout=5),
        'http_check': dict(endpoints=[dict(url='http://127.0.0.1:%d/health' % bed.closed)], probes=2, timeout=1),
        'incident_evidence': dict(incident_id='gate-1', dest=str(root / 'evidence'),
                                  collect=['logs', 'auth', 'resources'], log_paths=[str(root / 'logs' / '*.log')],
                                  auth_log_paths=[str(root / 'access.log')], resources={'status': 'OK'}),
        'log_cleanup': dict(paths=[str(root / 'logs')]),
        'log_stats': dict(files=[dict(path=str(root / 'access.log'))], state_file=str(root / 'log_stats.state')),
        'pg_bloat': dict(pg),
        'pg_health': dict(pg),
        'redis_check': dict(login_host='127.0.0.1', login_port=bed.closed, connect_timeout=2, command_timeout=2),
        'resource_check': dict(checks=['load', 'memory', 'disk'], cpu_interval=0.01,
                               include_mounts=[str(root)]),
        'security_audit': dict(checks=['access_log', 'etc_changes', 'world_writable'],
                               access_logs=[str(root / 'access.log')], etc_paths=[str(root / 'etc')],
                               world_writable_paths=[str(root / 'www')]),
        'service_check': dict(units=[dict(name='gate-*.service')], listening=['127.0.0.1:%d' % bed.silent],
                              not_listening=['127.0.0.1:%d' % bed.closed], timeout=2),
        'slow_queries': dict(pg),
        # Check mode only (the playbooks run with --check): a junk name that is a real package is
        # reported missing, never installed.
        'apt_packages': dict(name=['dpkg']),
        'capacity_trend': dict(history_dir=str(root / 'history')),
        'fleet_report': dict(checks=['resource'], hosts=['localhost'], dest=str(root / 'reports')),
        'notify': dict(title='gate', text='generated input', severity='warning', channels=['mail'],
                       state_path=str(root / 'state.json'),
                       mail=dict(to=['ops@example.invalid'], host='127.0.0.1', port=bed.closed, timeout=2)),
    }[name]


@pytest.fixture(scope='module')
def silent_port():
    silent = gi.SilentPort()
    yield silent.port
    silent.stop()


@pytest.fixture
def bed(tmp_path, silent_port):
    """A fresh directory per plugin, so what one plugin wrote never meets another's cases."""
    return gi.Bed(tmp_path / 'bed', silent_port)


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

    Every failed action result carries its exception chain, ending in the task error Ansible wraps
    around what the plugin raised. A plugin that failed on purpose raised an Ansible error (perhaps
    from a builtin one it caught); a builtin exception reaching Ansible is a crash.
    """
    chain = [name for name in _RAISED.findall(exception or '') if name != 'ansible.errors.AnsibleTaskError']
    if chain and '.' not in chain[-1]:
        return chain[-1]
    return None


def _masked_by_no_log(spec, option, msg):
    """ansible-core masks every no_log value wherever it occurs in its own messages: junk such as
    ['a'] for a no_log option turns the option's name in the message into 'secret_he********ders'."""
    parts = option.split('.')
    desc = spec[parts[0]] if len(parts) == 1 else spec[parts[0]]['options'][parts[1]]
    return bool(desc.get('no_log')) and '********' in msg


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
        if msg != base_msg and not any(n in msg for n in gi.spec_names(spec, option)) \
                and not (not action and msg == UPSTREAM_MSG) \
                and not (option in CONNECTION and any(n in msg for n in CONNECTION)) \
                and not _masked_by_no_log(spec, option, msg):
            problems.append('message does not name %s: %s' % (option, msg[:300]))
    return problems


def _check(name, outcomes):
    bad = [(case_id, option, problems) for case_id, option, problems in outcomes if problems]
    print('\n%s: %d cases, %d failing' % (name, len(outcomes), len(bad)))
    for case_id, option, problems in bad:
        print('  %s [%s]: %s' % (case_id, option, '; '.join(problems)[:400]))
    assert not bad, '%d of %d generated cases of %s failed:\n%s' % (
        len(bad), len(outcomes), name, '\n'.join('%s [%s]: %s' % (c, o, '; '.join(p)) for c, o, p in bad[:40]))


@pytest.mark.parametrize('name', gi.MODULES)
def test_module_survives_generated_input(name, bed, tmp_path):
    spec = gi.module_spec(name)
    cases = gi.cases_for(name, 'modules', spec, base_args(name, bed), bed, combined=COMBINED.get(name))
    for dummy, dummy, args in cases:
        args['_ansible_check_mode'] = True
    payload = [dict(id=case_id, args=args, cwd=str(bed.cwd)) for case_id, dummy, args in cases]
    env = dict(os.environ, HOME=str(bed.home), PYTHONPATH=str(gi.COLLECTIONS), LC_ALL='C.UTF-8')
    for var in ('PGUSER', 'PGPASSWORD', 'PGDATABASE', 'PGSERVICE', 'PGPASSFILE', 'PGSERVICEFILE'):
        env.pop(var, None)
    # An option left out falls back to these: the closed port, never a server that could be changed.
    env.update(PGHOST='127.0.0.1', PGPORT=str(bed.closed))
    # Most cases wait (on a timeout, a closed port, a subprocess): a few runners side by side.
    runners = []
    for index in range(RUNNERS):
        cases_file = tmp_path / ('cases%d.json' % index)
        cases_file.write_text(json.dumps(payload[index::RUNNERS]))
        results_file = tmp_path / ('results%d.json' % index)
        runners.append((results_file, subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name('gate_runner.py')), name, str(cases_file),
             str(results_file), str(MODULE_GUARD)], env=env)))
    results = {}
    for results_file, runner in runners:
        # Only stops a runner that itself hangs; each case has its own guard.
        assert runner.wait(timeout=MODULE_GUARD * 10 + 5 * len(cases)) == 0
        results.update(json.loads(results_file.read_text()))
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
                outcomes.append((case_id, option, []))
                continue
        problems += _problems(result, spec, option, base_msg)
        if option is None:
            assert not problems, 'the base case of %s fails: %s' % (name, problems)
            base_msg = result.get('msg')
        outcomes.append((case_id, option, problems))
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
    generated = gi.cases_for(name, 'action', spec, base_args(name, bed), bed, combined=COMBINED.get(name))
    cases = [(case_id, option, _no_templates(args)) for case_id, option, args in generated]
    tasks = [{'name': case_id, 'fleetops.runbook.' + name: args, 'check_mode': True, 'ignore_errors': True,
              'timeout': TASK_GUARD} for case_id, dummy, args in cases]
    env = ansible_env(dict(HOME=str(bed.home), PGHOST='127.0.0.1', PGPORT=str(bed.closed),
                           ANSIBLE_STDOUT_CALLBACK='ansible.posix.json',
                           ANSIBLE_DISPLAY_TRACEBACK='error',
                           ANSIBLE_LOCAL_TEMP=str(tmp_path / 'ansible-local')))
    runs = []
    for index in range(RUNNERS):
        playbook = tmp_path / ('gate%d.yml' % index)
        playbook.write_text(yaml.safe_dump([{'name': 'gate', 'hosts': 'localhost', 'gather_facts': False,
                                             'tasks': tasks[index::RUNNERS]}], sort_keys=False))
        out = (tmp_path / ('gate%d.out' % index)).open('w+')
        with (tmp_path / ('gate%d.err' % index)).open('w') as err:
            runs.append((out, subprocess.Popen(
                ['ansible-playbook', str(playbook), '-i', str(DEMO_INVENTORY), '--check'],
                cwd=str(bed.cwd), env=env, stdout=out, stderr=err)))
    results = {}
    for out, run in runs:
        # Only stops a playbook that itself hangs; each task has its own timeout.
        run.wait(timeout=TASK_GUARD * 10 + 5 * len(cases))
        out.seek(0)
        text = out.read()
        out.close()
        data = _strict_json(text[text.index('{'):])
        for task in data['plays'][0]['tasks']:
            results[task['task']['name']] = task['hosts'].get('localhost', {})
    assert set(results) == set(c[0] for c in cases), text[-3000:]
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
        outcomes.append((case_id, option, problems))
    _check(name, outcomes)


def test_every_module_and_action_plugin_is_in_the_gate():
    modules = set(p.stem for p in (gi.REPO / 'plugins' / 'modules').glob('*.py') if p.stem != '__init__')
    actions = set(p.stem for p in (gi.REPO / 'plugins' / 'action').glob('*.py') if p.stem != '__init__')
    assert set(gi.ACTIONS) | set(gi.NO_ARGUMENT_ACTIONS) == actions
    assert not set(gi.ACTIONS) & set(gi.NO_ARGUMENT_ACTIONS)
    # A module with an action plugin of the same name is reached through the plugin.
    assert set(gi.MODULES) == modules - actions


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
