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
			for (i = 0; i < 16; i++)
				if (!strchr("0123456789abcdef", v[i]) || !v[i])
					return -1;
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
	return 0;
}

#endif
