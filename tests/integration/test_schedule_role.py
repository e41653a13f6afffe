# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The schedule role: timers and services systemd accepts, a run command that really runs the
playbook against the inventory, and a failed run reported through notify to a Slack receiver."""

from __future__ import annotations

import json
import shlex
import shutil
import stat
import subprocess

import pytest
import yaml

from .harness import ansible_env
from .slack_receiver import WEBHOOK_PATH

SECRET = WEBHOOK_PATH.rsplit('/', 1)[1]


def role_vars(tmp_path, hook_url, **extra):
    (tmp_path / 'units').mkdir(exist_ok=True)
    values = {
        'schedule_base_dir': str(tmp_path / 'state'),
        'schedule_config_dir': str(tmp_path / 'etc'),
        'schedule_systemd_dir': str(tmp_path / 'units'),
        'schedule_user': 'root',
        'schedule_group': 'root',
        'schedule_user_create': False,
        'schedule_systemd_enabled': False,
        'schedule_inventory': str(tmp_path / 'inventory.yml'),
        'schedule_ansible_playbook': shutil.which('ansible-playbook', path=ansible_env()['PATH']),
        'schedule_environment': {'ANSIBLE_COLLECTIONS_PATH': ansible_env()['ANSIBLE_COLLECTIONS_PATH']},
        'schedule_notify_slack': {'webhook_url': hook_url, 'allow_insecure_http': True},
    }
    values.update(extra)
    return values


def apply(ansible, values, check=False):
    play = {'name': 'schedule', 'hosts': 'localhost', 'gather_facts': False,
            'roles': [{'role': 'fleetops.runbook.schedule'}]}
    return ansible.playbook([play], extra_vars=values, check=check)


def unit(path):
    """A unit file as {section: {key: [values]}}."""
    sections, current = {}, None
    for line in path.read_text().splitlines():
        if line.startswith('[') and line.endswith(']'):
            current = sections.setdefault(line[1:-1], {})
        elif '=' in line and current is not None and not line.startswith('#'):
            key, value = line.split('=', 1)
            current.setdefault(key, []).append(value)
    return sections


@pytest.fixture
def installed(ansible, hook, tmp_path):
    (tmp_path / 'inventory.yml').write_text(yaml.safe_dump(
        {'all': {'hosts': {'localhost': {'ansible_connection': 'local'}}}}))
    values = role_vars(tmp_path, hook.url, schedule_runs=[
        {'name': 'daily', 'playbook': 'fleetops.runbook.daily_checks', 'on_calendar': '*-*-* 06:00:00'},
        {'name': 'broken', 'playbook': str(tmp_path / 'broken.yml'), 'on_calendar': 'hourly',
         'limit': 'localhost', 'extra_vars': {'reason': 'the disk is full'}},
    ])
    (tmp_path / 'broken.yml').write_text(yaml.safe_dump([{
        'hosts': 'all', 'gather_facts': False,
        'tasks': [{'name': 'fail like a run at daily_checks_fail_on', 'ansible.builtin.fail': {'msg': 'CRITICAL: {{ reason }}'}}]}]))
    res = apply(ansible, values)
    assert res.rc == 0, res
    return values, res


def test_units_name_the_playbook_the_inventory_and_the_persistent_directories(installed, tmp_path):
    values = installed[0]
    units = tmp_path / 'units'
    assert sorted(p.name for p in units.iterdir()) == [
        'fleetops-broken.service', 'fleetops-broken.timer', 'fleetops-daily.service', 'fleetops-daily.timer',
        'fleetops-failed@.service']
    timer = unit(units / 'fleetops-daily.timer')
    assert timer['Timer']['OnCalendar'] == ['*-*-* 06:00:00'] and timer['Timer']['Persistent'] == ['true']
    assert timer['Install']['WantedBy'] == ['timers.target']
    service = unit(units / 'fleetops-daily.service')
    assert service['Unit']['OnFailure'] == ['fleetops-failed@daily.service']
    assert service['Service']['StandardOutput'] == ['append:%s/logs/daily.log' % values['schedule_base_dir']]
    argv = shlex.split(service['Service']['ExecStart'][0])
    assert argv[1:3] == ['-i', values['schedule_inventory']] and argv[-1] == 'fleetops.runbook.daily_checks'
    run_vars = yaml.safe_load((tmp_path / 'etc' / 'run-vars.yml').read_text())
    assert run_vars['daily_checks_report_dir'] == values['schedule_base_dir'] + '/reports'
    for sub in ('reports', 'logs'):
        assert (tmp_path / 'state' / sub).is_dir()
    # The webhook is in the notice's settings only, readable by root and the runs' group.
    settings = tmp_path / 'etc' / 'notify.yml'
    assert stat.S_IMODE(settings.stat().st_mode) == 0o640
    for path in list(units.iterdir()) + [tmp_path / 'etc' / 'run-vars.yml']:
        assert SECRET not in path.read_text(), path


def test_systemd_accepts_the_units(installed, tmp_path):
    analyze = shutil.which('systemd-analyze')
    if not analyze:
        pytest.skip('systemd-analyze is not installed')
    for name in ('fleetops-daily.timer', 'fleetops-daily.service'):
        proc = subprocess.run([analyze, 'verify', '--man=no', str(tmp_path / 'units' / name)],
                              capture_output=True, text=True, timeout=120, check=False)
        # verify also complains about units it cannot find on this machine; none of ours may be named.
        problems = [line for line in proc.stderr.splitlines() if 'fleetops-' in line and 'not found' not in line.lower()
                    and 'Failed to put bus name' not in line]
        assert not problems, proc.stderr
    proc = subprocess.run([analyze, 'calendar', 'Sun *-*-* 04:00:00'], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0


def test_a_second_run_changes_nothing(installed, ansible):
    values = installed[0]
    res = apply(ansible, values)
    assert res.rc == 0, res
    assert res.stats['localhost']['changed'] == 0, res


def test_a_failed_run_is_reported_through_notify(installed, hook, tmp_path):
    values = installed[0]
    service = unit(tmp_path / 'units' / 'fleetops-broken.service')
    env = ansible_env()
    for assignment in service['Service']['Environment']:
        for pair in shlex.split(assignment):
            key, value = pair.split('=', 1)
            env[key] = value
    log = tmp_path / 'state' / 'logs' / 'broken.log'
    # What systemd does: run ExecStart in WorkingDirectory, appending its output to the run's log.
    with open(log, 'a') as out:
        proc = subprocess.run(shlex.split(service['Service']['ExecStart'][0]), cwd=service['Service']['WorkingDirectory'][0],
                              env=env, stdout=out, stderr=subprocess.STDOUT, timeout=600, check=False)
    assert proc.returncode != 0
    assert 'CRITICAL: the disk is full' in log.read_text()
    # ... then OnFailure= starts the notice unit for this run.
    failed = unit(tmp_path / 'units' / 'fleetops-failed@.service')
    argv = [arg.replace('%i', 'broken') for arg in shlex.split(failed['Service']['ExecStart'][0])]
    proc = subprocess.run(argv, cwd=failed['Service']['WorkingDirectory'][0], env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    [payload] = hook.payloads
    text = json.dumps(payload)
    assert 'broken' in text and 'CRITICAL: the disk is full' in text, text
    assert 'localhost' in text


@pytest.mark.parametrize('override, words', [
    ({'schedule_runs': [{'name': 'daily', 'playbook': 'a.yml', 'on_calendar': 'daily'},
                        {'name': 'daily', 'playbook': 'b.yml', 'on_calendar': 'daily'}]}, 'unique name'),
    ({'schedule_runs': [{'name': 'Daily Run', 'playbook': 'a.yml', 'on_calendar': 'daily'}]}, 'lower case'),
    ({'schedule_notify_slack': {}}, 'schedule_notify_slack or schedule_notify_mail'),
    ({'schedule_runs': [{'name': 'daily', 'on_calendar': 'daily'}]}, 'playbook'),
])
def test_bad_input_is_refused_before_anything_is_written(ansible, hook, tmp_path, override, words):
    values = role_vars(tmp_path, hook.url, **override)
    res = apply(ansible, values)
    assert res.rc != 0
    assert words in res.stdout, res
    assert 'Traceback' not in res.stdout + res.stderr
    assert not list((tmp_path / 'units').iterdir()) and not (tmp_path / 'state').exists()
