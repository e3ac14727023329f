# Thin wrappers; every target assumes `bash .ci/setup` has run (it is idempotent).
VENV    := $(CURDIR)/.venv
export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.collections
PYTEST  := $(VENV)/bin/pytest

.PHONY: setup test pytest sanity lint docsite molecule bench bench-roles bench-ports lab lab-report lab-teardown lab-down lab-image guest-image clean

SCENARIOS ?= $(sort $(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml))))

setup:
	bash .ci/setup

## test: everything CI runs (unit + real-kernel tests, sanity, lint, molecule scenarios)
test: pytest sanity lint molecule

# pytest exits 5 when it collected nothing: that is a failure here, never a pass.
pytest:
	@$(PYTEST) -q -p no:cacheprovider tests/unit tests/kernel; rc=$$?; \
	  if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing on purpose"; exit 1; fi; exit $$rc

# ansible-test sanity once per ansible-core version in tests/sanity/ansible-core-versions.txt (empty ignore
# files); a version whose controller Python this machine lacks is skipped with the reason (tests/sanity/run.sh).
sanity:
	bash tests/sanity/run.sh

# ansible-lint (production profile) and antsibull-docs on the collection as this checkout links it
lint:
	ansible-lint --profile production --offline
	cd .collections/ansible_collections/hostnet/qemu && antsibull-docs lint-collection-docs --plugin-docs .

## docsite: write docs/docsite/rst/*.rst and extra-docs.yml from docs/*.md (a unit test fails while they differ)
docsite:
	$(VENV)/bin/python docs/docsite/md2rst.py

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

## bench-ports: guest-to-guest iperf3 with and without the anti-spoofing filter (needs iperf3; about 1 min)
bench-ports:
	$(VENV)/bin/python benchmarks/ports_bench.py

clean:
	rm -rf .cache/sanity tests/output
