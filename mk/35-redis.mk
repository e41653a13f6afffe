# redis_check: Debian's redis-server for the integration tests, which start their own servers on
# free loopback ports. The package must not leave a server of its own on 6379: its service start
# is refused while it installs (a policy-rc.d of our own, only when the machine has none), and a
# server that a systemd machine started anyway is stopped and disabled.
.PHONY: redis-server test-redis

redis-server:
	@if command -v redis-server >/dev/null 2>&1 || test -x /usr/bin/redis-server; then :; else \
	  own=; \
	  if test ! -e /usr/sbin/policy-rc.d; then \
	    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && own=1; \
	  fi; \
	  tools/apt-install.sh redis-server; rc=$$?; \
	  test -z "$$own" || rm -f /usr/sbin/policy-rc.d; \
	  if test -d /run/systemd/system; then \
	    systemctl disable --now redis-server.service >/dev/null 2>&1 || :; \
	  fi; \
	  exit $$rc; \
	fi

test-integration: redis-server

# The Redis area alone (make test runs it within test-integration).
test-redis: venv collection redis-server
	cd $(ROOT) && python -m pytest -q -p no:cacheprovider tests/integration/test_redis_check.py

# A demo cache for `make demo`'s redis column: 64 MiB, allkeys-lru, no snapshots, on a loopback
# port that is not the system's 6379. Reused while it runs; the lead adds it to DEMO_PREREQS with
# DEMO_ARGS += -e daily_checks_redis_port=$(REDIS_DEMO_PORT) once daily_checks has the column.
REDIS_DEMO_DIR  := $(CACHE)/demo-redis
REDIS_DEMO_PORT ?= 16379
.PHONY: demo-redis demo-redis-stop

demo-redis: redis-server
	@mkdir -p $(REDIS_DEMO_DIR)
	@if test -s $(REDIS_DEMO_DIR)/redis.pid && kill -0 $$(cat $(REDIS_DEMO_DIR)/redis.pid) 2>/dev/null; then \
	  echo "demo Redis already running on 127.0.0.1:$(REDIS_DEMO_PORT)"; \
	else \
	  redis-server --port $(REDIS_DEMO_PORT) --bind 127.0.0.1 --save '' --appendonly no \
	    --maxmemory 64mb --maxmemory-policy allkeys-lru --dir $(REDIS_DEMO_DIR) \
	    --daemonize yes --pidfile $(REDIS_DEMO_DIR)/redis.pid --logfile $(REDIS_DEMO_DIR)/redis.log; \
	fi

demo-redis-stop:
	@if test -s $(REDIS_DEMO_DIR)/redis.pid; then kill $$(cat $(REDIS_DEMO_DIR)/redis.pid) 2>/dev/null || :; \
	  rm -f $(REDIS_DEMO_DIR)/redis.pid; fi
