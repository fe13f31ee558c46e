// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Controller tests: the real controller core (ctl.c) on real maps, driven
 * on a fake clock. Configuration goes in through the CLI's hblb_cfg_* maps,
 * heartbeats are written straight into the per-CPU records the XDP program
 * keeps, and the tests check backend states, tables and traffic through
 * BPF_PROG_TEST_RUN. Also: the table-churn atomicity test and a restart
 * that adopts pinned state. Needs root.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "ctl.h"
#include "log.h"
#include "packets.h"
#include "testing.h"

#define TABLE_SIZE 1021
#define SEC_NS     1000000000ull
#define MS_NS      1000000ull
#define IFINDEX    1

#define IP(a, b, c, d) (((__u32)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))
#define VIP    IP(198, 18, 1, 100)
#define CLIENT IP(198, 18, 1, 1)
#define BE(n)  IP(198, 18, 1, 10 + (n))

static const __u8 lb_mac[6] = { 0x02, 0, 0, 0, 0, 0xfe };
static char pin_dir[128];
static int ncpus;

static struct hblb_service_key svc_key(__u16 port)
{
	return (struct hblb_service_key){ .vip = htonl(VIP), .port = htons(port), .proto = IPPROTO_TCP };
}

static void cfg_bump(struct ctl *c)
{
	__u32 zero = 0;
	__u64 gen = 0;

	bpf_map_lookup_elem(bpf_map__fd(c->h.skel->maps.hblb_cfg_gen), &zero, &gen);
	gen++;
	bpf_map_update_elem(bpf_map__fd(c->h.skel->maps.hblb_cfg_gen), &zero, &gen, BPF_ANY);
}

static void cfg_service(struct ctl *c, __u16 port, __u32 flags)
{
	struct hblb_service_key k = svc_key(port);
	struct hblb_cfg_service v = { .flags = flags };

	bpf_map_update_elem(bpf_map__fd(c->h.skel->maps.hblb_cfg_svcs), &k, &v, BPF_ANY);
	cfg_bump(c);
}

static void cfg_backend(struct ctl *c, __u16 port, int n, __u32 weight, __u8 flags)
{
	struct hblb_cfg_backend_key k = { .service = svc_key(port), .addr = htonl(BE(n)) };
	struct hblb_cfg_backend v = { .weight = weight, .flags = flags | HBLB_BECFG_MAC };

	v.mac[0] = 0x02;
	v.mac[4] = 0xbe;
	v.mac[5] = n;
	bpf_map_update_elem(bpf_map__fd(c->h.skel->maps.hblb_cfg_bes), &k, &v, BPF_ANY);
	cfg_bump(c);
}

static void cfg_backend_del(struct ctl *c, __u16 port, int n)
{
	struct hblb_cfg_backend_key k = { .service = svc_key(port), .addr = htonl(BE(n)) };

	bpf_map_delete_elem(bpf_map__fd(c->h.skel->maps.hblb_cfg_bes), &k);
	cfg_bump(c);
}

/* What the XDP program would have written after `count` heartbeats. */
static void heartbeat(struct ctl *c, int n, __u64 count, __u64 at, __u32 ready)
{
	struct hblb_hb_record recs[ncpus];
	__be32 addr = htonl(BE(n));
	struct hblb_real real;

	if (bpf_map_lookup_elem(bpf_map__fd(c->h.skel->maps.hblb_reals), &addr, &real))
		return;
	memset(recs, 0, sizeof(recs));
	recs[0].count = count;
	recs[0].last_ns = at;
	recs[0].ready = ready;
	bpf_map_update_elem(bpf_map__fd(c->h.skel->maps.hblb_hb), &real.id, recs, BPF_ANY);
}

static int backend_id(struct ctl *c, __u16 port, int n)
{
	for (__u32 id = 0; id < HBLB_MAX_BACKENDS; id++)
		if (c->bes[id].used && c->bes[id].key.addr == htonl(BE(n)) &&
		    c->bes[id].key.service.port == htons(port))
			return id;
	return -1;
}

static __u8 dp_state(struct ctl *c, __u16 port, int n)
{
	struct hblb_backend rec = { 0 };
	int id = backend_id(c, port, n);

	if (id < 0)
		return 0xff;
	bpf_map_lookup_elem(bpf_map__fd(c->h.skel->maps.hblb_backends), &id, &rec);
	return rec.state;
}

/* Table slots per backend number (by MAC byte), -1 for empty. */
static void table_share(struct ctl *c, __u16 port, __u32 *slots, int nslots, __u32 *empty)
{
	struct hblb_service_key k = svc_key(port);
	struct hblb_service svc;
	const __u16 *t;

	memset(slots, 0, nslots * sizeof(*slots));
	*empty = 0;
	if (bpf_map_lookup_elem(bpf_map__fd(c->h.skel->maps.hblb_services), &k, &svc))
		return;
	t = hblb_table_active(&c->h, svc.id);
	for (__u32 i = 0; i < c->h.cfg.table_size; i++) {
		if (t[i] == HBLB_BACKEND_NONE) {
			(*empty)++;
			continue;
		}
		for (int n = 0; n < nslots; n++)
			if (backend_id(c, port, n) == t[i])
				slots[n]++;
	}
}

static int open_ctl(struct ctl *c, __u64 now)
{
	struct hblb_load_opts lo = {
		.pin_dir = pin_dir, .table_size = TABLE_SIZE, .max_services = 8, .flow_buckets = 256,
	};
	struct ctl_opts o = { .no_checks = true };
	struct hblb_iface ifc = { .enabled = 1 };
	__u32 idx = IFINDEX;
	int err;

	health_params_default(&o.health);
	err = ctl_open(c, &lo, &o, now);
	if (err)
		return err;
	memcpy(ifc.mac, lb_mac, 6);
	bpf_map_update_elem(bpf_map__fd(c->h.skel->maps.hblb_ifaces), &idx, &ifc, BPF_ANY);
	return 0;
}

static void remove_pins(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", pin_dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", pin_dir);
}

/* Sends a SYN from `sport` and returns the backend number (MAC byte) or -1. */
static int send_syn(struct ctl *c, __u16 sport, __u32 *verdict)
{
	struct pkt_spec s = {
		.saddr = CLIENT, .daddr = VIP, .proto = IPPROTO_TCP, .sport = sport, .dport = 80,
		.tcp_flags = PKT_TCP_SYN,
	};
	struct xdp_md ctx = { .ingress_ifindex = IFINDEX };
	__u8 buf[128], out[128];
	size_t len;

	memcpy(s.dst_mac, lb_mac, 6);
	len = pkt_build(&s, buf, sizeof(buf), NULL, NULL);
	ctx.data_end = len;
	{
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf, .data_size_in = len,
			    .data_out = out, .data_size_out = sizeof(out),
			    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);

		if (bpf_prog_test_run_opts(bpf_program__fd(c->h.skel->progs.hblb_xdp), &o))
			return -1;
		*verdict = o.retval;
		return o.retval == XDP_TX ? out[5] : -1;
	}
}

static void test_liveness_and_tables(void)
{
	__u64 counts[3] = { 0 }, now = 1000 * SEC_NS, last;
	__u32 slots[3], empty, verdict;
	struct ctl c;

	test_begin("heartbeats bring backends up; silence takes one out within a tick");
	if (!CHECK_EQ(open_ctl(&c, now), 0)) {
		test_end();
		return;
	}
	cfg_service(&c, 80, 0);
	for (int n = 0; n < 3; n++)
		cfg_backend(&c, 80, n, 0, HBLB_BECFG_HEARTBEAT);
	ctl_tick(&c, now, false);
	for (int n = 0; n < 3; n++)
		CHECK_EQ(dp_state(&c, 80, n), HBLB_BE_DOWN);
	table_share(&c, 80, slots, 3, &empty);
	CHECK_EQ(empty, TABLE_SIZE);

	/* three backends beating every second: up after rise (2) */
	for (int i = 0; i < 3; i++) {
		for (int n = 0; n < 3; n++)
			heartbeat(&c, n, ++counts[n], now + i * SEC_NS, 100);
		ctl_tick(&c, now + i * SEC_NS, false);
	}
	last = now + 2 * SEC_NS;
	for (int n = 0; n < 3; n++)
		CHECK_EQ(dp_state(&c, 80, n), HBLB_BE_UP);
	table_share(&c, 80, slots, 3, &empty);
	CHECK_EQ(empty, 0);
	for (int n = 0; n < 3; n++)
		CHECK(slots[n] >= TABLE_SIZE / 3 - 2 && slots[n] <= TABLE_SIZE / 3 + 2,
		      "backend %d has %u slots of %u", n, slots[n], TABLE_SIZE);
	{
		int hits[3] = { 0 };

		for (int p = 0; p < 300; p++) {
			int b = send_syn(&c, 20000 + p, &verdict);

			if (CHECK(b >= 0 && b < 3, "SYN not forwarded (verdict %u)", verdict))
				hits[b]++;
		}
		for (int n = 0; n < 3; n++)
			CHECK(hits[n] > 50, "backend %d got %d of 300 new flows", n, hits[n]);
	}

	/* backend 2 falls silent: up until last + 3 s, out of the table at it */
	for (__u64 t = last + SEC_NS; t < last + 3 * SEC_NS; t += SEC_NS) {
		for (int n = 0; n < 2; n++)
			heartbeat(&c, n, ++counts[n], t, 100);
		ctl_tick(&c, t, false);
	}
	ctl_tick(&c, last + 3 * SEC_NS - 10 * MS_NS, false);
	CHECK_EQ(dp_state(&c, 80, 2), HBLB_BE_UP);
	ctl_tick(&c, last + 3 * SEC_NS + 10 * MS_NS, false);   /* one tick after expiry */
	CHECK_EQ(dp_state(&c, 80, 2), HBLB_BE_DOWN);
	table_share(&c, 80, slots, 3, &empty);
	CHECK_EQ(slots[2], 0);
	CHECK_EQ(slots[0] + slots[1], TABLE_SIZE);
	test_end();

	test_begin("a backend that beats again rejoins after rise");
	{
		__u64 t = last + 5 * SEC_NS;

		for (int i = 0; i < 2; i++, t += SEC_NS) {
			for (int n = 0; n < 3; n++)
				heartbeat(&c, n, ++counts[n], t, 100);
			ctl_tick(&c, t, false);
		}
		CHECK_EQ(dp_state(&c, 80, 2), HBLB_BE_UP);
		table_share(&c, 80, slots, 3, &empty);
		CHECK(slots[2] > TABLE_SIZE / 3 - 3, "backend 2 has %u slots after rejoining", slots[2]);
		last = t - SEC_NS;
	}
	test_end();

	test_begin("weights follow ready; ready=0 drains");
	{
		__u64 t = last + SEC_NS;

		for (int i = 0; i < 3; i++, t += SEC_NS) {
			heartbeat(&c, 0, ++counts[0], t, 300);
			heartbeat(&c, 1, ++counts[1], t, 100);
			heartbeat(&c, 2, ++counts[2], t, 0);
			ctl_tick(&c, t, false);
		}
		CHECK_EQ(dp_state(&c, 80, 2), HBLB_BE_DRAINING);
		table_share(&c, 80, slots, 3, &empty);
		CHECK_EQ(slots[2], 0);
		/* 300 : 100 within 1% of the table */
		CHECK(abs((int)slots[0] - (int)(TABLE_SIZE * 3 / 4)) <= TABLE_SIZE / 100 + 1,
		      "ready 300 vs 100 gave %u vs %u slots", slots[0], slots[1]);
		last = t - SEC_NS;
	}
	test_end();

	test_begin("admin drain and removal");
	{
		__u64 t = last + SEC_NS;

		cfg_backend(&c, 80, 1, 0, HBLB_BECFG_HEARTBEAT | HBLB_BECFG_DRAIN);
		for (int i = 0; i < 2; i++, t += SEC_NS) {
			for (int n = 0; n < 3; n++)
				heartbeat(&c, n, ++counts[n], t, 100);
			ctl_tick(&c, t, false);
		}
		CHECK_EQ(dp_state(&c, 80, 1), HBLB_BE_DRAINING);
		table_share(&c, 80, slots, 3, &empty);
		CHECK_EQ(slots[1], 0);
		cfg_backend_del(&c, 80, 1);
		ctl_tick(&c, t, false);
		CHECK_EQ(backend_id(&c, 80, 1), -1);
		table_share(&c, 80, slots, 3, &empty);
		CHECK_EQ(slots[0] + slots[2], TABLE_SIZE);
		last = t - SEC_NS;
	}
	test_end();

	test_begin("fail-open keeps the last table when every backend is down");
	{
		__u16 before[TABLE_SIZE];
		struct hblb_service_key k = svc_key(80);
		struct hblb_service svc;
		__u64 t = last + 10 * SEC_NS;

		bpf_map_lookup_elem(bpf_map__fd(c.h.skel->maps.hblb_services), &k, &svc);
		memcpy(before, hblb_table_active(&c.h, svc.id), sizeof(before));
		ctl_tick(&c, t, false);
		CHECK_EQ(dp_state(&c, 80, 0), HBLB_BE_DOWN);
		CHECK_EQ(dp_state(&c, 80, 2), HBLB_BE_DOWN);
		CHECK(memcmp(before, hblb_table_active(&c.h, svc.id), sizeof(before)) == 0,
		      "table changed although every backend is down (fail-open)");
		CHECK(send_syn(&c, 30001, &verdict) >= 0, "traffic dropped in fail-open (verdict %u)", verdict);

		/* fail-closed: the table empties */
		cfg_service(&c, 80, HBLB_SVC_FAIL_CLOSED);
		ctl_tick(&c, t + 10 * MS_NS, false);
		table_share(&c, 80, slots, 3, &empty);
		CHECK_EQ(empty, TABLE_SIZE);
		send_syn(&c, 30002, &verdict);
		CHECK_EQ(verdict, XDP_DROP);
	}
	test_end();
	ctl_close(&c);
	remove_pins();
}

/* A restarted controller adopts the pinned state: same ids, same states,
 * same table, and flows stay where they were. */
static void test_restart_adopts(void)
{
	__u64 counts[3] = { 0 }, now = 5000 * SEC_NS, t;
	__u16 before[TABLE_SIZE];
	struct hblb_service_key k = svc_key(80);
	struct hblb_service svc;
	__u32 verdict;
	int ids[3], flow_be[20];
	struct ctl c;

	test_begin("restart adopts pinned state without moving anything");
	if (!CHECK_EQ(open_ctl(&c, now), 0)) {
		test_end();
		return;
	}
	cfg_service(&c, 80, 0);
	for (int n = 0; n < 3; n++)
		cfg_backend(&c, 80, n, 0, HBLB_BECFG_HEARTBEAT);
	/* four beats each, in time order (the clock never runs backwards) */
	for (int i = 0; i < 4; i++) {
		t = now + i * SEC_NS;
		for (int n = 0; n < 3; n++)
			heartbeat(&c, n, ++counts[n], t, 100);
		ctl_tick(&c, t, false);
	}
	for (int n = 0; n < 3; n++) {
		ids[n] = backend_id(&c, 80, n);
		CHECK_EQ(dp_state(&c, 80, n), HBLB_BE_UP);
	}
	for (int p = 0; p < 20; p++)
		flow_be[p] = send_syn(&c, 40000 + p, &verdict);
	bpf_map_lookup_elem(bpf_map__fd(c.h.skel->maps.hblb_services), &k, &svc);
	memcpy(before, hblb_table_active(&c.h, svc.id), sizeof(before));
	__u64 installs = 0;

	ctl_close(&c);          /* the "crash": nothing is torn down */

	if (CHECK_EQ(open_ctl(&c, t + 100 * MS_NS), 0)) {
		installs = c.stats.installs;
		for (int n = 0; n < 3; n++) {
			CHECK_EQ(backend_id(&c, 80, n), ids[n]);
			CHECK_EQ(dp_state(&c, 80, n), HBLB_BE_UP);
		}
		bpf_map_lookup_elem(bpf_map__fd(c.h.skel->maps.hblb_services), &k, &svc);
		CHECK(memcmp(before, hblb_table_active(&c.h, svc.id), sizeof(before)) == 0,
		      "table differs after restart");
		CHECK_EQ(installs, 0);
		for (int p = 0; p < 20; p++)
			CHECK_EQ(send_syn(&c, 40000 + p, &verdict), flow_be[p]);
		/* heartbeats continue: still up one interval later */
		for (int n = 0; n < 3; n++)
			heartbeat(&c, n, ++counts[n], t + SEC_NS, 100);
		ctl_tick(&c, t + SEC_NS, false);
		for (int n = 0; n < 3; n++)
			CHECK_EQ(dp_state(&c, 80, n), HBLB_BE_UP);
		ctl_close(&c);
	}
	remove_pins();
	test_end();
}

/* A backend that keeps flapping is held down, and its record says so. */
static void test_flap_held(void)
{
	__u64 count = 0, steady = 0, t = 9000 * SEC_NS;
	struct hblb_backend rec = { 0 };
	struct ctl c;
	int id;

	test_begin("a flapping backend is held down and its record says held");
	if (!CHECK_EQ(open_ctl(&c, t), 0)) {
		test_end();
		return;
	}
	cfg_service(&c, 80, 0);
	cfg_backend(&c, 80, 0, 0, HBLB_BECFG_HEARTBEAT);
	cfg_backend(&c, 80, 1, 0, HBLB_BECFG_HEARTBEAT);
	/* up (2 beats) and down (4 s silent), again and again: more than the
	 * default 5 changes in 60 s; backend 1 beats steadily throughout */
	for (int cycle = 0; cycle < 4; cycle++) {
		for (int i = 0; i < 2; i++, t += SEC_NS) {
			heartbeat(&c, 0, ++count, t, 100);
			heartbeat(&c, 1, ++steady, t, 100);
			ctl_tick(&c, t, false);
		}
		for (int i = 0; i < 4; i++, t += SEC_NS) {
			heartbeat(&c, 1, ++steady, t, 100);
			ctl_tick(&c, t, false);
		}
	}
	id = backend_id(&c, 80, 0);
	CHECK(id >= 0, "backend 0 missing");
	if (id >= 0)
		bpf_map_lookup_elem(bpf_map__fd(c.h.skel->maps.hblb_backends), &id, &rec);
	CHECK_EQ(c.bes[id].health.state, HEALTH_HELD);
	CHECK_EQ(rec.state, HBLB_BE_DOWN);
	CHECK(rec.flags & HBLB_BE_F_HELD, "record flags %#x lack HELD", rec.flags);
	CHECK_EQ(dp_state(&c, 80, 1), HBLB_BE_UP);      /* the steady one is untouched */
	/* beating steadily through the hold: up once it is over */
	for (int i = 0; i < 40; i++, t += SEC_NS) {
		heartbeat(&c, 0, ++count, t, 100);
		ctl_tick(&c, t, false);
	}
	bpf_map_lookup_elem(bpf_map__fd(c.h.skel->maps.hblb_backends), &id, &rec);
	CHECK_EQ(rec.state, HBLB_BE_UP);
	CHECK(!(rec.flags & HBLB_BE_F_HELD), "still flagged held after the hold");
	ctl_close(&c);
	remove_pins();
	test_end();
}

/*
 * Churn: one thread installs table after table, version v holding only
 * backend v % 4, while this thread sends new flows. Every packet must go
 * to a backend of a version that was current at some moment during its
 * send, and none may be dropped for want of a table.
 */
struct churn {
	struct hblb h;
	atomic_bool stop;
	atomic_uint_fast64_t version;
	__u64 swaps;
};

static void *churn_writer(void *arg)
{
	struct churn *ch = arg;
	__u16 *t = malloc(ch->h.cfg.table_size * sizeof(*t));

	while (t && !atomic_load(&ch->stop)) {
		__u64 v = atomic_load(&ch->version) + 1;

		for (__u32 i = 0; i < ch->h.cfg.table_size; i++)
			t[i] = v % 4;
		atomic_store(&ch->version, v);  /* announced before the flip: it may be seen from now */
		hblb_table_install(&ch->h, 0, t);
		ch->swaps++;
	}
	free(t);
	return NULL;
}

static void test_churn(void)
{
	/* a full-size table makes a swap slower than a send, so most sends
	 * see at most two versions and a torn read (an older version's
	 * backend) cannot hide among the allowed ones */
	struct hblb_load_opts lo = { .no_pin = true, .table_size = HBLB_TABLE_SIZE_DEFAULT,
				     .max_services = 2, .flow_buckets = 1 };
	struct hblb_service_key k = svc_key(80);
	struct hblb_service sv = { .id = 0 };
	struct hblb_iface ifc = { .enabled = 1 };
	struct churn ch = { 0 };
	__u32 idx = IFINDEX, bad = 0, dropped = 0, sent = 0, decisive = 0;
	static __u16 t0[HBLB_TABLE_SIZE_DEFAULT];
	pthread_t th;

	test_begin("tables swapped continuously: every packet sees the old or the new table");
	if (!CHECK_EQ(hblb_open(&ch.h, &lo), 0)) {
		test_end();
		return;
	}
	memcpy(ifc.mac, lb_mac, 6);
	bpf_map_update_elem(bpf_map__fd(ch.h.skel->maps.hblb_ifaces), &idx, &ifc, BPF_ANY);
	for (__u32 id = 0; id < 4; id++) {
		struct hblb_backend be = { .state = HBLB_BE_UP, .service = k, .mac = { 2, 0, 0, 0, 0xbe, id } };

		bpf_map_update_elem(bpf_map__fd(ch.h.skel->maps.hblb_backends), &id, &be, BPF_ANY);
	}
	for (int i = 0; i < HBLB_TABLE_SIZE_DEFAULT; i++)
		t0[i] = 0;
	hblb_table_install(&ch.h, 0, t0);
	hblb_vip_mark(&ch.h, k.vip);
	bpf_map_update_elem(bpf_map__fd(ch.h.skel->maps.hblb_services), &k, &sv, BPF_ANY);
	pthread_create(&th, NULL, churn_writer, &ch);
	for (int p = 0; p < 100000; p++) {
		struct ctl fake = { .h = ch.h };
		__u64 v0 = atomic_load(&ch.version), v1;
		__u32 verdict;
		int b = send_syn(&fake, 1024 + p % 60000, &verdict);

		v1 = atomic_load(&ch.version);
		sent++;
		if (b < 0) {
			dropped++;
			continue;
		}
		/* the versions current during the send: v0 (or the one before,
		 * announced but perhaps not yet flipped in) up to v1 */
		if (v1 - v0 >= 2)
			continue;       /* every backend would pass: proves nothing */
		decisive++;
		bool ok = false;

		for (__u64 v = v0 ? v0 - 1 : 0; v <= v1; v++)
			ok |= (int)(v % 4) == b;
		bad += !ok;
	}
	atomic_store(&ch.stop, true);
	pthread_join(th, NULL);
	printf("# churn: %u packets (%u decisive), %llu table swaps, %u outside the old/new set, %u dropped\n",
	       sent, decisive, (unsigned long long)ch.swaps, bad, dropped);
	CHECK(ch.swaps > 1000, "only %llu swaps happened", (unsigned long long)ch.swaps);
	CHECK(decisive > sent / 2, "only %u of %u sends could tell versions apart", decisive, sent);
	CHECK_EQ(bad, 0);
	CHECK_EQ(dropped, 0);
	hblb_close(&ch.h);
	test_end();
}

int main(void)
{
	log_init(getenv("HBLB_VERBOSE") != NULL);
	if (geteuid() != 0) {
		fprintf(stderr, "test_ctl needs root\n");
		return 1;
	}
	ncpus = libbpf_num_possible_cpus();
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/hblb-test-ctl-%d", getpid());
	test_liveness_and_tables();
	test_restart_adopts();
	test_flap_held();
	test_churn();
	remove_pins();
	return test_summary("ctl");
}
