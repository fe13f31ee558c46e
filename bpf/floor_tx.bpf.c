// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Benchmark floor: parse Ethernet/IPv4/TCP with the same helpers as hblb,
 * swap the MACs and send the frame back: what any L2 forwarder must pay. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "parsing.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int floor_tx(struct xdp_md *ctx)
{
	void *end = (void *)(long)ctx->data_end;
	struct cursor c = { .pos = (void *)(long)ctx->data };
	struct ethhdr *eth;
	struct iphdr *ip;
	struct tcphdr *tcp;
	__u8 tmp[ETH_ALEN];
	void *l4_end;
	__be16 proto;

	if (parse_eth(&c, end, &eth, &proto) || proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	if (parse_ipv4(&c, end, &ip, &l4_end) || ip->protocol != IPPROTO_TCP)
		return XDP_PASS;
	if (parse_tcp(&c, end, l4_end, &tcp))
		return XDP_DROP;
	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	return XDP_TX;
}
