# redis_check: Debian's redis-server for the integration tests, which start their own servers on
# free loopback ports. The package must not leave a server of its own on 6379: tools/apt-install.sh
# starts no service while it installs, and a server that a systemd machine runs anyway is stopped
# and disabled.
.PHONY: redis-server test-redis

redis-server:
	@command -v redis-server >/dev/null 2>&1 || test -x /usr/bin/redis-server || tools/apt-install.sh redis-server
	@if test -d /run/systemd/system; then systemctl disable --now redis-server.service >/dev/null 2>&1 || :; fi

test-integration: redis-server

# The Redis area alone (make test runs these tests within units and test-integration).
test-redis: venv collection redis-server
	$(call area-tests,redis)

# A demo cache for `make demo`'s redis column: 64 MiB, allkeys-lru, no snapshots, on a loopback
# port that is not the system's 6379. Reused while it runs.
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
