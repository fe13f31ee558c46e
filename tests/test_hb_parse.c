// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Host unit tests of the heartbeat payload parser (bpf/hb_parse.h): the
 * payloads of a real Apache capture (seed corpus, tests/corpus/hb or argv[1]),
 * the grammar's edge cases with their exact error codes, and a property test
 * over random payloads against an independent reference of the grammar.
 *
 * Every payload goes through both parsers the XDP program uses: the fast
 * path for Apache's canonical form (hb_parse_canonical) and the general
 * parser (hblb_hb_parse). Whenever the fast path accepts, the general parser
 * must accept with the same values, since the XDP program trusts either.
 *
 * Each payload is copied to the very end of its own malloc'd block, so a
 * build with -fsanitize=address catches any read at p[len] or beyond.
 * No BPF, no root.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "testing.h"
#include "hb_parse.h"
#include "hb_ref.h"

#define HB_ERR_FIRST HBLB_HB_EMPTY
#define HB_ERR_LAST  HBLB_HB_AUTH_MALFORMED
#define MAX_GEN      1100        /* property test: longest generated payload */

static const char *err_name(int err)
{
	static const char *const names[] = {
		[HBLB_HB_EMPTY - HB_ERR_FIRST]           = "EMPTY",
		[HBLB_HB_TOO_LONG - HB_ERR_FIRST]        = "TOO_LONG",
		[HBLB_HB_BAD_SYNTAX - HB_ERR_FIRST]      = "BAD_SYNTAX",
		[HBLB_HB_BAD_CHAR - HB_ERR_FIRST]        = "BAD_CHAR",
		[HBLB_HB_BAD_VALUE - HB_ERR_FIRST]       = "BAD_VALUE",
		[HBLB_HB_BAD_VERSION - HB_ERR_FIRST]     = "BAD_VERSION",
		[HBLB_HB_MISSING_FIELD - HB_ERR_FIRST]   = "MISSING_FIELD",
		[HBLB_HB_DUPLICATE_FIELD - HB_ERR_FIRST] = "DUPLICATE_FIELD",
		[HBLB_HB_AUTH_MALFORMED - HB_ERR_FIRST]  = "AUTH_MALFORMED",
	};

	if (err == HBLB_HB_OK)
		return "OK";
	if (err >= HB_ERR_FIRST && err <= HB_ERR_LAST)
		return names[err - HB_ERR_FIRST];
	return "(not an hblb_hb_error)";
}

/* Printable rendering of a payload for failure messages (one static buffer:
 * use once per message). */
static const char *show(const void *buf, size_t len)
{
	static char out[200];
	const __u8 *p = buf;
	size_t i, o = 0;

	out[o++] = '"';
	for (i = 0; i < len && o < 160; i++) {
		if (p[i] >= 0x21 && p[i] <= 0x7e && p[i] != '"' && p[i] != '\\')
			out[o++] = p[i];
		else
			o += snprintf(out + o, sizeof(out) - o, "\\x%02x", p[i]);
	}
	snprintf(out + o, sizeof(out) - o, "%s\" (%zu bytes)", i < len ? "..." : "", len);
	return out;
}

/* ---- running both parsers ------------------------------------------------ */

static int last_fast;   /* hb_parse_canonical's result in the last parse() */

/* Compares the fast path's answer with the general parser's. */
static void check_fast(const __u8 *p, __u32 len, int fast, const struct hblb_hb_msg *fm,
		       int err, const struct hblb_hb_msg *m)
{
	CHECK(fast == HBLB_HB_OK || fast == -1, "fast path returned %d for %s", fast,
	      show(p, len));
	if (fast != HBLB_HB_OK)
		return;
	CHECK(err == HBLB_HB_OK && fm->ready == m->ready && fm->busy == m->busy &&
	      fm->port == m->port,
	      "fast path accepts %s as ready=%u busy=%u, general parser says %s "
	      "ready=%u busy=%u port=%u", show(p, len), fm->ready, fm->busy, err_name(err),
	      m->ready, m->busy, m->port);
}

/* Parses len bytes of buf from the end of a block of exactly len bytes, with
 * both parsers. *msg is poisoned first so a field left unset shows. */
static int parse(const void *buf, size_t len, struct hblb_hb_msg *msg)
{
	struct hblb_hb_msg fm;
	__u8 *block = malloc(len ? len : 1);
	int err;

	if (!block) {
		perror("malloc");
		exit(2);
	}
	memcpy(block, buf, len);
	memset(msg, 0xa5, sizeof(*msg));
	err = hblb_hb_parse(block, len, msg);
	memset(&fm, 0x5a, sizeof(fm));
	last_fast = hb_parse_canonical(block, block + len, len, &fm);
	check_fast(block, len, last_fast, &fm, err, msg);
	free(block);
	return err;
}

/* Macros so that a failure names the caller's line. */
#define EXPECT_ERR_N(buf, len, want) ({                                          \
	struct hblb_hb_msg m_;                                                  \
	int e_ = parse(buf, len, &m_);                                          \
	CHECK(e_ == (want), "%s: got %s, want %s", show(buf, len), err_name(e_), \
	      err_name(want));                                                  \
})
#define EXPECT_ERR(lit, want) EXPECT_ERR_N(lit, sizeof(lit) - 1, want)

#define EXPECT_OK_N(buf, len, r, b, pt) ({                                       \
	struct hblb_hb_msg m_;                                                  \
	int e_ = parse(buf, len, &m_);                                          \
	CHECK(e_ == HBLB_HB_OK && m_.ready == (__u32)(r) && m_.busy == (__u32)(b) && \
	      m_.port == (__u16)(pt),                                           \
	      "%s: got %s ready=%u busy=%u port=%u, want OK ready=%u busy=%u port=%u", \
	      show(buf, len), err_name(e_), m_.ready, m_.busy, m_.port,         \
	      (__u32)(r), (__u32)(b), (unsigned int)(pt));                      \
})
#define EXPECT_OK(lit, r, b, pt) EXPECT_OK_N(lit, sizeof(lit) - 1, r, b, pt)

/* ---- seed corpus ------------------------------------------------------------ */

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

/* Every *.bin seed is a valid heartbeat; apache-*.bin are the distinct
 * payloads of the capture and must also take the XDP fast path. */
static void test_corpus(const char *dir)
{
	int nfiles = 0, napache = 0;
	struct dirent *de;
	DIR *d;

	test_begin("capture corpus: every distinct Apache payload parses");
	d = opendir(dir);
	if (!CHECK(d, "corpus directory %s: %s (run from the repository root, or pass "
		   "the directory as the first argument)", dir, strerror(errno))) {
		test_end();
		return;
	}
	while ((de = readdir(d))) {
		struct hblb_hb_msg want, got;
		char path[4096];
		__u8 buf[2048];
		size_t len;
		FILE *f;
		int err;

		if (!ends_with(de->d_name, ".bin"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "rb");
		if (!CHECK(f, "%s: %s", path, strerror(errno)))
			continue;
		len = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		nfiles++;
		if (!CHECK(ref_parse(buf, len, &want) == 0,
			   "%s: %s is no valid heartbeat", path, show(buf, len)))
			continue;
		err = parse(buf, len, &got);
		CHECK(err == HBLB_HB_OK && got.ready == want.ready && got.busy == want.busy &&
		      got.port == want.port,
		      "%s: got %s ready=%u busy=%u port=%u, want OK ready=%u busy=%u port=%u",
		      path, err_name(err), got.ready, got.busy, got.port, want.ready,
		      want.busy, want.port);
		if (!strncmp(de->d_name, "apache-", 7)) {
			napache++;
			CHECK(last_fast == HBLB_HB_OK, "%s: %s misses the fast path", path,
			      show(buf, len));
		}
	}
	closedir(d);
	CHECK(napache > 0, "no apache-*.bin payloads in %s", dir);
	printf("# corpus %s: %d payloads, %d from the Apache capture\n", dir, nfiles, napache);
	test_end();
}

/* ---- unit cases ------------------------------------------------------------- */

static void test_inline_apache(void)
{
	test_begin("inline Apache payload v=1&ready=75&busy=0");
	EXPECT_OK("v=1&ready=75&busy=0", 75, 0, 0);
	CHECK(last_fast == HBLB_HB_OK, "Apache's own form misses the fast path");
	test_end();
}

static void test_field_order(void)
{
	static const char *const f[] = { "v=1", "ready=12", "busy=34" };
	static const int perm[6][3] = {
		{ 0, 1, 2 }, { 0, 2, 1 }, { 1, 0, 2 }, { 1, 2, 0 }, { 2, 0, 1 }, { 2, 1, 0 },
	};
	char buf[64];
	int i, n;

	test_begin("fields in any order (6 permutations)");
	for (i = 0; i < 6; i++) {
		n = snprintf(buf, sizeof(buf), "%s&%s&%s", f[perm[i][0]], f[perm[i][1]],
			     f[perm[i][2]]);
		EXPECT_OK_N(buf, n, 12, 34, 0);
	}
	test_end();
}

static void test_port(void)
{
	test_begin("port field");
	EXPECT_OK("v=1&ready=7&busy=3&port=80", 7, 3, 80);
	EXPECT_OK("port=80&busy=3&v=1&ready=7", 7, 3, 80);
	EXPECT_OK("v=1&ready=7&busy=3&port=1", 7, 3, 1);
	EXPECT_OK("v=1&ready=7&busy=3&port=65535", 7, 3, 65535);
	EXPECT_OK("v=1&ready=7&busy=3&port=00080", 7, 3, 80);
	EXPECT_OK("v=1&ready=7&busy=3", 7, 3, 0);          /* absent: 0, not stale */
	test_end();
}

static void test_port_range(void)
{
	test_begin("port 0 and 65536 rejected");
	EXPECT_ERR("v=1&ready=7&busy=3&port=0", HBLB_HB_BAD_VALUE);
	EXPECT_ERR("v=1&ready=7&busy=3&port=65536", HBLB_HB_BAD_VALUE);
	EXPECT_ERR("v=1&ready=7&busy=3&port=4294967295", HBLB_HB_BAD_VALUE);
	EXPECT_ERR("v=1&ready=7&busy=3&port=", HBLB_HB_BAD_VALUE);
	test_end();
}

static void test_unknown_fields(void)
{
	test_begin("unknown fields ignored");
	EXPECT_OK("v=1&ready=7&busy=3&foo=bar", 7, 3, 0);
	EXPECT_OK("foo=bar&v=1&ready=7&busy=3", 7, 3, 0);
	/* longer than the 8 key bytes the parser keeps */
	EXPECT_OK("v=1&averyveryverylongunknownkey=1&ready=7&busy=3", 7, 3, 0);
	EXPECT_OK("v=1&ready=7&xxxxxxxxxxxxready=9&busy=3", 7, 3, 0);
	EXPECT_OK("v=1&ready=7&busy=3&x=a=b==c", 7, 3, 0);
	EXPECT_OK("v=1&ready=7&busy=3&empty=", 7, 3, 0);
	EXPECT_OK("v=1&ready=7&busy=3&foo=1&foo=2", 7, 3, 0);  /* only known ones are unique */
	EXPECT_OK("v=1&ready=7&busy=3&k=!\"#$%'()*+,-./:;<>?@[\\]^_`{|}~", 7, 3, 0);
	test_end();
}

static void test_value_range(void)
{
	test_begin("values 0 and 4294967295");
	EXPECT_OK("v=1&ready=0&busy=0", 0, 0, 0);
	EXPECT_OK("v=1&ready=4294967295&busy=0", 4294967295u, 0, 0);
	EXPECT_OK("v=1&ready=0&busy=4294967295", 0, 4294967295u, 0);
	EXPECT_OK("v=1&ready=4294967295&busy=4294967295", 4294967295u, 4294967295u, 0);
	EXPECT_OK("busy=4294967295&ready=4294967295&v=1", 4294967295u, 4294967295u, 0);
	test_end();
}

static void test_value_overflow(void)
{
	test_begin("values over 2^32-1 rejected, no wrap");
	EXPECT_ERR("v=1&ready=4294967296&busy=0", HBLB_HB_BAD_VALUE);
	EXPECT_ERR("v=1&ready=0&busy=4294967296", HBLB_HB_BAD_VALUE);
	EXPECT_ERR("v=1&ready=99999999999999999999&busy=0", HBLB_HB_BAD_VALUE);
	EXPECT_ERR("v=1&ready=0&busy=99999999999999999999", HBLB_HB_BAD_VALUE);
	/* 2^64 + 5 would wrap a 64-bit accumulator to 5 */
	EXPECT_ERR("v=1&ready=18446744073709551621&busy=0", HBLB_HB_BAD_VALUE);
	EXPECT_ERR("v=4294967297&ready=0&busy=0", HBLB_HB_BAD_VALUE);
	test_end();
}

static void test_leading_zeros(void)
{
	test_begin("leading zeros");
	EXPECT_OK("v=001&ready=007&busy=000", 7, 0, 0);
	EXPECT_OK("v=1&ready=00000000000000000000004294967295&busy=0", 4294967295u, 0, 0);
	/* 11 digits: too many for the fast path, the general parser decides */
	EXPECT_OK("v=1&ready=00000000042&busy=00000000017", 42, 17, 0);
	test_end();
}

static void test_missing_field(void)
{
	test_begin("missing v, ready or busy");
	EXPECT_ERR("ready=7&busy=3", HBLB_HB_MISSING_FIELD);
	EXPECT_ERR("v=1&busy=3", HBLB_HB_MISSING_FIELD);
	EXPECT_ERR("v=1&ready=7", HBLB_HB_MISSING_FIELD);
	EXPECT_ERR("v=1", HBLB_HB_MISSING_FIELD);
	EXPECT_ERR("foo=bar", HBLB_HB_MISSING_FIELD);
	EXPECT_ERR("v=1&ready=7&port=80", HBLB_HB_MISSING_FIELD);
	test_end();
}

static void test_bad_version(void)
{
	test_begin("v other than 1");
	EXPECT_ERR("v=2&ready=7&busy=3", HBLB_HB_BAD_VERSION);
	EXPECT_ERR("v=0&ready=7&busy=3", HBLB_HB_BAD_VERSION);
	EXPECT_ERR("ready=7&busy=3&v=10", HBLB_HB_BAD_VERSION);
	EXPECT_ERR("v=4294967295&ready=7&busy=3", HBLB_HB_BAD_VERSION);
	test_end();
}

static void test_empty(void)
{
	test_begin("empty payload");
	EXPECT_ERR_N("", 0, HBLB_HB_EMPTY);
	test_end();
}

static void test_length_limit(void)
{
	static const char head[] = "v=1&ready=7&busy=3&pad=";
	static const char tail[] = "&v=1&ready=7&busy=3";
	char buf[HBLB_HB_MAX_PAYLOAD + 2];
	size_t h = sizeof(head) - 1, t = sizeof(tail) - 1;

	test_begin("1000 bytes accepted, 1001 too long");
	/* fields first, then an unknown field padding to the limit */
	memcpy(buf, head, h);
	memset(buf + h, 'x', sizeof(buf) - h);
	EXPECT_OK_N(buf, HBLB_HB_MAX_PAYLOAD, 7, 3, 0);
	EXPECT_ERR_N(buf, HBLB_HB_MAX_PAYLOAD + 1, HBLB_HB_TOO_LONG);
	/* padding first: the known fields are read in the last chunk */
	memcpy(buf, "pad=", 4);
	memset(buf + 4, 'x', HBLB_HB_MAX_PAYLOAD - 4 - t);
	memcpy(buf + HBLB_HB_MAX_PAYLOAD - t, tail, t);
	EXPECT_OK_N(buf, HBLB_HB_MAX_PAYLOAD, 7, 3, 0);
	/* too long is decided on the length alone */
	EXPECT_ERR_N(buf, HBLB_HB_MAX_PAYLOAD + 1, HBLB_HB_TOO_LONG);
	test_end();
}

/* Values that straddle the 64-byte chunk boundaries of the general parser. */
static void test_chunk_boundaries(void)
{
	char buf[256];
	int pad, n;

	test_begin("fields across chunk boundaries");
	for (pad = 0; pad <= 140; pad++) {
		n = snprintf(buf, sizeof(buf), "p=%*s&v=1&ready=1234567&busy=7654321&port=8080",
			     pad, "");
		memset(buf + 2, 'y', pad);
		EXPECT_OK_N(buf, n, 1234567, 7654321, 8080);
	}
	test_end();
}

static void test_non_ascii(void)
{
	test_begin("non-ASCII bytes 0x80 and 0xff");
	EXPECT_ERR("v=1&ready=7&busy=3&k\x80y=1", HBLB_HB_BAD_CHAR);
	EXPECT_ERR("v=1&ready=7&busy=3&k\xff" "y=1", HBLB_HB_BAD_CHAR);
	EXPECT_ERR("\x80=1&v=1&ready=7&busy=3", HBLB_HB_BAD_CHAR);
	EXPECT_ERR("v=1&ready=7&busy=3&foo=b\x80r", HBLB_HB_BAD_CHAR);
	EXPECT_ERR("v=1&ready=7&busy=3&foo=b\xff" "r", HBLB_HB_BAD_CHAR);
	/* in a known field's value: a bad byte, not merely a non-digit */
	EXPECT_ERR("v=1&ready=7\x80&busy=3", HBLB_HB_BAD_CHAR);
	EXPECT_ERR("v=1&ready=7&busy=\xff", HBLB_HB_BAD_CHAR);
	test_end();
}

static void test_control_chars(void)
{
	test_begin("control bytes, NUL and space");
	EXPECT_ERR("v=1&ready=7&busy=3\n", HBLB_HB_BAD_CHAR);
	EXPECT_ERR("v=1&ready=7&busy=3\r\n", HBLB_HB_BAD_CHAR);
	EXPECT_ERR("v=1&ready=7&busy=3\0", HBLB_HB_BAD_CHAR);
	EXPECT_ERR("v=1&ready=7\0&busy=3", HBLB_HB_BAD_CHAR);
	EXPECT_ERR("v=1&ready=7&busy=3&foo=a b", HBLB_HB_BAD_CHAR);
	EXPECT_ERR("v=1& ready=7&busy=3", HBLB_HB_BAD_CHAR);
	EXPECT_ERR(" v=1&ready=7&busy=3", HBLB_HB_BAD_CHAR);
	EXPECT_ERR("v=1&ready=7&busy=3&foo=\t", HBLB_HB_BAD_CHAR);
	EXPECT_ERR("v=1&ready=7&busy=3&foo=\x7f", HBLB_HB_BAD_CHAR);
	EXPECT_ERR("\0", HBLB_HB_BAD_CHAR);
	test_end();
}

static void test_bad_value(void)
{
	test_begin("empty or non-digit values");
	EXPECT_ERR("v=1&ready=&busy=3", HBLB_HB_BAD_VALUE);
	EXPECT_ERR("v=1&ready=7&busy=", HBLB_HB_BAD_VALUE);
	EXPECT_ERR("v=&ready=7&busy=3", HBLB_HB_BAD_VALUE);
	EXPECT_ERR("v=1&ready=1a&busy=3", HBLB_HB_BAD_VALUE);
	EXPECT_ERR("v=1&ready=a1&busy=3", HBLB_HB_BAD_VALUE);
	EXPECT_ERR("v=1&ready=+7&busy=3", HBLB_HB_BAD_VALUE);
	EXPECT_ERR("v=1&ready=-7&busy=3", HBLB_HB_BAD_VALUE);
	EXPECT_ERR("v=1&ready=7=7&busy=3", HBLB_HB_BAD_VALUE);
	EXPECT_ERR("v=1&ready==7&busy=3", HBLB_HB_BAD_VALUE);
	EXPECT_ERR("v=1&ready=0x10&busy=3", HBLB_HB_BAD_VALUE);
	EXPECT_ERR("v=1.0&ready=7&busy=3", HBLB_HB_BAD_VALUE);
	test_end();
}

static void test_syntax(void)
{
	test_begin("empty key, field without '=', misplaced '&'");
	EXPECT_ERR("=5", HBLB_HB_BAD_SYNTAX);
	EXPECT_ERR("v=1&ready=7&busy=3&=5", HBLB_HB_BAD_SYNTAX);
	EXPECT_ERR("v=1&ready=7&busy=3&x", HBLB_HB_BAD_SYNTAX);
	EXPECT_ERR("v=1&x&ready=7&busy=3", HBLB_HB_BAD_SYNTAX);
	EXPECT_ERR("v", HBLB_HB_BAD_SYNTAX);
	EXPECT_ERR("&v=1&ready=7&busy=3", HBLB_HB_BAD_SYNTAX);
	EXPECT_ERR("v=1&ready=7&busy=3&", HBLB_HB_BAD_SYNTAX);
	EXPECT_ERR("v=1&&ready=7&busy=3", HBLB_HB_BAD_SYNTAX);
	EXPECT_ERR("&", HBLB_HB_BAD_SYNTAX);
	EXPECT_ERR("=", HBLB_HB_BAD_SYNTAX);
	test_end();
}

static void test_duplicate(void)
{
	test_begin("known field given twice");
	EXPECT_ERR("v=1&ready=7&busy=3&ready=7", HBLB_HB_DUPLICATE_FIELD);
	EXPECT_ERR("v=1&ready=7&busy=3&busy=4", HBLB_HB_DUPLICATE_FIELD);
	EXPECT_ERR("v=1&v=1&ready=7&busy=3", HBLB_HB_DUPLICATE_FIELD);
	EXPECT_ERR("v=1&ready=7&busy=3&port=80&port=80", HBLB_HB_DUPLICATE_FIELD);
	test_end();
}

static void test_key_lookalikes(void)
{
	test_begin("key lookalikes are unknown fields");
	EXPECT_ERR("v=1&readyx=1&busy=3", HBLB_HB_MISSING_FIELD);
	EXPECT_ERR("v=1&xready=1&busy=3", HBLB_HB_MISSING_FIELD);
	EXPECT_ERR("v=1&Ready=1&busy=3", HBLB_HB_MISSING_FIELD);
	EXPECT_ERR("v=1&READY=1&busy=3", HBLB_HB_MISSING_FIELD);
	EXPECT_ERR("v=1&read=1&busy=3", HBLB_HB_MISSING_FIELD);
	EXPECT_ERR("v=1&ready=1&bus=3", HBLB_HB_MISSING_FIELD);
	EXPECT_ERR("v=1&ready=1&busyy=3", HBLB_HB_MISSING_FIELD);
	EXPECT_ERR("vv=1&ready=1&busy=3", HBLB_HB_MISSING_FIELD);
	EXPECT_ERR("V=1&ready=1&busy=3", HBLB_HB_MISSING_FIELD);
	/* 8 key bytes kept: a 13-byte key ending in "ready" is not ready */
	EXPECT_ERR("v=1&xxxxxxxxready=1&busy=3", HBLB_HB_MISSING_FIELD);
	/* so lookalikes may hold anything an unknown field may */
	EXPECT_OK("v=1&ready=1&busy=3&Ready=x&readyx=y&portx=0", 1, 3, 0);
	test_end();
}

/* The payload ends at len even when the bytes after it are readable (in XDP,
 * end is data_end and Ethernet padding may follow the UDP payload). */
static void test_beyond_len(void)
{
	static const char buf[] = "v=1&ready=5&busy=19&port=80";
	const __u8 *p = (const __u8 *)buf;
	struct hblb_hb_msg m = { 0 }, fm = { 0 };
	int err, fast;

	test_begin("bytes after len are not part of the payload");
	err = hblb_hb_parse(p, 18, &m);
	CHECK(err == HBLB_HB_OK && m.ready == 5 && m.busy == 1 && m.port == 0,
	      "general parser: %s ready=%u busy=%u port=%u", err_name(err), m.ready, m.busy,
	      m.port);
	fast = hb_parse_canonical(p, p + sizeof(buf) - 1, 18, &fm);
	CHECK(fast == HBLB_HB_OK && fm.ready == 5 && fm.busy == 1 && fm.port == 0,
	      "fast path with end past len: %d ready=%u busy=%u", fast, fm.ready, fm.busy);
	/* "...busy=1&" : the '&' is outside the payload, so no trailing '&' */
	EXPECT_OK_N(buf, 18, 5, 1, 0);
	/* shorter cuts: nothing past len completes the payload */
	EXPECT_ERR_N(buf, 11, HBLB_HB_MISSING_FIELD);
	EXPECT_ERR_N(buf, 16, HBLB_HB_BAD_SYNTAX);
	EXPECT_ERR_N(buf, 17, HBLB_HB_BAD_VALUE);
	fast = hb_parse_canonical(p, p + sizeof(buf) - 1, 17, &fm);
	CHECK_EQ(fast, -1);
	test_end();
}

/* The fast path takes exactly Apache's form and leaves the rest to the
 * general parser (parse() checks that they agree). */
static void test_fast_path(void)
{
	static const struct {
		const char *s;
		int fast;
	} c[] = {
		{ "v=1&ready=0&busy=0", HBLB_HB_OK },
		{ "v=1&ready=4294967295&busy=4294967295", HBLB_HB_OK },
		{ "v=1&ready=4294967296&busy=0", -1 },
		{ "v=1&ready=0&busy=4294967296", -1 },
		{ "v=1&ready=0&busy=9999999999", -1 },
		{ "v=1&ready=12345678901&busy=0", -1 },
		{ "v=1&ready=7&busy=3&port=80", -1 },
		{ "v=1&ready=7&busy=3&", -1 },
		{ "v=1&ready=7&busy=", -1 },
		{ "v=1&ready=&busy=3", -1 },
		{ "v=1&ready=7&busx=3", -1 },
		{ "v=1&ready=7&busy=3x", -1 },
		{ "v=1&ready=7x&busy=3", -1 },
		{ "v=01&ready=7&busy=3", -1 },
		{ "busy=3&ready=7&v=1", -1 },
	};
	struct hblb_hb_msg m;
	size_t i;

	test_begin("fast path takes Apache's form only");
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		parse(c[i].s, strlen(c[i].s), &m);
		CHECK(last_fast == c[i].fast, "%s: fast path %d, want %d",
		      show(c[i].s, strlen(c[i].s)), last_fast, c[i].fast);
	}
	test_end();
}

/* ---- property test ----------------------------------------------------------- */

static __u64 rng = 0x2545f4914f6cdd1dull;       /* fixed seed: reproducible */

static __u64 xorshift64(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static __u32 below(__u32 n)
{
	return xorshift64() % n;
}

static const char alphabet[] = "v=&readybusport0123456789";

/* Bytes biased toward the grammar's own, with some of any value. */
static size_t gen_soup(__u8 *buf)
{
	size_t len = below(2) ? below(MAX_GEN + 1) : below(41), i;

	for (i = 0; i < len; i++)
		buf[i] = below(8) ? (__u8)alphabet[below(sizeof(alphabet) - 1)] : below(256);
	return len;
}

static size_t put_digits(char *o, size_t room)
{
	switch (below(6)) {
	case 0:
		return snprintf(o, room, "%u", (unsigned int)below(200));
	case 1:
		return snprintf(o, room, "%u", (__u32)xorshift64());
	case 2:         /* around 2^32 */
		return snprintf(o, room, "%llu", 4294967290ull + below(12));
	case 3:         /* leading zeros */
		return snprintf(o, room, "%0*u", (int)below(14), (unsigned int)below(100));
	case 4:         /* far too long */
		return snprintf(o, room, "%llu%llu", (unsigned long long)xorshift64(),
				(unsigned long long)xorshift64());
	default:
		return snprintf(o, room, "%u", (unsigned int)below(70000));
	}
}

/* An auth value: mostly 16 lowercase hex digits, else near misses. */
static size_t put_tag(char *o, size_t room)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = below(4) ? 16 : 14 + below(5), i;

	if (n + 1 > room)
		return 0;
	for (i = 0; i < n; i++)
		o[i] = hex[below(16)];
	if (!below(8))
		o[below(n)] = "AFgz"[below(4)];
	return n;
}

/* Field kinds of gen_fields(): the known keys, short and long unknowns. */
enum { G_V, G_READY, G_BUSY, G_PORT, G_SEQ, G_AUTH, G_UNKNOWN, G_LONG };

/* Fields with known and unknown keys, so that OK and every error are common:
 * mostly v, ready and busy once each in any order (values sometimes out of
 * range), else any mix; a quarter then get byte mutations. */
static size_t gen_fields(__u8 *buf)
{
	static const char *const known[] = { "v", "ready", "busy", "port", "seq", "auth" };
	int kinds[10], nf = 0, i, j, t;
	char out[4096];
	size_t o = 0, len;

	if (below(4)) {
		kinds[nf++] = G_V;
		kinds[nf++] = G_READY;
		kinds[nf++] = G_BUSY;
		if (!below(3))
			kinds[nf++] = G_PORT;
		for (j = below(3); j > 0; j--)
			kinds[nf++] = below(8) ? G_UNKNOWN : G_LONG;
		for (i = nf - 1; i > 0; i--) {  /* Fisher-Yates */
			j = below(i + 1);
			t = kinds[i];
			kinds[i] = kinds[j];
			kinds[j] = t;
		}
		/* a quarter authenticated: seq, then auth last (or misplaced) */
		if (!below(4)) {
			kinds[nf++] = G_SEQ;
			kinds[nf++] = G_AUTH;
			if (!below(8)) {
				t = kinds[nf - 1];
				kinds[nf - 1] = kinds[0];
				kinds[0] = t;
			}
		}
	} else {
		static const int mix[12] = { G_V, G_V, G_READY, G_READY, G_BUSY, G_BUSY,
					     G_PORT, G_SEQ, G_AUTH, G_UNKNOWN, G_UNKNOWN, G_LONG };

		for (nf = below(7), i = 0; i < nf; i++)
			kinds[i] = mix[below(12)];
	}
	for (i = 0; i < nf && o < 3000; i++) {	/* room for one more field */
		if (i)
			out[o++] = '&';
		if (kinds[i] < G_UNKNOWN) {
			o += snprintf(out + o, sizeof(out) - o, "%s=", known[kinds[i]]);
			if (kinds[i] == G_V && below(4))
				out[o++] = '1';
			else if (kinds[i] == G_AUTH)
				o += put_tag(out + o, sizeof(out) - o);
			else if (kinds[i] == G_SEQ && below(2))
				o += snprintf(out + o, sizeof(out) - o, "%llu",
					      (unsigned long long)(xorshift64() >> below(64)));
			else
				o += put_digits(out + o, sizeof(out) - o);
		} else {
			int klen = 1 + below(kinds[i] == G_LONG ? 12 : 4);
			int vlen = below(kinds[i] == G_LONG ? 990 : 12);

			for (j = 0; j < klen; j++) {
				char c = alphabet[below(sizeof(alphabet) - 1)];

				out[o++] = c == '=' || c == '&' ? 'k' : c;
			}
			out[o++] = '=';
			for (j = 0; j < vlen; j++) {
				char c = 0x21 + below(0x7f - 0x21);

				out[o++] = c == '&' ? '=' : c;
			}
		}
	}
	len = o;
	/* a quarter get one to three byte mutations */
	if (len && !below(4)) {
		int n = 1 + below(3);

		for (i = 0; i < n; i++) {
			size_t at = below(len);

			switch (below(3)) {
			case 0:
				out[at] = below(2) ? (__u8)alphabet[below(sizeof(alphabet) - 1)] :
						   below(256);
				break;
			case 1:         /* delete */
				memmove(out + at, out + at + 1, len - at - 1);
				len--;
				break;
			default:        /* insert */
				memmove(out + at + 1, out + at, len - at);
				out[at] = alphabet[below(sizeof(alphabet) - 1)];
				len++;
				break;
			}
			if (!len)
				break;
		}
	}
	if (len > MAX_GEN)
		len = MAX_GEN;
	memcpy(buf, out, len);
	return len;
}

static void test_property(void)
{
	static const int runs = 200000;
	int results[HB_ERR_LAST + 1] = { 0 }, bad = 0, i, e;
	__u8 buf[MAX_GEN];

	test_begin("property: 200000 random payloads");
	for (i = 0; i < runs && bad < 10; i++) {
		size_t len = i & 1 ? gen_fields(buf) : gen_soup(buf);
		struct hblb_hb_msg m, m2, ref;
		int err, rerr, ok = 1;
		char again[64];
		int n;

		err = parse(buf, len, &m);
		if (!CHECK(err == HBLB_HB_OK || (err >= HB_ERR_FIRST && err <= HB_ERR_LAST),
			   "%s: returned %d", show(buf, len), err)) {
			bad++;
			continue;
		}
		results[err]++;
		ok &= CHECK((err == HBLB_HB_EMPTY) == (len == 0), "%s: %s", show(buf, len),
			    err_name(err));
		ok &= CHECK((err == HBLB_HB_TOO_LONG) == (len > HBLB_HB_MAX_PAYLOAD), "%s: %s",
			    show(buf, len), err_name(err));
		rerr = ref_parse(buf, len, &ref);
		ok &= CHECK((err == HBLB_HB_OK) == (rerr == 0),
			    "%s: parser says %s, the reference grammar %s", show(buf, len),
			    err_name(err), rerr ? "invalid" : "valid");
		if (err == HBLB_HB_OK) {
			ok &= CHECK(memmem(buf, len, "v=", 2) && memmem(buf, len, "ready=", 6) &&
				    memmem(buf, len, "busy=", 5), "%s accepted", show(buf, len));
			if (rerr == 0)
				ok &= CHECK(m.ready == ref.ready && m.busy == ref.busy &&
					    m.port == ref.port,
					    "%s: ready=%u busy=%u port=%u, reference %u %u %u",
					    show(buf, len), m.ready, m.busy, m.port, ref.ready,
					    ref.busy, ref.port);
			/* Apache's form of the same values parses back to them */
			n = snprintf(again, sizeof(again), "v=1&ready=%u&busy=%u", m.ready, m.busy);
			e = parse(again, n, &m2);
			ok &= CHECK(e == HBLB_HB_OK && m2.ready == m.ready && m2.busy == m.busy &&
				    m2.port == 0 && last_fast == HBLB_HB_OK,
				    "%s: %s ready=%u busy=%u fast %d", again, err_name(e),
				    m2.ready, m2.busy, last_fast);
		}
		if (!ok)
			bad++;
	}
	CHECK(bad == 0, "%d failing payloads (gives up at 10)", bad);
	printf("# %d payloads:", i);
	for (e = 0; e <= HB_ERR_LAST; e++)
		if (results[e])
			printf(" %s %d", err_name(e), results[e]);
	printf("\n");
	/* the generator must reach the interesting outcomes, or the test is weak */
	CHECK(results[HBLB_HB_OK] > runs / 50, "only %d accepted", results[HBLB_HB_OK]);
	for (e = HB_ERR_FIRST; e <= HB_ERR_LAST; e++)
		CHECK(results[e] > 0, "never saw %s", err_name(e));
	test_end();
}

int main(int argc, char **argv)
{
	test_corpus(argc > 1 ? argv[1] : "tests/corpus/hb");
	test_inline_apache();
	test_field_order();
	test_port();
	test_port_range();
	test_unknown_fields();
	test_value_range();
	test_value_overflow();
	test_leading_zeros();
	test_missing_field();
	test_bad_version();
	test_empty();
	test_length_limit();
	test_chunk_boundaries();
	test_non_ascii();
	test_control_chars();
	test_bad_value();
	test_syntax();
	test_duplicate();
	test_key_lookalikes();
	test_beyond_len();
	test_fast_path();
	test_property();
	return test_summary("hb_parse");
}
