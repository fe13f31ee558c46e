// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Weighted Maglev table builder; see maglev.h for the contract.
 *
 * Cost: one turn per slot plus the probes that skip slots already taken,
 * about m * ln m in all and most of them in the last few percent. So:
 * - the permutation is walked incrementally (add skip, subtract m on
 *   wrap): no division in the inner loop;
 * - the last ~sqrt(m)/2 slots are not found by stepping but by arithmetic
 *   (nearest_free), which picks the very slot stepping would;
 * - turns come from a calendar of rounds (a backend is linked into the
 *   round of its next turn), so uneven weights cost no empty passes, and
 *   from plain round robin when all weights are equal.
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

/* pos and skip are the fields every probe needs. */
struct maglev_be {
	__u32 pos;          /* next slot in this backend's permutation */
	__u32 skip;
	__u32 next;         /* next backend taking a turn in the same round */
	__u32 weight;
	__u32 step;         /* W / weight: whole rounds between two turns */
	__u32 frac;         /* W % weight, accumulated in acc */
	__u32 acc;          /* < weight; reaching it adds one round */
	__u32 inv;          /* skip^-1 mod m, 0 until needed (endgame) */
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
	return m ? (__u32)(hash_offset(key) % m) : 0;
}

__u32 maglev_skip(__u64 key, __u32 m)
{
	return m > 1 ? (__u32)(hash_skip(key) % (m - 1)) + 1 : 1;
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

/* Free slots left when building switches from stepping (~m / F probes a
 * turn) to nearest_free() (F products a turn, plus an inverse for each
 * backend that takes a turn): the power of two nearest sqrt(m) / 2, tuned
 * on m = 65537 (128) and 655373 (256). Grows with m, so the workspace
 * sized for max_m holds any. */
static __u32 endgame_slots(__u32 m)
{
	__u32 f = 1;

	while ((__u64)f * f * 16 <= m)
		f *= 2;
	return f;
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
	ws->free_slots = calloc(endgame_slots(max_m), sizeof(*ws->free_slots));
	if (!ws->sort || !ws->be || !ws->round_head || !ws->round_tail || !ws->id_seen ||
	    !ws->free_slots) {
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
	free(ws->free_slots);
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
static int prepare(const struct maglev_backend *b, __u32 n, __u32 m, struct maglev_ws *ws,
		   bool *uniform)
{
	struct maglev_sort *s = ws->sort, *sorted;
	__u32 active = 0, wmax = 0, wmin = ~0u;

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
			if (b[i].weight < wmin)
				wmin = b[i].weight;
		}
	}
	if (active > m)
		return -EINVAL;
	*uniform = wmin == wmax;
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
		e->inv = 0;
		e->id = in->id;
		active++;
	}
	return (int)active;
}

/* skip^-1 mod m (m prime, 0 < skip < m), by the extended Euclid algorithm */
static __u32 mod_inverse(__u32 skip, __u32 m)
{
	__s64 t = 0, nt = 1;
	__u32 r = m, nr = skip;

	while (nr) {
		__u32 q = r / nr, tr = r - q * nr;
		__s64 tt = t - (__s64)q * nt;

		t = nt;
		nt = tt;
		r = nr;
		nr = tr;
	}
	return (__u32)(t < 0 ? t + m : t);
}

/* The endgame: with F slots free, stepping costs about m / F probes a turn.
 * Instead take, of the free slots, the one fewest steps ahead of pos:
 * d = (slot - pos) * skip^-1 mod m, the slot stepping would reach first.
 * That costs F multiplications. Returns its index in slots[]. */
static __u32 nearest_free(const __u32 *slots, __u32 nfree, __u32 pos, __u32 inv,
			  __u32 m, __u64 m_recip)
{
	__u64 best = ~0ULL;

	for (__u32 k = 0; k < nfree; k++) {
		__u64 x = slots[k] >= pos ? slots[k] - pos : slots[k] + m - pos;
		__u64 p = x * inv;
		/* Barrett reduction: q is floor(p / m) or one less */
		__u64 q = (__u64)(((unsigned __int128)p * m_recip) >> 64);
		__u64 d = p - q * m;

		if (d >= m)
			d -= m;
		d = d << 32 | k;    /* distances differ, so k only rides along */
		if (d < best)
			best = d;
	}
	return (__u32)best;
}

/* The turn order: a calendar of rounds, each a list of the backends
 * taking a turn in it, in the order they were scheduled (key order for
 * equal weights, as in the paper's round robin). */
struct sched {
	struct maglev_be *be;
	__u32 *head, *tail;
	__u32 r;            /* current round */
	__u32 hi;           /* last round with a list */
	__u32 m;
	__u32 n;            /* backends taking turns */
	bool uniform;       /* all of equal weight */
};

/* Schedules backend cur, which just took its turn in round s->r, for its
 * next turn and returns the backend whose turn is next. A heaviest backend
 * takes a turn every round and every turn fills a slot, so the table is
 * full before round m, and a next turn always exists while it is not. */
static inline __u32 sched_next(struct sched *s, __u32 cur)
{
	struct maglev_be *e = &s->be[cur];
	__u64 nr = (__u64)s->r + e->step, acc = (__u64)e->acc + e->frac;
	__u32 next = e->next;

	/* k-th turn in round floor(k * W / weight), without division */
	if (acc >= e->weight) {
		acc -= e->weight;
		nr++;
	}
	e->acc = (__u32)acc;
	if (nr < s->m) {
		while (s->hi < nr)
			s->head[++s->hi] = NIL;
		e->next = NIL;
		if (s->head[nr] == NIL)
			s->head[nr] = cur;
		else
			s->be[s->tail[nr]].next = cur;
		s->tail[nr] = cur;
	}
	while (next == NIL && s->r < s->hi)
		next = s->head[++s->r];
	return next;
}

/* Whose turn is next: round robin in key order when all weights are equal
 * (what the calendar would give, for less work), else the calendar. */
static inline __u32 next_turn(struct sched *s, __u32 cur)
{
	if (s->uniform)
		return cur + 1 < s->n ? cur + 1 : 0;
	return sched_next(s, cur);
}

int maglev_build(const struct maglev_backend *b, __u32 n, __u32 m,
		 __u16 *table, struct maglev_ws *ws)
{
	__u32 filled, endgame, nfree, i;
	struct maglev_be *be;
	bool uniform = false;
	struct sched s;
	__u64 m_recip;
	int active;

	if (!table || !ws || !ws->be || (!b && n))
		return -EINVAL;
	active = prepare(b, n, m, ws, &uniform);
	if (active < 0)
		return active;
	memset(table, 0xff, (size_t)m * sizeof(*table));
	if (!active)
		return 0;

	be = ws->be;
	be[active - 1].next = NIL;
	s = (struct sched){
		.be = be, .head = ws->round_head, .tail = ws->round_tail,
		.m = m, .n = active, .uniform = uniform,
	};
	s.head[0] = 0;
	s.tail[0] = active - 1;
	/* tiny tables step to the end */
	endgame = endgame_slots(m) < m / 4 ? m - endgame_slots(m) : m;

	/* Each backend in turn claims the next free slot of its permutation. */
	i = 0;
	for (filled = 0; filled < endgame; filled++) {
		struct maglev_be *e = &be[i];
		__u32 pos = e->pos, skip = e->skip;

		while (table[pos] != HBLB_BACKEND_NONE) {
			pos += skip;
			if (pos >= m)
				pos -= m;
		}
		table[pos] = e->id;
		pos += skip;
		if (pos >= m)
			pos -= m;
		e->pos = pos;
		i = next_turn(&s, i);
	}
	if (filled == m)
		return 0;

	/* The last slots: the same choices, found by arithmetic. */
	nfree = 0;
	for (__u32 k = 0; k < m; k++)
		if (table[k] == HBLB_BACKEND_NONE)
			ws->free_slots[nfree++] = k;
	m_recip = ~0ULL / m;
	for (;;) {
		struct maglev_be *e = &be[i];
		__u32 k, pos;

		if (!e->inv)
			e->inv = mod_inverse(e->skip, m);
		k = nearest_free(ws->free_slots, nfree, e->pos, e->inv, m, m_recip);
		pos = ws->free_slots[k];
		ws->free_slots[k] = ws->free_slots[--nfree];
		table[pos] = e->id;
		if (!nfree)
			return 0;
		pos += e->skip;
		if (pos >= m)
			pos -= m;
		e->pos = pos;
		i = next_turn(&s, i);
	}
}
