// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Host tests of authenticated heartbeats: SipHash-2-4 against the 64
 * reference vectors of the SipHash paper (key 00..0f, messages 00, 00 01,
 * ...), the block-by-block form the XDP program runs (stale bytes after
 * the message must not matter), the parser's seq and auth fields, key
 * parsing, and the sender's message checked the way XDP checks it.
 * No BPF, no root.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "testing.h"
#include "hb_parse.h"
#include "auth.h"
#include "log.h"

/* vectors_sip64 of the reference implementation, each tag printed octet by
 * octet, least significant first */
static const char *const sip64_vectors[64] = {
	"310e0edd47db6f72", "fd67dc93c539f874", "5a4fa9d909806c0d", "2d7efbd796666785",
	"b7877127e09427cf", "8da699cd64557618", "cee3fe586e46c9cb", "37d1018bf50002ab",
	"6224939a79f5f593", "b0e4a90bdf82009e", "f3b9dd94c5bb5d7a", "a7ad6b22462fb3f4",
	"fbe50e86bc8f1e75", "903d84c02756ea14", "eef27a8e90ca23f7", "e545be4961ca29a1",
	"db9bc2577fcc2a3f", "9447be2cf5e99a69", "9cd38d96f0b3c14b", "bd6179a71dc96dbb",
	"98eea21af25cd6be", "c7673b2eb0cbf2d0", "883ea3e395675393", "c8ce5ccd8c030ca8",
	"94af49f6c650adb8", "eab8858ade92e1bc", "f315bb5bb835d817", "adcf6b0763612e2f",
	"a5c91da7acaa4dde", "716595876650a2a6", "28ef495c53a387ad", "42c341d8fa92d832",
	"ce7cf2722f512771", "e37859f94623f3a7", "381205bb1ab0e012", "ae97a10fd434e015",
	"b4a31508beff4d31", "81396229f0907902", "4d0cf49ee5d4dcca", "5c73336a76d8bf9a",
	"d0a704536ba93e0e", "925958fcd6420cad", "a915c29bc8067318", "952b79f3bc0aa6d4",
	"f21df2e41d4535f9", "87577519048f53a9", "10a56cf5dfcd9adb", "eb75095ccd986cd0",
	"51a9cb9ecba312e6", "96afadfc2ce666c7", "72fe52975a4364ee", "5a1645b276d592a1",
	"b274cb8ebf87870a", "6f9bb4203de7b381", "eaecb2a30b22a87f", "9924a43cc1315724",
	"bd838d3aafbf8db7", "0b1a2a3265d51aea", "135079a3231ce660", "932b2846e4d70666",
	"e1915f5cb1eca46c", "f325965ca16d629f", "575ff28e60381be5", "724506eb4c328a95",
};

static void test_siphash_vectors(void)
{
	__u8 key[16], msg[64];
	__u64 k0, k1;
	int bad = 0;

	test_begin("SipHash-2-4: the paper's 64 reference vectors");
	for (int i = 0; i < 16; i++)
		key[i] = i;
	sip_key(key, &k0, &k1);
	for (int len = 0; len < 64; len++) {
		__u64 tag, want = 0;
		char hex[17];

		msg[len] = len;
		tag = hb_siphash24(k0, k1, msg, len);
		/* the vector's octets are the tag little endian */
		for (int b = 0; b < 8; b++)
			snprintf(hex + 2 * b, 3, "%02x", (unsigned int)(tag >> (8 * b)) & 0xff);
		if (!CHECK(!strcmp(hex, sip64_vectors[len]), "length %d: %s, want %s", len, hex,
			   sip64_vectors[len]))
			bad++;
		for (int b = 7; b >= 0; b--) {
			unsigned int o;

			sscanf(sip64_vectors[len] + 2 * b, "%2x", &o);
			want = want << 8 | o;
		}
		CHECK(tag == want, "length %d", len);
	}
	CHECK(bad == 0, "%d of 64 vectors differ", bad);
	test_end();
}

/* What hb_tag() in hblb.bpf.c does, on the same scratch layout: blocks
 * read whole from auth_hdr + buf, the last one read whole and masked. */
static __u64 xdp_style_tag(struct hb_scratch *sc, __u64 k0, __u64 k1, __u32 n)
{
	__u32 blocks = n / 8;
	__u64 m;

	sip_init(&sc->sip, k0, k1);
	for (__u32 i = 0; i < blocks; i++) {
		memcpy(&m, sc->auth_hdr + (i & 127) * 8, 8);
		sip_block(&sc->sip, m);
	}
	memcpy(&m, sc->auth_hdr + (blocks & 127) * 8, 8);
	return sip_final(&sc->sip, m & sip_tail_mask(n & 7), n);
}

static void test_block_form(void)
{
	static struct hb_scratch sc;
	__u8 key[16], ref[8 + HBLB_HB_MAX_PAYLOAD];
	__u64 k0, k1;
	int bad = 0;

	test_begin("the XDP block form equals SipHash for every length, stale bytes after");
	for (int i = 0; i < 16; i++)
		key[i] = 0xa0 + i;
	sip_key(key, &k0, &k1);
	for (__u32 n = 0; n <= 8 + HBLB_HB_MAX_PAYLOAD && bad < 5; n++) {
		/* garbage from an earlier, longer packet after the message */
		memset(sc.auth_hdr, 0xee, sizeof(sc.auth_hdr));
		memset(sc.buf, 0x5a + n, sizeof(sc.buf));
		for (__u32 i = 0; i < n; i++) {
			__u8 b = (__u8)(i * 7 + 3);

			if (i < 8)
				sc.auth_hdr[i] = b;
			else
				sc.buf[i - 8] = b;
			ref[i] = b;
		}
		if (!CHECK(xdp_style_tag(&sc, k0, k1, n) == hb_siphash24(k0, k1, ref, n),
			   "length %u", n))
			bad++;
	}
	test_end();
}

static int parse(const char *s, struct hblb_hb_msg *m)
{
	memset(m, 0xa5, sizeof(*m));
	return hblb_hb_parse((const __u8 *)s, strlen(s), m);
}

static void test_parse_fields(void)
{
	struct hblb_hb_msg m;

	test_begin("parser: seq and auth fields");
	CHECK_EQ(parse("v=1&ready=75&busy=0&seq=123&auth=0123456789abcdef", &m), HBLB_HB_OK);
	CHECK(m.seq == 123 && m.tag == 0x0123456789abcdefull && m.ready == 75 && m.busy == 0 &&
	      (m.seen & HB_SEEN_AUTH) && (m.seen & HB_SEEN_SEQ), "seq %llu tag %llx",
	      (unsigned long long)m.seq, (unsigned long long)m.tag);
	CHECK_EQ(parse("v=1&ready=1&busy=2&seq=9999999999999999999&auth=ffffffffffffffff", &m),
		 HBLB_HB_OK);
	CHECK(m.seq == 9999999999999999999ull && m.tag == ~0ull, "largest seq and tag");
	/* a plain heartbeat: no seq, no auth */
	CHECK_EQ(parse("v=1&ready=5&busy=0", &m), HBLB_HB_OK);
	CHECK(m.seq == 0 && !(m.seen & (HB_SEEN_AUTH | HB_SEEN_SEQ)), "plain");
	/* seq alone is fine (an unkeyed receiver ignores it) */
	CHECK_EQ(parse("v=1&ready=5&busy=0&seq=7", &m), HBLB_HB_OK);
	/* malformed tags: truncated, too long, uppercase, not hex, empty */
	CHECK_EQ(parse("v=1&ready=1&busy=0&seq=5&auth=0123456789abcde", &m), HBLB_HB_AUTH_MALFORMED);
	CHECK_EQ(parse("v=1&ready=1&busy=0&seq=5&auth=0123456789abcdef0", &m), HBLB_HB_AUTH_MALFORMED);
	CHECK_EQ(parse("v=1&ready=1&busy=0&seq=5&auth=0123456789ABCDEF", &m), HBLB_HB_AUTH_MALFORMED);
	CHECK_EQ(parse("v=1&ready=1&busy=0&seq=5&auth=0123456789abcdeg", &m), HBLB_HB_AUTH_MALFORMED);
	CHECK_EQ(parse("v=1&ready=1&busy=0&seq=5&auth=", &m), HBLB_HB_AUTH_MALFORMED);
	/* auth not last, twice, or without seq */
	CHECK_EQ(parse("v=1&ready=1&seq=5&auth=0123456789abcdef&busy=0", &m), HBLB_HB_AUTH_MALFORMED);
	CHECK_EQ(parse("v=1&ready=1&busy=0&seq=5&auth=0123456789abcdef&auth=0123456789abcdef", &m),
		 HBLB_HB_AUTH_MALFORMED);
	CHECK_EQ(parse("v=1&ready=1&busy=0&auth=0123456789abcdef", &m), HBLB_HB_AUTH_MALFORMED);
	CHECK_EQ(parse("v=1&ready=1&busy=0&seq=5&auth=0123456789abcdef&", &m), HBLB_HB_BAD_SYNTAX);
	/* seq: not 0, at most 19 digits, digits only, once */
	CHECK_EQ(parse("v=1&ready=1&busy=0&seq=0&auth=0123456789abcdef", &m), HBLB_HB_BAD_VALUE);
	CHECK_EQ(parse("v=1&ready=1&busy=0&seq=10000000000000000000&auth=0123456789abcdef", &m),
		 HBLB_HB_BAD_VALUE);
	CHECK_EQ(parse("v=1&ready=1&busy=0&seq=12x&auth=0123456789abcdef", &m), HBLB_HB_BAD_VALUE);
	CHECK_EQ(parse("v=1&ready=1&busy=0&seq=&auth=0123456789abcdef", &m), HBLB_HB_BAD_VALUE);
	CHECK_EQ(parse("v=1&seq=4&ready=1&busy=0&seq=5&auth=0123456789abcdef", &m),
		 HBLB_HB_DUPLICATE_FIELD);
	/* lookalike keys stay unknown fields */
	CHECK_EQ(parse("v=1&ready=1&busy=0&sequ=x&authx=y&aut=z", &m), HBLB_HB_OK);
	test_end();
}

static void test_key_parse(void)
{
	__u8 key[16];

	test_begin("keys: 32 hex digits, white space around, nothing else");
	CHECK_EQ(auth_key_parse("000102030405060708090a0b0c0d0e0f", "k", key), 0);
	CHECK(key[0] == 0 && key[15] == 15, "bytes in order");
	CHECK_EQ(auth_key_parse("  000102030405060708090A0B0C0D0E0F\n", "k", key), 0);
	CHECK(key[10] == 10, "uppercase");
	CHECK_EQ(auth_key_parse("000102030405060708090a0b0c0d0e0", "k", key), -EINVAL);
	CHECK_EQ(auth_key_parse("000102030405060708090a0b0c0d0e0f0", "k", key), -EINVAL);
	CHECK_EQ(auth_key_parse("000102030405060708090a0b0c0d0e0g", "k", key), -EINVAL);
	CHECK_EQ(auth_key_parse("000102030405060708090a0b0c0d0e0f 00", "k", key), -EINVAL);
	CHECK_EQ(auth_key_parse("", "k", key), -EINVAL);
	test_end();
}

static void test_key_file(void)
{
	char path[] = "/tmp/hblb-test-key-XXXXXX";
	__u8 key[16];
	int fd = mkstemp(path);

	test_begin("key file: read, refused when malformed or absent");
	if (!CHECK(fd >= 0, "mkstemp: %s", strerror(errno))) {
		test_end();
		return;
	}
	CHECK(write(fd, "ffeeddccbbaa99887766554433221100\n", 33) == 33, "write");
	CHECK_EQ(auth_key_read_file(path, key), 0);
	CHECK(key[0] == 0xff && key[15] == 0x00, "bytes");
	CHECK(ftruncate(fd, 10) == 0, "truncate");
	CHECK_EQ(auth_key_read_file(path, key), -EINVAL);
	close(fd);
	unlink(path);
	CHECK_EQ(auth_key_read_file(path, key), -ENOENT);
	test_end();
}

/* The message hblb beat sends, checked as hb_authenticate() does. */
static void test_message(void)
{
	__u8 key[16], other[16];
	__be32 saddr = htonl(0xc6120b0b), addr2 = htonl(0xc6120b0c);
	char out[160], fp1[17], fp2[17];
	struct hblb_hb_msg m;
	size_t n;
	int len;

	test_begin("sender's message: parses, tag over address and message, key-bound");
	for (int i = 0; i < 16; i++) {
		key[i] = i * 17;
		other[i] = i * 17 + 1;
	}
	len = auth_message(out, sizeof(out), 75, 3, 1700000000123456ull, key, saddr);
	CHECK(len > 0 && !strncmp(out, "v=1&ready=75&busy=3&seq=1700000000123456&auth=",
				  strlen("v=1&ready=75&busy=3&seq=1700000000123456&auth=")), "%s", out);
	CHECK_EQ(parse(out, &m), HBLB_HB_OK);
	n = len - HBLB_AUTH_TAIL_LEN - HBLB_AUTH_TAG_HEX;
	CHECK(!strncmp(out + n, HBLB_AUTH_TAIL, HBLB_AUTH_TAIL_LEN), "tail at len - 22");
	CHECK(m.tag == auth_tag(key, saddr, out, n), "tag matches");
	CHECK(m.tag != auth_tag(other, saddr, out, n), "another key gives another tag");
	CHECK(m.tag != auth_tag(key, addr2, out, n), "another address gives another tag");
	CHECK(m.seq == 1700000000123456ull && m.ready == 75 && m.busy == 3, "values");
	/* the longest message fits mod_heartbeat's limits and beat's buffer */
	len = auth_message(out, sizeof(out), ~0u, ~0u, 9999999999999999999ull, key, saddr);
	CHECK(len > 0 && len < 128, "longest message %d bytes", len);
	CHECK_EQ(parse(out, &m), HBLB_HB_OK);
	CHECK_EQ(auth_message(out, 40, 1, 1, 1, key, saddr), -ENOSPC);
	auth_key_fingerprint(key, fp1);
	auth_key_fingerprint(other, fp2);
	CHECK(strlen(fp1) == 16 && strcmp(fp1, fp2), "fingerprints %s %s", fp1, fp2);
	test_end();
}

static __u64 rnd_state = 0x9e3779b97f4a7c15ull;

static __u64 rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* The XDP fast path for the authenticated form reads a copy of the payload
 * in the scratch buffer, bytes of earlier packets after it. */
static int fast_auth(const char *p, size_t len, struct hblb_hb_msg *m)
{
	static __u8 buf[HB_BUF_LEN + 8];

	memset(buf, '7', sizeof(buf));          /* digits after the payload must not count */
	memcpy(buf, p, len < sizeof(buf) ? len : sizeof(buf));
	memset(m, 0x5a, sizeof(*m));
	return hb_parse_canonical_auth(buf, len, m);
}

static void test_fast_auth(void)
{
	static const char *const refused[] = {
		"v=1&ready=1&busy=0&seq=5&auth=0123456789abcde",          /* truncated tag */
		"v=1&ready=1&busy=0&seq=5&auth=0123456789abcdef0",
		"v=1&ready=1&busy=0&seq=5&auth=0123456789ABCDEF",
		"v=1&ready=1&busy=0&seq=0&auth=0123456789abcdef",
		"v=1&ready=1&busy=0&seq=10000000000000000000&auth=0123456789abcdef",
		"v=1&ready=4294967296&busy=0&seq=5&auth=0123456789abcdef",
		"v=1&ready=1&busy=0&port=80&seq=5&auth=0123456789abcdef", /* other fields */
		"v=1&busy=0&ready=1&seq=5&auth=0123456789abcdef",         /* other order */
		"v=1&ready=&busy=0&seq=5&auth=0123456789abcdef",
		"v=1&ready=1&busy=0&auth=0123456789abcdef",
		"v=1&ready=75&busy=0",
	};
	__u8 key[16] = { 9 };
	struct hblb_hb_msg m, g;
	char msg[200];
	int bad = 0, accepted = 0;

	test_begin("authenticated fast path: hblb beat's form only, agrees with the general parser");
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
		CHECK(fast_auth(refused[i], strlen(refused[i]), &m) == -1, "accepted %s", refused[i]);
	for (int run = 0; run < 200000 && bad < 5; run++) {
		int len = auth_message(msg, sizeof(msg), (__u32)rnd() >> (rnd() & 31),
				       (__u32)rnd() >> (rnd() & 31), (rnd() >> (rnd() & 63)) | 1,
				       key, htonl(0xc6120b0b));
		int f, e;

		if (run & 1) {          /* one to three byte mutations */
			for (int k = 1 + rnd() % 3; k > 0 && len > 1; k--) {
				int at = rnd() % len;

				switch (rnd() % 3) {
				case 0: msg[at] = "0123456789abcdef&=xA"[rnd() % 20]; break;
				case 1: memmove(msg + at, msg + at + 1, len - at); len--; break;
				default:
					memmove(msg + at + 1, msg + at, len - at + 1);
					msg[at] = "0123456789&"[rnd() % 11];
					len++;
				}
			}
		}
		f = fast_auth(msg, len, &m);
		e = hblb_hb_parse((const __u8 *)msg, len, &g);
		if (f != HBLB_HB_OK)
			continue;
		accepted++;
		if (!CHECK(e == HBLB_HB_OK && g.ready == m.ready && g.busy == m.busy &&
			   g.seq == m.seq && g.tag == m.tag && g.port == 0 &&
			   (g.seen & HB_SEEN_AUTH) && (g.seen & HB_SEEN_SEQ) &&
			   memchr(msg, '&', len) && len <= HB_AUTH_FORM_MAX_LEN,
			   "%.*s: fast path accepts, general parser %d", len, msg, e))
			bad++;
	}
	CHECK(accepted > 100000, "only %d accepted", accepted);
	test_end();
}

int main(void)
{
	log_init(0);
	test_siphash_vectors();
	test_block_form();
	test_parse_fields();
	test_key_parse();
	test_key_file();
	test_message();
	test_fast_auth();
	return test_summary("auth");
}
