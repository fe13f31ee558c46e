// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bench_datapath - times the XDP data path's main cases through
 * BPF_PROG_TEST_RUN and compares them with two floors timed in the same run:
 * an empty XDP_PASS program and a parse + MAC swap + XDP_TX program.
 *
 * Times are the kernel-reported `duration` (ns per repetition, integer),
 * not wall time: a test run also waits for RCU grace periods, which is no
 * cost of the program. Each case is timed --runs times, interleaved with
 * the other cases so that drift (frequency, noise) hits all of them alike;
 * the median and min/max are reported. After every timed run the global
 * counters must show that the case ran the path it names, else the case
 * fails and the exit status is non-zero. Targets (ratios to floor_tx) are
 * reported as PASS/MISS and do not change the exit status.
 *
 * Needs root and a BPF-capable kernel; loads everything without pins and
 * attaches nothing: frames come "from" lo (ifindex 1, in every namespace).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "auth.h"
#include "loader.h"
#include "siphash.h"
#include "log.h"
#include "packets.h"
#include "bench_report.h"
#include "floor_pass.skel.h"
#include "floor_tx.skel.h"

#define IFINDEX         1           /* lo: test_run with ingress_ifindex needs a real device */
#define TABLE_SIZE      HBLB_TABLE_SIZE_DEFAULT
#define NBACKENDS       8
#define SVC_ID          0
#define REAL_ID         0
#define NEW_FLOW_BUCKETS 1024       /* small, so that it is full after a short pre-fill */
#define MANY_FLOWS      1000000
#define MAX_RUNS        101
#define WARMUP_REPEAT   100000

#define IP(a, b, c, d) (((__u32)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))
#define VIP             IP(198, 18, 0, 100)
#define LB_ADDR         IP(198, 18, 0, 2)
#define CLIENT          IP(198, 18, 0, 1)
#define CLIENT_BASE     IP(10, 0, 0, 0)     /* hblb_bench_vary's source addresses */
#define REAL0           IP(198, 18, 0, 11)
#define HB_GROUP        IP(239, 0, 0, 1)
#define VIP_PORT        80

static const __u8 lb_mac[6] = { 0x02, 0, 0, 0, 0, 0xfe };
static const __u8 client_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const __u8 hb_mcast_mac[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
/* Apache mod_heartbeat's payload, byte for byte (see shared/heartbeat) */
static const char hb_payload[] = "v=1&ready=75&busy=0";
/* a keyed real, and the key it signs with */
#define REAL_AUTH    (REAL0 + 50)
#define REAL_AUTH_ID (REAL_ID + 1)
static const __u8 bench_key[16] = { 0x42, 0x13, 0x37 };

static int ncpus;

/* ---- map helpers ---------------------------------------------------------- */

static int stats_read(const struct hblb *h, __u64 *out)
{
	int fd = bpf_map__fd(h->skel->maps.hblb_stats);
	__u64 vals[ncpus];

	for (__u32 r = 0; r < HBLB_R_MAX; r++) {
		if (bpf_map_lookup_elem(fd, &r, vals))
			return -errno;
		out[r] = 0;
		for (int c = 0; c < ncpus; c++)
			out[r] += vals[c];
	}
	return 0;
}

static int hb_count(const struct hblb *h, __u32 real_id, __u64 *count)
{
	struct hblb_hb_record recs[ncpus];

	if (bpf_map_lookup_elem(bpf_map__fd(h->skel->maps.hblb_hb), &real_id, recs))
		return -errno;
	*count = 0;
	for (int c = 0; c < ncpus; c++)
		*count += recs[c].count;
	return 0;
}

static int map_set(struct bpf_map *m, const void *key, const void *val)
{
	return bpf_map_update_elem(bpf_map__fd(m), key, val, BPF_ANY) ? -errno : 0;
}

static void backend_mac(__u32 id, __u8 *mac)
{
	static const __u8 base[6] = { 0x02, 0, 0, 0, 0xbe, 0 };

	memcpy(mac, base, 6);
	mac[5] = id;
}

static int set_backend(struct hblb *h, __u32 id, const __u8 *mac)
{
	struct hblb_backend be = {
		.addr = htonl(REAL0 + id), .state = HBLB_BE_UP,
		.service_id = SVC_ID, .real_id = id,
		.service = { .vip = htonl(VIP), .port = htons(VIP_PORT), .proto = IPPROTO_TCP },
	};

	memcpy(be.mac, mac, 6);
	return map_set(h->skel->maps.hblb_backends, &id, &be);
}

/* One TCP service VIP:80 over NBACKENDS backends, lo enabled with lb_mac,
 * REAL0 a known heartbeat source. */
static int setup_instance(struct hblb *h, __u32 flow_buckets)
{
	struct hblb_load_opts o = {
		.no_pin = true, .bench = true, .table_size = TABLE_SIZE,
		.flow_buckets = flow_buckets,
	};
	struct hblb_service_key sk = { .vip = htonl(VIP), .port = htons(VIP_PORT), .proto = IPPROTO_TCP };
	struct hblb_service svc = { .id = SVC_ID };
	struct hblb_iface ifc = { .enabled = 1 };
	struct hblb_real real = { .id = REAL_ID };
	__be32 real_addr = htonl(REAL0);
	__u32 ifindex = IFINDEX;
	__u16 *entries;
	__u8 mac[6];
	int err;

	err = hblb_open(h, &o);
	if (err)
		return err;
	memcpy(ifc.mac, lb_mac, 6);
	err = map_set(h->skel->maps.hblb_ifaces, &ifindex, &ifc);
	if (!err) {
		hblb_vip_mark(h, sk.vip);
		err = map_set(h->skel->maps.hblb_services, &sk, &svc);
	}
	if (!err)
		err = map_set(h->skel->maps.hblb_reals, &real_addr, &real);
	if (!err) {
		struct hblb_real keyed = { .id = REAL_AUTH_ID, .key_id = HBLB_KEY_GLOBAL };
		struct hblb_key k = { .n_keys = 1 };
		__be32 a = htonl(REAL_AUTH);
		__u32 kid = HBLB_KEY_GLOBAL;

		sip_key(bench_key, &k.k[0][0], &k.k[0][1]);
		err = map_set(h->skel->maps.hblb_keys, &kid, &k);
		if (!err)
			err = map_set(h->skel->maps.hblb_reals, &a, &keyed);
		h->skel->bss->bench_real_id = REAL_AUTH_ID;
	}
	for (__u32 id = 0; !err && id < NBACKENDS; id++) {
		backend_mac(id, mac);
		err = set_backend(h, id, mac);
	}
	if (err) {
		pr_err("cannot configure the maps: %s", strerror(-err));
		return err;
	}
	entries = malloc(TABLE_SIZE * sizeof(*entries));
	if (!entries)
		return -ENOMEM;
	for (__u32 i = 0; i < TABLE_SIZE; i++)
		entries[i] = i % NBACKENDS;
	err = hblb_table_install(h, SVC_ID, entries);
	free(entries);
	if (err)
		pr_err("cannot install the table: %s", strerror(-err));
	return err;
}

/* Ways in use in the first `buckets` buckets of the flow table. */
static int flows_used(const struct hblb *h, __u32 buckets, __u64 *used)
{
	int fd = bpf_map__fd(h->skel->maps.hblb_flows);
	struct hblb_flow_bucket b;

	*used = 0;
	for (__u32 i = 0; i < buckets; i++) {
		if (bpf_map_lookup_elem(fd, &i, &b))
			return -errno;
		for (int w = 0; w < HBLB_FLOW_WAYS; w++)
			*used += b.way[w].proto != 0;
	}
	return 0;
}

/* ---- frames ----------------------------------------------------------------- */

struct frame {
	__u8 buf[128];
	__u32 len;
};

/* A TCP ACK from CLIENT:40000, padded to the minimum Ethernet frame
 * (60 bytes + FCS = 64 on the wire); the padding is no IP payload. */
static int frame_tcp_ack(struct frame *f, __u32 daddr, __u16 dport)
{
	struct pkt_spec s = {
		.saddr = CLIENT, .daddr = daddr, .proto = IPPROTO_TCP,
		.sport = 40000, .dport = dport, .tcp_flags = PKT_TCP_ACK,
	};

	memcpy(s.dst_mac, lb_mac, 6);
	memcpy(s.src_mac, client_mac, 6);
	f->len = pkt_build(&s, f->buf, sizeof(f->buf), NULL, NULL);
	if (!f->len)
		return -EOVERFLOW;
	if (f->len < ETH_ZLEN) {
		memset(f->buf + f->len, 0, ETH_ZLEN - f->len);
		f->len = ETH_ZLEN;
	}
	return 0;
}

/* A heartbeat as Apache sends it: multicast, TTL 1, DF, 61 bytes. */
static int frame_heartbeat(struct frame *f)
{
	struct pkt_spec s = {
		.saddr = REAL0, .daddr = HB_GROUP, .proto = IPPROTO_UDP,
		.sport = 45678, .dport = HBLB_HB_PORT_DEFAULT,
		.payload = hb_payload, .payload_len = sizeof(hb_payload) - 1,
	};
	struct iphdr *ip;
	size_t ip_off;

	memcpy(s.dst_mac, hb_mcast_mac, 6);
	backend_mac(0, s.src_mac);
	f->len = pkt_build(&s, f->buf, sizeof(f->buf), &ip_off, NULL);
	if (!f->len)
		return -EOVERFLOW;
	ip = (struct iphdr *)(f->buf + ip_off);
	ip->ttl = 1;
	ip->check = 0;
	ip->check = pkt_csum(ip, sizeof(*ip));
	return 0;
}

/* hblb beat's authenticated heartbeat from REAL_AUTH (TTL 1 as multicast),
 * signed with `key`; 88 bytes of payload. */
static int frame_heartbeat_auth(struct frame *f, const __u8 *key)
{
	static char msg[2][160];
	static int n;
	char *m = msg[n++ & 1];
	int len = auth_message(m, 160, 75, 0, 1763937000123456ull, key, htonl(REAL_AUTH));
	struct pkt_spec s = {
		.saddr = REAL_AUTH, .daddr = HB_GROUP, .proto = IPPROTO_UDP,
		.sport = 45678, .dport = HBLB_HB_PORT_DEFAULT, .payload = m,
	};

	if (len < 0)
		return len;
	s.payload_len = len;
	memcpy(s.dst_mac, hb_mcast_mac, 6);
	backend_mac(0, s.src_mac);
	size_t ip_off;

	f->len = pkt_build(&s, f->buf, sizeof(f->buf), &ip_off, NULL);
	return f->len ? 0 : -EOVERFLOW;
}

/* ---- cases ------------------------------------------------------------------ */

#define REASONS(...) ((const int[]){ __VA_ARGS__, -1 })

struct bench_case {
	const char *name;
	int prog_fd;
	const struct frame *f;
	struct hblb *h;             /* NULL for the floors: no counters to check */
	__u32 verdict;
	const int *moved;           /* each moves by exactly repeat, all others by 0 */
	bool hb;                    /* REAL_ID's heartbeat count moves by repeat too */
	bool mix;                   /* many flows: hits must dominate, counts vary */
	double target;              /* max ratio to floor_tx; 0: reported only */
	/* results */
	__u32 ns[MAX_RUNS];
	double median;
	__u32 min, max;
	__u64 total[HBLB_R_MAX];    /* counter deltas over the timed runs */
	int err;                    /* could not run */
	bool bad;                   /* ran, but not the path it names */
	char note[160];
};

static const char *reason_name(int r)
{
	static char buf[16];

	switch (r) {
	case HBLB_R_PASS_NOT_SERVICE: return "PASS_NOT_SERVICE";
	case HBLB_R_PASS_NOT_OURS: return "PASS_NOT_OURS";
	case HBLB_R_DROP_HEARTBEAT: return "DROP_HEARTBEAT";
	case HBLB_R_DROP_NO_BACKEND: return "DROP_NO_BACKEND";
	case HBLB_R_TX_FORWARDED: return "TX_FORWARDED";
	case HBLB_R_HB_ACCEPTED: return "HB_ACCEPTED";
	case HBLB_R_HB_AUTH_BAD: return "HB_AUTH_BAD";
	case HBLB_R_HB_REPLAY: return "HB_REPLAY";
	case HBLB_R_FLOW_HIT: return "FLOW_HIT";
	case HBLB_R_FLOW_NEW: return "FLOW_NEW";
	case HBLB_R_FLOW_RESTEER: return "FLOW_RESTEER";
	case HBLB_R_FLOW_EVICT: return "FLOW_EVICT";
	default:
		snprintf(buf, sizeof(buf), "reason %d", r);
		return buf;
	}
}

static void mark_bad(struct bench_case *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void mark_bad(struct bench_case *c, const char *fmt, ...)
{
	va_list ap;

	if (c->bad)
		return;         /* keep the first finding */
	c->bad = true;
	va_start(ap, fmt);
	vsnprintf(c->note, sizeof(c->note), fmt, ap);
	va_end(ap);
	pr_err("%s: %s", c->name, c->note);
}

static int test_run(int prog_fd, const struct frame *f, __u32 repeat, __u32 *retval, __u32 *ns)
{
	struct xdp_md ctx = { .data_end = f->len, .ingress_ifindex = IFINDEX };
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		    .data_in = f->buf, .data_size_in = f->len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .repeat = repeat);

	if (bpf_prog_test_run_opts(prog_fd, &opts))
		return -errno;
	*retval = opts.retval;
	if (ns)
		*ns = opts.duration;
	return 0;
}

/* Counter deltas of one timed run against what the case names. */
static void check_deltas(struct bench_case *c, const __u64 *d, __u64 hb, __u32 repeat)
{
	bool want[HBLB_R_MAX] = { false };

	if (c->mix) {
		__u64 paths = d[HBLB_R_FLOW_HIT] + d[HBLB_R_FLOW_NEW] + d[HBLB_R_FLOW_RESTEER];

		if (d[HBLB_R_TX_FORWARDED] != repeat || paths != repeat)
			mark_bad(c, "%llu forwarded, %llu flow lookups, expected %u each",
				 (unsigned long long)d[HBLB_R_TX_FORWARDED],
				 (unsigned long long)paths, repeat);
		else if (d[HBLB_R_FLOW_HIT] * 2 <= repeat)
			mark_bad(c, "only %llu of %u were flow hits",
				 (unsigned long long)d[HBLB_R_FLOW_HIT], repeat);
		return;
	}
	for (const int *r = c->moved; *r >= 0; r++)
		want[*r] = true;
	for (int r = 0; r < HBLB_R_MAX; r++) {
		__u64 exp = want[r] ? repeat : 0;

		if (d[r] != exp) {
			mark_bad(c, "%s moved by %llu, expected %llu", reason_name(r),
				 (unsigned long long)d[r], (unsigned long long)exp);
			return;
		}
	}
	if (c->hb && hb != repeat)
		mark_bad(c, "heartbeat record count moved by %llu, expected %u",
			 (unsigned long long)hb, repeat);
}

static int time_case(struct bench_case *c, __u32 repeat, int run)
{
	__u64 before[HBLB_R_MAX], after[HBLB_R_MAX], d[HBLB_R_MAX];
	__u64 hb_before = 0, hb_after = 0;
	__u32 retval;
	int err;

	if (c->h) {
		err = stats_read(c->h, before);
		if (!err && c->hb)
			err = hb_count(c->h, REAL_ID, &hb_before);
		if (err)
			goto fail_maps;
	}
	err = test_run(c->prog_fd, c->f, repeat, &retval, &c->ns[run]);
	if (err) {
		pr_err("%s: BPF_PROG_TEST_RUN failed: %s", c->name, strerror(-err));
		c->err = err;
		return err;
	}
	if (retval != c->verdict)
		mark_bad(c, "verdict %u, expected %u", retval, c->verdict);
	if (!c->h)
		return 0;
	err = stats_read(c->h, after);
	if (!err && c->hb)
		err = hb_count(c->h, REAL_ID, &hb_after);
	if (err)
		goto fail_maps;
	for (int r = 0; r < HBLB_R_MAX; r++) {
		d[r] = after[r] - before[r];
		c->total[r] += d[r];
	}
	check_deltas(c, d, hb_after - hb_before, repeat);
	return 0;
fail_maps:
	pr_err("%s: cannot read the counters: %s", c->name, strerror(-err));
	c->err = err;
	return err;
}

static int cmp_u32(const void *a, const void *b)
{
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return (x > y) - (x < y);
}

static void summarize(struct bench_case *c, int runs)
{
	__u32 s[MAX_RUNS];

	memcpy(s, c->ns, runs * sizeof(s[0]));
	qsort(s, runs, sizeof(s[0]), cmp_u32);
	c->min = s[0];
	c->max = s[runs - 1];
	c->median = runs % 2 ? s[runs / 2] : (s[runs / 2 - 1] + s[runs / 2]) / 2.0;
}

/* ---- preparation -------------------------------------------------------------- */

/* The established flow is forwarded to a backend whose MAC is the
 * interface's: the program rewrites the frame in the reused buffer, and the
 * rewritten frame must again be addressed to us to take the same path. */
static int prepare_established(struct hblb *h, struct bench_case *c)
{
	__u64 before[HBLB_R_MAX], after[HBLB_R_MAX];
	const struct iphdr *ip = (const void *)(c->f->buf + ETH_HLEN);
	const __u16 *ports = (const void *)(ip + 1);
	__u32 hash, be, retval;
	int err;

	hash = hblb_flow_hash(ip->saddr, ip->daddr, ports[0], ports[1], ip->protocol,
			      h->cfg.hash_seed);
	be = hblb_table_entry(h, SVC_ID, hash % h->cfg.table_size);
	err = set_backend(h, be, lb_mac);
	if (err)
		return err;
	err = stats_read(h, before);
	if (!err)
		err = test_run(c->prog_fd, c->f, 1, &retval, NULL);
	if (!err)
		err = stats_read(h, after);
	if (err)
		return err;
	if (retval != XDP_TX || after[HBLB_R_FLOW_NEW] - before[HBLB_R_FLOW_NEW] != 1) {
		pr_err("established: the first packet was not recorded as a new flow (verdict %u)", retval);
		return -EPROTO;
	}
	return 0;
}

/* Runs hblb_bench_vary until every way of every bucket is in use, so that
 * each further new flow evicts one. */
static int prepare_new_flow(struct hblb *h, struct bench_case *c)
{
	const __u64 slots = (__u64)NEW_FLOW_BUCKETS * HBLB_FLOW_WAYS;
	__u64 used = 0;
	__u32 retval;
	int err;

	memcpy(h->skel->bss->bench_dst_mac, lb_mac, 6);
	h->skel->bss->bench_saddr_base = CLIENT_BASE;
	h->skel->bss->bench_flows = 0;
	h->skel->bss->bench_seq = 0;
	/* 16 new flows per way on average: a way left empty is very unlikely,
	 * but check, and go on filling if one is */
	for (int pass = 0; pass < 4; pass++) {
		err = test_run(c->prog_fd, c->f, 16 * slots, &retval, NULL);
		if (!err)
			err = flows_used(h, NEW_FLOW_BUCKETS, &used);
		if (err)
			return err;
		if (used == slots)
			return 0;
	}
	pr_err("new_flow: only %llu of %llu flow slots in use after the pre-fill",
	       (unsigned long long)used, (unsigned long long)slots);
	return -EPROTO;
}

struct many_flows_fill {
	__u64 new, evict;
};

/* Inserts MANY_FLOWS flows once; the default table has room for all of
 * them in total, but a 4-way bucket overflows when more hash into it. */
static int prepare_many_flows(struct hblb *h, struct bench_case *c, struct many_flows_fill *fill)
{
	__u64 before[HBLB_R_MAX], after[HBLB_R_MAX];
	__u32 retval;
	int err;

	memcpy(h->skel->bss->bench_dst_mac, lb_mac, 6);
	h->skel->bss->bench_saddr_base = CLIENT_BASE;
	h->skel->bss->bench_flows = MANY_FLOWS;
	h->skel->bss->bench_seq = 0;
	err = stats_read(h, before);
	if (!err)
		err = test_run(c->prog_fd, c->f, MANY_FLOWS, &retval, NULL);
	if (!err)
		err = stats_read(h, after);
	if (err)
		return err;
	fill->new = after[HBLB_R_FLOW_NEW] - before[HBLB_R_FLOW_NEW];
	fill->evict = after[HBLB_R_FLOW_EVICT] - before[HBLB_R_FLOW_EVICT];
	if (retval != XDP_TX || fill->new != MANY_FLOWS) {
		pr_err("established_1m_flows: pre-fill made %llu new flows of %u (verdict %u)",
		       (unsigned long long)fill->new, MANY_FLOWS, retval);
		return -EPROTO;
	}
	return 0;
}

/* ---- report ------------------------------------------------------------------ */

static double ratio(const struct bench_case *c, const struct bench_case *floor)
{
	return floor->median > 0 ? c->median / floor->median : 0;
}

/*
 * {"datapath": {...}}: per case <name>_ns (median), <name>_min_ns and
 * <name>_max_ns (the spread of the runs) and <name>_ratio (to floor_tx).
 * A case that did not run, or ran another path than it names, has no
 * figures: a time for the wrong path is no figure (counters_ok says so).
 */
static int write_json(const char *path, __u32 repeat, int runs, const struct bench_case *cases,
		      int ncases, const struct bench_case *floor_tx,
		      const struct bench_case *many, const struct many_flows_fill *fill)
{
	__u64 lookups = many->total[HBLB_R_FLOW_HIT] + many->total[HBLB_R_FLOW_NEW] +
			many->total[HBLB_R_FLOW_RESTEER];
	struct bench_json j;
	bool ok = true;
	int err;

	err = bench_json_open(&j, path, "datapath");
	if (err)
		return err;
	bench_json_num(&j, repeat, "repeat");
	bench_json_num(&j, runs, "runs");
	for (int i = 0; i < ncases; i++) {
		const struct bench_case *c = &cases[i];

		if (c->err || c->bad) {
			ok = false;
			continue;
		}
		bench_json_num(&j, c->median, "%s_ns", c->name);
		bench_json_num(&j, c->min, "%s_min_ns", c->name);
		bench_json_num(&j, c->max, "%s_max_ns", c->name);
		if (c != floor_tx)
			bench_json_num(&j, ratio(c, floor_tx), "%s_ratio", c->name);
	}
	bench_json_num(&j, ok, "counters_ok");
	/* how "established" the 1M-flow case was: its flows resident after
	 * the pre-fill, and the share of its timed packets that hit */
	bench_json_num(&j, fill->new - fill->evict, "established_1m_flows_resident");
	if (lookups)
		bench_json_num(&j, (double)many->total[HBLB_R_FLOW_HIT] / lookups,
			       "established_1m_flows_hit_share");
	return bench_json_close(&j);
}

static void print_table(const struct bench_case *cases, int ncases,
			const struct bench_case *floor_tx)
{
	printf("%-22s %9s %6s %6s %9s %12s  %s\n", "case", "median ns", "min", "max",
	       "x floor_tx", "target", "counters");
	for (int i = 0; i < ncases; i++) {
		const struct bench_case *c = &cases[i];
		char target[32] = "-";
		double x = ratio(c, floor_tx);

		if (c->err) {
			printf("%-22s %9s %6s %6s %9s %12s  %s\n", c->name, "-", "-", "-", "-", "-",
			       "did not run");
			continue;
		}
		if (c->target > 0)
			snprintf(target, sizeof(target), "<= %.1fx %s", c->target,
				 c->bad ? "n/a" : x <= c->target ? "PASS" : "MISS");
		printf("%-22s %9.1f %6u %6u %9.2fx %12s  %s\n", c->name, c->median, c->min, c->max,
		       x, target, !c->h ? "-" : c->bad ? c->note : "ok");
	}
}

/* ---- main ------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fprintf(f, "Usage: bench_datapath [--repeat N] [--runs N] [--quick] [--json FILE] [-v]\n"
		   "  --repeat N   repetitions per timed run (default 1000000)\n"
		   "  --runs N     timed runs per case, median and min/max reported (default 5, max %d)\n"
		   "  --quick      --repeat 100000 --runs 3\n"
		   "  --json FILE  write {\"datapath\": {...}} there (e.g. build/bench/datapath.json)\n"
		   "  -v           debug messages, including libbpf's\n", MAX_RUNS);
}

static bool parse_count(const char *s, unsigned long max, unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 10);
	return !errno && *s && !*end && *v >= 1 && *v <= max;
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "repeat", required_argument, NULL, 'r' },
		{ "runs", required_argument, NULL, 'n' },
		{ "quick", no_argument, NULL, 'q' },
		{ "json", required_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	unsigned long repeat = 0, runs = 0;
	const char *json = NULL;
	struct floor_pass_bpf *fp = NULL;
	struct floor_tx_bpf *ft = NULL;
	struct hblb est = { 0 }, nf = { 0 }, many = { 0 };
	struct frame ack, ack_other, hb, hb_auth, hb_forged;
	static const __u8 wrong_key[16] = { 1 };
	struct many_flows_fill fill = { 0 };
	bool quick = false, failed = false;
	int opt, verbose = 0, err;

	while ((opt = getopt_long(argc, argv, "vh", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			if (!parse_count(optarg, 0xffffffffUL, &repeat)) {
				fprintf(stderr, "--repeat takes a count from 1 to 2^32-1\n");
				return EXIT_FAILURE;
			}
			break;
		case 'n':
			if (!parse_count(optarg, MAX_RUNS, &runs)) {
				fprintf(stderr, "--runs takes a count from 1 to %d\n", MAX_RUNS);
				return EXIT_FAILURE;
			}
			break;
		case 'q':
			quick = true;
			break;
		case 'j':
			json = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return EXIT_FAILURE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_FAILURE;
	}
	/* explicit --repeat/--runs win over --quick, whatever the order */
	if (!repeat)
		repeat = quick ? 100000 : 1000000;
	if (!runs)
		runs = quick ? 3 : 5;
	log_init(verbose);

	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0) {
		pr_err("cannot count the possible CPUs: %s", strerror(ncpus ? -ncpus : EINVAL));
		return EXIT_FAILURE;
	}
	if (frame_tcp_ack(&ack, VIP, VIP_PORT) || frame_tcp_ack(&ack_other, LB_ADDR, 22) ||
	    frame_heartbeat(&hb) || frame_heartbeat_auth(&hb_auth, bench_key) ||
	    frame_heartbeat_auth(&hb_forged, wrong_key)) {
		pr_err("cannot build the test frames");
		return EXIT_FAILURE;
	}

	fp = floor_pass_bpf__open_and_load();
	ft = fp ? floor_tx_bpf__open_and_load() : NULL;
	if (!fp || !ft) {
		err = -errno;
		pr_err("cannot load the floor programs: %s (run with -v for libbpf's messages)",
		       strerror(-err));
		goto out;
	}
	/* three instances: the hit case must not share its flow table with
	 * the cases that churn theirs */
	err = setup_instance(&est, 0);
	if (!err)
		err = setup_instance(&nf, NEW_FLOW_BUCKETS);
	if (!err)
		err = setup_instance(&many, 0);
	if (err)
		goto out;

	struct bench_case cases[] = {
		{ .name = "floor_pass", .prog_fd = bpf_program__fd(fp->progs.floor_pass),
		  .f = &ack, .verdict = XDP_PASS },
		{ .name = "floor_tx", .prog_fd = bpf_program__fd(ft->progs.floor_tx),
		  .f = &ack, .verdict = XDP_TX },
		{ .name = "established", .prog_fd = bpf_program__fd(est.skel->progs.hblb_xdp),
		  .f = &ack, .h = &est, .verdict = XDP_TX, .target = 2.0,
		  .moved = REASONS(HBLB_R_FLOW_HIT, HBLB_R_TX_FORWARDED) },
		{ .name = "established_1m_flows", .prog_fd = bpf_program__fd(many.skel->progs.hblb_bench_vary),
		  .f = &ack, .h = &many, .verdict = XDP_TX, .mix = true },
		{ .name = "new_flow", .prog_fd = bpf_program__fd(nf.skel->progs.hblb_bench_vary),
		  .f = &ack, .h = &nf, .verdict = XDP_TX, .target = 10.0,
		  .moved = REASONS(HBLB_R_FLOW_NEW, HBLB_R_FLOW_EVICT, HBLB_R_TX_FORWARDED) },
		{ .name = "heartbeat", .prog_fd = bpf_program__fd(est.skel->progs.hblb_xdp),
		  .f = &hb, .h = &est, .verdict = XDP_DROP, .target = 4.0, .hb = true,
		  .moved = REASONS(HBLB_R_HB_ACCEPTED, HBLB_R_DROP_HEARTBEAT) },
		{ .name = "non_service", .prog_fd = bpf_program__fd(est.skel->progs.hblb_xdp),
		  .f = &ack_other, .h = &est, .verdict = XDP_PASS,
		  .moved = REASONS(HBLB_R_PASS_NOT_SERVICE) },
		/* reported, no target: parse, SipHash of 74 bytes, CAS, record */
		{ .name = "heartbeat_auth", .prog_fd = bpf_program__fd(est.skel->progs.hblb_bench_auth),
		  .f = &hb_auth, .h = &est, .verdict = XDP_DROP,
		  .moved = REASONS(HBLB_R_HB_ACCEPTED, HBLB_R_DROP_HEARTBEAT) },
		/* what a forger costs: parse and one SipHash, then refused */
		{ .name = "heartbeat_forged", .prog_fd = bpf_program__fd(est.skel->progs.hblb_xdp),
		  .f = &hb_forged, .h = &est, .verdict = XDP_DROP,
		  .moved = REASONS(HBLB_R_HB_AUTH_BAD, HBLB_R_DROP_HEARTBEAT) },
	};
	const int ncases = sizeof(cases) / sizeof(cases[0]);

	err = prepare_established(&est, &cases[2]);
	if (err) {
		pr_err("established: cannot insert the flow: %s", strerror(-err));
		goto out;
	}
	err = prepare_new_flow(&nf, &cases[4]);
	if (err) {
		pr_err("new_flow: cannot fill the flow table: %s", strerror(-err));
		goto out;
	}
	err = prepare_many_flows(&many, &cases[3], &fill);
	if (err) {
		pr_err("established_1m_flows: cannot insert the flows: %s", strerror(-err));
		goto out;
	}
	printf("established_1m_flows pre-fill: %llu new flows, %llu evicted another (%llu resident)\n",
	       (unsigned long long)fill.new, (unsigned long long)fill.evict,
	       (unsigned long long)(fill.new - fill.evict));

	/* warm caches and clocks; these runs are neither timed nor checked */
	for (int i = 0; i < ncases; i++) {
		__u32 retval;

		err = test_run(cases[i].prog_fd, cases[i].f,
			       repeat < WARMUP_REPEAT ? repeat : WARMUP_REPEAT, &retval, NULL);
		if (err) {
			pr_err("%s: BPF_PROG_TEST_RUN failed: %s", cases[i].name, strerror(-err));
			goto out;
		}
	}
	/* interleaved, each run starting at the next case, so that neither
	 * drift nor position favours one */
	for (unsigned long run = 0; run < runs; run++) {
		for (int k = 0; k < ncases; k++) {
			struct bench_case *c = &cases[(k + run) % ncases];

			if (!c->err && time_case(c, repeat, run))
				failed = true;
		}
	}
	for (int i = 0; i < ncases; i++) {
		if (!cases[i].err)
			summarize(&cases[i], runs);
		failed |= cases[i].err || cases[i].bad;
	}

	printf("\n%u repetitions x %lu runs, kernel-reported ns per repetition\n",
	       (unsigned)repeat, runs);
	print_table(cases, ncases, &cases[1]);
	printf("\nestablished_1m_flows over the timed runs: "
	       "%llu hits, %llu new (%llu evicting), %llu re-steered\n",
	       (unsigned long long)cases[3].total[HBLB_R_FLOW_HIT],
	       (unsigned long long)cases[3].total[HBLB_R_FLOW_NEW],
	       (unsigned long long)cases[3].total[HBLB_R_FLOW_EVICT],
	       (unsigned long long)cases[3].total[HBLB_R_FLOW_RESTEER]);
	if (cases[1].err || cases[1].bad) {
		pr_err("floor_tx did not run as it should: no ratios");
		err = -EPROTO;
		goto out;
	}
	if (json)
		err = write_json(json, repeat, runs, cases, ncases, &cases[1], &cases[3], &fill);
out:
	hblb_close(&many);
	hblb_close(&nf);
	hblb_close(&est);
	floor_tx_bpf__destroy(ft);
	floor_pass_bpf__destroy(fp);
	return err || failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
