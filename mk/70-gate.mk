# The generated-input gate alone: junk for every option of every module and action plugin, in check
# mode (tests/integration/test_generated_input.py, docs/quality.md). make test runs it within
# test-integration. db_restore reaches psql, hence pg-server. -s shows the case counts and the
# xfailed cases of defects other branches fix.
.PHONY: test-gate
test-gate: venv collection pg-server
	$(call area-tests,gate) -s -rxX
