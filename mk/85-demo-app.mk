# The application tier of `make demo`: the http, containers, services, logs and redis columns on
# localhost, against the demo's own HTTP server, Redis, container and PostgreSQL on loopback.
APP_DEMO_DIR := $(CACHE)/demo-app

DEMO_PREREQS += demo-app
DEMO_ARGS    += -i $(APP_DEMO_DIR)/inventory.yml

.PHONY: demo-app
demo-app: venv demo-postgres demo-redis demo-http demo-containers
	@project=; docker container inspect $(DEMO_CONTAINER) >/dev/null 2>&1 && project=$(DEMO_CONTAINER_PROJECT); \
	$(BIN)/python tools/demo-app.py $(APP_DEMO_DIR) --http-port $(HTTP_DEMO_PORT) --redis-port $(REDIS_DEMO_PORT) \
	  --pg-inventory $(PG_DEMO_DIR)/inventory.yml --container-project "$$project" >/dev/null
