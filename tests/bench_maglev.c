// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bench_maglev - what a backend's death costs in tables, for N = 10 ..
 * 10000 backends and table sizes M = 65537 (the default) and 655373:
 *
 * - build: maglev_build of the N backends (equal weights, the Maglev
 *   paper's case; mixed weights 1..10 shown alongside);
 * - swap: hblb_table_install of a built table into real maps (write of the
 *   inactive copy through mmap + one generation store), alternating the
 *   tables before and after the death so every install writes new entries;
 * - update: build of the survivors' table + its install, timed together:
 *   what one service pays when one backend dies;
 * - 100 services of 10 backends each, one real a backend of all of them:
 *   build + install of the 100 tables without it (update), and the builds
 *   and installs alone.
 *
 * The maps are the program's own (loaded, not pinned, nothing attached),
 * sized for each M: the default pinned maps hold M = 65537, the loader
 * sizes them for any prime M below 2^24. Installs need root (BPF); without
 * it only builds are timed, and said so.
 *
 * Times are the thread's CPU time (CLOCK_THREAD_CPUTIME_ID, user + system):
 * what the work costs, whatever else the shared machine runs meanwhile (a
 * preempted build is not a slower build); the wall time of the builds and
 * of the 100-services update is reported beside it. One untimed warm-up,
 * median and min/max of --runs runs. Keys are consecutive addresses from 10.0.0.1, port 80.
 * Targets (N = 1000, M = 65537: build <= 1 ms, install + swap <= 2 ms;
 * 100 services <= 20 ms) are shown as PASS/MISS and do not change the exit
 * status.
 *
 * Options: --runs N (default 11, 5 to 1001), --quick (5 runs), --json FILE
 * writes {"maglev": {"build_ms_n<N>_m<M>": median, ...}}.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "loader.h"
#include "log.h"
#include "maglev.h"
#include "bench_report.h"

#define MAX_RUNS        1001
#define TARGET_N        1000
#define TARGET_M        65537
#define TARGET_BUILD_MS 1.0
#define TARGET_SWAP_MS  2.0
#define TARGET_MULTI_MS 20.0
#define MULTI_SVCS      100
#define MULTI_PER_SVC   10
#define FLOW_BUCKETS    1024        /* no packets: the smallest flow table */

static const __u32 bench_n[] = { 10, 100, 1000, 10000 };
static const __u32 bench_m[] = { 65537, 655373 };
#define NN (sizeof(bench_n) / sizeof(bench_n[0]))
#define NM (sizeof(bench_m) / sizeof(bench_m[0]))

struct timing {
	double median, min, max;    /* ms */
};

struct samples {
	double v[MAX_RUNS];
	int n;
};

static double clock_ms(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double now_ms(void)
{
	return clock_ms(CLOCK_THREAD_CPUTIME_ID);
}

static double wall_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static struct timing summarize(const struct samples *s)
{
	double v[MAX_RUNS];
	int n = s->n;

	memcpy(v, s->v, n * sizeof(v[0]));
	qsort(v, n, sizeof(v[0]), cmp_double);
	return (struct timing){
		.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0,
		.min = v[0], .max = v[n - 1],
	};
}

static int time_build(const struct maglev_backend *b, __u32 n, __u32 m, __u16 *table,
		      struct maglev_ws *ws, int runs, struct timing *t, struct timing *wall)
{
	struct samples s = { .n = runs }, w = { .n = runs };
	int err;

	err = maglev_build(b, n, m, table, ws);        /* warm-up: caches, page faults */
	if (err)
		return err;
	for (int i = 0; i < runs; i++) {
		double w0 = wall_ms(), t0 = now_ms();

		err = maglev_build(b, n, m, table, ws);
		s.v[i] = now_ms() - t0;
		w.v[i] = wall_ms() - w0;
		if (err)
			return err;
	}
	*t = summarize(&s);
	*wall = summarize(&w);
	return 0;
}

/*
 * One service of n backends on maps sized for m: each run builds the table
 * without backend n/2 (its death) and installs it, then with it again (its
 * return), each build + install timed as `update` and each install alone
 * as `swap`. The survivors' table must differ from the full one, so each
 * install writes what a death writes.
 */
static int time_swap(struct hblb *h, const struct maglev_backend *b, __u32 n, __u32 m,
		     __u16 *full, __u16 *survivors, struct maglev_ws *ws, int runs,
		     struct timing *swap, struct timing *update)
{
	static struct maglev_backend set[10000];
	struct samples sw = { 0 }, up = { 0 };
	__u32 victim = n / 2;
	int err;

	if (n > sizeof(set) / sizeof(set[0]))
		return -E2BIG;
	memcpy(set, b, n * sizeof(*b));
	set[victim].weight = 0;         /* dead: not in the table */
	err = maglev_build(b, n, m, full, ws);
	if (!err)
		err = maglev_build(set, n, m, survivors, ws);
	if (err)
		return err;
	if (!memcmp(full, survivors, m * sizeof(*full))) {
		pr_err("n=%u m=%u: the table without backend %u equals the full one", n, m, victim);
		return -EPROTO;
	}
	for (int i = 0; i <= runs; i++) {
		for (int death = 1; death >= 0; death--) {
			const struct maglev_backend *in = death ? set : b;
			__u16 *t = death ? survivors : full;
			double t0, t1, t2;

			t0 = now_ms();
			err = maglev_build(in, n, m, t, ws);
			t1 = now_ms();
			if (!err)
				err = hblb_table_install(h, 0, t);
			t2 = now_ms();
			if (err)
				return err;
			if (i == 0)
				continue;       /* warm-up */
			if (death) {
				up.v[up.n++] = t2 - t0;
				sw.v[sw.n++] = t2 - t1;
			}
		}
	}
	*swap = summarize(&sw);
	*update = summarize(&up);
	return 0;
}

struct multi_result {
	struct timing update, build, swap, update_wall;
};

/*
 * MULTI_SVCS services of MULTI_PER_SVC backends each (service s on port
 * 80 + s), real 10.0.0.1 a backend of all of them: its death rebuilds and
 * installs every table. Timed per run: the whole (update), and the builds
 * and the installs summed separately; its return (untimed) restores them.
 */
static int time_multi(struct hblb *h, struct maglev_ws *ws, int runs, struct multi_result *r)
{
	static struct maglev_backend set[MULTI_SVCS][MULTI_PER_SVC];
	static __u16 table[TARGET_M];
	struct samples up = { 0 }, bu = { 0 }, sw = { 0 }, upw = { 0 };
	int err;

	for (__u32 s = 0; s < MULTI_SVCS; s++) {
		for (__u32 j = 0; j < MULTI_PER_SVC; j++) {
			/* backend 0: the shared real; the others are the service's own */
			__u32 addr = 0x0a000001u + (j == 0 ? 0 : 1 + s * (MULTI_PER_SVC - 1) + j - 1);

			set[s][j].key = (__u64)addr << 16 | (80 + s);
			set[s][j].weight = 1;
			set[s][j].id = s * MULTI_PER_SVC + j;
		}
	}
	for (int i = 0; i <= runs; i++) {
		double build = 0, swap = 0, t0, t1, t2, start, start_wall;

		for (int death = 1; death >= 0; death--) {
			start_wall = wall_ms();
			start = now_ms();
			for (__u32 s = 0; s < MULTI_SVCS; s++) {
				set[s][0].weight = !death;
				t0 = now_ms();
				err = maglev_build(set[s], MULTI_PER_SVC, TARGET_M, table, ws);
				t1 = now_ms();
				if (!err)
					err = hblb_table_install(h, s, table);
				t2 = now_ms();
				if (err)
					return err;
				build += t1 - t0;
				swap += t2 - t1;
			}
			if (i > 0 && death) {
				up.v[up.n++] = now_ms() - start;
				upw.v[upw.n++] = wall_ms() - start_wall;
				bu.v[bu.n++] = build;
				sw.v[sw.n++] = swap;
			}
		}
	}
	r->update = summarize(&up);
	r->build = summarize(&bu);
	r->swap = summarize(&sw);
	r->update_wall = summarize(&upw);
	return 0;
}

static int open_maps(struct hblb *h, __u32 m, __u32 services)
{
	struct hblb_load_opts o = {
		.no_pin = true, .table_size = m, .max_services = services,
		.flow_buckets = FLOW_BUCKETS,
	};
	int err = hblb_open(h, &o);

	if (err)
		pr_err("cannot load the maps for M = %u: %s (run with -v for libbpf's messages)", m,
		       strerror(-err));
	return err;
}

static const char *verdict(double v, double target)
{
	return v <= target ? "PASS" : "MISS";
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench_maglev [--runs N] [--quick] [--json FILE] [-v]\n"
		   "  --runs N     timed runs per case, median and min/max reported (default 11, 5 to %d)\n"
		   "  --quick      5 runs\n"
		   "  --json FILE  also write {\"maglev\": {\"build_ms_n<N>_m<M>\": median ms, ...}}\n"
		   "  -v           libbpf's messages\n", MAX_RUNS);
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "runs", required_argument, NULL, 'n' },
		{ "quick", no_argument, NULL, 'q' },
		{ "json", required_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct timing eq[NN][NM], eq_wall[NN][NM], mixed[NN][NM], mixed_wall[NN][NM];
	struct timing swap[NN][NM], update[NN][NM];
	struct multi_result multi = { 0 };
	struct maglev_backend *b = NULL, *bw = NULL;
	const char *json = NULL;
	struct maglev_ws ws = { 0 };
	struct hblb h = { 0 };
	__u16 *table = NULL, *table2 = NULL;
	int opt, runs = 0, verbose = 0, err, ret = EXIT_FAILURE;
	bool install = geteuid() == 0;
	char *end;

	while ((opt = getopt_long(argc, argv, "vh", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			errno = 0;
			runs = strtol(optarg, &end, 10);
			if (errno || *end || runs < 5 || runs > MAX_RUNS - 1) {
				fprintf(stderr, "--runs takes a count from 5 to %d\n", MAX_RUNS - 1);
				return EXIT_FAILURE;
			}
			break;
		case 'q':
			if (!runs)
				runs = 5;
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
	if (!runs)
		runs = 11;
	log_init(verbose);
	if (!install)
		pr_warn("not root: timing builds only (installs need BPF maps)");

	err = maglev_ws_init(&ws, bench_n[NN - 1], bench_m[NM - 1]);
	if (err) {
		pr_err("maglev_ws_init: %s", strerror(-err));
		return EXIT_FAILURE;
	}
	b = calloc(bench_n[NN - 1], sizeof(*b));
	bw = calloc(bench_n[NN - 1], sizeof(*bw));
	table = calloc(bench_m[NM - 1], sizeof(*table));
	table2 = calloc(bench_m[NM - 1], sizeof(*table2));
	if (!b || !bw || !table || !table2) {
		pr_err("out of memory");
		goto cleanup;
	}
	for (__u32 i = 0; i < bench_n[NN - 1]; i++) {
		b[i].key = (__u64)(0x0a000001u + i) << 16 | 80;
		b[i].weight = 1;
		b[i].id = i;
		bw[i] = b[i];
		bw[i].weight = 1 + i % 10;
	}

	for (size_t j = 0; j < NM; j++) {
		if (install && open_maps(&h, bench_m[j], 1))
			goto cleanup;
		for (size_t i = 0; i < NN; i++) {
			const char *what = "maglev_build";

			err = time_build(b, bench_n[i], bench_m[j], table, &ws, runs, &eq[i][j],
					 &eq_wall[i][j]);
			if (!err)
				err = time_build(bw, bench_n[i], bench_m[j], table, &ws, runs,
						 &mixed[i][j], &mixed_wall[i][j]);
			if (!err && install) {
				what = "install";
				err = time_swap(&h, b, bench_n[i], bench_m[j], table, table2, &ws,
						runs, &swap[i][j], &update[i][j]);
			}
			if (err) {
				pr_err("%s n=%u m=%u: %s", what, bench_n[i], bench_m[j], strerror(-err));
				goto cleanup;
			}
		}
		hblb_close(&h);
	}
	if (install) {
		if (open_maps(&h, TARGET_M, MULTI_SVCS))
			goto cleanup;
		err = time_multi(&h, &ws, runs, &multi);
		hblb_close(&h);
		if (err) {
			pr_err("%u services: %s", MULTI_SVCS, strerror(-err));
			goto cleanup;
		}
	}

	printf("one backend of N dies, %d runs per case (ms of CPU time, median [min-max]; "
	       "wall: build's wall time)\n", runs);
	printf("%6s %7s %22s %8s %10s %22s %10s\n", "N", "M", "build", "wall", "mixed w",
	       "install+swap", "update");
	for (size_t i = 0; i < NN; i++) {
		for (size_t j = 0; j < NM; j++) {
			char sw[32] = "-", up[16] = "-";

			if (install) {
				snprintf(sw, sizeof(sw), "%.3f [%.3f-%.3f]", swap[i][j].median,
					 swap[i][j].min, swap[i][j].max);
				snprintf(up, sizeof(up), "%.3f", update[i][j].median);
			}
			printf("%6u %7u %8.3f [%.3f-%.3f] %8.3f %10.3f %22s %10s\n", bench_n[i],
			       bench_m[j], eq[i][j].median, eq[i][j].min, eq[i][j].max,
			       eq_wall[i][j].median, mixed[i][j].median, sw, up);
		}
	}
	/* bench_n[2] and bench_m[0] are the target's N and M */
	printf("target: N=%u M=%u build <= %.1f ms: %s (%.3f ms)\n", TARGET_N, TARGET_M,
	       TARGET_BUILD_MS, verdict(eq[2][0].median, TARGET_BUILD_MS), eq[2][0].median);
	if (install) {
		printf("target: N=%u M=%u install+swap <= %.1f ms: %s (%.3f ms)\n", TARGET_N,
		       TARGET_M, TARGET_SWAP_MS, verdict(swap[2][0].median, TARGET_SWAP_MS),
		       swap[2][0].median);
		printf("%u services x %u backends, one shared dies: build %.3f + install %.3f, "
		       "together %.3f ms [%.3f-%.3f] (wall %.3f)\n", MULTI_SVCS, MULTI_PER_SVC,
		       multi.build.median, multi.swap.median, multi.update.median,
		       multi.update.min, multi.update.max, multi.update_wall.median);
		printf("target: %u services <= %.0f ms: %s\n", MULTI_SVCS, TARGET_MULTI_MS,
		       verdict(multi.update.median, TARGET_MULTI_MS));
	}

	if (json) {
		struct bench_json j;

		if (bench_json_open(&j, json, "maglev"))
			goto cleanup;
		bench_json_num(&j, runs, "runs");
		for (size_t i = 0; i < NN; i++) {
			for (size_t k = 0; k < NM; k++) {
				__u32 n = bench_n[i], m = bench_m[k];

				bench_json_num(&j, eq[i][k].median, "build_ms_n%u_m%u", n, m);
				bench_json_num(&j, eq[i][k].max, "build_max_ms_n%u_m%u", n, m);
				bench_json_num(&j, eq_wall[i][k].median, "build_wall_ms_n%u_m%u", n, m);
				bench_json_num(&j, mixed[i][k].median, "build_mixed_ms_n%u_m%u", n, m);
				if (!install)
					continue;
				bench_json_num(&j, swap[i][k].median, "swap_ms_n%u_m%u", n, m);
				bench_json_num(&j, swap[i][k].max, "swap_max_ms_n%u_m%u", n, m);
				bench_json_num(&j, update[i][k].median, "update_ms_n%u_m%u", n, m);
			}
		}
		if (install) {
			bench_json_num(&j, multi.build.median, "build_ms_100_services");
			bench_json_num(&j, multi.swap.median, "swap_ms_100_services");
			bench_json_num(&j, multi.update.median, "update_ms_100_services");
			bench_json_num(&j, multi.update.max, "update_max_ms_100_services");
			bench_json_num(&j, multi.update_wall.median, "update_wall_ms_100_services");
		}
		if (bench_json_close(&j))
			goto cleanup;
	}
	ret = EXIT_SUCCESS;
cleanup:
	hblb_close(&h);
	free(b);
	free(bw);
	free(table);
	free(table2);
	maglev_ws_free(&ws);
	return ret;
}
