# Thin wrappers; every target assumes `bash .ci/setup` has run (it is idempotent).
VENV    := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.collections
PYTEST  := $(VENV)/bin/pytest
SANITY_TREE := $(CURDIR)/.cache/sanity/ansible_collections/hostnet/qemu

.PHONY: setup test pytest sanity lint molecule bench bench-roles lab lab-report lab-teardown lab-down lab-image guest-image clean

SCENARIOS ?= $(sort $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml))))

setup:
	bash .ci/setup

## test: everything CI runs (unit + kernel integration tests, sanity, lint, molecule scenarios)
test: pytest sanity lint molecule

# pytest exits 5 when it collected nothing: that is a failure here, never a pass.
pytest:
	@$(PYTEST) -q -p no:cacheprovider tests/unit tests/integration; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing on purpose"; exit 1; fi; exit $$rc

# ansible-test needs the collection under ansible_collections/NS/NAME: copy what git would ship.
# Run once per ansible-core version in tests/sanity/ansible-core-versions.txt (ignore files stay empty).
SANITY_VERSIONS ?= $(shell cat tests/sanity/ansible-core-versions.txt)
sanity:
	rm -rf $(SANITY_TREE) && mkdir -p $(SANITY_TREE)
	git ls-files -co --exclude-standard -z | rsync -a --from0 --files-from=- ./ $(SANITY_TREE)/
	cd $(SANITY_TREE) && git init -q && git add -A
	@set -e; for v in $(SANITY_VERSIONS); do echo "=== ansible-test sanity, ansible-core $$v"; \
	  (cd $(SANITY_TREE) && $(CURDIR)/.venv-sanity-$$v/bin/ansible-test sanity --color no --local --python 3.11 \
	    --requirements $(SANITY_ARGS)); done

lint:
	ansible-lint --profile production --offline

## molecule: every scenario under molecule/ (or SCENARIOS="a b"), each its full test sequence,
## MOLECULE_JOBS at a time (logs in .cache/molecule/NAME.log)
MOLECULE_JOBS ?= 2
molecule:
	bash tests/run-molecule.sh $(MOLECULE_JOBS) $(SCENARIOS)

## lab: the main job on the embedded default: lab host up, site.yml on inventories/lab, report
lab:
	bash tests/lab/lab.sh all

lab-report:
	bash tests/lab/lab.sh report

lab-teardown:
	bash tests/lab/lab.sh teardown

lab-down:
	bash tests/lab/lab.sh down

## lab-image: the podman lab host image (debootstrap, cached); guest-image: the test guest kernel + initramfs
lab-image:
	bash tests/lab/setup-host.sh && bash tests/lab/build-image.sh

guest-image:
	bash tests/guest/build.sh

bench:
	$(VENV)/bin/python benchmarks/netdevs_bench.py

## bench-roles: site.yml on lab hosts with 1, 10 and 50 guests against the baseline commit (about 30 min)
bench-roles:
	$(VENV)/bin/python benchmarks/roles_bench.py

clean:
	rm -rf .cache/sanity tests/output
