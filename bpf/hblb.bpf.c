// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * hblb.bpf.c - the XDP data path: counts Apache mod_heartbeat heartbeats
 * from known backends into per-backend records, and forwards traffic for
 * virtual services to a live backend by L2 direct server return.
 *
 * Verdicts (each packet counts exactly one verdict reason in hblb_stats):
 *   XDP_PASS  not IPv4, not for a service, IPv4 options or fragments, more
 *             than 2 VLAN tags, interface not enabled or frame not addressed
 *             to its MAC, heartbeats when HBLB_CFG_PASS_HEARTBEATS is set
 *   XDP_DROP  malformed frames (truncated headers, bad version/ihl,
 *             lengths that disagree with the frame, TCP doff < 5), heartbeats
 *             (accepted or not) by default, service with no usable backend
 *   XDP_TX    service traffic, rewritten to the backend's MAC
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "hblb.h"
#include "parsing.h"
#include "hb_parse.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define READ_ONCE(x) (*(const volatile typeof(x) *)&(x))
#define WRITE_ONCE(x, v) (*(volatile typeof(x) *)&(x) = (v))


struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hblb_config);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hblb_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HBLB_MAX_IFINDEX);
	__type(key, __u32);
	__type(value, struct hblb_iface);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hblb_ifaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HBLB_VIP_BITS / 64);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hblb_vip_bits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HBLB_MAX_SERVICES);
	__type(key, struct hblb_service_key);
	__type(value, struct hblb_service);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hblb_services SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HBLB_MAX_REALS);
	__type(key, __be32);
	__type(value, struct hblb_real);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hblb_reals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HBLB_MAX_REALS);
	__type(key, __u32);
	__type(value, struct hblb_hb_record);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hblb_hb SEC(".maps");

/* Last accepted sequence number per real: shared, advanced by CAS. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HBLB_MAX_REALS);
	__type(key, __u32);
	__type(value, struct hblb_hb_seq);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hblb_hb_seq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	/* the loader sets HBLB_KEY_SERVICE(max_services) */
	__uint(max_entries, HBLB_KEY_SERVICE(HBLB_MAX_SERVICES));
	__type(key, __u32);
	__type(value, struct hblb_key);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hblb_keys SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HBLB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct hblb_backend);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hblb_backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HBLB_MAX_SERVICES);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct hblb_svc_gen);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hblb_svc_gen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	/* the loader sets max_services * 2 * chunks_per_table(table_size) */
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct hblb_table_chunk);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hblb_tables SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, HBLB_FLOW_BUCKETS_DEFAULT);
	__type(key, __u32);
	__type(value, struct hblb_flow_bucket);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hblb_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HBLB_R_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hblb_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HBLB_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct hblb_traffic);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hblb_svc_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, HBLB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct hblb_traffic);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hblb_be_stats SEC(".maps");

/* Heartbeat payload copy and parser state: see hb_parse.h. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hb_scratch);
} hblb_hb_scratch SEC(".maps");

/* bpf_loop's context must be on the stack: it carries the scratch pointer.
 * The scratch value also holds an authenticated heartbeat's tag input. */
struct hb_loop_ctx {
	struct hb_scratch *sc;
};

/* Desired configuration: never read here, defined in this object so that
 * they are created, typed and pinned with the rest (see hblb.h). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HBLB_MAX_SERVICES);
	__type(key, struct hblb_service_key);
	__type(value, struct hblb_cfg_service);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hblb_cfg_svcs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HBLB_MAX_BACKENDS);
	__type(key, struct hblb_cfg_backend_key);
	__type(value, struct hblb_cfg_backend);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hblb_cfg_bes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hblb_cfg_gen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	/* the loader sets max_services + 1 (the global key) */
	__uint(max_entries, HBLB_MAX_SERVICES + 1);
	__type(key, struct hblb_service_key);
	__type(value, struct hblb_cfg_key);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} hblb_cfg_keys SEC(".maps");

static long hb_chunk_cb(__u32 idx, void *arg)
{
	struct hb_scratch *sc = ((struct hb_loop_ctx *)arg)->sc;

	return hb_parse_chunk(sc, idx);
}

/* SipHash-2-4 of the first n bytes of auth_hdr + buf, n at most
 * HBLB_AUTH_HDR_LEN + the longest authenticated message (68): at most 8
 * whole blocks, in a loop the verifier walks (no callback per block, whose
 * indirect call costs ~15 ns here), then the last block read whole from
 * buf's spare bytes and masked. */
#define HB_TAG_MAX_BLOCKS ((HBLB_AUTH_HDR_LEN + HB_AUTH_FORM_MAX_LEN - HBLB_AUTH_TAIL_LEN - \
			    HBLB_AUTH_TAG_HEX) / 8)

static __always_inline __u64 hb_tag(struct hb_scratch *sc, const __u64 *k, __u32 n)
{
	/* auth_hdr and buf are one message (hb_parse.h asserts buf follows
	 * auth_hdr): address it from the struct, not past the member */
	const __u8 *msg = (const __u8 *)sc + __builtin_offsetof(struct hb_scratch, auth_hdr);
	__u32 blocks = n / 8, i;
	struct sip_state st;

	sip_init(&st, k[0], k[1]);
	for (i = 0; i < HB_TAG_MAX_BLOCKS; i++) {
		if (i >= blocks)
			break;
		sip_block(&st, *(const __u64 *)(msg + i * 8));
	}
	return sip_final(&st, *(const __u64 *)(msg + i * 8) & sip_tail_mask(n & 7), n);
}

/*
 * A heartbeat in hblb's authenticated form (msg, parsed in place) from a
 * real with a key: the tag must match the current key or, during a
 * rollover, the previous one, and the sequence number must exceed the last
 * one accepted from this real. Returns 0, or the reason to refuse it;
 * *prev_key says which key matched.
 */
static __always_inline int hb_authenticate(struct hb_scratch *sc, const struct hblb_real *real,
					   __be32 saddr, __u32 len, const struct hblb_hb_msg *msg,
					   int *prev_key)
{
	__u32 key_id = real->key_id, n, i;
	struct hblb_hb_seq *sq;
	struct hblb_key *key;
	__u64 seq, old, was;

	key = bpf_map_lookup_elem(&hblb_keys, &key_id);
	if (!key || key->n_keys == 0)
		return HBLB_R_HB_AUTH_BAD;      /* key withdrawn under us: refuse */
	/* the parser bounded len; the verifier needs the bound on this register */
	if (len < HB_AUTH_FORM_MIN_LEN || len > HB_AUTH_FORM_MAX_LEN)
		return HBLB_R_HB_AUTH_MALFORMED;
	*(__u32 *)sc->auth_hdr = saddr;
	*(__u32 *)(sc->auth_hdr + 4) = 'h' | 'b' << 8 | 'l' << 16 | 'b' << 24;  /* "hblb" */
	n = HBLB_AUTH_HDR_LEN + len - HBLB_AUTH_TAIL_LEN - HBLB_AUTH_TAG_HEX;
	*prev_key = 0;
	if (hb_tag(sc, key->k[0], n) != msg->tag) {
		if (key->n_keys < 2 || hb_tag(sc, key->k[1], n) != msg->tag)
			return HBLB_R_HB_AUTH_BAD;
		*prev_key = 1;
	}
	sq = bpf_map_lookup_elem(&hblb_hb_seq, &real->id);
	if (!sq)
		return HBLB_R_HB_UNKNOWN_SOURCE;
	seq = msg->seq;
	old = READ_ONCE(sq->last_seq);
	/* another CPU may accept a newer one between the read and the swap:
	 * then compare with what it stored */
	for (i = 0; i < 4; i++) {
		if (seq <= old)
			return HBLB_R_HB_REPLAY;
		was = __sync_val_compare_and_swap(&sq->last_seq, old, seq);
		if (was == old)
			return 0;
		old = was;
	}
	return HBLB_R_HB_REPLAY;
}

static __always_inline void count(__u32 reason)
{
	__u64 *v = bpf_map_lookup_elem(&hblb_stats, &reason);

	if (v)
		*v += 1;
}

static __always_inline void count_traffic(void *map, __u32 id, __u64 bytes)
{
	struct hblb_traffic *t = bpf_map_lookup_elem(map, &id);

	if (t) {
		t->packets++;
		t->bytes += bytes;
	}
}

/* Returns the verdict for a datagram to the heartbeat port. */
static __always_inline int handle_heartbeat(struct xdp_md *ctx, const struct hblb_config *cfg,
					    struct iphdr *ip, struct udphdr *udp)
{
	/* parse_udp checked that udp->len matches the IP payload */
	__u32 len = bpf_ntohs(udp->len) - sizeof(*udp), zero = 0;
	__u32 off = (void *)(udp + 1) - (void *)(long)ctx->data;
	struct hblb_hb_msg fast, *msg;
	struct hblb_hb_record *rec;
	struct hblb_real *real;
	struct hb_scratch *sc;
	__be32 saddr = ip->saddr;
	int err, prev_key = 0;

	real = bpf_map_lookup_elem(&hblb_reals, &saddr);
	if (!real) {
		count(HBLB_R_HB_UNKNOWN_SOURCE);
		goto out;
	}
	/* GTSM (RFC 5082): only a sender on this link can arrive with TTL 255 */
	if ((cfg->flags & HBLB_CFG_GTSM) && ip->ttl != 255) {
		count(HBLB_R_HB_TTL);
		goto out;
	}
	if (real->key_id != HBLB_KEY_NONE) {
		/* a real with a key sends hblb's authenticated form, nothing else */
		sc = bpf_map_lookup_elem(&hblb_hb_scratch, &zero);
		if (sc && len >= HB_AUTH_FORM_MIN_LEN && len <= HB_AUTH_FORM_MAX_LEN &&
		    !bpf_xdp_load_bytes(ctx, off, sc->buf, len) &&
		    hb_parse_canonical_auth(sc->buf, len, &fast) == HBLB_HB_OK) {
			err = hb_authenticate(sc, real, saddr, len, &fast, &prev_key);
			if (err) {
				count(err);
				goto out;
			}
			msg = &fast;
			goto accept;
		}
		/* not in that form: the general parser says what is wrong */
	} else if (hb_parse_canonical((const __u8 *)(udp + 1), (void *)(long)ctx->data_end, len,
				      &fast) == HBLB_HB_OK) {
		msg = &fast;
		goto accept;
	}
	sc = bpf_map_lookup_elem(&hblb_hb_scratch, &zero);
	if (!sc)
		goto out;
	err = hb_begin(sc, len);
	if (err) {
		count(err);
		goto out;
	}
	/* hb_begin bounded len to 1..HBLB_HB_MAX_PAYLOAD, but clang may not keep
	 * that bound in the register the verifier checks the helper's size on */
	if (len == 0 || len > HBLB_HB_MAX_PAYLOAD || bpf_xdp_load_bytes(ctx, off, sc->buf, len))
		goto out;
	{
		struct hb_loop_ctx lc = { .sc = sc };

		bpf_loop((len + HB_CHUNK - 1) / HB_CHUNK, hb_chunk_cb, &lc, 0);
	}
	err = hb_finish(sc);
	if (err) {
		count(err);
		goto out;
	}
	if (real->key_id != HBLB_KEY_NONE) {
		count(sc->msg.seen & HB_SEEN_AUTH ? HBLB_R_HB_AUTH_MALFORMED : HBLB_R_HB_AUTH_MISSING);
		goto out;
	}
	msg = &sc->msg;
accept:
	rec = bpf_map_lookup_elem(&hblb_hb, &real->id);
	if (!rec) {
		count(HBLB_R_HB_UNKNOWN_SOURCE);
		goto out;
	}
	rec->count++;
	rec->last_ns = bpf_ktime_get_ns();
	rec->ready = msg->ready;
	rec->busy = msg->busy;
	rec->port = msg->port;
	count(HBLB_R_HB_ACCEPTED);
	if (prev_key)
		count(HBLB_R_HB_AUTH_PREV_KEY);
out:
	if (cfg->flags & HBLB_CFG_PASS_HEARTBEATS) {
		count(HBLB_R_PASS_HEARTBEAT);
		return XDP_PASS;
	}
	count(HBLB_R_DROP_HEARTBEAT);
	return XDP_DROP;
}

/* clang leaves a 6-byte __builtin_memcmp as a call to memcmp, which BPF
 * does not have: compare 4 + 2 bytes. */
static __always_inline int mac_equal(const __u8 *a, const __u8 *b)
{
	return *(const __u32 *)a == *(const __u32 *)b &&
	       *(const __u16 *)(a + 4) == *(const __u16 *)(b + 4);
}

/* A flow entry as the two 8-byte words it is read and written as. */
union flow_words {
	struct hblb_flow f;
	__u64 w[2];
};

/* Everything in the second word but the backend id must match. */
static __always_inline __u64 flow_key_mask(void)
{
	union flow_words m = { .w = { 0, ~0ull } };

	m.f.backend = 0;
	return m.w[1];
}

static __always_inline int flow_matches(const struct hblb_flow *f, const union flow_words *key)
{
	const __u64 *w = (const __u64 *)f;

	return w[0] == key->w[0] && (w[1] & flow_key_mask()) == key->w[1];
}

/* Two 8-byte stores: a reader on another CPU sees each word whole, and a
 * mix of two flows' words fails the tag check in the second word. */
static __always_inline void flow_store(struct hblb_flow *slot, const union flow_words *key,
				       __u16 backend)
{
	union flow_words v = *key;

	v.f.backend = backend;
	WRITE_ONCE(((__u64 *)slot)[0], v.w[0]);
	WRITE_ONCE(((__u64 *)slot)[1], v.w[1]);
}

/* Backend id from the service's active table version, or HBLB_BACKEND_NONE. */
static __always_inline __u32 table_pick(const struct hblb_config *cfg, __u32 svc_id, __u32 hash)
{
	struct hblb_table_chunk *chunk;
	struct hblb_svc_gen *sg;
	__u32 m = cfg->table_size, slot, key, gen, id = HBLB_BACKEND_NONE;
	int tries;

	sg = bpf_map_lookup_elem(&hblb_svc_gen, &svc_id);
	if (!sg || m == 0)
		return HBLB_BACKEND_NONE;
	slot = hash % m;
	/* The controller writes the inactive version, then bumps gen. Its next
	 * change rewrites the version that was active until that bump, which a
	 * slow reader may still be reading: if gen moved while we read, the
	 * entry may come from a half-written version, so read again. */
	for (tries = 0; tries < 4; tries++) {
		gen = READ_ONCE(sg->gen);
		key = (svc_id * 2 + (gen & 1)) * hblb_chunks_per_table(m) + slot / HBLB_TABLE_CHUNK;
		chunk = bpf_map_lookup_elem(&hblb_tables, &key);
		if (!chunk)
			return HBLB_BACKEND_NONE;
		id = READ_ONCE(chunk->be[slot % HBLB_TABLE_CHUNK]);
		if (READ_ONCE(sg->gen) == gen)
			break;
		count(HBLB_R_TABLE_RETRY);
	}
	return id;
}

static __always_inline int vip_maybe_service(__be32 daddr)
{
	__u32 bit = hblb_vip_bit(daddr), word = bit / 64;
	__u64 *w = bpf_map_lookup_elem(&hblb_vip_bits, &word);

	return w && (*w >> (bit % 64)) & 1;
}

/* A pinned backend serves this packet while it is up or draining and still
 * belongs to the service the packet is addressed to. */
static __always_inline int backend_keeps_flow(const struct hblb_backend *be, __u64 skey)
{
	return *(const __u64 *)&be->service == skey &&
	       (be->state == HBLB_BE_UP || be->state == HBLB_BE_DRAINING);
}

/* A TCP SYN without ACK opens a new connection even when its 5-tuple is
 * still in the flow table (a client reusing the port of a closed
 * connection): it is steered by the current table, as any new flow, and
 * its entry rewritten. Otherwise a recycled port follows a dead
 * connection's entry: to a draining backend, or past a newly added one. The
 * one casualty: a SYN retransmitted across a table change moves (as in
 * Katran, which also never looks SYNs up). */
static __always_inline int opens_connection(const struct tcphdr *tcp)
{
	return tcp && tcp->syn && !tcp->ack;
}

/*
 * Service traffic: the flow table first (a hit needs only array lookups,
 * which the verifier inlines; a hash-map lookup is a call, ~20 ns here),
 * then the service and its table for new or re-steered flows.
 */
static __always_inline int handle_service(struct xdp_md *ctx, const struct hblb_config *cfg,
					  struct ethhdr *eth, struct iphdr *ip, __u32 ports,
					  int new_conn)
{
	__u32 ifindex = ctx->ingress_ifindex, hash, bucket_idx, id, i, svc_id;
	struct hblb_service_key skey = {
		.vip = ip->daddr, .port = ((__be16 *)&ports)[1], .proto = ip->protocol,
	};
	struct hblb_flow_bucket *bucket;
	const struct hblb_service *svc;
	struct hblb_flow *slot = NULL;
	struct hblb_backend *be;
	struct hblb_iface *iface;
	__u32 reason = HBLB_R_FLOW_NEW;
	__u8 proto = ip->protocol;
	union flow_words key;

	if (!vip_maybe_service(ip->daddr)) {
		count(HBLB_R_PASS_NOT_SERVICE);
		return XDP_PASS;
	}
	iface = bpf_map_lookup_elem(&hblb_ifaces, &ifindex);
	if (!iface || !iface->enabled || !mac_equal(eth->h_dest, iface->mac)) {
		count(HBLB_R_PASS_NOT_OURS);
		return XDP_PASS;
	}

	hash = hblb_flow_hash(ip->saddr, ip->daddr, ((__be16 *)&ports)[0],
			      ((__be16 *)&ports)[1], proto, cfg->hash_seed);
	key.f.saddr = ip->saddr;
	key.f.daddr = ip->daddr;
	*(__u32 *)&key.f.sport = ports;
	key.f.backend = 0;
	key.f.proto = proto;
	key.f.tag = hash >> 24;
	bucket_idx = hash & cfg->flow_mask;
	bucket = bpf_map_lookup_elem(&hblb_flows, &bucket_idx);
	if (bucket) {
#pragma clang loop unroll_count(HBLB_FLOW_WAYS)
		for (i = 0; i < HBLB_FLOW_WAYS; i++) {
			struct hblb_flow *f = &bucket->way[i];

			if (!flow_matches(f, &key))
				continue;
			slot = f;
			reason = HBLB_R_FLOW_RESTEER;   /* unless it stays */
			if (new_conn)
				break;                  /* a SYN: steered anew, entry rewritten */
			id = f->backend;
			be = bpf_map_lookup_elem(&hblb_backends, &id);
			if (be && backend_keeps_flow(be, *(__u64 *)&skey)) {
				svc_id = be->service_id;
				count(HBLB_R_FLOW_HIT);
				goto forward;
			}
			break;
		}
	}

	svc = bpf_map_lookup_elem(&hblb_services, &skey);
	if (!svc) {
		count(HBLB_R_PASS_NOT_SERVICE);
		return XDP_PASS;
	}
	svc_id = svc->id;
	id = table_pick(cfg, svc_id, hash);
	be = id == HBLB_BACKEND_NONE ? NULL : bpf_map_lookup_elem(&hblb_backends, &id);
	if (!be) {
		count(HBLB_R_DROP_NO_BACKEND);
		return XDP_DROP;
	}
	if (bucket) {
		if (!slot) {
			/* an empty way, else the one the hash points at */
#pragma clang loop unroll_count(HBLB_FLOW_WAYS)
			for (i = 0; i < HBLB_FLOW_WAYS; i++) {
				if (bucket->way[i].proto == 0) {
					slot = &bucket->way[i];
					break;
				}
			}
			if (!slot) {
				slot = &bucket->way[(hash >> 16) & (HBLB_FLOW_WAYS - 1)];
				count(HBLB_R_FLOW_EVICT);
			}
		}
		flow_store(slot, &key, id);
	}
	count(reason);

forward:
	__builtin_memcpy(eth->h_dest, be->mac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, iface->mac, ETH_ALEN);
	{
		__u64 bytes = ctx->data_end - ctx->data;

		count_traffic(&hblb_svc_stats, svc_id, bytes);
		count_traffic(&hblb_be_stats, id, bytes);
	}
	count(HBLB_R_TX_FORWARDED);
	return XDP_TX;
}

static __always_inline int hblb_process(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct cursor c = { .pos = data };
	const struct hblb_config *cfg;
	struct ethhdr *eth;
	struct iphdr *ip;
	struct tcphdr *tcp = NULL;
	struct udphdr *udp;
	void *l4_end;
	__u32 zero = 0, ports;
	__be16 proto;
	int r;

	cfg = bpf_map_lookup_elem(&hblb_config, &zero);
	if (!cfg)
		return XDP_PASS;

	r = parse_eth(&c, end, &eth, &proto);
	if (r)
		goto out;
	if (proto != bpf_htons(ETH_P_IP)) {
		r = HBLB_R_PASS_NOT_IPV4;
		goto out;
	}
	r = parse_ipv4(&c, end, &ip, &l4_end);
	if (r)
		goto out;

	if (ip->protocol == IPPROTO_UDP) {
		r = parse_udp(&c, end, l4_end, &udp);
		if (r)
			goto out;
		if (cfg->hb_port && udp->dest == bpf_htons(cfg->hb_port))
			return handle_heartbeat(ctx, cfg, ip, udp);
		ports = *(__u32 *)&udp->source;
	} else if (ip->protocol == IPPROTO_TCP) {
		r = parse_tcp(&c, end, l4_end, &tcp);
		if (r)
			goto out;
		ports = *(__u32 *)&tcp->source;
	} else {
		r = HBLB_R_PASS_NOT_SERVICE;
		goto out;
	}
	return handle_service(ctx, cfg, eth, ip, ports, opens_connection(tcp));

out:
	count(r);
	return r < HBLB_R_DROP_FIRST ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int hblb_xdp(struct xdp_md *ctx)
{
	return hblb_process(ctx);
}

/*
 * Benchmark entry points, loaded only by the benchmark (autoload is off).
 * BPF_PROG_TEST_RUN reuses one buffer for every repetition, so a fixed frame
 * would be a new flow once and a known flow after. These set the source
 * address of an untagged IPv4 frame to base + (n mod flows) and restore the
 * destination MAC the previous run rewrote, then run the real data path.
 * flows == 0 makes every repetition a new flow.
 */
__u32 bench_saddr_base;         /* host order */
__u32 bench_flows;
__u32 bench_seq;
__u8 bench_dst_mac[ETH_ALEN];

SEC("xdp")
int hblb_bench_vary(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	__u32 n = bench_seq++;

	if ((void *)(ip + 1) > end)
		return XDP_ABORTED;
	if (bench_flows)
		n %= bench_flows;
	ip->saddr = bpf_htonl(bench_saddr_base + n);
	__builtin_memcpy(eth->h_dest, bench_dst_mac, ETH_ALEN);
	return hblb_process(ctx);
}

/* Authenticated heartbeats: one signed frame repeated would be a replay
 * after its first run, so this forgets the real's last sequence number
 * (an inlined array store) before each run of the real data path. */
__u32 bench_real_id;

SEC("xdp")
int hblb_bench_auth(struct xdp_md *ctx)
{
	struct hblb_hb_seq *sq = bpf_map_lookup_elem(&hblb_hb_seq, &bench_real_id);

	if (sq)
		sq->last_seq = 0;
	return hblb_process(ctx);
}
