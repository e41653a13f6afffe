# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64

from ansible.plugins.action import ActionBase

# invoke-rc.d and deb-systemd-invoke ask this program before a maintainer script starts a service;
# exit 101 means "not now" (Debian's policy-rc.d interface).
POLICY_RC_D = '/usr/sbin/policy-rc.d'
POLICY_MARKER = 'fleetops.runbook.apt_packages start_services=false'
POLICY_SCRIPT = '#!/bin/sh\n# %s: no service starts while these packages install; removed afterwards\nexit 101\n' % POLICY_MARKER
# noclobber: the shell creates the file only if no file of that name exists (O_EXCL), never overwrites one.
_CREATE = 'set -C && printf "%s" "$1" > "$0" && chmod 0755 "$0"'


class ActionModule(ActionBase):
    """Asks the host which packages are missing (the module of the same name, read-only), then
    refreshes the lists and installs only those through ansible.builtin.apt."""

    TRANSFERS_FILES = False

    _VALID_ARGS = frozenset(('name', 'install_recommends', 'start_services'))

    def _hold_services(self, task_vars):
        """Writes our policy-rc.d; True if it is ours (also one an interrupted run left), False if the host
        has one of its own, which is left alone."""
        created = self._execute_module(module_name='ansible.legacy.command',
                                       module_args=dict(argv=['/bin/sh', '-c', _CREATE, POLICY_RC_D, POLICY_SCRIPT]),
                                       task_vars=task_vars)
        if created.get('rc') == 0:
            return True
        found = self._execute_module(module_name='ansible.legacy.slurp', module_args=dict(src=POLICY_RC_D), task_vars=task_vars)
        if not found.get('failed'):
            return base64.b64decode(found.get('content', '')).decode('utf-8', 'replace') == POLICY_SCRIPT
        raise OSError('could not write %s: %s' % (POLICY_RC_D, (created.get('stderr') or created.get('msg') or '').strip()))

    def _release_services(self, task_vars):
        removed = self._execute_module(module_name='ansible.legacy.file', module_args=dict(path=POLICY_RC_D, state='absent'),
                                       task_vars=task_vars)
        return None if not removed.get('failed') else removed.get('msg', 'failed')

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        spec = dict(
            name=dict(type='list', elements='str', required=True),
            install_recommends=dict(type='bool'),
            start_services=dict(type='bool', default=True),
        )
        _validation, args = self.validate_argument_spec(argument_spec=spec)
        module_args = dict(name=args['name'])
        if args['install_recommends'] is not None:
            module_args['install_recommends'] = args['install_recommends']

        query = self._execute_module(module_name='fleetops.runbook.apt_packages',
                                     module_args=module_args, task_vars=task_vars)
        if query.get('failed'):
            return dict(result, **query)
        missing = query['missing']
        result.update(changed=False, missing=missing, installed=query['installed'], cache_updated=False,
                      policy_rc_d='none')
        if not missing:
            result['msg'] = 'all %d packages are installed; the package lists were left alone' % len(args['name'])
            return result
        if self._task.check_mode:
            result.update(changed=True, msg='check mode: a real run refreshes the package lists and installs %s%s'
                          % (', '.join(missing), '' if args['start_services'] else ' without starting their services'))
            return result

        if args['start_services']:
            return self._install(result, args, missing, module_args, task_vars)
        try:
            ours = self._hold_services(task_vars)
        except OSError as exc:
            result.update(failed=True, msg='start_services=false: %s; nothing was installed' % exc)
            return result
        if not ours:
            result['policy_rc_d'] = 'host'
            result.setdefault('warnings', []).append(
                'start_services=false: this host has a %s of its own; it was left as it is and decided which services '
                'of %s started' % (POLICY_RC_D, ', '.join(missing)))
            return self._install(result, args, missing, module_args, task_vars)
        result['policy_rc_d'] = 'ours'
        try:
            result = self._install(result, args, missing, module_args, task_vars)
        finally:
            error = self._release_services(task_vars)
        if error:
            result.update(failed=True, msg='%s; removing our %s failed: %s' % (result.get('msg', ''), POLICY_RC_D, error))
        elif not result.get('failed'):
            result['msg'] += '; their services were not started'
        return result

    def _install(self, result, args, missing, module_args, task_vars):
        apt_args = dict(name=missing, state='present', update_cache=True)
        if args['install_recommends'] is not None:
            apt_args['install_recommends'] = args['install_recommends']
        apt = self._execute_module(module_name='ansible.legacy.apt', module_args=apt_args, task_vars=task_vars)
        result['cache_updated'] = bool(apt.get('cache_updated'))
        if apt.get('failed'):
            result.update(failed=True, changed=bool(apt.get('changed')),
                          msg='installing %s failed: %s' % (', '.join(missing), apt.get('msg', '')),
                          stdout=apt.get('stdout', ''), stderr=apt.get('stderr', ''))
            return result

        # apt resolves a virtual name to some provider; the dpkg database says what is there now.
        after = self._execute_module(module_name='fleetops.runbook.apt_packages',
                                     module_args=module_args, task_vars=task_vars)
        if after.get('failed') or after['missing']:
            result.update(failed=True, changed=True,
                          msg='apt-get reported success, but %s is still not installed'
                          % ', '.join(after.get('missing') or missing))
            return result
        result.update(changed=True, installed=after['installed'],
                      msg='refreshed the package lists and installed %s' % ', '.join(missing))
        return result
