# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure parts of redis_check: the RESP reader over a socket pair, INFO parsing, save ages."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket

import pytest

from ansible_collections.fleetops.runbook.plugins.modules.redis_check import (
    Deadline,
    ProtocolError,
    RedisError,
    RespConnection,
    config_value,
    number,
    parse_info,
    save_age,
)

pytestmark = pytest.mark.redis


@pytest.fixture
def pair():
    ours, theirs = socket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


def answer(pair, data, timeout=5):
    ours, theirs = pair
    theirs.sendall(data)
    return RespConnection(ours, timeout)


@pytest.mark.parametrize('data,expected', [
    (b'+PONG\r\n', 'PONG'),
    (b':42\r\n', 42),
    (b'$5\r\nhello\r\n', 'hello'),
    (b'$-1\r\n', None),
    (b'*2\r\n$9\r\nmaxmemory\r\n$7\r\n1048576\r\n', ['maxmemory', '1048576']),
    (b'*0\r\n', []),
    (b'$4\r\na\r\nb\r\n', 'a\r\nb'),
])
def test_replies(pair, data, expected):
    assert answer(pair, data).call('PING') == expected


def test_the_command_is_sent_as_a_resp_array(pair):
    connection = answer(pair, b'+OK\r\n')
    connection.call('AUTH', 'user', 'pw')
    assert pair[1].recv(1024) == b'*3\r\n$4\r\nAUTH\r\n$4\r\nuser\r\n$2\r\npw\r\n'


def test_error_reply_is_returned_not_raised(pair):
    reply = answer(pair, b'-WRONGPASS invalid username-password pair\r\n').call('AUTH', 'x')
    assert isinstance(reply, RedisError)
    assert reply.code == 'WRONGPASS'


def test_a_silent_peer_meets_the_deadline(pair):
    with pytest.raises(Deadline, match='command_timeout'):
        RespConnection(pair[0], 0.2).call('PING')


def test_a_reply_cut_short_meets_the_deadline(pair):
    with pytest.raises(Deadline):
        answer(pair, b'$10\r\nabc', timeout=0.2).call('INFO')


def test_a_closed_connection_is_a_protocol_error(pair):
    pair[1].shutdown(socket.SHUT_WR)
    with pytest.raises(ProtocolError, match='closed'):
        RespConnection(pair[0], 5).call('PING')


@pytest.mark.parametrize('data', [
    b'HTTP/1.1 400 Bad Request\r\n',
    b'$abc\r\n',
    b'$999999999999\r\n',
    b'$2\r\nabXY',
])
def test_a_peer_that_is_no_redis(pair, data):
    with pytest.raises(ProtocolError):
        answer(pair, data, timeout=0.5).call('PING')


def test_parse_info():
    info = parse_info('# Server\r\nredis_version:7.0.15\r\nrole:master\r\n\r\n# Replication\r\n'
                      'connected_slaves:1\r\nslave0:ip=127.0.0.1,port=6380,state=online,offset=5,lag=1\r\n'
                      'master_failover_state:no-failover\r\n')
    assert info['redis_version'] == '7.0.15'
    assert info['slave0'] == {'ip': '127.0.0.1', 'port': '6380', 'state': 'online', 'offset': '5', 'lag': '1'}
    assert number(info, 'connected_slaves') == 1
    assert number(info, 'role') is None
    assert number(info, 'slave0') is None
    assert number(info, 'missing') is None


def test_number_refuses_what_is_not_finite():
    assert number({'a': 'nan'}, 'a') is None
    assert number({'a': 'inf'}, 'a') is None
    assert number({'a': '1.5'}, 'a') == 1.5


def test_config_value():
    assert config_value(['maxmemory', '0']) == '0'
    assert config_value([]) is None
    assert config_value(RedisError('NOPERM')) is None


def test_save_age_uses_the_server_clock_and_is_never_negative():
    assert save_age({'rdb_last_save_time': '1000', 'server_time_usec': '1060000000'}, now=5000) == 60
    # A save stamped after the reference clock (clocks apart, rounding) is an age of 0, not negative.
    assert save_age({'rdb_last_save_time': '1000'}, now=990) == 0
    assert save_age({'rdb_last_save_time': '1000'}, now=1030) == 30
    assert save_age({}, now=1) is None
