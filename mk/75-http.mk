# http_check: Debian's nginx serves a static file over HTTP and TLS in the integration tests
# (tests/integration/test_http_check.py starts its own instance on loopback ports).
.PHONY: nginx-server test-http bench-http

nginx-server:
	@command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx || tools/apt-install.sh nginx-light

test-integration: nginx-server

# The http_check area alone.
test-http: venv collection nginx-server
	cd $(ROOT) && python -m pytest -q -p no:cacheprovider tests/integration/test_http_check.py tests/unit/plugins/modules/test_http_check.py

# http_check against ansible.builtin.uri (10 endpoints x 20 probes). Prints ratios; not part of `make test`.
bench-http: venv collection
	python bench/http_check_vs_uri.py
