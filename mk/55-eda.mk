# Event-Driven Ansible: the rulebook fleetops.runbook.incident_response run by the real
# ansible-rulebook (requirements-dev.txt) on Java 17 from Debian. make test runs its end-to-end
# test within test-integration; test-eda is the area alone.
# docs-lint: the collection's plugin and role docs as a docs site reads them (antsibull-docs).

.PHONY: java test-eda docs-lint

java:
	tools/apt-install.sh openjdk-17-jre-headless

test-integration: java

test-eda: venv collection java
	$(call area-tests,eda)

quality: docs-lint

docs-lint: venv collection $(QUALITY_STAMP)
	antsibull-docs lint-collection-docs --plugin-docs $(ROOT)
