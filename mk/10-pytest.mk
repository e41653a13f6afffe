# Unit tests of plugins and integration tests that run playbooks for real.
# `make test` runs the unit tests through ansible-test (make units, mk/20-quality.mk) on every
# supported Python; test-units is the quick pytest run on the controller Python while developing.
.PHONY: test-units test-integration

# The tests of one area, unit and integration, selected by its pytest marker (tests/conftest.py
# lists the areas; each test file names its own with `pytestmark`): $(call area-tests,<marker>).
area-tests = cd $(ROOT) && python -m pytest -q -p no:cacheprovider -m $(1) tests/unit tests/integration

# A benchmark (bench/<name>.py) as a module of the checkout, so that it imports tests.support and
# its neighbours as packages, with the linked collection importable: $(call bench,<name>).
bench = cd $(ROOT) && PYTHONPATH=$(COLL_DIR) python -m bench.$(1)

test-units: venv collection
	cd $(ROOT) && python -m pytest -q -p no:cacheprovider tests/unit

# Two workers (the machine kind has two cores; most of a test is spent in ansible-playbook
# subprocesses). --dist loadfile keeps a file's tests, and its module-scoped clusters, on one worker.
# test_awx_ee.py needs the execution environment image that make test-ee builds (mk/56-awx.mk).
INTEGRATION_WORKERS ?= 2
test-integration: venv collection
	cd $(ROOT) && python -m pytest -q -p no:cacheprovider -n $(INTEGRATION_WORKERS) --dist loadfile tests/integration \
	  --ignore=tests/integration/test_awx_ee.py --ignore=tests/integration/test_eda_de.py
