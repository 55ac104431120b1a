# Everything runs from pinned tools installed under .cache/ by infra/install.sh.
SHELL := /bin/bash
.DEFAULT_GOAL := test
.PHONY: install run test vet fmt-check unit validate build warm bench coldstart load cost fuzz fuzz-gate clean clean-all

SAM := .cache/sam-venv/bin/sam
# sam build runs `go build` with this environment (see the Go builder of SAM CLI).
SAM_ENV := AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 CGO_ENABLED=0 \
	GOFLAGS='-tags=lambda.norpc -trimpath -ldflags=-s'

install:
	bash infra/install.sh

# The whole backend on this machine; Ctrl-C stops it.
run:
	bash infra/install.sh services
	go run ./infra/cmd/local

test:
	bash infra/install.sh services sam schemathesis
	$(MAKE) --no-print-directory vet fmt-check unit validate build

vet:
	go vet ./...

fmt-check:
	@out="$$(gofmt -l $$(go list -f '{{.Dir}}' ./...))"; \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Integration tests start their own local system through infra/local; the fuzzing gate
# (infra/fuzz, docs/robustness.md) is one of them. -timeout leaves the e2e suite room on
# a busy machine. A passing package prints nothing without -v, so the gate writes its
# one-line summary to FUZZ_SUMMARY, printed here for CI's log.
unit:
	sum="$$(mktemp)"; FUZZ_SUMMARY="$$sum" go test ./... -count=1 -timeout 20m; rc=$$?; \
		cat "$$sum"; rm -f "$$sum"; exit $$rc

# The fuzzing gate alone, with its fixed seed.
fuzz-gate:
	bash infra/install.sh services schemathesis
	go test ./infra/fuzz -run TestFuzzGate -count=1 -v -timeout 30m

# The fuzzing gate with a random seed (printed; replay with FUZZ_SEED=<seed> make fuzz-gate)
# and more cases per operation.
fuzz:
	bash infra/install.sh services schemathesis
	FUZZ_SEED=$${FUZZ_SEED:-random} FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-30} \
		go test ./infra/fuzz -run TestFuzzGate -count=1 -v -timeout 60m

# Lint, then count the transformed template's resources against CloudFormation's
# 500-resource limit (a function costs three: function, role, permission; two when it
# shares a role of the template's shared roles).
validate:
	$(SAM_ENV) $(SAM) validate --lint
	$(SAM_ENV) .cache/sam-venv/bin/python infra/count_resources.py template.yaml
	@python3 infra/cost.py | diff -q - docs/cost.md >/dev/null || { echo "docs/cost.md is stale: run make cost"; exit 1; }

# Compiling every function once with the same flags fills the Go build cache, so the
# per-function builds of sam build are quick. GOARCH follows the template's
# Architectures (arm64); were they to differ, only the cache would miss.
warm:
	$(SAM_ENV) GOOS=linux GOARCH=arm64 go build ./functions/...

build: warm
	$(SAM_ENV) $(SAM) build

# Every benchmark, the cold-start one (infra/coldstart) included: it needs RIE, and skips
# saying so without it.
bench:
	bash infra/install.sh rie
	go test -run '^$$' -bench . -benchmem ./...

# The cold starts alone: every function beside its floor under the Lambda Runtime Interface
# Emulator, 20 interleaved rounds, warm and evicted page cache (docs/measurements.md, "Cold
# starts"). 3 to 8 minutes once the builds are cached, as the machine's load goes (the first
# build adds about 2 minutes of links); nice, as the machine is shared. COLDSTART_ROUNDS and
# COLDSTART_FUNCTIONS (a regexp) narrow it.
coldstart:
	bash infra/install.sh rie
	nice go test ./infra/coldstart -run '^$$' -bench ColdStart -benchtime 1x -count=1 -timeout 30m

# The load test (infra/cmd/load, vegeta): its own local system, 50 clients for 60 s, then
# the checks (every 201 readable, counters exact, changes audited, no 5xx); exit 1 when
# one fails. LOAD_DURATION=10s shortens it, LOAD_WORKERS changes the clients. make test
# runs only its unit tests, without a system. Figures in docs/measurements.md.
load:
	bash infra/install.sh services
	go run ./infra/cmd/load

# docs/cost.md: the bill per million calls, computed from the measured units and list
# prices named in infra/cost.py.
cost:
	python3 infra/cost.py > docs/cost.md

clean:
	rm -rf .aws-sam .cache/logs

clean-all: clean
	rm -rf .cache
