# log_stats (access, JSON-lines and application logs). make test runs its tests within `units`
# and `test-integration` (they need nothing installed); test-log-stats is the area alone.
.PHONY: test-log-stats bench-log-stats

test-log-stats: venv collection
	$(call area-tests,log_stats)

# Not part of make test: a >= 1 GiB access log generated once under .cache/bench-log-stats, parsed by
# log_stats' engine and by GoAccess (Debian's goaccess); then the incremental run after 1 % more lines.
# BENCH_ARGS=--size-mib=256 for a smaller log.
bench-log-stats: venv collection
	tools/apt-install.sh goaccess
	$(call bench,log_stats_vs_goaccess) $(BENCH_ARGS)
