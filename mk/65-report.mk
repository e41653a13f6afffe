# The fleet report in a real browser (tests/integration/test_fleet_report_browser.py): Debian's
# Chromium, headless, driven by Playwright (pip, requirements-dev.txt) through executable_path;
# Playwright's own browser download is not used. Screenshots and the page's size and render
# timings land in tests/output/fleet_report/.
# make test runs the test within test-integration; test-report is the report's area alone.
.PHONY: chromium test-report

chromium:
	@command -v chromium >/dev/null 2>&1 || test -x /usr/bin/chromium || tools/apt-install.sh chromium fonts-dejavu-core

test-integration: chromium

test-report: venv collection chromium
	$(call area-tests,report)
