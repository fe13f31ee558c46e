// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target: the heartbeat payload parser of the XDP program
 * (bpf/hb_parse.h), built for the host with AddressSanitizer and
 * UndefinedBehaviorSanitizer. The input is one UDP payload.
 *
 * Invariants, any breach aborts (a finding):
 *  - the general parser returns OK or one of enum hblb_hb_error;
 *  - it accepts exactly what the independent reference grammar
 *    (tests/hb_ref.h) accepts, with the same ready, busy, port, seq, tag
 *    and the same known fields seen;
 *  - the fast path for Apache's canonical form either declines (-1) or
 *    accepts with the general parser's values, since XDP trusts either;
 *  - the fast path for hblb's signed form (what a real with a key must
 *    send) accepts exactly what the reference's signed form accepts, with
 *    its values, which the general parser accepts too with the same ones;
 *    what lies in its buffer after the payload never changes its answer;
 *  - all of this also for the input with a signed tail appended (below);
 *  - none reads outside the payload: libFuzzer hands over a heap block of
 *    exactly the input's size, so ASan sees any read at p[len]. The signed
 *    fast path reads a buffer of HB_BUF_LEN bytes (as the XDP scratch),
 *    a heap block of exactly that size here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "hb_parse.h"
#include "hb_ref.h"

#define FAIL(...) do { fprintf(stderr, "fuzz_hb_parse: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

static int same_msg(const struct hblb_hb_msg *a, const struct hblb_hb_msg *b)
{
	return a->ready == b->ready && a->busy == b->busy && a->port == b->port &&
	       a->seq == b->seq && a->tag == b->tag && a->seen == b->seen;
}

/* The signed fast path on a copy of the payload in an HB_BUF_LEN buffer
 * whose bytes after the payload are `fill` (digits are the worst case: a
 * run of them read past the end must not count). */
static int auth_fast(const __u8 *data, __u32 len, __u8 *buf, __u8 fill, struct hblb_hb_msg *m)
{
	memset(buf, fill, HB_BUF_LEN);
	memcpy(buf, data, len < HB_BUF_LEN ? len : HB_BUF_LEN);
	return hb_parse_canonical_auth(buf, len, m);
}

static void check(const __u8 *data, __u32 len)
{
	static const __u8 fills[] = { '0', '9', 'a', '&', 0 };
	struct hblb_hb_msg msg = { 0 }, ref = { 0 }, fast = { 0 }, aref = { 0 }, afast;
	int err, rerr, ferr, aerr, arerr;
	__u8 *buf;

	err = hblb_hb_parse(data, len, &msg);
	if (err != HBLB_HB_OK && (err < HBLB_HB_EMPTY || err > HBLB_HB_AUTH_MALFORMED))
		FAIL("parser returned %d, not an hblb_hb_error", err);
	rerr = ref_parse(data, len, &ref);
	if ((err == HBLB_HB_OK) != (rerr == 0))
		FAIL("parser says %d, reference says %s (len %u)", err, rerr ? "invalid" : "valid", len);
	if (err == HBLB_HB_OK && !same_msg(&msg, &ref))
		FAIL("values differ: parser ready=%u busy=%u port=%u seq=%llu tag=%016llx seen=%#x, "
		     "reference %u %u %u %llu %016llx %#x", msg.ready, msg.busy, msg.port,
		     (unsigned long long)msg.seq, (unsigned long long)msg.tag, msg.seen, ref.ready,
		     ref.busy, ref.port, (unsigned long long)ref.seq, (unsigned long long)ref.tag,
		     ref.seen);
	ferr = hb_parse_canonical(data, data + len, len, &fast);
	if (ferr != -1 && ferr != HBLB_HB_OK)
		FAIL("fast path returned %d", ferr);
	if (ferr == HBLB_HB_OK &&
	    (err != HBLB_HB_OK || fast.ready != msg.ready || fast.busy != msg.busy || fast.port != 0 ||
	     fast.seq != 0 || fast.seen != HB_SEEN_REQUIRED || msg.seen != HB_SEEN_REQUIRED))
		FAIL("fast path accepts ready=%u busy=%u, general parser says %d", fast.ready,
		     fast.busy, err);

	/* the signed form: the XDP program calls it only for HB_AUTH_FORM_MIN_LEN
	 * to HB_AUTH_FORM_MAX_LEN bytes, but it must decline any other length */
	buf = malloc(HB_BUF_LEN);
	if (!buf)
		FAIL("out of memory");
	arerr = ref_auth_form(data, len, &aref);
	for (size_t i = 0; i < sizeof(fills); i++) {
		memset(&afast, 0x5a, sizeof(afast));
		aerr = len <= HB_BUF_LEN ? auth_fast(data, len, buf, fills[i], &afast) : -1;
		if (aerr != -1 && aerr != HBLB_HB_OK)
			FAIL("signed fast path returned %d", aerr);
		if ((aerr == HBLB_HB_OK) != (arerr == 0))
			FAIL("signed fast path says %d (bytes after the payload: '%c'), reference form %s",
			     aerr, fills[i], arerr ? "declines" : "accepts");
		if (aerr == HBLB_HB_OK && (!same_msg(&afast, &aref) || afast.pad != 0))
			FAIL("signed fast path: ready=%u busy=%u seq=%llu tag=%016llx seen=%#x, "
			     "reference %u %u %llu %016llx %#x", afast.ready, afast.busy,
			     (unsigned long long)afast.seq, (unsigned long long)afast.tag, afast.seen,
			     aref.ready, aref.busy, (unsigned long long)aref.seq,
			     (unsigned long long)aref.tag, aref.seen);
	}
	free(buf);
	if (arerr == 0 && (err != HBLB_HB_OK || !same_msg(&msg, &aref)))
		FAIL("signed form accepted, general parser says %d", err);
}

/* Each input is judged as it is and with a signed tail appended, so that
 * the Apache payloads of the seed corpus (tests/corpus/hb) reach the
 * signed form at once and their mutations explore around it. */
#define SIGNED_TAIL "&seq=1&auth=0123456789abcdef"

int LLVMFuzzerTestOneInput(const __u8 *data, size_t size)
{
	__u32 len = size > 0xffff ? 0xffff : (__u32)size;
	__u8 *signed_copy;

	check(data, len);
	if (len > HBLB_HB_MAX_PAYLOAD)
		return 0;
	signed_copy = malloc(len + sizeof(SIGNED_TAIL) - 1);
	if (!signed_copy)
		FAIL("out of memory");
	memcpy(signed_copy, data, len);
	memcpy(signed_copy + len, SIGNED_TAIL, sizeof(SIGNED_TAIL) - 1);
	check(signed_copy, len + sizeof(SIGNED_TAIL) - 1);
	free(signed_copy);
	return 0;
}
