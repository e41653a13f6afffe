"""What the execution environment takes from this machine, for tools/ee-context.sh.

    python tools/ee-deps.py collections DEST    copy the collections galaxy.yml depends on, and theirs,
                                                 from where Ansible finds them here into DEST/ansible_collections
    python tools/ee-deps.py debian-packages [BINDEP]
                                                 the Debian 12 packages BINDEP (bindep.txt) names, one line

The collections are copied as installed (the `ansible` package in the venv ships them), so the EE
build needs neither Galaxy nor the `ansible` package's other ninety collections. A dependency that
is missing here, or whose installed version does not meet the range asked for, is an error naming
the collection that asked for it.
"""

import json
import os
import shutil
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The image is Debian 12 whatever this machine runs: bindep's selectors are matched for it.
DEBIAN_PROFILES = ['default', 'platform:dpkg', 'platform:debian', 'platform:debian-12', 'platform:debian-bookworm']


def fail(msg):
    sys.stderr.write('ee-deps: %s\n' % msg)
    sys.exit(1)


def installed_collections():
    """{name: (version, path)}, the copy Ansible would load when a name is installed more than once."""
    out = subprocess.run(['ansible-galaxy', 'collection', 'list', '--format', 'json'], check=True,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout
    configured = [os.path.join(os.path.realpath(p), 'ansible_collections')
                  for p in os.environ.get('ANSIBLE_COLLECTIONS_PATH', '').split(os.pathsep) if p]

    def rank(path):
        path = os.path.realpath(path)
        return configured.index(path) if path in configured else len(configured)

    found = {}
    for base, collections in sorted(json.loads(out).items(), key=lambda item: rank(item[0]), reverse=True):
        for name, info in collections.items():
            found[name] = (info['version'], os.path.join(base, *name.split('.')))
    return found


def dependency_closure(wanted, installed, meets):
    """[(name, path)] of WANTED ({name: range, requested by}) and what those depend on, in name order."""
    todo = [(name, spec, 'galaxy.yml') for name, spec in sorted(wanted.items())]
    done = {}
    while todo:
        name, spec, asked_by = todo.pop()
        if name not in installed:
            fail('%s (asked for by %s) is not installed here: install it (ansible-galaxy collection install %s)'
                 % (name, asked_by, name))
        version, path = installed[name]
        if not meets(version, str(spec)):
            fail('%s %s is installed here, %s asks for %s' % (name, version, asked_by, spec))
        if name in done:
            continue
        done[name] = path
        with open(os.path.join(path, 'MANIFEST.json'), encoding='utf-8') as manifest:
            deps = json.load(manifest)['collection_info'].get('dependencies') or {}
        todo.extend((dep, dep_spec, name) for dep, dep_spec in sorted(deps.items()))
    return sorted(done.items())


def copy_collections(dest):
    from ansible.galaxy.dependency_resolution.versioning import meets_requirements

    with open(os.path.join(ROOT, 'galaxy.yml'), encoding='utf-8') as galaxy:
        wanted = yaml.safe_load(galaxy).get('dependencies') or {}
    closure = dependency_closure(wanted, installed_collections(), meets_requirements)
    for name, path in closure:
        target = os.path.join(dest, 'ansible_collections', *name.split('.'))
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(path, target, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        print('%s %s' % (name, path))


def debian_packages(path):
    from bindep.depends import Depends

    try:
        with open(path, encoding='utf-8') as bindep:
            depends = Depends(bindep.read())
    except OSError as exc:
        fail('cannot read %s: %s' % (path, exc.strerror))
    print(' '.join(rule[0] for rule in depends.active_rules(DEBIAN_PROFILES)))


def main(argv):
    if len(argv) == 2 and argv[0] == 'collections':
        copy_collections(argv[1])
    elif argv[:1] == ['debian-packages'] and len(argv) <= 2:
        debian_packages(argv[1] if len(argv) == 2 else os.path.join(ROOT, 'bindep.txt'))
    else:
        fail('usage: ee-deps.py collections DEST | ee-deps.py debian-packages [BINDEP]')


if __name__ == '__main__':
    main(sys.argv[1:])
