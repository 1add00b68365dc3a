# airpack developer and CI entry points. `make help` lists them.
# The heavy lifting is in scripts/; see scripts/test.sh for what `make test` runs.

GO ?= go

.PHONY: help build test unit vet setup bench demo clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

build: ## build bin/airpack
	$(GO) build -o bin/airpack ./cmd/airpack

test: ## everything: shellcheck, vet, unit tests, e2e tests on Docker 20 and 29 (root)
	scripts/test.sh

unit: ## unit tests only (no Docker needed)
	$(GO) test ./...

vet: ## go vet
	$(GO) vet ./...

setup: ## install and build what the tests need (root; what CI runs first)
	scripts/ci-setup.sh

bench: ## benchmarks (scripts/bench.sh)
	@if [ -f scripts/bench.sh ]; then bash scripts/bench.sh; else echo "scripts/bench.sh does not exist yet"; fi

demo: ## end-to-end demo (scripts/demo.sh)
	bash scripts/demo.sh

clean: ## remove build outputs and test logs (keeps .tools, the slow-to-build engines)
	rm -rf bin out
