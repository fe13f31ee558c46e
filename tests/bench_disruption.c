// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bench_disruption - how many connections a backend change moves, and how
 * evenly equal backends share the flows, measured the way the data path
 * steers a new flow: each of --flows random 5-tuples (client address and
 * port random, to one VIP:80/tcp) is hashed with hblb_flow_hash (the data
 * path's hash, include/hblb.h, with the loaded hash seed) and looked up at
 * hash % M in the service's active table in the program's own maps
 * (hblb_table_entry reads the mmap as the data path reads it), after
 * hblb_table_install of the controller's Maglev build.
 *
 * For N = 10, 100, 1000 equal backends, M = 65537 (the default), and
 * N = 1000 with M = 655373 (M >= 100 N, as the Maglev paper advises):
 * - remove: backend N/2 dies; the share of flows whose backend changed,
 *   beside the share that had to move (the flows it had: the least any
 *   scheme can move) and the target 1/N + 1%;
 * - add: an (N+1)-th backend joins; the share that changed, beside the
 *   share the newcomer got (the least that must move) and 1/N + 1%;
 * - balance: largest / smallest share of flows, and of table slots, across
 *   the N equal backends.
 * Established flows stay where the flow table pins them whatever the table
 * says; these figures are what a flow without a flow table entry (new, or
 * evicted, or on another load balancer node) would see.
 *
 * Deterministic: a fixed PRNG seed, so runs are comparable. Targets are
 * shown as PASS/MISS and do not change the exit status. Needs root (BPF
 * maps); loads the program without pins, attaches nothing.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include "loader.h"
#include "log.h"
#include "maglev.h"
#include "bench_report.h"

#define TABLE_SIZE      HBLB_TABLE_SIZE_DEFAULT
#define FLOW_BUCKETS    1024        /* no packets: the smallest flow table */
#define MIN_FLOWS       1000000
#define MAX_FLOWS       100000000
#define SVC_ID          0
#define VIP             0xc6120064u /* 198.18.0.100 */
#define VIP_PORT        80
#define BALANCE_N       100
#define TARGET_BALANCE_SLOTS 1.01   /* equal weights: floor or ceil of M/N each */
#define TARGET_BALANCE_FLOWS 1.10   /* 1M flows over 100: ~1% sampling noise each */

#define BIG_M           655373

static const struct {
	__u32 n, m;
} bench_case[] = { { 10, TABLE_SIZE }, { 100, TABLE_SIZE }, { 1000, TABLE_SIZE }, { 1000, BIG_M } };
#define NN (sizeof(bench_case) / sizeof(bench_case[0]))
#define MAX_N 1000
#define RNG_SEED        0x9e3779b97f4a7c15ull

struct result {
	__u32 n, m;
	double remove_changed, remove_must;     /* shares of all flows */
	double add_changed, add_must;
	double flows_max_min, slots_max_min;
};

/* xorshift64*: reproducible, fast, good enough to spread addresses */
static __u64 rng_next(__u64 *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static void backends(struct maglev_backend *b, __u32 n)
{
	for (__u32 i = 0; i < n; i++) {
		b[i].key = (__u64)(0x0a000001u + i) << 16 | VIP_PORT;
		b[i].weight = 1;
		b[i].id = i;
	}
}

/* Builds the table of b[0..n-1], installs it as the service's new version
 * and writes each flow's backend (the slot hash % M of the active table). */
static int steer(struct hblb *h, const struct maglev_backend *b, __u32 n, __u16 *table,
		 struct maglev_ws *ws, const __u32 *hash, __u32 nflows, __u16 *out)
{
	__u32 m = h->cfg.table_size;
	int err = maglev_build(b, n, m, table, ws);

	if (!err)
		err = hblb_table_install(h, SVC_ID, table);
	if (err)
		return err;
	for (__u32 i = 0; i < nflows; i++)
		out[i] = hblb_table_entry(h, SVC_ID, hash[i] % m);
	return 0;
}

static double max_min(const __u32 *count, __u32 n)
{
	__u32 lo = count[0], hi = count[0];

	for (__u32 i = 1; i < n; i++) {
		lo = count[i] < lo ? count[i] : lo;
		hi = count[i] > hi ? count[i] : hi;
	}
	return lo ? (double)hi / lo : INFINITY;
}

static int measure(struct hblb *h, __u32 n, const __u32 *hash, __u32 nflows,
		   struct maglev_backend *b, __u16 *table, struct maglev_ws *ws,
		   __u16 *before, __u16 *after, __u32 *count, struct result *r)
{
	__u32 victim = n / 2, moved = 0, must = 0;
	int err;

	r->n = n;
	r->m = h->cfg.table_size;
	backends(b, n + 1);
	err = steer(h, b, n, table, ws, hash, nflows, before);
	if (err)
		return err;

	/* balance, on the full set */
	memset(count, 0, (n + 1) * sizeof(*count));
	for (__u32 i = 0; i < r->m; i++)
		count[hblb_table_entry(h, SVC_ID, i)]++;
	r->slots_max_min = max_min(count, n);
	memset(count, 0, (n + 1) * sizeof(*count));
	for (__u32 i = 0; i < nflows; i++)
		count[before[i]]++;
	r->flows_max_min = max_min(count, n);

	/* remove: the victim's weight 0 takes it out of the table */
	b[victim].weight = 0;
	err = steer(h, b, n, table, ws, hash, nflows, after);
	b[victim].weight = 1;
	if (err)
		return err;
	for (__u32 i = 0; i < nflows; i++) {
		moved += before[i] != after[i];
		must += before[i] == victim;
		if (after[i] == victim) {
			pr_err("n=%u: a flow still goes to the removed backend", n);
			return -EPROTO;
		}
	}
	r->remove_changed = (double)moved / nflows;
	r->remove_must = (double)must / nflows;

	/* add: backend n joins the n */
	moved = must = 0;
	err = steer(h, b, n + 1, table, ws, hash, nflows, after);
	if (err)
		return err;
	for (__u32 i = 0; i < nflows; i++) {
		moved += before[i] != after[i];
		must += after[i] == n;
	}
	r->add_changed = (double)moved / nflows;
	r->add_must = (double)must / nflows;
	return 0;
}

static const char *verdict(double v, double target)
{
	return v <= target ? "PASS" : "MISS";
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_disruption [--flows N] [--json FILE] [-v]\n"
		   "  --flows N    random 5-tuples (default and least %d)\n"
		   "  --json FILE  write {\"disruption\": {...}} there\n"
		   "  -v           libbpf's messages\n", MIN_FLOWS);
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "flows", required_argument, NULL, 'f' },
		{ "json", required_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct result res[NN];
	struct maglev_backend *b = NULL;
	struct maglev_ws ws = { 0 };
	struct hblb h = { 0 };
	__u32 *hash = NULL, *count = NULL, nflows = MIN_FLOWS;
	__u16 *table = NULL, *before = NULL, *after = NULL;
	__u64 rng;
	const char *json = NULL;
	int opt, verbose = 0, err, ret = EXIT_FAILURE;
	unsigned long v;
	char *end;

	while ((opt = getopt_long(argc, argv, "vh", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || v < MIN_FLOWS || v > MAX_FLOWS) {
				fprintf(stderr, "--flows takes a count from %d to %d\n", MIN_FLOWS,
					MAX_FLOWS);
				return EXIT_FAILURE;
			}
			nflows = v;
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
	log_init(verbose);

	err = maglev_ws_init(&ws, MAX_N + 1, BIG_M);
	b = calloc(MAX_N + 1, sizeof(*b));
	count = calloc(MAX_N + 1, sizeof(*count));
	table = calloc(BIG_M, sizeof(*table));
	hash = calloc(nflows, sizeof(*hash));
	before = calloc(nflows, sizeof(*before));
	after = calloc(nflows, sizeof(*after));
	if (err || !b || !count || !table || !hash || !before || !after) {
		pr_err("out of memory");
		goto cleanup;
	}
	for (size_t i = 0; i < NN; i++) {
		struct hblb_load_opts lo = {
			.no_pin = true, .table_size = bench_case[i].m, .max_services = 1,
			.flow_buckets = FLOW_BUCKETS,
		};

		err = hblb_open(&h, &lo);
		if (err) {
			pr_err("cannot load the program's maps: %s (root? -v for libbpf's messages)",
			       strerror(-err));
			goto cleanup;
		}
		/* the flows: random clients to VIP:80/tcp, hashed as the data
		 * path hashes them with this instance's seed; the same flows
		 * for every case */
		rng = RNG_SEED;
		for (__u32 k = 0; k < nflows; k++) {
			__u64 x = rng_next(&rng);
			__be32 saddr = htonl((__u32)x);
			__be16 sport = htons(1024 + (x >> 32) % 64512);

			hash[k] = hblb_flow_hash(saddr, htonl(VIP), sport, htons(VIP_PORT),
						 IPPROTO_TCP, h.cfg.hash_seed);
		}
		err = measure(&h, bench_case[i].n, hash, nflows, b, table, &ws, before, after,
			      count, &res[i]);
		hblb_close(&h);
		if (err) {
			pr_err("n=%u m=%u: %s", bench_case[i].n, bench_case[i].m, strerror(-err));
			goto cleanup;
		}
	}

	printf("%u random flows; shares of all flows that changed backend\n", nflows);
	printf("%6s %7s %16s %9s %14s %9s %14s %13s\n", "N", "M", "remove 1: moved", "had to",
	       "add 1: moved", "had to", "target", "flows max/min");
	for (size_t i = 0; i < NN; i++) {
		const struct result *r = &res[i];
		double target = 1.0 / r->n + 0.01;
		char t[32];

		snprintf(t, sizeof(t), "<= %.4f %s", target,
			 r->remove_changed <= target && r->add_changed <= target ? "PASS" : "MISS");
		printf("%6u %7u %16.5f %9.5f %14.5f %9.5f %14s %13.4f\n", r->n, r->m,
		       r->remove_changed, r->remove_must, r->add_changed, r->add_must, t,
		       r->flows_max_min);
	}
	for (size_t i = 0; i < NN; i++) {
		if (res[i].n != BALANCE_N)
			continue;
		printf("balance over %u equal backends: flows max/min %.4f (<= %.2f %s), "
		       "table slots max/min %.4f (<= %.2f %s)\n", BALANCE_N, res[i].flows_max_min,
		       TARGET_BALANCE_FLOWS, verdict(res[i].flows_max_min, TARGET_BALANCE_FLOWS),
		       res[i].slots_max_min, TARGET_BALANCE_SLOTS,
		       verdict(res[i].slots_max_min, TARGET_BALANCE_SLOTS));
	}

	if (json) {
		struct bench_json j;

		if (bench_json_open(&j, json, "disruption"))
			goto cleanup;
		bench_json_num(&j, nflows, "flows");
		bench_json_num(&j, TABLE_SIZE, "table_size");
		for (size_t i = 0; i < NN; i++) {
			const struct result *r = &res[i];
			char sfx[16] = "";

			/* the default M has the short names */
			if (r->m != TABLE_SIZE)
				snprintf(sfx, sizeof(sfx), "_m%u", r->m);
			bench_json_num(&j, r->remove_changed, "remove_1_of_%u%s", r->n, sfx);
			bench_json_num(&j, r->remove_must, "remove_1_of_%u%s_min", r->n, sfx);
			bench_json_num(&j, r->add_changed, "add_1_to_%u%s", r->n, sfx);
			bench_json_num(&j, r->add_must, "add_1_to_%u%s_min", r->n, sfx);
			bench_json_num(&j, r->flows_max_min, "balance_max_min_n%u%s", r->n, sfx);
			bench_json_num(&j, r->slots_max_min, "balance_slots_max_min_n%u%s", r->n, sfx);
		}
		if (bench_json_close(&j))
			goto cleanup;
	}
	ret = EXIT_SUCCESS;
cleanup:
	hblb_close(&h);
	maglev_ws_free(&ws);
	free(b);
	free(count);
	free(table);
	free(hash);
	free(before);
	free(after);
	return ret;
}
