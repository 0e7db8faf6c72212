# Build, test and run the edge: a custom Caddy (xcaddy.json) and a custom
# CoreDNS (plugin.cfg). Binaries are rebuilt only when their inputs change.

GO      ?= go
BIN     := bin
export CGO_ENABLED ?= 0

# Inputs of each binary: the build description, the module files, and every
# non-test source file (embedded files included) of the code built into it.
MOD_FILES     := go.mod go.sum
CADDY_SRC     := $(shell find caddymodules cmd/xcaddybuild internal -type f ! -name '*_test.go' ! -name '*.md' ! -path '*/testdata/*' 2>/dev/null)
COREDNS_SRC   := $(shell find corednsplugin cmd/corednsbuild internal -type f ! -name '*_test.go' ! -name '*.md' ! -path '*/testdata/*' 2>/dev/null)
TOOLS         := devca demobackend geoipgen mcns-token
# The small tools import packages from all over the tree; they build in a
# second, so any source change rebuilds them.
GO_SRC        := $(shell find . -name '*.go' ! -name '*_test.go' ! -path './_build/*' 2>/dev/null)

.PHONY: all build caddy coredns tools test e2e bench run clean tidy dist

all: build

build: caddy coredns tools

caddy: $(BIN)/caddy
coredns: $(BIN)/coredns
tools: $(addprefix $(BIN)/,$(TOOLS))

$(BIN)/caddy: xcaddy.json $(MOD_FILES) $(CADDY_SRC)
	$(GO) run ./cmd/xcaddybuild -config xcaddy.json -o $@

$(BIN)/coredns: plugin.cfg $(MOD_FILES) $(COREDNS_SRC)
	$(GO) run ./cmd/corednsbuild -cfg plugin.cfg -o $@

define tool_rule
$(BIN)/$(1): $(GO_SRC) $(MOD_FILES)
	$(GO) build -o $$@ ./cmd/$(1)
endef
$(foreach t,$(TOOLS),$(eval $(call tool_rule,$(t))))

# test: static checks, every package with the race detector (which needs
# cgo), and the integration tests that drive the real binaries. -count=1:
# go cannot see a rebuilt binary, so cached results would be stale.
test: build
	$(GO) vet ./...
	CGO_ENABLED=1 EDGE_BIN_DIR=$(CURDIR)/$(BIN) $(GO) test -race -count=1 -timeout 45m ./...

# e2e: the deployment rehearsed across network namespaces (needs root; it
# skips with a message otherwise). make test runs it too.
e2e: build
	EDGE_BIN_DIR=$(CURDIR)/$(BIN) $(GO) test -count=1 -v -run 'TestEndToEnd|TestACMEDNS01' ./integration

bench: build
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./caddymodules/... ./corednsplugin/...
	GO=$(GO) EDGE_BIN_DIR=$(CURDIR)/$(BIN) ./scripts/bench-dns.sh
	GO=$(GO) EDGE_BIN_DIR=$(CURDIR)/$(BIN) ./scripts/bench-caddy.sh

# run: both servers with the example configurations on high ports, all
# state under _run/; Ctrl-C stops everything.
run: build
	./scripts/run.sh

# dist: release binaries for Linux (amd64, arm64) into dist/, stamped with
# this checkout's version like bin/ (git describe; see internal/version),
# each with its module list (go version -m) and a CycloneDX SBOM, and
# SHA256SUMS over all of them. Always a full rebuild.
DIST_ARCHES := amd64 arm64
CYCLONEDX   := github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@v1.10.0
dist:
	rm -rf dist && mkdir -p dist
	set -e; for arch in $(DIST_ARCHES); do \
		$(GO) run ./cmd/xcaddybuild -config xcaddy.json -goos linux -goarch $$arch -o dist/caddy-linux-$$arch; \
		$(GO) run ./cmd/corednsbuild -cfg plugin.cfg -dir _build/coredns-dist -goos linux -goarch $$arch -o dist/coredns-linux-$$arch; \
	done
	set -e; cd dist && for b in *-linux-*; do \
		$(GO) version -m $$b >$$b.modules.txt; \
		$(GO) run $(CYCLONEDX) bin -json -output $$b.cdx.json $$b; \
	done; sha256sum -- * >SHA256SUMS

# tidy keeps go.sum complete for the generated CoreDNS main module too.
tidy:
	$(GO) mod tidy

clean:
	rm -rf $(BIN) _build _run dist
