# Emergency and maintenance playbooks (incident_response, disaster_recovery, maintenance, audit).
# make test runs these tests within test-integration; test-emergency is the area alone.
.PHONY: test-emergency
test-emergency: venv collection pg-server
	cd $(ROOT) && python -m pytest -q -p no:cacheprovider tests/integration/test_incident_response.py \
	  tests/integration/test_disaster_recovery.py tests/integration/test_maintenance.py \
	  tests/integration/test_db_restore.py
