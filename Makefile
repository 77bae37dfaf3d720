# AuthProxy developer targets. Run `make help` for the list.
SHELL := /usr/bin/env bash
GO    ?= go
# Every Go module of the workspace (go.work ties them together).
MODULES := server sdk
PKGS    := ./server/... ./sdk/...
BIN     := $(CURDIR)/bin

# OpenTofu, built once from the Go module proxy (used by the Terraform acceptance tests).
TOFU_VERSION ?= v1.12.6
TOFU         := $(BIN)/tofu

.PHONY: help
help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

.PHONY: run
run: ## Start every service in dev mode (SQLite, in-process Redis, data in ./.authproxy)
	$(GO) run ./server/cmd/authproxy serve all

.PHONY: test
test: ## Run every test (Postgres/real Redis too when AUTHPROXY_TEST_POSTGRES_DSN / AUTHPROXY_TEST_REDIS_ADDR are set)
	$(GO) test -count=1 $(PKGS)

.PHONY: build
build: ## Build the authproxy binary into ./bin (no cgo needed)
	CGO_ENABLED=0 $(GO) build -o $(BIN)/authproxy ./server/cmd/authproxy

.PHONY: generate
generate: ## Regenerate the strict server and the SDK client from openapi/
	cd openapi && GOWORK=off $(GO) tool oapi-codegen -config server.cfg.yaml authproxy.yaml
	cd openapi && GOWORK=off $(GO) tool oapi-codegen -config client.cfg.yaml authproxy.yaml

.PHONY: check-generated
check-generated: generate ## Fail when generated code is not what `make generate` produces
	@git diff --exit-code -- server/internal/api sdk/client.gen.go || \
		{ echo "generated code is stale: run 'make generate' and commit the result" >&2; exit 1; }

.PHONY: lint
lint: ## go vet and gofmt on every module
	@for m in $(MODULES); do (cd $$m && $(GO) vet ./...) || exit 1; done
	@out=$$(gofmt -l server sdk); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

FUZZTIME ?= 20s
.PHONY: fuzz
fuzz: ## Fuzz every target for FUZZTIME each (the seed corpora also run in `make test`)
	$(GO) test -run=NONE -fuzz=FuzzValidatePath   -fuzztime=$(FUZZTIME) ./server/internal/namespace/
	$(GO) test -run=NONE -fuzz=FuzzParseSelector  -fuzztime=$(FUZZTIME) ./server/internal/labels/
	$(GO) test -run=NONE -fuzz=FuzzValidateLabels -fuzztime=$(FUZZTIME) ./server/internal/labels/
	$(GO) test -run=NONE -fuzz=FuzzIntersect      -fuzztime=$(FUZZTIME) ./server/internal/authz/
	$(GO) test -run=NONE -fuzz=FuzzVerify         -fuzztime=$(FUZZTIME) ./server/internal/authn/
	$(GO) test -run=NONE -fuzz=FuzzParsePublicKey -fuzztime=$(FUZZTIME) ./server/internal/authn/

.PHONY: bench
bench: ## Benchmarks: permission checks and JWT verification
	$(GO) test -run=NONE -bench=. -benchmem ./server/internal/authz/ ./server/internal/authn/

.PHONY: migrate
migrate: ## Apply migrations to the database of AUTHPROXY_CONFIG (dev database without it)
	$(GO) run ./server/cmd/authproxy migrate

.PHONY: tofu
tofu: $(TOFU) ## Build OpenTofu from the Go module proxy into ./bin/tofu (once; ~10 minutes)
$(TOFU):
	@mkdir -p $(BIN)
	cd "$$(mktemp -d)" && GOFLAGS=-mod=mod GOWORK=off $(GO) mod download -json github.com/opentofu/opentofu@$(TOFU_VERSION) > tofu.json && \
		dir=$$(sed -n 's/.*"Dir": "\(.*\)".*/\1/p' tofu.json) && \
		cd "$$dir" && GOWORK=off GOFLAGS=-mod=mod $(GO) build -o $(TOFU) ./cmd/tofu
	$(TOFU) version

.PHONY: clean
clean: ## Remove build output and the dev-mode data directory
	rm -rf $(BIN) .authproxy
