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

.PHONY: all build test unit fuzz proto proto-check bench lint clean install uninstall FORCE

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
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./host/internal/findings/

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

# install: relay-host, relay-host-core and every plugin go into one
# directory, $(PREFIX)/libexec/relay-host, where they find each other (the
# front execs the core beside it, the core looks for plugins beside
# itself); only a relative symlink to relay-host goes on PATH. Also
# bash/zsh/fish completions and man pages generated from the CLI. Every
# file written is listed in the manifest, which uninstall removes.
PREFIX   ?= /usr/local
DESTDIR  ?=
LIBEXEC  := $(PREFIX)/libexec/relay-host
SHARE    := $(PREFIX)/share
MANIFEST := $(DESTDIR)$(LIBEXEC)/install-manifest
PLUGINS  := $(PROVIDERS:%=relay-provider-%) $(EXAMPLES:%=relay-provider-%)

install: build
	install -d $(DESTDIR)$(LIBEXEC) $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SHARE)/man/man1 \
		$(DESTDIR)$(SHARE)/bash-completion/completions $(DESTDIR)$(SHARE)/zsh/site-functions \
		$(DESTDIR)$(SHARE)/fish/vendor_completions.d
	install -m 0755 $(BIN)/relay-host $(BIN)/relay-host-core $(PLUGINS:%=$(BIN)/%) $(DESTDIR)$(LIBEXEC)/
	ln -sfn ../libexec/relay-host/relay-host $(DESTDIR)$(PREFIX)/bin/relay-host
	$(BIN)/relay-host completion bash > $(DESTDIR)$(SHARE)/bash-completion/completions/relay-host
	$(BIN)/relay-host completion zsh > $(DESTDIR)$(SHARE)/zsh/site-functions/_relay-host
	$(BIN)/relay-host completion fish > $(DESTDIR)$(SHARE)/fish/vendor_completions.d/relay-host.fish
	rm -rf $(BIN)/man1 && $(GO) run -ldflags '-X main.version=$(VERSION)' ./host/internal/cli/mangen $(BIN)/man1
	install -m 0644 $(BIN)/man1/*.1 $(DESTDIR)$(SHARE)/man/man1/
	{ for f in relay-host relay-host-core $(PLUGINS) install-manifest; do echo $(LIBEXEC)/$$f; done; \
	  echo $(PREFIX)/bin/relay-host; \
	  echo $(SHARE)/bash-completion/completions/relay-host; \
	  echo $(SHARE)/zsh/site-functions/_relay-host; \
	  echo $(SHARE)/fish/vendor_completions.d/relay-host.fish; \
	  for f in $(BIN)/man1/*.1; do echo $(SHARE)/man/man1/$${f##*/}; done; } > $(MANIFEST)

uninstall:
	@test -f $(MANIFEST) || { echo "uninstall: no $(MANIFEST): nothing installed with PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)"; exit 1; }
	while read -r f; do rm -f "$(DESTDIR)$$f"; done < $(MANIFEST)
	rmdir $(DESTDIR)$(LIBEXEC)

clean:
	rm -rf $(BIN)

FORCE:
