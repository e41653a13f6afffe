# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The AnsibleModule every module of the collection builds.

A NUL byte can stand in no path, name, address or password the modules pass on. Left alone, it
stops the module in Ansible's own log of the invocation ("Failed to log to syslog"), a message that
does not say which parameter held it, or, with ``no_log``, deep in a system call as a traceback.
:class:`RunbookModule` refuses it first and names the parameter, never its value (it may be a
password).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.basic import AnsibleModule


def nul_parameters(params, prefix=''):
    """Where NUL bytes stand in ``params``: ``name``, ``name[2]``, ``name.key``, ``name[0].path``.

    A mapping key holding one is reported as its mapping. Values are never part of the answer.
    """
    found = []

    def walk(value, label):
        if isinstance(value, str):
            if '\x00' in value:
                found.append(label)
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                walk(item, '%s[%d]' % (label, index))
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and '\x00' in key:
                    found.append(label)
                else:
                    walk(item, '%s.%s' % (label, key))

    for name in sorted(params):
        walk(params[name], prefix + name)
    return sorted(set(found))


def nul_errors(params):
    """One message per place that holds a NUL byte, naming it."""
    return ['%s: must not contain a NUL byte' % where for where in nul_parameters(params)]


class RunbookModule(AnsibleModule):
    """AnsibleModule that fails naming a parameter holding a NUL byte, before anything uses it."""

    def __init__(self, *args, **kwargs):
        super(RunbookModule, self).__init__(*args, **kwargs)
        # With no_log the invocation is not logged (below), so the check runs here as well.
        self._refuse_nul()

    def _log_invocation(self):
        # Runs inside AnsibleModule.__init__, before Ansible's own log line of the parameters.
        self._refuse_nul()
        super(RunbookModule, self)._log_invocation()

    def _refuse_nul(self):
        errors = nul_errors(self.params)
        if errors:
            self.fail_json(msg='; '.join(errors))
