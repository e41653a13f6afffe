# http_check: Debian's nginx serves a static file over HTTP and TLS in the integration tests
# (tests/integration/test_http_check.py starts its own instance on loopback ports).
.PHONY: nginx-server test-http bench-http

nginx-server:
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || tools/apt-install.sh nginx-light

test-integration: nginx-server

# The http_check area alone.
test-http: venv collection nginx-server
	$(call area-tests,http)

# http_check against ansible.builtin.uri (10 endpoints x 20 probes). Prints ratios; not part of `make test`.
bench-http: venv collection
	$(call bench,http_check_vs_uri)

# The demo's HTTP service: the tests' small server on a loopback port, reused while it runs.
HTTP_DEMO_DIR  := $(CACHE)/demo-http
HTTP_DEMO_PORT ?= 18080
.PHONY: demo-http demo-http-stop

demo-http: venv
	@mkdir -p $(HTTP_DEMO_DIR)
	@if test -s $(HTTP_DEMO_DIR)/server.pid && kill -0 $$(cat $(HTTP_DEMO_DIR)/server.pid) 2>/dev/null; then \
	  echo "demo HTTP server already running on 127.0.0.1:$(HTTP_DEMO_PORT)"; \
	else \
	  nohup $(BIN)/python tests/integration/http_server.py $(HTTP_DEMO_PORT) >$(HTTP_DEMO_DIR)/server.log 2>&1 & \
	  echo $$! > $(HTTP_DEMO_DIR)/server.pid; \
	  for i in $$(seq 50); do $(BIN)/python -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' \
	    $(HTTP_DEMO_PORT) 2>/dev/null && break; sleep 0.2; done; \
	fi

demo-http-stop:
	@if test -s $(HTTP_DEMO_DIR)/server.pid; then kill $$(cat $(HTTP_DEMO_DIR)/server.pid) 2>/dev/null || :; \
	  rm -f $(HTTP_DEMO_DIR)/server.pid; fi
