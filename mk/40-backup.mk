# Backups (backup_verify module, postgres_backup role).
# make test runs these tests within `units` and `test-integration`; test-backup is the area alone.

.PHONY: test-backup bench-backup

# The backup area alone (the tests need a throwaway PostgreSQL, hence pg-server).
test-backup: venv collection pg-server
	$(call area-tests,backup)

# Not part of make test: generates a >= 1 GiB dump once (kept in .cache/bench-backup) and times a
# full verification against sha256sum and pg_restore -f /dev/null.
bench-backup: venv collection pg-server
	$(call bench,backup_verify_vs_sha256_pg_restore)
