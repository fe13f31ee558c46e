// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target: the whole XDP program (bpf/hblb.bpf.c with
 * bpf/parsing.h and bpf/hb_parse.h), compiled unchanged for the host through
 * a stand-in <bpf/bpf_helpers.h> (tests/fuzz_shim), with AddressSanitizer
 * and UndefinedBehaviorSanitizer, on host maps set up as a small but
 * complete load balancer.
 *
 * Input: one flag byte, then the frame. Flags: bit 0 pass heartbeats,
 * bit 1 frame arrives on an interface hblb is not enabled on, bit 2 take
 * backend 0 down before the second run, bit 3 GTSM on, bit 4 the keys
 * withdrawn (their entries hold no key, as while the controller clears
 * one), bit 5 every real's last accepted sequence number starts at
 * SEQ_HIGH instead of 0. Each frame runs twice from the same bytes (a new
 * flow, then its pinned flow or a re-steer; a signed heartbeat accepted
 * in the first run is a replay in the second).
 *
 * Reals: 0 without a key (plain and signed heartbeats as the parser
 * allows), 1 with the global key (KEY_A), 2 with service 0's key during a
 * rollover (KEY_B current, KEY_A previous). tests/fuzz_seeds.c signs its
 * seed heartbeats with the same keys.
 *
 * Per run, every breach aborts (a finding):
 *  - the frame lives in a heap block of exactly its size: ASan catches any
 *    access outside it; the parsers' cursors and l4_end stay within it;
 *  - the verdict is XDP_PASS, XDP_DROP or XDP_TX, exactly one verdict
 *    reason counts one, and it names that verdict;
 *  - the reason is the one an independent classifier (ref_classify, plain
 *    offsets, no shared code) predicts for the headers;
 *  - a heartbeat's detail reasons are the reference's (hb_expect): from
 *    a configured real, with TTL 255 if GTSM is on; from a real without a
 *    key, accepted exactly when the reference grammar accepts it; from a
 *    real with a key, accepted only in the signed form (ref_auth_form)
 *    with a tag (an independent SipHash, hb_ref.h) of the current or
 *    previous key and a seq above the last accepted, refused with
 *    AUTH_MISSING, AUTH_MALFORMED, AUTH_BAD or REPLAY by the README's
 *    rules; an accepted heartbeat sets the real's record to the
 *    reference's values, and (with a key) its last sequence number to its
 *    seq; nothing else changes a record or a sequence number;
 *  - only a forwarded new or re-steered flow writes the flow table, one way
 *    of its own bucket; no run writes services, backends or tables;
 *  - a forwarded frame differs from the input only in its two MACs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf_helpers.h>
#include "hb_parse.h"

#include "hblb.bpf.c"
#include "hb_ref.h"
#include "frame_ref.h"

#define FAIL(...) do { fprintf(stderr, "fuzz_xdp: " __VA_ARGS__); fputc('\n', stderr); abort(); } while (0)

/* ---- host maps ------------------------------------------------------------- */

struct host_map {
	void *def;
	const char *name;
	__u32 type, key_size, value_size, max_entries, used;
	__u8 *keys, *values;
};

#define MAP_TYPE(m)    (sizeof(*(m).type) / sizeof(int))
#define MAP_ENTRIES(m) (sizeof(*(m).max_entries) / sizeof(int))
/* `entries` overrides the declared size as the loader does at load time */
#define HOST_MAP(m, entries) { &(m), #m, MAP_TYPE(m), sizeof(*(m).key), sizeof(*(m).value), \
			       (entries) ? (entries) : MAP_ENTRIES(m), 0, NULL, NULL }

#define TABLE_SIZE   13
#define FLOW_BUCKETS 16
#define MAX_SERVICES 4
#define CHUNKS       ((TABLE_SIZE + HBLB_TABLE_CHUNK - 1) / HBLB_TABLE_CHUNK)

/* Sizes are small (ids beyond them read as absent, as in the kernel) so
 * that a snapshot per run stays cheap. Every map of hblb.bpf.c: one the harness does not know aborts at its
 * first lookup, so a new map cannot go unmodelled. */
static struct host_map maps[] = {
	HOST_MAP(hblb_config, 0),
	HOST_MAP(hblb_ifaces, 8),
	HOST_MAP(hblb_vip_bits, 0),
	HOST_MAP(hblb_services, MAX_SERVICES),
	HOST_MAP(hblb_reals, 8),
	HOST_MAP(hblb_hb, 8),
	HOST_MAP(hblb_hb_seq, 8),
	HOST_MAP(hblb_keys, HBLB_KEY_SERVICE(MAX_SERVICES)),
	HOST_MAP(hblb_backends, 16),
	HOST_MAP(hblb_svc_gen, MAX_SERVICES),
	HOST_MAP(hblb_tables, MAX_SERVICES * 2 * CHUNKS),
	HOST_MAP(hblb_flows, FLOW_BUCKETS),
	HOST_MAP(hblb_stats, 0),
	HOST_MAP(hblb_svc_stats, MAX_SERVICES),
	HOST_MAP(hblb_be_stats, 16),
	HOST_MAP(hblb_hb_scratch, 0),
	HOST_MAP(hblb_cfg_svcs, MAX_SERVICES),
	HOST_MAP(hblb_cfg_bes, 16),
	HOST_MAP(hblb_cfg_gen, 0),
	HOST_MAP(hblb_cfg_keys, MAX_SERVICES + 1),
};
#define NMAPS (sizeof(maps) / sizeof(maps[0]))

static struct host_map *host_map(void *def)
{
	for (size_t i = 0; i < NMAPS; i++)
		if (maps[i].def == def)
			return &maps[i];
	FAIL("the program looks up a map the harness does not model");
}

static int is_hash(const struct host_map *m)
{
	return m->type == BPF_MAP_TYPE_HASH;
}

/* Per-CPU maps are one CPU's values here, as the program sees them. */
void *bpf_map_lookup_elem(void *def, const void *key)
{
	struct host_map *m = host_map(def);

	if (!is_hash(m)) {
		__u32 idx = *(const __u32 *)key;

		return idx < m->max_entries ? m->values + (size_t)idx * m->value_size : NULL;
	}
	for (__u32 i = 0; i < m->used; i++)
		if (!memcmp(m->keys + (size_t)i * m->key_size, key, m->key_size))
			return m->values + (size_t)i * m->value_size;
	return NULL;
}

static void *map_value(void *def, __u32 idx)
{
	struct host_map *m = host_map(def);

	return m->values + (size_t)idx * m->value_size;
}

static void hash_insert(void *def, const void *key, const void *value)
{
	struct host_map *m = host_map(def);

	if (m->used == m->max_entries)
		FAIL("%s: set-up overflows the map", m->name);
	memcpy(m->keys + (size_t)m->used * m->key_size, key, m->key_size);
	memcpy(m->values + (size_t)m->used * m->value_size, value, m->value_size);
	m->used++;
}

static __u64 fake_ns = 1000000000ull;

__u64 bpf_ktime_get_ns(void)
{
	return ++fake_ns;
}

long bpf_xdp_load_bytes(struct xdp_md *ctx, __u32 offset, void *buf, __u32 len)
{
	__u64 size = ctx->data_end - ctx->data;

	if ((__u64)offset + len > size)
		return -14; /* -EFAULT, as the kernel */
	memcpy(buf, (void *)(long)ctx->data + offset, len);
	return 0;
}

long bpf_loop(__u32 nr_loops, void *callback_fn, void *callback_ctx, __u64 flags)
{
	long (*cb)(__u32, void *) = (long (*)(__u32, void *))callback_fn;
	__u32 i;

	if (flags || nr_loops > (1u << 23))
		return -22;
	for (i = 0; i < nr_loops; i++)
		if (cb(i, callback_ctx))
			return i + 1;
	return i;
}

/* ---- the load balancer the frames meet -------------------------------------- */

#define IP4(a, b, c, d) htonl(((__u32)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))
#define IFINDEX     1
#define IFINDEX_OFF 2           /* an interface hblb is not enabled on */
#define NREALS      3
#define SEQ_HIGH    1763937000000000ull     /* a realistic µs timestamp */

/* The keys (hblb_cfg_key bytes) and which real uses which; the same in
 * tests/fuzz_seeds.c. KEY_A is the SipHash paper's key. */
static const __u8 KEY_A[HBLB_KEY_LEN] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
static const __u8 KEY_B[HBLB_KEY_LEN] = { 0x68, 0x62, 0x6c, 0x62, 0x2d, 0x66, 0x75, 0x7a,
					  0x7a, 0x2d, 0x6b, 0x65, 0x79, 0x2d, 0x42, 0x21 };
static const struct real_def {
	__u32 key_id;
	__u32 n_keys;
	const __u8 *key[2];     /* [0] current, [1] previous */
} reals[NREALS] = {
	{ HBLB_KEY_NONE, 0, { NULL, NULL } },
	{ HBLB_KEY_GLOBAL, 1, { KEY_A, NULL } },
	{ HBLB_KEY_SERVICE(0), 2, { KEY_B, KEY_A } },
};

static const __u8 lb_mac[6] = { 0x02, 0, 0, 0, 0, 0xfe };

struct svc_def {
	__u8 proto;
	__u16 port;
	int nbackends;          /* backends svc*4 .. svc*4+n-1 */
};
/* VIP 198.18.0.100: 80/tcp over three backends, 53/udp over one, 8080/tcp
 * with none (its table is empty); backends are reals 0..2 */
static const struct svc_def svcs[] = {
	{ IPPROTO_TCP, 80, 3 }, { IPPROTO_UDP, 53, 1 }, { IPPROTO_TCP, 8080, 0 },
};
#define NSVCS (sizeof(svcs) / sizeof(svcs[0]))

static __be32 vip(void) { return IP4(198, 18, 0, 100); }
static __be32 real_addr(__u32 r) { return IP4(198, 18, 0, 11 + r); }

static void setup(void)
{
	struct hblb_config *cfg;
	struct hblb_iface *ifc;

	for (size_t i = 0; i < NMAPS; i++) {
		struct host_map *m = &maps[i];

		m->values = calloc(m->max_entries, m->value_size);
		m->keys = is_hash(m) ? calloc(m->max_entries, m->key_size) : NULL;
		if (!m->values || (is_hash(m) && !m->keys))
			FAIL("out of memory for %s", m->name);
	}
	cfg = map_value(&hblb_config, 0);
	cfg->hb_port = HBLB_HB_PORT_DEFAULT;
	cfg->hash_seed = 0x5eed;
	cfg->table_size = TABLE_SIZE;
	cfg->flow_mask = FLOW_BUCKETS - 1;
	cfg->max_services = MAX_SERVICES;
	ifc = map_value(&hblb_ifaces, IFINDEX);
	memcpy(ifc->mac, lb_mac, 6);
	ifc->enabled = 1;
	memcpy(((struct hblb_iface *)map_value(&hblb_ifaces, IFINDEX_OFF))->mac, lb_mac, 6);

	for (__u32 r = 0; r < NREALS; r++) {
		struct hblb_real real = { .id = r, .key_id = reals[r].key_id };
		__be32 a = real_addr(r);

		hash_insert(&hblb_reals, &a, &real);
		if (reals[r].key_id == HBLB_KEY_NONE)
			continue;
		/* as the controller copies hblb_cfg_keys into hblb_keys */
		{
			struct hblb_cfg_key ck = { .n_keys = reals[r].n_keys };
			struct hblb_service_key sk = { 0 };
			struct hblb_key *k = map_value(&hblb_keys, reals[r].key_id);

			for (__u32 n = 0; n < reals[r].n_keys; n++) {
				memcpy(ck.key[n], reals[r].key[n], HBLB_KEY_LEN);
				sip_key(ck.key[n], &k->k[n][0], &k->k[n][1]);
			}
			k->n_keys = reals[r].n_keys;
			if (reals[r].key_id != HBLB_KEY_GLOBAL)
				sk = (struct hblb_service_key){ .vip = vip(), .port = htons(svcs[0].port),
								.proto = svcs[0].proto };
			hash_insert(&hblb_cfg_keys, &sk, &ck);
		}
	}
	{
		__u32 bit = hblb_vip_bit(vip());

		((__u64 *)map_value(&hblb_vip_bits, 0))[bit / 64] |= 1ull << (bit % 64);
	}
	for (__u32 s = 0; s < NSVCS; s++) {
		struct hblb_service_key key = { .vip = vip(), .port = htons(svcs[s].port),
						.proto = svcs[s].proto };
		struct hblb_service svc = { .id = s };
		__u16 *active = (__u16 *)map_value(&hblb_tables, (s * 2 + 0) * CHUNKS);
		__u16 *inactive = (__u16 *)map_value(&hblb_tables, (s * 2 + 1) * CHUNKS);

		hash_insert(&hblb_services, &key, &svc);
		for (int b = 0; b < svcs[s].nbackends; b++) {
			struct hblb_backend *be = map_value(&hblb_backends, s * 4 + b);

			be->addr = real_addr(b % NREALS);
			be->mac[0] = 0x02;
			be->mac[4] = (__u8)s;
			be->mac[5] = (__u8)(0x10 + b);
			be->state = HBLB_BE_UP;
			be->service_id = s;
			be->real_id = b % NREALS;
			be->service = key;
		}
		for (__u32 i = 0; i < CHUNKS * HBLB_TABLE_CHUNK; i++) {
			active[i] = svcs[s].nbackends && i < TABLE_SIZE ?
				    s * 4 + i % svcs[s].nbackends : HBLB_BACKEND_NONE;
			inactive[i] = HBLB_BACKEND_NONE;
		}
	}
}

/* The parsers of parsing.h directly: results inside the frame. */
static void check_parsers(__u8 *f, size_t len)
{
	void *end = f + len, *l4_end = NULL;
	struct cursor c = { .pos = f };
	struct ethhdr *eth = NULL;
	struct iphdr *ip = NULL;
	struct tcphdr *tcp = NULL;
	struct udphdr *udp = NULL;
	__be16 proto;

#define INSIDE(p, n) ((__u8 *)(p) >= f && (__u8 *)(p) + (n) <= (__u8 *)end)
	if (parse_eth(&c, end, &eth, &proto))
		return;
	if (!INSIDE(eth, sizeof(*eth)) || !INSIDE(c.pos, 0))
		FAIL("parse_eth: header or cursor outside the frame");
	if (proto != htons(ETH_P_IP) || parse_ipv4(&c, end, &ip, &l4_end))
		return;
	if (!INSIDE(ip, sizeof(*ip)) || !INSIDE(c.pos, 0) || (__u8 *)l4_end > (__u8 *)end ||
	    (__u8 *)l4_end < (__u8 *)c.pos)
		FAIL("parse_ipv4: header, cursor or l4_end outside the frame");
	if (ip->protocol == IPPROTO_TCP && !parse_tcp(&c, end, l4_end, &tcp) &&
	    !(INSIDE(tcp, tcp->doff * 4u) && (__u8 *)tcp + tcp->doff * 4u <= (__u8 *)l4_end))
		FAIL("parse_tcp: header outside the IP payload");
	if (ip->protocol == IPPROTO_UDP && !parse_udp(&c, end, l4_end, &udp) &&
	    !(INSIDE(udp, sizeof(*udp)) && (__u8 *)udp + ntohs(udp->len) == (__u8 *)l4_end))
		FAIL("parse_udp: header or length outside the IP payload");
#undef INSIDE
}

/* ---- one run ------------------------------------------------------------------ */

struct snapshot {
	__u64 stats[HBLB_R_MAX];
	struct hblb_hb_record hb[NREALS];
	struct hblb_hb_seq seq[NREALS];
	struct hblb_flow_bucket flows[FLOW_BUCKETS];
	__u64 config_sum;       /* everything XDP only reads */
};

static __u64 fnv(__u64 h, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ ((const __u8 *)p)[i]) * 0x100000001b3ull;
	return h;
}

static void snap(struct snapshot *s)
{
	static void *const read_only[] = { &hblb_config, &hblb_ifaces, &hblb_vip_bits,
		&hblb_services, &hblb_reals, &hblb_keys, &hblb_backends, &hblb_svc_gen,
		&hblb_tables, &hblb_cfg_svcs, &hblb_cfg_bes, &hblb_cfg_gen, &hblb_cfg_keys };
	__u64 h = 0xcbf29ce484222325ull;

	memcpy(s->stats, map_value(&hblb_stats, 0), sizeof(s->stats));
	memcpy(s->hb, map_value(&hblb_hb, 0), sizeof(s->hb));
	memcpy(s->seq, map_value(&hblb_hb_seq, 0), sizeof(s->seq));
	memcpy(s->flows, map_value(&hblb_flows, 0), sizeof(s->flows));
	for (size_t i = 0; i < sizeof(read_only) / sizeof(read_only[0]); i++) {
		struct host_map *m = host_map(read_only[i]);

		h = fnv(h, m->values, (size_t)m->max_entries * m->value_size);
		if (m->keys)
			h = fnv(h, m->keys, (size_t)m->max_entries * m->key_size);
	}
	s->config_sum = h;
}

static __u64 moved(const struct snapshot *a, const struct snapshot *b, __u32 r)
{
	return b->stats[r] - a->stats[r];
}

static int find_service(const struct ref_frame *r)
{
	for (__u32 s = 0; s < NSVCS; s++)
		if (r->daddr == vip() && r->dport == htons(svcs[s].port) && r->proto == svcs[s].proto)
			return s;
	return -1;
}

static int real_of(__be32 a)
{
	for (__u32 i = 0; i < NREALS; i++)
		if (real_addr(i) == a)
			return i;
	return -1;
}

/* What the data path must do with a heartbeat, by the README's rules. */
struct hb_expect {
	__u32 reason;           /* detail reason; 0: some parse error */
	int prev_key;           /* accepted with the previous key */
	int keyed;              /* the real has a key: an acceptance sets its seq */
	struct hblb_hb_msg msg; /* accepted: the values */
};

static int is_parse_error(__u32 d)
{
	return (d >= HBLB_R_HB_EMPTY && d <= HBLB_R_HB_DUPLICATE_FIELD) || d == HBLB_R_HB_AUTH_MALFORMED;
}

static struct hb_expect hb_expect(const __u8 *f, const struct ref_frame *r, int real, __u8 flags,
				  __u64 last_seq)
{
	const __u8 *p = f + r->l4_off + 8;
	size_t len = r->l4_end - r->l4_off - 8;
	struct hb_expect e = { 0 };
	const struct real_def *rd;
	int valid;

	valid = ref_parse(p, len, &e.msg) == 0;
	if (real < 0) {
		e.reason = HBLB_R_HB_UNKNOWN_SOURCE;
		return e;
	}
	if ((flags & 8) && r->ttl != 255) {
		e.reason = HBLB_R_HB_TTL;
		return e;
	}
	rd = &reals[real];
	if (rd->key_id == HBLB_KEY_NONE) {
		/* seq and auth, if present, are ignored */
		e.reason = valid ? HBLB_R_HB_ACCEPTED : 0;
		return e;
	}
	e.keyed = 1;
	if (ref_auth_form(p, len, &e.msg)) {
		/* not the signed form: a plain heartbeat, or something malformed */
		if (!valid)
			e.reason = 0;
		else
			e.reason = e.msg.seen & HB_SEEN_AUTH ? HBLB_R_HB_AUTH_MALFORMED :
							       HBLB_R_HB_AUTH_MISSING;
		return e;
	}
	{
		size_t signed_len = len - HBLB_AUTH_TAIL_LEN - HBLB_AUTH_TAG_HEX;
		__u32 n_keys = flags & 16 ? 0 : rd->n_keys;

		if (n_keys >= 1 && ref_auth_tag(rd->key[0], r->saddr, p, signed_len) == e.msg.tag)
			e.prev_key = 0;
		else if (n_keys >= 2 && ref_auth_tag(rd->key[1], r->saddr, p, signed_len) == e.msg.tag)
			e.prev_key = 1;
		else {
			e.reason = HBLB_R_HB_AUTH_BAD;
			return e;
		}
	}
	e.reason = e.msg.seq > last_seq ? HBLB_R_HB_ACCEPTED : HBLB_R_HB_REPLAY;
	return e;
}

static void check_heartbeat(const __u8 *f, const struct ref_frame *r, const struct snapshot *a,
			    const struct snapshot *b, __u8 flags)
{
	int real = real_of(r->saddr), pass = flags & 1;
	struct hb_expect e = hb_expect(f, r, real, flags, real >= 0 ? a->seq[real].last_seq : 0);
	__u64 errors = 0;

	for (__u32 d = HBLB_R_HB_ACCEPTED; d <= HBLB_R_HB_AUTH_PREV_KEY; d++) {
		__u64 n = moved(a, b, d), want;

		if (d == HBLB_R_HB_AUTH_PREV_KEY)
			want = e.reason == HBLB_R_HB_ACCEPTED && e.prev_key;
		else if (e.reason)
			want = d == e.reason;
		else if (is_parse_error(d)) {
			errors += n;
			continue;
		} else
			want = 0;
		if (n != want)
			FAIL("heartbeat from real %d (flags %#x, ttl %u): detail reason %u moved by %llu, "
			     "the reference expects reason %u%s", real, flags, r->ttl, d,
			     (unsigned long long)n, e.reason, e.reason ? "" : " (a parse error)");
	}
	if (!e.reason && errors != 1)
		FAIL("refused heartbeat from real %d counted %llu parse error reasons", real,
		     (unsigned long long)errors);
	if (moved(a, b, pass ? HBLB_R_PASS_HEARTBEAT : HBLB_R_DROP_HEARTBEAT) != 1)
		FAIL("heartbeat not counted as %s", pass ? "PASS_HEARTBEAT" : "DROP_HEARTBEAT");
	for (int i = 0; i < NREALS; i++) {
		const struct hblb_hb_record *x = &a->hb[i], *y = &b->hb[i];
		int accepted = i == real && e.reason == HBLB_R_HB_ACCEPTED;

		if (accepted) {
			if (y->count != x->count + 1 || y->ready != e.msg.ready || y->busy != e.msg.busy ||
			    y->port != e.msg.port || y->last_ns <= x->last_ns)
				FAIL("accepted heartbeat: record of real %d is not the reference's "
				     "ready=%u busy=%u port=%u", i, e.msg.ready, e.msg.busy, e.msg.port);
		} else if (memcmp(x, y, sizeof(*x))) {
			FAIL("heartbeat changed the record of real %d", i);
		}
		if (accepted && e.keyed) {
			if (b->seq[i].last_seq != e.msg.seq)
				FAIL("signed heartbeat accepted from real %d: last seq %llu, not its %llu", i,
				     (unsigned long long)b->seq[i].last_seq, (unsigned long long)e.msg.seq);
		} else if (a->seq[i].last_seq != b->seq[i].last_seq) {
			FAIL("heartbeat changed the last sequence number of real %d", i);
		}
	}
}

/* Returns the backend a forwarded frame went to (checked against the maps). */
static void check_service(const __u8 *in, const __u8 *out, size_t len, const struct ref_frame *r,
			  __u32 ifindex, int verdict, const struct snapshot *a,
			  const struct snapshot *b)
{
	int s = find_service(r), ours = ifindex == IFINDEX && !memcmp(in, lb_mac, 6);
	__u32 expect;

	/* the VIP filter first (a hash: other addresses may share the VIP's
	 * bit), then the interface, then the service */
	if (hblb_vip_bit(r->daddr) != hblb_vip_bit(vip()))
		expect = HBLB_R_PASS_NOT_SERVICE;
	else if (!ours)
		expect = HBLB_R_PASS_NOT_OURS;
	else if (s < 0)
		expect = HBLB_R_PASS_NOT_SERVICE;
	else
		expect = 0;     /* forwarded, or no backend */
	if (expect) {
		if (moved(a, b, expect) != 1)
			FAIL("service-level frame not counted as reason %u", expect);
		if (memcmp(a->flows, b->flows, sizeof(a->flows)))
			FAIL("a frame passed as reason %u wrote the flow table", expect);
		return;
	}
	if (verdict == XDP_DROP) {
		if (moved(a, b, HBLB_R_DROP_NO_BACKEND) != 1)
			FAIL("dropped service frame without DROP_NO_BACKEND");
		if (svcs[s].nbackends && ((struct hblb_backend *)map_value(&hblb_backends, s * 4))->state
		    == HBLB_BE_UP)
			FAIL("service %d has live backends but dropped a frame", s);
		if (memcmp(a->flows, b->flows, sizeof(a->flows)))
			FAIL("a frame dropped for no backend wrote the flow table");
		return;
	}
	if (verdict != XDP_TX || moved(a, b, HBLB_R_TX_FORWARDED) != 1)
		FAIL("frame for service %d on our interface: verdict %d", s, verdict);
	{
		__u64 hit = moved(a, b, HBLB_R_FLOW_HIT), fresh = moved(a, b, HBLB_R_FLOW_NEW),
		      resteer = moved(a, b, HBLB_R_FLOW_RESTEER);
		__u32 hash = hblb_flow_hash(r->saddr, r->daddr, r->sport, r->dport, r->proto, 0x5eed);
		__u32 bucket = hash & (FLOW_BUCKETS - 1), be_id = ~0u, changed = 0;
		const struct hblb_backend *be;

		if (hit + fresh + resteer != 1)
			FAIL("forwarded frame counted hit %llu new %llu resteer %llu",
			     (unsigned long long)hit, (unsigned long long)fresh,
			     (unsigned long long)resteer);
		for (__u32 k = 0; k < FLOW_BUCKETS; k++) {
			for (__u32 w = 0; w < HBLB_FLOW_WAYS; w++) {
				const struct hblb_flow *x = &a->flows[k].way[w], *y = &b->flows[k].way[w];

				if (!memcmp(x, y, sizeof(*x)))
					continue;
				if (k != bucket || hit)
					FAIL("flow table written outside the flow's bucket, or on a hit");
				if (y->saddr != r->saddr || y->daddr != r->daddr || y->sport != r->sport ||
				    y->dport != r->dport || y->proto != r->proto || y->tag != hash >> 24)
					FAIL("flow entry written is not this flow");
				be_id = y->backend;
				changed++;
			}
		}
		if (!hit && changed > 1)
			FAIL("a new flow wrote %u ways", changed);
		if (be_id == ~0u) {     /* a hit, or a rewrite with the same backend */
			for (__u32 w = 0; w < HBLB_FLOW_WAYS; w++) {
				const struct hblb_flow *y = &b->flows[bucket].way[w];

				if (y->proto && y->saddr == r->saddr && y->daddr == r->daddr &&
				    y->sport == r->sport && y->dport == r->dport && y->proto == r->proto)
					be_id = y->backend;
			}
		}
		if (be_id == ~0u)
			FAIL("forwarded flow is not in the flow table");
		be = map_value(&hblb_backends, be_id);
		if (be->service_id != (__u32)s || (be->state != HBLB_BE_UP && be->state != HBLB_BE_DRAINING))
			FAIL("forwarded to backend %u: service %u state %u", be_id, be->service_id,
			     be->state);
		if (memcmp(out, be->mac, 6) || memcmp(out + 6, lb_mac, 6) || memcmp(out + 12, in + 12, len - 12))
			FAIL("forwarded frame: not exactly the input with the backend's and our MAC");
	}
}

static void run_once(const __u8 *frame, size_t len, __u32 ifindex, __u8 flags)
{
	struct snapshot *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	__u8 *buf = malloc(len ? len : 1);
	struct hblb_host_xdp_md ctx = { 0 };
	struct ref_frame r;
	__u32 verdict_reasons = 0, reason = 0;
	int verdict;

	if (!a || !b || !buf)
		FAIL("out of memory");
	memcpy(buf, frame, len);
	((struct hblb_config *)map_value(&hblb_config, 0))->flags =
		(flags & 1 ? HBLB_CFG_PASS_HEARTBEATS : 0) | (flags & 8 ? HBLB_CFG_GTSM : 0);
	check_parsers(buf, len);
	memcpy(buf, frame, len);
	ctx.data = (__u64)(long)buf;
	ctx.data_end = (__u64)(long)(buf + len);
	ctx.ingress_ifindex = ifindex;
	snap(a);
	verdict = hblb_xdp(&ctx);
	snap(b);

	if (verdict != XDP_PASS && verdict != XDP_DROP && verdict != XDP_TX)
		FAIL("verdict %d", verdict);
	for (__u32 i = 0; i <= HBLB_R_TX_FORWARDED; i++) {
		if (moved(a, b, i)) {
			verdict_reasons += moved(a, b, i);
			reason = i;
		}
	}
	if (verdict_reasons != 1)
		FAIL("%u verdict reasons counted", verdict_reasons);
	if ((reason < HBLB_R_DROP_FIRST && verdict != XDP_PASS) ||
	    (reason >= HBLB_R_DROP_FIRST && reason < HBLB_R_TX_FORWARDED && verdict != XDP_DROP) ||
	    (reason == HBLB_R_TX_FORWARDED && verdict != XDP_TX))
		FAIL("reason %u with verdict %d", reason, verdict);
	if (moved(a, b, HBLB_R_TABLE_RETRY))
		FAIL("table retry with no concurrent writer");
	if (a->config_sum != b->config_sum)
		FAIL("the program wrote a map only the controller writes");
	if (verdict != XDP_TX && memcmp(buf, frame, len))
		FAIL("a frame not forwarded was modified");

	r = ref_classify(frame, len);
	if (r.kind != REF_HEARTBEAT)
		for (__u32 d = HBLB_R_HB_ACCEPTED; d <= HBLB_R_HB_AUTH_PREV_KEY; d++)
			if (moved(a, b, d))
				FAIL("heartbeat detail %u counted for a frame that is none", d);
	if (r.kind != REF_SERVICE || verdict != XDP_TX)
		for (__u32 d = HBLB_R_FLOW_HIT; d <= HBLB_R_FLOW_EVICT; d++)
			if (moved(a, b, d))
				FAIL("flow detail %u counted for a frame not forwarded", d);
	if (r.kind != REF_HEARTBEAT && memcmp(a->hb, b->hb, sizeof(a->hb)))
		FAIL("a frame that is no heartbeat changed a heartbeat record");
	if (r.kind != REF_HEARTBEAT && memcmp(a->seq, b->seq, sizeof(a->seq)))
		FAIL("a frame that is no heartbeat changed a last sequence number");

	switch (r.kind) {
	case REF_REASON:
		if (reason != r.reason)
			FAIL("counted reason %u, the headers say %u", reason, r.reason);
		if (memcmp(a->flows, b->flows, sizeof(a->flows)))
			FAIL("a frame counted as reason %u wrote the flow table", reason);
		break;
	case REF_HEARTBEAT:
		check_heartbeat(frame, &r, a, b, flags);
		if (memcmp(a->flows, b->flows, sizeof(a->flows)))
			FAIL("a heartbeat wrote the flow table");
		break;
	case REF_SERVICE:
		check_service(frame, buf, len, &r, ifindex, verdict, a, b);
		break;
	}
	free(a);
	free(b);
	free(buf);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	setup();
	return 0;
}

int LLVMFuzzerTestOneInput(const __u8 *data, size_t size)
{
	struct hblb_backend *be0 = map_value(&hblb_backends, 0);
	struct hblb_svc_gen *svc_gen0 = map_value(&hblb_svc_gen, 0);
	__u32 ifindex;
	__u8 flags;

	if (size < 1 || size > 4096)
		return -1;      /* not worth keeping in the corpus */
	flags = data[0];
	ifindex = flags & 2 ? IFINDEX_OFF : IFINDEX;
	memset(map_value(&hblb_flows, 0), 0, sizeof(struct hblb_flow_bucket) * FLOW_BUCKETS);
	for (__u32 r = 0; r < NREALS; r++) {
		struct hblb_key *k = map_value(&hblb_keys, reals[r].key_id);

		((struct hblb_hb_seq *)map_value(&hblb_hb_seq, r))->last_seq = flags & 32 ? SEQ_HIGH : 0;
		if (reals[r].key_id != HBLB_KEY_NONE)
			k->n_keys = flags & 16 ? 0 : reals[r].n_keys;
	}
	run_once(data + 1, size - 1, ifindex, flags);
	if (flags & 4) {
		/* as the controller does: a table without backend 0 goes live
		 * first (the inactive version, then the generation), then the
		 * backend is marked down, so its pinned flows re-steer */
		__u16 *next = (__u16 *)map_value(&hblb_tables, 1 * CHUNKS);

		for (__u32 i = 0; i < TABLE_SIZE; i++)
			next[i] = 1 + i % (svcs[0].nbackends - 1);
		svc_gen0->gen = 1;
		be0->state = HBLB_BE_DOWN;
	}
	run_once(data + 1, size - 1, ifindex, flags);
	be0->state = HBLB_BE_UP;
	svc_gen0->gen = 0;
	return 0;
}
