// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Data-path fixtures through BPF_PROG_TEST_RUN: each case sets map state,
 * runs one input frame, and checks the verdict, the output frame, every
 * global counter (the ones named must move by exactly their amount, all
 * others must not move), and the heartbeat records and flow table.
 * Needs root and a BPF-capable kernel; loads the program without pins.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "auth.h"
#include "loader.h"
#include "siphash.h"
#include "log.h"
#include "testing.h"
#include "packets.h"
#include "pcapng.h"

#define TABLE_SIZE   251            /* prime, small enough to reason about */
#define FLOW_BUCKETS 64
#define IFINDEX      1              /* lo: exists in every namespace */

#define IP(a, b, c, d) (((__u32)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))
#define VIP        IP(198, 18, 0, 100)
#define LB_ADDR    IP(198, 18, 0, 2)
#define CLIENT     IP(198, 18, 0, 1)
#define REAL0      IP(198, 18, 0, 11)   /* the Apache backend in the capture */
#define REAL1      IP(198, 18, 0, 12)
#define REAL2      IP(198, 18, 0, 13)
#define STRANGER   IP(198, 18, 0, 99)
#define HB_GROUP   IP(239, 0, 0, 1)

/* services */
#define SVC_TCP   0                 /* VIP:80/tcp, backends 0, 1, 2 */
#define SVC_UDP   1                 /* VIP:53/udp, backend 3 */
#define SVC_EMPTY 2                 /* VIP:8080/tcp, no backend */
#define NBACKENDS 4

static const __u8 lb_mac[6] = { 0x02, 0, 0, 0, 0, 0xfe };
static const __u8 client_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const __u8 hb_mcast_mac[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };

static struct hblb h;
static int ncpus;
static const char *shared_dir = "../shared";

/* ---- map helpers ------------------------------------------------------- */

static int fd_of(struct bpf_map *m)
{
	return bpf_map__fd(m);
}

static void stats_read(__u64 *out)
{
	__u64 vals[ncpus];

	for (__u32 r = 0; r < HBLB_R_MAX; r++) {
		out[r] = 0;
		if (bpf_map_lookup_elem(fd_of(h.skel->maps.hblb_stats), &r, vals) == 0)
			for (int c = 0; c < ncpus; c++)
				out[r] += vals[c];
	}
}

struct hb_view {
	__u64 count, last_ns;
	__u32 ready, busy;
	__u16 port;
};

/* Sums the per-CPU record as the controller will: counts add up, the rest
 * comes from the CPU that saw the latest heartbeat. */
static struct hb_view hb_read(__u32 real_id)
{
	struct hblb_hb_record recs[ncpus];
	struct hb_view v = { 0 };

	if (bpf_map_lookup_elem(fd_of(h.skel->maps.hblb_hb), &real_id, recs))
		return v;
	for (int c = 0; c < ncpus; c++) {
		v.count += recs[c].count;
		if (recs[c].last_ns >= v.last_ns && recs[c].count) {
			v.last_ns = recs[c].last_ns;
			v.ready = recs[c].ready;
			v.busy = recs[c].busy;
			v.port = recs[c].port;
		}
	}
	return v;
}

static void hb_clear(void)
{
	struct hblb_hb_record zero[ncpus];

	memset(zero, 0, sizeof(zero));
	for (__u32 id = 0; id < 4; id++)
		bpf_map_update_elem(fd_of(h.skel->maps.hblb_hb), &id, zero, BPF_ANY);
}

static void flows_read(struct hblb_flow_bucket *out)
{
	for (__u32 b = 0; b < FLOW_BUCKETS; b++)
		bpf_map_lookup_elem(fd_of(h.skel->maps.hblb_flows), &b, &out[b]);
}

static void flows_clear(void)
{
	struct hblb_flow_bucket empty = { 0 };

	for (__u32 b = 0; b < FLOW_BUCKETS; b++)
		bpf_map_update_elem(fd_of(h.skel->maps.hblb_flows), &b, &empty, BPF_ANY);
}

static void set_config(__u16 flags)
{
	struct hblb_config cfg = h.cfg;
	__u32 zero = 0;

	cfg.flags = flags;
	bpf_map_update_elem(fd_of(h.skel->maps.hblb_config), &zero, &cfg, BPF_ANY);
}

static void set_iface(int enabled)
{
	struct hblb_iface ifc = { .enabled = enabled };
	__u32 idx = IFINDEX;

	memcpy(ifc.mac, lb_mac, 6);
	bpf_map_update_elem(fd_of(h.skel->maps.hblb_ifaces), &idx, &ifc, BPF_ANY);
}

static void backend_mac(__u32 id, __u8 *mac)
{
	static const __u8 base[6] = { 0x02, 0, 0, 0, 0xbe, 0 };

	memcpy(mac, base, 6);
	mac[5] = id;
}

static const struct hblb_service_key svc_keys[] = {
	[SVC_TCP] = { .vip = __builtin_bswap32(VIP), .port = __builtin_bswap16(80), .proto = IPPROTO_TCP },
	[SVC_UDP] = { .vip = __builtin_bswap32(VIP), .port = __builtin_bswap16(53), .proto = IPPROTO_UDP },
	[SVC_EMPTY] = { .vip = __builtin_bswap32(VIP), .port = __builtin_bswap16(8080), .proto = IPPROTO_TCP },
};

static void set_backend(__u32 id, __u32 svc, __u32 real, __u32 addr, __u8 state)
{
	struct hblb_backend be = {
		.addr = htonl(addr), .state = state, .service_id = svc, .real_id = real,
		.service = svc_keys[svc],
	};

	backend_mac(id, be.mac);
	bpf_map_update_elem(fd_of(h.skel->maps.hblb_backends), &id, &be, BPF_ANY);
}

static void set_backend_state(__u32 id, __u8 state)
{
	struct hblb_backend be;

	bpf_map_lookup_elem(fd_of(h.skel->maps.hblb_backends), &id, &be);
	be.state = state;
	bpf_map_update_elem(fd_of(h.skel->maps.hblb_backends), &id, &be, BPF_ANY);
}

/* Table for a service: the given backends in turn (none: all empty). */
static void install_table(__u32 svc, const __u16 *ids, int n)
{
	__u16 entries[TABLE_SIZE];

	for (int i = 0; i < TABLE_SIZE; i++)
		entries[i] = n ? ids[i % n] : HBLB_BACKEND_NONE;
	CHECK_EQ(hblb_table_install(&h, svc, entries), 0);
}

static void add_service(__u32 vip, __u16 port, __u8 proto, __u32 id)
{
	struct hblb_service_key k = { .vip = htonl(vip), .port = htons(port), .proto = proto };
	struct hblb_service v = { .id = id };

	hblb_vip_mark(&h, k.vip);
	bpf_map_update_elem(fd_of(h.skel->maps.hblb_services), &k, &v, BPF_ANY);
}

static void add_real(__u32 addr, __u32 id)
{
	__be32 k = htonl(addr);
	struct hblb_real v = { .id = id };

	bpf_map_update_elem(fd_of(h.skel->maps.hblb_reals), &k, &v, BPF_ANY);
}

static const __u16 tcp_backends[] = { 0, 1, 2 };
static const __u16 udp_backends[] = { 3 };

/* The reference state every case starts from. */
static void reset_state(void)
{
	set_config(0);
	set_iface(1);
	set_backend(0, SVC_TCP, 0, REAL0, HBLB_BE_UP);
	set_backend(1, SVC_TCP, 1, REAL1, HBLB_BE_UP);
	set_backend(2, SVC_TCP, 2, REAL2, HBLB_BE_UP);
	set_backend(3, SVC_UDP, 0, REAL0, HBLB_BE_UP);
	install_table(SVC_TCP, tcp_backends, 3);
	install_table(SVC_UDP, udp_backends, 1);
	install_table(SVC_EMPTY, NULL, 0);
	flows_clear();
	hb_clear();
}

static int setup(void)
{
	struct hblb_load_opts o = {
		.no_pin = true, .table_size = TABLE_SIZE, .max_services = 8,
		.flow_buckets = FLOW_BUCKETS,
	};
	int err = hblb_open(&h, &o);

	if (err)
		return err;
	ncpus = libbpf_num_possible_cpus();
	add_service(VIP, 80, IPPROTO_TCP, SVC_TCP);
	add_service(VIP, 53, IPPROTO_UDP, SVC_UDP);
	add_service(VIP, 8080, IPPROTO_TCP, SVC_EMPTY);
	add_real(REAL0, 0);
	add_real(REAL1, 1);
	add_real(REAL2, 2);
	reset_state();
	return 0;
}

/* ---- frames -------------------------------------------------------------- */

struct frame {
	__u8 buf[2048];
	size_t len, ip_off, l4_off;
};

static void frame_build(struct frame *f, const struct pkt_spec *s)
{
	f->len = pkt_build(s, f->buf, sizeof(f->buf), &f->ip_off, &f->l4_off);
}

static struct pkt_spec tcp_to(__u32 daddr, __u16 dport, __u16 sport, __u8 flags)
{
	struct pkt_spec s = {
		.saddr = CLIENT, .daddr = daddr, .proto = IPPROTO_TCP,
		.sport = sport, .dport = dport, .tcp_flags = flags,
	};

	memcpy(s.dst_mac, lb_mac, 6);
	memcpy(s.src_mac, client_mac, 6);
	return s;
}

static struct pkt_spec udp_to(__u32 saddr, __u32 daddr, __u16 dport, const char *payload, size_t len)
{
	struct pkt_spec s = {
		.saddr = saddr, .daddr = daddr, .proto = IPPROTO_UDP,
		.sport = 40000, .dport = dport, .payload = payload, .payload_len = len,
	};

	memcpy(s.dst_mac, (daddr >> 28) == 0xe ? hb_mcast_mac : lb_mac, 6);
	memcpy(s.src_mac, client_mac, 6);
	return s;
}

static struct pkt_spec heartbeat(__u32 saddr, const char *payload)
{
	return udp_to(saddr, HB_GROUP, HBLB_HB_PORT_DEFAULT, payload, strlen(payload));
}

/* ---- running a frame and checking everything it may change -------------- */

struct result {
	__u32 verdict;
	__u8 out[2048];
	__u32 out_len;
	__s64 stats[HBLB_R_MAX];        /* counter deltas */
};

static int run(const struct frame *f, struct result *r)
{
	struct xdp_md ctx_in = { .data_end = f->len, .ingress_ifindex = IFINDEX };
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		    .data_in = f->buf, .data_size_in = f->len,
		    .data_out = r->out, .data_size_out = sizeof(r->out),
		    .ctx_in = &ctx_in, .ctx_size_in = sizeof(ctx_in),
		    .repeat = 1);
	__u64 before[HBLB_R_MAX], after[HBLB_R_MAX];
	int err;

	stats_read(before);
	err = bpf_prog_test_run_opts(bpf_program__fd(h.skel->progs.hblb_xdp), &opts);
	stats_read(after);
	r->verdict = opts.retval;
	r->out_len = opts.data_size_out;
	for (int i = 0; i < HBLB_R_MAX; i++)
		r->stats[i] = after[i] - before[i];
	return err ? -errno : 0;
}

/* Checks that exactly the listed reasons moved, each by one. */
static void check_reasons(const struct result *r, const int *reasons)
{
	__s64 want[HBLB_R_MAX] = { 0 };
	__s64 verdicts = 0;

	for (; *reasons >= 0; reasons++)
		want[*reasons]++;
	for (int i = 0; i < HBLB_R_MAX; i++) {
		CHECK(r->stats[i] == want[i], "counter %d moved by %lld, expected %lld",
		      i, (long long)r->stats[i], (long long)want[i]);
		if (i <= HBLB_R_TX_FORWARDED)
			verdicts += r->stats[i];
	}
	CHECK(verdicts == 1, "%lld verdict reasons counted, expected exactly 1", (long long)verdicts);
}

static void check_unchanged(const struct frame *f, const struct result *r)
{
	CHECK(r->out_len == f->len && memcmp(r->out, f->buf, f->len) == 0,
	      "output frame differs from the input");
}

/* Output must be the input with dst MAC = backend's, src MAC = ours. */
static void check_forwarded(const struct frame *f, const struct result *r, __u32 backend)
{
	__u8 mac[6];

	backend_mac(backend, mac);
	CHECK_EQ(r->verdict, XDP_TX);
	CHECK(r->out_len == f->len, "output length %u, input %zu", r->out_len, f->len);
	CHECK(memcmp(r->out, mac, 6) == 0, "dst MAC is not backend %u's (last byte %02x)",
	      backend, r->out[5]);
	CHECK(memcmp(r->out + 6, lb_mac, 6) == 0, "src MAC is not the interface's");
	CHECK(memcmp(r->out + 12, f->buf + 12, f->len - 12) == 0, "bytes after the MACs changed");
}

/* Backend the table would pick for this TCP/UDP frame. */
static __u32 expected_pick(const struct frame *f, __u32 svc)
{
	const struct iphdr *ip = (const void *)(f->buf + f->ip_off);
	const __u16 *ports = (const void *)(f->buf + f->l4_off);
	__u32 hash = hblb_flow_hash(ip->saddr, ip->daddr, ports[0], ports[1], ip->protocol,
				    h.cfg.hash_seed);

	return hblb_table_entry(&h, svc, hash % TABLE_SIZE);
}

#define REASONS(...) ((const int[]){ __VA_ARGS__, -1 })

/* ---- stateless fixtures: frame in, verdict + reasons + output out -------- */

enum out_kind { OUT_UNCHANGED, OUT_FORWARDED };

struct fixture {
	const char *name;
	struct pkt_spec spec;
	void (*mutate)(struct frame *f);
	__u32 verdict;
	const int *reasons;
	enum out_kind out;
	__u32 svc;                      /* for OUT_FORWARDED: pick from this table */
};

static void mut_ihl4(struct frame *f) { f->buf[f->ip_off] = 0x44; }
static void mut_version6(struct frame *f) { f->buf[f->ip_off] = 0x65; }
static void mut_ip_options(struct frame *f)
{
	/* one 4-byte NOP option: ihl 6, everything after it moves by 4 */
	memmove(f->buf + f->ip_off + 24, f->buf + f->ip_off + 20, f->len - f->ip_off - 20);
	memset(f->buf + f->ip_off + 20, 1, 4);
	f->buf[f->ip_off] = 0x46;
	f->len += 4;
	*(__u16 *)(f->buf + f->ip_off + 2) = htons(f->len - f->ip_off);
}
static void mut_frag_mf(struct frame *f) { *(__u16 *)(f->buf + f->ip_off + 6) = htons(0x2000); }
static void mut_frag_off(struct frame *f) { *(__u16 *)(f->buf + f->ip_off + 6) = htons(0x0010); }
static void mut_tot_len_long(struct frame *f) { *(__u16 *)(f->buf + f->ip_off + 2) = htons(f->len - f->ip_off + 1); }
static void mut_tot_len_short(struct frame *f) { *(__u16 *)(f->buf + f->ip_off + 2) = htons(19); }
static void mut_doff4(struct frame *f) { f->buf[f->l4_off + 12] = 0x40; }
static void mut_doff15(struct frame *f) { f->buf[f->l4_off + 12] = 0xf0; }
static void mut_udp_len_long(struct frame *f) { *(__u16 *)(f->buf + f->l4_off + 4) = htons(ntohs(*(__u16 *)(f->buf + f->l4_off + 4)) + 1); }
static void mut_udp_len_short(struct frame *f) { *(__u16 *)(f->buf + f->l4_off + 4) = htons(7); }
static void mut_not_our_mac(struct frame *f) { f->buf[5] = 0x77; }
static void mut_ethernet_padding(struct frame *f)
{
	/* bytes after the IP packet, as on a minimum-size Ethernet frame */
	memset(f->buf + f->len, 0, 6);
	f->len += 6;
}
static void mut_arp(struct frame *f) { f->buf[12] = 0x08; f->buf[13] = 0x06; }
static void mut_ipv6(struct frame *f) { f->buf[12] = 0x86; f->buf[13] = 0xdd; }
static void mut_tcp_to_l4_trunc(struct frame *f)
{
	/* IP length agrees with the frame but leaves room for 10 TCP bytes */
	f->len = f->l4_off + 10;
	*(__u16 *)(f->buf + f->ip_off + 2) = htons(f->len - f->ip_off);
}

static const struct fixture fixtures[] = {
	{ "tcp syn to service", .mutate = NULL, .verdict = XDP_TX,
	  .reasons = REASONS(HBLB_R_TX_FORWARDED, HBLB_R_FLOW_NEW), .out = OUT_FORWARDED, .svc = SVC_TCP },
	{ "tcp syn with ethernet padding", .mutate = mut_ethernet_padding, .verdict = XDP_TX,
	  .reasons = REASONS(HBLB_R_TX_FORWARDED, HBLB_R_FLOW_NEW), .out = OUT_FORWARDED, .svc = SVC_TCP },
	{ "service frame not addressed to our MAC", .mutate = mut_not_our_mac, .verdict = XDP_PASS,
	  .reasons = REASONS(HBLB_R_PASS_NOT_OURS), .out = OUT_UNCHANGED },
	{ "ipv4 with options", .mutate = mut_ip_options, .verdict = XDP_PASS,
	  .reasons = REASONS(HBLB_R_PASS_IP_OPTIONS), .out = OUT_UNCHANGED },
	{ "ipv4 fragment (MF)", .mutate = mut_frag_mf, .verdict = XDP_PASS,
	  .reasons = REASONS(HBLB_R_PASS_IP_FRAGMENT), .out = OUT_UNCHANGED },
	{ "ipv4 fragment (offset)", .mutate = mut_frag_off, .verdict = XDP_PASS,
	  .reasons = REASONS(HBLB_R_PASS_IP_FRAGMENT), .out = OUT_UNCHANGED },
	{ "ihl < 5", .mutate = mut_ihl4, .verdict = XDP_DROP,
	  .reasons = REASONS(HBLB_R_DROP_BAD_IP_HDR), .out = OUT_UNCHANGED },
	{ "ip version 6 in an ipv4 frame", .mutate = mut_version6, .verdict = XDP_DROP,
	  .reasons = REASONS(HBLB_R_DROP_BAD_IP_HDR), .out = OUT_UNCHANGED },
	{ "tot_len beyond the frame", .mutate = mut_tot_len_long, .verdict = XDP_DROP,
	  .reasons = REASONS(HBLB_R_DROP_BAD_IP_LEN), .out = OUT_UNCHANGED },
	{ "tot_len below the header", .mutate = mut_tot_len_short, .verdict = XDP_DROP,
	  .reasons = REASONS(HBLB_R_DROP_BAD_IP_LEN), .out = OUT_UNCHANGED },
	{ "tcp doff < 5", .mutate = mut_doff4, .verdict = XDP_DROP,
	  .reasons = REASONS(HBLB_R_DROP_BAD_DOFF), .out = OUT_UNCHANGED },
	{ "tcp doff beyond the packet", .mutate = mut_doff15, .verdict = XDP_DROP,
	  .reasons = REASONS(HBLB_R_DROP_BAD_DOFF), .out = OUT_UNCHANGED },
	{ "tcp header cut short within the ip length", .mutate = mut_tcp_to_l4_trunc, .verdict = XDP_DROP,
	  .reasons = REASONS(HBLB_R_DROP_TRUNC_L4), .out = OUT_UNCHANGED },
	{ "arp", .mutate = mut_arp, .verdict = XDP_PASS, REASONS(HBLB_R_PASS_NOT_IPV4), OUT_UNCHANGED },
	{ "ipv6", .mutate = mut_ipv6, .verdict = XDP_PASS, REASONS(HBLB_R_PASS_NOT_IPV4), OUT_UNCHANGED },
};

static void run_fixture(const struct fixture *fx, const struct pkt_spec *spec)
{
	struct hblb_flow_bucket fb[FLOW_BUCKETS], fa[FLOW_BUCKETS];
	struct frame f;
	struct result r;

	test_begin(fx->name);
	reset_state();
	frame_build(&f, spec);
	if (fx->mutate)
		fx->mutate(&f);
	flows_read(fb);
	if (CHECK_EQ(run(&f, &r), 0)) {
		CHECK_EQ(r.verdict, fx->verdict);
		check_reasons(&r, fx->reasons);
		if (fx->out == OUT_FORWARDED)
			check_forwarded(&f, &r, expected_pick(&f, fx->svc));
		else
			check_unchanged(&f, &r);
		flows_read(fa);
		if (fx->out == OUT_UNCHANGED)
			CHECK(memcmp(fa, fb, sizeof(fa)) == 0, "flow table changed");
		CHECK_EQ(hb_read(0).count + hb_read(1).count + hb_read(2).count, 0);
	}
	test_end();
}

static void test_fixture_table(void)
{
	struct pkt_spec syn = tcp_to(VIP, 80, 33000, PKT_TCP_SYN);

	for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++)
		run_fixture(&fixtures[i], &syn);
}

/* Runs one frame from reset state and checks verdict, reasons and output. */
static void expect(const char *name, const struct pkt_spec *spec, void (*mutate)(struct frame *),
		   __u32 verdict, const int *reasons, enum out_kind out, __u32 svc)
{
	struct fixture fx = {
		.name = name, .mutate = mutate, .verdict = verdict,
		.reasons = reasons, .out = out, .svc = svc,
	};

	run_fixture(&fx, spec);
}

/* ---- other traffic ---------------------------------------------------------- */

static void test_other_traffic(void)
{
	struct pkt_spec s;

	s = tcp_to(IP(198, 18, 0, 200), 80, 33000, PKT_TCP_SYN);
	expect("ipv4 to a non-service address", &s, NULL, XDP_PASS,
	       REASONS(HBLB_R_PASS_NOT_SERVICE), OUT_UNCHANGED, 0);
	s = tcp_to(VIP, 81, 33000, PKT_TCP_SYN);
	expect("ipv4 to the VIP on a non-service port", &s, NULL, XDP_PASS,
	       REASONS(HBLB_R_PASS_NOT_SERVICE), OUT_UNCHANGED, 0);
	s = udp_to(CLIENT, VIP, 80, "x", 1);
	expect("udp to a tcp-only service port", &s, NULL, XDP_PASS,
	       REASONS(HBLB_R_PASS_NOT_SERVICE), OUT_UNCHANGED, 0);
	{
		/* build as UDP, then relabel: the bytes after the IP header are opaque */
		struct pkt_spec u = udp_to(CLIENT, VIP, 80, "ping", 4);
		struct frame f;
		struct result r;

		test_begin("icmp to the VIP");
		reset_state();
		frame_build(&f, &u);
		f.buf[f.ip_off + 9] = IPPROTO_ICMP;
		if (CHECK_EQ(run(&f, &r), 0)) {
			CHECK_EQ(r.verdict, XDP_PASS);
			check_reasons(&r, REASONS(HBLB_R_PASS_NOT_SERVICE));
			check_unchanged(&f, &r);
		}
		test_end();
	}
	s = tcp_to(VIP, 80, 33000, PKT_TCP_SYN);
	s.vlans = 1;
	expect("service tcp with one vlan tag", &s, NULL, XDP_TX,
	       REASONS(HBLB_R_TX_FORWARDED, HBLB_R_FLOW_NEW), OUT_FORWARDED, SVC_TCP);
	s.vlans = 2;
	expect("service tcp with two vlan tags (QinQ)", &s, NULL, XDP_TX,
	       REASONS(HBLB_R_TX_FORWARDED, HBLB_R_FLOW_NEW), OUT_FORWARDED, SVC_TCP);
	s.vlans = 3;
	expect("three vlan tags", &s, NULL, XDP_PASS,
	       REASONS(HBLB_R_PASS_VLAN_DEPTH), OUT_UNCHANGED, 0);

	s = udp_to(CLIENT, VIP, 53, "query", 5);
	expect("udp to a udp service", &s, NULL, XDP_TX,
	       REASONS(HBLB_R_TX_FORWARDED, HBLB_R_FLOW_NEW), OUT_FORWARDED, SVC_UDP);
	expect("udp length beyond the ip payload", &s, mut_udp_len_long, XDP_DROP,
	       REASONS(HBLB_R_DROP_BAD_UDP_LEN), OUT_UNCHANGED, 0);
	expect("udp length below its header", &s, mut_udp_len_short, XDP_DROP,
	       REASONS(HBLB_R_DROP_BAD_UDP_LEN), OUT_UNCHANGED, 0);

	s = tcp_to(VIP, 8080, 33000, PKT_TCP_SYN);
	expect("service with no usable backend", &s, NULL, XDP_DROP,
	       REASONS(HBLB_R_DROP_NO_BACKEND), OUT_UNCHANGED, 0);

	/* interface not enabled: the program is loaded but this port is not ours */
	{
		struct pkt_spec syn = tcp_to(VIP, 80, 33000, PKT_TCP_SYN);
		struct frame f;
		struct result r;

		test_begin("interface not enabled");
		reset_state();
		set_iface(0);
		frame_build(&f, &syn);
		if (CHECK_EQ(run(&f, &r), 0)) {
			CHECK_EQ(r.verdict, XDP_PASS);
			check_reasons(&r, REASONS(HBLB_R_PASS_NOT_OURS));
			check_unchanged(&f, &r);
		}
		test_end();
	}
}

/* Every cut of a double-tagged service SYN short of its full length. */
static void test_truncation(void)
{
	struct pkt_spec s = tcp_to(VIP, 80, 33000, PKT_TCP_SYN);
	struct frame full, f;
	struct result r;
	int bad = 0;

	test_begin("truncation at every byte of a QinQ service frame");
	reset_state();
	s.vlans = 2;
	frame_build(&full, &s);
	for (size_t cut = 0; cut < full.len; cut++) {
		int want;

		f = full;
		f.len = cut;
		if (cut < full.ip_off)
			want = HBLB_R_DROP_TRUNC_ETH;           /* inside Ethernet or a tag */
		else if (cut < full.ip_off + 20)
			want = HBLB_R_DROP_TRUNC_IP;
		else
			want = HBLB_R_DROP_BAD_IP_LEN;          /* tot_len promises more */
		if (cut < ETH_HLEN) {
			/* BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet
			 * header, as no driver delivers them; the tags are next */
			continue;
		}
		if (run(&f, &r)) {
			CHECK(0, "test run failed at cut %zu: %s", cut, strerror(errno));
			break;
		}
		if (!CHECK(r.verdict == XDP_DROP && r.stats[want] == 1,
			   "cut at %zu: verdict %u, reason %d not counted", cut, r.verdict, want))
			bad++;
		if (bad > 3)
			break;
	}
	test_end();
}

/* ---- heartbeats -------------------------------------------------------------- */

struct capture_frame {
	struct frame f;
	int found;
};

static int take_first_heartbeat(const uint8_t *frame, uint32_t len, void *arg)
{
	struct capture_frame *c = arg;

	/* untagged IPv4/UDP to port 27999 */
	if (len < 42 || len > sizeof(c->f.buf) || frame[12] != 0x08 || frame[13] != 0x00 ||
	    frame[23] != IPPROTO_UDP || frame[36] != (27999 >> 8) || frame[37] != (27999 & 0xff))
		return 0;
	memcpy(c->f.buf, frame, len);
	c->f.len = len;
	c->f.ip_off = 14;
	c->f.l4_off = 34;
	c->found = 1;
	return 1;
}

static void check_heartbeat(const char *name, struct frame *f, int real, __u32 ready, __u32 busy,
			    __u16 port, const int *reasons, __u32 verdict)
{
	struct hblb_flow_bucket fb[FLOW_BUCKETS], fa[FLOW_BUCKETS];
	struct result r;

	test_begin(name);
	reset_state();
	flows_read(fb);
	if (CHECK_EQ(run(f, &r), 0)) {
		CHECK_EQ(r.verdict, verdict);
		check_reasons(&r, reasons);
		check_unchanged(f, &r);
		for (int id = 0; id < 3; id++) {
			struct hb_view v = hb_read(id);

			if (id == real) {
				CHECK_EQ(v.count, 1);
				CHECK_EQ(v.ready, ready);
				CHECK_EQ(v.busy, busy);
				CHECK_EQ(v.port, port);
				CHECK(v.last_ns != 0, "last_ns not set");
			} else {
				CHECK(v.count == 0, "real %d's record changed", id);
			}
		}
		flows_read(fa);
		CHECK(memcmp(fa, fb, sizeof(fa)) == 0, "flow table changed");
	}
	test_end();
}

static void hb_case(const char *name, __u32 saddr, const char *payload, size_t len,
		    int real, __u32 ready, __u32 busy, __u16 port, int reason)
{
	struct pkt_spec s = udp_to(saddr, HB_GROUP, HBLB_HB_PORT_DEFAULT, payload, len);
	struct frame f;

	frame_build(&f, &s);
	if (reason == HBLB_R_HB_ACCEPTED)
		check_heartbeat(name, &f, real, ready, busy, port,
				REASONS(HBLB_R_DROP_HEARTBEAT, HBLB_R_HB_ACCEPTED), XDP_DROP);
	else
		check_heartbeat(name, &f, -1, 0, 0, 0, REASONS(HBLB_R_DROP_HEARTBEAT, reason), XDP_DROP);
}

static void test_heartbeats(void)
{
	struct capture_frame cap = { 0 };
	char path[512], big[1100];
	struct pkt_spec s;
	struct frame f;
	int err;

	snprintf(path, sizeof(path), "%s/heartbeat/apache-heartbeat.pcap", shared_dir);
	err = pcapng_each(path, take_first_heartbeat, &cap);
	test_begin("apache capture is readable");
	CHECK(err >= 0 && cap.found, "no heartbeat frame read from %s: %s", path,
	      err < 0 ? strerror(-err) : "none found");
	test_end();
	if (cap.found) {
		/* the captured bytes as they arrived: multicast 239.0.0.1, 198.18.0.11 */
		check_heartbeat("apache heartbeat from the capture (multicast)", &cap.f, 0, 75, 0, 0,
				REASONS(HBLB_R_DROP_HEARTBEAT, HBLB_R_HB_ACCEPTED), XDP_DROP);
		/* same bytes sent unicast to the load balancer */
		f = cap.f;
		memcpy(f.buf, lb_mac, 6);
		*(__be32 *)(f.buf + f.ip_off + 16) = htonl(LB_ADDR);
		check_heartbeat("apache heartbeat payload, unicast", &f, 0, 75, 0, 0,
				REASONS(HBLB_R_DROP_HEARTBEAT, HBLB_R_HB_ACCEPTED), XDP_DROP);
		/* pass mode: counted, then handed to the kernel for mod_heartmonitor */
		{
			struct result r;

			test_begin("apache heartbeat in pass mode");
			reset_state();
			set_config(HBLB_CFG_PASS_HEARTBEATS);
			if (CHECK_EQ(run(&cap.f, &r), 0)) {
				CHECK_EQ(r.verdict, XDP_PASS);
				check_reasons(&r, REASONS(HBLB_R_PASS_HEARTBEAT, HBLB_R_HB_ACCEPTED));
				check_unchanged(&cap.f, &r);
				CHECK_EQ(hb_read(0).count, 1);
			}
			test_end();
		}
	}

#define HB(name, payload, ...) hb_case(name, REAL1, payload, strlen(payload), __VA_ARGS__)
	HB("fields reordered", "busy=3&ready=7&v=1", 1, 7, 3, 0, HBLB_R_HB_ACCEPTED);
	HB("extra port= field", "v=1&ready=75&busy=0&port=8080", 1, 75, 0, 8080, HBLB_R_HB_ACCEPTED);
	HB("unknown field ignored", "v=1&host=web1&ready=5&busy=1", 1, 5, 1, 0, HBLB_R_HB_ACCEPTED);
	HB("ready 0", "v=1&ready=0&busy=9", 1, 0, 9, 0, HBLB_R_HB_ACCEPTED);
	HB("ready 4294967295", "v=1&ready=4294967295&busy=4294967295", 1, 4294967295u,
	   4294967295u, 0, HBLB_R_HB_ACCEPTED);
	HB("value over 2^32-1", "v=1&ready=4294967296&busy=0", -1, 0, 0, 0, HBLB_R_HB_BAD_VALUE);
	HB("missing busy", "v=1&ready=5", -1, 0, 0, 0, HBLB_R_HB_MISSING_FIELD);
	HB("missing v", "ready=5&busy=0", -1, 0, 0, 0, HBLB_R_HB_MISSING_FIELD);
	HB("v=2", "v=2&ready=5&busy=0", -1, 0, 0, 0, HBLB_R_HB_BAD_VERSION);
	HB("non-ascii byte", "v=1&ready=5&busy=0&x=\xc3\xa9", -1, 0, 0, 0, HBLB_R_HB_BAD_CHAR);
	HB("empty value", "v=1&ready=&busy=0", -1, 0, 0, 0, HBLB_R_HB_BAD_VALUE);
	HB("field without =", "v=1&ready=5&busy=0&flag", -1, 0, 0, 0, HBLB_R_HB_BAD_SYNTAX);
	HB("duplicate field", "v=1&ready=5&ready=6&busy=0", -1, 0, 0, 0, HBLB_R_HB_DUPLICATE_FIELD);
	hb_case("empty payload", REAL1, "", 0, -1, 0, 0, 0, HBLB_R_HB_EMPTY);
	hb_case("unknown source", STRANGER, "v=1&ready=75&busy=0", 19, -1, 0, 0, 0,
		HBLB_R_HB_UNKNOWN_SOURCE);
#undef HB

	/* 1000 bytes is Apache's own cap: accepted; one more is refused */
	strcpy(big, "v=1&ready=42&busy=2&pad=");
	memset(big + strlen(big), 'a', 1000 - strlen(big));
	hb_case("1000-byte payload", REAL1, big, 1000, 1, 42, 2, 0, HBLB_R_HB_ACCEPTED);
	big[1000] = 'a';
	hb_case("1001-byte payload", REAL1, big, 1001, -1, 0, 0, 0, HBLB_R_HB_TOO_LONG);

	/* a known source on another port is ordinary traffic */
	s = udp_to(REAL1, HB_GROUP, HBLB_HB_PORT_DEFAULT - 1, "v=1&ready=5&busy=0", 18);
	expect("known source, wrong port", &s, NULL, XDP_PASS,
	       REASONS(HBLB_R_PASS_NOT_SERVICE), OUT_UNCHANGED, 0);

	/* heartbeat port moved by configuration */
	{
		struct hblb_config cfg = h.cfg;
		struct pkt_spec hb = udp_to(REAL2, HB_GROUP, 30000, "v=1&ready=8&busy=1", 18);
		__u32 zero = 0;
		struct result r;

		test_begin("configured heartbeat port");
		reset_state();
		cfg.hb_port = 30000;
		bpf_map_update_elem(fd_of(h.skel->maps.hblb_config), &zero, &cfg, BPF_ANY);
		frame_build(&f, &hb);
		if (CHECK_EQ(run(&f, &r), 0)) {
			check_reasons(&r, REASONS(HBLB_R_DROP_HEARTBEAT, HBLB_R_HB_ACCEPTED));
			CHECK_EQ(hb_read(2).ready, 8);
		}
		test_end();
	}
}

struct hb_thread {
	int cpu, prog_fd, err;
	struct frame *f;
	__u32 repeat;
};

static void *hb_thread_run(void *arg)
{
	struct hb_thread *t = arg;
	cpu_set_t set;
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = t->f->buf, .data_size_in = t->f->len,
		    .repeat = t->repeat);

	CPU_ZERO(&set);
	CPU_SET(t->cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	t->err = bpf_prog_test_run_opts(t->prog_fd, &opts) ? -errno : 0;
	return NULL;
}

/* Heartbeats received on every CPU at once are all counted. */
static void test_heartbeat_counts_exact(void)
{
	struct pkt_spec s = heartbeat(REAL0, "v=1&ready=75&busy=0");
	struct hb_thread t[2];
	pthread_t tid[2];
	struct frame f;
	int n = ncpus < 2 ? 1 : 2;

	test_begin("heartbeat counts exact across CPUs");
	reset_state();
	frame_build(&f, &s);
	for (int i = 0; i < n; i++) {
		t[i] = (struct hb_thread){ .cpu = i, .f = &f, .repeat = 200000,
					   .prog_fd = bpf_program__fd(h.skel->progs.hblb_xdp) };
		pthread_create(&tid[i], NULL, hb_thread_run, &t[i]);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(tid[i], NULL);
		CHECK_EQ(t[i].err, 0);
	}
	CHECK_EQ(hb_read(0).count, 200000ull * n);
	test_end();
}

/* ---- authenticated heartbeats ----------------------------------------------------
 * REAL1 must sign with the TCP service's key, REAL0 and REAL2 with the
 * global key; the UDP service has a key of its own. Each attack runs
 * between two genuine heartbeats: it must change no record and no replay
 * state and count exactly its reason, and the genuine sender must go on. */

static const __u8 key_tcp[16] = { 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
				  0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f };
static const __u8 key_udp[16] = { 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27,
				  0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f };
static const __u8 key_global[16] = { 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37,
				     0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f };
static const __u8 key_wrong[16] = { 0xde, 0xad, 0xbe, 0xef };

static void set_key(__u32 key_id, const __u8 *cur, const __u8 *prev)
{
	struct hblb_cfg_key cfg = { .n_keys = cur ? (prev ? 2 : 1) : 0 };
	struct hblb_key k = { 0 };

	if (cur)
		memcpy(cfg.key[0], cur, 16);
	if (prev)
		memcpy(cfg.key[1], prev, 16);
	k.n_keys = cfg.n_keys;
	for (__u32 slot = 0; slot < k.n_keys; slot++)
		sip_key(cfg.key[slot], &k.k[slot][0], &k.k[slot][1]);
	bpf_map_update_elem(fd_of(h.skel->maps.hblb_keys), &key_id, &k, BPF_ANY);
}

static void set_real_key(__u32 addr, __u32 id, __u32 key_id)
{
	__be32 a = htonl(addr);
	struct hblb_real v = { .id = id, .key_id = key_id };

	bpf_map_update_elem(fd_of(h.skel->maps.hblb_reals), &a, &v, BPF_ANY);
}

static __u64 seq_read(__u32 real_id)
{
	struct hblb_hb_seq v = { 0 };

	bpf_map_lookup_elem(fd_of(h.skel->maps.hblb_hb_seq), &real_id, &v);
	return v.last_seq;
}

static void seq_clear(void)
{
	struct hblb_hb_seq zero = { 0 };

	for (__u32 id = 0; id < 4; id++)
		bpf_map_update_elem(fd_of(h.skel->maps.hblb_hb_seq), &id, &zero, BPF_ANY);
}

static void auth_setup(void)
{
	reset_state();
	seq_clear();
	set_key(HBLB_KEY_GLOBAL, key_global, NULL);
	set_key(HBLB_KEY_SERVICE(SVC_TCP), key_tcp, NULL);
	set_key(HBLB_KEY_SERVICE(SVC_UDP), key_udp, NULL);
	set_real_key(REAL0, 0, HBLB_KEY_GLOBAL);
	set_real_key(REAL1, 1, HBLB_KEY_SERVICE(SVC_TCP));
	set_real_key(REAL2, 2, HBLB_KEY_GLOBAL);
}

static void auth_teardown(void)
{
	set_config(0);
	for (__u32 id = HBLB_KEY_GLOBAL; id < HBLB_KEY_SERVICE(3); id++)
		set_key(id, NULL, NULL);
	add_real(REAL0, 0);
	add_real(REAL1, 1);
	add_real(REAL2, 2);
	seq_clear();
}

/* A heartbeat from `from` signed for `signer` (the address the tag binds). */
static void signed_frame(struct frame *f, __u32 from, __u32 signer, __u32 ready, __u64 seq,
			 const __u8 *key)
{
	static char msg[8][160];
	static int next;
	char *m = msg[next++ % 8];
	struct pkt_spec s;
	int len = auth_message(m, 160, ready, 0, seq, key, htonl(signer));

	s = udp_to(from, HB_GROUP, HBLB_HB_PORT_DEFAULT, m, len > 0 ? len : 0);
	frame_build(f, &s);
}

static void set_ttl(struct frame *f, __u8 ttl)
{
	f->buf[f->ip_off + 8] = ttl;    /* XDP does not check the IP checksum */
}

/* Runs f from real_id: accepted (record +1 with ready, seq stored) or
 * refused with `reason` (record, seq and flows unchanged). */
static void auth_expect(struct frame *f, __u32 real_id, int reason, __u32 ready, __u64 seq,
			bool prev_key)
{
	struct hb_view before = hb_read(real_id), after;
	__u64 seq_before = seq_read(real_id);
	struct result r;

	if (!CHECK_EQ(run(f, &r), 0))
		return;
	CHECK_EQ(r.verdict, XDP_DROP);
	after = hb_read(real_id);
	if (reason == HBLB_R_HB_ACCEPTED) {
		if (prev_key)
			check_reasons(&r, REASONS(HBLB_R_DROP_HEARTBEAT, HBLB_R_HB_ACCEPTED,
						  HBLB_R_HB_AUTH_PREV_KEY));
		else
			check_reasons(&r, REASONS(HBLB_R_DROP_HEARTBEAT, HBLB_R_HB_ACCEPTED));
		CHECK(after.count == before.count + 1 && after.ready == ready,
		      "genuine heartbeat: count %llu -> %llu, ready %u (want %u)",
		      (unsigned long long)before.count, (unsigned long long)after.count, after.ready,
		      ready);
		CHECK(seq_read(real_id) == seq, "last seq %llu, want %llu",
		      (unsigned long long)seq_read(real_id), (unsigned long long)seq);
	} else {
		check_reasons(&r, REASONS(HBLB_R_DROP_HEARTBEAT, reason));
		CHECK(after.count == before.count && after.ready == before.ready &&
		      after.last_ns == before.last_ns, "refused heartbeat changed the record "
		      "(count %llu -> %llu, ready %u -> %u)", (unsigned long long)before.count,
		      (unsigned long long)after.count, before.ready, after.ready);
		CHECK(seq_read(real_id) == seq_before, "refused heartbeat moved the last seq");
	}
}

struct attack {
	const char *name;
	int reason;
	void (*make)(struct frame *f, const struct frame *genuine);
};

/* the genuine heartbeat before the attack is REAL1's seq 1000, ready 75 */
static void atk_wrong_key(struct frame *f, const struct frame *g)
{
	(void)g;
	signed_frame(f, REAL1, REAL1, 4242, 5000, key_wrong);
}

static void atk_replay(struct frame *f, const struct frame *g) { *f = *g; }

static void atk_old_seq(struct frame *f, const struct frame *g)
{
	(void)g;
	signed_frame(f, REAL1, REAL1, 4242, 999, key_tcp);
}

static void atk_truncated_tag(struct frame *f, const struct frame *g)
{
	char msg[160];
	int len = auth_message(msg, sizeof(msg), 4242, 0, 5000, key_tcp, htonl(REAL1));
	struct pkt_spec s = udp_to(REAL1, HB_GROUP, HBLB_HB_PORT_DEFAULT, msg, len - 1);

	(void)g;
	frame_build(f, &s);
}

static void atk_other_service_key(struct frame *f, const struct frame *g)
{
	(void)g;
	signed_frame(f, REAL1, REAL1, 4242, 5000, key_udp);
}

static void atk_plain(struct frame *f, const struct frame *g)
{
	struct pkt_spec s = heartbeat(REAL1, "v=1&ready=4242&busy=0");

	(void)g;
	frame_build(f, &s);
}

static void atk_tampered(struct frame *f, const struct frame *g)
{
	char *p;

	*f = *g;
	/* ready=75 -> ready=95 with the tag of 75 */
	p = memmem(f->buf + f->l4_off + 8, f->len - f->l4_off - 8, "ready=75", 8);
	if (p)
		p[6] = '9';
}

static void atk_other_backend(struct frame *f, const struct frame *g)
{
	(void)g;
	/* genuine for REAL2 (same global key as REAL0), sent as REAL1: REAL1's
	 * key differs; atk_cross_address below keeps the key the same */
	signed_frame(f, REAL1, REAL2, 4242, 5000, key_global);
}

static void atk_seq_overflow(struct frame *f, const struct frame *g)
{
	static const char m[] = "v=1&ready=4242&busy=0&seq=99999999999999999999&auth=0123456789abcdef";
	struct pkt_spec s = udp_to(REAL1, HB_GROUP, HBLB_HB_PORT_DEFAULT, m, sizeof(m) - 1);

	(void)g;
	frame_build(f, &s);
}

static void atk_extra_field(struct frame *f, const struct frame *g)
{
	static char m[160];
	int len = snprintf(m, sizeof(m), "v=1&ready=4242&busy=0&port=80&seq=5000");
	struct pkt_spec s;

	(void)g;
	/* a valid tag, but not hblb's form: keyed reals send that form only */
	len += snprintf(m + len, sizeof(m) - len, HBLB_AUTH_TAIL "%016llx",
			(unsigned long long)auth_tag(key_tcp, htonl(REAL1), m, len));
	s = udp_to(REAL1, HB_GROUP, HBLB_HB_PORT_DEFAULT, m, len);
	frame_build(f, &s);
}

static const struct attack attacks[] = {
	{ "spoofed source, wrong key", HBLB_R_HB_AUTH_BAD, atk_wrong_key },
	{ "replayed genuine packet", HBLB_R_HB_REPLAY, atk_replay },
	{ "old sequence number, genuine tag", HBLB_R_HB_REPLAY, atk_old_seq },
	{ "truncated tag", HBLB_R_HB_AUTH_MALFORMED, atk_truncated_tag },
	{ "key of another service", HBLB_R_HB_AUTH_BAD, atk_other_service_key },
	{ "plain Apache heartbeat ready=4242", HBLB_R_HB_AUTH_MISSING, atk_plain },
	{ "genuine packet with ready changed", HBLB_R_HB_AUTH_BAD, atk_tampered },
	{ "another backend's genuine packet", HBLB_R_HB_AUTH_BAD, atk_other_backend },
	{ "seq of 20 digits", HBLB_R_HB_BAD_VALUE, atk_seq_overflow },
	{ "signed, with a field beyond hblb's form", HBLB_R_HB_AUTH_MALFORMED, atk_extra_field },
};

static void test_auth_attacks(void)
{
	char name[128];

	for (size_t i = 0; i < sizeof(attacks) / sizeof(attacks[0]); i++) {
		struct frame genuine, atk, next;

		snprintf(name, sizeof(name), "auth attack: %s: refused, counted, nothing changed",
			 attacks[i].name);
		test_begin(name);
		auth_setup();
		signed_frame(&genuine, REAL1, REAL1, 75, 1000, key_tcp);
		auth_expect(&genuine, 1, HBLB_R_HB_ACCEPTED, 75, 1000, false);
		attacks[i].make(&atk, &genuine);
		auth_expect(&atk, 1, attacks[i].reason, 0, 0, false);
		/* the genuine sender keeps working */
		signed_frame(&next, REAL1, REAL1, 76, 1001, key_tcp);
		auth_expect(&next, 1, HBLB_R_HB_ACCEPTED, 76, 1001, false);
		test_end();
	}
}

static void test_auth_misc(void)
{
	struct frame f;

	test_begin("auth: a tag binds the sender's address (same key, other backend)");
	auth_setup();
	signed_frame(&f, REAL0, REAL0, 10, 50, key_global);
	auth_expect(&f, 0, HBLB_R_HB_ACCEPTED, 10, 50, false);
	signed_frame(&f, REAL0, REAL2, 4242, 60, key_global);   /* REAL2's, sent as REAL0 */
	auth_expect(&f, 0, HBLB_R_HB_AUTH_BAD, 0, 0, false);
	signed_frame(&f, REAL2, REAL2, 20, 60, key_global);     /* REAL2 itself: fine */
	auth_expect(&f, 2, HBLB_R_HB_ACCEPTED, 20, 60, false);
	test_end();

	test_begin("auth: rollover accepts the new and the previous key, then only the new");
	auth_setup();
	set_key(HBLB_KEY_SERVICE(SVC_TCP), key_wrong, key_tcp);        /* new, previous */
	signed_frame(&f, REAL1, REAL1, 1, 10, key_tcp);
	auth_expect(&f, 1, HBLB_R_HB_ACCEPTED, 1, 10, true);
	signed_frame(&f, REAL1, REAL1, 2, 11, key_wrong);
	auth_expect(&f, 1, HBLB_R_HB_ACCEPTED, 2, 11, false);
	signed_frame(&f, REAL1, REAL1, 3, 12, key_udp);
	auth_expect(&f, 1, HBLB_R_HB_AUTH_BAD, 0, 0, false);
	set_key(HBLB_KEY_SERVICE(SVC_TCP), key_wrong, NULL);           /* finished */
	signed_frame(&f, REAL1, REAL1, 4, 13, key_tcp);
	auth_expect(&f, 1, HBLB_R_HB_AUTH_BAD, 0, 0, false);
	signed_frame(&f, REAL1, REAL1, 5, 14, key_wrong);
	auth_expect(&f, 1, HBLB_R_HB_ACCEPTED, 5, 14, false);
	test_end();

	test_begin("auth: a key id with its key withdrawn refuses (fails closed)");
	auth_setup();
	set_key(HBLB_KEY_SERVICE(SVC_TCP), NULL, NULL);
	signed_frame(&f, REAL1, REAL1, 1, 10, key_tcp);
	auth_expect(&f, 1, HBLB_R_HB_AUTH_BAD, 0, 0, false);
	test_end();

	test_begin("auth: a real without a key takes signed and plain heartbeats");
	auth_setup();
	set_real_key(REAL1, 1, HBLB_KEY_NONE);
	signed_frame(&f, REAL1, REAL1, 7, 10, key_wrong);
	auth_expect(&f, 1, HBLB_R_HB_ACCEPTED, 7, 0, false);   /* no replay state kept */
	{
		struct pkt_spec s = heartbeat(REAL1, "v=1&ready=8&busy=0");

		frame_build(&f, &s);
		auth_expect(&f, 1, HBLB_R_HB_ACCEPTED, 8, 0, false);
	}
	test_end();

	test_begin("GTSM: TTL below 255 refused and counted, 255 accepted");
	auth_setup();
	set_config(HBLB_CFG_GTSM);
	signed_frame(&f, REAL1, REAL1, 75, 1000, key_tcp);
	auth_expect(&f, 1, HBLB_R_HB_TTL, 0, 0, false);
	set_ttl(&f, 254);
	auth_expect(&f, 1, HBLB_R_HB_TTL, 0, 0, false);
	set_ttl(&f, 255);
	auth_expect(&f, 1, HBLB_R_HB_ACCEPTED, 75, 1000, false);
	{
		struct pkt_spec s = heartbeat(REAL1, "v=1&ready=8&busy=0");

		set_real_key(REAL1, 1, HBLB_KEY_NONE);        /* plain heartbeats too */
		frame_build(&f, &s);
		auth_expect(&f, 1, HBLB_R_HB_TTL, 0, 0, false);
		set_ttl(&f, 255);
		auth_expect(&f, 1, HBLB_R_HB_ACCEPTED, 8, 1000, false);
	}
	test_end();
	auth_teardown();
}

/* One genuine packet replayed on every CPU at once: accepted exactly once. */
static void test_auth_replay_across_cpus(void)
{
	struct hb_thread t[2];
	pthread_t tid[2];
	struct frame f;
	__u64 before[HBLB_R_MAX], after[HBLB_R_MAX];
	int n = ncpus < 2 ? 1 : 2;

	test_begin("auth: one packet on every CPU at once is accepted exactly once");
	auth_setup();
	signed_frame(&f, REAL1, REAL1, 75, 7777, key_tcp);
	stats_read(before);
	for (int i = 0; i < n; i++) {
		t[i] = (struct hb_thread){ .cpu = i, .f = &f, .repeat = 20000,
					   .prog_fd = bpf_program__fd(h.skel->progs.hblb_xdp) };
		pthread_create(&tid[i], NULL, hb_thread_run, &t[i]);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(tid[i], NULL);
		CHECK_EQ(t[i].err, 0);
	}
	stats_read(after);
	CHECK_EQ(hb_read(1).count, 1);
	CHECK_EQ(after[HBLB_R_HB_ACCEPTED] - before[HBLB_R_HB_ACCEPTED], 1);
	CHECK_EQ(after[HBLB_R_HB_REPLAY] - before[HBLB_R_HB_REPLAY], 20000ull * n - 1);
	CHECK_EQ(seq_read(1), 7777);
	auth_teardown();
	test_end();
}

/* ---- flows --------------------------------------------------------------------- */

static int forward(const struct pkt_spec *s, __u32 *backend, struct result *r)
{
	struct frame f;

	frame_build(&f, s);
	if (run(&f, r) || r->verdict != XDP_TX)
		return -1;
	*backend = r->out[5];
	return 0;
}

/* The TCP service's table without one of its three backends. */
static void install_table_without(__u32 left_out)
{
	__u16 others[2];
	int n = 0;

	for (__u16 i = 0; i < 3; i++)
		if (i != left_out)
			others[n++] = i;
	install_table(SVC_TCP, others, 2);
}

/* Twenty new flows from base_port on: none may reach `avoided`. */
static void check_new_flows_avoid(__u32 avoided, int base_port)
{
	struct result r;
	__u32 b;

	for (int port = base_port; port < base_port + 20; port++) {
		struct pkt_spec other = tcp_to(VIP, 80, port, PKT_TCP_SYN);

		if (CHECK_EQ(forward(&other, &b, &r), 0))
			CHECK(b != avoided, "new flow from port %d reached backend %u", port, avoided);
	}
}

static void test_flows(void)
{
	struct pkt_spec syn = tcp_to(VIP, 80, 41000, PKT_TCP_SYN);
	struct pkt_spec ack = tcp_to(VIP, 80, 41000, PKT_TCP_ACK);
	__u32 first, b;
	struct result r;

	test_begin("established flow hits its entry");
	reset_state();
	if (CHECK_EQ(forward(&syn, &first, &r), 0)) {
		check_reasons(&r, REASONS(HBLB_R_TX_FORWARDED, HBLB_R_FLOW_NEW));
		if (CHECK_EQ(forward(&ack, &b, &r), 0)) {
			CHECK_EQ(b, first);
			check_reasons(&r, REASONS(HBLB_R_TX_FORWARDED, HBLB_R_FLOW_HIT));
		}
	}
	test_end();

	test_begin("flow sticks to its backend across a table swap");
	reset_state();
	if (CHECK_EQ(forward(&syn, &first, &r), 0)) {
		install_table_without(first);
		if (CHECK_EQ(forward(&ack, &b, &r), 0)) {
			CHECK_EQ(b, first);
			check_reasons(&r, REASONS(HBLB_R_TX_FORWARDED, HBLB_R_FLOW_HIT));
		}
		/* new flows follow the new table */
		check_new_flows_avoid(first, 42000);
	}
	test_end();

	test_begin("flow re-steered when its backend is down");
	reset_state();
	if (CHECK_EQ(forward(&syn, &first, &r), 0)) {
		__u32 again;

		set_backend_state(first, HBLB_BE_DOWN);
		install_table_without(first);
		if (CHECK_EQ(forward(&ack, &b, &r), 0)) {
			CHECK(b != first, "packet sent to a dead backend");
			check_reasons(&r, REASONS(HBLB_R_TX_FORWARDED, HBLB_R_FLOW_RESTEER));
			/* the new choice is recorded: it stays when the old one returns */
			set_backend_state(first, HBLB_BE_UP);
			install_table(SVC_TCP, tcp_backends, 3);
			if (CHECK_EQ(forward(&ack, &again, &r), 0)) {
				CHECK_EQ(again, b);
				check_reasons(&r, REASONS(HBLB_R_TX_FORWARDED, HBLB_R_FLOW_HIT));
			}
		}
	}
	test_end();

	test_begin("flow re-steered when its down backend is still in the table (fail-open)");
	reset_state();
	if (CHECK_EQ(forward(&syn, &first, &r), 0)) {
		set_backend_state(first, HBLB_BE_DOWN);
		/* the table still names it: the controller's choice wins, never a drop */
		if (CHECK_EQ(forward(&ack, &b, &r), 0)) {
			CHECK_EQ(b, first);
			check_reasons(&r, REASONS(HBLB_R_TX_FORWARDED, HBLB_R_FLOW_RESTEER));
		}
	}
	test_end();

	test_begin("flow stays on a draining backend");
	reset_state();
	if (CHECK_EQ(forward(&syn, &first, &r), 0)) {
		set_backend_state(first, HBLB_BE_DRAINING);
		install_table_without(first);
		if (CHECK_EQ(forward(&ack, &b, &r), 0)) {
			CHECK_EQ(b, first);
			check_reasons(&r, REASONS(HBLB_R_TX_FORWARDED, HBLB_R_FLOW_HIT));
		}
		check_new_flows_avoid(first, 43000);
	}
	test_end();

	test_begin("new SYN on a draining backend's 5-tuple (port reused) goes elsewhere");
	reset_state();
	if (CHECK_EQ(forward(&syn, &first, &r), 0)) {
		__u32 again;

		set_backend_state(first, HBLB_BE_DRAINING);
		install_table_without(first);
		if (CHECK_EQ(forward(&syn, &b, &r), 0)) {
			CHECK(b != first, "still backend %u", first);
			check_reasons(&r, REASONS(HBLB_R_TX_FORWARDED, HBLB_R_FLOW_RESTEER));
			/* the new connection's later segments follow it */
			if (CHECK_EQ(forward(&ack, &again, &r), 0)) {
				CHECK_EQ(again, b);
				check_reasons(&r, REASONS(HBLB_R_TX_FORWARDED, HBLB_R_FLOW_HIT));
			}
		}
	}
	test_end();

	test_begin("new SYN on a live backend's 5-tuple follows the current table, not the old entry");
	reset_state();
	if (CHECK_EQ(forward(&syn, &first, &r), 0)) {
		__u32 moved = (first + 1) % 3, again;

		/* the table now sends this hash elsewhere; first stays up */
		install_table(SVC_TCP, (const __u16[]){ moved }, 1);
		if (CHECK_EQ(forward(&ack, &again, &r), 0)) {
			CHECK_EQ(again, first);     /* an established segment stays */
			check_reasons(&r, REASONS(HBLB_R_TX_FORWARDED, HBLB_R_FLOW_HIT));
		}
		if (CHECK_EQ(forward(&syn, &b, &r), 0)) {
			CHECK_EQ(b, moved);         /* a new connection on the same port moves */
			check_reasons(&r, REASONS(HBLB_R_TX_FORWARDED, HBLB_R_FLOW_RESTEER));
			if (CHECK_EQ(forward(&ack, &again, &r), 0)) {
				CHECK_EQ(again, moved);
				check_reasons(&r, REASONS(HBLB_R_TX_FORWARDED, HBLB_R_FLOW_HIT));
			}
		}
	}
	test_end();

	test_begin("flow pinned to another service's backend is re-steered");
	reset_state();
	if (CHECK_EQ(forward(&syn, &first, &r), 0)) {
		/* the backend id is reused for another service */
		set_backend(first, SVC_UDP, 0, REAL0, HBLB_BE_UP);
		install_table(SVC_TCP, (const __u16[]){ (first + 1) % 3 }, 1);
		if (CHECK_EQ(forward(&ack, &b, &r), 0)) {
			CHECK_EQ(b, (first + 1) % 3);
			check_reasons(&r, REASONS(HBLB_R_TX_FORWARDED, HBLB_R_FLOW_RESTEER));
		}
	}
	test_end();

	test_begin("service that loses every backend drops, flows included");
	reset_state();
	if (CHECK_EQ(forward(&syn, &first, &r), 0)) {
		struct frame f;

		set_backend_state(0, HBLB_BE_DOWN);
		set_backend_state(1, HBLB_BE_DOWN);
		set_backend_state(2, HBLB_BE_DOWN);
		install_table(SVC_TCP, NULL, 0);
		frame_build(&f, &ack);
		if (CHECK_EQ(run(&f, &r), 0)) {
			CHECK_EQ(r.verdict, XDP_DROP);
			check_reasons(&r, REASONS(HBLB_R_DROP_NO_BACKEND));
		}
	}
	test_end();

	test_begin("torn flow entry (tag mismatch) is a miss");
	reset_state();
	if (CHECK_EQ(forward(&syn, &first, &r), 0)) {
		struct hblb_flow_bucket fb[FLOW_BUCKETS];
		int flipped = 0;

		flows_read(fb);
		for (__u32 i = 0; i < FLOW_BUCKETS && !flipped; i++)
			for (int w = 0; w < HBLB_FLOW_WAYS; w++)
				if (fb[i].way[w].proto) {
					fb[i].way[w].tag ^= 0x5a;
					bpf_map_update_elem(fd_of(h.skel->maps.hblb_flows), &i, &fb[i], BPF_ANY);
					flipped = 1;
					break;
				}
		CHECK(flipped, "no flow entry found");
		if (CHECK_EQ(forward(&ack, &b, &r), 0))
			check_reasons(&r, REASONS(HBLB_R_TX_FORWARDED, HBLB_R_FLOW_NEW));
	}
	test_end();
}

/* Five flows into one 4-way bucket: the fifth evicts one of the others. */
static void test_flow_eviction(void)
{
	struct hblb_flow_bucket bucket;
	__u16 ports[5];
	__u32 target = 0, b;
	struct result r;
	int found = 0;

	test_begin("full bucket evicts one entry");
	reset_state();
	for (__u16 port = 1024; found < 5 && port < 60000; port++) {
		__u32 hash = hblb_flow_hash(htonl(CLIENT), htonl(VIP), htons(port), htons(80),
					    IPPROTO_TCP, h.cfg.hash_seed);

		if (found == 0)
			target = hash & (FLOW_BUCKETS - 1);
		if ((hash & (FLOW_BUCKETS - 1)) == target)
			ports[found++] = port;
	}
	CHECK_EQ(found, 5);
	for (int i = 0; i < 5 && found == 5; i++) {
		struct pkt_spec s = tcp_to(VIP, 80, ports[i], PKT_TCP_SYN);

		if (!CHECK_EQ(forward(&s, &b, &r), 0))
			break;
		if (i < 4)
			check_reasons(&r, REASONS(HBLB_R_TX_FORWARDED, HBLB_R_FLOW_NEW));
		else
			check_reasons(&r, REASONS(HBLB_R_TX_FORWARDED, HBLB_R_FLOW_NEW, HBLB_R_FLOW_EVICT));
	}
	bpf_map_lookup_elem(fd_of(h.skel->maps.hblb_flows), &target, &bucket);
	{
		int present = 0, last = 0;

		for (int w = 0; w < HBLB_FLOW_WAYS; w++) {
			for (int i = 0; i < 5; i++)
				if (bucket.way[w].proto == IPPROTO_TCP && ntohs(bucket.way[w].sport) == ports[i]) {
					present++;
					last |= i == 4;
				}
		}
		CHECK_EQ(present, 4);
		CHECK(last, "the newest flow is not in its bucket");
	}
	test_end();
}

/* Maps pin under their shared names, a second load reuses them (state
 * survives a reload), and bpftool shows them with BTF field names. */
static void test_pins(void)
{
	static const char *const names[] = {
		HBLB_MAP_CONFIG, HBLB_MAP_IFACES, HBLB_MAP_VIP_BITS, HBLB_MAP_SERVICES,
		HBLB_MAP_REALS, HBLB_MAP_HB, HBLB_MAP_BACKENDS, HBLB_MAP_SVC_GEN,
		HBLB_MAP_TABLES, HBLB_MAP_FLOWS, HBLB_MAP_STATS, HBLB_MAP_SVC_STATS,
		HBLB_MAP_BE_STATS,
	};
	struct hblb_service_key k = { .vip = htonl(VIP), .port = htons(443), .proto = IPPROTO_TCP };
	struct hblb_service v = { .id = 5 }, got = { 0 };
	struct hblb_load_opts o = { .table_size = TABLE_SIZE, .max_services = 8, .flow_buckets = FLOW_BUCKETS };
	char dir[128], path[256], cmd[512], line[512];
	struct hblb a, b;
	int found_field = 0;
	FILE *p;

	test_begin("maps pinned by name, reused on reload, readable with bpftool");
	snprintf(dir, sizeof(dir), "/sys/fs/bpf/hblb-test-%d", getpid());
	o.pin_dir = dir;
	if (!CHECK_EQ(hblb_open(&a, &o), 0)) {
		test_end();
		return;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		CHECK(access(path, F_OK) == 0, "%s not pinned", path);
	}
	bpf_map_update_elem(bpf_map__fd(a.skel->maps.hblb_services), &k, &v, BPF_ANY);
	hblb_close(&a);
	if (CHECK_EQ(hblb_open(&b, &o), 0)) {
		CHECK_EQ(bpf_map_lookup_elem(bpf_map__fd(b.skel->maps.hblb_services), &k, &got), 0);
		CHECK_EQ(got.id, 5);
		snprintf(cmd, sizeof(cmd), "bpftool map dump pinned %s/%s 2>&1", dir, HBLB_MAP_SERVICES);
		p = popen(cmd, "r");
		while (p && fgets(line, sizeof(line), p))
			found_field |= strstr(line, "\"vip\"") != NULL;
		if (p)
			pclose(p);
		CHECK(found_field, "bpftool shows no BTF field names for %s", HBLB_MAP_SERVICES);
		/* a different table size must be refused, not silently mixed */
		{
			struct hblb_load_opts bad = o;
			struct hblb c;

			bad.table_size = 257;
			fprintf(stderr, "# the next error is expected:\n");
			CHECK(hblb_open(&c, &bad) != 0, "reload with another table size accepted");
		}
		CHECK_EQ(hblb_unpin(&b), 0);
		hblb_close(&b);
	}
	/* whatever happened above, leave nothing on bpffs */
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
	CHECK(access(dir, F_OK) != 0, "%s left behind", dir);
	test_end();
}

int main(int argc, char **argv)
{
	int err;

	log_init(getenv("HBLB_VERBOSE") != NULL);
	if (argc > 1)
		shared_dir = argv[1];
	if (geteuid() != 0) {
		fprintf(stderr, "test_datapath needs root (BPF_PROG_TEST_RUN on XDP)\n");
		return 1;
	}
	err = setup();
	test_begin("load the XDP program");
	CHECK(err == 0, "hblb_open: %s", strerror(-err));
	test_end();
	if (err)
		return test_summary("datapath");

	test_fixture_table();
	test_other_traffic();
	test_truncation();
	test_heartbeats();
	test_heartbeat_counts_exact();
	test_auth_attacks();
	test_auth_misc();
	test_auth_replay_across_cpus();
	test_flows();
	test_flow_eviction();
	test_pins();

	hblb_close(&h);
	return test_summary("datapath");
}
