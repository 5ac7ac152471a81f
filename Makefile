# The README's two commands: `make run` and `make test`. Both install what
# they need from Debian's packages first (as root), so they work on a fresh
# bookworm machine. `make install` installs weir under PREFIX.

BUILD      ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc)
WEIR_ARGS  ?=
PREFIX     ?= /usr/local
DESTDIR    ?=
RELEASE_BUILD ?= build-release

BUILD_DEPS := build-essential cmake ninja-build pkg-config \
              libasio-dev libsodium-dev libcli11-dev libfmt-dev catch2
# dnsmasq-base: the dnsmasq binary without the system DNS service `dnsmasq` starts.
# The clients of the README's "Connecting" table (test_clients.py): git, ssh and
# sshd, Python's requests and httpx (with their SOCKS modules), Firefox.
# man-db, groff-base: man and lexgrog check weir(1); systemd: systemd-analyze checks the units.
# docker-compose, yamllint, python3-yaml: test_container_examples.py checks the examples.
TEST_DEPS  := curl ncat proxychains4 python3 python3-socks chromium iproute2 dnsmasq-base haproxy \
              git openssh-client openssh-server python3-requests python3-httpx python3-socksio \
              firefox-esr man-db groff-base systemd docker-compose yamllint python3-yaml

.PHONY: all build run test deps test-deps clean format format-check fuzz test-asan bench install \
        test-docker

all: build

# Installs only the packages that are missing; `apt-get update` first, since a
# new machine's package lists may be empty or stale.
define install_missing
	@missing=""; for p in $(1); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    if [ "$$(id -u)" != 0 ]; then echo "error: missing packages:$$missing (run as root, or install them)" >&2; exit 1; fi; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing; \
	fi
endef

deps:
	$(call install_missing,$(BUILD_DEPS))

test-deps: deps
	$(call install_missing,$(TEST_DEPS))

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: deps $(BUILD)/build.ninja
	cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/weir $(WEIR_ARGS)

test: test-deps build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

# weir, weir(1), the README, the examples and the systemd units (their ExecStart=
# the installed weir) under $(DESTDIR)$(PREFIX), from a Release build of their
# own: no tests, no bench tools.
install: deps
	cmake -S . -B $(RELEASE_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release \
	    -DWEIR_BUILD_TESTS=OFF -DCMAKE_INSTALL_PREFIX=$(PREFIX)
	cmake --build $(RELEASE_BUILD) -j $(JOBS) --target weir weir_man_page
	DESTDIR=$(DESTDIR) cmake --install $(RELEASE_BUILD) --strip

# The whole ctest suite (unit, integration, bench smoke) built with ASan and UBSan,
# less the relay test that uses up RLIMIT_NOFILE on purpose: the sanitizer
# runtimes need descriptors too (UBSan's vptr check probes memory with a pipe(2)
# and reports a false "invalid vptr" when it cannot make one).
ASAN_BUILD ?= build-asan
ASAN_SKIP  := without pipes a splice relay copies instead
SANITIZER_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
                 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

test-asan: test-deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DWEIR_SANITIZE=address,undefined
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	$(SANITIZER_ENV) ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS) -E '$(ASAN_SKIP)'

# The container image built and proven by tests/docker/run.sh: it installs
# docker.io and debootstrap if missing, starts dockerd if none answers, makes
# the debian:bookworm(-slim) base images with debootstrap when missing (no
# registry needed), builds the image, runs it with curl through it.
test-docker:
	bash tests/docker/run.sh

# libFuzzer targets (clang), each run for FUZZ_SECONDS on a copy of its seed corpus.
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := fuzz_handshake fuzz_rule fuzz_udp_header fuzz_http_request fuzz_proxy_header
FUZZ_DEPS    := clang-14 libclang-rt-14-dev

fuzz: deps
	$(call install_missing,$(FUZZ_DEPS))
	cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DCMAKE_CXX_COMPILER=clang++-14 -DWEIR_FUZZ=ON -DWEIR_BUILD_TESTS=OFF \
	    -DWEIR_SANITIZE=address,undefined,fuzzer-no-link
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(FUZZ_TARGETS)
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$t && cp -n tests/fuzz/corpus/$$t/* $(FUZZ_BUILD)/corpus/$$t/; \
	    echo "== $$t for $(FUZZ_SECONDS) s"; \
	    $(SANITIZER_ENV) ./$(FUZZ_BUILD)/tests/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) \
	        -timeout=10 -artifact_prefix=$(FUZZ_BUILD)/$$t- -print_final_stats=1 \
	        $$(test -f tests/fuzz/$$t.dict && echo -dict=tests/fuzz/$$t.dict) \
	        $(FUZZ_BUILD)/corpus/$$t || exit 1; \
	done

# Benchmark against weir (both relays) and, when installed, microsocks and
# dante-server; prints the table of docs/performance.md. Not part of `make test`.
bench: deps
	$(call install_missing,iproute2)
	bash bench/run.sh

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

format-check:
	$(call install_missing,clang-format)
	git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run -Werror

clean:
	rm -rf $(BUILD)
