/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * health.h - backend liveness from heartbeats and active checks, and
 * backend weights from heartbeats' `ready`, as pure functions of their
 * inputs: no BPF, no clock reads (time is always the caller's `now`, in
 * CLOCK_MONOTONIC ns like the heartbeat records' last_ns), no allocation,
 * O(1) per call. A struct health is per backend and caller-owned.
 *
 * Liveness (BFD-like), per backend, with I the interval in force (the
 * configured one, or the learned one with learn_interval):
 * - A heartbeat continues the streak when it arrives within 1.5 * I of the
 *   previous one (the half interval absorbs jitter: Apache's is ~6 ms at
 *   1 s); a later one restarts the streak at 1. When several arrive between
 *   two observations only the newest one's time is known: k heartbeats
 *   spanning a gap g continue the streak when g <= k * 1.5 * I.
 * - UP after `rise` heartbeats in a row, the newest still fresh (less than
 *   dead_after * I old).
 * - DOWN when now >= last + dead_after * I (health_deadline() gives that
 *   instant). The streak is then cleared: coming back takes `rise` new
 *   heartbeats. A death a late tick missed (the heartbeat that ends a gap
 *   of dead_after * I or more is observed before the tick) is still
 *   reported, before any rise.
 * - A new backend starts DOWN, or UP with start_up (for a controller
 *   restart); one that starts UP and never beats dies at init + dead_after
 *   * I.
 * - The cumulative count going backwards (map reset) restarts counting
 *   from the new value; the records behind it are not heartbeats.
 * - With an active check too (health_set_check), the backend is UP only
 *   while both agree; a check-only backend (health_set_uses_hb(h, false))
 *   follows its check alone; one with neither is UP (nothing to watch).
 *   The checker applies its own rise/fall: a result here takes effect at
 *   once.
 * - Flap control: a change that would make more than flap_max changes to
 *   or from UP within flap_window_ns puts the backend in HELD instead
 *   (down for the data path) for flap_hold_ns. Heartbeats and checks are
 *   still followed meanwhile; when the hold ends the backend is UP if it
 *   qualifies then (e.g. `rise` fresh heartbeats in a row), else DOWN,
 *   with a fresh flap budget.
 *
 * Learned interval: from gaps between consecutive heartbeats (g / k for
 * k at once): the first gap seeds the estimate, the next seven are
 * averaged in, then an EWMA of weight 1/8 (as TCP's smoothed RTT). A gap
 * over twice the estimate is a lost heartbeat or an outage and is not
 * learned, unless three come in a row: the source then really slowed down
 * and the estimate restarts from the last one. Clamped to
 * [HEALTH_INTERVAL_MIN, HEALTH_LEARN_MAX]; interval_ns is the prior until
 * the first gap.
 *
 * Per tick the controller calls health_observe_hb (heartbeat backends),
 * health_set_check (backends with a check), then health_tick.
 */
#ifndef HBLB_HEALTH_H
#define HBLB_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "hblb.h"

#define HEALTH_MSEC             1000000ull
#define HEALTH_SEC              1000000000ull

#define HEALTH_INTERVAL_DEFAULT HEALTH_SEC
#define HEALTH_INTERVAL_MIN     (10 * HEALTH_MSEC)
#define HEALTH_INTERVAL_MAX     (600 * HEALTH_SEC)
#define HEALTH_LEARN_MAX        (60 * HEALTH_SEC)   /* learned interval ceiling */
#define HEALTH_RISE_DEFAULT     2
#define HEALTH_DEAD_DEFAULT     3
#define HEALTH_COUNT_MAX        1000                /* rise and dead_after */
#define HEALTH_FLAP_DEFAULT     5
#define HEALTH_FLAP_MAX         32                  /* flap_max: timestamps kept per backend */
#define HEALTH_FLAP_WINDOW_DEFAULT (60 * HEALTH_SEC)
#define HEALTH_FLAP_HOLD_DEFAULT   (30 * HEALTH_SEC)
#define HEALTH_FLAP_TIME_MAX    (86400 * HEALTH_SEC) /* window and hold */

struct health_params {
	__u64 interval_ns;      /* heartbeat interval, or the prior when learning */
	__u64 flap_window_ns;   /* 1 ns .. HEALTH_FLAP_TIME_MAX */
	__u64 flap_hold_ns;     /* 0 .. HEALTH_FLAP_TIME_MAX (0: log only) */
	__u32 rise;             /* heartbeats in a row to go UP, 1..HEALTH_COUNT_MAX */
	__u32 dead_after;       /* silent intervals to go DOWN, 1..HEALTH_COUNT_MAX */
	__u32 flap_max;         /* changes allowed per window; 0: no flap control */
	bool  learn_interval;   /* learn I from the heartbeats */
	bool  start_up;         /* a new backend (and a new check) starts UP */
};

enum health_state {
	HEALTH_DOWN = 0,
	HEALTH_UP   = 1,
	HEALTH_HELD = 2,        /* flapping: down until the hold ends */
};

enum health_reason {
	HEALTH_R_RISE = 0,      /* "heartbeats in a row" */
	HEALTH_R_DEAD,          /* "no heartbeat" */
	HEALTH_R_FLAP,          /* "flapping" */
	HEALTH_R_HOLD_OVER,     /* "flap hold over" */
	HEALTH_R_CHECK_FAIL,    /* "active check failed" */
	HEALTH_R_CHECK_PASS,    /* "active check passed" */
	HEALTH_R_CONFIG,        /* "monitoring changed": uses_hb or check added/removed */
};

#define HEALTH_DETAIL_LEN 64

struct health_event {
	enum health_state old_state;
	enum health_state new_state;
	enum health_reason why;
	const char *reason;     /* static, short: as the enum's comments */
	/* with the figures, e.g. "2 heartbeats in a row",
	 * "no heartbeat for 3.00 s (3 x 1.00 s)",
	 * "flapping: 6 changes in 60 s, held 30 s" */
	char detail[HEALTH_DETAIL_LEN];
	__u64 silence_ns;       /* DEAD: time since the last heartbeat */
	__u64 interval_ns;      /* the interval in force */
	__u32 count;            /* RISE: streak; DEAD: dead_after; FLAP: changes */
};

/* Per backend; the members are private to health.c (tests read them). */
struct health {
	struct health_params p;
	__u64 hb_count;         /* cumulative count at the last observation */
	__u64 hb_last_ns;       /* newest heartbeat; with start_up, init time until one */
	__u64 interval_ns;      /* I in force */
	__u64 silence_ns;       /* of a death found by health_observe_hb */
	__u64 hold_until;
	__u64 flap_t[HEALTH_FLAP_MAX]; /* ring: times of the last flap_max changes */
	__u32 streak;
	__u16 learn_n;          /* gaps learned, up to 8 */
	__u16 long_gaps;        /* gaps in a row too long to learn */
	__u8  flap_n;           /* entries in flap_t */
	__u8  flap_head;        /* next write; the oldest entry when full */
	__u8  state;            /* enum health_state */
	__u8  pend;             /* what changed since the last tick */
	bool  hb_any;           /* a heartbeat was seen */
	bool  hb_alive;         /* heartbeat verdict alone */
	bool  uses_hb;
	bool  has_check;
	bool  check_ok;
};

/* Defaults: 1 s, rise 2, dead after 3, start DOWN, 5 changes in 60 s hold
 * 30 s, interval not learned. */
void health_params_default(struct health_params *p);
/* 0, or -EINVAL when a field is out of the ranges above. */
int health_params_check(const struct health_params *p);

/* Starts a backend at `now`: DOWN (UP with start_up), heartbeats used, no
 * active check. Returns 0, or -EINVAL for bad parameters: h is then set up
 * with each offending field clamped into range (never left unusable). */
int health_init(struct health *h, const struct health_params *p, __u64 now);

/* Feeds the heartbeat record as read this tick: `count` cumulative (summed
 * over CPUs), `last_ns` the newest heartbeat's time (0: take `now`). */
void health_observe_hb(struct health *h, __u64 count, __u64 last_ns, __u64 now);

/* Whether the state follows heartbeats. Turned on, the heartbeat verdict
 * starts DOWN: it must rise (a streak kept while off counts). */
void health_set_uses_hb(struct health *h, bool on);
/* Declares or removes an active check. Until its first result a new check
 * counts as passed with start_up, failed otherwise. */
void health_set_has_check(struct health *h, bool on);
/* An active check's current verdict (declares the check if need be). May
 * be called every tick; only a change matters. */
void health_set_check(struct health *h, bool ok);

/* Evaluates at `now`. True when the state changed, with ev (may be NULL)
 * filled. The changes health_set_* and health_observe_hb cause are
 * reported by the next tick. */
bool health_tick(struct health *h, __u64 now, struct health_event *ev);

/* When an UP heartbeat backend will be declared dead if nothing arrives:
 * last + dead_after * I. UINT64_MAX when not UP or not on heartbeats. */
__u64 health_deadline(const struct health *h);
/* The earliest time health_tick may change the state with no new input:
 * health_deadline(), or the end of a hold. UINT64_MAX if none. */
__u64 health_next_event(const struct health *h);
/* The interval in force (learned or configured). */
__u64 health_interval(const struct health *h);

const char *health_state_name(enum health_state s);     /* "down", "up", "held" */
const char *health_reason_str(enum health_reason r);

/* Service level, on every evaluation: `configured` backends, of which `up`
 * would be in a new table (UP, weight > 0, not drained). True when the
 * controller should keep the table it has (fail-open: every backend down,
 * keep steering as before rather than drop everything; a service that has
 * never had a table installed gets the empty one all the same); false when
 * it should build one from the `up` backends, which is the empty table
 * when up is 0 (fail_closed, or no backend configured). `why` (may be
 * NULL) gets a static sentence for the log. */
bool health_service_fail_open(__u32 configured, __u32 up, bool fail_closed,
			      const char **why);

/*
 * Weights from heartbeats, as Apache's mod_lbmethod_heartbeat: by `ready`
 * (idle worker slots), but stable enough to build tables from:
 * - raw = min(ready, WEIGHT_MAX); Apache's soft start (ready / 4, at
 *   least 1, while busy is 0) applies until the first heartbeat with
 *   busy > 0 since weight_init, not every time busy drops to 0: an idle
 *   server's busy flips between 0 and 1 and must not swing its weight 4x;
 * - hysteresis: the weight stays unless raw differs from it by more than
 *   1/8 of it and by at least 2, so 74, 75, 76, 75... keeps one weight;
 * - then it snaps to raw rounded (half up) to two significant digits: 1-99
 *   exact, 100-999 in steps of 10, 1000-9999 of 100, then of 1000 (capped
 *   at WEIGHT_MAX). Round values stay exact, so ratios like 300:100 hold,
 *   and weights read well in logs;
 * - ready == 0 returns WEIGHT_DRAIN: no new flows (busy or stopping).
 * Deterministic: the result depends only on the inputs since weight_init.
 * A zeroed weight_state is a valid initial state. A static weight (from
 * weight_init) is returned as is and ignores the heartbeats.
 */
#define WEIGHT_DRAIN    0
#define WEIGHT_MAX      65535

struct weight_state {
	__u32 weight;           /* current; 0: none yet, or draining */
	__u32 static_weight;    /* not 0: the operator's, returned as is */
	bool  busy_seen;        /* soft start over */
};

/* static_weight 0: from heartbeats; else capped to WEIGHT_MAX. Call again
 * when a backend comes back up, to restart its soft start. */
void weight_init(struct weight_state *w, __u32 static_weight);
/* The weight to use now; WEIGHT_DRAIN (0) means drain. */
__u32 weight_from_heartbeat(struct weight_state *w, __u32 ready, __u32 busy);
/* The grid alone: raw rounded to two significant digits, capped. */
__u32 weight_quantise(__u32 raw);

#endif
