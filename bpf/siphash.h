/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * siphash.h - SipHash-2-4 (Aumasson and Bernstein, 2012) as small steps
 * shared by the XDP program, which feeds the blocks from a bpf_loop, and
 * the host (hblb beat, the CLI's key fingerprints, the tests), which uses
 * hb_siphash24() below. Keys and blocks are little-endian 64-bit words.
 */
#ifndef HBLB_SIPHASH_H
#define HBLB_SIPHASH_H

#include <linux/types.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "SipHash blocks are read as native 64-bit words: little-endian hosts only"
#endif

struct sip_state {
	__u64 v0, v1, v2, v3;
};

static __always_inline __u64 sip_rotl(__u64 x, unsigned int b)
{
	return (x << b) | (x >> (64 - b));
}

static __always_inline void sip_round(struct sip_state *s)
{
	s->v0 += s->v1; s->v1 = sip_rotl(s->v1, 13); s->v1 ^= s->v0; s->v0 = sip_rotl(s->v0, 32);
	s->v2 += s->v3; s->v3 = sip_rotl(s->v3, 16); s->v3 ^= s->v2;
	s->v0 += s->v3; s->v3 = sip_rotl(s->v3, 21); s->v3 ^= s->v0;
	s->v2 += s->v1; s->v1 = sip_rotl(s->v1, 17); s->v1 ^= s->v2; s->v2 = sip_rotl(s->v2, 32);
}

static __always_inline void sip_init(struct sip_state *s, __u64 k0, __u64 k1)
{
	s->v0 = k0 ^ 0x736f6d6570736575ull;
	s->v1 = k1 ^ 0x646f72616e646f6dull;
	s->v2 = k0 ^ 0x6c7967656e657261ull;
	s->v3 = k1 ^ 0x7465646279746573ull;
}

/* One 8-byte block: two compression rounds (the "2" of 2-4). */
static __always_inline void sip_block(struct sip_state *s, __u64 m)
{
	s->v3 ^= m;
	sip_round(s);
	sip_round(s);
	s->v0 ^= m;
}

/* The last block holds the 0-7 remaining bytes (little endian) and the
 * message length mod 256 in its top byte; then four rounds (the "4"). */
static __always_inline __u64 sip_final(struct sip_state *s, __u64 tail, __u64 len)
{
	sip_block(s, tail | (len << 56));
	s->v2 ^= 0xff;
	sip_round(s);
	sip_round(s);
	sip_round(s);
	sip_round(s);
	return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

/* The mask that keeps a block's first n (0-7) bytes. */
static __always_inline __u64 sip_tail_mask(__u32 n)
{
	return n ? ~0ull >> (64 - 8 * (n & 7)) : 0;
}

#ifndef __bpf__
/* Key halves from the 16 key bytes. */
static inline void sip_key(const __u8 key[16], __u64 *k0, __u64 *k1)
{
	*k0 = 0;
	*k1 = 0;
	for (int i = 7; i >= 0; i--) {
		*k0 = (*k0 << 8) | key[i];
		*k1 = (*k1 << 8) | key[8 + i];
	}
}

/* SipHash-2-4 of len bytes at p. */
static inline __u64 hb_siphash24(__u64 k0, __u64 k1, const void *p, __u64 len)
{
	const __u8 *b = p;
	struct sip_state s;
	__u64 i, m, tail = 0;

	sip_init(&s, k0, k1);
	for (i = 0; i + 8 <= len; i += 8) {
		m = 0;
		for (int j = 7; j >= 0; j--)
			m = (m << 8) | b[i + j];
		sip_block(&s, m);
	}
	for (__u64 j = len; j > i; j--)
		tail = (tail << 8) | b[j - 1];
	return sip_final(&s, tail, len);
}
#endif

#endif /* HBLB_SIPHASH_H */
