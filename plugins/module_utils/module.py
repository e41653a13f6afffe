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


def nul_parameters(params, spec=None):
    """Names of the parameters holding a NUL byte anywhere (in a string, a list or a mapping).

    With the argument_spec, a suboption is named by its path (``endpoints[0].url``), so the message
    points at the entry that holds it.
    """
    def holds_nul(value):
        if isinstance(value, str):
            return '\x00' in value
        if isinstance(value, (list, tuple)):
            return any(holds_nul(item) for item in value)
        if isinstance(value, dict):
            return any(holds_nul(k) or holds_nul(v) for k, v in value.items())
        return False

    found = []
    for name, value in params.items():
        options = ((spec or {}).get(name) or {}).get('options')
        if options and isinstance(value, dict):
            found.extend('%s.%s' % (name, sub) for sub in nul_parameters(value, options))
        elif options and isinstance(value, (list, tuple)) and all(isinstance(item, dict) for item in value):
            for index, item in enumerate(value):
                found.extend('%s[%d].%s' % (name, index, sub) for sub in nul_parameters(item, options))
        elif holds_nul(value):
            found.append(name)
    return sorted(found)


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
        bad = nul_parameters(self.params, self.argument_spec)
        if bad:
            self.fail_json(msg='; '.join('%s: must not contain a NUL byte' % name for name in bad))
