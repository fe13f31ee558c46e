// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_maglev - property tests of the weighted Maglev builder; no root.
 *
 * Shares follow weights; removing or adding a backend moves few slots; the
 * table depends only on the set of backends, and golden checksums pin the
 * algorithm so that a build on another machine that disagrees is caught;
 * tables match a slow reference written straight from the definition in
 * maglev.h; bad input gives -EINVAL and leaves the table alone. Lines
 * starting with '#' report the measured figures.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "maglev.h"
#include "testing.h"

#define M_DEFAULT       HBLB_TABLE_SIZE_DEFAULT     /* 65537 */
#define M_100K          100003                      /* smallest prime >= 100 * 1000 */
#define M_LARGE         655373
#define MAX_N           2048
#define SENTINEL        0x5a5a

static struct maglev_ws ws;
static __u16 *tab_a, *tab_b, *tab_c;
static __u32 counts[65536];
static __u64 rng_state;

/* splitmix64: a fixed sequence, so every run tests the same inputs */
static __u64 rng(void)
{
	__u64 z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static __u32 rng_below(__u32 n)
{
	return rng() % n;
}

/* Backend i: 10.0.0.(i + 1), port 80 + i % 3, id i; weight 1 or 1..10. */
static void make_set(struct maglev_backend *b, __u32 n, bool mixed, __u64 seed)
{
	rng_state = seed;
	for (__u32 i = 0; i < n; i++) {
		b[i].key = (__u64)(0x0a000001u + i) << 16 | (80 + i % 3);
		b[i].weight = mixed ? 1 + rng_below(10) : 1;
		b[i].id = i;
	}
}

static void shuffle(struct maglev_backend *b, __u32 n, __u64 seed)
{
	rng_state = seed;
	for (__u32 i = n; i > 1; i--) {
		__u32 j = rng_below(i);
		struct maglev_backend t = b[i - 1];

		b[i - 1] = b[j];
		b[j] = t;
	}
}

/* FNV-1a over the entries as little-endian bytes: same on every host. */
static __u64 fnv1a(const __u16 *t, __u32 m)
{
	__u64 h = 0xcbf29ce484222325ULL;

	for (__u32 i = 0; i < m; i++) {
		h = (h ^ (t[i] & 0xff)) * 0x100000001b3ULL;
		h = (h ^ (t[i] >> 8)) * 0x100000001b3ULL;
	}
	return h;
}

static void count_ids(const __u16 *t, __u32 m)
{
	memset(counts, 0, sizeof(counts));
	for (__u32 i = 0; i < m; i++)
		counts[t[i]]++;
}

static __u32 diff_slots(const __u16 *a, const __u16 *b, __u32 m)
{
	__u32 d = 0;

	for (__u32 i = 0; i < m; i++)
		d += a[i] != b[i];
	return d;
}

static bool all_equal(const __u16 *t, __u32 m, __u16 v)
{
	for (__u32 i = 0; i < m; i++)
		if (t[i] != v)
			return false;
	return true;
}

/* ---- the definition, written for clarity rather than speed --------------
 * Backends of weight > 0 in key order; W the largest weight. A backend's
 * k-th turn (k = 0, 1, ...) falls in round floor(k * W / weight); turns go
 * by round, and within a round in the order they were scheduled (round 0:
 * key order; a turn is scheduled when the backend's previous one is taken).
 * A turn claims the first free slot of (offset + j * skip) % m, j = 0, 1, ... */
struct ref_be {
	__u64 key, j, k, round, seq;
	__u32 weight;
	__u16 id;
};

static int ref_cmp_key(const void *a, const void *b)
{
	const struct ref_be *x = a, *y = b;

	return (x->key > y->key) - (x->key < y->key);
}

static void ref_build(const struct maglev_backend *in, __u32 n, __u32 m, __u16 *table)
{
	struct ref_be *r = calloc(n ? n : 1, sizeof(*r));
	__u32 cnt = 0, wmax = 0;
	__u64 seq;

	for (__u32 i = 0; i < m; i++)
		table[i] = HBLB_BACKEND_NONE;
	for (__u32 i = 0; i < n; i++) {
		if (!in[i].weight)
			continue;
		r[cnt].key = in[i].key;
		r[cnt].weight = in[i].weight;
		r[cnt].id = in[i].id;
		if (in[i].weight > wmax)
			wmax = in[i].weight;
		cnt++;
	}
	qsort(r, cnt, sizeof(*r), ref_cmp_key);
	for (__u32 i = 0; i < cnt; i++)
		r[i].seq = i;
	seq = cnt;
	for (__u32 filled = 0; cnt && filled < m; filled++) {
		struct ref_be *e = &r[0];
		__u64 off, skip, slot;

		for (__u32 i = 1; i < cnt; i++)
			if (r[i].round < e->round || (r[i].round == e->round && r[i].seq < e->seq))
				e = &r[i];
		off = maglev_offset(e->key, m);
		skip = maglev_skip(e->key, m);
		do {
			slot = (off + e->j * skip) % m;
			e->j++;
		} while (table[slot] != HBLB_BACKEND_NONE);
		table[slot] = e->id;
		e->k++;
		e->round = e->k * wmax / e->weight;
		e->seq = seq++;
	}
	free(r);
}

/* ---- shares ----------------------------------------------------------- */

/* Every backend's share is within 1% of the table of its weight share,
 * and, tighter, within 2 + n * w / S slots of m * w / S: a backend's turns
 * are proportional to its weight to within one round. */
static void test_shares(__u32 n, __u32 m, bool mixed)
{
	struct maglev_backend *b = calloc(n, sizeof(*b));
	double worst = 0, worst_slots = 0;
	char name[96];
	__u64 sum = 0;

	snprintf(name, sizeof(name), "shares: n=%u m=%u %s weights", n, m,
		 mixed ? "mixed 1..10" : "equal");
	test_begin(name);
	make_set(b, n, mixed, 42 + n);
	for (__u32 i = 0; i < n; i++)
		sum += b[i].weight;
	CHECK_EQ(maglev_build(b, n, m, tab_a, &ws), 0);
	count_ids(tab_a, m);
	for (__u32 i = 0; i < n; i++) {
		double want = (double)m * b[i].weight / sum;
		double dev = counts[b[i].id] > want ? counts[b[i].id] - want : want - counts[b[i].id];

		CHECK(dev / m <= 0.01, "backend %u: %u slots, weight share %.1f", i,
		      counts[b[i].id], want);
		CHECK(dev <= 2.0 + (double)n * b[i].weight / sum,
		      "backend %u: %u slots, weight share %.1f", i, counts[b[i].id], want);
		if (dev > worst_slots)
			worst_slots = dev;
	}
	worst = worst_slots / m;
	CHECK_EQ(counts[HBLB_BACKEND_NONE], 0);
	if (!mixed)     /* the paper's round robin: floor(m / n) or ceil(m / n) each */
		for (__u32 i = 0; i < n; i++)
			CHECK(counts[i] == m / n || counts[i] == m / n + 1, "backend %u: %u slots",
			      i, counts[i]);
	printf("# %s: max |share - weight share| = %.4f%% of the table (%.2f slots)\n",
	       name, worst * 100, worst_slots);
	test_end();
	free(b);
}

/* ---- disruption ------------------------------------------------------- */

/* Removing one of n equal backends moves at most 1/n + 1% of the slots,
 * adding one at most 1/(n + 1) + 1%; removal tried on three backends. */
static void test_disruption(__u32 n, __u32 m)
{
	struct maglev_backend *b = calloc(n + 1, sizeof(*b));
	struct maglev_backend *c = calloc(n + 1, sizeof(*c));
	__u32 victims[] = { 0, n / 2, n - 1 };
	__u32 moved;
	char name[96];

	snprintf(name, sizeof(name), "disruption: n=%u m=%u, remove or add one", n, m);
	test_begin(name);
	make_set(b, n + 1, false, 7);
	CHECK_EQ(maglev_build(b, n, m, tab_a, &ws), 0);
	count_ids(tab_a, m);
	for (size_t v = 0; v < sizeof(victims) / sizeof(victims[0]); v++) {
		__u32 gone = victims[v], others = 0, stale = 0;

		memcpy(c, b, n * sizeof(*c));
		c[gone] = c[n - 1];
		CHECK_EQ(maglev_build(c, n - 1, m, tab_b, &ws), 0);
		moved = diff_slots(tab_a, tab_b, m);
		for (__u32 i = 0; i < m; i++) {
			stale += tab_b[i] == gone;
			others += tab_a[i] != gone && tab_a[i] != tab_b[i];
		}
		CHECK(stale == 0, "%u slots still have removed backend %u", stale, gone);
		CHECK((double)moved / m <= 1.0 / n + 0.01, "removing %u moved %u of %u slots",
		      gone, moved, m);
		printf("# n=%u m=%u remove backend %u: %.3f%% of slots moved (its own %.3f%%, "
		       "others' %.3f%%)\n", n, m, gone, 100.0 * moved / m,
		       100.0 * counts[gone] / m, 100.0 * others / m);
	}
	/* b[n] is a backend not in the first build */
	CHECK_EQ(maglev_build(b, n + 1, m, tab_b, &ws), 0);
	moved = diff_slots(tab_a, tab_b, m);
	CHECK((double)moved / m <= 1.0 / (n + 1) + 0.01, "adding one moved %u of %u slots",
	      moved, m);
	count_ids(tab_b, m);
	printf("# n=%u m=%u add one: %.3f%% of slots moved (to it %.3f%%)\n", n, m,
	       100.0 * moved / m, 100.0 * counts[n] / m);
	test_end();
	free(b);
	free(c);
}

/* Weighted: removing a backend moves its own slots and at most 1% more. */
static void test_disruption_weighted(__u32 n, __u32 m)
{
	struct maglev_backend *b = calloc(n, sizeof(*b));
	__u32 gone = n / 3, moved;
	char name[96];

	snprintf(name, sizeof(name), "disruption: n=%u m=%u mixed weights, remove one", n, m);
	test_begin(name);
	make_set(b, n, true, 11);
	CHECK_EQ(maglev_build(b, n, m, tab_a, &ws), 0);
	b[gone].weight = 0;     /* weight 0: as good as absent */
	CHECK_EQ(maglev_build(b, n, m, tab_b, &ws), 0);
	moved = diff_slots(tab_a, tab_b, m);
	count_ids(tab_a, m);
	CHECK((double)moved / m <= (double)counts[gone] / m + 0.01, "moved %u of %u slots",
	      moved, m);
	printf("# n=%u m=%u mixed weights, remove backend %u: %.3f%% of slots moved (its own "
	       "%.3f%%)\n", n, m, gone, 100.0 * moved / m, 100.0 * counts[gone] / m);
	test_end();
	free(b);
}

/* ---- determinism ------------------------------------------------------ */

/* Same set -> same table: twice, in shuffled orders, after other builds
 * in the same workspace and in a fresh workspace. */
static void test_deterministic(__u32 n, __u32 m, bool mixed)
{
	struct maglev_backend *b = calloc(n, sizeof(*b));
	struct maglev_ws ws2;
	char name[96];

	snprintf(name, sizeof(name), "deterministic: n=%u m=%u %s weights, any input order", n, m,
		 mixed ? "mixed" : "equal");
	test_begin(name);
	make_set(b, n, mixed, 3);
	CHECK_EQ(maglev_build(b, n, m, tab_a, &ws), 0);
	CHECK_EQ(maglev_build(b, n, m, tab_b, &ws), 0);
	CHECK_EQ(diff_slots(tab_a, tab_b, m), 0);
	for (__u64 seed = 1; seed <= 5; seed++) {
		shuffle(b, n, seed);
		CHECK_EQ(maglev_build(b, n, m, tab_b, &ws), 0);
		CHECK(diff_slots(tab_a, tab_b, m) == 0, "shuffle %llu differs",
		      (unsigned long long)seed);
		/* dirty the workspace with a different build in between */
		CHECK_EQ(maglev_build(b, n / 2, 1009 < m ? 1009 : m, tab_c, &ws), 0);
	}
	CHECK_EQ(maglev_ws_init(&ws2, n, m), 0);
	CHECK_EQ(maglev_build(b, n, m, tab_b, &ws2), 0);
	CHECK_EQ(diff_slots(tab_a, tab_b, m), 0);
	maglev_ws_free(&ws2);
	test_end();
	free(b);
}

/* Checksums of fixed inputs, recorded when the algorithm was written:
 * any change of hash, weighting or turn order on any machine fails here.
 * Changing them breaks agreement with nodes running the old code. */
static void test_golden(void)
{
	static const struct {
		__u32 n, m, weight_step;
		__u64 fnv;
	} golden[] = {
		{ 10, M_DEFAULT, 1, 0x711b309ceb66230eULL },    /* weights 1..10: calendar */
		{ 100, M_DEFAULT, 0, 0x27673cfb79a9bb89ULL },   /* equal: round robin */
		{ 3, 7, 1, 0x15b07b66af019d2fULL },             /* tiny: no endgame */
		{ 1000, M_LARGE, 0, 0xda75b4afd79bd96aULL },
	};
	struct maglev_backend b[1000];

	test_begin("golden checksums of fixed inputs");
	for (size_t g = 0; g < sizeof(golden) / sizeof(golden[0]); g++) {
		__u64 h;

		for (__u32 i = 0; i < golden[g].n; i++) {
			b[i].key = (__u64)(0x0a000001u + i) << 16 | 80;     /* 10.0.0.(i+1):80 */
			b[i].weight = 1 + golden[g].weight_step * i;
			b[i].id = i;
		}
		CHECK_EQ(maglev_build(b, golden[g].n, golden[g].m, tab_a, &ws), 0);
		h = fnv1a(tab_a, golden[g].m);
		CHECK(h == golden[g].fnv, "n=%u m=%u: fnv1a 0x%016llx, recorded 0x%016llx",
		      golden[g].n, golden[g].m, (unsigned long long)h,
		      (unsigned long long)golden[g].fnv);
	}
	/* the hashes alone, so that a mismatch above can be told apart */
	CHECK_EQ(maglev_offset(0x0a0000010050ULL, M_DEFAULT), 32158);
	CHECK_EQ(maglev_skip(0x0a0000010050ULL, M_DEFAULT), 20319);
	test_end();
}

/* ---- against the reference ------------------------------------------- */

static void test_reference(void)
{
	static const __u32 primes[] = { 2, 3, 5, 7, 13, 101, 1009, 4093, 65537 };
	struct maglev_backend b[64];

	test_begin("same tables as the reference: 300 random sets");
	rng_state = 2024;
	for (int round = 0; round < 300; round++) {
		__u32 m = primes[rng_below(sizeof(primes) / sizeof(primes[0]))];
		__u32 n = 1 + rng_below(m < 64 ? m + 3 : 64), active = 0;
		__u32 wkind = rng_below(4);
		int err;

		if (m == 65537 && round % 10)
			m = 4093;       /* the slow reference: only some large tables */
		for (__u32 i = 0; i < n; i++) {
			b[i].key = rng() & 0xffffffffffffULL;   /* distinct here, else the build fails */
			b[i].id = (__u16)(i * 977 + 5);
			switch (wkind) {
			case 0:
				b[i].weight = 1;
				break;
			case 1:
				b[i].weight = rng_below(11);            /* some 0 */
				break;
			case 2:
				b[i].weight = 1 + rng_below(1000);
				break;
			default:
				b[i].weight = rng_below(2) ? 0xffffffffu - rng_below(3) : 1 + rng_below(3);
				break;
			}
			if (b[i].weight && ++active > m)
				b[i].weight = 0;
		}
		err = maglev_build(b, n, m, tab_a, &ws);
		CHECK(err == 0, "set %d, n=%u m=%u: %d", round, n, m, err);
		ref_build(b, n, m, tab_b);
		CHECK(diff_slots(tab_a, tab_b, m) == 0, "set %d, n=%u m=%u weights kind %u: %u slots differ",
		      round, n, m, wkind, diff_slots(tab_a, tab_b, m));
	}
	test_end();
}

/* ---- edges ------------------------------------------------------------ */

static void test_zero_weight(void)
{
	struct maglev_backend b[50], only[50];
	__u32 k = 0;

	test_begin("weight 0: never in the table, same as absent");
	make_set(b, 50, true, 5);
	for (__u32 i = 0; i < 50; i++) {
		if (i % 3 == 0)
			b[i].weight = 0;
		else
			only[k++] = b[i];
	}
	CHECK_EQ(maglev_build(b, 50, M_DEFAULT, tab_a, &ws), 0);
	count_ids(tab_a, M_DEFAULT);
	for (__u32 id = 0; id < 65536; id++)
		if (counts[id] && (id % 3 == 0 || id >= 50))
			CHECK(false, "backend %u has %u slots", id, counts[id]);
	CHECK_EQ(maglev_build(only, k, M_DEFAULT, tab_b, &ws), 0);
	CHECK_EQ(diff_slots(tab_a, tab_b, M_DEFAULT), 0);
	test_end();
}

static void test_empty_and_single(void)
{
	struct maglev_backend b[3] = {
		{ .key = 1, .weight = 0, .id = 7 },
		{ .key = 2, .weight = 0, .id = 8 },
		{ .key = 3, .weight = 5, .id = 9 },
	};

	test_begin("no backend: all HBLB_BACKEND_NONE; one backend: all its id");
	memset(tab_a, 0, M_DEFAULT * sizeof(*tab_a));
	CHECK_EQ(maglev_build(NULL, 0, M_DEFAULT, tab_a, &ws), 0);
	CHECK(all_equal(tab_a, M_DEFAULT, HBLB_BACKEND_NONE), "n = 0");
	memset(tab_a, 0, M_DEFAULT * sizeof(*tab_a));
	CHECK_EQ(maglev_build(b, 2, M_DEFAULT, tab_a, &ws), 0);
	CHECK(all_equal(tab_a, M_DEFAULT, HBLB_BACKEND_NONE), "all weight 0");
	CHECK_EQ(maglev_build(b, 3, M_DEFAULT, tab_a, &ws), 0);
	CHECK(all_equal(tab_a, M_DEFAULT, 9), "one of weight > 0, m = %u", M_DEFAULT);
	CHECK_EQ(maglev_build(b + 2, 1, 2, tab_a, &ws), 0);
	CHECK(all_equal(tab_a, 2, 9), "one backend, m = 2");
	CHECK_EQ(maglev_build(b + 2, 1, M_LARGE, tab_a, &ws), 0);
	CHECK(all_equal(tab_a, M_LARGE, 9), "one backend, m = %u", M_LARGE);
	test_end();
}

/* Only the ratios of weights matter, however large they are. */
static void test_weight_scale(void)
{
	struct maglev_backend b[40];

	test_begin("weights: scaled by a constant, same table; up to 2^32 - 1");
	make_set(b, 40, true, 9);
	CHECK_EQ(maglev_build(b, 40, M_DEFAULT, tab_a, &ws), 0);
	for (__u32 i = 0; i < 40; i++)
		b[i].weight *= 400000000u;  /* 10 * 4e8 < 2^32 */
	CHECK_EQ(maglev_build(b, 40, M_DEFAULT, tab_b, &ws), 0);
	CHECK_EQ(diff_slots(tab_a, tab_b, M_DEFAULT), 0);
	/* one heavy backend, the rest weight 1: shares still exact */
	for (__u32 i = 0; i < 40; i++)
		b[i].weight = i == 17 ? 0xffffffffu : 1;
	CHECK_EQ(maglev_build(b, 40, M_DEFAULT, tab_a, &ws), 0);
	count_ids(tab_a, M_DEFAULT);
	CHECK_EQ(counts[17], M_DEFAULT - 39);    /* the others: their round-0 turn only */
	test_end();
}

static void test_invalid(void)
{
	struct maglev_backend b[4] = {
		{ .key = 10, .weight = 1, .id = 1 },
		{ .key = 20, .weight = 1, .id = 2 },
		{ .key = 30, .weight = 1, .id = 3 },
		{ .key = 40, .weight = 1, .id = 4 },
	};
	struct maglev_backend *many = calloc(MAX_N + 1, sizeof(*many));
	static const __u32 not_prime[] = { 0, 1, 4, 9, 65535, 65536, 1000000 };
	struct maglev_ws small;

	test_begin("invalid input: -EINVAL, table untouched");
	for (__u32 i = 0; i < M_DEFAULT; i++)
		tab_a[i] = SENTINEL;
	for (size_t i = 0; i < sizeof(not_prime) / sizeof(not_prime[0]); i++)
		CHECK(maglev_build(b, 4, not_prime[i], tab_a, &ws) == -EINVAL, "m = %u",
		      not_prime[i]);
	b[2].key = 10;
	CHECK_EQ(maglev_build(b, 4, M_DEFAULT, tab_a, &ws), -EINVAL);     /* duplicate key */
	b[2].weight = 0;
	CHECK_EQ(maglev_build(b, 4, M_DEFAULT, tab_a, &ws), -EINVAL);     /* even at weight 0 */
	b[2].key = 30;
	b[2].weight = 1;
	b[3].id = 1;
	CHECK_EQ(maglev_build(b, 4, M_DEFAULT, tab_a, &ws), -EINVAL);     /* duplicate id */
	b[3].id = HBLB_BACKEND_NONE;
	CHECK_EQ(maglev_build(b, 4, M_DEFAULT, tab_a, &ws), -EINVAL);     /* id NONE */
	b[3].id = 4;
	CHECK_EQ(maglev_build(b, 4, 3, tab_a, &ws), -EINVAL);             /* 4 backends, 3 slots */
	CHECK_EQ(maglev_build(NULL, 4, M_DEFAULT, tab_a, &ws), -EINVAL);
	CHECK_EQ(maglev_build(b, 4, M_DEFAULT, tab_a, NULL), -EINVAL);
	CHECK_EQ(maglev_build(b, 4, M_DEFAULT, NULL, &ws), -EINVAL);
	make_set(many, MAX_N + 1, false, 1);
	CHECK_EQ(maglev_build(many, MAX_N + 1, M_DEFAULT, tab_a, &ws), -EINVAL); /* n > max_n */
	CHECK_EQ(maglev_build(b, 4, 16777213, tab_a, &ws), -EINVAL);     /* prime > max_m */
	CHECK(all_equal(tab_a, M_DEFAULT, SENTINEL), "table was written");

	/* still fine: 3 of weight > 0 in 3 slots */
	b[3].weight = 0;
	CHECK_EQ(maglev_build(b, 4, 3, tab_a, &ws), 0);
	count_ids(tab_a, 3);
	CHECK(counts[1] == 1 && counts[2] == 1 && counts[3] == 1, "3 backends in 3 slots");

	CHECK_EQ(maglev_ws_init(&small, 0, 7), -EINVAL);
	CHECK_EQ(maglev_ws_init(&small, 1, 0), -EINVAL);
	CHECK_EQ(maglev_ws_init(&small, MAGLEV_N_MAX + 1, 7), -EINVAL);
	CHECK_EQ(maglev_ws_init(&small, 1, MAGLEV_M_MAX + 1), -EINVAL);
	maglev_ws_free(&small);     /* zeroed by the failed init: harmless */
	memset(&small, 0, sizeof(small));
	CHECK_EQ(maglev_build(b, 4, 7, tab_a, &small), -EINVAL);          /* no workspace */
	test_end();
	free(many);
}

static void test_is_prime(void)
{
	static const __u32 primes[] = { 2, 3, 5, 65521, 65537, 100003, 131071, 655373, 16777213 };
	static const __u32 composites[] = { 0, 1, 4, 25, 65535, 65536, 1018081 /* 1009^2 */,
					    16777215, 4294967295u };

	test_begin("maglev_is_prime");
	for (size_t i = 0; i < sizeof(primes) / sizeof(primes[0]); i++)
		CHECK(maglev_is_prime(primes[i]), "%u", primes[i]);
	for (size_t i = 0; i < sizeof(composites) / sizeof(composites[0]); i++)
		CHECK(!maglev_is_prime(composites[i]), "%u", composites[i]);
	CHECK(maglev_is_prime(4294967291u), "largest 32-bit prime");
	test_end();
}

int main(void)
{
	int err = maglev_ws_init(&ws, MAX_N, M_LARGE);

	tab_a = calloc(M_LARGE, sizeof(*tab_a));
	tab_b = calloc(M_LARGE, sizeof(*tab_b));
	tab_c = calloc(M_LARGE, sizeof(*tab_c));
	if (err || !tab_a || !tab_b || !tab_c) {
		fprintf(stderr, "setup: %s\n", strerror(err ? -err : ENOMEM));
		return 1;
	}

	test_shares(3, M_DEFAULT, false);
	test_shares(3, M_DEFAULT, true);
	test_shares(100, M_DEFAULT, false);
	test_shares(100, M_DEFAULT, true);
	test_shares(655, M_DEFAULT, false);
	test_shares(655, M_DEFAULT, true);
	test_shares(1000, M_100K, false);
	test_shares(1000, M_100K, true);
	test_shares(1000, M_LARGE, false);
	test_shares(1000, M_LARGE, true);

	test_disruption(3, M_DEFAULT);
	test_disruption(100, M_DEFAULT);
	test_disruption(1000, M_100K);
	test_disruption(1000, M_LARGE);
	test_disruption_weighted(100, M_DEFAULT);

	test_deterministic(100, M_DEFAULT, false);
	test_deterministic(100, M_DEFAULT, true);
	test_deterministic(1000, M_LARGE, true);
	test_golden();
	test_reference();

	test_zero_weight();
	test_empty_and_single();
	test_weight_scale();
	test_invalid();
	test_is_prime();

	maglev_ws_free(&ws);
	free(tab_a);
	free(tab_b);
	free(tab_c);
	return test_summary("maglev");
}
