# -*- coding: utf-8 -*-
# Copyright: fleetops.runbook contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A local stand-in for the REST API of an AWX controller (api/v2), on 127.0.0.1.

AWX itself cannot run here. This answers the requests extensions/awx/load_job_templates.yml makes
the way AWX documents them: list endpoints filtered by ``?name=`` (and ``organization=``) with
``count`` and ``results``; ``POST /api/v2/job_templates/`` (201, the new object; 400 with the
field's errors for a missing or invalid field, as AWX validates them); ``PATCH
/api/v2/job_templates/<id>/`` (200); ``POST .../survey_spec/`` (200, empty body; 400 for a spec
that is not a list of questions with a variable, a question_name and a known type);
``401 {"detail": ...}`` without a valid ``Authorization: Bearer`` token; 404 for anything else.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

SURVEY_TYPES = {'text', 'textarea', 'password', 'integer', 'float', 'multiplechoice', 'multiselect'}
JOB_TEMPLATE_FIELDS = {'name', 'description', 'job_type', 'inventory', 'project', 'playbook', 'forks',
                       'job_slice_count', 'ask_limit_on_launch', 'survey_enabled', 'organization',
                       'execution_environment', 'extra_vars', 'limit', 'verbosity', 'timeout'}


class _Handler(BaseHTTPRequestHandler):
    server_version = 'fake-awx'
    sys_version = ''

    def log_message(self, *args):
        pass

    def _send(self, status, document=None):
        body = b'' if document is None else json.dumps(document).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self):
        if self.headers.get('Authorization') != 'Bearer %s' % self.server.controller.token:
            self._send(401, {'detail': 'Authentication credentials were not provided.'})
            return False
        return True

    def _body(self):
        length = int(self.headers.get('Content-Length') or 0)
        try:
            return json.loads(self.rfile.read(length).decode() or 'null')
        except ValueError:
            return None

    def do_GET(self):
        if not self._authorized():
            return
        controller = self.server.controller
        parts = urlsplit(self.path)
        match = re.match(r'^/api/v2/([a-z_]+)/$', parts.path)
        if not match or match.group(1) not in controller.objects:
            return self._send(404, {'detail': 'Not found.'})
        query = dict((k, v[0]) for k, v in parse_qs(parts.query).items())
        found = [o for o in controller.objects[match.group(1)].values()
                 if all(str(o.get(k)) == v for k, v in query.items() if k != 'page_size')]
        self._send(200, {'count': len(found), 'next': None, 'previous': None, 'results': found})

    def do_POST(self):
        if not self._authorized():
            return
        controller = self.server.controller
        body = self._body()
        with controller.lock:
            controller.requests.append(('POST', self.path, body))
            if self.path == '/api/v2/job_templates/':
                errors = controller.template_errors(body, create=True)
                if errors:
                    return self._send(400, errors)
                obj = dict(body, id=controller.next_id(), type='job_template')
                controller.objects['job_templates'][obj['id']] = obj
                return self._send(201, obj)
            match = re.match(r'^/api/v2/job_templates/(\d+)/survey_spec/$', self.path)
            if match and int(match.group(1)) in controller.objects['job_templates']:
                errors = controller.survey_errors(body)
                if errors:
                    return self._send(400, {'error': errors})
                controller.surveys[int(match.group(1))] = body
                return self._send(200)
        self._send(404, {'detail': 'Not found.'})

    def do_PATCH(self):
        if not self._authorized():
            return
        controller = self.server.controller
        body = self._body()
        with controller.lock:
            controller.requests.append(('PATCH', self.path, body))
            match = re.match(r'^/api/v2/job_templates/(\d+)/$', self.path)
            if match and int(match.group(1)) in controller.objects['job_templates']:
                errors = controller.template_errors(body, create=False)
                if errors:
                    return self._send(400, errors)
                obj = controller.objects['job_templates'][int(match.group(1))]
                obj.update(body)
                return self._send(200, obj)
        self._send(404, {'detail': 'Not found.'})


class FakeController:
    def __init__(self, token='fake-awx-token-1234'):
        self.token = token
        self.lock = threading.Lock()
        self.requests = []
        self.surveys = {}
        self._id = 100
        self.objects = {'organizations': {}, 'projects': {}, 'inventories': {}, 'execution_environments': {},
                        'job_templates': {}}
        self._server = None

    def next_id(self):
        self._id += 1
        return self._id

    def add(self, kind, name, **fields):
        obj = dict(fields, id=self.next_id(), name=name)
        self.objects[kind][obj['id']] = obj
        return obj

    def template_errors(self, body, create):
        if not isinstance(body, dict):
            return {'detail': 'JSON parse error'}
        errors = {}
        for key in body:
            if key not in JOB_TEMPLATE_FIELDS:
                errors[key] = ['unknown field']
        if create:
            for key in ('name', 'playbook', 'project', 'inventory'):
                if not body.get(key):
                    errors[key] = ['This field is required.']
        for key, kind in (('project', 'projects'), ('inventory', 'inventories'),
                          ('organization', 'organizations'), ('execution_environment', 'execution_environments')):
            if key in body and body[key] not in self.objects[kind]:
                errors[key] = ['Invalid pk "%s" - object does not exist.' % body[key]]
        if 'job_slice_count' in body and not (isinstance(body['job_slice_count'], int) and body['job_slice_count'] >= 1):
            errors['job_slice_count'] = ['Ensure this value is greater than or equal to 1.']
        return errors

    @staticmethod
    def survey_errors(body):
        if not isinstance(body, dict) or not isinstance(body.get('spec'), list):
            return "'spec' must be a list of items."
        for index, question in enumerate(body['spec']):
            for key in ('variable', 'question_name', 'type'):
                if not question.get(key):
                    return "'%s' missing from survey question %d." % (key, index)
            if question['type'] not in SURVEY_TYPES:
                return "'%s' in survey question %d is not one of %s." % (question['type'], index, sorted(SURVEY_TYPES))
            if question['type'] in ('multiplechoice', 'multiselect') and not question.get('choices'):
                return "'choices' missing from survey question %d." % index
        return None

    @property
    def url(self):
        return 'http://127.0.0.1:%d' % self._server.server_address[1]

    def start(self):
        self._server = ThreadingHTTPServer(('127.0.0.1', 0), _Handler)
        self._server.controller = self
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
