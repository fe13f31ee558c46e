// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Backend liveness and heartbeat weights; see health.h for the contract.
 *
 * Everything is integer arithmetic on the caller's times, saturating where
 * a product or sum of configured values could overflow, so the same
 * inputs give the same verdicts on every node.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include "health.h"

#define LEARN_AVG_N     8       /* gaps averaged before the EWMA takes over */
#define LEARN_LONG      2       /* a gap over LEARN_LONG * I is not learned... */
#define LEARN_RESTART   3       /* ...unless this many come in a row */

/* What changed since the last tick, to name the cause of a change. */
enum {
	PEND_HB_DIED = 1u << 0,
	PEND_HB_ROSE = 1u << 1,
	PEND_CHECK   = 1u << 2,
	PEND_CONFIG  = 1u << 3,
};

static const char *const reason_str[] = {
	[HEALTH_R_RISE]       = "heartbeats in a row",
	[HEALTH_R_DEAD]       = "no heartbeat",
	[HEALTH_R_FLAP]       = "flapping",
	[HEALTH_R_HOLD_OVER]  = "flap hold over",
	[HEALTH_R_CHECK_FAIL] = "active check failed",
	[HEALTH_R_CHECK_PASS] = "active check passed",
	[HEALTH_R_CONFIG]     = "monitoring changed",
};

static __u64 sat_add(__u64 a, __u64 b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static __u64 sat_mul(__u64 a, __u64 b)
{
	return b && a > UINT64_MAX / b ? UINT64_MAX : a * b;
}

/* Clamps *v into [lo, hi]; false if it was out. */
static bool clamp_u64(__u64 *v, __u64 lo, __u64 hi)
{
	if (*v < lo) {
		*v = lo;
		return false;
	}
	if (*v > hi) {
		*v = hi;
		return false;
	}
	return true;
}

static bool clamp_u32(__u32 *v, __u32 lo, __u32 hi)
{
	__u64 x = *v;
	bool ok = clamp_u64(&x, lo, hi);

	*v = x;
	return ok;
}

/* Brings every field into range; false if one was out. */
static bool sanitize(struct health_params *p)
{
	bool ok = true;

	ok &= clamp_u64(&p->interval_ns, HEALTH_INTERVAL_MIN, HEALTH_INTERVAL_MAX);
	ok &= clamp_u32(&p->rise, 1, HEALTH_COUNT_MAX);
	ok &= clamp_u32(&p->dead_after, 1, HEALTH_COUNT_MAX);
	ok &= clamp_u32(&p->flap_max, 0, HEALTH_FLAP_MAX);
	if (p->flap_max) {
		ok &= clamp_u64(&p->flap_window_ns, 1, HEALTH_FLAP_TIME_MAX);
		ok &= clamp_u64(&p->flap_hold_ns, 0, HEALTH_FLAP_TIME_MAX);
	}
	return ok;
}

void health_params_default(struct health_params *p)
{
	memset(p, 0, sizeof(*p));
	p->interval_ns = HEALTH_INTERVAL_DEFAULT;
	p->rise = HEALTH_RISE_DEFAULT;
	p->dead_after = HEALTH_DEAD_DEFAULT;
	p->flap_max = HEALTH_FLAP_DEFAULT;
	p->flap_window_ns = HEALTH_FLAP_WINDOW_DEFAULT;
	p->flap_hold_ns = HEALTH_FLAP_HOLD_DEFAULT;
}

int health_params_check(const struct health_params *p)
{
	struct health_params q = *p;

	return sanitize(&q) ? 0 : -EINVAL;
}

int health_init(struct health *h, const struct health_params *p, __u64 now)
{
	bool ok;

	memset(h, 0, sizeof(*h));
	h->p = *p;
	ok = sanitize(&h->p);
	h->interval_ns = h->p.interval_ns;
	if (h->p.learn_interval)
		clamp_u64(&h->interval_ns, HEALTH_INTERVAL_MIN, HEALTH_LEARN_MAX);
	h->uses_hb = true;
	h->check_ok = true;
	h->state = HEALTH_DOWN;
	if (h->p.start_up) {
		/* presumed alive as of now: dies after one dead window unheard */
		h->state = HEALTH_UP;
		h->hb_alive = true;
		h->hb_last_ns = now;
	}
	return ok ? 0 : -EINVAL;
}

static __u64 dead_window(const struct health *h)
{
	return sat_mul(h->p.dead_after, h->interval_ns);
}

/* The longest gap that still continues a streak: one interval plus half
 * of one for jitter. */
static __u64 max_gap(const struct health *h)
{
	return h->interval_ns + h->interval_ns / 2;
}

static void learn(struct health *h, __u64 sample)
{
	__u64 est = h->interval_ns;

	if (sample > sat_mul(est, LEARN_LONG)) {
		if (++h->long_gaps < LEARN_RESTART)
			return;         /* a loss or an outage says nothing of the interval */
		h->learn_n = 0;         /* the source really slowed down: start over */
	}
	h->long_gaps = 0;
	if (h->learn_n < LEARN_AVG_N)
		h->learn_n++;
	if (sample >= est)
		est += (sample - est) / h->learn_n;
	else
		est -= (est - sample) / h->learn_n;
	clamp_u64(&est, HEALTH_INTERVAL_MIN, HEALTH_LEARN_MAX);
	h->interval_ns = est;
}

void health_observe_hb(struct health *h, __u64 count, __u64 last_ns, __u64 now)
{
	__u64 k, gap;

	if (count < h->hb_count) {
		/* map reset: what it counts now is not news to us */
		h->hb_count = count;
		return;
	}
	if (count == h->hb_count)
		return;
	k = count - h->hb_count;
	h->hb_count = count;
	if (!last_ns)
		last_ns = now;
	gap = last_ns > h->hb_last_ns ? last_ns - h->hb_last_ns : 0;

	/* A silence long enough to kill it ended before any tick saw it: it
	 * still died (k heartbeats over the gap: one sub-gap is >= gap / k). */
	if (h->hb_alive && gap >= sat_mul(k, dead_window(h))) {
		h->hb_alive = false;
		h->streak = 0;
		h->silence_ns = gap;
		h->pend |= PEND_HB_DIED;
	}

	if (!h->hb_any) {
		/* nothing to measure a gap from: it counts alone */
		h->hb_any = true;
		h->streak = 1;
		if (!h->hb_alive || last_ns > h->hb_last_ns)
			h->hb_last_ns = last_ns;
		return;
	}

	if (gap <= sat_mul(k, max_gap(h)))
		h->streak = h->streak + k > UINT32_MAX ? UINT32_MAX : h->streak + k;
	else
		h->streak = 1;
	if (h->p.learn_interval && gap)
		learn(h, gap / k);
	if (last_ns > h->hb_last_ns)
		h->hb_last_ns = last_ns;
}

void health_set_uses_hb(struct health *h, bool on)
{
	if (on == h->uses_hb)
		return;
	h->uses_hb = on;
	h->hb_alive = false;
	h->pend |= PEND_CONFIG;
}

void health_set_has_check(struct health *h, bool on)
{
	if (on == h->has_check)
		return;
	h->has_check = on;
	h->check_ok = on ? h->p.start_up : true;
	h->pend |= PEND_CONFIG;
}

void health_set_check(struct health *h, bool ok)
{
	if (!h->has_check) {
		h->has_check = true;
		h->pend |= PEND_CONFIG;
	}
	if (ok != h->check_ok) {
		h->check_ok = ok;
		h->pend |= PEND_CHECK;
	}
}

/* The heartbeat verdict alone. */
static void hb_eval(struct health *h, __u64 now)
{
	__u64 deadline;

	if (!h->uses_hb)
		return;
	deadline = sat_add(h->hb_last_ns, dead_window(h));
	if (h->hb_alive) {
		if (now >= deadline) {
			h->hb_alive = false;
			h->streak = 0;
			h->silence_ns = now > h->hb_last_ns ? now - h->hb_last_ns : 0;
			h->pend |= PEND_HB_DIED;
		}
	} else if (!(h->pend & PEND_HB_DIED) && h->streak >= h->p.rise && now < deadline) {
		/* a death found this tick is reported before any rise */
		h->hb_alive = true;
		h->pend |= PEND_HB_ROSE;
	}
}

static bool wants_up(const struct health *h)
{
	if (!h->uses_hb && !h->has_check)
		return true;    /* nothing watches it: the operator's word */
	if (h->uses_hb && !h->hb_alive)
		return false;
	if (h->has_check && !h->check_ok)
		return false;
	return true;
}

static enum health_reason cause(const struct health *h, enum health_state to)
{
	if (to == HEALTH_UP) {
		if (h->pend & PEND_HB_ROSE)
			return HEALTH_R_RISE;
		if (h->pend & PEND_CHECK)
			return HEALTH_R_CHECK_PASS;
		return HEALTH_R_CONFIG;
	}
	if (h->pend & PEND_HB_DIED)
		return HEALTH_R_DEAD;
	if (h->pend & PEND_CHECK)
		return HEALTH_R_CHECK_FAIL;
	return HEALTH_R_CONFIG;
}

/* Would one more change make more than flap_max within the window? The
 * ring holds the last flap_max changes; the oldest decides. */
static bool flapping(const struct health *h, __u64 now)
{
	__u64 oldest;

	if (!h->p.flap_max || h->flap_n < h->p.flap_max)
		return false;
	oldest = h->flap_t[h->flap_head];
	return now <= oldest || now - oldest < h->p.flap_window_ns;
}

static void flap_record(struct health *h, __u64 now)
{
	if (!h->p.flap_max)
		return;
	h->flap_t[h->flap_head] = now;
	h->flap_head = (h->flap_head + 1) % h->p.flap_max;
	if (h->flap_n < h->p.flap_max)
		h->flap_n++;
}

/* ns as seconds with two decimals ("3.00"), or none when whole and
 * `compact` ("60"): integers only, so no locale or rounding surprises. */
static const char *fmt_s(char *buf, size_t len, __u64 ns, bool compact)
{
	__u64 cs = ns / 10000000 + (ns % 10000000 >= 5000000);

	if (compact && ns % HEALTH_SEC == 0)
		snprintf(buf, len, "%llu", (unsigned long long)(ns / HEALTH_SEC));
	else
		snprintf(buf, len, "%llu.%02llu", (unsigned long long)(cs / 100),
			 (unsigned long long)(cs % 100));
	return buf;
}

static void fill_event(const struct health *h, struct health_event *ev,
		       enum health_state old, enum health_reason why)
{
	char a[24], b[24];

	memset(ev, 0, sizeof(*ev));
	ev->old_state = old;
	ev->new_state = h->state;
	ev->why = why;
	ev->reason = reason_str[why];
	ev->interval_ns = h->interval_ns;
	switch (why) {
	case HEALTH_R_RISE:
		ev->count = h->streak;
		snprintf(ev->detail, sizeof(ev->detail), "%u heartbeat%s in a row",
			 ev->count, ev->count == 1 ? "" : "s");
		break;
	case HEALTH_R_DEAD:
		ev->count = h->p.dead_after;
		ev->silence_ns = h->silence_ns;
		snprintf(ev->detail, sizeof(ev->detail), "no heartbeat for %s s (%u x %s s)",
			 fmt_s(a, sizeof(a), ev->silence_ns, false), ev->count,
			 fmt_s(b, sizeof(b), ev->interval_ns, false));
		break;
	case HEALTH_R_FLAP:
		ev->count = h->p.flap_max + 1;
		snprintf(ev->detail, sizeof(ev->detail), "flapping: %u changes in %s s, held %s s",
			 ev->count, fmt_s(a, sizeof(a), h->p.flap_window_ns, true),
			 fmt_s(b, sizeof(b), h->p.flap_hold_ns, true));
		break;
	default:
		snprintf(ev->detail, sizeof(ev->detail), "%s", ev->reason);
		break;
	}
}

bool health_tick(struct health *h, __u64 now, struct health_event *ev)
{
	enum health_state old = h->state, to;
	enum health_reason why;

	hb_eval(h, now);
	to = wants_up(h) ? HEALTH_UP : HEALTH_DOWN;
	if (old == HEALTH_HELD) {
		if (now < h->hold_until)
			goto same;
		why = HEALTH_R_HOLD_OVER;
	} else {
		if (to == old)
			goto same;
		why = cause(h, to);
		if (flapping(h, now)) {
			to = HEALTH_HELD;
			why = HEALTH_R_FLAP;
			h->hold_until = sat_add(now, h->p.flap_hold_ns);
			h->flap_n = 0;          /* a fresh budget after the hold */
			h->flap_head = 0;
		}
	}
	/* only changes to or from UP count as flaps */
	if (to == HEALTH_UP || old == HEALTH_UP) {
		if (to != HEALTH_HELD)
			flap_record(h, now);
	}
	h->state = to;
	if (ev)
		fill_event(h, ev, old, why);
	h->pend = 0;
	return true;
same:
	h->pend = 0;
	return false;
}

__u64 health_deadline(const struct health *h)
{
	if (h->state != HEALTH_UP || !h->uses_hb || !h->hb_alive)
		return UINT64_MAX;
	return sat_add(h->hb_last_ns, dead_window(h));
}

__u64 health_next_event(const struct health *h)
{
	if (h->pend)
		return 0;
	if (h->state == HEALTH_HELD)
		return h->hold_until;
	return health_deadline(h);
}

__u64 health_interval(const struct health *h)
{
	return h->interval_ns;
}

const char *health_state_name(enum health_state s)
{
	switch (s) {
	case HEALTH_DOWN: return "down";
	case HEALTH_UP: return "up";
	case HEALTH_HELD: return "held";
	}
	return "?";
}

const char *health_reason_str(enum health_reason r)
{
	if ((unsigned int)r >= sizeof(reason_str) / sizeof(reason_str[0]))
		return "?";
	return reason_str[r];
}

bool health_service_fail_open(__u32 configured, __u32 up, bool fail_closed,
			      const char **why)
{
	const char *w;
	bool keep = false;

	if (up)
		w = "backends up: table from them";
	else if (!configured)
		w = "no backend configured: empty table";
	else if (fail_closed)
		w = "every backend down: empty table (fail-closed)";
	else {
		w = "every backend down: keeping the last table (fail-open)";
		keep = true;
	}
	if (why)
		*why = w;
	return keep;
}

/* ---- weights ------------------------------------------------------------ */

void weight_init(struct weight_state *w, __u32 static_weight)
{
	memset(w, 0, sizeof(*w));
	w->static_weight = static_weight > WEIGHT_MAX ? WEIGHT_MAX : static_weight;
}

__u32 weight_quantise(__u32 raw)
{
	__u32 step = 1;

	if (raw > WEIGHT_MAX)
		raw = WEIGHT_MAX;
	while (raw / step >= 100)
		step *= 10;
	raw = (raw + step / 2) / step * step;
	return raw > WEIGHT_MAX ? WEIGHT_MAX : raw;
}

__u32 weight_from_heartbeat(struct weight_state *w, __u32 ready, __u32 busy)
{
	__u32 raw, cur = w->weight, diff;

	if (w->static_weight)
		return w->static_weight;
	if (busy)
		w->busy_seen = true;
	if (!ready) {
		w->weight = WEIGHT_DRAIN;
		return WEIGHT_DRAIN;
	}
	raw = ready > WEIGHT_MAX ? WEIGHT_MAX : ready;
	if (!w->busy_seen) {
		raw /= 4;       /* Apache's soft start for a server nobody uses yet */
		if (!raw)
			raw = 1;
	}
	if (cur) {
		diff = raw > cur ? raw - cur : cur - raw;
		if (diff < 2 || (__u64)diff * 8 <= cur)
			return cur;
	}
	w->weight = weight_quantise(raw);
	return w->weight;
}
