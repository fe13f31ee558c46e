// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Writes the seed corpus of fuzz_xdp (tests/corpus/fuzz_xdp): every frame
 * of the Apache heartbeat capture as it arrived, its payloads in frames
 * from a configured real and from a stranger, service traffic for each of
 * fuzz_xdp's services with and without VLAN tags, and the frame kinds the
 * data path passes or drops, and signed heartbeats (as `hblb beat --key-file`
 * sends them, through user/auth.c) accepted, accepted with the previous
 * key, and refused for each of the README's reasons. Each file is
 * fuzz_xdp's input: a flag byte, then the frame. Run by hand when the
 * corpus should change:
 *   build/fuzz_seeds ../shared/heartbeat/apache-heartbeat.pcap tests/corpus/hb tests/corpus/fuzz_xdp
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "packets.h"
#include "pcapng.h"
#include "auth.c"               /* the sender's own message and tag */

/* auth.c reports through the log layer: plain stderr here */
void log_msg(enum hblb_log_level level, const char *fmt, ...)
{
	va_list ap;

	(void)level;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

#define IP(a, b, c, d) (((__u32)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))

static const char *out_dir;
static int nseeds;

static void put(const char *name, __u8 flags, const __u8 *frame, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", out_dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(&flags, 1, 1, f) != 1 || fwrite(frame, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "fuzz_seeds: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	nseeds++;
}

/* The capture repeats itself (one heartbeat a second): keep the first
 * frame of each distinct length and final 16 bytes, i.e. each distinct
 * payload and any other kind of frame. */
static int from_capture(const uint8_t *frame, uint32_t len, void *arg)
{
	static struct { uint32_t len; uint8_t tail[16]; } seen[256];
	static int nseen;
	uint8_t tail[16] = { 0 };
	char name[64];

	memcpy(tail, frame + (len > 16 ? len - 16 : 0), len > 16 ? 16 : len);
	for (int i = 0; i < nseen; i++)
		if (seen[i].len == len && !memcmp(seen[i].tail, tail, 16))
			return 0;
	if (nseen == 256)
		return 0;
	seen[nseen].len = len;
	memcpy(seen[nseen++].tail, tail, 16);
	snprintf(name, sizeof(name), "capture-%d.bin", ++*(int *)arg);
	put(name, 0, frame, len);
	return 0;
}

static struct pkt_spec spec(__u32 saddr, __u32 daddr, __u8 proto, __u16 dport)
{
	struct pkt_spec s = {
		.dst_mac = { 0x02, 0, 0, 0, 0, 0xfe }, .src_mac = { 0x02, 0, 0, 0, 0, 0x01 },
		.saddr = saddr, .daddr = daddr, .proto = proto, .sport = 40000, .dport = dport,
		.tcp_flags = PKT_TCP_SYN,
	};
	return s;
}

/* ttl 0: as pkt_build makes it (64) */
static void built_ttl(const char *name, __u8 flags, const struct pkt_spec *s, __u8 ttl)
{
	__u8 buf[2048];
	size_t ip_off, len = pkt_build(s, buf, sizeof(buf), &ip_off, NULL);

	if (!len) {
		fprintf(stderr, "fuzz_seeds: %s does not fit\n", name);
		exit(1);
	}
	if (ttl) {
		struct iphdr *ip = (struct iphdr *)(buf + ip_off);

		ip->ttl = ttl;
		ip->check = 0;
		ip->check = pkt_csum(ip, sizeof(*ip));
	}
	put(name, flags, buf, len);
}

static void built(const char *name, __u8 flags, const struct pkt_spec *s)
{
	built_ttl(name, flags, s, 0);
}

/* fuzz_xdp's keys and reals (tests/fuzz_xdp.c): real 1 has KEY_A, real 2
 * KEY_B with KEY_A as the previous key of a rollover; real 0 has none.
 * fuzz_xdp's flags: 8 GTSM on, 16 keys withdrawn, 32 last seq SEQ_HIGH. */
static const __u8 KEY_A[HBLB_KEY_LEN] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static const __u8 KEY_B[HBLB_KEY_LEN] = { 0x68, 0x62, 0x6c, 0x62, 0x2d, 0x66, 0x75, 0x7a,
					  0x7a, 0x2d, 0x6b, 0x65, 0x79, 0x2d, 0x42, 0x21 };
#define SEQ_NOW 1763937000123456ull     /* above fuzz_xdp's SEQ_HIGH */

/* A heartbeat from `from`, signed for address `signer` under key. */
static void signed_hb(const char *name, __u8 flags, __u32 from, __u32 signer, const __u8 *key,
		      __u32 ready, __u64 seq, __u8 ttl, size_t cut)
{
	static const __u8 mcast_mac[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	char msg[128];
	int len = auth_message(msg, sizeof(msg), ready, 3, seq, key, htonl(signer));
	struct pkt_spec s = spec(from, IP(239, 0, 0, 1), IPPROTO_UDP, 27999);

	if (len < 0 || (size_t)len <= cut) {
		fprintf(stderr, "fuzz_seeds: %s: no message\n", name);
		exit(1);
	}
	memcpy(s.dst_mac, mcast_mac, 6);
	s.payload = msg;
	s.payload_len = len - cut;
	built_ttl(name, flags, &s, ttl);
}

int main(int argc, char **argv)
{
	static const __u8 mcast_mac[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	const __u32 vip = IP(198, 18, 0, 100), client = IP(198, 18, 0, 1);
	const __u32 real0 = IP(198, 18, 0, 11), stranger = IP(198, 18, 0, 99);
	struct pkt_spec s;
	struct dirent *de;
	int ncap = 0, err;
	char name[300];
	DIR *d;

	if (argc != 4) {
		fprintf(stderr, "usage: fuzz_seeds CAPTURE.pcap HB_PAYLOAD_DIR OUT_DIR\n");
		return 2;
	}
	out_dir = argv[3];
	err = pcapng_each(argv[1], from_capture, &ncap);
	if (err < 0 || !ncap) {
		fprintf(stderr, "fuzz_seeds: %s: %s\n", argv[1], err < 0 ? strerror(-err) : "no frames");
		return 1;
	}
	/* every payload of the capture, from a real and from a stranger */
	d = opendir(argv[2]);
	if (!d) {
		fprintf(stderr, "fuzz_seeds: %s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	while ((de = readdir(d))) {
		__u8 payload[1100];
		char path[4096];
		size_t len;
		FILE *f;

		if (!strstr(de->d_name, ".bin"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", argv[2], de->d_name);
		f = fopen(path, "rb");
		if (!f)
			continue;
		len = fread(payload, 1, sizeof(payload), f);
		fclose(f);
		s = spec(real0, IP(239, 0, 0, 1), IPPROTO_UDP, 27999);
		memcpy(s.dst_mac, mcast_mac, 6);
		s.payload = payload;
		s.payload_len = len;
		snprintf(name, sizeof(name), "hb-real-%s", de->d_name);
		built(name, 0, &s);
		snprintf(name, sizeof(name), "hb-real-pass-%s", de->d_name);
		built(name, 1, &s);
		s.saddr = stranger;
		snprintf(name, sizeof(name), "hb-stranger-%s", de->d_name);
		built(name, 0, &s);
	}
	closedir(d);

	/* signed heartbeats: accepted (then replayed by fuzz_xdp's second run),
	 * with the previous key, and each way of being refused */
	{
		const __u32 real1 = IP(198, 18, 0, 12), real2 = IP(198, 18, 0, 13);
		static const char plain[] = "v=1&ready=75&busy=3";

		signed_hb("auth-real1.bin", 0, real1, real1, KEY_A, 75, SEQ_NOW, 0, 0);
		signed_hb("auth-real1-pass.bin", 1, real1, real1, KEY_A, 75, SEQ_NOW, 0, 0);
		signed_hb("auth-real1-seq1.bin", 0, real1, real1, KEY_A, 4242, 1, 0, 0);
		signed_hb("auth-real1-replay.bin", 32, real1, real1, KEY_A, 75, 7, 0, 0);
		signed_hb("auth-real1-above-high.bin", 32, real1, real1, KEY_A, 75, SEQ_NOW, 0, 0);
		signed_hb("auth-real1-max.bin", 0, real1, real1, KEY_A, 4294967295u,
			  9999999999999999999ull, 0, 0);
		signed_hb("auth-real1-wrong-key.bin", 0, real1, real1, KEY_B, 4242, SEQ_NOW, 0, 0);
		signed_hb("auth-real1-withdrawn.bin", 16, real1, real1, KEY_A, 75, SEQ_NOW, 0, 0);
		signed_hb("auth-real1-truncated-tag.bin", 0, real1, real1, KEY_A, 75, SEQ_NOW, 0, 1);
		signed_hb("auth-real1-gtsm.bin", 8, real1, real1, KEY_A, 75, SEQ_NOW, 255, 0);
		signed_hb("auth-real1-gtsm-ttl1.bin", 8, real1, real1, KEY_A, 75, SEQ_NOW, 1, 0);
		signed_hb("auth-real2.bin", 0, real2, real2, KEY_B, 60, SEQ_NOW, 0, 0);
		signed_hb("auth-real2-prev-key.bin", 0, real2, real2, KEY_A, 60, SEQ_NOW, 0, 0);
		signed_hb("auth-real2-as-real1.bin", 0, real2, real1, KEY_A, 4242, SEQ_NOW, 0, 0);
		signed_hb("auth-real0-signed.bin", 0, real0, real0, KEY_A, 50, SEQ_NOW, 0, 0);
		signed_hb("auth-stranger.bin", 0, stranger, stranger, KEY_A, 50, SEQ_NOW, 0, 0);
		s = spec(real1, IP(239, 0, 0, 1), IPPROTO_UDP, 27999);
		memcpy(s.dst_mac, mcast_mac, 6);
		s.payload = plain;
		s.payload_len = strlen(plain);
		built("auth-real1-plain.bin", 0, &s);
		built_ttl("hb-real-gtsm-ttl1.bin", 8, &s, 1);
		s.saddr = real0;
		built_ttl("hb-real0-gtsm.bin", 8, &s, 255);
	}

	/* service traffic: each service, tagged 0-3 times, on and off our interface */
	for (int vlans = 0; vlans <= 3; vlans++) {
		s = spec(client, vip, IPPROTO_TCP, 80);
		s.vlans = vlans;
		snprintf(name, sizeof(name), "tcp80-vlan%d.bin", vlans);
		built(name, 0, &s);
		snprintf(name, sizeof(name), "tcp80-vlan%d-down.bin", vlans);
		built(name, 4, &s);
	}
	s = spec(client, vip, IPPROTO_TCP, 80);
	built("tcp80-not-enabled.bin", 2, &s);
	s.payload = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	s.payload_len = strlen(s.payload);
	built("tcp80-data.bin", 0, &s);
	s = spec(client, vip, IPPROTO_UDP, 53);
	s.payload = "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00";
	s.payload_len = 12;
	built("udp53.bin", 0, &s);
	s = spec(client, vip, IPPROTO_TCP, 8080);
	built("tcp8080-no-backend.bin", 0, &s);
	s = spec(client, IP(198, 18, 0, 2), IPPROTO_TCP, 22);
	built("tcp-not-service.bin", 0, &s);
	s = spec(client, vip, IPPROTO_TCP, 80);
	s.ethertype = 0x0806;
	built("arp-ethertype.bin", 0, &s);
	s.ethertype = 0x86dd;
	built("ipv6-ethertype.bin", 0, &s);
	printf("fuzz_seeds: %d seeds in %s (%d distinct frames from the capture)\n", nseeds, out_dir, ncap);
	return 0;
}
