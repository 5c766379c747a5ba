# relay-host: `make` builds everything into bin/, `make test` is what CI runs.
GO       ?= go
BIN      := bin
VERSION  ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
# Provider plugins: every providers/<name>/main.go becomes bin/relay-provider-<name>.
PROVIDERS := $(sort $(notdir $(patsubst %/,%,$(dir $(wildcard providers/*/main.go)))))
EXAMPLES  := $(sort $(notdir $(patsubst %/,%,$(dir $(wildcard sdk/examples/*/main.go)))))
CORE      := $(if $(wildcard host/cmd/relay-host-core/*.go),$(BIN)/relay-host-core)
FUZZTIME ?= 10s

.PHONY: all build test unit fuzz proto proto-check bench lint clean FORCE

all: build

build: $(BIN)/relay-host $(CORE) $(PROVIDERS:%=$(BIN)/relay-provider-%) $(EXAMPLES:%=$(BIN)/relay-provider-%)

$(BIN)/relay-host: FORCE
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./host/cmd/relay-host

$(BIN)/relay-host-core: FORCE
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./host/cmd/relay-host-core

$(BIN)/relay-provider-%: FORCE
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./$(if $(wildcard providers/$*),providers/$*,sdk/examples/$*)

# test = vet + every Go test + a short run of each fuzz target + the
# generated-code check. The README's test command.
test: build unit fuzz proto-check

unit:
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 20m ./...

fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParseRecord$$' -fuzztime $(FUZZTIME) ./admission/
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./host/config/
	$(GO) test -run '^$$' -fuzz '^FuzzSanitize$$' -fuzztime $(FUZZTIME) ./host/sanitize/
	$(GO) test -run '^$$' -fuzz '^FuzzSectionSink$$' -fuzztime $(FUZZTIME) ./host/packet/

proto:
	sdk/proto/generate.sh

proto-check:
	sdk/proto/check-generated.sh

# Benchmarks: Go benchmarks (medians over -count runs) and the whole-process
# comparison against flock(1) and GNU sem. Results go in BENCHMARKS.md.
BENCHSTAT := $(GO) run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

bench: build
	$(GO) test -run '^$$' -bench 'AcquireRelease|ColdAcquire' -benchtime 3000x -count 10 ./admission/ > $(BIN)/bench-admission.txt
	$(GO) test -run '^$$' -bench 'SixteenProcesses' -benchtime 3x -count 10 ./admission/ >> $(BIN)/bench-admission.txt
	$(GO) test -run '^$$' -bench . -benchtime 20x -count 10 ./host/internal/pluginhost/ ./host/internal/e2e/ > $(BIN)/bench-host.txt
	$(BENCHSTAT) $(BIN)/bench-admission.txt $(BIN)/bench-host.txt
	admission/bench/process-bench.sh $(BIN)/relay-host

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

clean:
	rm -rf $(BIN)

FORCE:
