"""Helpers for testinfra tests of the molecule scenarios.

``run_play`` runs a play against the scenario's instances with the same inventory, ansible.cfg and
collections as molecule's converge, and returns what the json callback reports, so a test can
assert on a failed task's message (bad input) as well as on the host afterwards.
"""

import json
import os
import subprocess
import tempfile

import yaml


class PlayResult:
    """Outcome of one ansible-playbook run."""

    def __init__(self, rc, report, stderr):
        self.rc = rc
        self.report = report
        self.stderr = stderr

    @property
    def failed_tasks(self):
        """(task name, result) for every failed host result."""
        failed = []
        for play in self.report.get("plays", []):
            for task in play.get("tasks", []):
                for result in task.get("hosts", {}).values():
                    if result.get("failed"):
                        failed.append((task["task"]["name"], result))
        return failed

    @property
    def messages(self):
        """The failure messages (and a failed command's stderr), item results included, as one string. An assert item that failed
        is reported with evaluated_to false rather than failed, and counts as well."""
        parts = []
        for _name, result in self.failed_tasks:
            parts += [str(result.get(key, "")) for key in ("msg", "stderr")]
            for item in result.get("results", []) or []:
                if item.get("failed") or item.get("exit_status") or item.get("rc") \
                        or item.get("evaluated_to") is False:
                    parts += [str(item.get(key, "")) for key in ("msg", "stderr", "stdout")]
        return "\n".join(parts)

    @property
    def changed(self):
        return sum(s.get("changed", 0) for s in self.report.get("stats", {}).values())


def run_play(tasks, extra_vars=None, hosts="all", check=False):
    """Run ``tasks`` (a list of task dicts) in one play against the scenario's instances."""
    play = [{"name": "Test play", "hosts": hosts, "gather_facts": False, "tasks": tasks}]
    env = dict(os.environ)
    env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.builtin.json"
    env["ANSIBLE_NOCOLOR"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        playbook = os.path.join(tmp, "play.yml")
        with open(playbook, "w", encoding="utf-8") as stream:
            yaml.safe_dump(play, stream)
        cmd = ["ansible-playbook", "-i", env["MOLECULE_INVENTORY_FILE"], playbook]
        if extra_vars:
            varfile = os.path.join(tmp, "vars.json")
            with open(varfile, "w", encoding="utf-8") as stream:
                json.dump(extra_vars, stream)
            cmd += ["-e", "@" + varfile]
        if check:
            cmd.append("--check")
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    start = proc.stdout.find("{")
    report = json.loads(proc.stdout[start:]) if start >= 0 else {}
    return PlayResult(proc.returncode, report, proc.stderr)


def include_role(name, **role_vars):
    """A task that includes a role of the collection with ``role_vars``."""
    return {
        "name": "Apply %s" % name,
        "ansible.builtin.include_role": {"name": name},
        "vars": role_vars,
    }
