# Backups (backup_verify module, postgres_backup role).
# make test runs these tests within `units` and `test-integration`; test-backup is the area alone.

.PHONY: test-backup bench-backup

# The backup area alone (the tests need a throwaway PostgreSQL, hence pg-server).
test-backup: venv collection pg-server
	cd $(ROOT) && python -m pytest -q -p no:cacheprovider tests/unit/test_pg_archive.py \
	  tests/unit/plugins/module_utils/test_programs.py tests/unit/plugins/module_utils/test_backup_files.py \
	  tests/unit/plugins/module_utils/test_restore_check.py tests/unit/plugins/module_utils/test_status_duration.py \
	  tests/integration/test_backup_verify.py tests/integration/test_postgres_backup.py

# Not part of make test: generates a >= 1 GiB dump once (kept in .cache/bench-backup) and times a
# full verification against sha256sum and pg_restore -f /dev/null.
bench-backup: venv collection pg-server
	cd $(ROOT) && python bench/backup_verify_vs_sha256_pg_restore.py
