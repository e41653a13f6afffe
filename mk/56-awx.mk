# AWX / Automation Platform: the execution environment and the job templates.
# test-integration runs tests/integration/test_awx.py (introspection and `ansible-builder create`
# of the EE, the job templates' surveys against the roles' argument specs, the loader against a
# fake controller, each template's playbook through ansible-runner).
# test-ee builds the EE with ansible-builder and the local Docker engine on the locally built
# Debian image (tools/ee-context.sh: fleetops/debian12:ee-base with pip, dumb-init and bindep's
# packages, built once per machine by tools/build-image.sh; no registry pull, no apt-get in the EE
# build) and runs tests/integration/test_awx_ee.py: what is staged, and the daily checks inside the
# EE the way AWX runs a job (ansible-runner with process isolation in that image) against a
# container. The EE has ansible-core and only the collections galaxy.yml depends on, copied from
# the venv, so a cold build takes a few minutes; Docker's layer cache makes a rebuild after a
# change to the collection a matter of seconds. make test runs it after test-integration (TEST_TARGETS
# in the Makefile).

EE_DIR   ?= $(CACHE)/ee
EE_IMAGE ?= fleetops/ee:test
# e.g. --no-cache to build every layer again
EE_BUILD_ARGS ?=

.PHONY: ee-context ee-image test-ee
ee-context: venv collection
	tools/ee-context.sh $(EE_DIR) >/dev/null

ee-image: ee-context
	ansible-builder build --container-runtime docker -f $(EE_DIR)/execution-environment.yml \
	  -c $(EE_DIR)/context -t $(EE_IMAGE) $(EE_BUILD_ARGS)

test-ee: ee-image
	cd $(ROOT) && FLEETOPS_EE_IMAGE=$(EE_IMAGE) python -m pytest -q -p no:cacheprovider tests/integration/test_awx_ee.py

# The decision environment (extensions/eda/decision-environment.yml) is built the same way, on
# fleetops/debian12:de-base (Java 17 from Debian, added to the base once per machine); test-de runs
# tests/integration/test_eda_de.py: ansible-rulebook and the rulebook in it. make test runs it
# after test-ee.
DE_DIR   ?= $(CACHE)/de
DE_IMAGE ?= fleetops/de:test

.PHONY: de-context de-image test-de
de-context: venv collection
	tools/ee-context.sh --decision $(DE_DIR) >/dev/null

de-image: de-context
	ansible-builder build --container-runtime docker -f $(DE_DIR)/decision-environment.yml \
	  -c $(DE_DIR)/context -t $(DE_IMAGE) $(EE_BUILD_ARGS)

test-de: de-image
	cd $(ROOT) && FLEETOPS_DE_IMAGE=$(DE_IMAGE) python -m pytest -q -p no:cacheprovider tests/integration/test_eda_de.py
