# Thin wrapper over CMake. `make demo` and `make test` are the README's two
# commands: both install missing Debian packages first (as root).
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRUNNEL_WERROR=ON

.PHONY: all deps build test test-sanitize demo bench fuzz clean

all: build

deps:
	@sh scripts/install-deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# The same suite under AddressSanitizer + UndefinedBehaviorSanitizer.
test-sanitize: deps
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_FLAGS) -DRUNNEL_SANITIZE=ON
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j$(JOBS)

# Word count on a generated corpus, on the embedded local cluster.
demo: build
	sh scripts/demo.sh $(BUILD)

bench: build
	sh bench/run.sh $(BUILD)

# Avro count/sum on a deflate file, next to avro-c's reader (issue 6).
.PHONY: bench-avro
bench-avro: build
	sh bench/avro.sh $(BUILD)

# read_text + count over a 1 GiB object on a local S3 server vs ranged curl.
.PHONY: bench-s3
bench-s3: build
	sh bench/s3.sh $(BUILD)

# frequencies over 20 M keys within --memory-limit 256MiB, bytes per key,
# and Dask with the same limit (issue 11; ~5 min, up to 20 with Dask).
.PHONY: bench-memory
bench-memory: build
	sh bench/memory.sh $(BUILD)

# The cluster rows (issue 4) with the mutual-TLS rows beside them (issue 10).
.PHONY: bench-cluster
bench-cluster: build
	BENCH_TLS=1 sh bench/cluster.sh $(BUILD)

# foldby and groupby on 10 M JSON records: local, 2 workers and 1, next to
# Dask bag; the shuffle's throughput (issue 12).
.PHONY: bench-shuffle
bench-shuffle: build
	sh bench/shuffle.sh $(BUILD)

# libFuzzer targets (clang); FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 60
fuzz: deps
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRUNNEL_FUZZ=ON -DRUNNEL_TESTS=ON
	cmake --build build-fuzz -j$(JOBS)
	sh tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz
