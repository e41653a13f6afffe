# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The alerting role in a container: postfix relays to the SMTP sink over verified STARTTLS with
SASL AUTH, and the SASL password stays private."""

from __future__ import annotations

import json
import os
import time
import uuid

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, '..', 'vars', 'sink.yml')) as handle:
    TEST_VARS = yaml.safe_load(handle)
USER = TEST_VARS['alerting_test_sasl_username']
PASSWORD = TEST_VARS['alerting_test_sasl_password']
SPOOL = '/var/spool/smtp-sink'


def wait_for_message(host, marker, timeout=30):
    """The sink's record of the message whose data contains ``marker``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        listing = host.run('grep -l -F -- %s %s/*.json 2>/dev/null' % (marker, SPOOL))
        if listing.rc == 0 and listing.stdout.strip():
            path = listing.stdout.split()[0]
            return json.loads(host.file(path).content_string)
        host.run('postqueue -f')
        time.sleep(0.5)
    queue = host.run('postqueue -p').stdout
    log = host.run('journalctl --no-pager -n 30 -t postfix/smtp').stdout
    pytest.fail('message %s never reached the sink.\nqueue:\n%s\nlog:\n%s' % (marker, queue, log))


def test_postfix_runs_and_listens_on_loopback_only(host):
    assert host.service('postfix').is_running
    assert host.service('postfix').is_enabled
    assert host.socket('tcp://127.0.0.1:25').is_listening
    listeners = host.run('ss -Hltn').stdout
    for line in listeners.splitlines():
        local = line.split()[3]
        if local.endswith(':25'):
            assert local.startswith('127.0.0.1:'), listeners


def test_main_cf_settings(host):
    conf = dict((k.strip(), v.strip()) for k, dummy, v in
                (line.partition('=') for line in host.check_output('postconf -n').splitlines()))
    assert conf['relayhost'] == '[localhost]:2525'
    assert conf['inet_interfaces'] == 'loopback-only'
    assert conf['myhostname'] == 'alerting-test.example.net'
    assert conf['myorigin'] == 'example.net'
    assert conf['smtp_sasl_auth_enable'] == 'yes'
    assert conf['smtp_sasl_password_maps'] == 'hash:/etc/postfix/sasl_passwd'
    assert conf['smtp_sasl_security_options'] == 'noanonymous'
    assert conf['smtp_tls_security_level'] == 'verify'
    assert conf['smtp_tls_CAfile'] == '/usr/local/share/smtp-sink-ca.pem'
    assert conf['smtp_tls_mandatory_protocols'] == '>=TLSv1.2'
    assert conf['smtp_tls_protocols'] == '>=TLSv1.2'
    assert conf['smtp_tls_wrappermode'] == 'no'
    assert host.run('postfix check').rc == 0


def test_sasl_map_is_private(host):
    for path in ('/etc/postfix/sasl_passwd', '/etc/postfix/sasl_passwd.db'):
        f = host.file(path)
        assert f.exists and f.user == 'root' and f.group == 'root' and f.mode == 0o600, path
    assert host.run('postmap -q "[localhost]:2525" hash:/etc/postfix/sasl_passwd').stdout.strip() == \
        '%s:%s' % (USER, PASSWORD)


def test_mail_command_reaches_the_sink_over_starttls_with_auth(host):
    marker = 'mail-%s' % uuid.uuid4().hex
    sent = host.run("echo 'disk /var is 96%%' | mail -s %s -a 'From: alerts@example.net' oncall@example.com"
                    % marker)
    assert sent.rc == 0, sent.stderr
    record = wait_for_message(host, marker)
    assert record['tls'] is True
    assert record['authenticated_as'] == USER
    assert record['mail_from'] == 'alerts@example.net'
    assert record['rcpt_tos'] == ['oncall@example.com']
    assert 'Subject: %s' % marker in record['data']
    assert 'disk /var is 96%' in record['data']
    log = host.run('journalctl --no-pager -t postfix/smtp').stdout
    assert 'Verified TLS connection established to localhost[127.0.0.1]:2525' in log


def test_smtp_on_loopback_is_relayed_like_the_notify_plugin_sends(host):
    marker = 'smtp-%s' % uuid.uuid4().hex
    script = (
        "import smtplib; from email.message import EmailMessage; m = EmailMessage(); "
        "m['Subject'] = '%s'; m['From'] = 'fleetops@example.net'; m['To'] = 'dba@example.com'; "
        "m.set_content('grouped findings'); s = smtplib.SMTP('localhost', 25, timeout=10); "
        "s.send_message(m); s.quit()" % marker)
    assert host.run('python3 -c "%s"' % script).rc == 0
    record = wait_for_message(host, marker)
    assert record['tls'] is True and record['authenticated_as'] == USER
    assert record['rcpt_tos'] == ['dba@example.com']


def test_root_mail_gets_the_origin_domain(host):
    marker = 'origin-%s' % uuid.uuid4().hex
    assert host.run('echo x | mail -s %s ops@example.com' % marker).rc == 0
    record = wait_for_message(host, marker)
    assert record['mail_from'] == 'root@example.net'


def test_password_in_no_world_readable_file(host):
    # Every regular file others may read, on the root file system and the tmpfs mounts.
    found = host.run(
        'find / /run /tmp -xdev -type f -perm -o=r -size -20M -print0 2>/dev/null'
        ' | xargs -0 grep -l -F -- %s 2>/dev/null' % "'%s'" % PASSWORD)
    assert found.stdout.strip() == '', found.stdout
    # The check above can find it: the private copies do hold it.
    private = host.run("grep -l -F -- '%s' /etc/postfix/sasl_passwd" % PASSWORD)
    assert private.stdout.strip() == '/etc/postfix/sasl_passwd'


def test_password_in_no_task_output():
    log_path = os.environ.get('ALERTING_ANSIBLE_LOG')
    assert log_path and os.path.exists(log_path), 'the scenario logs Ansible output to %s' % log_path
    with open(log_path) as handle:
        log = handle.read()
    assert 'Write the SASL password map' in log
    assert PASSWORD not in log
