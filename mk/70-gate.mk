# The generated-input gate alone: junk for every option of every module and action plugin, in check
# mode (tests/integration/test_generated_input.py, docs/quality.md). make test runs it within
# test-integration. db_restore reaches psql, hence pg-server.
.PHONY: test-gate
test-gate: venv collection pg-server
	cd $(ROOT) && python -m pytest -q -p no:cacheprovider -rxX tests/integration/test_generated_input.py
