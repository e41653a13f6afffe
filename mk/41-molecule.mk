# Molecule scenarios on locally built Debian 12 containers (see docs/molecule.md).
#   make molecule                     every scenario under molecule/
#   make molecule-scenario S=name     one scenario (or several: S="a b")
#   make molecule-images              the base image only

MOLECULE_SCENARIOS := $(sort $(patsubst molecule/%/molecule.yml,%,$(wildcard molecule/*/molecule.yml)))

# Scenarios live in molecule/ at the collection root.
export MOLECULE_GLOB := molecule/*/molecule.yml
# Container and image names carry this id, so two checkouts on one machine never collide.
export FLEETOPS_MOLECULE_ID ?= $(shell printf '%s' '$(ROOT)' | md5sum | cut -c1-8)
export NO_COLOR := 1

.PHONY: molecule molecule-scenario molecule-images
molecule: venv collection
	@tools/molecule-run.sh $(MOLECULE_SCENARIOS)

molecule-scenario: venv collection
	@test -n "$(S)" || { echo "usage: make molecule-scenario S=<name>  (one of: $(MOLECULE_SCENARIOS))" >&2; exit 2; }
	@tools/molecule-run.sh $(S)

molecule-images:
	tools/build-image.sh
