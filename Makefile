# Thin wrapper around CMake.  `make demo` and `make check` work on a fresh
# Debian 12 machine: they install missing packages first.
BUILD      ?= build
ASAN_BUILD ?= build-asan
PREFIX     ?= /usr/local
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=

FUZZ_BUILD ?= build-fuzz
SECONDS    ?= 60

.PHONY: all deps configure demo check check-asan check-valgrind test install fuzz fuzz-run man bench clean

all: deps $(BUILD)/Makefile
	@cmake --build $(BUILD) -j $(JOBS)

deps:
	@scripts/install-deps

$(BUILD)/Makefile:
	@cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_ARGS) >/dev/null

$(ASAN_BUILD)/Makefile:
	@cmake -S . -B $(ASAN_BUILD) -DGAINMAP_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug $(CMAKE_ARGS) >/dev/null

demo: all
	@scripts/demo $(BUILD)

test: all
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

check-asan: deps $(ASAN_BUILD)/Makefile
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(JOBS)

# The suite twice: a normal build, then under ASan+UBSan.  ctest prints the summary.
check: all
	@echo "== test suite ($(BUILD)) =="
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@echo "== test suite under ASan+UBSan ($(ASAN_BUILD)) =="
	@$(MAKE) --no-print-directory check-asan

# libFuzzer harnesses (fuzz/fuzz_*.c) with clang, ASan and UBSan in $(FUZZ_BUILD)/.
fuzz: deps
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DGAINMAP_LIBFUZZER=ON -DGAINMAP_SANITIZE=ON -DGAINMAP_TESTS=OFF \
		-DGAINMAP_WERROR=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS) >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_targets
	@echo "fuzz targets built in $(FUZZ_BUILD)/ (run: make fuzz-run SECONDS=60)"

# Each harness for SECONDS seconds (default 60); findings go to $(FUZZ_BUILD)/findings/NAME/.
fuzz-run: fuzz
	@fuzz/run-all $(FUZZ_BUILD) $(SECONDS)

# The test suite (gcc build) under valgrind memcheck; fails on any error or leak.
check-valgrind: all
	@scripts/check-valgrind $(BUILD)

man: all
	@scripts/gen-man $(BUILD)/gainmap

# Reconfigure with PREFIX so gainmap.pc and the tool's run path name it.
install: deps
	@cmake -S . -B $(BUILD) -DCMAKE_INSTALL_PREFIX=$(PREFIX) $(CMAKE_ARGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@cmake --install $(BUILD)

bench: all
	@bench/run $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-fuzz converted
