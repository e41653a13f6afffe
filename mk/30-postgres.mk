# PostgreSQL checks (pg_health, slow_queries): server binaries for the test bed, the demo
# cluster and the benchmark against check_postgres.
PG_DEMO_DIR := $(CACHE)/demo-pg
# tests/support/pgcluster.py, run as a module of the checkout (make runs its recipes in $(ROOT)).
PGCLUSTER   := $(BIN)/python -m tests.support.pgcluster

DEMO_PREREQS += demo-postgres
DEMO_ARGS    += -i $(PG_DEMO_DIR)/inventory.yml

.PHONY: pg-server pg-contrib demo-postgres demo-postgres-stop bench-postgres bench-bloat test-postgres

# Server binaries (initdb, pg_ctl, contrib): the machine's own, else Debian's postgresql-15,
# installed without the package's default cluster (the tests start their own).
pg-server:
	@if (command -v initdb && command -v pg_ctl) >/dev/null 2>&1 || \
	    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then :; else \
	  mkdir -p /etc/postgresql-common; \
	  test -e /etc/postgresql-common/createcluster.conf || \
	    echo 'create_main_cluster = false' > /etc/postgresql-common/createcluster.conf; \
	  tools/apt-install.sh postgresql-15; \
	fi

# pgstattuple (contrib), which the pg_bloat tests measure the estimate against: part of Debian's
# postgresql-15 package; installed when the server binaries in use come without it.
pg-contrib: pg-server
	@sharedir=$$(bindir=$$(python3 -m tests.support.pgcluster bindir 2>/dev/null) && \
	  "$$bindir/pg_config" --sharedir 2>/dev/null); \
	if test -n "$$sharedir" && test -e "$$sharedir/extension/pgstattuple.control"; then :; else \
	  tools/apt-install.sh postgresql-15; \
	fi

# The integration tests start their own clusters: they need the server binaries and contrib.
test-integration: pg-server pg-contrib

# The PostgreSQL area alone (make test runs these tests within units and test-integration).
test-postgres: venv collection pg-server pg-contrib
	$(call area-tests,postgres)

# A demo cluster with some load and slow statements; reused while it runs. Its connection is
# written to $(PG_DEMO_DIR)/inventory.yml (group `postgres`), which `make demo` adds.
demo-postgres: venv pg-server
	@if $(PGCLUSTER) status $(PG_DEMO_DIR) >/dev/null 2>&1; then \
	  echo "demo PostgreSQL already running"; \
	else \
	  $(PGCLUSTER) start $(PG_DEMO_DIR) && $(PGCLUSTER) load-demo $(PG_DEMO_DIR); \
	fi
	@$(PGCLUSTER) inventory $(PG_DEMO_DIR) $(PG_DEMO_DIR)/inventory.yml

demo-postgres-stop: venv
	$(PGCLUSTER) stop $(PG_DEMO_DIR) --destroy

# pg_health against check_postgres (Debian's check-postgres) and on 10,000 tables against 10.
# Prints ratios; not part of `make test`.
bench-postgres: venv collection pg-server
	tools/apt-install.sh check-postgres
	$(call bench,pg_health_vs_check_postgres)

# pg_bloat against check_postgres --action=bloat on 2,000 tables. Prints ratios; not part of
# `make test`.
bench-bloat: venv collection pg-server
	tools/apt-install.sh check-postgres
	$(call bench,pg_bloat_vs_check_postgres)
