# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cases of the generated-input gate (tests/integration/test_generated_input.py).

The argument_spec each module and action plugin really uses is captured by running its code with
``AnsibleModule`` (modules) or ``validate_argument_spec`` (action plugins) replaced by a recorder.
For every option, down to suboptions, junk is generated for its type: a fixed list of nasty values
plus a bounded, derandomized set of hypothesis examples. Every other option keeps a sane value, so
one case exercises one option.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import json
import os
import socket
import threading
from pathlib import Path
from unittest import mock

from hypothesis import HealthCheck, Phase, given, settings, strategies as st

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / '.cache' / 'collections'
PREFIX = 'ansible_collections.fleetops.runbook.plugins.'

MODULES = ('backup_verify', 'cert_check', 'container_check', 'db_restore', 'http_check', 'incident_evidence',
           'log_cleanup', 'log_stats', 'pg_bloat', 'pg_health', 'redis_check', 'resource_check', 'security_audit',
           'service_check', 'slow_queries')
ACTIONS = ('apt_packages', 'capacity_trend', 'fleet_report', 'notify')
# Action plugins that take no task arguments: they read the role's variables, and their own tests
# feed those bad values (daily_checks_preflight: tests/unit/plugins/plugin_utils/test_preflight.py
# and test_daily_checks.py::test_configuration_mistakes_fail_before_any_host_is_touched).
NO_ARGUMENT_ACTIONS = ('daily_checks_preflight',)
# Modules whose default thresholds live in a module_utils file of another name.
THRESHOLD_HOMES = {'resource_check': 'resource'}

# Hypothesis examples per option, on top of the fixed nasty values.
EXAMPLES = 6


class _Captured(Exception):
    pass


def _import(kind, name):
    return importlib.import_module(PREFIX + kind + '.' + name)


def _plain(spec):
    """A spec without what JSON cannot hold (fallbacks), suboptions included."""
    out = {}
    for option, desc in spec.items():
        desc = dict(desc)
        desc.pop('fallback', None)
        if desc.get('options'):
            desc['options'] = _plain(desc['options'])
        out[option] = desc
    return out


def module_spec(name):
    """The argument_spec the module passes to AnsibleModule."""
    module = _import('modules', name)

    def recorder(*args, **kwargs):
        raise _Captured(kwargs.get('argument_spec', args[0] if args else None))

    # Most modules build a RunbookModule, the AnsibleModule that names a NUL byte.
    classes = [attr for attr in ('AnsibleModule', 'RunbookModule') if hasattr(module, attr)]
    with contextlib.ExitStack() as stack:
        for attr in classes:
            stack.enter_context(mock.patch.object(module, attr, recorder))
        try:
            module.main()
        except _Captured as exc:
            return _plain(exc.args[0])
    raise AssertionError('%s: main() never built an AnsibleModule' % name)


def action_spec(name):
    """The argument_spec the action plugin validates its arguments with."""
    from ansible.plugins.action import ActionBase
    plugin = _import('action', name)

    def recorder(self, argument_spec=None, **kwargs):
        raise _Captured(argument_spec)

    with mock.patch.object(ActionBase, 'run', lambda self, tmp=None, task_vars=None: {}), \
            mock.patch.object(ActionBase, 'validate_argument_spec', recorder):
        action = plugin.ActionModule(*(mock.MagicMock() for dummy in range(6)))
        try:
            action.run(task_vars={})
        except _Captured as exc:
            return _plain(exc.args[0])
    raise AssertionError('%s: run() never validated its arguments' % name)


def threshold_names(kind, name):
    """Check names the module's ``thresholds`` option knows."""
    if name == 'capacity_trend':
        return ['disk', 'inodes', 'database_size']
    module = _import(kind, name)
    defaults = getattr(module, 'DEFAULT_THRESHOLDS', None)
    if defaults is None:
        defaults = getattr(_import('module_utils', THRESHOLD_HOMES.get(name, name)), 'DEFAULT_THRESHOLDS', {})
    return sorted(defaults)


# --- the test bed: files of every kind and two loopback ports -------------------------------------

class SilentPort:
    """A loopback listener that accepts connections and never answers."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held = []
        self.stopped = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopped:
            try:
                conn, dummy = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def stop(self):
        self.stopped = True
        self.sock.close()
        for conn in self.held:
            conn.close()


def closed_port():
    """A loopback port nothing listens on: bound and never listening, so nothing else can take it
    (a throwaway cluster of another test, say) while connections to it are refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(('127.0.0.1', 0))
    return sock, sock.getsockname()[1]


class Bed:
    """The test's temporary directory with one path of every awkward kind."""

    def __init__(self, root, silent_port):
        self.root = Path(root)
        self.silent = silent_port
        self.closed_socket, self.closed = closed_port()
        self.home = self.root / 'home'
        self.cwd = self.root / 'cwd'
        for directory in (self.home, self.cwd, self.root / 'dir', self.root / 'logs', self.root / 'history',
                          self.root / 'etc', self.root / 'www', self.root / 'evidence', self.root / 'reports'):
            directory.mkdir(parents=True, exist_ok=True)
        self.file = self.root / 'file.txt'
        self.file.write_text('not what any module expects\n')
        (self.root / 'logs' / 'old.log').write_text('x\n')
        (self.root / 'access.log').write_text(
            '127.0.0.1 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"\n')
        self.dump = self.root / 'db.dump'
        self.dump.write_bytes(b'PGDMP junk that is no archive\n')
        self.fifo = self.root / 'fifo'
        os.mkfifo(str(self.fifo))
        self.loop = self.root / 'loop'
        os.symlink(str(self.root / 'loop2'), str(self.loop))
        os.symlink(str(self.loop), str(self.root / 'loop2'))
        self.missing = self.root / 'missing' / 'nothing.here'

    def inside(self, value):
        """Whether a path argument stays within the test's directory (relative: from cwd)."""
        if not isinstance(value, str) or '\x00' in value:
            return True
        path = os.path.expanduser(value) if value.startswith('~/') or value == '~' else value
        if value.startswith('~') and not value.startswith('~/') and value != '~':
            return False
        full = os.path.normpath(os.path.join(str(self.cwd), path)) if value else str(self.cwd)
        return full == str(self.root) or full.startswith(str(self.root) + os.sep)

    def path_values(self, writable):
        """Nasty path values; only paths in the test's directory when the option may be written."""
        values = [str(self.missing), str(self.root / 'dir'), str(self.fifo), str(self.loop),
                  str(self.file), '', 'relative/in/cwd', str(self.root / 'dir') + '/../dir/./x\x00y',
                  str(self.root / ('\u00e9\u6f22\u5b57' * 20)), str(self.root / ('n' * 300))]
        if not writable:
            values += ['/dev/zero', '/dev/null', '/', '/proc/self/mem', '~nosuchuser/x']
        return values


# --- junk per type --------------------------------------------------------------------------------

NAN, INF = float('nan'), float('inf')
LONG_UNICODE = ('\u202e\u00e9\u6f22\u5b57\U0001f4a5\u0301' * 2000)[:10000]
NASTY_ANY = [None, '', ' ', 'a\x00b', '\x00', LONG_UNICODE, 'x' * 100000, -1, 0, 10 ** 30, -10 ** 30,
             1.5, NAN, INF, -INF, 'nan', 'inf', '-inf', True, False, [], {}, [1, 'a', None],
             {'a': {'b': [None]}}]
NASTY_RANGES = ['5:3', '@', '~:x', ':', '@~:', '10:inf', 'nan', 'inf', '-inf', '1e400', '--1', '@:',
                '~', '1:2:3', ' ', 'x', '\x00', NAN, INF, -INF, 10 ** 400, [1, 2], {'x': 1}, True]
NASTY_DURATIONS = ['-5m', '0', '1x', 'h', '99999999999999999999d', 'nan', 'inf', '1e400s', '\x00', '5 m',
                   '1h1h', NAN, INF, -1, 10 ** 30]

_TEXT = st.text(max_size=40)
_NUMBER = st.one_of(st.integers(), st.integers(min_value=-2 ** 70, max_value=2 ** 70), st.floats())
_SCALAR = st.one_of(st.none(), st.booleans(), _NUMBER, _TEXT)
_JSON = st.recursive(
    _SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_TEXT, inner, max_size=4)),
    max_leaves=8)
_RANGE = st.one_of(st.none(), _NUMBER, st.text(alphabet='0123456789.:@~-+einfa x', max_size=12))


def _thresholds_strategy(names):
    levels = st.fixed_dictionaries({}, optional={'warning': _RANGE, 'critical': _RANGE})
    return st.dictionaries(st.sampled_from(names + ['no_such_check']) if names else _TEXT,
                           st.one_of(levels, _SCALAR, st.dictionaries(_TEXT, _SCALAR, max_size=2)),
                           max_size=3)


def strategy_for(desc, option, names):
    kind = desc.get('type', 'str')
    if option in ('thresholds',):
        return st.one_of(_thresholds_strategy(names), _SCALAR)
    if kind == 'int':
        return st.one_of(_NUMBER, _TEXT)
    if kind == 'float':
        return st.one_of(st.floats(), _NUMBER, st.text(alphabet='0123456789.e+-nafi x', max_size=10))
    if kind == 'bool':
        return st.one_of(st.booleans(), _TEXT, st.integers())
    if kind == 'list':
        element = strategy_for({'type': desc.get('elements', 'str')}, option, names) \
            if desc.get('elements') != 'dict' else st.dictionaries(_TEXT, _SCALAR, max_size=3)
        if desc.get('choices'):
            element = st.one_of(st.sampled_from(desc['choices']), element)
        return st.one_of(st.lists(element, max_size=5), _SCALAR)
    if kind == 'dict':
        return st.one_of(st.dictionaries(_TEXT, _JSON, max_size=4), _SCALAR)
    if kind == 'raw':
        return _JSON
    if desc.get('choices'):
        return st.one_of(st.sampled_from(desc['choices']), _TEXT, _NUMBER)
    return st.one_of(_TEXT, _NUMBER)


def draw(strategy, count):
    """``count`` examples of ``strategy``, the same on every run (derandomized, no database)."""
    drawn = []

    @settings(max_examples=count * 3, derandomize=True, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), deadline=None)
    @given(strategy)
    def collect(value):
        drawn.append(value)

    collect()
    unique, seen = [], set()
    for value in drawn:
        key = json.dumps(value, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            unique.append(value)
    return unique[:count]


PATH_OPTIONS = frozenset(('path', 'dest', 'state_path', 'state_file', 'history_dir', 'access_logs', 'log_paths',
                          'auth_log_paths', 'etc_paths', 'world_writable_paths', 'include_mounts', 'paths',
                          'key_path', 'ca_path', 'ca_cert', 'login_unix_socket'))
# Options whose paths a module or plugin may write to (or delete from): only the test's directory.
WRITABLE = frozenset(('backup_verify.path', 'incident_evidence.dest', 'fleet_report.dest', 'notify.state_path',
                      'log_cleanup.paths', 'capacity_trend.history_dir', 'db_restore.path', 'log_stats.state_file'))
DURATION_OPTIONS = frozenset(('max_age', 'age'))


def nasty_values(name, option_path, desc, bed, names):
    option = option_path.split('.')[-1]
    kind = desc.get('type', 'str')
    values = list(NASTY_ANY)
    if option in PATH_OPTIONS:
        paths = bed.path_values(name + '.' + option_path in WRITABLE)
        values += [[p] for p in paths] if kind == 'list' else paths
    if option in DURATION_OPTIONS:
        values += NASTY_DURATIONS
    if option == 'thresholds':
        for check in names[:3] or ['x']:
            values += [{check: {'warning': r}} for r in NASTY_RANGES]
            values += [{check: 5}, {check: '5:3'}, {check: [1]}, {check: {'bogus': 1}},
                       {check: {'warning': '10', 'critical': '5:3'}}]
        values += [{'no_such_check': {'warning': '1'}}, {'': None}]
    if option in ('login_port', 'port'):
        values += [bed.closed, bed.silent, 65536, 0, -1, '5432x']
    if option in ('login_host', 'host'):
        values += ['127.0.0.1', '::1', '/nonexistent/socket/dir', 'host\x00name', '256.1.1.1', 'a' * 300]
    if option == 'address':
        values += ['127.0.0.1:%d' % bed.closed, '127.0.0.1:%d' % bed.silent, '127.0.0.1', '127.0.0.1:0',
                   '127.0.0.1:99999', '[::1]:%d' % bed.closed, ':443', 'host:port:extra']
    if option == 'url':
        values += ['http://127.0.0.1:%d/' % bed.silent, 'https://127.0.0.1:%d/' % bed.closed, 'ftp://x', 'http://',
                   'http://user:pw@127.0.0.1:%d/' % bed.closed, 'http://127.0.0.1:99999/', 'http://[::1/']
    if option == 'webhook_url':
        values += ['http://127.0.0.1:%d/hook' % bed.silent, 'https://127.0.0.1:%d/hook' % bed.closed,
                   'ftp://x', 'https://', 'https://hooks.slack.com/\x00']
    if desc.get('choices'):
        values += [c.upper() for c in desc['choices'][:2]] + [desc['choices'][0] + '\x00']
    return values


def _set(args, option_path, value):
    parts = option_path.split('.')
    if len(parts) == 1:
        args[parts[0]] = value
        return args
    parent, sub = parts
    if isinstance(args.get(parent), list):
        item = dict(args[parent][0])
        item[sub] = value
        args[parent] = [item]
    else:
        holder = dict(args.get(parent) or {})
        holder[sub] = value
        args[parent] = holder
    return args


def option_paths(spec):
    """Every option as a dotted path (``parent.sub`` for suboptions) with its description."""
    for option, desc in sorted(spec.items()):
        yield option, desc
        for sub, sub_desc in sorted((desc.get('options') or {}).items()):
            yield option + '.' + sub, sub_desc


def cases_for(name, kind, spec, base, bed, examples=EXAMPLES, combined=None):
    """The gate's cases for one module or action plugin: (id, option path, args).

    ``combined`` maps an option to other options set with it, so that its junk reaches the code
    that uses it (a restore timeout only matters with restore_check on).
    """
    names = threshold_names(kind, name) if 'thresholds' in spec else []
    cases = [('%s:base' % name, None, copy.deepcopy(base))]
    for path, desc in option_paths(spec):
        option = path.split('.')[-1]
        values = nasty_values(name, path, desc, bed, names)
        generated = draw(strategy_for(desc, option, names), examples)
        if option in PATH_OPTIONS:
            # Generated path text goes below the test's directory.
            generated = [os.path.join(str(bed.root), v.lstrip('/')) if isinstance(v, str) else v
                         for v in generated]
        seen = set()
        for index, value in enumerate(values + generated):
            key = json.dumps(value, sort_keys=True, default=repr)
            if key in seen:
                continue
            seen.add(key)
            writable = name + '.' + path in WRITABLE
            if writable and not all(bed.inside(v) for v in (value if isinstance(value, list) else [value])):
                continue
            args = _set(dict(copy.deepcopy(base), **(combined or {}).get(path, {})), path, value)
            if '.' in path and not isinstance(base.get(path.split('.')[0]), (list, dict)):
                continue
            cases.append(('%s:%s:%d' % (name, path, index), path, args))
    return cases


def spec_names(spec, option_path):
    """Names a message may use for an option: its name, its aliases and its dotted path."""
    parts = option_path.split('.')
    desc = spec[parts[0]]
    if len(parts) == 2:
        desc = desc['options'][parts[1]]
    return [option_path, parts[-1]] + list(desc.get('aliases') or [])
