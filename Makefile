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
HDRS     := include/hblb.h bpf/hb_parse.h bpf/parsing.h $(wildcard user/*.h)
FUZZERS  := $(BUILD)/fuzz_hb_parse $(BUILD)/fuzz_xdp

# skeletons and BPF objects are products, not disposable intermediates
.SECONDARY:

.PHONY: all deps test bench bench-datapath bench-maglev bench-ctl verifier-stats clean demo fuzz
all: $(BUILD)/hblb $(BUILD)/test_datapath $(BUILD)/test_hb_parse $(BUILD)/bench_datapath \
     $(BUILD)/test_maglev $(BUILD)/bench_maglev $(BUILD)/test_health $(BUILD)/test_checks \
     $(BUILD)/test_ctl $(BUILD)/test_daemon $(BUILD)/bench_ctl $(BUILD)/test_frames $(FUZZERS)

$(BUILD):
	mkdir -p $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(HDRS) | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $(notdir $*)_bpf > $@

$(BUILD)/%.o: user/%.c $(HDRS) $(SKELS) | $(BUILD)
	$(CC) $(CFLAGS) -c $< -o $@

CLI_OBJS := $(BUILD)/cli.o $(BUILD)/cmd_config.o $(BUILD)/cmd_iface.o $(BUILD)/cmd_status.o \
	    $(BUILD)/attach.o $(BUILD)/daemon.o $(BUILD)/beat.o

$(BUILD)/hblb: $(BUILD)/hblb.o $(CLI_OBJS) $(CTL_OBJS) $(LIB_OBJS)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

TEST_HDRS := tests/testing.h tests/packets.h tests/bench_report.h tests/hb_ref.h tests/frame_ref.h

$(BUILD)/test_%.o: tests/test_%.c $(HDRS) $(SKELS) $(TEST_HDRS) | $(BUILD)
	$(CC) $(CFLAGS) -Itests -c $< -o $@

$(BUILD)/bench_%.o: tests/bench_%.c $(HDRS) $(SKELS) $(TEST_HDRS) | $(BUILD)
	$(CC) $(CFLAGS) -Itests -c $< -o $@

$(BUILD)/test_datapath: $(BUILD)/test_datapath.o $(LIB_OBJS)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/test_frames: $(BUILD)/test_frames.o $(LIB_OBJS)
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# host build of the heartbeat parser: no BPF, no root, no skeletons
$(BUILD)/test_hb_parse.o: tests/test_hb_parse.c include/hblb.h bpf/hb_parse.h $(TEST_HDRS) | $(BUILD)
	$(CC) $(CFLAGS) -Itests -c $< -o $@

$(BUILD)/test_hb_parse: $(BUILD)/test_hb_parse.o
	$(CC) $(CFLAGS) $^ -o $@

# Maglev table builder: pure user space, no BPF, no root, no skeletons
$(BUILD)/maglev.o: user/maglev.c user/maglev.h include/hblb.h | $(BUILD)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/test_maglev.o: tests/test_maglev.c user/maglev.h include/hblb.h tests/testing.h | $(BUILD)
	$(CC) $(CFLAGS) -Itests -c $< -o $@

$(BUILD)/bench_maglev.o: tests/bench_maglev.c user/maglev.h include/hblb.h | $(BUILD)
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

$(BUILD)/bench_maglev: $(BUILD)/bench_maglev.o $(BUILD)/maglev.o
	$(CC) $(CFLAGS) $^ -o $@

$(BUILD)/bench_datapath: $(BUILD)/bench_datapath.o $(LIB_OBJS)
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

bench-datapath: deps
	$(MAKE) all
	$(BUILD)/bench_datapath --out $(BUILD)/bench

bench-maglev: deps
	$(MAKE) $(BUILD)/bench_maglev
	mkdir -p $(BUILD)/bench
	$(BUILD)/bench_maglev --json $(BUILD)/bench/maglev.json

bench-ctl: deps
	$(MAKE) $(BUILD)/bench_ctl
	mkdir -p $(BUILD)/bench
	$(BUILD)/bench_ctl --json $(BUILD)/bench/report.json

bench: bench-datapath bench-maglev bench-ctl

verifier-stats: all
	$(BUILD)/hblb verifier-stats

clean:
	rm -rf $(BUILD)

# README's first command: hblb in network namespaces, a line per step.
demo: deps
	$(MAKE) $(BUILD)/hblb
	BUILD=$(BUILD) scripts/demo.sh
