# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""http_check run through Ansible on localhost against the project's tiny HTTP(S) server on
127.0.0.1, a closed port, a port that accepts and never answers and one that trickles bytes."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import threading

import pytest

from .generated_input import SilentPort, closed_port
from .http_server import HttpServer
from .tlsutil import make_cert

pytestmark = pytest.mark.http

MODULE = 'fleetops.runbook.http_check'
SECRET = 'Bearer fleetops-s3cret-T0ken-4711'


def one(result, name, target):
    found = [c for c in result['checks'] if c['name'] == name and c['target'] == target]
    assert len(found) == 1, (name, target, result['checks'])
    return found[0]


def endpoint(result, name):
    found = [e for e in result['endpoints'] if e['name'] == name]
    assert len(found) == 1, (name, result['endpoints'])
    return found[0]


@pytest.fixture(scope='module')
def server():
    with HttpServer() as srv:
        yield srv


@pytest.fixture
def web(server):
    server.reset()
    return server


@pytest.fixture(scope='module')
def ports():
    silent = SilentPort()
    sock, closed = closed_port()
    yield {'silent': silent.port, 'closed': closed}
    silent.stop()
    sock.close()


class TricklePort:
    """Answers every connection with bytes sent one at a time, 0.2 s apart, forever
    (a socket timeout alone would never expire)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped.is_set():
            try:
                conn, dummy = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn):
        with conn:
            while not self.stopped.wait(0.2):
                try:
                    conn.sendall(b'X')
                except OSError:
                    return

    def stop(self):
        self.stopped.set()
        self.sock.close()


def run(ansible, endpoints, check=False, **args):
    args.setdefault('fail_on', 'never')
    return ansible.module(MODULE, dict(endpoints=endpoints, **args), check=check)


def test_availability_status_codes_and_reasons(ansible, web, ports):
    result = run(ansible, [
        dict(name='fast', url=web.url('/fast'), body_pattern='hello from'),
        dict(name='error', url=web.url('/error')),
        dict(name='error_expected', url=web.url('/error'), status_codes=[500, 503]),
        dict(name='flaky', url=web.url('/flaky?every=2')),
        dict(name='wrong_body', url=web.url('/fast'), body_pattern='^goodbye'),
        dict(name='missing', url=web.url('/nothing')),
        dict(name='closed', url='http://127.0.0.1:%d/health' % ports['closed']),
    ], probes=4, timeout=5)
    assert not result.get('failed')
    assert result['status'] == 'CRITICAL'
    fast = endpoint(result, 'fast')
    assert (fast['availability'], fast['succeeded'], fast['probes'], fast['answered']) == (100.0, 4, 4, 4)
    assert fast['status_codes'] == {'200': 4} and fast['failures'] == []
    assert set(fast['latency']) == {'p50', 'p95', 'p99', 'max'}
    assert fast['latency']['p50'] <= fast['latency']['p95'] <= fast['latency']['p99'] <= fast['latency']['max']
    assert one(result, 'availability', 'fast')['status'] == 'OK'
    assert one(result, 'latency_p95', 'fast')['status'] == 'OK'

    error = endpoint(result, 'error')
    assert error['availability'] == 0.0 and error['status_codes'] == {'500': 4}
    assert error['failures'] == [{'reason': 'status_mismatch', 'count': 4, 'detail': 'got 500, expected 200'}]
    assert one(result, 'availability', 'error')['status'] == 'CRITICAL'
    # An answer with the wrong status is still an answer: it has a latency.
    assert error['answered'] == 4 and one(result, 'latency_p95', 'error')['status'] == 'OK'

    assert endpoint(result, 'error_expected')['availability'] == 100.0

    flaky = endpoint(result, 'flaky')
    assert flaky['availability'] == 50.0 and flaky['status_codes'] == {'200': 2, '500': 2}
    assert one(result, 'availability', 'flaky')['status'] == 'CRITICAL'
    assert '2 of 4 probes succeeded' in one(result, 'availability', 'flaky')['message']

    wrong = endpoint(result, 'wrong_body')
    assert [(f['reason'], f['count']) for f in wrong['failures']] == [('body_mismatch', 4)]

    assert [(f['reason'], f['count']) for f in endpoint(result, 'missing')['failures']] == [('status_mismatch', 4)]

    closed = endpoint(result, 'closed')
    assert closed['availability'] == 0.0 and closed['answered'] == 0 and closed['latency'] is None
    assert [(f['reason'], f['count']) for f in closed['failures']] == [('connection_refused', 4)]
    assert not [c for c in result['checks'] if c['target'] == 'closed' and c['name'] != 'availability']
    assert '4 connection_refused' in one(result, 'availability', 'closed')['message']


def test_json_field(ansible, web):
    result = run(ansible, [
        dict(name='ok', url=web.url('/json'), json_field='status', json_value='ok'),
        dict(name='nested', url=web.url('/json'), json_field='data.replicas', json_value=2.0),
        dict(name='listed', url=web.url('/json'), json_field='items.0.name', json_value='first'),
        dict(name='down', url=web.url('/json'), json_field='data.db', json_value='down'),
        dict(name='absent', url=web.url('/json'), json_field='data.cache', json_value='up'),
        dict(name='not_json', url=web.url('/fast'), json_field='status', json_value='ok'),
    ], probes=2)
    for name in ('ok', 'nested', 'listed'):
        assert endpoint(result, name)['availability'] == 100.0, endpoint(result, name)
    assert endpoint(result, 'down')['failures'] == [
        {'reason': 'json_mismatch', 'count': 2, 'detail': 'data.db is "up", expected "down"'}]
    assert endpoint(result, 'absent')['failures'][0]['detail'] == 'data.cache is missing'
    assert endpoint(result, 'not_json')['failures'][0]['detail'] == 'the body is not JSON'


def test_slow_endpoint_breaks_the_p95_threshold(ansible, web):
    # A small critical threshold instead of a 5 s sleep: the probe takes at least 1 s.
    result = run(ansible, [
        dict(name='slow', url=web.url('/slow?delay=1'), thresholds={'latency_p95': {'critical': '~:0.5'}}),
        dict(name='fast', url=web.url('/fast')),
    ], probes=2, timeout=20)
    p95 = one(result, 'latency_p95', 'slow')
    assert p95['status'] == 'CRITICAL' and p95['value'] >= 1.0
    assert p95['critical'] == '~:0.5' and p95['warning'] == '~:2'
    assert '(critical ~:0.5)' in p95['message']
    # The override is the slow endpoint's own; the module-wide default stays for the other.
    assert one(result, 'latency_p95', 'fast')['critical'] == '~:5'
    assert endpoint(result, 'slow')['availability'] == 100.0
    assert result['status'] == 'CRITICAL'


def test_module_thresholds_and_status_model_outputs(ansible, web):
    result = run(ansible, [dict(name='fast', url=web.url('/fast'))], probes=3,
                 thresholds={'availability': {'warning': '100:', 'critical': '50:'}, 'latency_max': {'warning': '~:30'}})
    availability = one(result, 'availability', 'fast')
    assert (availability['warning'], availability['critical'], availability['status']) == ('100:', '50:', 'OK')
    assert one(result, 'latency_max', 'fast')['warning'] == '~:30'
    assert "'availability fast'=100%;100:;50:;0;100" in result['perfdata']
    assert 'latency_p95 fast=' in result['perfdata'] or "'latency_p95 fast'=" in result['perfdata']
    assert any('check="availability"' in line and 'target="fast"' in line and line.endswith(' 100.0')
               for line in result['metrics'])
    assert result['summary'] == 'OK: 5 OK'


def test_silent_port_times_out(ansible, ports):
    result = run(ansible, [dict(name='silent', url='http://127.0.0.1:%d/' % ports['silent'])], probes=2, timeout=1)
    silent = endpoint(result, 'silent')
    assert silent['availability'] == 0.0 and silent['latency'] is None
    assert [(f['reason'], f['count']) for f in silent['failures']] == [('timeout', 2)]
    assert one(result, 'availability', 'silent')['status'] == 'CRITICAL'


def test_trickling_server_ends_at_the_probe_timeout(ansible):
    trickle = TricklePort()
    try:
        result = ansible.module(MODULE, dict(endpoints=[dict(name='trickle', url='http://127.0.0.1:%d/' % trickle.port)],
                                             probes=1, timeout=1.5, fail_on='never'), timeout=120)
    finally:
        trickle.stop()
    assert [f['reason'] for f in endpoint(result, 'trickle')['failures']] == ['timeout']


def test_failed_task_still_returns_every_key(ansible, web):
    result = ansible.module(MODULE, dict(endpoints=[dict(name='error', url=web.url('/error'))], probes=1))
    assert result['failed'] is True and result['status'] == 'CRITICAL'
    assert result['msg'] == result['summary']
    assert endpoint(result, 'error')['failures'][0]['reason'] == 'status_mismatch'


def test_secret_header_is_sent_and_never_shown(ansible, web):
    out = ansible.tasks([{'name': 'probe', MODULE: dict(
        endpoints=[dict(name='api', url=web.url('/fast'), headers={'Accept': 'text/plain'},
                        secret_headers={'Authorization': SECRET, 'X-Api-Key': 'k3y-' + SECRET})],
        probes=2, fail_on='never')}], verbosity=3)
    assert out.rc == 0, out
    sent = [r['headers'] for r in web.requests]
    assert len(sent) == 2
    assert all(h.get('Authorization') == SECRET and h.get('X-Api-Key') == 'k3y-' + SECRET for h in sent)
    assert all(h.get('Accept') == 'text/plain' for h in sent)
    assert 'fleetops-s3cret' not in out.stdout and 'fleetops-s3cret' not in out.stderr
    assert out.task('probe')['endpoints'][0]['availability'] == 100.0


def test_check_mode_probes_only_safe_methods(ansible, web):
    result = run(ansible, [
        dict(name='get', url=web.url('/fast')),
        dict(name='head', url=web.url('/fast'), method='HEAD'),
        dict(name='post', url=web.url('/fast'), method='POST', body='{}'),
    ], probes=2, check=True)
    assert sorted(r['method'] for r in web.requests) == ['GET', 'GET', 'HEAD', 'HEAD']
    post = endpoint(result, 'post')
    assert post['skipped'] is True and post['probes'] == 0
    check = one(result, 'availability', 'post')
    assert check['status'] == 'OK' and check['value'] is None
    assert 'not probed in check mode' in check['message']
    assert endpoint(result, 'head')['availability'] == 100.0
    # Outside check mode the POST is made, with its body.
    web.reset()
    run(ansible, [dict(name='post', url=web.url('/fast'), method='POST', body='{"a": 1}')], probes=1)
    assert [(r['method'], r['body']) for r in web.requests] == [('POST', b'{"a": 1}')]


@pytest.fixture(scope='module')
def tls(tmp_path_factory):
    directory = tmp_path_factory.mktemp('http_tls')
    ca = make_cert('Fleetops HTTP Test CA', days_left=400, ca=True)
    leaf = make_cert('localhost', days_left=90, names=['localhost'], ips=['127.0.0.1'], issuer=ca)
    cert, key = leaf.write(directory, 'server')
    ca_path, dummy = ca.write(directory, 'ca')
    with HttpServer(cert=cert, key=key) as srv:
        yield srv, ca_path


def test_tls_with_a_ca_file(ansible, tls):
    srv, ca_path = tls
    result = run(ansible, [
        dict(name='verified', url=srv.url('/fast'), ca_path=str(ca_path)),
        dict(name='unknown_ca', url=srv.url('/fast')),
        dict(name='unverified', url=srv.url('/fast'), validate_certs=False),
    ], probes=2)
    assert endpoint(result, 'verified')['availability'] == 100.0
    assert endpoint(result, 'unverified')['availability'] == 100.0
    failures = endpoint(result, 'unknown_ca')['failures']
    assert [(f['reason'], f['count']) for f in failures] == [('tls_error', 2)]
    assert 'certificate' in failures[0]['detail']


@pytest.mark.parametrize('spec,args,names', [
    (dict(url='ftp://127.0.0.1/x'), {}, 'endpoints[0].url'),
    (dict(url='http://user:pw@127.0.0.1/'), {}, 'endpoints[0].url'),
    (dict(url='http://127.0.0.1:99999/'), {}, 'endpoints[0].url'),
    (dict(url='http://127.0.0.1/', body_pattern='(unclosed'), {}, 'endpoints[0].body_pattern'),
    (dict(url='http://127.0.0.1/', json_field='status'), {}, 'endpoints[0].json_value'),
    (dict(url='http://127.0.0.1/', json_field='a..b', json_value=1), {}, 'endpoints[0].json_field'),
    (dict(url='http://127.0.0.1/', status_codes=[700]), {}, 'endpoints[0].status_codes'),
    (dict(url='http://127.0.0.1/', headers={'Authorization': 'Basic eA=='}), {}, 'endpoints[0].headers'),
    (dict(url='http://127.0.0.1/', headers={'Bad Name': 'x'}), {}, 'endpoints[0].headers'),
    (dict(url='http://127.0.0.1/', probes=0), {}, 'endpoints[0].probes'),
    (dict(url='http://127.0.0.1/', timeout=-1), {}, 'endpoints[0].timeout'),
    (dict(url='http://127.0.0.1/', thresholds={'latency_p95': {'warning': '5:3'}}), {}, 'endpoints[0].thresholds.latency_p95.warning'),
    (dict(url='http://127.0.0.1/'), {'thresholds': {'latency': {'warning': 1}}}, 'thresholds: unknown check'),
    (dict(url='http://127.0.0.1/'), {'timeout': 0}, 'timeout: must be greater than 0'),
    (dict(url='http://127.0.0.1/'), {'concurrency': 0}, 'concurrency'),
    (dict(url='https://127.0.0.1/', ca_path='/'), {}, 'endpoints[0].ca_path'),
    (dict(url='https://127.0.0.1/', ca_path='/etc/hostname', validate_certs=False), {}, 'endpoints[0].ca_path'),
])
def test_bad_input_names_the_parameter(ansible, spec, args, names):
    result = ansible.module(MODULE, dict(endpoints=[spec], **args))
    assert result['failed'] is True
    assert names in result['msg'], result['msg']
    assert 'Traceback' not in result.get('module_stderr', '')


def test_duplicate_names_are_refused(ansible):
    result = ansible.module(MODULE, dict(endpoints=[dict(url='http://127.0.0.1/a', name='x'),
                                                    dict(url='http://127.0.0.1/b', name='x')]))
    assert result['failed'] is True and result['msg'].startswith('endpoints[1].name:')


def test_probes_of_endpoints_run_concurrently_within_the_deadline(ansible, ports):
    """Four silent endpoints of one probe with a 2 s timeout: each ends as a timeout (the module
    returned; no assertion on how long it took)."""
    endpoints = [dict(name='silent%d' % i, url='http://127.0.0.1:%d/%d' % (ports['silent'], i)) for i in range(4)]
    result = ansible.module(MODULE, dict(endpoints=endpoints, probes=1, timeout=2, concurrency=4, fail_on='never'),
                            timeout=300)
    for i in range(4):
        assert [f['reason'] for f in endpoint(result, 'silent%d' % i)['failures']] == ['timeout']


NGINX_CONF = '''
user %(user)s;
worker_processes 1;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %(dir)s/tmp/body;
    proxy_temp_path %(dir)s/tmp/proxy;
    fastcgi_temp_path %(dir)s/tmp/fastcgi;
    uwsgi_temp_path %(dir)s/tmp/uwsgi;
    scgi_temp_path %(dir)s/tmp/scgi;
    default_type text/plain;
    server {
        listen 127.0.0.1:%(port)d;
        root %(dir)s/www;
    }
    server {
        listen 127.0.0.1:%(tls_port)d ssl;
        ssl_certificate %(cert)s;
        ssl_certificate_key %(key)s;
        root %(dir)s/www;
    }
}
'''


def _free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture(scope='module')
def nginx(tmp_path_factory):
    """Debian's nginx (make installs nginx-light) serving a static file over HTTP and over TLS with
    a certificate of a test CA."""
    binary = shutil.which('nginx') or '/usr/sbin/nginx'
    directory = tmp_path_factory.mktemp('nginx')
    (directory / 'tmp').mkdir()
    (directory / 'www').mkdir()
    (directory / 'www' / 'status.json').write_text('{"service": "web", "healthy": true}\n')
    ca = make_cert('Fleetops nginx Test CA', days_left=400, ca=True)
    cert, key = make_cert('localhost', days_left=90, names=['localhost'], ips=['127.0.0.1'], issuer=ca).write(directory, 'server')
    ca_path, dummy = ca.write(directory, 'ca')
    values = dict(user=getpass.getuser(), dir=directory, port=_free_port(), tls_port=_free_port(), cert=cert, key=key)
    conf = directory / 'nginx.conf'
    conf.write_text(NGINX_CONF % values)
    subprocess.run([binary, '-t', '-c', str(conf), '-p', str(directory)], check=True, capture_output=True)
    proc = subprocess.Popen([binary, '-c', str(conf), '-p', str(directory), '-g', 'daemon off;'],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for dummy in range(600):
            try:
                socket.create_connection(('127.0.0.1', values['tls_port']), timeout=1).close()
                break
            except OSError:
                proc.poll()
                assert proc.returncode is None, (directory / 'error.log').read_text()
                threading.Event().wait(0.1)
        yield {'http': 'http://127.0.0.1:%d' % values['port'], 'https': 'https://127.0.0.1:%d' % values['tls_port'],
               'ca_path': str(ca_path)}
    finally:
        proc.terminate()
        proc.wait(30)


def test_nginx_static_file_over_http_and_tls(ansible, nginx):
    result = run(ansible, [
        dict(name='plain', url=nginx['http'] + '/status.json', json_field='healthy', json_value=True),
        dict(name='tls', url=nginx['https'] + '/status.json', ca_path=nginx['ca_path'], body_pattern='"service": "web"'),
        dict(name='tls_untrusted', url=nginx['https'] + '/status.json'),
        dict(name='absent', url=nginx['http'] + '/missing.html'),
        dict(name='head', url=nginx['https'] + '/status.json', method='HEAD', validate_certs=False),
    ], probes=3)
    assert endpoint(result, 'plain')['availability'] == 100.0
    assert endpoint(result, 'tls')['availability'] == 100.0
    assert endpoint(result, 'head')['availability'] == 100.0
    assert one(result, 'availability', 'tls')['status'] == 'OK'
    assert [(f['reason'], f['count']) for f in endpoint(result, 'tls_untrusted')['failures']] == [('tls_error', 3)]
    absent = endpoint(result, 'absent')
    assert absent['status_codes'] == {'404': 3}
    assert absent['failures'] == [{'reason': 'status_mismatch', 'count': 3, 'detail': 'got 404, expected 200'}]
