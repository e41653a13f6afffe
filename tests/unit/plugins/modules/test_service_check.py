# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure parts of service_check: systemctl show blocks, unit judgement, /proc/net lines and
the socket entries of listening / not_listening."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import sys

import pytest

from ansible_collections.fleetops.runbook.plugins.modules.service_check import (
    DEFAULT_THRESHOLDS,
    SocketChecker,
    SocketSpec,
    UnitChecker,
    covers,
    decode_address,
    judge_unit,
    matching_sockets,
    parse_proc_net,
    parse_show,
    select_units,
    state_age,
    unit_name,
)
from ansible_collections.fleetops.runbook.plugins.module_utils.status import (
    CheckReport,
    parse_thresholds,
)

pytestmark = pytest.mark.services

little_endian = pytest.mark.skipif(sys.byteorder != 'little', reason='/proc/net samples of a little-endian host')

# systemctl show --property=... output of systemd 252 (Debian 12) for four units: properties come in
# systemd's own order, one blank line between units, none at the end.
SHOW = """\
Type=simple
Restart=no
NRestarts=0
Result=success
Id=web.service
Names=web.service www.service
Description=The web front
LoadState=loaded
ActiveState=active
SubState=running
UnitFileState=enabled
StateChangeTimestampMonotonic=90000000

Type=simple
Restart=always
NRestarts=7
Result=exit-code
Id=app-worker.service
Names=app-worker.service
Description=Worker
LoadState=loaded
ActiveState=activating
SubState=auto-restart
UnitFileState=static
StateChangeTimestampMonotonic=120500000

NRestarts=0
Result=success
Id=nope.service
Names=nope.service
Description=nope.service
LoadState=not-found
ActiveState=inactive
SubState=dead
UnitFileState=
StateChangeTimestampMonotonic=0

Id=logrotate.timer
Names=logrotate.timer
Description=Daily rotation of log files
LoadState=loaded
ActiveState=active
SubState=waiting
UnitFileState=enabled
StateChangeTimestampMonotonic=4000000
"""


def test_parse_show_blocks():
    units = parse_show(SHOW)
    assert [u['Id'] for u in units] == ['web.service', 'app-worker.service', 'nope.service', 'logrotate.timer']
    assert units[0]['Names'] == 'web.service www.service'
    assert units[1]['NRestarts'] == '7'
    assert units[2]['UnitFileState'] == ''
    assert 'NRestarts' not in units[3]


def test_parse_show_tolerates_extra_blank_lines_and_crlf():
    units = parse_show('\n\nId=a.service\r\nActiveState=active\r\n\n\n\nId=b.service\n\n')
    assert [u['Id'] for u in units] == ['a.service', 'b.service']
    assert units[0]['ActiveState'] == 'active'


def test_parse_show_keeps_equals_signs_in_values():
    assert parse_show('Id=a.service\nDescription=x=y')[0]['Description'] == 'x=y'


def test_parse_show_empty():
    assert parse_show('') == []


@pytest.mark.parametrize('stamp,now,expected', [
    ('90000000', 100.0, 10.0),
    ('90000000', 90.0, 0.0),
    # The unit changed state after the clock was read (or on another clock): never negative.
    ('95000000', 90.0, 0.0),
    ('0', 100.0, None),
    ('', 100.0, None),
    (None, 100.0, None),
    ('junk', 100.0, None),
])
def test_state_age(stamp, now, expected):
    props = {} if stamp is None else {'StateChangeTimestampMonotonic': stamp}
    assert state_age(props, now) == expected


@pytest.mark.parametrize('name,expected', [
    ('nginx.service', 'nginx.service'),
    ('nginx', 'nginx.service'),
    ('app-*', 'app-*.service'),
    ('app-*.service', 'app-*.service'),
    ('postgresql@15-main', 'postgresql@15-main.service'),
    ('logrotate.timer', 'logrotate.timer'),
    ('dev-disk-by\\x2duuid-1.device', 'dev-disk-by\\x2duuid-1.device'),
    ('123', '123.service'),
])
def test_unit_name(name, expected):
    assert unit_name(name, 'units[0].name') == expected


@pytest.mark.parametrize('name,words', [
    ('', 'expected a unit name'),
    (None, 'expected a unit name'),
    ('a b.service', 'is not a unit name'),
    ('x;rm -rf /', 'is not a unit name'),
    ('--all', "must not start with '-'"),
    ('.hidden', "must not start with '.'"),
    (' nginx', 'leading or trailing blanks'),
    ('n' * 300, 'at most 255'),
])
def test_unit_name_rejects(name, words):
    with pytest.raises(ValueError) as exc:
        unit_name(name, 'units[3].name')
    assert str(exc.value).startswith('units[3].name: ')
    assert words in str(exc.value)


@pytest.mark.parametrize('props,required,status,words', [
    ({'LoadState': 'loaded', 'ActiveState': 'active', 'SubState': 'running'}, True, 'OK', 'active (running)'),
    ({'LoadState': 'loaded', 'ActiveState': 'reloading', 'SubState': 'reload'}, True, 'OK', 'reloading'),
    ({'LoadState': 'loaded', 'ActiveState': 'failed', 'SubState': 'failed', 'Result': 'exit-code'}, True,
     'CRITICAL', 'failed|result exit-code'),
    ({'LoadState': 'loaded', 'ActiveState': 'failed', 'SubState': 'failed', 'Result': 'exit-code'}, False,
     'WARNING', 'failed'),
    ({'LoadState': 'loaded', 'ActiveState': 'inactive', 'SubState': 'dead'}, True, 'CRITICAL', 'inactive (dead)'),
    ({'LoadState': 'loaded', 'ActiveState': 'inactive', 'SubState': 'dead'}, False, 'OK', 'inactive'),
    ({'LoadState': 'not-found', 'ActiveState': 'inactive', 'SubState': 'dead'}, True, 'CRITICAL', 'not found'),
    ({'LoadState': 'not-found', 'ActiveState': 'inactive', 'SubState': 'dead'}, False, 'OK', 'not found'),
    # The unit file was removed while the service runs: it still runs.
    ({'LoadState': 'not-found', 'ActiveState': 'active', 'SubState': 'running'}, True, 'OK', 'active'),
    ({'LoadState': 'masked', 'ActiveState': 'inactive', 'SubState': 'dead'}, True, 'CRITICAL', 'masked'),
    ({'LoadState': 'bad-setting', 'ActiveState': 'inactive', 'SubState': 'dead'}, True, 'CRITICAL',
     'not loaded (bad-setting)'),
    ({'LoadState': 'error', 'ActiveState': 'inactive', 'SubState': 'dead'}, False, 'WARNING', 'not loaded (error)'),
    ({'LoadState': 'loaded', 'ActiveState': 'activating', 'SubState': 'auto-restart'}, True, 'CRITICAL',
     'activating (auto-restart)|down until its automatic restart'),
    ({'LoadState': 'loaded', 'ActiveState': 'activating', 'SubState': 'auto-restart-queued'}, True, 'CRITICAL',
     'activating (auto-restart-queued)|down until its automatic restart'),
    ({'LoadState': 'loaded', 'ActiveState': 'activating', 'SubState': 'auto-restart'}, False, 'OK', 'auto-restart'),
    ({'LoadState': 'loaded', 'ActiveState': 'activating', 'SubState': 'start'}, True, 'WARNING', 'activating (start)'),
    ({'LoadState': 'loaded', 'ActiveState': 'deactivating', 'SubState': 'stop-sigterm'}, True, 'WARNING',
     'deactivating'),
    ({'LoadState': 'loaded', 'ActiveState': 'bogus', 'SubState': 'x'}, True, 'UNKNOWN', 'unknown state'),
])
def test_judge_unit(props, required, status, words):
    got, state, note = judge_unit(props, required)
    assert got == status
    assert words in '|'.join(filter(None, (state, note)))


def test_select_units_names_aliases_patterns_and_misses():
    blocks = parse_show(SHOW)
    wanted = [('www.service', True), ('app-*.service', True), ('nope.service', False),
              ('db-*.service', True), ('web*.service', False)]
    selected, unmatched = select_units(wanted, blocks)
    # An alias is found through Names; web.service, selected by name, is not reported twice.
    assert [(pattern, name, props['Id'], required) for pattern, name, props, required in selected] == [
        ('www.service', 'www.service', 'web.service', True),
        ('app-*.service', 'app-worker.service', 'app-worker.service', True),
        ('nope.service', 'nope.service', 'nope.service', False),
    ]
    assert unmatched == [('db-*.service', True)]


def test_select_units_required_wins_when_selected_twice():
    selected, dummy = select_units([('app-*.service', False), ('app-worker.service', True)], parse_show(SHOW))
    assert [(name, required) for dummy, name, dummy2, required in selected] == [('app-worker.service', True)]


class FakeModule:
    """Enough of a module for UnitChecker.check (nothing is run)."""

    params = {}


def check_units(props_list, required=True, now=130.0, thresholds=None):
    report = CheckReport('service_check')
    limits = parse_thresholds(thresholds or {}, DEFAULT_THRESHOLDS)
    checker = UnitChecker(FakeModule(), report, limits, [], 10)
    facts = [checker.check(p['Id'], p['Id'], p, required, now) for p in props_list]
    return report, facts


def by(report, name, target):
    found = [c for c in report.checks if c['name'] == name and c['target'] == target]
    assert len(found) == 1, report.checks
    return found[0]


def test_unit_checks_status_restarts_and_age():
    report, facts = check_units(parse_show(SHOW))
    web = by(report, 'unit', 'web.service')
    assert (web['status'], web['value']) == ('OK', 'active')
    assert web['message'] == 'unit web.service is active (running) for 40.0 s'
    assert by(report, 'restarts', 'web.service')['status'] == 'OK'
    assert by(report, 'state_age', 'web.service')['value'] == 40.0

    worker = by(report, 'unit', 'app-worker.service')
    assert worker['status'] == 'CRITICAL'
    assert worker['message'] == ('unit app-worker.service is activating (auto-restart) for 9.5 s, '
                                 'down until its automatic restart')
    restarts = by(report, 'restarts', 'app-worker.service')
    assert (restarts['value'], restarts['status'], restarts['warning'], restarts['critical']) == (7, 'CRITICAL', '0', '5')
    assert restarts['message'] == 'restarts app-worker.service: 7 automatic restarts (critical 5)'
    assert by(report, 'state_age', 'app-worker.service')['value'] == 9.5

    # A unit systemd does not know has no restart count or age to speak of.
    assert by(report, 'unit', 'nope.service')['status'] == 'CRITICAL'
    assert not [c for c in report.checks if c['target'] == 'nope.service' and c['name'] != 'unit']
    # A timer has no NRestarts.
    assert not [c for c in report.checks if c['target'] == 'logrotate.timer' and c['name'] == 'restarts']

    assert facts[1] == {
        'name': 'app-worker.service', 'id': 'app-worker.service', 'pattern': 'app-worker.service', 'required': True,
        'description': 'Worker', 'load_state': 'loaded', 'active_state': 'activating', 'sub_state': 'auto-restart',
        'result': 'exit-code', 'unit_file_state': 'static', 'restarts': 7, 'state_age': 9.5,
    }
    assert facts[2]['unit_file_state'] is None and facts[2]['state_age'] is None
    assert report.status == 'CRITICAL'
    assert "'restarts app-worker.service'=7;0;5" in report.perfdata()
    assert "'state_age web.service'=40s" in report.perfdata()


def test_one_restart_warns_and_thresholds_are_the_users():
    props = dict(parse_show(SHOW)[0], NRestarts='1')
    report, dummy = check_units([props])
    assert by(report, 'restarts', 'web.service')['status'] == 'WARNING'
    assert by(report, 'restarts', 'web.service')['message'].endswith('1 automatic restart (warning 0)')
    report, dummy = check_units([props], thresholds={'restarts': {'warning': 2}, 'state_age': {'warning': '60:'}})
    assert by(report, 'restarts', 'web.service')['status'] == 'OK'
    age = by(report, 'state_age', 'web.service')
    assert (age['status'], age['warning']) == ('WARNING', '60:')


def test_not_required_unit_says_so():
    props = dict(parse_show(SHOW)[0], ActiveState='inactive', SubState='dead')
    report, dummy = check_units([props], required=False)
    unit = by(report, 'unit', 'web.service')
    assert unit['status'] == 'OK' and unit['message'].endswith('(not required)')


# --- /proc/net ------------------------------------------------------------------------------------

TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:18EB 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 101 1 0000000000000000 100 0 0 10 0
   1: 00000000:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   105        0 102 1 0000000000000000 100 0 0 10 0
   2: 0100007F:1538 0100007F:C350 01 00000000:00000000 00:00000000 00000000   105        0 103 1 0000000000000000 20 4 30 10 -1
   3: 0500000A:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 104 1 0000000000000000 100 0 0 10 0
   4: 0100007F:1F90 00000000:0000 06 00000000:00000000 03:00001234 00000000     0        0 0 3 0000000000000000
"""

# /proc/net lines of IPv6 are longer than a source line: each is split in two.
TCP6 = '\n'.join([
    '  sl  local_address                         remote_address                        st tx_queue rx_queue'
    ' tr tm->when retrnsmt   uid  timeout inode',
    '   0: 00000000000000000000000001000000:1538 00000000000000000000000000000000:0000 0A 00000000:00000000'
    ' 00:00000000 00000000   105        0 201 1 0000000000000000 100 0 0 10 0',
    '   1: 00000000000000000000000000000000:0BB8 00000000000000000000000000000000:0000 0A 00000000:00000000'
    ' 00:00000000 00000000  1000        0 202 1 0000000000000000 100 0 0 10 0',
    '   2: 0000000000000000FFFF00000100007F:1F40 00000000000000000000000000000000:0000 0A 00000000:00000000'
    ' 00:00000000 00000000  1000        0 203 1 0000000000000000 100 0 0 10 0',
    '   3: 000080FE00000000FF005450120034FE:0050 00000000000000000000000000000000:0000 0A 00000000:00000000'
    ' 00:00000000 00000000     0        0 204 1 0000000000000000 100 0 0 10 0',
]) + '\n'

UDP = """\
   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 3500007F:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000   101        0 301 2 0000000000000000 0
  200: 0100007F:A1B2 0100007F:0035 01 00000000:00000000 00:00000000 00000000  1000        0 302 2 0000000000000000 0
  300: 00000000:0044 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 303 2 0000000000000000 0
"""

UDP6 = '\n'.join([
    '  sl  local_address                         remote_address                        st tx_queue rx_queue'
    ' tr tm->when retrnsmt   uid  timeout inode ref pointer drops',
    '  400: 00000000000000000000000000000000:0222 00000000000000000000000000000000:0000 07 00000000:00000000'
    ' 00:00000000 00000000     0        0 401 2 0000000000000000 0',
]) + '\n'


def ip(text):
    return ipaddress.ip_address(text)


@little_endian
@pytest.mark.parametrize('hex_text,expected', [
    ('0100007F', '127.0.0.1'),
    ('00000000', '0.0.0.0'),
    ('0500000A', '10.0.0.5'),
    ('3500007F', '127.0.0.53'),
    ('00000000000000000000000001000000', '::1'),
    ('00000000000000000000000000000000', '::'),
    ('000080FE00000000FF005450120034FE', 'fe80::5054:ff:fe34:12'),
    ('B80D0120000000000000000001000000', '2001:db8::1'),
    # IPv4-mapped: an IPv6 socket bound to an IPv4 address is that IPv4 address.
    ('0000000000000000FFFF00000100007F', '127.0.0.1'),
])
def test_decode_address(hex_text, expected):
    assert decode_address(hex_text) == ip(expected)


@pytest.mark.parametrize('hex_text', ['', '0100007', 'XYZ0007F', '0' * 31])
def test_decode_address_rejects(hex_text):
    with pytest.raises(ValueError):
        decode_address(hex_text)


def sockets(text, protocol):
    return [(s['address'], s['port'], s['uid']) for s in parse_proc_net(text.splitlines(), protocol)]


@little_endian
def test_parse_proc_net_tcp_keeps_listen_only():
    assert sockets(TCP, 'tcp') == [(ip('127.0.0.1'), 6379, 999), (ip('0.0.0.0'), 5432, 105), (ip('10.0.0.5'), 22, 0)]


@little_endian
def test_parse_proc_net_tcp6():
    assert sockets(TCP6, 'tcp') == [(ip('::1'), 5432, 105), (ip('::'), 3000, 1000), (ip('127.0.0.1'), 8000, 1000),
                                    (ip('fe80::5054:ff:fe34:12'), 80, 0)]


@little_endian
def test_parse_proc_net_udp_keeps_unconnected_only():
    assert sockets(UDP, 'udp') == [(ip('127.0.0.53'), 53, 101), (ip('0.0.0.0'), 68, 0)]
    assert sockets(UDP6, 'udp') == [(ip('::'), 546, 0)]


def test_parse_proc_net_skips_junk():
    junk = ['', 'garbage', '   0: zz:zz 00000000:0000 0A 0 0 0 0 1 1', '   1: 0100007F 00000000:0000 0A 0 0 0 0 1 1',
            '   x: 0100007F:0050 00000000:0000 0A 0 0 0 5 1 1']
    assert parse_proc_net(junk, 'tcp') == []


# --- listening / not_listening entries -------------------------------------------------------------

@pytest.mark.parametrize('value,expected', [
    (5432, 'tcp/5432'),
    ('5432', 'tcp/5432'),
    ('tcp/5432', 'tcp/5432'),
    ('TCP/5432', 'tcp/5432'),
    ('udp/53', 'udp/53'),
    ('127.0.0.1:6379', 'tcp/127.0.0.1:6379'),
    ('udp/127.0.0.53:53', 'udp/127.0.0.53:53'),
    ('[::1]:5432', 'tcp/[::1]:5432'),
    ('tcp/[::]:5432', 'tcp/[::]:5432'),
    ('0.0.0.0:5432', 'tcp/0.0.0.0:5432'),
    ('*:80', 'tcp/80'),
    (' 443 ', 'tcp/443'),
])
def test_socket_spec(value, expected):
    assert SocketSpec.parse(value, 'listening[0]').text == expected


@pytest.mark.parametrize('value,words', [
    ('', 'the port must be a number'),
    (0, 'the port must be a number'),
    (70000, 'the port must be a number'),
    (-1, 'the port must be a number'),
    ('tcp/', 'the port must be a number'),
    ('sctp/80', "'sctp' is neither tcp nor udp"),
    ('localhost:6379', 'is not an IPv4 address'),
    ('::1:5432', 'write an IPv6 address in brackets'),
    ('[::1]5432', 'write PORT'),
    ('[::1:5432', 'write PORT'),
    ('[127.0.0.1]:80', 'is not an IPv6 address'),
    ('[::1]:', 'the port must be a number'),
    ('127.0.0.1:\u0663', 'the port must be a number'),
    (True, 'write PORT'),
    (None, 'write PORT'),
    (5432.0, 'write PORT'),
    ({'port': 1}, 'write PORT'),
])
def test_socket_spec_rejects(value, words):
    with pytest.raises(ValueError) as exc:
        SocketSpec.parse(value, 'not_listening[2]')
    assert str(exc.value).startswith('not_listening[2]: ')
    assert words in str(exc.value)


@pytest.mark.parametrize('bound,wanted,dual,expected', [
    ('127.0.0.1', '127.0.0.1', True, True),
    ('127.0.0.1', None, True, True),
    ('0.0.0.0', '127.0.0.1', True, True),
    ('0.0.0.0', '0.0.0.0', True, True),
    ('127.0.0.1', '0.0.0.0', True, False),
    ('10.0.0.5', '127.0.0.1', True, False),
    ('0.0.0.0', '::1', True, False),
    ('::', '::1', True, True),
    ('::', '::', False, True),
    # An IPv6 wildcard accepts IPv4 on a dual stack only.
    ('::', '0.0.0.0', True, True),
    ('::', '127.0.0.1', True, True),
    ('::', '127.0.0.1', False, False),
    ('::1', '127.0.0.1', True, False),
])
def test_covers(bound, wanted, dual, expected):
    assert covers(ip(bound), ip(wanted) if wanted else None, dual) is expected


@little_endian
def test_matching_sockets_seed_case():
    found = parse_proc_net(TCP.splitlines(), 'tcp') + parse_proc_net(TCP6.splitlines(), 'tcp')
    spec = SocketSpec.parse('0.0.0.0:5432', 'not_listening[0]')
    assert [(str(s['address']), s['port']) for s in matching_sockets(spec, found, True)] == [('0.0.0.0', 5432)]
    spec = SocketSpec.parse('tcp/5432', 'listening[0]')
    assert len(matching_sockets(spec, found, True)) == 2
    # Port 3000 listens on the IPv6 wildcard only: open on IPv4 too on a dual stack.
    spec = SocketSpec.parse('0.0.0.0:3000', 'not_listening[0]')
    assert len(matching_sockets(spec, found, True)) == 1
    assert matching_sockets(spec, found, False) == []
    assert matching_sockets(SocketSpec.parse('udp/5432', 'listening[0]'), found, True) == []


@little_endian
def test_socket_checker_reads_proc(tmp_path):
    net = tmp_path / 'net'
    net.mkdir()
    for name, text in (('tcp', TCP), ('tcp6', TCP6), ('udp', UDP), ('udp6', UDP6)):
        (net / name).write_text(text)
    (tmp_path / 'sys' / 'net' / 'ipv6').mkdir(parents=True)
    (tmp_path / 'sys' / 'net' / 'ipv6' / 'bindv6only').write_text('1\n')
    report = CheckReport('service_check')
    listening = [SocketSpec.parse(v, 'listening') for v in ('127.0.0.1:5432', 'udp/53', '127.0.0.1:3000')]
    not_listening = [SocketSpec.parse(v, 'not_listening') for v in ('0.0.0.0:5432', '0.0.0.0:3000')]
    rows = SocketChecker(report, listening, not_listening, proc=str(tmp_path)).run()
    assert [(c['name'], c['target'], c['value'], c['status']) for c in report.checks] == [
        ('listening', 'tcp/127.0.0.1:5432', 1, 'OK'),
        ('listening', 'udp/53', 1, 'OK'),
        # bindv6only is 1: the IPv6 wildcard on 3000 takes no IPv4.
        ('listening', 'tcp/127.0.0.1:3000', 0, 'CRITICAL'),
        ('not_listening', 'tcp/0.0.0.0:5432', 1, 'CRITICAL'),
        ('not_listening', 'tcp/0.0.0.0:3000', 0, 'OK'),
    ]
    assert report.checks[3]['message'] == 'not_listening tcp/0.0.0.0:5432: found 0.0.0.0:5432'
    assert report.checks[2]['message'] == 'listening tcp/127.0.0.1:3000: nothing listens'
    assert rows[0] == {'protocol': 'tcp', 'family': 'ipv4', 'address': '10.0.0.5', 'port': 22, 'uid': 0}
    assert len(rows) == 10


def test_socket_checker_without_ipv6_and_without_proc(tmp_path):
    net = tmp_path / 'net'
    net.mkdir()
    (net / 'tcp').write_text(TCP.splitlines()[0] + '\n')
    (net / 'udp').write_text('')
    report = CheckReport('service_check')
    SocketChecker(report, [SocketSpec.parse('[::1]:5432', 'listening')], [], proc=str(tmp_path)).run()
    # No tcp6 file: IPv6 is off, so nothing listens on ::1.
    assert [(c['status'], c['value']) for c in report.checks] == [('CRITICAL', 0)]
    report = CheckReport('service_check')
    SocketChecker(report, [SocketSpec.parse('5432', 'listening')], [], proc=str(tmp_path / 'none')).run()
    assert report.checks[0]['status'] == 'UNKNOWN'
    assert 'cannot read' in report.checks[0]['message']


# --- the systemctl call: one call, bounded, failures as UNKNOWN ----------------------------------

class CommandModule:
    """A module whose run_command runs the program for real, as AnsibleModule.run_command does
    (the caller's before_communicate_callback gets the process)."""

    def __init__(self, systemctl):
        self.systemctl = systemctl
        self.calls = []

    def get_bin_path(self, name):
        return self.systemctl if name == 'systemctl' else None

    def run_command(self, args, before_communicate_callback=None, environ_update=None, **kwargs):
        import subprocess
        self.calls.append(list(args))
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        if before_communicate_callback:
            before_communicate_callback(proc)
        out, err = proc.communicate()
        return proc.returncode, out, err


def fake_systemctl(tmp_path, body):
    script = tmp_path / 'systemctl'
    script.write_text('#!/bin/sh\n' + body)
    script.chmod(0o755)
    return str(script)


def run_units(tmp_path, body, wanted, timeout=10):
    booted = tmp_path / 'booted'
    booted.mkdir(exist_ok=True)
    module = CommandModule(fake_systemctl(tmp_path, body))
    report = CheckReport('service_check')
    checker = UnitChecker(module, report, parse_thresholds({}, DEFAULT_THRESHOLDS), wanted, timeout)
    checker.booted_dir = str(booted)
    return checker.run(), report, module


def test_one_systemctl_show_for_all_units(tmp_path):
    (tmp_path / 'show.txt').write_text(SHOW)
    wanted = [('web.service', True), ('app-*.service', True), ('nope.service', False), ('db-*.service', False)]
    facts, report, module = run_units(tmp_path, 'cat %s\n' % (tmp_path / 'show.txt'), wanted)
    assert len(module.calls) == 1
    args = module.calls[0]
    # With a timeout the program runs behind a group-leader launcher (python -c ...): what follows
    # the systemctl binary is what systemctl gets.
    args = args[next(i for i, arg in enumerate(args) if arg.endswith('systemctl')):]
    assert args[1:4] == ['show', '--no-pager', '--property=Id,Names,Description,LoadState,ActiveState,SubState,'
                         'Result,UnitFileState,NRestarts,StateChangeTimestampMonotonic']
    assert args[4:] == ['--', 'web.service', 'app-*.service', 'nope.service', 'db-*.service']
    assert [f['name'] for f in facts] == ['web.service', 'app-worker.service', 'nope.service']
    assert [(c['name'], c['target'], c['status']) for c in report.checks if c['name'] == 'unit'] == [
        ('unit', 'web.service', 'OK'), ('unit', 'app-worker.service', 'CRITICAL'), ('unit', 'nope.service', 'OK'),
        ('unit', 'db-*.service', 'OK')]
    # Real monotonic time: the timestamps of the sample lie in the past, so ages are positive.
    assert all(f['state_age'] > 0 for f in facts if f['state_age'] is not None)


def test_systemctl_that_hangs_is_stopped_at_the_timeout(tmp_path):
    facts, report, module = run_units(tmp_path, 'exec sleep 600\n', [('web.service', True)], timeout=0.5)
    assert facts is None
    assert [(c['name'], c['status']) for c in report.checks] == [('systemd', 'UNKNOWN')]
    assert report.checks[0]['message'] == ('systemd: systemctl show did not answer within 0.5 s (timeout); '
                                           'units not checked: web.service')


def test_systemctl_that_fails_is_unknown(tmp_path):
    body = 'echo "Failed to connect to bus: No such file or directory" >&2\nexit 1\n'
    facts, report, module = run_units(tmp_path, body, [('web.service', True), ('app-*.service', False)])
    assert facts is None
    assert report.checks[0]['status'] == 'UNKNOWN'
    assert report.checks[0]['message'] == ('systemd: systemctl show failed (exit 1): Failed to connect to bus: '
                                           'No such file or directory; units not checked: web.service, app-*.service')


def test_without_systemd_as_init_nothing_runs(tmp_path):
    module = CommandModule(fake_systemctl(tmp_path, 'exit 0\n'))
    report = CheckReport('service_check')
    checker = UnitChecker(module, report, parse_thresholds({}, DEFAULT_THRESHOLDS), [('web.service', True)], 10)
    checker.booted_dir = str(tmp_path / 'no-such-dir')
    assert checker.run() is None
    assert module.calls == []
    assert report.checks[0]['status'] == 'UNKNOWN'
    assert report.checks[0]['message'].startswith('systemd: not the init system here (no %s' % checker.booted_dir)


def test_without_systemctl(tmp_path):
    booted = tmp_path / 'booted'
    booted.mkdir()
    report = CheckReport('service_check')
    checker = UnitChecker(CommandModule(None), report, parse_thresholds({}, DEFAULT_THRESHOLDS),
                          [('web.service', True)], 10)
    checker.booted_dir = str(booted)
    assert checker.run() is None
    assert report.checks[0]['message'] == 'systemd: systemctl is not installed; units not checked: web.service'
