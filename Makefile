# flowssl build. `make demo` and `make test` are all a fresh Debian machine needs:
# both install what is missing (setup) and prepare gotch for the installed libtorch (deps).
SHELL := /bin/bash
GO ?= go
BIN := bin
# LIBTORCH=/path/to/torch (a PyTorch install's torch/ with lib/ and include/) selects that libtorch;
# empty means Debian's libtorch-dev. FLOWSSL_FLAVOUR=cpu|cuda|auto.
export LIBTORCH
export FLOWSSL_FLAVOUR
# FLOWSSL_LINK=cgo (default: gotch's C++ layer compiled into each binary) or shared (binaries
# link build/libtch/<libtorch version>-<flavour>/libflowssl_tch.so, built by `make libtch`).
export FLOWSSL_LINK
LIBTCH_ROOT ?= build/libtch
# libtorch's OpenMP pool and flowssl's augment workers share the cores; flowssl sets the split itself.
export OMP_NUM_THREADS ?= 1
# glibc keeps one arena per thread that touched malloc; with many decode threads freed memory stays mapped.
export MALLOC_ARENA_MAX ?= 2
# libgomp threads that spin while idle starve whatever shares their cores (other test packages run
# in parallel, augment workers): see model.RecommendedEnv.
export OMP_WAIT_POLICY ?= PASSIVE
# OpenBLAS's pthread pool spins after each small matmul on the cores OpenMP is using (model.RecommendedEnv).
export OPENBLAS_NUM_THREADS ?= 1

APT_PKGS := libtorch-dev libvips-dev pkg-config g++ python3-torch python3-torchvision python3-numpy dataset-fashion-mnist python3-sklearn
BENCH_PKGS := mate-backgrounds

.PHONY: setup setup-bench deps build test demo bench e2e lint clean libtch gpu-bundle gpu-check-cpu

setup:
	@missing=$$(for p in $(APT_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "setup: installing $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

setup-bench: setup
	@missing=$$(for p in $(BENCH_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; fi

$(BIN)/gotchprep: $(wildcard tools/gotchprep/*.go) tools/gotchprep/go.mod
	@mkdir -p $(BIN)
	cd tools/gotchprep && $(GO) build -o ../../$(BIN)/gotchprep .

deps: $(BIN)/gotchprep
	@./$(BIN)/gotchprep -out .deps
	@$(GO) mod download

build: deps
	$(GO) build -o $(BIN)/flowssl ./cmd/flowssl

test: setup deps
	cd tools/gotchprep && $(GO) test ./...
	$(GO) vet ./...
	$(GO) test -timeout 25m ./...

demo: setup deps build
	./scripts/demo.sh

bench: setup-bench deps build
	./scripts/bench.sh

e2e: setup deps build
	FLOWSSL_E2E=1 $(GO) test -timeout 240m -run E2E ./...

lint: deps
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd tools/gotchprep && $(GO) vet ./...

# gotch's C++ layer + flowssl's shim as a shared library for the libtorch LIBTORCH names.
libtch: $(BIN)/gotchprep
	@./$(BIN)/gotchprep -lib -libroot $(LIBTCH_ROOT)

# Shared-mode flowssl and CUDA test binaries plus what builds the library there, for scripts/gpu-check.sh.
gpu-bundle: setup
	./scripts/gpu-bundle.sh build/gpu-bundle

# scripts/gpu-check.sh's plumbing on this CPU-only machine (Debian's libtorch, tiny sizes).
gpu-check-cpu: gpu-bundle
	FLOWSSL_GPU_CHECK_CPU=1 ./scripts/gpu-check.sh work_dirs/gpu-check-cpu

clean:
	rm -rf $(BIN) .deps build
