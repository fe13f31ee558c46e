// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Weighted Maglev table builder; see maglev.h for the contract.
 *
 * Cost: one turn per slot, plus the probes that skip slots already taken
 * (about m * ln m in all, most of them near the end). The permutation is
 * walked incrementally (add skip, subtract m on wrap), so the inner loop
 * has no division. Turns are scheduled with a calendar of rounds: a
 * backend is linked into the round of its next turn, so a round costs only
 * the turns taken in it, however uneven the weights.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "maglev.h"

#define NIL 0xffffffffu

/* The table starts out filled with HBLB_BACKEND_NONE by memset(0xff). */
_Static_assert(HBLB_BACKEND_NONE == 0xffff, "memset fill of empty slots");

struct maglev_sort {
	__u64 key;
	__u32 idx;          /* index into the caller's array */
	__u32 pad;
};

/* 32 bytes; pos and skip are the fields every probe needs. */
struct maglev_be {
	__u32 pos;          /* next slot in this backend's permutation */
	__u32 skip;
	__u32 next;         /* next backend taking a turn in the same round */
	__u32 weight;
	__u32 step;         /* W / weight: whole rounds between two turns */
	__u32 frac;         /* W % weight, accumulated in acc */
	__u32 acc;          /* < weight; reaching it adds one round */
	__u16 id;
	__u16 pad;
};

/* Two unrelated 64-bit finalizers (splitmix64's and MurmurHash3's fmix64),
 * each on the key offset by its own constant, so that offset and skip are
 * independent and a key of 0 does not hash to 0. */
static __u64 hash_offset(__u64 x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static __u64 hash_skip(__u64 x)
{
	x ^= 0x6a09e667f3bcc909ULL;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

__u32 maglev_offset(__u64 key, __u32 m)
{
	return m ? hash_offset(key) % m : 0;
}

__u32 maglev_skip(__u64 key, __u32 m)
{
	return m > 1 ? hash_skip(key) % (m - 1) + 1 : 1;
}

bool maglev_is_prime(__u32 m)
{
	if (m < 2)
		return false;
	if (m % 2 == 0)
		return m == 2;
	for (__u32 d = 3; d <= m / d; d += 2)
		if (m % d == 0)
			return false;
	return true;
}

int maglev_ws_init(struct maglev_ws *ws, __u32 max_n, __u32 max_m)
{
	memset(ws, 0, sizeof(*ws));
	if (!max_n || max_n > MAGLEV_N_MAX || !max_m || max_m > MAGLEV_M_MAX)
		return -EINVAL;
	ws->max_n = max_n;
	ws->max_m = max_m;
	ws->sort = calloc(2 * (size_t)max_n, sizeof(*ws->sort));
	ws->be = calloc(max_n, sizeof(*ws->be));
	ws->round_head = calloc(max_m, sizeof(*ws->round_head));
	ws->round_tail = calloc(max_m, sizeof(*ws->round_tail));
	ws->id_seen = calloc(65536 / 64, sizeof(*ws->id_seen));
	if (!ws->sort || !ws->be || !ws->round_head || !ws->round_tail || !ws->id_seen) {
		maglev_ws_free(ws);
		return -ENOMEM;
	}
	return 0;
}

void maglev_ws_free(struct maglev_ws *ws)
{
	free(ws->sort);
	free(ws->be);
	free(ws->round_head);
	free(ws->round_tail);
	free(ws->id_seen);
	memset(ws, 0, sizeof(*ws));
}

/* LSD radix sort by key, a byte per pass, skipping the bytes that are the
 * same in every key (IPv4 << 16 | port keys leave the top two unused).
 * qsort may allocate and is not stable; this does neither. Returns
 * whichever of a and tmp holds the result. */
static struct maglev_sort *sort_by_key(struct maglev_sort *a, struct maglev_sort *tmp, __u32 n)
{
	__u32 count[8][256];

	memset(count, 0, sizeof(count));
	for (__u32 i = 0; i < n; i++)
		for (int byte = 0; byte < 8; byte++)
			count[byte][(a[i].key >> (8 * byte)) & 0xff]++;
	for (int byte = 0; byte < 8; byte++) {
		__u32 *c = count[byte], sum = 0;
		struct maglev_sort *t;

		if (c[(a[0].key >> (8 * byte)) & 0xff] == n)
			continue;
		for (int v = 0; v < 256; v++) {
			__u32 k = c[v];

			c[v] = sum;
			sum += k;
		}
		for (__u32 i = 0; i < n; i++)
			tmp[c[(a[i].key >> (8 * byte)) & 0xff]++] = a[i];
		t = a;
		a = tmp;
		tmp = t;
	}
	return a;
}

/* Checks everything before the table is touched; on success leaves the
 * backends of weight > 0, in key order, in ws->be. Returns their number,
 * or -EINVAL. */
static int prepare(const struct maglev_backend *b, __u32 n, __u32 m, struct maglev_ws *ws)
{
	struct maglev_sort *s = ws->sort, *sorted;
	__u32 active = 0, wmax = 0;

	if (!maglev_is_prime(m) || m > ws->max_m || n > ws->max_n)
		return -EINVAL;
	if (!n)
		return 0;
	memset(ws->id_seen, 0, 65536 / 8);
	for (__u32 i = 0; i < n; i++) {
		__u16 id = b[i].id;
		__u64 bit = 1ULL << (id % 64);

		if (id == HBLB_BACKEND_NONE || ws->id_seen[id / 64] & bit)
			return -EINVAL;
		ws->id_seen[id / 64] |= bit;
		s[i].key = b[i].key;
		s[i].idx = i;
		if (b[i].weight) {
			active++;
			if (b[i].weight > wmax)
				wmax = b[i].weight;
		}
	}
	if (active > m)
		return -EINVAL;
	sorted = sort_by_key(s, s + ws->max_n, n);
	for (__u32 i = 1; i < n; i++)
		if (sorted[i].key == sorted[i - 1].key)
			return -EINVAL;

	active = 0;
	for (__u32 i = 0; i < n; i++) {
		const struct maglev_backend *in = &b[sorted[i].idx];
		struct maglev_be *e = &ws->be[active];

		if (!in->weight)
			continue;
		e->pos = maglev_offset(in->key, m);
		e->skip = maglev_skip(in->key, m);
		e->next = active + 1;   /* round 0: everyone, in key order */
		e->weight = in->weight;
		e->step = wmax / in->weight;
		e->frac = wmax % in->weight;
		e->acc = 0;
		e->id = in->id;
		active++;
	}
	return active;
}

int maglev_build(const struct maglev_backend *b, __u32 n, __u32 m,
		 __u16 *table, struct maglev_ws *ws)
{
	struct maglev_be *be;
	__u32 *head, *tail;
	__u32 filled = 0, hi = 0;
	int active;

	if (!table || !ws || !ws->be || (!b && n))
		return -EINVAL;
	active = prepare(b, n, m, ws);
	if (active < 0)
		return active;
	memset(table, 0xff, (size_t)m * sizeof(*table));
	if (!active)
		return 0;

	be = ws->be;
	head = ws->round_head;
	tail = ws->round_tail;
	be[active - 1].next = NIL;
	head[0] = 0;
	tail[0] = active - 1;

	/* A heaviest backend takes a turn every round and every turn fills a
	 * slot, so the table is full before round m and before rounds run
	 * out (hi, the last round with a list, stays ahead of r). */
	for (__u32 r = 0; r <= hi; r++) {
		__u32 i = head[r];

		while (i != NIL) {
			struct maglev_be *e = &be[i];
			__u32 pos = e->pos, skip = e->skip, cur = i;
			__u64 nr;

			while (table[pos] != HBLB_BACKEND_NONE) {
				pos += skip;
				if (pos >= m)
					pos -= m;
			}
			table[pos] = e->id;
			if (++filled == m)
				return 0;
			pos += skip;
			if (pos >= m)
				pos -= m;
			e->pos = pos;
			i = e->next;

			/* k-th turn in round floor(k * W / weight), without division */
			nr = (__u64)r + e->step;
			e->acc += e->frac;
			if (e->acc >= e->weight) {
				e->acc -= e->weight;
				nr++;
			}
			if (nr >= m)
				continue;       /* a round never reached */
			while (hi < nr)
				head[++hi] = NIL;
			e->next = NIL;
			if (head[nr] == NIL)
				head[nr] = cur;
			else
				be[tail[nr]].next = cur;
			tail[nr] = cur;
		}
	}
	return 0;   /* not reached: see above */
}
