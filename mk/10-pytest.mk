# Unit tests of plugins and integration tests that run playbooks for real.
# `make test` runs the unit tests through ansible-test (make units, mk/20-quality.mk) on every
# supported Python; test-units is the quick pytest run on the controller Python while developing.
TEST_TARGETS += test-integration

.PHONY: test-units test-integration
test-units: venv collection
	cd $(ROOT) && python -m pytest -q -p no:cacheprovider tests/unit

test-integration: venv collection
	cd $(ROOT) && python -m pytest -q -p no:cacheprovider tests/integration
