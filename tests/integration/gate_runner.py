# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs one module of the collection on many argument sets, as Ansible runs a module file.

Usage: ``python gate_runner.py MODULE CASES.json RESULTS.json GUARD_SECONDS``.

The module is imported once; every case runs in a forked child that gets its arguments the way
a module file run by Ansible does (``ANSIBLE_MODULE_ARGS`` through ``_load_params``), calls the
module's ``main()`` and writes its stdout and stderr to pipes. A child that has not finished
after GUARD_SECONDS (a hang guard, far above the module's own deadlines) is killed with its
process group and recorded as hung. The parent never runs module code, so every case starts
from the same freshly imported state.
"""

from __future__ import annotations

import importlib
import json
import os
import selectors
import signal
import sys
import time
import traceback


def _child(module, args, cwd, out_w, err_w):
    from ansible.module_utils import basic
    os.setpgid(0, 0)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    sys.stdout = os.fdopen(1, 'w', closefd=False)
    sys.stderr = os.fdopen(2, 'w', closefd=False)
    os.chdir(cwd)
    basic._ANSIBLE_ARGS = json.dumps({'ANSIBLE_MODULE_ARGS': args}).encode()
    basic._ANSIBLE_PROFILE = 'legacy'
    code = 0
    try:
        module.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # pylint: disable=broad-except
        # What Python prints for an uncaught exception in a module run by Ansible.
        traceback.print_exc()
        code = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def _run_case(module, args, cwd, guard):
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(out_r)
        os.close(err_r)
        _child(module, args, cwd, out_w, err_w)
    os.close(out_w)
    os.close(err_w)
    chunks = {out_r: [], err_r: []}
    sel = selectors.DefaultSelector()
    sel.register(out_r, selectors.EVENT_READ)
    sel.register(err_r, selectors.EVENT_READ)
    deadline = time.monotonic() + guard
    hung = False
    open_fds = 2
    while open_fds:
        left = deadline - time.monotonic()
        if left <= 0:
            hung = True
            break
        for key, dummy in sel.select(timeout=min(left, 1.0)):
            data = os.read(key.fd, 65536)
            if data:
                chunks[key.fd].append(data)
            else:
                sel.unregister(key.fd)
                open_fds -= 1
    # A hung case ends here, and so does whatever a finished module left running in its group.
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    dummy, status = os.waitpid(pid, 0)
    sel.close()
    os.close(out_r)
    os.close(err_r)
    return dict(
        hung=hung,
        rc=os.waitstatus_to_exitcode(status),
        stdout=b''.join(chunks[out_r]).decode('utf-8', 'replace'),
        stderr=b''.join(chunks[err_r]).decode('utf-8', 'replace')[-4000:],
    )


def main():
    name, cases_path, results_path, guard = sys.argv[1:5]
    with open(cases_path) as handle:
        cases = json.load(handle)
    module = importlib.import_module('ansible_collections.fleetops.runbook.plugins.modules.' + name)
    results = {}
    for case in cases:
        results[case['id']] = _run_case(module, case['args'], case['cwd'], float(guard))
    with open(results_path, 'w') as handle:
        json.dump(results, handle)


if __name__ == '__main__':
    main()
