# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
BUILD   ?= build
CLANG   ?= clang
CC      ?= gcc
BPFTOOL ?= bpftool
ARCH_INC := -I/usr/include/$(shell $(CC) -print-multiarch)

BPF_CFLAGS := -g -O2 -target bpf -Wall -Werror -Iinclude -Ibpf $(ARCH_INC)
CFLAGS  ?= -O2 -g
CFLAGS  += -Wall -Wextra -Werror -std=gnu11 -Iinclude -Ibpf -Iuser -I$(BUILD)
LDLIBS  := -lbpf -lelf -lz

BPF_OBJS := $(BUILD)/hblb.bpf.o $(BUILD)/floor_pass.bpf.o $(BUILD)/floor_tx.bpf.o
SKELS    := $(BPF_OBJS:.bpf.o=.skel.h)
LIB_SRCS := user/log.c user/loader.c
CTL_OBJS := $(BUILD)/ctl.o $(BUILD)/health.o $(BUILD)/checks.o $(BUILD)/maglev.o
LIB_OBJS := $(LIB_SRCS:user/%.c=$(BUILD)/%.o)
HDRS     := include/hblb.h bpf/hb_parse.h bpf/parsing.h bpf/siphash.h $(wildcard user/*.h)
FUZZERS  := $(BUILD)/fuzz_hb_parse $(BUILD)/fuzz_xdp

# skeletons and BPF objects are products, not disposable intermediates
.SECONDARY:

.PHONY: all deps test bench bench-quick bench-report bench-datapath bench-maglev bench-ctl \
	bench-disruption verifier-stats clean demo fuzz
all: $(BUILD)/hblb $(BUILD)/test_datapath $(BUILD)/test_hb_parse $(BUILD)/bench_datapath \
     $(BUILD)/test_maglev $(BUILD)/bench_maglev $(BUILD)/test_health $(BUILD)/test_checks \
     $(BUILD)/test_ctl $(BUILD)/test_daemon $(BUILD)/bench_ctl $(BUILD)/bench_disruption \
     $(BUILD)/test_auth $(BUILD)/test_frames $(FUZZERS)

$(BUILD):
	mkdir -p $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(HDRS) | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(notdir $*)_bpf > $@

$(BUILD)/%.o: user/%.c $(HDRS) $(SKELS) | $(BUILD)
	$(CC) $(CFLAGS) -c $< -o $@

CLI_OBJS := $(BUILD)/cli.o $(BUILD)/cmd_config.o $(BUILD)/cmd_iface.o $(BUILD)/cmd_status.o \
	    $(BUILD)/attach.o $(BUILD)/daemon.o $(BUILD)/beat.o $(BUILD)/cmd_key.o $(BUILD)/auth.o

$(BUILD)/hblb: $(BUILD)/hblb.o $(CLI_OBJS) $(CTL_OBJS) $(LIB_OBJS)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

TEST_HDRS := tests/testing.h tests/packets.h tests/bench_report.h tests/hb_ref.h tests/frame_ref.h

$(BUILD)/test_%.o: tests/test_%.c $(HDRS) $(SKELS) $(TEST_HDRS) | $(BUILD)
	$(CC) $(CFLAGS) -Itests -c $< -o $@

$(BUILD)/bench_%.o: tests/bench_%.c $(HDRS) $(SKELS) $(TEST_HDRS) | $(BUILD)
	$(CC) $(CFLAGS) -Itests -c $< -o $@

$(BUILD)/test_datapath: $(BUILD)/test_datapath.o $(BUILD)/auth.o $(LIB_OBJS)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/test_frames: $(BUILD)/test_frames.o $(LIB_OBJS)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# host build of the heartbeat parser: no BPF, no root, no skeletons
$(BUILD)/test_hb_parse.o: tests/test_hb_parse.c include/hblb.h bpf/hb_parse.h bpf/siphash.h $(TEST_HDRS) | $(BUILD)
	$(CC) $(CFLAGS) -Itests -c $< -o $@

$(BUILD)/test_hb_parse: $(BUILD)/test_hb_parse.o
	$(CC) $(CFLAGS) $^ -o $@

# authenticated heartbeats on the host: SipHash, keys, the sender's message
$(BUILD)/auth.o: user/auth.c user/auth.h user/log.h include/hblb.h bpf/siphash.h | $(BUILD)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/test_auth.o: tests/test_auth.c user/auth.h include/hblb.h bpf/hb_parse.h bpf/siphash.h $(TEST_HDRS) | $(BUILD)
	$(CC) $(CFLAGS) -Itests -c $< -o $@

$(BUILD)/test_auth: $(BUILD)/test_auth.o $(BUILD)/auth.o $(BUILD)/log.o
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# Maglev table builder: pure user space, no BPF, no root, no skeletons
$(BUILD)/maglev.o: user/maglev.c user/maglev.h include/hblb.h | $(BUILD)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/test_maglev.o: tests/test_maglev.c user/maglev.h include/hblb.h tests/testing.h | $(BUILD)
	$(CC) $(CFLAGS) -Itests -c $< -o $@

# liveness state machine and weights: pure user space
$(BUILD)/health.o: user/health.c user/health.h include/hblb.h | $(BUILD)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/test_health.o: tests/test_health.c user/health.h include/hblb.h tests/testing.h | $(BUILD)
	$(CC) $(CFLAGS) -Itests -c $< -o $@

$(BUILD)/test_health: $(BUILD)/test_health.o $(BUILD)/health.o
	$(CC) $(CFLAGS) $^ -o $@

# active checks: user space, non-blocking sockets
$(BUILD)/checks.o: user/checks.c user/checks.h user/log.h include/hblb.h | $(BUILD)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/test_checks: $(BUILD)/test_checks.o $(BUILD)/checks.o $(BUILD)/log.o
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -lpthread

$(BUILD)/bench_ctl: $(BUILD)/bench_ctl.o $(CTL_OBJS) $(LIB_OBJS)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -lpthread

$(BUILD)/test_daemon: $(BUILD)/test_daemon.o
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -lpthread

$(BUILD)/test_ctl: $(BUILD)/test_ctl.o $(CTL_OBJS) $(LIB_OBJS)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -lpthread

$(BUILD)/test_maglev: $(BUILD)/test_maglev.o $(BUILD)/maglev.o
	$(CC) $(CFLAGS) $^ -o $@

$(BUILD)/bench_maglev: $(BUILD)/bench_maglev.o $(BUILD)/maglev.o $(LIB_OBJS)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/bench_disruption: $(BUILD)/bench_disruption.o $(BUILD)/maglev.o $(LIB_OBJS)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/bench_datapath: $(BUILD)/bench_datapath.o $(BUILD)/auth.o $(LIB_OBJS)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -lm

# libFuzzer targets: the host build of the heartbeat parser, and of the
# whole XDP program (its parsers and frame classification) through a
# stand-in for the BPF helpers, under ASan and UBSan. Unaligned loads are
# legal in BPF and on x86, and the kernel hands XDP frames at a 2-byte
# offset, so UBSan's alignment check would only flag the host build.
FUZZ_CC    ?= clang
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	      -Wall -Wextra -Werror -Iinclude -Ibpf -Itests
FUZZ_RUNS  ?= 10000000

$(BUILD)/fuzz_hb_parse: tests/fuzz_hb_parse.c tests/hb_ref.h bpf/hb_parse.h include/hblb.h | $(BUILD)
	$(FUZZ_CC) $(FUZZ_FLAGS) $< -o $@

$(BUILD)/fuzz_xdp: tests/fuzz_xdp.c tests/fuzz_shim/bpf/bpf_helpers.h tests/hb_ref.h tests/frame_ref.h \
		   bpf/hblb.bpf.c $(HDRS) | $(BUILD)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fno-sanitize=alignment -Itests/fuzz_shim $< -o $@

# writes tests/corpus/fuzz_xdp (checked in): run by hand when it should change
$(BUILD)/fuzz_seeds: tests/fuzz_seeds.c tests/packets.h tests/pcapng.h | $(BUILD)
	$(CC) $(CFLAGS) -Itests $< -o $@

fuzz: deps
	$(MAKE) $(FUZZERS)
	BUILD=$(BUILD) scripts/fuzz.sh $(FUZZ_RUNS)

deps:
	scripts/deps.sh

# deps first (a fresh machine has no clang), then build, then every suite
test: deps
	$(MAKE) all
	BUILD=$(BUILD) scripts/run-tests.sh

# ---- benchmarks ---------------------------------------------------------------
# Each part is a target bench-<name> that writes $(BUILD)/bench/<part>.json as
# {"<part>": {flat numeric figures}} and honours QUICK=1 (a small size, for
# the smoke test). `make bench` runs every part in BENCH_PARTS one after the
# other (they share the 2 cores: never in parallel), then bench-report merges
# what they wrote into report.json, report.md and report.png. A part whose
# target does not exist (not merged yet) is reported missing; one that fails
# is reported failed, the others still run, and `make bench` then exits 1.
BENCH_PARTS ?= datapath veth maglev disruption ctl failover hbscale http
BENCH_DIR   := $(BUILD)/bench
QUICK       ?=
bench_quick  = $(if $(filter 1,$(QUICK)),--quick)

bench-datapath: $(BUILD)/bench_datapath
	$(BUILD)/bench_datapath $(bench_quick) --json $(BENCH_DIR)/datapath.json

bench-maglev: $(BUILD)/bench_maglev
	$(BUILD)/bench_maglev $(bench_quick) --json $(BENCH_DIR)/maglev.json

bench-disruption: $(BUILD)/bench_disruption
	$(BUILD)/bench_disruption --json $(BENCH_DIR)/disruption.json

bench-ctl: $(BUILD)/bench_ctl
	$(BUILD)/bench_ctl $(bench_quick) --json $(BENCH_DIR)/controller.json

# parts.txt: one line per part, "<name> ok|failed|missing", for the report
# and the smoke test; stale figures are removed first, so every figure in
# the report comes from this run.
bench bench-quick:
	scripts/deps.sh --bench
	$(MAKE) all
	@mkdir -p $(BENCH_DIR) && rm -f $(BENCH_DIR)/*.json $(BENCH_DIR)/parts.txt
	@q=$(if $(filter bench-quick,$@),1,$(QUICK)); failed=; \
	for p in $(BENCH_PARTS); do \
		if ! $(MAKE) -s -n bench-$$p >/dev/null 2>&1; then \
			echo "=== bench-$$p: no such target on this branch: missing"; \
			echo "$$p missing" >>$(BENCH_DIR)/parts.txt; continue; \
		fi; \
		echo "=== bench-$$p"; \
		if $(MAKE) --no-print-directory bench-$$p QUICK=$$q; then \
			echo "$$p ok" >>$(BENCH_DIR)/parts.txt; \
		else \
			echo "$$p failed" >>$(BENCH_DIR)/parts.txt; failed="$$failed $$p"; \
		fi; \
	done; \
	$(MAKE) --no-print-directory bench-report QUICK=$$q || failed="$$failed report"; \
	if [ -n "$$failed" ]; then echo "bench: failed:$$failed" >&2; exit 1; fi

bench-report:
	scripts/bench-report.py $(if $(filter 1,$(QUICK)),--quick) $(BENCH_DIR)

# Issue 6 parts 5 and 7, in network namespaces (root; wrk, apache2: deps.sh --bench).
# QUICK=1: a few trials / one short round each (~20 s); full: ~1.5 min each.
.PHONY: bench-failover bench-http
bench-failover:
	scripts/deps.sh --bench
	$(MAKE) $(BUILD)/hblb
	QUICK=$(QUICK) scripts/bench-failover.sh $(BUILD)/hblb $(BUILD)/bench/failover.json

bench-http:
	scripts/deps.sh --bench
	$(MAKE) $(BUILD)/hblb
	QUICK=$(QUICK) scripts/bench-http.sh $(BUILD)/hblb $(BUILD)/bench/http.json

verifier-stats: all
	$(BUILD)/hblb verifier-stats

clean:
	rm -rf $(BUILD)

# README's first command: hblb in network namespaces, a line per step.
demo: deps
	$(MAKE) $(BUILD)/hblb
	BUILD=$(BUILD) scripts/demo.sh

# ---- live frames: veth and heartbeat-scale benchmarks, the flood test ------
# tests/livegen.*: a packet generator on BPF_PROG_TEST_RUN live frames
# (xdp-trafficgen does not run on this kernel) and a counting sink.
LIVEGEN_OBJS := $(BUILD)/livegen.o $(BUILD)/log.o
.PHONY: bench-veth bench-hbscale
all: $(BUILD)/bench_veth $(BUILD)/bench_hbscale $(BUILD)/test_flood

$(BUILD)/livegen.bpf.o: tests/livegen.bpf.c tests/livegen.h | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -Itests -c $< -o $@

$(BUILD)/livegen.o: tests/livegen.c tests/livegen.h $(BUILD)/livegen.skel.h include/hblb.h user/log.h | $(BUILD)
	$(CC) $(CFLAGS) -Itests -c $< -o $@

$(BUILD)/bench_veth.o $(BUILD)/bench_hbscale.o $(BUILD)/test_flood.o: tests/livegen.h

# phase 3 signs heartbeats as hblb beat does
$(BUILD)/test_flood: $(BUILD)/auth.o

$(BUILD)/bench_veth $(BUILD)/bench_hbscale $(BUILD)/test_flood: %: %.o $(LIVEGEN_OBJS)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS) -lpthread

bench-veth: deps
	$(MAKE) $(BUILD)/hblb $(BUILD)/floor_tx.bpf.o $(BUILD)/bench_veth
	$(BUILD)/bench_veth --hblb $(BUILD)/hblb --reflector $(BUILD)/floor_tx.bpf.o \
		--json $(BUILD)/bench/veth.json $(if $(QUICK),--quick)

bench-hbscale: deps
	$(MAKE) $(BUILD)/hblb $(BUILD)/bench_hbscale
	$(BUILD)/bench_hbscale --hblb $(BUILD)/hblb \
		--json $(BUILD)/bench/heartbeat_scale.json $(if $(QUICK),--quick)
