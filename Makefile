# AuthProxy developer targets. Run `make help` for the list.
SHELL := /usr/bin/env bash
GO    ?= go
# Every Go module of the workspace (go.work ties them together).
MODULES := server sdk terraform-provider examples/go-app examples/host-app
PKGS    := ./server/... ./sdk/... ./terraform-provider/...
BIN     := $(CURDIR)/bin

# OpenTofu, built once from the Go module proxy (used by the Terraform acceptance tests).
TOFU_VERSION ?= v1.12.6
TOFU         := $(BIN)/tofu
# Terraform, when installed: the acceptance tests and `make e2e` also run with it.
TERRAFORM    ?= $(shell command -v terraform 2>/dev/null)

# The provider as `make provider-install` builds it into the local filesystem mirror.
PROVIDER_VERSION ?= 0.0.1

.PHONY: help
help: ## List the targets
	@grep -E '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

.PHONY: run
run: ## Start every service in dev mode (SQLite, in-process Redis, data in ./.authproxy)
	$(GO) run ./server/cmd/authproxy serve all

.PHONY: test
test: ## Run every test: unit tests, then `testacc` (Postgres/real Redis too when AUTHPROXY_TEST_POSTGRES_DSN / AUTHPROXY_TEST_REDIS_ADDR are set)
	TF_ACC= $(GO) test -count=1 $(PKGS)
	@$(MAKE) --no-print-directory testacc

.PHONY: test-race
test-race: ## Server and SDK tests under the race detector (needs cgo; CI runs it)
	TF_ACC= $(GO) test -race -count=1 ./server/... ./sdk/...

.PHONY: build
build: ## Build the authproxy binary into ./bin (no cgo needed)
	CGO_ENABLED=0 $(GO) build -o $(BIN)/authproxy ./server/cmd/authproxy

.PHONY: generate
generate: ## Regenerate the strict server and the SDK client from openapi/
	cd openapi && GOWORK=off $(GO) tool oapi-codegen -config server.cfg.yaml authproxy.yaml
	cd openapi && GOWORK=off $(GO) tool oapi-codegen -config client.cfg.yaml authproxy.yaml
	cp openapi/authproxy.yaml server/internal/api/openapi.yaml
	cp openapi/connector-definition.schema.json server/internal/connector/definition/schema.json

.PHONY: check-generated
check-generated: generate ## Fail when generated code is not what `make generate` produces
	@git diff --exit-code -- server/internal/api server/internal/connector/definition/schema.json sdk/client.gen.go || \
		{ echo "generated code is stale: run 'make generate' and commit the result" >&2; exit 1; }

.PHONY: lint
lint: ## go vet and gofmt on every module
	@for m in $(MODULES); do (cd $$m && $(GO) vet ./...) || exit 1; done
	@out=$$(gofmt -l $(MODULES)); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

FUZZTIME ?= 20s
.PHONY: fuzz
fuzz: ## Fuzz every target for FUZZTIME each (the seed corpora also run in `make test`)
	$(GO) test -run=NONE -fuzz=FuzzValidatePath   -fuzztime=$(FUZZTIME) ./server/internal/namespace/
	$(GO) test -run=NONE -fuzz=FuzzParseSelector  -fuzztime=$(FUZZTIME) ./server/internal/labels/
	$(GO) test -run=NONE -fuzz=FuzzValidateLabels -fuzztime=$(FUZZTIME) ./server/internal/labels/
	$(GO) test -run=NONE -fuzz=FuzzIntersect      -fuzztime=$(FUZZTIME) ./server/internal/authz/
	$(GO) test -run=NONE -fuzz=FuzzVerify         -fuzztime=$(FUZZTIME) ./server/internal/authn/
	$(GO) test -run=NONE -fuzz=FuzzParsePublicKey -fuzztime=$(FUZZTIME) ./server/internal/authn/
	$(GO) test -run=NONE -fuzz=FuzzParse          -fuzztime=$(FUZZTIME) ./server/internal/connector/definition/
	$(GO) test -run=NONE -fuzz=FuzzCheckAddr      -fuzztime=$(FUZZTIME) ./server/internal/proxy/guard/

.PHONY: bench
bench: ## Benchmarks: permission checks, JWT verification, envelope encryption, re-encryption, the proxy against a bare reverse proxy (Postgres too when AUTHPROXY_TEST_POSTGRES_DSN is set); see docs/benchmarks.md
	$(GO) test -run=NONE -bench=. -benchmem ./server/internal/authz/ ./server/internal/authn/ ./server/internal/encrypt/
	$(GO) test -run=NONE -bench=Reencrypt -benchtime=2x -timeout=30m ./server/internal/keys/
	$(GO) test -run=NONE -bench=Proxy -benchtime=1x ./server/integration/

.PHONY: migrate
migrate: ## Apply migrations to the database of AUTHPROXY_CONFIG (dev database without it)
	$(GO) run ./server/cmd/authproxy migrate

.PHONY: tofu
tofu: $(TOFU) ## Build OpenTofu from the Go module proxy into ./bin/tofu (once; ~10 minutes)
# The build is kept in TOFU_CACHE (outside the repository), so fresh clones on the same
# machine, CI's included, copy it instead of building again.
TOFU_CACHE ?= $(HOME)/.cache/authproxy/tofu-$(TOFU_VERSION)
$(TOFU):
	@mkdir -p $(BIN) $(dir $(TOFU_CACHE))
	@if [ ! -x "$(TOFU_CACHE)" ]; then \
		echo "building OpenTofu $(TOFU_VERSION) from the Go module proxy (once; about 10 minutes)"; \
		tmp=$$(mktemp -d) && cd "$$tmp" && \
		GOFLAGS=-mod=mod GOWORK=off $(GO) mod download -json github.com/opentofu/opentofu@$(TOFU_VERSION) > tofu.json && \
		dir=$$(sed -n 's/.*"Dir": "\(.*\)".*/\1/p' tofu.json) && \
		cd "$$dir" && GOWORK=off GOFLAGS=-mod=mod $(GO) build -o "$(TOFU_CACHE).tmp" ./cmd/tofu && \
		mv -f "$(TOFU_CACHE).tmp" "$(TOFU_CACHE)"; \
	fi
	cp "$(TOFU_CACHE)" $(TOFU)
	@echo 'disable_checkpoint = true' > $(BIN)/version.tfrc
	TF_CLI_CONFIG_FILE=$(BIN)/version.tfrc $(TOFU) version

.PHONY: provider-install
provider-install: ## Build the Terraform provider into the mirror ./bin/plugins and write ./bin/authproxy.tfrc
	@BIN=$(BIN) GO=$(GO) PROVIDER_VERSION=$(PROVIDER_VERSION) ./terraform-provider/scripts/provider-install.sh

# The acceptance tests write a CLI config file of their own; this one only keeps the
# machine's TF_CLI_CONFIG_FILE (which may name a missing file) out of the way.
TESTACC_TFRC := $(BIN)/testacc.tfrc
.PHONY: testacc
testacc: tofu ## Terraform acceptance tests with OpenTofu, then with Terraform when installed
	@mkdir -p $(BIN) && echo 'disable_checkpoint = true' > $(TESTACC_TFRC)
	TF_CLI_CONFIG_FILE=$(TESTACC_TFRC) TF_ACC=1 TF_ACC_TERRAFORM_PATH=$(TOFU) TF_ACC_PROVIDER_HOST=registry.opentofu.org \
		$(GO) test -count=1 -timeout 30m ./terraform-provider/...
	@if [ -n "$(TERRAFORM)" ]; then \
		echo "TF_CLI_CONFIG_FILE=$(TESTACC_TFRC) TF_ACC=1 TF_ACC_TERRAFORM_PATH=$(TERRAFORM) TF_ACC_PROVIDER_HOST=registry.terraform.io $(GO) test -count=1 -timeout 30m ./terraform-provider/..."; \
		TF_CLI_CONFIG_FILE=$(TESTACC_TFRC) TF_ACC=1 TF_ACC_TERRAFORM_PATH=$(TERRAFORM) TF_ACC_PROVIDER_HOST=registry.terraform.io \
			$(GO) test -count=1 -timeout 30m ./terraform-provider/...; \
	else echo "terraform not on PATH: acceptance tests ran with OpenTofu only"; fi

.PHONY: e2e
e2e: tofu ## Dev server + provider mirror: quickstart init/apply/plan/destroy and `test` of modules/tenant (OpenTofu, and Terraform when installed)
	TOFU=$(TOFU) TERRAFORM=$(TERRAFORM) BIN=$(BIN) GO=$(GO) PROVIDER_VERSION=$(PROVIDER_VERSION) ./terraform-provider/scripts/e2e.sh

.PHONY: docs
docs: $(if $(TERRAFORM),,tofu) ## Generate terraform-provider/docs with tfplugindocs (schema from the local CLI; never downloads)
	TOFU=$(TOFU) TERRAFORM=$(TERRAFORM) GO=$(GO) ./terraform-provider/scripts/docs.sh

.PHONY: check-docs
check-docs: docs ## Fail when terraform-provider/docs is not what `make docs` produces (or is not committed)
	@git diff --exit-code -- terraform-provider/docs && test -z "$$(git status --porcelain -- terraform-provider/docs)" || \
		{ git status --porcelain -- terraform-provider/docs >&2; \
		  echo "provider docs are stale or not committed: run 'make docs' and commit terraform-provider/docs" >&2; exit 1; }

.PHONY: clean
clean: ## Remove build output and the dev-mode data directory
	rm -rf $(BIN) .authproxy

SCALE_N ?= 500
.PHONY: scale
scale: $(if $(SCALE_CLI),,tofu) ## Scale benchmark: apply/no-change plan/destroy of 1+SCALE_N namespaces and SCALE_N actors on a dev server, timed, API calls counted (SCALE_CLI=terraform for Terraform)
	SCALE_N=$(SCALE_N) SCALE_CLI="$(or $(SCALE_CLI),$(TOFU))" BIN=$(BIN) GO=$(GO) PROVIDER_VERSION=$(PROVIDER_VERSION) ./terraform-provider/scripts/scale.sh
