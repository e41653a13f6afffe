# service_check: systemd units (molecule/service_check) and listening sockets. Its integration test
# compares the sockets read from /proc/net with what `ss -tuln` (iproute2) lists.
.PHONY: services-tools test-services

services-tools:
	@tools/apt-install.sh iproute2

test-integration: services-tools

# The services area alone: unit and integration tests (the units against systemd: make molecule-scenario S=service_check).
test-services: venv collection services-tools
	$(call area-tests,services)
