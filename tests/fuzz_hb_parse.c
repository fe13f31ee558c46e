// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target: the heartbeat payload parser of the XDP program
 * (bpf/hb_parse.h), built for the host with AddressSanitizer and
 * UndefinedBehaviorSanitizer. The input is one UDP payload.
 *
 * Invariants, any breach aborts (a finding):
 *  - the general parser returns OK or one of enum hblb_hb_error;
 *  - it accepts exactly what the independent reference grammar
 *    (tests/hb_ref.h) accepts, with the same ready, busy and port;
 *  - the fast path for Apache's canonical form either declines (-1) or
 *    accepts with the general parser's values, since XDP trusts either;
 *  - neither reads outside the payload: libFuzzer hands over a heap block
 *    of exactly the input's size, so ASan sees any read at p[len].
 */
#include <stdio.h>
#include <stdlib.h>
#include "hb_parse.h"
#include "hb_ref.h"

#define FAIL(...) do { fprintf(stderr, "fuzz_hb_parse: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

int LLVMFuzzerTestOneInput(const __u8 *data, size_t size)
{
	struct hblb_hb_msg msg = { 0 }, ref = { 0 }, fast = { 0 };
	__u32 len = size > 0xffff ? 0xffff : (__u32)size;
	int err, rerr, ferr;

	err = hblb_hb_parse(data, len, &msg);
	if (err != HBLB_HB_OK && (err < HBLB_HB_EMPTY || err > HBLB_HB_DUPLICATE_FIELD))
		FAIL("parser returned %d, not an hblb_hb_error", err);
	rerr = ref_parse(data, len, &ref);
	if ((err == HBLB_HB_OK) != (rerr == 0))
		FAIL("parser says %d, reference says %s (len %u)", err, rerr ? "invalid" : "valid", len);
	if (err == HBLB_HB_OK &&
	    (msg.ready != ref.ready || msg.busy != ref.busy || msg.port != ref.port))
		FAIL("values differ: parser ready=%u busy=%u port=%u, reference %u %u %u",
		     msg.ready, msg.busy, msg.port, ref.ready, ref.busy, ref.port);
	ferr = hb_parse_canonical(data, data + len, len, &fast);
	if (ferr != -1 && ferr != HBLB_HB_OK)
		FAIL("fast path returned %d", ferr);
	if (ferr == HBLB_HB_OK &&
	    (err != HBLB_HB_OK || fast.ready != msg.ready || fast.busy != msg.busy || fast.port != 0))
		FAIL("fast path accepts ready=%u busy=%u, general parser says %d", fast.ready,
		     fast.busy, err);
	return 0;
}
