/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Host stand-in for libbpf's <bpf/bpf_helpers.h>, so that bpf/hblb.bpf.c
 * compiles unchanged as ordinary C for the fuzzers (tests/fuzz_xdp.c): the
 * map-definition macros keep libbpf's meaning (pointer members whose types
 * carry the sizes), SEC() is dropped, and the few helpers the program calls
 * are functions the harness defines over its own host maps. Atomics the
 * program uses (__sync_val_compare_and_swap on a real's last sequence
 * number) are compiler builtins with the same meaning on the host.
 *
 * struct xdp_md carries 32-bit data pointers in the kernel's ABI; on the
 * host they must hold real 64-bit addresses, so the name is redirected to
 * a host context with 64-bit fields (after <linux/bpf.h> has defined the
 * real one, which nothing here uses).
 */
#ifndef HBLB_FUZZ_BPF_HELPERS_H
#define HBLB_FUZZ_BPF_HELPERS_H

#include <linux/bpf.h>
#include <linux/types.h>

#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#define __array(name, val) typeof(val) *name[]
#define SEC(name)

#undef __always_inline
#define __always_inline inline __attribute__((always_inline))

enum { LIBBPF_PIN_NONE, LIBBPF_PIN_BY_NAME };

struct hblb_host_xdp_md {
	__u64 data;
	__u64 data_end;
	__u64 data_meta;
	__u32 ingress_ifindex;
	__u32 rx_queue_index;
	__u32 egress_ifindex;
};
#define xdp_md hblb_host_xdp_md

/* Defined by the harness (tests/fuzz_xdp.c). */
void *bpf_map_lookup_elem(void *map, const void *key);
__u64 bpf_ktime_get_ns(void);
long bpf_xdp_load_bytes(struct xdp_md *ctx, __u32 offset, void *buf, __u32 len);
long bpf_loop(__u32 nr_loops, void *callback_fn, void *callback_ctx, __u64 flags);

#endif
