/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * hb_ref.h - an independent reference of the heartbeat grammar, shared by
 * the unit tests (test_hb_parse.c) and the fuzzers (fuzz_*.c): the XDP
 * parser's answers are checked against it, never against themselves.
 */
#ifndef HBLB_HB_REF_H
#define HBLB_HB_REF_H

#include <string.h>
#include "hb_parse.h"

/*
 * The grammar of the hb_parse.h comment, written independently of the
 * parser: split on '&', each field on its first '=', then judge the whole.
 * Says only valid (0, *m filled) or not (-1); which error the parser names
 * depends on where it stops, and the unit cases pin that down instead.
 * On success m->seen has bit k for each known field present (k: 1 v,
 * 2 ready, 3 busy, 4 port, 5 seq, 6 auth, as the parser's HB_SEEN bits),
 * m->seq is 0 without seq and m->tag 0 without auth.
 */
static inline int ref_parse(const __u8 *p, size_t len, struct hblb_hb_msg *m)
{
	static const char *const keys[] = { NULL, "v", "ready", "busy", "port", "seq", "auth" };
	__u64 val[7] = { 0 };
	unsigned int seen = 0;
	size_t i, s = 0, e;

	if (len == 0 || len > HBLB_HB_MAX_PAYLOAD)
		return -1;
	for (i = 0; i < len; i++)
		if (p[i] < 0x21 || p[i] > 0x7e)
			return -1;
	for (;;) {
		const __u8 *eq, *v;
		size_t klen, vlen;
		int k = 0;

		for (e = s; e < len && p[e] != '&'; e++)
			;
		eq = memchr(p + s, '=', e - s);
		if (!eq || eq == p + s)
			return -1;              /* empty field, no '=' or empty key */
		klen = eq - (p + s);
		for (i = 1; i < 7; i++)
			if (klen == strlen(keys[i]) && !memcmp(p + s, keys[i], klen))
				k = i;
		if (seen & (1u << 6))
			return -1;              /* auth must be the last field */
		if (k == 6) {                   /* auth: 16 lowercase hex digits */
			v = eq + 1;
			if (p + e - v != 16)
				return -1;
			for (i = 0; i < 16; i++) {
				const char *d = v[i] ? strchr("0123456789abcdef", v[i]) : NULL;

				if (!d)
					return -1;
				val[6] = val[6] << 4 | (__u64)(d - "0123456789abcdef");
			}
			seen |= 1u << 6;
		} else if (k == 5) {            /* seq: 1-19 digits, not 0 */
			v = eq + 1;
			vlen = p + e - v;
			if (vlen == 0 || vlen > 19 || (seen & (1u << k)))
				return -1;
			for (i = 0; i < vlen; i++) {
				if (v[i] < '0' || v[i] > '9')
					return -1;
				val[k] = val[k] * 10 + (v[i] - '0');
			}
			if (val[k] == 0)
				return -1;
			seen |= 1u << k;
		} else if (k) {
			v = eq + 1;
			vlen = p + e - v;
			if (vlen == 0 || (seen & (1u << k)))
				return -1;
			for (i = 0; i < vlen; i++) {
				if (v[i] < '0' || v[i] > '9')
					return -1;
				val[k] = val[k] * 10 + (v[i] - '0');
				if (val[k] > 0xffffffffull)
					return -1;
			}
			seen |= 1u << k;
		}
		if (e == len)
			break;
		s = e + 1;
	}
	if ((seen & 0xe) != 0xe || val[1] != 1)
		return -1;
	if ((seen & (1u << 6)) && !(seen & (1u << 5)))
		return -1;              /* a tag needs a sequence number */
	if ((seen & 0x10) && (val[4] == 0 || val[4] > 65535))
		return -1;
	m->ready = val[2];
	m->busy = val[3];
	m->port = val[4];
	m->seq = val[5];
	m->tag = val[6];
	m->seen = seen;
	return 0;
}

/*
 * hblb's signed form, the only one a real with a key may send (hblb.h):
 * exactly "v=1&ready=N&busy=M&seq=S&auth=T" with N and M 1-10 digits up to
 * 2^32-1, S 1-19 digits and not 0, T 16 lowercase hex digits. Returns 0
 * with *m filled (as the parser fills it: port 0, seen = v, ready, busy,
 * seq, auth), or -1. Written as a walk over the expected pieces.
 */
static inline int ref_auth_form(const __u8 *p, size_t len, struct hblb_hb_msg *m)
{
	static const struct { const char *lit; size_t max_digits; } pieces[] = {
		{ "v=1&ready=", 10 }, { "&busy=", 10 }, { "&seq=", 19 }, { "&auth=", 0 },
	};
	__u64 num[3] = { 0 }, tag = 0;
	size_t pos = 0;

	for (size_t k = 0; k < 4; k++) {
		size_t n = strlen(pieces[k].lit), d;

		if (len - pos < n || memcmp(p + pos, pieces[k].lit, n))
			return -1;
		pos += n;
		if (k == 3)
			break;
		for (d = 0; pos < len && p[pos] >= '0' && p[pos] <= '9'; d++, pos++) {
			if (d == pieces[k].max_digits)
				return -1;
			num[k] = num[k] * 10 + (p[pos] - '0');
		}
		if (d == 0 || (k < 2 && num[k] > 0xffffffffull) || (k == 2 && num[k] == 0))
			return -1;
	}
	if (len - pos != 16)
		return -1;
	for (; pos < len; pos++) {
		if (p[pos] >= '0' && p[pos] <= '9')
			tag = tag << 4 | (p[pos] - '0');
		else if (p[pos] >= 'a' && p[pos] <= 'f')
			tag = tag << 4 | (p[pos] - 'a' + 10);
		else
			return -1;
	}
	memset(m, 0, sizeof(*m));
	m->ready = (__u32)num[0];
	m->busy = (__u32)num[1];
	m->seq = num[2];
	m->tag = tag;
	m->seen = 0x6e;                 /* v, ready, busy, seq, auth */
	return 0;
}

/* SipHash-2-4 written from the paper, byte by byte (independent of
 * bpf/siphash.h): key as 16 bytes, k0 = bytes 0-7 little endian. */
#define REF_ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
static inline __u64 ref_siphash24(const __u8 key[16], const __u8 *msg, size_t len)
{
	__u64 k0 = 0, k1 = 0, v[4], b = (__u64)len << 56;
	size_t i;
	int r;

	for (i = 0; i < 8; i++) {
		k0 |= (__u64)key[i] << (8 * i);
		k1 |= (__u64)key[8 + i] << (8 * i);
	}
	v[0] = k0 ^ 0x736f6d6570736575ull;
	v[1] = k1 ^ 0x646f72616e646f6dull;
	v[2] = k0 ^ 0x6c7967656e657261ull;
	v[3] = k1 ^ 0x7465646279746573ull;
#define REF_SIPROUND do { \
		v[0] += v[1]; v[1] = REF_ROTL(v[1], 13); v[1] ^= v[0]; v[0] = REF_ROTL(v[0], 32); \
		v[2] += v[3]; v[3] = REF_ROTL(v[3], 16); v[3] ^= v[2]; \
		v[0] += v[3]; v[3] = REF_ROTL(v[3], 21); v[3] ^= v[0]; \
		v[2] += v[1]; v[1] = REF_ROTL(v[1], 17); v[1] ^= v[2]; v[2] = REF_ROTL(v[2], 32); \
	} while (0)
	for (i = 0; i + 8 <= len; i += 8) {
		__u64 m = 0;

		for (int j = 0; j < 8; j++)
			m |= (__u64)msg[i + j] << (8 * j);
		v[3] ^= m;
		for (r = 0; r < 2; r++)
			REF_SIPROUND;
		v[0] ^= m;
	}
	for (size_t j = 0; i + j < len; j++)
		b |= (__u64)msg[i + j] << (8 * j);
	v[3] ^= b;
	for (r = 0; r < 2; r++)
		REF_SIPROUND;
	v[0] ^= b;
	v[2] ^= 0xff;
	for (r = 0; r < 4; r++)
		REF_SIPROUND;
#undef REF_SIPROUND
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}
#undef REF_ROTL

/* The tag a signed heartbeat from saddr carries under key (hblb.h): over
 * the address, "hblb" and the payload before "&auth=" (len bytes). */
static inline __u64 ref_auth_tag(const __u8 key[16], __be32 saddr, const __u8 *p, size_t len)
{
	__u8 msg[8 + HBLB_HB_MAX_PAYLOAD];

	if (len > HBLB_HB_MAX_PAYLOAD)
		return 0;
	memcpy(msg, &saddr, 4);
	memcpy(msg + 4, "hblb", 4);
	memcpy(msg + 8, p, len);
	return ref_siphash24(key, msg, 8 + len);
}

#endif
