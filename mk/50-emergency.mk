# Emergency and maintenance playbooks (incident_response, disaster_recovery, maintenance, audit).
# make test runs these tests within test-integration; test-emergency is the area alone.
.PHONY: test-emergency
test-emergency: venv collection pg-server
	$(call area-tests,emergency)
