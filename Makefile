# Augur build. Every target runs on a fresh machine with Go and, for
# `proto`, Debian's protobuf-compiler.

GO       ?= go
BIN      ?= bin/augur
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT   ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
PKGS     := ./...
BENCHTIME ?= 1x

.PHONY: all build test test-race bench bench-expander proto generate run lint fuzz clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/augur

test:
	$(GO) test $(PKGS)

# What CI runs: every test with the race detector on.
test-race:
	$(GO) test -race -count=1 $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# The expander's latency over TLS on loopback beside an echo server; the
# figures in the README come from this target.
bench-expander:
	$(GO) test -run '^$$' -bench BestOptions -benchtime 50x ./expander

proto:
	protoc --plugin=protoc-gen-go="$$($(GO) tool -n protoc-gen-go)" \
	       --plugin=protoc-gen-go-grpc="$$($(GO) tool -n protoc-gen-go-grpc)" \
	       --go_out=. --go_opt=paths=source_relative \
	       --go-grpc_out=. --go-grpc_opt=paths=source_relative \
	       expander/protos/expander.proto

generate:
	$(GO) generate ./...

# Runs the expander on its embedded defaults with a self-signed localhost
# certificate.
run:
	$(GO) run ./cmd/augur expander --dev

lint:
	@out="$$(gofmt -l $$(git ls-files '*.go'))"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzBestOptions -fuzztime 60s ./expander

# Forecast accuracy (rolling-origin protocol of docs/forecast.md, with R's
# stlf beside it when Rscript and r-cran-forecast are installed), anomaly
# detection on NAB, and single-core fit+forecast time. Needs ../shared/data.
.PHONY: bench-forecast
bench-forecast:
	cd forecast && $(GO) test -run '^$$' -bench 'Accuracy|AnomalyNAB' -benchtime 1x -timeout 60m .
	cd forecast && $(GO) test -run '^$$' -bench FitForecast -cpu 1 -benchmem .

# End-to-end suite (docs/deploy.md): etcd and the Kubernetes control plane
# as processes on loopback, the chart applied with strict server-side
# validation, the expander binary and Debian's prometheus. The control-plane
# binaries are built once per version by e2e/build-control-plane.sh into
# AUGUR_E2E_BIN_CACHE (default e2e/.bin) and reused on every later run.
E2E_TIMEOUT ?= 20m
.PHONY: e2e e2e-bins e2e-kind
e2e-bins:
	GO=$(GO) e2e/build-control-plane.sh >/dev/null

e2e: build
	bindir="$$(GO=$(GO) e2e/build-control-plane.sh)" && cd e2e && \
	AUGUR_E2E_REQUIRE=1 AUGUR_E2E_BIN_DIR="$$bindir" AUGUR_E2E_AUGUR="$(CURDIR)/$(BIN)" \
	$(GO) test -count=1 -v -timeout $(E2E_TIMEOUT) ./...

# The same suite on a kind cluster, with the image built from the
# Dockerfile (needs Docker and kind; see docs/deploy.md).
e2e-kind: build
	GO=$(GO) AUGUR_E2E_AUGUR="$(CURDIR)/$(BIN)" e2e/kind.sh

# Price catalogue and spot-risk figures (docs/cost-and-spot.md): memory of
# a region refresh, the lookup cost, and the risk model against public data.
.PHONY: bench-cost spot-validate
bench-cost:
	$(GO) test -run '^$$' -bench 'RefreshRegion' -benchtime 5x -benchmem ./cost
	$(GO) test -run '^$$' -bench 'PriceLive' -benchmem ./cost
	$(GO) test -run '^$$' -bench 'Lookup' -benchmem ./spot

spot-validate:
	$(GO) test -count=1 -run 'TestBambooData' ./spot
	$(GO) test -run '^$$' -bench 'Validate' -benchtime 1x ./spot

clean:
	rm -rf bin
