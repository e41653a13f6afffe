# Unit tests of plugins and integration tests that run playbooks for real.
TEST_TARGETS += test-units test-integration

.PHONY: test-units test-integration
test-units: venv collection
	cd $(ROOT) && python -m pytest -q -p no:cacheprovider tests/unit

test-integration: venv collection
	cd $(ROOT) && python -m pytest -q -p no:cacheprovider tests/integration
