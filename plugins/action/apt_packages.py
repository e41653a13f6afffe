# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):
    """Asks the host which packages are missing (the module of the same name, read-only), then
    refreshes the lists and installs only those through ansible.builtin.apt."""

    TRANSFERS_FILES = False

    _VALID_ARGS = frozenset(('name', 'install_recommends'))

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        spec = dict(
            name=dict(type='list', elements='str', required=True),
            install_recommends=dict(type='bool'),
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
        result.update(changed=False, missing=missing, installed=query['installed'], cache_updated=False)
        if not missing:
            result['msg'] = 'all %d packages are installed; the package lists were left alone' % len(args['name'])
            return result
        if self._task.check_mode:
            result.update(changed=True, msg='check mode: a real run refreshes the package lists and installs %s'
                          % ', '.join(missing))
            return result

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
