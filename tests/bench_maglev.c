// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bench_maglev - times maglev_build for N = 10 .. 10000 backends and table
 * sizes M = 65537 and 655373: wall time (CLOCK_MONOTONIC) of one build,
 * after one untimed warm-up build, median and min/max of --runs builds.
 * The reported figure is for equal weights (the Maglev paper's case); the
 * same build with mixed weights (1..10) is shown alongside.
 *
 * Keys are consecutive addresses from 10.0.0.1, port 80: what one subnet of
 * real servers looks like. Target: N = 1000, M = 65537 in <= 1 ms, shown
 * as PASS/MISS; it does not change the exit status.
 *
 * Options: --runs N (default 11, 5 to 1001), --json FILE writes
 * {"maglev": {"build_ms_n<N>_m<M>": median, ...}}.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "maglev.h"

#define MAX_RUNS        1001
#define TARGET_N        1000
#define TARGET_M        65537
#define TARGET_MS       1.0

static const __u32 bench_n[] = { 10, 100, 1000, 10000 };
static const __u32 bench_m[] = { 65537, 655373 };
#define NN (sizeof(bench_n) / sizeof(bench_n[0]))
#define NM (sizeof(bench_m) / sizeof(bench_m[0]))

struct timing {
	double median, min, max;    /* ms */
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int time_build(const struct maglev_backend *b, __u32 n, __u32 m, __u16 *table,
		      struct maglev_ws *ws, int runs, struct timing *t)
{
	double s[MAX_RUNS];
	int err;

	err = maglev_build(b, n, m, table, ws);        /* warm-up: caches, page faults */
	if (err)
		return err;
	for (int i = 0; i < runs; i++) {
		double t0 = now_ms();

		err = maglev_build(b, n, m, table, ws);
		s[i] = now_ms() - t0;
		if (err)
			return err;
	}
	qsort(s, runs, sizeof(s[0]), cmp_double);
	t->median = runs % 2 ? s[runs / 2] : (s[runs / 2 - 1] + s[runs / 2]) / 2.0;
	t->min = s[0];
	t->max = s[runs - 1];
	return 0;
}

static void usage(const char *prog)
{
	printf("usage: %s [--runs N] [--json FILE]\n"
	       "  --runs N     timed builds per case, median and min/max reported (default 11, 5 to %d)\n"
	       "  --json FILE  also write {\"maglev\": {\"build_ms_n<N>_m<M>\": median ms, ...}}\n",
	       prog, MAX_RUNS);
}

int main(int argc, char **argv)
{
	static const struct option long_opts[] = {
		{ "runs", required_argument, NULL, 'n' },
		{ "json", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct timing eq[NN][NM], mixed[NN][NM];
	struct maglev_backend *b = NULL, *bw = NULL;
	const char *json = NULL;
	struct maglev_ws ws;
	__u16 *table = NULL;
	int opt, runs = 11, err, ret = EXIT_FAILURE;
	char *end;

	while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		switch (opt) {
		case 'n':
			errno = 0;
			runs = strtol(optarg, &end, 10);
			if (errno || *end || runs < 5 || runs > MAX_RUNS) {
				fprintf(stderr, "--runs takes a count from 5 to %d\n", MAX_RUNS);
				return EXIT_FAILURE;
			}
			break;
		case 'j':
			json = optarg;
			break;
		case 'h':
			usage(argv[0]);
			return EXIT_SUCCESS;
		default:
			usage(argv[0]);
			return EXIT_FAILURE;
		}
	}
	if (optind != argc) {
		usage(argv[0]);
		return EXIT_FAILURE;
	}

	err = maglev_ws_init(&ws, bench_n[NN - 1], bench_m[NM - 1]);
	if (err) {
		fprintf(stderr, "maglev_ws_init: %s\n", strerror(-err));
		return EXIT_FAILURE;
	}
	b = calloc(bench_n[NN - 1], sizeof(*b));
	bw = calloc(bench_n[NN - 1], sizeof(*bw));
	table = calloc(bench_m[NM - 1], sizeof(*table));
	if (!b || !bw || !table) {
		fprintf(stderr, "out of memory\n");
		goto cleanup;
	}
	for (__u32 i = 0; i < bench_n[NN - 1]; i++) {
		b[i].key = (__u64)(0x0a000001u + i) << 16 | 80;
		b[i].weight = 1;
		b[i].id = i;
		bw[i] = b[i];
		bw[i].weight = 1 + i % 10;
	}

	for (size_t i = 0; i < NN; i++) {
		for (size_t j = 0; j < NM; j++) {
			err = time_build(b, bench_n[i], bench_m[j], table, &ws, runs, &eq[i][j]);
			if (!err)
				err = time_build(bw, bench_n[i], bench_m[j], table, &ws, runs,
						 &mixed[i][j]);
			if (err) {
				fprintf(stderr, "maglev_build n=%u m=%u: %s\n", bench_n[i], bench_m[j],
					strerror(-err));
				goto cleanup;
			}
		}
	}

	printf("maglev_build, %d runs per case (ms, CLOCK_MONOTONIC)\n", runs);
	printf("%6s %7s %10s %9s %9s %12s\n", "N", "M", "median", "min", "max", "mixed w");
	for (size_t i = 0; i < NN; i++)
		for (size_t j = 0; j < NM; j++)
			printf("%6u %7u %10.3f %9.3f %9.3f %12.3f\n", bench_n[i], bench_m[j],
			       eq[i][j].median, eq[i][j].min, eq[i][j].max, mixed[i][j].median);
	for (size_t i = 0; i < NN; i++)
		for (size_t j = 0; j < NM; j++)
			if (bench_n[i] == TARGET_N && bench_m[j] == TARGET_M)
				printf("target: N=%u M=%u <= %.1f ms: %s (%.3f ms)\n", TARGET_N,
				       TARGET_M, TARGET_MS,
				       eq[i][j].median <= TARGET_MS ? "PASS" : "MISS",
				       eq[i][j].median);

	if (json) {
		FILE *f = fopen(json, "w");

		if (!f) {
			fprintf(stderr, "%s: %s\n", json, strerror(errno));
			goto cleanup;
		}
		fprintf(f, "{\"maglev\": {");
		for (size_t i = 0; i < NN; i++)
			for (size_t j = 0; j < NM; j++)
				fprintf(f, "%s\n  \"build_ms_n%u_m%u\": %.4f", i || j ? "," : "",
					bench_n[i], bench_m[j], eq[i][j].median);
		fprintf(f, "\n}}\n");
		if (fclose(f)) {
			fprintf(stderr, "%s: %s\n", json, strerror(errno));
			goto cleanup;
		}
	}
	ret = EXIT_SUCCESS;
cleanup:
	free(b);
	free(bw);
	free(table);
	maglev_ws_free(&ws);
	return ret;
}
