# Containers (container_check): the tests run real containers on this machine's Docker engine,
# from the locally built Debian base image (no registry pulls). tools/docker-engine.sh installs and
# starts the engine on a fresh machine; tools/build-image.sh builds the base image once.

.PHONY: docker-base-image test-containers

docker-base-image:
	tools/build-image.sh >/dev/null

test-integration: docker-base-image

# The containers area alone (make test runs these tests within test-integration and units).
test-containers: venv collection docker-base-image
	cd $(ROOT) && python -m pytest -q -p no:cacheprovider tests/unit/plugins/modules/test_container_check.py \
	  tests/integration/test_container_check.py
