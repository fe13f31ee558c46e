/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * hb_parse.h - Apache mod_heartbeat payload parser, built both for BPF (the
 * XDP program reads the packet in place) and for the host (unit tests and
 * fuzzing). Pure C: no helpers, no libc.
 *
 * Accepted: `key=value` fields separated by '&', in any order, at most
 * HBLB_HB_MAX_PAYLOAD bytes. `v`, `ready` and `busy` are required, `port`
 * is optional; their values are decimal digits up to 2^32-1 (port 1-65535),
 * v must be 1, and none may appear twice. Unknown fields are skipped; their
 * keys and values may hold any printable ASCII but '&' ('=' in the value).
 * hblb's authenticated heartbeats add `seq` (1 to 19 decimal digits, not 0)
 * and `auth` (exactly 16 lowercase hex digits, the last field, with a seq);
 * the caller checks the tag (hblb.h says over what).
 * Rejected: an empty payload, an empty field (so no leading, doubled or
 * trailing '&'), a field without '=', control or non-ASCII bytes.
 */
#ifndef HBLB_HB_PARSE_H
#define HBLB_HB_PARSE_H

#include "hblb.h"
#include "siphash.h"

#define HB_FIELD_UNKNOWN 0
#define HB_FIELD_V       1
#define HB_FIELD_READY   2
#define HB_FIELD_BUSY    3
#define HB_FIELD_PORT    4
#define HB_FIELD_SEQ     5
#define HB_FIELD_AUTH    6
#define HB_IN_KEY        8

#define HB_SEEN_REQUIRED ((1u << HB_FIELD_V) | (1u << HB_FIELD_READY) | (1u << HB_FIELD_BUSY))
#define HB_SEEN_SEQ      (1u << HB_FIELD_SEQ)
#define HB_SEEN_AUTH     (1u << HB_FIELD_AUTH)

/* Keys as their bytes shifted into an integer, first byte highest. */
#define HB_KEY_V      0x76ull
#define HB_KEY_READY  0x7265616479ull
#define HB_KEY_BUSY   0x62757379ull
#define HB_KEY_PORT   0x706f7274ull
#define HB_KEY_SEQ    0x736571ull
#define HB_KEY_AUTH   0x61757468ull

struct hblb_hb_msg {
	__u64 seq;              /* 0 when absent */
	__u64 tag;              /* auth's value; valid when seen has HB_SEEN_AUTH */
	__u32 ready;
	__u32 busy;
	__u16 port;             /* 0 when absent */
	__u16 pad;
	__u32 seen;             /* bit per known field present (HB_SEEN_*) */
};

/*
 * In BPF the parser state lives in map memory (a per-CPU scratch value the
 * caller passes) and goes through it at every byte: the verifier would
 * otherwise track the small counters as constants, branches decided on
 * them mark them precise, the per-byte states stop matching and multiply
 * until the 1M-instruction limit ("program is too large"). Values loaded
 * from map memory are unknown to it, so the states at the loop head prune.
 * The barrier stops the compiler from keeping the state in registers.
 * On the host the state is an ordinary local and the barrier is free.
 */
#ifdef __bpf__
#define HB_STATE_BARRIER() asm volatile("" ::: "memory")
#else
#define HB_STATE_BARRIER() do { } while (0)
#endif

struct hb_state {
	__u64 key;              /* last 8 key bytes; with key_len, enough to classify */
	__u64 val;              /* value so far */
	__u32 key_len;
	__u32 val_len;
	__u32 field;            /* HB_IN_KEY, or the field whose value is read */
	__u32 seen;             /* bit per known field */
};

static __always_inline int hb_is_printable(__u8 c)
{
	return c >= 0x21 && c <= 0x7e;
}

static __always_inline __u32 hb_classify(__u64 key, __u32 key_len)
{
	if (key_len == 1 && key == HB_KEY_V)
		return HB_FIELD_V;
	if (key_len == 5 && key == HB_KEY_READY)
		return HB_FIELD_READY;
	if (key_len == 4 && key == HB_KEY_BUSY)
		return HB_FIELD_BUSY;
	if (key_len == 4 && key == HB_KEY_PORT)
		return HB_FIELD_PORT;
	if (key_len == 3 && key == HB_KEY_SEQ)
		return HB_FIELD_SEQ;
	if (key_len == 4 && key == HB_KEY_AUTH)
		return HB_FIELD_AUTH;
	return HB_FIELD_UNKNOWN;
}

/* Closes the field that ends at '&' or at the end of the payload. */
static __always_inline int hb_end_field(struct hb_state *st, struct hblb_hb_msg *msg)
{
	__u32 bit;

	if (st->field == HB_IN_KEY)
		return HBLB_HB_BAD_SYNTAX;      /* empty field or no '=' */
	if (st->field == HB_FIELD_AUTH && st->val_len != HBLB_AUTH_TAG_HEX)
		return HBLB_HB_AUTH_MALFORMED;
	if (st->field != HB_FIELD_UNKNOWN) {
		if (st->val_len == 0)
			return HBLB_HB_BAD_VALUE;
		bit = 1u << (st->field & 7);
		if (st->seen & bit)
			return HBLB_HB_DUPLICATE_FIELD;
		st->seen |= bit;
		switch (st->field) {
		case HB_FIELD_V:
			if (st->val != 1)
				return HBLB_HB_BAD_VERSION;
			break;
		case HB_FIELD_READY:
			msg->ready = (__u32)st->val;
			break;
		case HB_FIELD_BUSY:
			msg->busy = (__u32)st->val;
			break;
		case HB_FIELD_SEQ:
			if (st->val == 0)
				return HBLB_HB_BAD_VALUE;
			msg->seq = st->val;
			break;
		case HB_FIELD_AUTH:
			msg->tag = st->val;
			break;
		default: /* HB_FIELD_PORT */
			if (st->val == 0 || st->val > 65535)
				return HBLB_HB_BAD_VALUE;
			msg->port = (__u16)st->val;
			break;
		}
	}
	st->field = HB_IN_KEY;
	st->key = 0;
	st->key_len = 0;
	st->val = 0;
	st->val_len = 0;
	return HBLB_HB_OK;
}

static __always_inline int hb_step(struct hb_state *st, struct hblb_hb_msg *msg, __u8 c)
{
	/* auth closes the message: the tag covers what came before it */
	if (st->seen & HB_SEEN_AUTH)
		return HBLB_HB_AUTH_MALFORMED;
	if (c == '&')
		return hb_end_field(st, msg);
	if (!hb_is_printable(c))
		return HBLB_HB_BAD_CHAR;
	if (st->field == HB_IN_KEY) {
		if (c == '=') {
			if (st->key_len == 0)
				return HBLB_HB_BAD_SYNTAX;
			st->field = hb_classify(st->key, st->key_len);
			return HBLB_HB_OK;
		}
		st->key = (st->key << 8) | c;
		st->key_len++;
		return HBLB_HB_OK;
	}
	if (st->field == HB_FIELD_UNKNOWN)
		return HBLB_HB_OK;
	if (st->field == HB_FIELD_AUTH) {
		__u32 d;

		/* lowercase hex only: one spelling per tag */
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else
			return HBLB_HB_AUTH_MALFORMED;
		if (st->val_len >= HBLB_AUTH_TAG_HEX)
			return HBLB_HB_AUTH_MALFORMED;
		st->val = (st->val << 4) | d;
		st->val_len++;
		return HBLB_HB_OK;
	}
	if (c < '0' || c > '9')
		return HBLB_HB_BAD_VALUE;
	if (st->field == HB_FIELD_SEQ && st->val_len >= HBLB_SEQ_DIGITS_MAX)
		return HBLB_HB_BAD_VALUE;
	st->val = st->val * 10 + (c - '0');
	if (st->field != HB_FIELD_SEQ && st->val > 0xffffffffull)
		return HBLB_HB_BAD_VALUE;
	st->val_len++;
	return HBLB_HB_OK;
}

/*
 * The payload is parsed from a buffer (in BPF a per-CPU map value the packet
 * was copied into) in chunks of HB_CHUNK bytes: the BPF side drives the
 * chunks with bpf_loop so the verifier checks one chunk once, where an
 * inline loop over 1000 bytes leaves more pending branches than it allows
 * ("sequence of 8193 jumps is too complex"). The host drives them in a loop.
 */
#define HB_CHUNK   64
#define HB_BUF_LEN 1024         /* power of two >= HBLB_HB_MAX_PAYLOAD */

struct hb_scratch {
	struct hb_state st;
	struct hblb_hb_msg msg;
	struct sip_state sip;   /* SipHash state while a tag is computed */
	__u32 len;
	__s32 err;
	/* SipHash reads auth_hdr and buf as one message: the header (sender
	 * address and domain, hblb.h) sits right before the payload. */
	__u8 auth_hdr[HBLB_AUTH_HDR_LEN];
	__u8 buf[HB_BUF_LEN + 8];       /* + 8: the tag's last block is read whole */
};
_Static_assert(__builtin_offsetof(struct hb_scratch, buf) ==
	       __builtin_offsetof(struct hb_scratch, auth_hdr) + HBLB_AUTH_HDR_LEN &&
	       __builtin_offsetof(struct hb_scratch, auth_hdr) % 8 == 0,
	       "auth_hdr must directly precede buf, 8-byte aligned");

/* Validates the length and resets the state; the caller then fills buf. */
static __always_inline int hb_begin(struct hb_scratch *sc, __u32 len)
{
	if (len == 0)
		return HBLB_HB_EMPTY;
	if (len > HBLB_HB_MAX_PAYLOAD)
		return HBLB_HB_TOO_LONG;
	sc->st.key = 0;
	sc->st.val = 0;
	sc->st.key_len = 0;
	sc->st.val_len = 0;
	sc->st.field = HB_IN_KEY;
	sc->st.seen = 0;
	sc->msg.seq = 0;
	sc->msg.tag = 0;
	sc->msg.ready = 0;
	sc->msg.busy = 0;
	sc->msg.port = 0;
	sc->msg.pad = 0;
	sc->msg.seen = 0;
	sc->len = len;
	sc->err = HBLB_HB_OK;
	return HBLB_HB_OK;
}

/* Parses chunk `idx` of buf; returns non-zero to stop (error in sc->err,
 * or the end of the payload). */
static __always_inline int hb_parse_chunk(struct hb_scratch *sc, __u32 idx)
{
	__u32 base = idx * HB_CHUNK, i, j;
	int err;

	for (j = 0; j < HB_CHUNK; j++) {
		i = base + j;
		if (i >= sc->len)
			return 1;
		HB_STATE_BARRIER();
		err = hb_step(&sc->st, &sc->msg, sc->buf[i & (HB_BUF_LEN - 1)]);
		if (err) {
			sc->err = err;
			return 1;
		}
	}
	return 0;
}

/* After the last chunk: closes the last field, checks the required ones. */
static __always_inline int hb_finish(struct hb_scratch *sc)
{
	int err;

	if (sc->err)
		return sc->err;
	HB_STATE_BARRIER();
	err = hb_end_field(&sc->st, &sc->msg);
	if (err)
		return err;
	if ((sc->st.seen & HB_SEEN_REQUIRED) != HB_SEEN_REQUIRED)
		return HBLB_HB_MISSING_FIELD;
	/* a tag without a sequence number could be replayed forever */
	if ((sc->st.seen & HB_SEEN_AUTH) && !(sc->st.seen & HB_SEEN_SEQ))
		return HBLB_HB_AUTH_MALFORMED;
	sc->msg.seen = sc->st.seen;
	return HBLB_HB_OK;
}

/*
 * Fast path for the form Apache always sends, "v=1&ready=N&busy=M" (from
 * "v=%u&ready=%u&busy=%u"): a fixed prefix and two runs of digits, read in
 * place with nothing in memory. Returns HBLB_HB_OK with *msg filled, or -1
 * when the payload is not in that exact form, in which case the general
 * parser decides (the host tests check the two never disagree).
 */
#define HB_CANON_PREFIX     "v=1&ready="
#define HB_CANON_PREFIX_LEN 10
#define HB_CANON_MIN_LEN    18          /* v=1&ready=0&busy=0 */
#define HB_DIGITS_MAX       10          /* 4294967295 */

static __always_inline int hb_parse_canonical(const __u8 *p, const __u8 *end, __u32 len,
					      struct hblb_hb_msg *msg)
{
	const char prefix[] = HB_CANON_PREFIX;
	__u64 ready = 0, busy = 0;
	__u32 i, k;

	if (len < HB_CANON_MIN_LEN || len > HBLB_HB_MAX_PAYLOAD || p + HB_CANON_PREFIX_LEN > end)
		return -1;
#ifdef __clang__
#pragma clang loop unroll_count(HB_CANON_PREFIX_LEN)
#endif
	for (i = 0; i < HB_CANON_PREFIX_LEN; i++)
		if (p[i] != (__u8)prefix[i])
			return -1;
	for (k = 0; k <= HB_DIGITS_MAX; k++) {
		i = HB_CANON_PREFIX_LEN + k;
		if (i >= len || p + i + 1 > end)
			return -1;
		if (p[i] == '&')
			break;
		if ((__u8)(p[i] - '0') > 9 || k == HB_DIGITS_MAX)
			return -1;
		ready = ready * 10 + (p[i] - '0');
	}
	/* k digits of ready, then "&busy=" */
	i = HB_CANON_PREFIX_LEN + k;
	if (k == 0 || ready > 0xffffffffull || p + i + 6 > end || i + 6 >= len ||
	    p[i + 1] != 'b' || p[i + 2] != 'u' || p[i + 3] != 's' || p[i + 4] != 'y' ||
	    p[i + 5] != '=')
		return -1;
	i += 6;
	for (k = 0; k <= HB_DIGITS_MAX; k++) {
		if (i + k >= len)
			break;
		if (p + i + k + 1 > end || (__u8)(p[i + k] - '0') > 9 || k == HB_DIGITS_MAX)
			return -1;
		busy = busy * 10 + (p[i + k] - '0');
	}
	if (k == 0 || busy > 0xffffffffull)
		return -1;
	msg->seq = 0;
	msg->tag = 0;
	msg->ready = (__u32)ready;
	msg->busy = (__u32)busy;
	msg->port = 0;
	msg->pad = 0;
	msg->seen = HB_SEEN_REQUIRED;
	return HBLB_HB_OK;
}

/*
 * Fast path for hblb's authenticated form, the only form a real with a key
 * may send: "v=1&ready=N&busy=M&seq=S&auth=T" exactly (N, M up to 2^32-1,
 * S 1 to 19 digits and not 0, T 16 lowercase hex digits). It reads a copy
 * of the payload in b (the scratch buffer: at least HB_BUF_LEN bytes, so
 * reads past len stay inside it) and returns HBLB_HB_OK with *msg filled,
 * or -1.
 *
 * Digit runs are scanned without branches: a loop that exits at the first
 * non-digit gives the verifier one path per run length, and the three runs
 * multiply (11 x 11 x 20 paths to the end: "program is too large"). Here
 * the lengths and values are arithmetic on bytes it does not know, so one
 * path goes through.
 */
#define HB_AUTH_FORM_MAX_LEN (HB_CANON_PREFIX_LEN + 10 + 6 + 10 + 5 + HBLB_SEQ_DIGITS_MAX + \
			      HBLB_AUTH_TAIL_LEN + HBLB_AUTH_TAG_HEX)
#define HB_AUTH_FORM_MIN_LEN (HB_CANON_MIN_LEN + 6 + HBLB_AUTH_TAIL_LEN + HBLB_AUTH_TAG_HEX)

static __always_inline __u8 hb_at(const __u8 *b, __u32 i)
{
	return b[i & (HB_BUF_LEN - 1)];
}

/* 1 while x <= lim (both below 2^63), else 0: without a branch. */
static __always_inline __u64 hb_le(__u64 x, __u64 lim)
{
	return ((lim - x) >> 63) ^ 1;
}

/* The run of up to max decimal digits at b[pos]: its length and value. */
static __always_inline __u32 hb_scan_digits(const __u8 *b, __u32 pos, __u32 max, __u64 *val)
{
	__u64 v = 0, go = 1, n = 0;

	for (__u32 k = 0; k < max; k++) {
		__u64 d = (__u8)(hb_at(b, pos + k) - '0');

		go &= hb_le(d, 9);
		v += go * (v * 9 + d);          /* v * 10 + d while in the run */
		n += go;
	}
	*val = v;
	return (__u32)n;
}

static __always_inline int hb_lit(const __u8 *b, __u32 pos, const char *lit, __u32 n)
{
	for (__u32 k = 0; k < n; k++)
		if (hb_at(b, pos + k) != (__u8)lit[k])
			return -1;
	return 0;
}

static __always_inline int hb_parse_canonical_auth(const __u8 *b, __u32 len, struct hblb_hb_msg *msg)
{
	__u64 ready, busy, seq, tag = 0, bad = 0;
	__u32 i = HB_CANON_PREFIX_LEN, n;

	if (len < HB_AUTH_FORM_MIN_LEN || len > HB_AUTH_FORM_MAX_LEN ||
	    hb_lit(b, 0, HB_CANON_PREFIX, HB_CANON_PREFIX_LEN))
		return -1;
	n = hb_scan_digits(b, i, 10, &ready);
	if (n == 0 || ready > 0xffffffffull)
		return -1;
	i += n;
	if (hb_lit(b, i, "&busy=", 6))
		return -1;
	i += 6;
	n = hb_scan_digits(b, i, 10, &busy);
	if (n == 0 || busy > 0xffffffffull)
		return -1;
	i += n;
	if (hb_lit(b, i, "&seq=", 5))
		return -1;
	i += 5;
	n = hb_scan_digits(b, i, HBLB_SEQ_DIGITS_MAX, &seq);
	if (n == 0 || seq == 0)
		return -1;
	i += n;
	if (hb_lit(b, i, HBLB_AUTH_TAIL, HBLB_AUTH_TAIL_LEN))
		return -1;
	i += HBLB_AUTH_TAIL_LEN;
	if (i + HBLB_AUTH_TAG_HEX != len)
		return -1;
	for (__u32 k = 0; k < HBLB_AUTH_TAG_HEX; k++) {
		__u8 c = hb_at(b, i + k);
		__u64 dig = (__u8)(c - '0'), hex = (__u8)(c - 'a');
		__u64 is_dig = hb_le(dig, 9), is_hex = hb_le(hex, 5);

		/* lowercase hex, without a branch (as the digits) */
		tag = tag << 4 | (is_dig * dig + is_hex * (hex + 10));
		bad |= (is_dig | is_hex) ^ 1;
	}
	if (bad)
		return -1;
	msg->seq = seq;
	msg->tag = tag;
	msg->ready = (__u32)ready;
	msg->busy = (__u32)busy;
	msg->port = 0;
	msg->pad = 0;
	msg->seen = HB_SEEN_REQUIRED | HB_SEEN_SEQ | HB_SEEN_AUTH;
	return HBLB_HB_OK;
}

#ifndef __bpf__
/* Host entry point: parses the len bytes at p into *msg. Reads nothing
 * beyond p + len. Returns HBLB_HB_OK or an enum hblb_hb_error. */
static inline int hblb_hb_parse(const __u8 *p, __u32 len, struct hblb_hb_msg *msg)
{
	struct hb_scratch sc;
	int err = hb_begin(&sc, len);

	if (err)
		return err;
	for (__u32 i = 0; i < len; i++)
		sc.buf[i] = p[i];
	for (__u32 idx = 0; idx * HB_CHUNK < len; idx++)
		if (hb_parse_chunk(&sc, idx))
			break;
	err = hb_finish(&sc);
	if (err == HBLB_HB_OK)
		*msg = sc.msg;
	return err;
}
#endif

#endif /* HBLB_HB_PARSE_H */
