// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * 1,000,000 random and mutated frames through the loaded XDP program
 * (BPF_PROG_TEST_RUN) on a small but complete load balancer: real fixture
 * frames (Apache heartbeats from tests/corpus/hb, service traffic with and
 * without VLAN tags, other traffic) with 0-4 mutations each (bit flips,
 * random and boundary bytes, header fields, truncation, extension), and
 * frames of random bytes. For every frame:
 *   - the verdict is XDP_PASS, XDP_DROP or XDP_TX; a frame not forwarded
 *     comes back unchanged, a forwarded one differs only in its MACs and
 *     goes to a live backend of the service it is addressed to;
 *   - the verdict is the one the independent classifier (frame_ref.h)
 *     names for frames judged by their headers.
 * For every batch of 1,000 frames:
 *   - the verdict reasons add up to the frames sent, the header reasons
 *     exactly to the classifier's counts, heartbeats to the heartbeats;
 *   - only a valid heartbeat from a configured real changes its record
 *     (and by exactly the accepted count), only a frame for a service
 *     writes the flow table (and only in its own bucket); services,
 *     backends and tables never change.
 * Needs root; loads the program without pins.
 * Usage: test_frames [HB_CORPUS_DIR] [FRAMES]
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "loader.h"
#include "testing.h"
#include "packets.h"
#include "hb_ref.h"
#include "frame_ref.h"

#define TABLE_SIZE   251
#define FLOW_BUCKETS 256
#define IFINDEX      1              /* lo: exists in every namespace */
#define BATCH        1000
#define NREALS       3
#define NBACKENDS    4
#define MAX_FIXTURES 128
#define MAX_FRAME    1600

#define IP(a, b, c, d) (((__u32)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))
#define VIP      IP(198, 18, 0, 100)
#define CLIENT   IP(198, 18, 0, 1)
#define STRANGER IP(198, 18, 0, 99)
#define HB_GROUP IP(239, 0, 0, 1)

static const __u8 lb_mac[6] = { 0x02, 0, 0, 0, 0, 0xfe };
static const __u8 client_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const __u32 real_addr[NREALS] = { IP(198, 18, 0, 11), IP(198, 18, 0, 12), IP(198, 18, 0, 13) };

/* services: VIP:80/tcp over backends 0-2, VIP:53/udp over 3, VIP:8080/tcp none */
static const struct { __u16 port; __u8 proto; int first, n; } svcs[] = {
	{ 80, IPPROTO_TCP, 0, 3 }, { 53, IPPROTO_UDP, 3, 1 }, { 8080, IPPROTO_TCP, 0, 0 },
};
#define NSVCS 3

static struct hblb h;
static int ncpus, prog_fd;

struct fixture {
	__u8 buf[MAX_FRAME];
	size_t len;
};
static struct fixture fixtures[MAX_FIXTURES];
static int nfixtures, nheartbeat_fixtures;     /* the heartbeats come first */

/* xorshift64*: fast, and the seed printed makes a failure reproducible */
static __u64 rng_state;

static __u64 rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static __u32 below(__u32 n)
{
	return (__u32)(rnd() % n);
}

/* ---- the load balancer ------------------------------------------------------ */

static int map_fd(struct bpf_map *m)
{
	return bpf_map__fd(m);
}

static void backend_mac(__u32 id, __u8 *mac)
{
	static const __u8 base[6] = { 0x02, 0, 0, 0, 0xbe, 0 };

	memcpy(mac, base, 6);
	mac[5] = id;
}

static int setup(void)
{
	struct hblb_load_opts o = {
		.no_pin = true, .table_size = TABLE_SIZE, .max_services = 4, .flow_buckets = FLOW_BUCKETS,
	};
	struct hblb_iface ifc = { .enabled = 1 };
	__u32 idx = IFINDEX;
	int err = hblb_open(&h, &o);

	if (err)
		return err;
	ncpus = libbpf_num_possible_cpus();
	prog_fd = bpf_program__fd(h.skel->progs.hblb_xdp);
	memcpy(ifc.mac, lb_mac, 6);
	if (bpf_map_update_elem(map_fd(h.skel->maps.hblb_ifaces), &idx, &ifc, BPF_ANY))
		return -errno;
	for (__u32 r = 0; r < NREALS; r++) {
		__be32 k = htonl(real_addr[r]);
		struct hblb_real v = { .id = r };

		if (bpf_map_update_elem(map_fd(h.skel->maps.hblb_reals), &k, &v, BPF_ANY))
			return -errno;
	}
	for (__u32 s = 0; s < NSVCS; s++) {
		struct hblb_service_key k = { .vip = htonl(VIP), .port = htons(svcs[s].port),
					      .proto = svcs[s].proto };
		struct hblb_service v = { .id = s };
		__u16 entries[TABLE_SIZE];

		hblb_vip_mark(&h, k.vip);
		if (bpf_map_update_elem(map_fd(h.skel->maps.hblb_services), &k, &v, BPF_ANY))
			return -errno;
		for (int b = 0; b < svcs[s].n; b++) {
			__u32 id = svcs[s].first + b;
			struct hblb_backend be = {
				.addr = htonl(real_addr[b % NREALS]), .state = HBLB_BE_UP,
				.service_id = s, .real_id = b % NREALS, .service = k,
			};

			backend_mac(id, be.mac);
			if (bpf_map_update_elem(map_fd(h.skel->maps.hblb_backends), &id, &be, BPF_ANY))
				return -errno;
		}
		for (int i = 0; i < TABLE_SIZE; i++)
			entries[i] = svcs[s].n ? (__u16)(svcs[s].first + i % svcs[s].n) : (__u16)HBLB_BACKEND_NONE;
		err = hblb_table_install(&h, s, entries);
		if (err)
			return err;
	}
	return 0;
}

/* ---- state snapshots ----------------------------------------------------------- */

struct state {
	__u64 stats[HBLB_R_MAX];
	__u64 hb_count[NREALS];
	struct hblb_hb_record hb[NREALS];       /* latest CPU's record, for "unchanged" */
	struct hblb_flow_bucket flows[FLOW_BUCKETS];
	struct hblb_backend backends[NBACKENDS];
	__u32 gen[NSVCS];
};

static void state_read(struct state *st)
{
	__u64 vals[ncpus];
	struct hblb_hb_record recs[ncpus];

	memset(st, 0, sizeof(*st));
	for (__u32 r = 0; r < HBLB_R_MAX; r++)
		if (bpf_map_lookup_elem(map_fd(h.skel->maps.hblb_stats), &r, vals) == 0)
			for (int c = 0; c < ncpus; c++)
				st->stats[r] += vals[c];
	for (__u32 r = 0; r < NREALS; r++) {
		if (bpf_map_lookup_elem(map_fd(h.skel->maps.hblb_hb), &r, recs))
			continue;
		for (int c = 0; c < ncpus; c++) {
			st->hb_count[r] += recs[c].count;
			if (recs[c].last_ns >= st->hb[r].last_ns)
				st->hb[r] = recs[c];
		}
	}
	for (__u32 b = 0; b < FLOW_BUCKETS; b++)
		bpf_map_lookup_elem(map_fd(h.skel->maps.hblb_flows), &b, &st->flows[b]);
	for (__u32 id = 0; id < NBACKENDS; id++)
		bpf_map_lookup_elem(map_fd(h.skel->maps.hblb_backends), &id, &st->backends[id]);
	for (__u32 s = 0; s < NSVCS; s++)
		st->gen[s] = h.svc_gen[s].gen;
}

/* ---- fixtures and mutations ---------------------------------------------------- */

static void add_fixture(const struct pkt_spec *s)
{
	struct fixture *f;

	if (nfixtures == MAX_FIXTURES)
		return;
	f = &fixtures[nfixtures];
	f->len = pkt_build(s, f->buf, sizeof(f->buf), NULL, NULL);
	if (f->len)
		nfixtures++;
}

static struct pkt_spec spec(__u32 saddr, __u32 daddr, __u8 proto, __u16 dport)
{
	struct pkt_spec s = {
		.saddr = saddr, .daddr = daddr, .proto = proto, .sport = 40000, .dport = dport,
		.tcp_flags = PKT_TCP_SYN,
	};

	memcpy(s.dst_mac, lb_mac, 6);
	memcpy(s.src_mac, client_mac, 6);
	return s;
}

static int load_fixtures(const char *corpus)
{
	static const __u8 mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	static __u8 payloads[32][1100];
	struct pkt_spec s;
	struct dirent *de;
	int npay = 0;
	DIR *d = opendir(corpus);

	if (!d)
		return -errno;
	while ((de = readdir(d)) && npay < 32) {
		char path[4096];
		size_t len;
		FILE *f;

		if (!strstr(de->d_name, ".bin"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", corpus, de->d_name);
		f = fopen(path, "rb");
		if (!f)
			continue;
		len = fread(payloads[npay], 1, sizeof(payloads[npay]), f);
		fclose(f);
		/* the heartbeat from each real and from a stranger */
		s = spec(real_addr[npay % NREALS], HB_GROUP, IPPROTO_UDP, HBLB_HB_PORT_DEFAULT);
		memcpy(s.dst_mac, mcast, 6);
		s.payload = payloads[npay];
		s.payload_len = len;
		add_fixture(&s);
		s.saddr = STRANGER;
		add_fixture(&s);
		npay++;
	}
	closedir(d);
	if (!npay)
		return -ENOENT;
	nheartbeat_fixtures = nfixtures;
	for (int vlans = 0; vlans <= 3; vlans++) {
		s = spec(CLIENT, VIP, IPPROTO_TCP, 80);
		s.vlans = vlans;
		add_fixture(&s);
	}
	s = spec(CLIENT, VIP, IPPROTO_TCP, 80);
	s.payload = "GET / HTTP/1.1\r\nHost: vip\r\n\r\n";
	s.payload_len = strlen(s.payload);
	s.tcp_flags = PKT_TCP_ACK;
	add_fixture(&s);
	s = spec(CLIENT, VIP, IPPROTO_UDP, 53);
	s.payload = "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00";
	s.payload_len = 12;
	add_fixture(&s);
	s = spec(CLIENT, VIP, IPPROTO_TCP, 8080);
	add_fixture(&s);
	s = spec(CLIENT, IP(198, 18, 0, 2), IPPROTO_TCP, 22);
	add_fixture(&s);
	s = spec(CLIENT, VIP, IPPROTO_TCP, 80);
	s.ethertype = ETH_P_ARP;
	add_fixture(&s);
	s.ethertype = ETH_P_IPV6;
	add_fixture(&s);
	return nfixtures;
}

/* A frame of 14 to MAX_FRAME bytes (BPF_PROG_TEST_RUN needs an Ethernet
 * header's worth): mostly a mutated fixture, some pure noise. */
static size_t gen_frame(__u8 *buf)
{
	static const __u8 boundary[] = { 0x00, 0x01, 0x04, 0x05, 0x06, 0x08, 0x11, 0x3f, 0x40,
					 0x45, 0x46, 0x4f, 0x50, 0x7f, 0x80, 0x81, 0x88, 0xa8,
					 0xfe, 0xff };
	const struct fixture *f;
	size_t len;
	int muts;

	if (below(10) < 2) {
		len = 14 + below(200);
		for (size_t i = 0; i < len; i++)
			buf[i] = (__u8)rnd();
		if (below(2)) {         /* noise behind a plausible Ethernet/IPv4 start */
			memcpy(buf, lb_mac, 6);
			buf[12] = 0x08;
			buf[13] = 0x00;
			if (len > 14)
				buf[14] = 0x45;
		}
		return len;
	}
	/* half heartbeats, half the other kinds, however many payloads there are */
	f = below(2) ? &fixtures[below(nheartbeat_fixtures)] :
	    &fixtures[nheartbeat_fixtures + below(nfixtures - nheartbeat_fixtures)];
	memcpy(buf, f->buf, f->len);
	len = f->len;
	muts = below(10) < 2 ? 0 : 1 + below(4);
	while (muts--) {
		size_t at = below(len);

		switch (below(7)) {
		case 0:
			buf[at] ^= 1u << below(8);
			break;
		case 1:
			buf[at] = (__u8)rnd();
			break;
		case 2:
			buf[at] = boundary[below(sizeof(boundary))];
			break;
		case 3:         /* a 16-bit field in the first 64 bytes: lengths, ports, types */
			at = below(len < 64 ? len - 1 : 63);
			buf[at] = (__u8)rnd();
			buf[at + 1] = below(2) ? (__u8)rnd() : 0;
			break;
		case 4:         /* truncate */
			len = 14 + below(len - 13);
			break;
		case 5: {       /* extend */
			size_t add = 1 + below(64);

			if (len + add > MAX_FRAME)
				break;
			for (size_t i = 0; i < add; i++)
				buf[len + i] = (__u8)rnd();
			len += add;
			break;
		}
		case 6:         /* a different source: real, stranger, client */
			if (len >= 34 && buf[12] == 0x08 && buf[13] == 0x00) {
				__be32 a = htonl(below(2) ? real_addr[below(NREALS)] : STRANGER);

				memcpy(buf + 26, &a, 4);
			}
			break;
		}
	}
	return len;
}

/* ---- the run ---------------------------------------------------------------------- */

struct batch {
	__u64 frames, reason[HBLB_R_MAX], heartbeats, accepted[NREALS], service_frames;
	__u8 bucket_ok[FLOW_BUCKETS];
};

static int svc_of(const struct ref_frame *r)
{
	for (int s = 0; s < NSVCS; s++)
		if (r->daddr == htonl(VIP) && r->dport == htons(svcs[s].port) && r->proto == svcs[s].proto)
			return s;
	return -1;
}

static int real_of(__be32 a)
{
	for (int i = 0; i < NREALS; i++)
		if (htonl(real_addr[i]) == a)
			return i;
	return -1;
}

/* Checks one frame's verdict and output; accounts it in the batch. Returns
 * 0, or -1 after printing why (the frame in hex). */
static int one_frame(const __u8 *in, size_t len, struct batch *b, __u64 n)
{
	static __u8 out[MAX_FRAME + 256];
	struct xdp_md ctx = { .data_end = len, .ingress_ifindex = IFINDEX };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = len, .data_out = out,
		    .data_size_out = sizeof(out), .ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		    .repeat = 1);
	struct ref_frame r = ref_classify(in, len);
	const char *why = NULL;

	if (bpf_prog_test_run_opts(prog_fd, &o)) {
		fprintf(stderr, "  frame %llu: BPF_PROG_TEST_RUN: %s\n", (unsigned long long)n,
			strerror(errno));
		return -1;
	}
	b->frames++;
	if (o.retval != XDP_PASS && o.retval != XDP_DROP && o.retval != XDP_TX)
		why = "verdict outside PASS/DROP/TX";
	else if (o.retval != XDP_TX && (o.data_size_out != len || memcmp(out, in, len)))
		why = "frame not forwarded but changed";
	else if (o.retval == XDP_TX && (o.data_size_out != len || memcmp(out + 12, in + 12, len - 12) ||
					memcmp(out + 6, lb_mac, 6)))
		why = "forwarded frame differs beyond its MACs";
	if (!why) {
		switch (r.kind) {
		case REF_REASON:
			b->reason[r.reason]++;
			if (o.retval != (r.reason < HBLB_R_DROP_FIRST ? XDP_PASS : XDP_DROP))
				why = "verdict differs from the headers' reason";
			break;
		case REF_HEARTBEAT: {
			struct hblb_hb_msg m;
			int real = real_of(r.saddr);

			b->heartbeats++;
			if (o.retval != XDP_DROP)
				why = "heartbeat not dropped";
			if (real >= 0 && ref_parse(in + r.l4_off + 8, r.l4_end - r.l4_off - 8, &m) == 0)
				b->accepted[real]++;
			break;
		}
		case REF_SERVICE: {
			int s = svc_of(&r);
			__u32 hash = hblb_flow_hash(r.saddr, r.daddr, r.sport, r.dport, r.proto,
						    h.cfg.hash_seed);

			b->service_frames++;
			b->bucket_ok[hash & (FLOW_BUCKETS - 1)] = 1;
			if (o.retval == XDP_TX) {
				int id = out[5];

				if (s < 0 || memcmp(in, lb_mac, 6) || out[4] != 0xbe ||
				    id < svcs[s].first || id >= svcs[s].first + svcs[s].n)
					why = "forwarded to no backend of the service it is addressed to";
			} else if (o.retval == XDP_DROP && !(s >= 0 && svcs[s].n == 0)) {
				why = "service frame dropped though the service has backends";
			}
			break;
		}
		}
	}
	if (why) {
		fprintf(stderr, "  frame %llu (%zu bytes, verdict %u, kind %d reason %u): %s\n   ",
			(unsigned long long)n, len, o.retval, r.kind, r.reason, why);
		for (size_t i = 0; i < len && i < 96; i++)
			fprintf(stderr, "%02x", in[i]);
		fputc('\n', stderr);
		return -1;
	}
	return 0;
}

/* Compares a batch's state change with what its frames allow. */
static int check_batch(const struct state *a, const struct state *z, const struct batch *b)
{
	__u64 verdicts = 0, hdr_reasons[HBLB_R_MAX];
	int bad = 0;

	for (int r = 0; r <= HBLB_R_TX_FORWARDED; r++)
		verdicts += z->stats[r] - a->stats[r];
	if (verdicts != b->frames) {
		fprintf(stderr, "  verdict reasons add up to %llu for %llu frames\n",
			(unsigned long long)verdicts, (unsigned long long)b->frames);
		bad++;
	}
	for (int r = 0; r < HBLB_R_MAX; r++)
		hdr_reasons[r] = z->stats[r] - a->stats[r];
	/* reasons only headers decide: exactly the classifier's count */
	for (int r = HBLB_R_PASS_NOT_IPV4; r <= HBLB_R_DROP_BAD_UDP_LEN; r++) {
		if (r == HBLB_R_PASS_NOT_SERVICE || r == HBLB_R_PASS_NOT_OURS ||
		    r == HBLB_R_PASS_HEARTBEAT)
			continue;
		if (hdr_reasons[r] != b->reason[r]) {
			fprintf(stderr, "  reason %d counted %llu, the headers say %llu\n", r,
				(unsigned long long)hdr_reasons[r], (unsigned long long)b->reason[r]);
			bad++;
		}
	}
	if (hdr_reasons[HBLB_R_DROP_HEARTBEAT] != b->heartbeats) {
		fprintf(stderr, "  %llu heartbeats counted, %llu sent\n",
			(unsigned long long)hdr_reasons[HBLB_R_DROP_HEARTBEAT],
			(unsigned long long)b->heartbeats);
		bad++;
	}
	for (int i = 0; i < NREALS; i++) {
		__u64 got = z->hb_count[i] - a->hb_count[i];

		if (got != b->accepted[i] ||
		    (!b->accepted[i] && memcmp(&a->hb[i], &z->hb[i], sizeof(a->hb[i])))) {
			fprintf(stderr, "  real %d: record moved by %llu, %llu valid heartbeats sent\n",
				i, (unsigned long long)got, (unsigned long long)b->accepted[i]);
			bad++;
		}
	}
	for (int k = 0; k < FLOW_BUCKETS; k++) {
		if (!b->bucket_ok[k] && memcmp(&a->flows[k], &z->flows[k], sizeof(a->flows[k]))) {
			fprintf(stderr, "  flow bucket %d written, and no service frame hashes there\n", k);
			bad++;
		}
	}
	if (memcmp(a->backends, z->backends, sizeof(a->backends)) || memcmp(a->gen, z->gen, sizeof(a->gen))) {
		fprintf(stderr, "  backends or table generations changed\n");
		bad++;
	}
	return bad;
}

int main(int argc, char **argv)
{
	const char *corpus = argc > 1 ? argv[1] : "tests/corpus/hb";
	__u64 nframes = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000000, sent = 0;
	__u64 totals[HBLB_R_MAX] = { 0 }, heartbeats = 0, accepted = 0, svc_frames = 0;
	int frame_errors = 0, batch_errors = 0, bad_batches = 0, n;
	static struct state a, z;
	static __u8 buf[MAX_FRAME];

	rng_state = (__u64)getpid() * 0x9e3779b97f4a7c15ull | 1;
	test_begin("program loads on a small load balancer; fixtures built");
	n = setup();
	if (!CHECK(n == 0, "setup: %s", strerror(-n))) {
		test_end();
		return test_summary("frames");
	}
	n = load_fixtures(corpus);
	CHECK(n > 10, "fixtures from %s: %s", corpus, n < 0 ? strerror(-n) : "too few");
	printf("# %d fixtures, seed %#llx\n", nfixtures, (unsigned long long)rng_state);
	test_end();
	if (t_failed)
		return test_summary("frames");

	test_begin("1,000,000 random and mutated frames: verdicts allowed, counters add up, "
		   "only valid frames change state");
	state_read(&a);
	while (sent < nframes && frame_errors < 10 && bad_batches < 10) {
		struct batch b;

		memset(&b, 0, sizeof(b));
		for (int i = 0; i < BATCH && sent < nframes; i++, sent++) {
			size_t len = gen_frame(buf);

			frame_errors += one_frame(buf, len, &b, sent) != 0;
		}
		state_read(&z);
		n = check_batch(&a, &z, &b);
		batch_errors += n;
		bad_batches += n != 0;
		for (int r = 0; r < HBLB_R_MAX; r++)
			totals[r] += z.stats[r] - a.stats[r];
		heartbeats += b.heartbeats;
		svc_frames += b.service_frames;
		for (int i = 0; i < NREALS; i++)
			accepted += b.accepted[i];
		a = z;
	}
	{
		__u64 malformed = 0;

		for (int r = HBLB_R_DROP_TRUNC_ETH; r <= HBLB_R_DROP_BAD_UDP_LEN; r++)
			malformed += totals[r];
		printf("# %llu frames: %llu malformed (dropped by reason), %llu heartbeats (%llu "
		       "accepted), %llu service candidates (%llu forwarded), %llu passed\n",
		       (unsigned long long)sent, (unsigned long long)malformed,
		       (unsigned long long)heartbeats, (unsigned long long)accepted,
		       (unsigned long long)svc_frames, (unsigned long long)totals[HBLB_R_TX_FORWARDED],
		       (unsigned long long)(totals[HBLB_R_PASS_NOT_IPV4] + totals[HBLB_R_PASS_NOT_SERVICE] +
					    totals[HBLB_R_PASS_IP_OPTIONS] + totals[HBLB_R_PASS_IP_FRAGMENT] +
					    totals[HBLB_R_PASS_NOT_OURS] + totals[HBLB_R_PASS_VLAN_DEPTH]));
		CHECK(sent == nframes, "stopped after %llu frames", (unsigned long long)sent);
		CHECK(frame_errors == 0, "%d frames judged wrong", frame_errors);
		CHECK(batch_errors == 0, "%d state or counter errors in %d batches", batch_errors,
		      bad_batches);
		/* the mix must reach every kind of frame, or the test proves little */
		CHECK(malformed > nframes / 20 && accepted > nframes / 100 &&
		      totals[HBLB_R_TX_FORWARDED] > nframes / 50,
		      "too few malformed, accepted or forwarded frames in the mix");
	}
	test_end();
	hblb_close(&h);
	return test_summary("frames");
}
