# Quality gates: ansible-lint, changelog fragments, ansible-test sanity and units, galaxy-importer.
# All run offline; tools/ansible-test.sh explains the ansible-test workarounds.
# make test runs the cheap static gates before the other areas' tests, the import check of the
# built tarball after them (TEST_TARGETS in the Makefile).

IMPORTER_VENV  := $(ROOT)/.venv-importer
QUALITY_STAMP  := $(VENV)/.quality-installed
IMPORTER_STAMP := $(IMPORTER_VENV)/.installed

.PHONY: lint changelog-lint sanity units galaxy-import quality

quality: lint changelog-lint sanity units galaxy-import

$(QUALITY_STAMP): tools/requirements-quality.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -r tools/requirements-quality.txt
	touch $@

$(IMPORTER_STAMP): tools/requirements-importer.txt
	@test -n "$(PYTHON)" || { echo "no suitable Python found" >&2; exit 1; }
	$(PYTHON) -m venv $(IMPORTER_VENV)
	$(IMPORTER_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(IMPORTER_VENV)/bin/python -m pip install --quiet -r tools/requirements-importer.txt
	touch $@

lint: venv collection
	ansible-lint --profile production --offline

changelog-lint: $(QUALITY_STAMP)
	antsibull-changelog lint

# shellcheck is optional for ansible-test (it skips the test without it): install it so the
# shell scripts are checked.
sanity: venv
	tools/apt-install.sh shellcheck git
	tools/check-sanity-ignores.sh
	tools/ansible-test.sh sanity --venv

units: venv
	tools/apt-install.sh git
	tools/ansible-test.sh units --venv

galaxy-import: venv $(IMPORTER_STAMP)
	tools/galaxy-import.sh

.PHONY: clean-quality
clean: clean-quality
clean-quality:
	rm -rf $(IMPORTER_VENV)
