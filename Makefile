# fleetops.runbook developer entry points. `make demo` and `make test` set up everything they need.
SHELL := /bin/bash
.DEFAULT_GOAL := help

ROOT        := $(abspath .)
PYTHON      ?= $(shell tools/find-python.sh)
VENV        ?= $(ROOT)/.venv
BIN         := $(VENV)/bin
CACHE       := $(ROOT)/.cache
COLL_DIR    := $(CACHE)/collections
COLL_LINK   := $(COLL_DIR)/ansible_collections/fleetops/runbook
REPORT_DIR  ?= $(ROOT)/reports

export PATH := $(BIN):$(PATH)
export ANSIBLE_CONFIG := $(ROOT)/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH := $(COLL_DIR)
export PYTHONDONTWRITEBYTECODE := 1

# Targets that `make test` (and .ci/run) runs, in this order: the cheap static gates first, then the
# unit tests, the integration tests, the import check of the built tarball and the molecule
# scenarios. The targets themselves live in mk/*.mk; this list is the one place that orders them.
#   docs-lint, lint, changelog-lint, sanity, units, galaxy-import  mk/20-quality.mk, mk/55-eda.mk
#   test-integration                                               mk/10-pytest.mk
#   test-ee, test-de (the AWX execution and decision environments) mk/56-awx.mk
#   molecule                                                       mk/41-molecule.mk
TEST_TARGETS := docs-lint lint changelog-lint sanity units test-integration test-ee test-de galaxy-import molecule
# Targets that `make demo` runs before the daily checks (e.g. a throwaway PostgreSQL).
DEMO_PREREQS :=
# Extra arguments for the demo's ansible-playbook run.
DEMO_ARGS :=

.PHONY: help venv collection demo test clean
help:
	@echo "make demo   - run the daily checks on localhost and write the fleet report to reports/"
	@echo "make test   - install what is needed and run every test and quality gate"
	@echo "make clean  - remove the venv, caches and reports"

$(VENV)/.installed: requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "no suitable Python found" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

# The checkout is the collection: link it where Ansible looks for fleetops.runbook.
collection: $(COLL_LINK)
$(COLL_LINK):
	mkdir -p $(dir $@)
	ln -sfn $(ROOT) $@

include $(sort $(wildcard mk/*.mk))

demo: venv collection $(DEMO_PREREQS)
	ansible-playbook -i inventory/demo playbooks/daily_checks.yml \
	  -e daily_checks_report_dir=$(REPORT_DIR) $(DEMO_ARGS)
	@echo "Fleet report: $(REPORT_DIR)/daily_checks.html and $(REPORT_DIR)/daily_checks.json"

test: venv collection
	@set -e; for t in $(TEST_TARGETS); do echo "=== make $$t"; $(MAKE) --no-print-directory $$t; done

clean:
	rm -rf $(VENV) $(CACHE) $(REPORT_DIR) tests/output .pytest_cache
