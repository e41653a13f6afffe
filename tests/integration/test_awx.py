# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWX / Automation Platform as a client: the execution environment definition, the job templates
as data, their loading through the controller's REST API (a local fake of it), and each template's
playbook run the way AWX runs a job: ansible-runner with the survey's answers as extra variables."""

from __future__ import annotations

import json
import shutil
import subprocess

import ansible_runner
import pytest
import yaml

from .fake_awx import FakeController
from .harness import REPO, ansible_env
from .test_daily_checks import NO_THRESHOLDS

pytestmark = pytest.mark.awx

AWX = REPO / 'extensions' / 'awx'
TEMPLATES = yaml.safe_load((AWX / 'job_templates.yml').read_text())['job_templates']
LOADER = AWX / 'load_job_templates.yml'

# Survey question type -> the argument_spec types it may set.
SURVEY_TYPES = {'text': 'str', 'textarea': 'str', 'password': 'str', 'integer': 'int', 'float': 'float'}


def role_options(template):
    specs = yaml.safe_load((REPO / 'roles' / template['role'] / 'meta' / 'argument_specs.yml').read_text())
    return specs['argument_specs'][template.get('entry_point', 'main')]['options']


def test_the_five_templates_are_there():
    assert [t['playbook'] for t in TEMPLATES] == [
        'playbooks/daily_checks.yml', 'playbooks/incident_response.yml', 'playbooks/disaster_recovery.yml',
        'playbooks/weekly_maintenance.yml', 'playbooks/security_audit.yml']
    for template in TEMPLATES:
        assert (REPO / template['playbook']).exists()
        assert isinstance(template['job_slice_count'], int) and template['job_slice_count'] >= 1
        assert template['ask_limit_on_launch'] is True


def test_the_fleet_wide_templates_run_as_one_job():
    # A slice would write a report of its own hosts under the fleet report's name: the daily checks
    # and the security audit are one job; only the per-host weekly maintenance is sliced.
    slices = dict((t['name'], t['job_slice_count']) for t in TEMPLATES)
    assert slices['fleetops daily checks'] == 1 and slices['fleetops security audit'] == 1
    assert slices['fleetops weekly maintenance'] > 1
    for template in TEMPLATES:
        tasks = (REPO / 'roles' / template['role'] / 'tasks' / ('%s.yml' % template.get('entry_point', 'main'))).read_text()
        if template['job_slice_count'] > 1:
            # A sliced template's report stays in the slice's container: nothing is copied to a
            # shared place where slices would overwrite each other.
            assert 'report_host' not in tasks, template['name']


@pytest.mark.parametrize('template', TEMPLATES, ids=[t['name'] for t in TEMPLATES])
def test_every_question_sets_a_role_option_of_the_same_type_and_choices(template):
    options = role_options(template)
    variables = [q['variable'] for q in template['survey']['spec']]
    assert len(variables) == len(set(variables)), variables
    for question in template['survey']['spec']:
        name = question['variable']
        assert name in options, '%s: %s is not an option of the role %s' % (template['name'], name, template['role'])
        option = options[name]
        kind, qtype = option.get('type', 'str'), question['type']
        if qtype == 'multiselect':
            assert kind == 'list' and option.get('elements') == 'str', name
            assert question['choices'] == option['choices'], name
            assert set(question.get('default', [])) <= set(option['choices']), name
        elif qtype == 'multiplechoice' and kind == 'bool':
            assert question['choices'] == ['true', 'false'], name
        elif qtype == 'multiplechoice':
            assert kind == 'str' and question['choices'] == option['choices'], name
        else:
            assert SURVEY_TYPES[qtype] == kind, (name, qtype, kind)
            assert 'choices' not in option, '%s has choices: ask it as multiplechoice' % name
            assert (qtype == 'password') == bool(option.get('no_log')), name
        if option.get('required'):
            assert question['required'] is True and 'default' not in question, name


# --- the execution environment -----------------------------------------------------------------

def test_ansible_builder_introspect_finds_the_requirements():
    proc = subprocess.run(['ansible-builder', 'introspect', '--sanitize', str(REPO / '.cache' / 'collections')],
                          env=ansible_env(), capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    data = yaml.safe_load(proc.stdout[proc.stdout.index('---'):])
    python = [line.split()[0] for line in data['python']]
    assert {'psutil>=5.9', 'psycopg2-binary>=2.9', 'docker>=7.0', 'cryptography>=41.0'} <= set(python), python
    system = [line.split('#')[0].strip() for line in data['system']]
    assert 'postgresql-client [platform:dpkg]' in system, system


def test_ansible_builder_creates_the_build_context(tmp_path):
    for name in ('requirements.txt', 'bindep.txt'):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copy(AWX / 'execution-environment.yml', tmp_path / 'execution-environment.yml')
    (tmp_path / 'wheels').mkdir()
    (tmp_path / 'collections').mkdir()
    (tmp_path / 'collections' / 'galaxy.yml').write_text('namespace: fleetops\n')
    proc = subprocess.run(['ansible-builder', 'create', '-f', str(tmp_path / 'execution-environment.yml'),
                           '-c', str(tmp_path / 'context')], env=ansible_env(), capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    containerfile = (tmp_path / 'context' / 'Containerfile').read_text() if (tmp_path / 'context' / 'Containerfile').exists() \
        else (tmp_path / 'context' / 'Dockerfile').read_text()
    assert 'ARG EE_BASE_IMAGE="fleetops/debian12:ee-base"' in containerfile
    assert 'ARG PKGMGR="/usr/bin/apt-get"' in containerfile
    assert 'COPY _build/collections /usr/share/ansible/collections' in containerfile
    # ansible-core only: the collections are staged, not the `ansible` package's hundred; no apt-get.
    assert 'ARG ANSIBLE_INSTALL_REFS="ansible-core>=2.18 ansible-runner>=2.3"' in containerfile
    assert 'apt-get update' not in containerfile
    assert (tmp_path / 'context' / '_build' / 'requirements.txt').read_text() == (REPO / 'requirements.txt').read_text()
    assert (tmp_path / 'context' / '_build' / 'bindep.txt').read_text() == (REPO / 'bindep.txt').read_text()
    assert (tmp_path / 'context' / '_build' / 'collections' / 'galaxy.yml').exists()


# --- loading the templates into a controller ---------------------------------------------------

@pytest.fixture
def controller():
    fake = FakeController().start()
    fake.add('organizations', 'Ops')
    fake.add('projects', 'fleetops', organization=101)
    fake.add('inventories', 'production', organization=101)
    fake.add('execution_environments', 'fleetops-ee')
    yield fake
    fake.stop()


def load(ansible, controller, **extra):
    variables = {'controller_url': controller.url + '/', 'controller_token': controller.token,
                 'controller_organization': 'Ops', 'controller_project': 'fleetops',
                 'controller_inventory': 'production', 'controller_execution_environment': 'fleetops-ee'}
    variables.update(extra)
    return ansible.playbook(LOADER, extra_vars=variables)


def test_the_loader_creates_then_updates_the_templates(ansible, controller):
    first = load(ansible, controller)
    assert first.rc == 0, first
    saved = sorted(controller.objects['job_templates'].values(), key=lambda t: t['id'])
    assert [t['name'] for t in saved] == [t['name'] for t in TEMPLATES]
    for obj, template in zip(saved, TEMPLATES):
        assert obj['playbook'] == template['playbook'] and obj['job_slice_count'] == template['job_slice_count']
        assert (obj['organization'], obj['project'], obj['inventory'], obj['execution_environment']) == (101, 102, 103, 104)
        assert obj['survey_enabled'] is True
        assert controller.surveys[obj['id']] == template['survey']
    # Again: the same templates are updated in place, none is added.
    second = load(ansible, controller)
    assert second.rc == 0, second
    assert len(controller.objects['job_templates']) == len(TEMPLATES)
    assert [m for m, p, b in controller.requests].count('PATCH') == len(TEMPLATES)
    assert controller.token not in first.stdout + first.stderr + second.stdout + second.stderr


@pytest.mark.parametrize('extra, needle', [
    ({'controller_token': 'wrong-token'}, 'HTTP 401 Authentication credentials were not provided.'),
    ({'controller_project': 'nope'}, 'projects: no nope on http://127.0.0.1'),
    ({'controller_url': 'awx.example.com'}, 'set controller_url'),
])
def test_the_loader_stops_with_a_clear_message(ansible, controller, extra, needle):
    result = load(ansible, controller, **extra)
    assert result.rc != 0
    messages = json.dumps([r for t in result.tasks for r in t['hosts'].values() if r.get('failed')])
    assert needle in messages, messages
    assert controller.objects['job_templates'] == {}
    assert 'wrong-token' not in result.stdout


# --- each template's playbook, the way AWX runs its job ----------------------------------------

def survey_answers(template, answers):
    """Extra variables as AWX passes them: each question's default, or the given answer."""
    extra = dict((q['variable'], q['default']) for q in template['survey']['spec'] if 'default' in q)
    extra.update(answers)
    return extra


def run_job(tmp_path, template, inventory, answers):
    private = tmp_path / 'runner'
    (private / 'inventory').mkdir(parents=True)
    (private / 'inventory' / 'hosts.yml').write_text(yaml.safe_dump(inventory))
    env = ansible_env({'ANSIBLE_STDOUT_CALLBACK': 'ansible.builtin.default'})
    result = ansible_runner.run(private_data_dir=str(private), project_dir=str(REPO),
                                playbook=str(REPO / template['playbook']), extravars=survey_answers(template, answers),
                                envvars=dict((k, v) for k, v in env.items() if k.startswith(('ANSIBLE_', 'PATH'))),
                                quiet=True, timeout=900, ident='job')
    return result, private / 'artifacts' / 'job'


def local_inventory(tmp_path, **host_vars):
    # The tests run as root, without sudo: the playbooks' become is not needed.
    local = {'ansible_connection': 'local', 'ansible_python_interpreter': '{{ ansible_playbook_python }}',
             'ansible_become': False}
    local.update(host_vars)
    return {'all': {'hosts': {'web1': local}}}


def stats_event(result):
    return [e for e in result.events if e['event'] == 'playbook_on_stats'][0]['event_data']


def test_daily_checks_job(tmp_path):
    template = TEMPLATES[0]
    inventory = local_inventory(tmp_path, daily_checks_resource_thresholds=NO_THRESHOLDS,
                                daily_checks_report_dir=str(tmp_path / 'job-reports'))
    inventory['all']['hosts']['reports'] = dict(inventory['all']['hosts']['web1'])
    result, artifacts = run_job(tmp_path, template, inventory, {
        'daily_checks_report_host': 'reports', 'daily_checks_report_host_dir': str(tmp_path / 'kept')})
    assert result.status == 'successful' and result.rc == 0, result.stdout.read()
    assert (artifacts / 'rc').read_text() == '0' and (artifacts / 'status').read_text() == 'successful'
    assert (artifacts / 'job_events').is_dir() and any((artifacts / 'job_events').iterdir())
    # The summary handed on to a workflow, as AWX reads it from the stats event.
    summary = stats_event(result)['artifact_data']['daily_checks_summary']
    assert summary['status'] == 'OK' and summary['counts']['OK'] == 2
    assert summary['report'] == 'reports:%s/daily_checks.html' % (tmp_path / 'kept')
    said = [e['event_data']['res']['msg'] for e in result.events
            if e['event'] == 'runner_on_ok' and e['event_data'].get('task', '').endswith('Say where the report is')]
    assert said and said[0].startswith('Fleet report: reports:%s/daily_checks.html' % (tmp_path / 'kept'))
    assert json.loads((tmp_path / 'kept' / 'daily_checks.json').read_text())['host_count'] == 2


def test_daily_checks_job_fails_on_the_failing_host(tmp_path):
    template = TEMPLATES[0]
    inventory = local_inventory(tmp_path, daily_checks_resource_thresholds=NO_THRESHOLDS,
                                daily_checks_report_dir=str(tmp_path / 'job-reports'))
    inventory['all']['hosts']['db1'] = dict(inventory['all']['hosts']['web1'], daily_checks_resource_thresholds=dict(
        NO_THRESHOLDS, memory={'critical': '@0:100'}))
    result, artifacts = run_job(tmp_path, template, inventory, {})
    assert result.status == 'failed'
    failed = [e['event_data']['host'] for e in result.events if e['event'] == 'runner_on_failed'
              and not e['event_data'].get('ignore_errors')]
    assert failed == ['db1'], failed
    assert stats_event(result)['failures'] == {'db1': 1}


def test_incident_response_job_collects_evidence_only(tmp_path):
    template = TEMPLATES[1]
    inventory = local_inventory(tmp_path, incident_response_host_dir=str(tmp_path / 'host-evidence'),
                                incident_response_controller_dir=str(tmp_path / 'evidence'),
                                incident_response_evidence_collect=['processes', 'sockets'],
                                incident_response_notify_state_path=str(tmp_path / 'notify.json'))
    result, artifacts = run_job(tmp_path, template, inventory, {'incident_response_id': 'INC-42'})
    assert result.status == 'successful', result.stdout.read()
    ran = set(e['event_data'].get('task_path', '').split('/')[-1].split(':')[0] for e in result.events
              if e['event'] == 'runner_on_ok')
    assert 'evidence.yml' in ran and not ran & {'contain.yml', 'recover.yml', 'backup.yml'}, ran
    assert any(p.is_file() for p in (tmp_path / 'evidence').rglob('*')), 'no evidence on the controller'


def test_disaster_recovery_job_without_backups_fails_clearly(tmp_path):
    template = TEMPLATES[2]
    (tmp_path / 'backups').mkdir()
    inventory = local_inventory(tmp_path, disaster_recovery_backup_dir=str(tmp_path / 'backups'),
                                disaster_recovery_staging_dir=str(tmp_path / 'staging'),
                                disaster_recovery_report_dir=str(tmp_path / 'reports'))
    result, artifacts = run_job(tmp_path, template, inventory, {'disaster_recovery_database': 'orders'})
    assert result.status == 'failed'
    messages = ' '.join(e['event_data']['res'].get('msg', '') for e in result.events if e['event'] == 'runner_on_failed')
    assert 'orders' in messages or 'backup' in messages, messages
    assert (artifacts / 'status').read_text() == 'failed'


@pytest.mark.parametrize('index', [3, 4], ids=['weekly maintenance', 'security audit'])
def test_maintenance_and_audit_jobs(tmp_path, index):
    template = TEMPLATES[index]
    inventory = local_inventory(tmp_path, maintenance_report_dir=str(tmp_path / 'reports'),
                                maintenance_audit_access_logs=[], maintenance_audit_world_writable_paths=[str(tmp_path)],
                                maintenance_audit_etc_paths=[str(tmp_path)])
    result, artifacts = run_job(tmp_path, template, inventory, {})
    assert result.status == 'successful', result.stdout.read()
    assert stats_event(result)['ok']['web1'] > 0
    assert list((tmp_path / 'reports').glob('*.json')), list(tmp_path.rglob('*'))
