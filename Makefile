# Thin wrapper around CMake.  Every entry point installs what is missing
# first (as root), so `make demo` and `make test` work on a fresh Debian 12.

# Debian packages the build, the tests and the demo need.
DEPS := build-essential cmake pkg-config libsodium-dev libsqlcipher-dev libssl-dev sqlcipher \
        libmicrohttpd-dev libgnutls28-dev gnutls-bin libsystemd-dev systemd libcurl4-gnutls-dev \
        libyaml-dev libjansson-dev libcsv-dev libunistring-dev libcmocka-dev libsqlite3-dev python3 clang libclang-rt-14-dev \
        python3-venv python3-pip python3-setuptools python3-wheel python3-setuptools-whl python3-wheel-whl mypy tzdata \
        debhelper dh-python python3-all pybuild-plugin-pyproject lintian postgresql-15 libpq-dev \
        groff-base man-db

BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)

.PHONY: all deps configure build demo test test-asan test-fast test-extended bench fuzz install package clean

all: build

# Installs missing packages when run as root; otherwise prints the exact
# apt-get line and fails.
deps:
	@missing=""; \
	for p in $(DEPS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed$$' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
	  echo "make deps: installing$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -q && apt-get install -y -q --no-install-recommends $$missing; \
	else \
	  echo "make deps: missing Debian packages; install them as root with:"; \
	  echo "  apt-get install$$missing"; \
	  exit 1; \
	fi

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

configure: deps $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	./$(BUILD)/vaultctl demo

# The whole suite, then the whole suite again under ASan + UBSan.
test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	$(MAKE) --no-print-directory test-asan

test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DVAULT_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS)

# Only the normal build's tests (for a quick loop while developing).
test-fast: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Longer runs of the crash and concurrency tests (VAULT_TEST_EXTENDED=1).
test-extended: build
	cd $(BUILD) && VAULT_TEST_EXTENDED=1 ctest --output-on-failure -j $(JOBS)

# Benchmarks against the raw primitives in the same run (bench/README.md).
# BENCH_ARGS=--quick for the short run.  Standard output is the JSON document
# alone (the build and progress go to standard error), so it can be piped.
# The PostgreSQL section runs on VAULT_PG_URI if set, else in a throwaway
# cluster (tests/pg/pg_cluster.sh).
bench:
	@$(MAKE) --no-print-directory build >&2
	@if [ -n "$$VAULT_PG_URI" ]; then ./$(BUILD)/bench/vault_bench $(BENCH_ARGS); \
	 else tests/pg/pg_cluster.sh run ./$(BUILD)/bench/vault_bench $(BENCH_ARGS); fi

# libFuzzer targets (clang), each for FUZZ_SECONDS; crashes land in fuzz/findings.
FUZZ_SECONDS ?= 60
fuzz: deps
	./fuzz/run.sh $(FUZZ_SECONDS)

install: build
	cmake --install $(BUILD)

# Debian packages (debian/, docs/packaging.md) into $(BUILD)/packages,
# checked with lintian; fails on any lintian error.
package: deps
	packaging/build-debs.sh $(BUILD)/packages

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
