/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Weighted Maglev steering tables, as a pure function in user space (no
 * BPF, no root). Every backend walks its own permutation of the m slots
 * (Maglev paper: offset = h1(key) % m, skip = h2(key) % (m - 1) + 1) and
 * takes turns claiming the next free slot; a backend of weight w takes its
 * k-th turn in round floor(k * W / w), W being the largest weight, so its
 * share of the table follows w / sum(weights) to within about one slot.
 * Every backend of weight > 0 takes a turn in round 0, so each one gets at
 * least one slot.
 *
 * The result depends only on the set of (key, weight, id) triples and on m:
 * the hashes are fixed 64-bit mixes of the key, the backends are taken in
 * key order whatever order the caller gives, and all arithmetic is integer.
 * Two nodes given the same backends build byte-identical tables.
 *
 * Building allocates nothing: the caller owns a workspace, sized once for
 * the most backends and the largest table it will build.
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
};

/* Allocates a workspace for up to max_n backends and tables of up to
 * max_m slots. Returns 0, -EINVAL (a limit is 0 or over MAGLEV_N_MAX /
 * MAGLEV_M_MAX) or -ENOMEM. */
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

/* The hashes maglev_build uses, exposed for tests and tools. */
__u32 maglev_offset(__u64 key, __u32 m);
__u32 maglev_skip(__u64 key, __u32 m);
bool maglev_is_prime(__u32 m);

#endif
