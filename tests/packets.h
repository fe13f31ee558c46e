/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Test frame builder: Ethernet (+ VLAN tags) / IPv4 / TCP or UDP / payload,
 * with correct lengths and IP checksum; tests then break what they test. */
#ifndef HBLB_TEST_PACKETS_H
#define HBLB_TEST_PACKETS_H

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <netinet/in.h>
#include <string.h>

struct pkt_spec {
	__u8 dst_mac[6], src_mac[6];
	int vlans;                  /* 0-3 tags (802.1ad outer, 802.1Q inner) */
	__u16 ethertype;            /* host order; 0: IPv4 */
	__u32 saddr, daddr;         /* host order */
	__u8 proto;                 /* IPPROTO_TCP or IPPROTO_UDP */
	__u16 sport, dport;         /* host order */
	__u8 tcp_flags;             /* TH_SYN etc. as in tcphdr byte 13 */
	const void *payload;
	size_t payload_len;
};

#define PKT_TCP_SYN 0x02
#define PKT_TCP_ACK 0x10

static inline __u16 pkt_csum(const void *data, size_t len)
{
	const __u8 *p = data;
	__u32 sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (p[i] << 8) | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

/* Returns the frame length, or 0 if it does not fit in cap. Offsets of the
 * IP and L4 headers are returned through ip_off/l4_off when not NULL. */
static inline size_t pkt_build(const struct pkt_spec *s, __u8 *buf, size_t cap,
			       size_t *ip_off, size_t *l4_off)
{
	size_t l4_len = (s->proto == IPPROTO_TCP ? sizeof(struct tcphdr) : sizeof(struct udphdr)) +
			s->payload_len;
	size_t off = 0, len;
	struct iphdr *ip;

	len = ETH_HLEN + 4 * s->vlans + sizeof(*ip) + l4_len;
	if (len > cap)
		return 0;
	memset(buf, 0, len);
	memcpy(buf, s->dst_mac, 6);
	memcpy(buf + 6, s->src_mac, 6);
	off = 12;
	for (int v = 0; v < s->vlans; v++) {
		__u16 tpid = htons(v == 0 && s->vlans > 1 ? ETH_P_8021AD : ETH_P_8021Q);
		__u16 tci = htons(100 + v);

		memcpy(buf + off, &tpid, 2);
		memcpy(buf + off + 2, &tci, 2);
		off += 4;
	}
	{
		__u16 et = htons(s->ethertype ? s->ethertype : ETH_P_IP);

		memcpy(buf + off, &et, 2);
		off += 2;
	}
	if (ip_off)
		*ip_off = off;
	ip = (struct iphdr *)(buf + off);
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(sizeof(*ip) + l4_len);
	ip->id = htons(1);
	ip->frag_off = htons(0x4000);       /* DF */
	ip->ttl = 64;
	ip->protocol = s->proto;
	ip->saddr = htonl(s->saddr);
	ip->daddr = htonl(s->daddr);
	ip->check = pkt_csum(ip, sizeof(*ip));
	off += sizeof(*ip);
	if (l4_off)
		*l4_off = off;
	if (s->proto == IPPROTO_TCP) {
		struct tcphdr *t = (struct tcphdr *)(buf + off);

		t->source = htons(s->sport);
		t->dest = htons(s->dport);
		t->seq = htonl(1000);
		t->doff = 5;
		buf[off + 13] = s->tcp_flags;
		t->window = htons(65535);
		off += sizeof(*t);
	} else {
		struct udphdr *u = (struct udphdr *)(buf + off);

		u->source = htons(s->sport);
		u->dest = htons(s->dport);
		u->len = htons(sizeof(*u) + s->payload_len);
		off += sizeof(*u);
	}
	if (s->payload_len)
		memcpy(buf + off, s->payload, s->payload_len);
	return len;
}

#endif
