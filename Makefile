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
# Devnet: `make devnet N=8`; PRODUCERS lists the producing nodes (`1,3`), MINERS the chain's
# AEDPoS miners (default one per producing node, shared out among them in turn). NETNS=1 (root) runs each node in a network namespace with LATENCY_MS, LOSS_PERCENT
# and RATE_KBIT applied to its links; `make devnet-partition NODES=3,4` cuts those nodes off
# from the rest, `make devnet-heal` joins them again.
N            ?= 4
PRODUCERS    ?= 1
MINERS       ?=
NODES        ?=
DEVNET_DIR   ?= .devnet
NETNS        ?=
LATENCY_MS   ?= 0
LOSS_PERCENT ?= 0
RATE_KBIT    ?= 0
DEVNET       := ./target/release/aelf-devnet
# Where `install` takes the binaries from (tests install debug builds into a DESTDIR).
BUILD_DIR  ?= target/release

# `deps` installs the Debian packages that are missing: cmake and a C++ compiler build gRPC's
# C-core and BoringSSL; prometheus (with promtool) and graphviz serve the monitoring tests (the
# dashboard's queries on a real Prometheus, the alert rules' unit tests, the crawl's topology
# picture); as root also iproute2 and nftables, for the namespaced devnet and its fault tests
# (packet loss is an nftables rule).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build release run test lint fmt check install uninstall clean devnet devnet-stop devnet-status devnet-partition devnet-heal bench fuzz soak

all: build

deps:
	@missing=""; \
	command -v cmake >/dev/null 2>&1 || missing="$$missing cmake"; \
	command -v g++   >/dev/null 2>&1 || missing="$$missing g++"; \
	command -v make  >/dev/null 2>&1 || missing="$$missing make"; \
	{ command -v prometheus && command -v promtool; } >/dev/null 2>&1 || missing="$$missing prometheus"; \
	command -v dot   >/dev/null 2>&1 || missing="$$missing graphviz"; \
	if [ "$$(id -u)" = 0 ]; then \
		command -v ip  >/dev/null 2>&1 || missing="$$missing iproute2"; \
		command -v nft >/dev/null 2>&1 || missing="$$missing nftables"; \
	fi; \
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

# Fuzzing (cargo-fuzz with libFuzzer; RUSTC_BOOTSTRAP lets the stable toolchain pass the
# sanitizer flags): each target runs FUZZ_SECONDS from seeds made of real encoded messages,
# optimised but with overflow checks and debug assertions on (-a: an overflow is a finding).
# Executions and findings go to fuzz/<target>.log; crashes to fuzz/artifacts/<target>/. When a
# target's run fails, the crash, oom, leak and timeout inputs it wrote are also copied to
# fuzz/regressions/<target>/ (kept in git), which `make test` replays from then on.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= decode handshake stream_dispatch endpoint config api
fuzz: deps
	@command -v cargo-fuzz >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	$(CARGO) run --quiet --example fuzz_seeds -- fuzz/corpus
	@status=0; for t in $(FUZZ_TARGETS); do \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
		started=$$(mktemp); failed=0; \
		RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run -O -a $$t fuzz/corpus/$$t -- \
			-max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -malloc_limit_mb=256 \
			-print_final_stats=1 > fuzz/$$t.log 2>&1 || failed=1; \
		grep -E "stat::number_of_executed_units|ERROR: |panicked" fuzz/$$t.log || true; \
		if [ $$failed = 1 ]; then \
			status=1; \
			for f in $$(find fuzz/artifacts/$$t -maxdepth 1 -type f -newer $$started \
					\( -name 'crash-*' -o -name 'oom-*' -o -name 'leak-*' -o -name 'timeout-*' \) \
					2>/dev/null); do \
				mkdir -p fuzz/regressions/$$t && cp "$$f" fuzz/regressions/$$t/ && \
				echo "fuzz: saved $$f as fuzz/regressions/$$t/$$(basename $$f); make test replays it from now on"; \
			done; \
		fi; \
		rm -f $$started; \
	done; exit $$status

# Soak: a devnet of N nodes under steady transaction load for SOAK_MINUTES; RSS, threads,
# queue depths and drops over time go to docs/soak.md. Not part of CI.
SOAK_MINUTES ?= 5
SOAK_TX_PER_S ?= 200
soak: release
	$(DEVNET) start --nodes $(N) --dir .soak --bin target/release/aelf-netd
	@status=0; $(DEVNET) soak --dir .soak --minutes $(SOAK_MINUTES) --tx-per-s $(SOAK_TX_PER_S) \
		--report docs/soak.md || status=$$?; $(DEVNET) stop --dir .soak; exit $$status

# Quick benchmark of every scenario against raw grpcio (a few minutes); rewrites docs/bench.md.
bench: release
	./target/release/aelf-netbench --markdown docs/bench.md $(BENCH_ARGS)

devnet: release
	$(DEVNET) start --nodes $(N) --dir $(DEVNET_DIR) --bin target/release/aelf-netd \
	    --producers $(PRODUCERS) $(if $(MINERS),--miners $(MINERS)) \
	    $(if $(NETNS),--netns --latency-ms $(LATENCY_MS) --loss-percent $(LOSS_PERCENT) --rate-kbit $(RATE_KBIT))

devnet-stop:
	$(DEVNET) stop --dir $(DEVNET_DIR)

devnet-status:
	$(DEVNET) status --dir $(DEVNET_DIR)

devnet-partition:
	$(DEVNET) partition --dir $(DEVNET_DIR) --nodes $(NODES)

devnet-heal:
	$(DEVNET) heal --dir $(DEVNET_DIR)

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/aelf-netd $(DESTDIR)$(BINDIR)/aelf-netctl $(DESTDIR)$(UNITDIR)/aelf-netd.service
	@echo "uninstall: kept $(SYSCONFDIR) and $(STATEDIR)"

clean:
	$(CARGO) clean
