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
