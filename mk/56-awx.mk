# AWX / Automation Platform: the execution environment and the job templates.
# test-integration runs tests/integration/test_awx.py (introspection and `ansible-builder create`
# of the EE, the job templates' surveys against the roles' argument specs, the loader against a
# fake controller, each template's playbook through ansible-runner).
# test-ee builds the EE with ansible-builder and the local Docker engine on the locally built
# Debian image (tools/build-image.sh; no registry pull) and runs the daily checks inside it the
# way AWX runs a job (ansible-runner with process isolation in that image) against a container.
# It is not in TEST_TARGETS: a cold build (apt-get in the base image, the `ansible` package's
# thousands of files installed twice by ansible-builder's stages) took about 16 min on the 2-core
# machine under load, a third of make test's budget; with Docker's layer cache a rebuild after a
# change to the collection takes 20 s and the test 40 s.
EE_DIR   ?= $(CACHE)/ee
EE_IMAGE ?= fleetops/ee:test

.PHONY: ee-context ee-image test-ee
ee-context: venv collection
	tools/ee-context.sh $(EE_DIR) >/dev/null

ee-image: ee-context docker-base-image
	ansible-builder build --container-runtime docker -f $(EE_DIR)/execution-environment.yml \
	  -c $(EE_DIR)/context -t $(EE_IMAGE)

test-ee: ee-image
	cd $(ROOT) && FLEETOPS_EE_IMAGE=$(EE_IMAGE) python -m pytest -q -p no:cacheprovider tests/integration/test_awx_ee.py
