/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * parsing.h - packet header parsers for the XDP program.
 *
 * Contract: each parser takes a cursor and the end of the data it may read,
 * checks bounds before every access, and returns 0 with the header pointer
 * set and the cursor advanced, or an enum hblb_reason saying why the packet
 * cannot be handled (a PASS_ reason for what the kernel should see, a DROP_
 * reason for malformed frames).
 */
#ifndef HBLB_PARSING_H
#define HBLB_PARSING_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include "hblb.h"

#define HBLB_VLAN_MAX_DEPTH 2
#define IP_MF     0x2000
#define IP_OFFSET 0x1fff

struct cursor {
	void *pos;
};

struct vlan_tag {
	__be16 tci;
	__be16 encap_proto;
};

static __always_inline int is_vlan_proto(__be16 proto)
{
	return proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD);
}

/* Ethernet and up to HBLB_VLAN_MAX_DEPTH tags; *proto is the inner EtherType. */
static __always_inline int parse_eth(struct cursor *c, void *end,
				     struct ethhdr **eth, __be16 *proto)
{
	struct ethhdr *e = c->pos;
	struct vlan_tag *tag;
	__be16 p;
	int i;

	if ((void *)(e + 1) > end)
		return HBLB_R_DROP_TRUNC_ETH;
	c->pos = e + 1;
	p = e->h_proto;

#pragma clang loop unroll_count(HBLB_VLAN_MAX_DEPTH)
	for (i = 0; i < HBLB_VLAN_MAX_DEPTH; i++) {
		if (!is_vlan_proto(p))
			break;
		tag = c->pos;
		if ((void *)(tag + 1) > end)
			return HBLB_R_DROP_TRUNC_ETH;
		p = tag->encap_proto;
		c->pos = tag + 1;
	}
	if (is_vlan_proto(p))
		return HBLB_R_PASS_VLAN_DEPTH;
	*eth = e;
	*proto = p;
	return 0;
}

/*
 * IPv4 without options and not fragmented. On success *l4_end is the end
 * of the IP payload by tot_len (Ethernet padding after it is not payload).
 */
static __always_inline int parse_ipv4(struct cursor *c, void *end,
				      struct iphdr **iph, void **l4_end)
{
	struct iphdr *ip = c->pos;
	__u32 tot_len;

	if ((void *)(ip + 1) > end)
		return HBLB_R_DROP_TRUNC_IP;
	if (ip->version != 4 || ip->ihl < 5)
		return HBLB_R_DROP_BAD_IP_HDR;
	tot_len = bpf_ntohs(ip->tot_len);
	if (tot_len < (__u32)ip->ihl * 4 || tot_len > 0xffff)
		return HBLB_R_DROP_BAD_IP_LEN;
	if ((void *)ip + tot_len > end)
		return HBLB_R_DROP_BAD_IP_LEN;
	if (ip->ihl != 5)
		return HBLB_R_PASS_IP_OPTIONS;
	if (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return HBLB_R_PASS_IP_FRAGMENT;
	*l4_end = (void *)ip + tot_len;
	*iph = ip;
	c->pos = ip + 1;
	return 0;
}

/*
 * The L4 parsers check against `end` (data_end), the only pointer the
 * verifier learns packet ranges from, and then against `l4_end` (the IP
 * payload's end, never beyond data_end) for the lengths' meaning.
 */
static __always_inline int parse_tcp(struct cursor *c, void *end, void *l4_end,
				     struct tcphdr **tcph)
{
	struct tcphdr *t = c->pos;

	if ((void *)(t + 1) > end || (void *)(t + 1) > l4_end)
		return HBLB_R_DROP_TRUNC_L4;
	if (t->doff < 5 || (void *)t + t->doff * 4 > l4_end)
		return HBLB_R_DROP_BAD_DOFF;
	*tcph = t;
	return 0;
}

/* UDP whose length field matches the IP payload exactly. */
static __always_inline int parse_udp(struct cursor *c, void *end, void *l4_end,
				     struct udphdr **udph)
{
	struct udphdr *u = c->pos;

	if ((void *)(u + 1) > end || (void *)(u + 1) > l4_end)
		return HBLB_R_DROP_TRUNC_L4;
	if ((void *)u + bpf_ntohs(u->len) != l4_end)
		return HBLB_R_DROP_BAD_UDP_LEN;
	*udph = u;
	c->pos = u + 1;
	return 0;
}

#endif /* HBLB_PARSING_H */
