# The README's two commands: `make run` and `make test`. Both install what
# they need from Debian's packages first (as root), so they work on a fresh
# bookworm machine.

BUILD      ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc)
WEIR_ARGS  ?=

BUILD_DEPS := build-essential cmake ninja-build pkg-config \
              libasio-dev libsodium-dev libcli11-dev libfmt-dev catch2
TEST_DEPS  := curl ncat proxychains4 python3 python3-socks chromium iproute2

.PHONY: all build run test deps test-deps clean format format-check

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

format:
	git ls-files '*.cpp' '*.hpp' | xargs clang-format -i

format-check:
	$(call install_missing,clang-format)
	git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run -Werror

clean:
	rm -rf $(BUILD)
