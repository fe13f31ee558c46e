/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * frame_ref.h - an independent classifier of frames by the README's verdict
 * table, from plain byte offsets (no code shared with bpf/parsing.h): the
 * reason the XDP program must count for a frame it passes or drops for its
 * headers, or that the frame is a heartbeat or a service candidate. Used by
 * fuzz_xdp.c and test_frames.c to judge the data path.
 */
#ifndef HBLB_FRAME_REF_H
#define HBLB_FRAME_REF_H

#include <string.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include "hblb.h"


enum ref_kind { REF_REASON, REF_HEARTBEAT, REF_SERVICE };

struct ref_frame {
	enum ref_kind kind;
	__u32 reason;           /* REF_REASON */
	size_t ip_off, l4_off, l4_end;
	__be32 saddr, daddr;
	__be16 sport, dport;
	__u8 proto;
	__u8 ttl;               /* for GTSM (HBLB_CFG_GTSM) */
};

static inline __u16 be16_at(const __u8 *p) { return (__u16)(p[0] << 8 | p[1]); }

/* The README's table, from plain offsets. */
static inline struct ref_frame ref_classify(const __u8 *f, size_t len)
{
	struct ref_frame r = { .kind = REF_REASON };
	size_t off = 12, ihl, tot;
	__u16 et;
	int tags;

#define REASON(x) do { r.reason = (x); return r; } while (0)
	if (len < 14)
		REASON(HBLB_R_DROP_TRUNC_ETH);
	et = be16_at(f + 12);
	for (tags = 0; (et == ETH_P_8021Q || et == ETH_P_8021AD) && tags < 2; tags++) {
		off += 4;
		if (len < off + 2)
			REASON(HBLB_R_DROP_TRUNC_ETH);
		et = be16_at(f + off);
	}
	if (et == ETH_P_8021Q || et == ETH_P_8021AD)
		REASON(HBLB_R_PASS_VLAN_DEPTH);
	if (et != ETH_P_IP)
		REASON(HBLB_R_PASS_NOT_IPV4);
	r.ip_off = off += 2;
	if (len < off + 20)
		REASON(HBLB_R_DROP_TRUNC_IP);
	ihl = f[off] & 15;
	if (f[off] >> 4 != 4 || ihl < 5)
		REASON(HBLB_R_DROP_BAD_IP_HDR);
	tot = be16_at(f + off + 2);
	if (tot < ihl * 4 || off + tot > len)
		REASON(HBLB_R_DROP_BAD_IP_LEN);
	if (ihl != 5)
		REASON(HBLB_R_PASS_IP_OPTIONS);
	if (be16_at(f + off + 6) & 0x3fff)
		REASON(HBLB_R_PASS_IP_FRAGMENT);
	r.l4_end = off + tot;
	r.ttl = f[off + 8];
	r.proto = f[off + 9];
	memcpy(&r.saddr, f + off + 12, 4);
	memcpy(&r.daddr, f + off + 16, 4);
	r.l4_off = off += 20;
	if (r.proto == IPPROTO_UDP) {
		if (off + 8 > r.l4_end)
			REASON(HBLB_R_DROP_TRUNC_L4);
		if (off + be16_at(f + off + 4) != r.l4_end)
			REASON(HBLB_R_DROP_BAD_UDP_LEN);
	} else if (r.proto == IPPROTO_TCP) {
		if (off + 20 > r.l4_end)
			REASON(HBLB_R_DROP_TRUNC_L4);
		if ((f[off + 12] >> 4) < 5 || off + (f[off + 12] >> 4) * 4u > r.l4_end)
			REASON(HBLB_R_DROP_BAD_DOFF);
	} else {
		REASON(HBLB_R_PASS_NOT_SERVICE);
	}
#undef REASON
	memcpy(&r.sport, f + off, 2);
	memcpy(&r.dport, f + off + 2, 2);
	r.kind = r.proto == IPPROTO_UDP && r.dport == htons(HBLB_HB_PORT_DEFAULT) ?
		 REF_HEARTBEAT : REF_SERVICE;
	return r;
}

#endif
