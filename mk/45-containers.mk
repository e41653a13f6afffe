# Containers (container_check): the tests run real containers on this machine's Docker engine,
# from the locally built Debian base image (no registry pulls). tools/docker-engine.sh installs and
# starts the engine on a fresh machine; tools/build-image.sh builds the base image once.

.PHONY: container-engine docker-base-image test-containers

container-engine:
	tools/docker-engine.sh

docker-base-image: container-engine
	tools/build-image.sh >/dev/null

test-integration: docker-base-image

# The containers area alone (make test runs these tests within test-integration and units).
test-containers: venv collection docker-base-image
	$(call area-tests,containers)

# The demo's container: a small healthy one under the compose project label fleetops-demo, for the
# `containers` column (container_check with project fleetops-demo), when a Docker engine answers
# here; without one the demo goes on and the column shows n/a. Reused while it runs.
DEMO_CONTAINER         := fleetops-demo-web
DEMO_CONTAINER_PROJECT := fleetops-demo

.PHONY: demo-containers demo-containers-stop
demo-containers:
	@if docker info >/dev/null 2>&1; then \
	  image=$$(tools/build-image.sh) || exit 1; \
	  docker container inspect $(DEMO_CONTAINER) >/dev/null 2>&1 || \
	    docker create --name $(DEMO_CONTAINER) --label com.docker.compose.project=$(DEMO_CONTAINER_PROJECT) \
	      --label com.docker.compose.service=web --health-cmd true --health-interval 2s \
	      --memory 64m --restart unless-stopped "$$image" sleep infinity >/dev/null || exit 1; \
	  docker start $(DEMO_CONTAINER) >/dev/null && echo "demo container $(DEMO_CONTAINER) running"; \
	  for i in $$(seq 30); do \
	    test "$$(docker inspect -f '{{.State.Health.Status}}' $(DEMO_CONTAINER))" = healthy && break; sleep 0.5; \
	  done; \
	else \
	  echo "no Docker engine answers here: the demo runs without a container"; \
	fi

demo-containers-stop:
	@docker rm -f $(DEMO_CONTAINER) >/dev/null 2>&1 || true
