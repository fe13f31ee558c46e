/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Weighted Maglev steering tables, as a pure function in user space (no
 * BPF, no root, no allocation while building).
 *
 * Every backend of weight > 0 walks its own permutation of the m slots
 * (Maglev paper: offset = h1(key) % m, skip = h2(key) % (m - 1) + 1, j-th
 * slot (offset + j * skip) % m) and, on each of its turns, claims the first
 * slot of it not yet taken. With W the largest weight, a backend's k-th
 * turn (k = 0, 1, ...) falls in round floor(k * W / weight); within a round
 * turns go in the order they were scheduled, a turn being scheduled when
 * the backend's previous one is taken, and round 0 in key order. So:
 * - a backend's slots are m * weight / sum(weights) to within
 *   2 + n * weight / sum(weights) (equal weights: floor or ceil of m / n,
 *   the paper's round robin), and every backend of weight > 0 gets one;
 * - only the ratios of the weights matter;
 * - removing or adding one of n backends moves little more than 1/n of
 *   the slots when m >= 100 * n (the tests measure it).
 *
 * The table depends only on m and the set of (key, weight, id): h1 and h2
 * are fixed 64-bit mixes of the key, backends are taken in key order
 * whatever order the caller gives, and all arithmetic is integer. Two nodes
 * with the same backends build identical tables.
 */
#ifndef HBLB_MAGLEV_H
#define HBLB_MAGLEV_H

#include <stdbool.h>
#include <linux/types.h>
#include "hblb.h"

#define MAGLEV_N_MAX    HBLB_MAX_BACKENDS  /* backends per build (all of them, weight 0 included) */
#define MAGLEV_M_MAX    (1u << 24)         /* table size, as the loader allows */

struct maglev_backend {
	__u64 key;          /* stable identity, e.g. IPv4 address << 16 | port; unique */
	__u32 weight;       /* 0: not in the table */
	__u16 id;           /* written into the table; unique, not HBLB_BACKEND_NONE */
};

struct maglev_be;       /* per-backend build state, private to maglev.c */
struct maglev_sort;

/* Caller-owned workspace; the members are private to maglev.c. */
struct maglev_ws {
	__u32 max_n;
	__u32 max_m;
	struct maglev_sort *sort;   /* 2 * max_n: keys in input order, sorted */
	struct maglev_be *be;       /* max_n: active backends in key order */
	__u32 *round_head;          /* max_m: first backend taking a turn in a round */
	__u32 *round_tail;          /* max_m: last one, to append in order */
	__u64 *id_seen;             /* 65536 bits: duplicate id check */
	__u32 *free_slots;          /* the last free slots, in the endgame */
};

/* Allocates a workspace for up to max_n backends and tables of up to
 * max_m slots: about 68 * max_n + 8 * max_m bytes (1.6 MB for 16384
 * backends and m = 65537). Returns 0, -EINVAL (a limit is 0 or over
 * MAGLEV_N_MAX / MAGLEV_M_MAX) or -ENOMEM. */
int maglev_ws_init(struct maglev_ws *ws, __u32 max_n, __u32 max_m);
/* Frees it; safe on a zeroed or already freed workspace. */
void maglev_ws_free(struct maglev_ws *ws);

/* Fills table[0..m-1] with the ids of the backends of weight > 0 (the
 * order of b[] does not matter). With none, fills HBLB_BACKEND_NONE.
 * Returns 0, or -EINVAL with the table untouched when: m is not a prime or
 * is over ws->max_m; n is over ws->max_n; two backends share a key or an
 * id; an id is HBLB_BACKEND_NONE; more backends have weight > 0 than m;
 * a pointer is NULL (b may be NULL when n is 0). */
int maglev_build(const struct maglev_backend *b, __u32 n, __u32 m,
		 __u16 *table, struct maglev_ws *ws);

/* The permutation of a key (offset and skip above, m > 1) and the prime
 * test maglev_build uses, for tests and tools. */
__u32 maglev_offset(__u64 key, __u32 m);
__u32 maglev_skip(__u64 key, __u32 m);
bool maglev_is_prime(__u32 m);

#endif
