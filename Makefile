# aelf-net — build, run, test and install.
#
#   make run     build (release) and start a node with conf/aelf-netd.toml
#   make test    build and run every test
#
# Every target that compiles depends on `deps`, which installs what the build needs and is
# missing (Debian packages through apt-get) and does nothing when all is present.

CARGO      ?= cargo
CONFIG     ?= conf/aelf-netd.toml
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SYSCONFDIR ?= /etc/aelf-net
UNITDIR    ?= /etc/systemd/system
STATEDIR   ?= /var/lib/aelf-net
SERVICE_USER ?= aelf-net
# Devnet: `make devnet N=8`; NETNS=1 (root) runs each node in a network namespace with
# LATENCY_MS, LOSS_PERCENT and RATE_KBIT applied to its links.
N            ?= 4
DEVNET_DIR   ?= .devnet
NETNS        ?=
LATENCY_MS   ?= 0
LOSS_PERCENT ?= 0
RATE_KBIT    ?= 0
DEVNET       := ./target/release/aelf-devnet
# Where `install` takes the binaries from (tests install debug builds into a DESTDIR).
BUILD_DIR  ?= target/release

# Debian packages the build needs: cmake and a C++ compiler build gRPC's C-core and BoringSSL.
APT_PACKAGES := cmake g++ make
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build release run test lint fmt check install uninstall clean devnet devnet-stop devnet-status bench

all: build

deps:
	@missing=""; \
	command -v cmake >/dev/null 2>&1 || missing="$$missing cmake"; \
	command -v g++   >/dev/null 2>&1 || missing="$$missing g++"; \
	command -v make  >/dev/null 2>&1 || missing="$$missing make"; \
	if [ -n "$$missing" ]; then \
		echo "deps: installing$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@command -v $(CARGO) >/dev/null 2>&1 || { echo "deps: cargo (Rust) is required: https://rustup.rs"; exit 1; }

build: deps
	$(CARGO) build --locked

release: deps
	$(CARGO) build --locked --release

run: release
	./target/release/aelf-netd --config $(CONFIG)

test: deps
	$(CARGO) test --locked --all-targets

lint: deps
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

fmt:
	$(CARGO) fmt

check: test lint

install: release
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR) $(DESTDIR)$(UNITDIR)
	install -m 0755 $(BUILD_DIR)/aelf-netd $(BUILD_DIR)/aelf-netctl $(DESTDIR)$(BINDIR)/
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/aelf-netd.toml ]; then \
		echo "install: keeping existing $(DESTDIR)$(SYSCONFDIR)/aelf-netd.toml"; \
	else \
		install -m 0640 conf/aelf-netd.toml $(DESTDIR)$(SYSCONFDIR)/aelf-netd.toml; \
	fi
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    -e 's|@STATEDIR@|$(STATEDIR)|g' -e 's|@USER@|$(SERVICE_USER)|g' \
	    conf/aelf-netd.service > $(DESTDIR)$(UNITDIR)/aelf-netd.service
	@if [ -z "$(DESTDIR)" ]; then \
		id -u $(SERVICE_USER) >/dev/null 2>&1 || \
			useradd --system --home-dir $(STATEDIR) --shell /usr/sbin/nologin $(SERVICE_USER); \
		install -d -o $(SERVICE_USER) -g $(SERVICE_USER) -m 0750 $(STATEDIR); \
		chgrp $(SERVICE_USER) $(SYSCONFDIR)/aelf-netd.toml; \
		command -v systemctl >/dev/null 2>&1 && systemctl daemon-reload || true; \
		echo "install: done; start with: systemctl enable --now aelf-netd"; \
	fi

# Quick benchmark of every scenario against raw grpcio (a few minutes); rewrites docs/bench.md.
bench: release
	./target/release/aelf-netbench --markdown docs/bench.md $(BENCH_ARGS)

devnet: release
	$(DEVNET) start --nodes $(N) --dir $(DEVNET_DIR) --bin target/release/aelf-netd \
	    $(if $(NETNS),--netns --latency-ms $(LATENCY_MS) --loss-percent $(LOSS_PERCENT) --rate-kbit $(RATE_KBIT))

devnet-stop:
	$(DEVNET) stop --dir $(DEVNET_DIR)

devnet-status:
	$(DEVNET) status --dir $(DEVNET_DIR)

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/aelf-netd $(DESTDIR)$(BINDIR)/aelf-netctl $(DESTDIR)$(UNITDIR)/aelf-netd.service
	@echo "uninstall: kept $(SYSCONFDIR) and $(STATEDIR)"

clean:
	$(CARGO) clean
