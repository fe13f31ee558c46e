// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Traffic generator and sink for the live-frames benchmarks and tests.
 *
 * livegen_tx runs under BPF_PROG_TEST_RUN with BPF_F_TEST_XDP_LIVE_FRAMES:
 * each repetition of the template frame gets one field rewritten to
 * base + (n % count) (n counts frames since the run started), so one
 * template stands for many flows or many sources, then goes out with
 * XDP_TX through the device named by ingress_ifindex.
 *
 * livegen_count is attached to a device to count what arrives there
 * (and drop it); on veth it is also what makes XDP_TX from the peer
 * deliverable at all.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "livegen.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by user space (through the skeleton's mmapped .bss) before a run;
 * one run at a time per loaded object. */
struct livegen_vary vary;
__u64 seq;                      /* frames generated in this run */
/* The template's first bytes. Live frames recycle their pages without
 * copying the template again, and the receiver may have rewritten them
 * (hblb sets the MACs of what it forwards): each frame starts over from
 * this copy. */
__u8 head[LIVEGEN_HEAD_MAX];
__u32 head_len;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LIVEGEN_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} livegen_counts SEC(".maps");

static __always_inline void bump(__u32 which)
{
	__u64 *v = bpf_map_lookup_elem(&livegen_counts, &which);

	if (v)
		(*v)++;
}

/* Recomputes the IPv4 header checksum of an ihl=5 header. */
static __always_inline void ip_csum_fix(struct iphdr *ip)
{
	__u16 *w = (__u16 *)ip;
	__u32 sum = 0;

	ip->check = 0;
#pragma clang loop unroll_count(10)
	for (int i = 0; i < 10; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	ip->check = ~sum & 0xffff;
}

SEC("xdp")
int livegen_tx(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 n = seq++;
	__u32 off = vary.off & LIVEGEN_OFF_MASK, val;
	__u32 n_head = head_len & (LIVEGEN_HEAD_MAX - 1);

	bump(LIVEGEN_CNT_TX);
	/* the mask keeps the size within head[] for the verifier; the check
	 * gives it the nonzero lower bound the helper's size needs */
	if (n_head && bpf_xdp_store_bytes(ctx, 0, head, n_head))
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (!vary.count)
		return XDP_TX;
	val = vary.base + n % vary.count;
	if (vary.width == 4) {
		__be32 *p = data + off;

		if ((void *)(p + 1) > end)
			return XDP_ABORTED;
		*p = bpf_htonl(val);
	} else {
		__be16 *p = data + off;

		if ((void *)(p + 1) > end)
			return XDP_ABORTED;
		*p = bpf_htons(val);
	}
	if (vary.ip_off) {
		struct iphdr *ip = data + (vary.ip_off & LIVEGEN_OFF_MASK);

		if ((void *)(ip + 1) > end)
			return XDP_ABORTED;
		ip_csum_fix(ip);
	}
	return XDP_TX;
}

SEC("xdp")
int livegen_count(struct xdp_md *ctx)
{
	(void)ctx;
	bump(LIVEGEN_CNT_RX);
	return XDP_DROP;
}
