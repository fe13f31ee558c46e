// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * test_health - the liveness state machine and the weight quantiser on a
 * fake clock; no root, no BPF, no wall-clock limits.
 *
 * A simulated controller ticks every 10 ms and feeds each backend the
 * heartbeat record (cumulative count, time of the newest) as the map would
 * hold it; heartbeats land at exact fake times so that every boundary
 * (the deadline, the hold's end, the jitter tolerance) is hit to the ns.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "health.h"
#include "testing.h"

#define MS      HEALTH_MSEC
#define S       HEALTH_SEC
#define T0      (1000 * S)     /* monotonic time is never near 0 */
#define TICK    (10 * MS)

struct sim {
	struct health h;
	__u64 now;
	__u64 count;            /* the record as the map holds it */
	__u64 last;
	int check;              /* -1: no active check, else its verdict */
	unsigned int changes;
	struct health_event ev; /* the last change */
};

static __u64 rng_state;

/* splitmix64: a fixed sequence, so every run tests the same inputs */
static __u64 rng(void)
{
	__u64 z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* uniform in [-range, +range] */
static __s64 jitter(__u64 range)
{
	return (__s64)(rng() % (2 * range + 1)) - (__s64)range;
}

static void sim_init(struct sim *s, const struct health_params *p)
{
	memset(s, 0, sizeof(*s));
	s->now = T0;
	s->check = -1;
	CHECK_EQ(health_init(&s->h, p, s->now), 0);
}

/* One controller tick at s->now; true on a change. */
static bool sim_tick(struct sim *s)
{
	struct health_event ev;

	health_observe_hb(&s->h, s->count, s->last, s->now);
	if (s->check >= 0)
		health_set_check(&s->h, s->check);
	if (!health_tick(&s->h, s->now, &ev))
		return false;
	s->ev = ev;
	s->changes++;
	return true;
}

/* Ticks every 10 ms up to and including t. */
static void sim_at(struct sim *s, __u64 t)
{
	CHECK(t >= s->now, "time goes back: %llu < %llu", (unsigned long long)t,
	      (unsigned long long)s->now);
	while (s->now + TICK < t) {
		s->now += TICK;
		sim_tick(s);
	}
	s->now = t;
	sim_tick(s);
}

/* Ticks up to t, where a heartbeat lands, seen by the tick at t. */
static void sim_hb(struct sim *s, __u64 t)
{
	while (s->now + TICK < t) {
		s->now += TICK;
		sim_tick(s);
	}
	s->now = t;
	s->count++;
	s->last = t;
	sim_tick(s);
}

static void params(struct health_params *p, bool flap)
{
	health_params_default(p);
	if (!flap)
		p->flap_max = 0;
}

/* ---- rise ------------------------------------------------------------- */

static void test_rise(void)
{
	struct health_params p;
	struct sim s;

	test_begin("rise: new backend DOWN, UP after 2 heartbeats 1 interval apart");
	params(&p, true);
	sim_init(&s, &p);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	sim_at(&s, T0 + 10 * MS);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	CHECK_EQ(health_deadline(&s.h), UINT64_MAX);
	sim_hb(&s, T0 + 300 * MS);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	sim_at(&s, T0 + 1300 * MS - 1);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	CHECK_EQ(s.changes, 0);
	sim_hb(&s, T0 + 1300 * MS);
	CHECK_EQ(s.h.state, HEALTH_UP);
	CHECK_EQ(s.changes, 1);
	CHECK_EQ(s.ev.old_state, HEALTH_DOWN);
	CHECK_EQ(s.ev.new_state, HEALTH_UP);
	CHECK_EQ(s.ev.why, HEALTH_R_RISE);
	CHECK(!strcmp(s.ev.reason, "heartbeats in a row"), "reason '%s'", s.ev.reason);
	CHECK(!strcmp(s.ev.detail, "2 heartbeats in a row"), "detail '%s'", s.ev.detail);
	test_end();

	test_begin("rise=3 needs 3 heartbeats");
	params(&p, true);
	p.rise = 3;
	sim_init(&s, &p);
	sim_hb(&s, T0 + 300 * MS);
	sim_hb(&s, T0 + 1300 * MS);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	sim_hb(&s, T0 + 2300 * MS);
	CHECK_EQ(s.h.state, HEALTH_UP);
	CHECK(!strcmp(s.ev.detail, "3 heartbeats in a row"), "detail '%s'", s.ev.detail);
	test_end();

	test_begin("rise: heartbeats too far apart are not consecutive");
	params(&p, true);
	sim_init(&s, &p);
	sim_hb(&s, T0 + 300 * MS);
	sim_hb(&s, T0 + 2300 * MS);     /* 2 s: a heartbeat missing between */
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	sim_hb(&s, T0 + 4000 * MS);     /* 1.7 s: over 1.5 intervals */
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	sim_hb(&s, T0 + 5000 * MS);
	CHECK_EQ(s.h.state, HEALTH_UP);
	CHECK_EQ(s.changes, 1);
	test_end();

	test_begin("rise: jitter tolerance is 1.5 intervals, inclusive");
	params(&p, true);
	sim_init(&s, &p);
	sim_hb(&s, T0 + 300 * MS);
	sim_hb(&s, T0 + 1800 * MS);
	CHECK_EQ(s.h.state, HEALTH_UP);
	sim_init(&s, &p);
	sim_hb(&s, T0 + 300 * MS);
	sim_hb(&s, T0 + 1800 * MS + 1);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	test_end();

	test_begin("rise: steady heartbeats with Apache's jitter: one change in 10 min");
	params(&p, true);
	sim_init(&s, &p);
	rng_state = 1;
	for (__u64 t = T0 + 500 * MS; t < T0 + 600 * S; t += S + 4 * MS + jitter(18 * MS))
		sim_hb(&s, t);
	CHECK_EQ(s.h.state, HEALTH_UP);
	CHECK_EQ(s.changes, 1);
	test_end();
}

/* ---- dead_after ----------------------------------------------------------- */

/* A backend UP on heartbeats at T0 + 0.5 s and T0 + 1.5 s; returns the last. */
static __u64 sim_up(struct sim *s, const struct health_params *p)
{
	sim_init(s, p);
	sim_hb(s, T0 + 500 * MS);
	sim_hb(s, T0 + 1500 * MS);
	CHECK_EQ(s->h.state, HEALTH_UP);
	return T0 + 1500 * MS;
}

static void test_dead(void)
{
	struct health_params p;
	struct sim s;
	__u64 last;

	test_begin("dead_after: DOWN exactly at last + 3 intervals");
	params(&p, true);
	last = sim_up(&s, &p);
	CHECK_EQ(health_deadline(&s.h), last + 3 * S);
	CHECK_EQ(health_next_event(&s.h), last + 3 * S);
	sim_at(&s, last + 3 * S - 1);
	CHECK_EQ(s.h.state, HEALTH_UP);
	sim_at(&s, last + 3 * S);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	CHECK_EQ(s.ev.old_state, HEALTH_UP);
	CHECK_EQ(s.ev.why, HEALTH_R_DEAD);
	CHECK_EQ(s.ev.silence_ns, 3 * S);
	CHECK(!strcmp(s.ev.reason, "no heartbeat"), "reason '%s'", s.ev.reason);
	CHECK(!strcmp(s.ev.detail, "no heartbeat for 3.00 s (3 x 1.00 s)"), "detail '%s'",
	      s.ev.detail);
	CHECK_EQ(health_deadline(&s.h), UINT64_MAX);
	CHECK_EQ(health_next_event(&s.h), UINT64_MAX);
	test_end();

	test_begin("dead_after: back after rise new heartbeats, not one");
	sim_hb(&s, last + 5 * S);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	sim_hb(&s, last + 6 * S);
	CHECK_EQ(s.h.state, HEALTH_UP);
	CHECK_EQ(s.changes, 3);
	test_end();

	test_begin("dead_after: a late heartbeat before the deadline postpones it");
	params(&p, true);
	last = sim_up(&s, &p);
	sim_hb(&s, last + 2500 * MS);   /* late: breaks the streak, not the liveness */
	CHECK_EQ(s.h.state, HEALTH_UP);
	CHECK_EQ(health_deadline(&s.h), last + 5500 * MS);
	sim_at(&s, last + 5500 * MS - 1);
	CHECK_EQ(s.h.state, HEALTH_UP);
	sim_at(&s, last + 5500 * MS);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	CHECK_EQ(s.changes, 2);
	test_end();

	test_begin("dead_after=5 and a coarse tick: DOWN at the first tick at/after it");
	params(&p, true);
	p.dead_after = 5;
	last = sim_up(&s, &p);
	CHECK_EQ(health_deadline(&s.h), last + 5 * S);
	CHECK(!health_tick(&s.h, last + 5 * S - 1, NULL), "changed early");
	CHECK(health_tick(&s.h, last + 7 * S, &s.ev), "no change");
	CHECK(!strcmp(s.ev.detail, "no heartbeat for 7.00 s (5 x 1.00 s)"), "detail '%s'",
	      s.ev.detail);
	test_end();

	test_begin("dead_after: a death a late tick missed is still reported");
	params(&p, true);
	p.rise = 1;
	last = sim_up(&s, &p);
	/* the controller stalls 4 s; a heartbeat ends the silence before it looks */
	s.now = last + 4 * S;
	s.count++;
	s.last = s.now - 10 * MS;
	CHECK(sim_tick(&s), "no change");
	CHECK_EQ(s.ev.new_state, HEALTH_DOWN);
	CHECK_EQ(s.ev.why, HEALTH_R_DEAD);
	CHECK(!strcmp(s.ev.detail, "no heartbeat for 3.99 s (3 x 1.00 s)"), "detail '%s'",
	      s.ev.detail);
	s.now += TICK;
	CHECK(sim_tick(&s), "rise=1: no rise on the next tick");
	CHECK_EQ(s.h.state, HEALTH_UP);
	test_end();
}

/* ---- 10 ms intervals ---------------------------------------------------- */

static void test_fast(void)
{
	struct health_params p;
	struct sim s;
	__u64 t;

	test_begin("10 ms interval: UP after 2, DOWN at last + 30 ms");
	params(&p, true);
	p.interval_ns = 10 * MS;
	sim_init(&s, &p);
	sim_hb(&s, T0 + 10 * MS);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	sim_hb(&s, T0 + 20 * MS);
	CHECK_EQ(s.h.state, HEALTH_UP);
	rng_state = 2;
	for (t = T0 + 30 * MS; t < T0 + 10 * S; t += 10 * MS + jitter(3 * MS))
		sim_hb(&s, t);
	t = s.last;
	CHECK_EQ(s.changes, 1);
	CHECK_EQ(health_deadline(&s.h), t + 30 * MS);
	sim_at(&s, t + 30 * MS - 1);
	CHECK_EQ(s.h.state, HEALTH_UP);
	sim_at(&s, t + 30 * MS);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	CHECK(!strcmp(s.ev.detail, "no heartbeat for 0.03 s (3 x 0.01 s)"), "detail '%s'",
	      s.ev.detail);
	test_end();

	test_begin("10 ms interval, ticks every 25 ms: several heartbeats per look");
	params(&p, true);
	p.interval_ns = 10 * MS;
	sim_init(&s, &p);
	for (t = T0 + 10 * MS; t <= T0 + 5 * S; t += 10 * MS) {
		s.count++;
		s.last = t;
		if ((t - T0) % (25 * MS) < 10 * MS) {
			s.now = t;
			sim_tick(&s);
		}
	}
	CHECK_EQ(s.h.state, HEALTH_UP);
	CHECK_EQ(s.changes, 1);
	test_end();
}

/* ---- learned interval ----------------------------------------------------- */

static __u64 absdiff(__u64 a, __u64 b)
{
	return a > b ? a - b : b - a;
}

static void test_learn(void)
{
	struct health_params p;
	struct sim s;
	__u64 t, iv, dl;

	test_begin("learned interval: 200 ms +-20 ms converges, outage not learned");
	params(&p, true);
	p.learn_interval = true;        /* prior: the default 1 s */
	sim_init(&s, &p);
	rng_state = 3;
	t = T0;
	for (int i = 0; i < 100; i++) {
		t += 200 * MS + jitter(20 * MS);
		sim_hb(&s, t);
	}
	iv = health_interval(&s.h);
	printf("# learned %.1f ms from 200 ms +-20 ms\n", iv / 1e6);
	CHECK(absdiff(iv, 200 * MS) <= 20 * MS, "learned %llu ns", (unsigned long long)iv);
	CHECK_EQ(s.h.state, HEALTH_UP);
	/* outage: dead after 3 learned intervals */
	dl = t + 3 * iv;
	CHECK_EQ(health_deadline(&s.h), dl);
	sim_at(&s, dl - 1);
	CHECK_EQ(s.h.state, HEALTH_UP);
	sim_at(&s, dl);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	/* back after 5 s: the gap is not an interval */
	t += 5 * S;
	sim_hb(&s, t);
	CHECK_EQ(health_interval(&s.h), iv);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	t += 200 * MS;
	sim_hb(&s, t);
	CHECK_EQ(s.h.state, HEALTH_UP);
	for (int i = 0; i < 20; i++) {
		t += 200 * MS + jitter(20 * MS);
		sim_hb(&s, t);
	}
	iv = health_interval(&s.h);
	CHECK(absdiff(iv, 200 * MS) <= 20 * MS, "learned %llu ns", (unsigned long long)iv);
	dl = t + 3 * iv;
	CHECK_EQ(health_deadline(&s.h), dl);
	sim_at(&s, dl - 1);
	CHECK_EQ(s.h.state, HEALTH_UP);
	sim_at(&s, dl);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	CHECK_EQ(s.changes, 4);
	test_end();

	test_begin("learned interval: a source that slows down is relearned");
	params(&p, true);
	p.learn_interval = true;
	sim_init(&s, &p);
	t = T0;
	for (int i = 0; i < 30; i++)
		sim_hb(&s, t += 200 * MS);
	CHECK_EQ(health_interval(&s.h), 200 * MS);
	for (int i = 0; i < 2; i++)
		sim_hb(&s, t += S);
	CHECK_EQ(health_interval(&s.h), 200 * MS);      /* two could be an outage... */
	sim_hb(&s, t += S);
	CHECK_EQ(health_interval(&s.h), S);             /* ...three are a new interval */
	sim_hb(&s, t += S);
	CHECK_EQ(s.h.state, HEALTH_UP);
	sim_hb(&s, t += S);
	sim_hb(&s, t += S);
	CHECK_EQ(s.h.state, HEALTH_UP);
	test_end();

	test_begin("learned interval: clamped to [10 ms, 60 s]");
	params(&p, true);
	p.learn_interval = true;
	p.interval_ns = 10 * MS;
	sim_init(&s, &p);
	t = T0;
	for (int i = 0; i < 50; i++) {
		s.count++;
		s.last = t += 5 * MS;
		s.now = t;
		sim_tick(&s);
	}
	CHECK_EQ(health_interval(&s.h), 10 * MS);
	params(&p, true);
	p.learn_interval = true;
	sim_init(&s, &p);
	for (int i = 0; i < 5; i++)
		sim_hb(&s, T0 + i * 90 * S);
	CHECK_EQ(health_interval(&s.h), 60 * S);
	p.interval_ns = 600 * S;        /* a prior over the learned ceiling */
	sim_init(&s, &p);
	CHECK_EQ(health_interval(&s.h), 60 * S);
	test_end();
}

/* ---- start_up, map resets ------------------------------------------------ */

static void test_start_and_reset(void)
{
	struct health_params p;
	struct sim s;
	__u64 last;

	test_begin("start_up: starts UP, dies one dead window after init unheard");
	params(&p, true);
	p.start_up = true;
	sim_init(&s, &p);
	CHECK_EQ(s.h.state, HEALTH_UP);
	CHECK_EQ(health_deadline(&s.h), T0 + 3 * S);
	sim_at(&s, T0 + 3 * S - 1);
	CHECK_EQ(s.h.state, HEALTH_UP);
	CHECK_EQ(s.changes, 0);
	sim_at(&s, T0 + 3 * S);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	CHECK(!strcmp(s.ev.detail, "no heartbeat for 3.00 s (3 x 1.00 s)"), "detail '%s'",
	      s.ev.detail);
	test_end();

	test_begin("start_up: a record older than init does not cut the grace short");
	params(&p, true);
	p.start_up = true;
	sim_init(&s, &p);
	s.count = 500;                  /* a pinned map from before a restart */
	s.last = T0 - 2 * S;
	sim_at(&s, T0 + 10 * MS);
	CHECK_EQ(health_deadline(&s.h), T0 + 3 * S);
	for (__u64 t = T0 + 700 * MS; t < T0 + 20 * S; t += S)
		sim_hb(&s, t);
	CHECK_EQ(s.h.state, HEALTH_UP);
	CHECK_EQ(s.changes, 0);
	test_end();

	test_begin("start DOWN: a stale record is not a live heartbeat");
	params(&p, true);
	p.rise = 1;
	sim_init(&s, &p);
	s.count = 500;
	s.last = T0 - 10 * S;
	sim_at(&s, T0 + 10 * MS);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	sim_hb(&s, T0 + 500 * MS);
	CHECK_EQ(s.h.state, HEALTH_UP);
	test_end();

	test_begin("count going backwards is a reset, not heartbeats");
	params(&p, true);
	sim_init(&s, &p);
	s.count = 5;
	s.last = T0 + 500 * MS;
	sim_at(&s, T0 + 500 * MS);      /* one heartbeat: streak 1 */
	s.count = 1;                    /* map recreated, one record since */
	s.last = T0 + 1000 * MS;
	sim_at(&s, T0 + 1000 * MS);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	s.count = 2;                    /* one more: counted from the new base */
	s.last = T0 + 1500 * MS;
	sim_at(&s, T0 + 1500 * MS);
	CHECK_EQ(s.h.state, HEALTH_UP);
	CHECK_EQ(s.h.streak, 2);
	test_end();

	test_begin("count going backwards does not postpone the deadline");
	params(&p, true);
	last = sim_up(&s, &p);          /* count 2 */
	s.count = 1;                    /* map recreated, a record already in it */
	s.last = last + 1 * S;
	sim_at(&s, last + 1 * S);
	CHECK_EQ(health_deadline(&s.h), last + 3 * S);
	sim_at(&s, last + 3 * S);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	sim_hb(&s, last + 3500 * MS);   /* counting restarted at 1: 2 is one heartbeat */
	CHECK_EQ(s.h.streak, 1);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	sim_hb(&s, last + 4500 * MS);
	CHECK_EQ(s.h.state, HEALTH_UP);
	/* an emptied map: heartbeats after it count from 0 */
	last = sim_up(&s, &p);
	s.count = 0;
	s.last = 0;
	sim_at(&s, last + 1 * S);
	CHECK_EQ(health_deadline(&s.h), last + 3 * S);
	sim_hb(&s, last + 2 * S);
	CHECK_EQ(health_deadline(&s.h), last + 5 * S);
	CHECK_EQ(s.h.state, HEALTH_UP);
	CHECK_EQ(s.changes, 1);
	test_end();
}

/* ---- flapping --------------------------------------------------------------- */

/* Two heartbeats (UP), then silence until DOWN; returns the death time. */
static __u64 flap_cycle(struct sim *s, __u64 t)
{
	sim_hb(s, t + 500 * MS);
	sim_hb(s, t + 1500 * MS);
	sim_at(s, t + 4500 * MS);
	return t + 4500 * MS;
}

static void test_flap(void)
{
	struct health_params p;
	struct sim s;
	__u64 t, held;

	test_begin("flap: 6 changes in 60 s -> HELD 30 s, then UP if it qualifies");
	params(&p, true);
	sim_init(&s, &p);
	t = flap_cycle(&s, T0);                 /* changes 1, 2 */
	t = flap_cycle(&s, t);                  /* 3, 4 */
	CHECK_EQ(s.changes, 4);
	sim_hb(&s, t + 500 * MS);
	sim_hb(&s, t + 1500 * MS);              /* 5: UP */
	CHECK_EQ(s.h.state, HEALTH_UP);
	held = t + 4500 * MS;
	sim_at(&s, held);                       /* 6: would be DOWN */
	CHECK_EQ(s.h.state, HEALTH_HELD);
	CHECK_EQ(s.changes, 6);
	CHECK_EQ(s.ev.old_state, HEALTH_UP);
	CHECK_EQ(s.ev.new_state, HEALTH_HELD);
	CHECK_EQ(s.ev.why, HEALTH_R_FLAP);
	CHECK(!strcmp(s.ev.detail, "flapping: 6 changes in 60 s, held 30 s"), "detail '%s'",
	      s.ev.detail);
	CHECK_EQ(health_deadline(&s.h), UINT64_MAX);
	CHECK_EQ(health_next_event(&s.h), held + 30 * S);
	/* steady heartbeats during the hold do not bring it back early */
	for (t = held + 500 * MS; t < held + 30 * S; t += S)
		sim_hb(&s, t);
	sim_at(&s, held + 30 * S - 1);
	CHECK_EQ(s.h.state, HEALTH_HELD);
	CHECK_EQ(s.changes, 6);
	sim_at(&s, held + 30 * S);
	CHECK_EQ(s.h.state, HEALTH_UP);
	CHECK_EQ(s.ev.old_state, HEALTH_HELD);
	CHECK_EQ(s.ev.why, HEALTH_R_HOLD_OVER);
	test_end();

	test_begin("flap: a fresh budget after the hold");
	/* the UP at the hold's end is change 1 of the new budget */
	t = s.last + S;                         /* keeps the streak going */
	sim_hb(&s, t);
	t = flap_cycle(&s, t);                  /* 2 DOWN, 3 UP, 4 DOWN */
	t = flap_cycle(&s, t);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	sim_hb(&s, t + 500 * MS);
	sim_hb(&s, t + 1500 * MS);              /* 5 UP: still allowed */
	CHECK_EQ(s.h.state, HEALTH_UP);
	sim_at(&s, t + 4500 * MS);              /* 6: held again */
	CHECK_EQ(s.h.state, HEALTH_HELD);
	CHECK_EQ(s.changes, 12);
	test_end();

	test_begin("flap: silent at the end of the hold -> DOWN, then rises normally");
	params(&p, true);
	sim_init(&s, &p);
	t = flap_cycle(&s, T0);
	t = flap_cycle(&s, t);
	t = flap_cycle(&s, t);
	CHECK_EQ(s.h.state, HEALTH_HELD);
	held = t;
	sim_at(&s, held + 30 * S);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	CHECK_EQ(s.ev.old_state, HEALTH_HELD);
	CHECK(!strcmp(s.ev.reason, "flap hold over"), "reason '%s'", s.ev.reason);
	sim_hb(&s, held + 31 * S);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	sim_hb(&s, held + 32 * S);
	CHECK_EQ(s.h.state, HEALTH_UP);
	CHECK_EQ(s.ev.why, HEALTH_R_RISE);
	test_end();

	test_begin("flap: changes spread wider than the window are never held");
	params(&p, true);
	p.flap_window_ns = 10 * S;              /* a change every 3 s: at most 4 per 10 s */
	sim_init(&s, &p);
	t = T0;
	for (int i = 0; i < 20; i++) {
		sim_hb(&s, t + 500 * MS);
		sim_hb(&s, t + 1500 * MS);
		sim_at(&s, t + 4500 * MS);
		CHECK(s.h.state != HEALTH_HELD, "held in cycle %d", i);
		t += 6 * S;
		sim_at(&s, t);
	}
	CHECK_EQ(s.changes, 40);
	test_end();

	test_begin("flap: flap_max 0 disables it");
	params(&p, false);
	sim_init(&s, &p);
	t = T0;
	for (int i = 0; i < 20; i++)
		t = flap_cycle(&s, t);
	CHECK_EQ(s.changes, 40);
	test_end();
}

/* ---- active checks ------------------------------------------------------------ */

static void test_checks(void)
{
	struct health_params p;
	struct sim s;
	__u64 t;

	test_begin("check + heartbeats: both must pass");
	params(&p, false);
	sim_init(&s, &p);
	s.check = 1;
	t = T0;
	sim_hb(&s, t += S);
	sim_hb(&s, t += S);
	CHECK_EQ(s.h.state, HEALTH_UP);
	CHECK_EQ(s.ev.why, HEALTH_R_RISE);
	s.check = 0;
	sim_hb(&s, t += S);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	CHECK_EQ(s.ev.why, HEALTH_R_CHECK_FAIL);
	CHECK(!strcmp(s.ev.reason, "active check failed"), "reason '%s'", s.ev.reason);
	CHECK(!strcmp(s.ev.detail, "active check failed"), "detail '%s'", s.ev.detail);
	sim_hb(&s, t += S);
	sim_hb(&s, t += S);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	s.check = 1;
	sim_hb(&s, t += S);
	CHECK_EQ(s.h.state, HEALTH_UP);
	CHECK_EQ(s.ev.why, HEALTH_R_CHECK_PASS);
	CHECK(!strcmp(s.ev.reason, "active check passed"), "reason '%s'", s.ev.reason);
	/* check fails, heartbeats stop, check passes: still down */
	s.check = 0;
	sim_at(&s, t + 10 * MS);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	sim_at(&s, t + 10 * S);
	s.check = 1;
	sim_at(&s, t + 11 * S);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	CHECK_EQ(s.changes, 4);
	/* heartbeats again: the rise brings it up, named as such */
	t += 12 * S;
	sim_hb(&s, t);
	sim_hb(&s, t + S);
	CHECK_EQ(s.h.state, HEALTH_UP);
	CHECK_EQ(s.ev.why, HEALTH_R_RISE);
	test_end();

	test_begin("check only: follows the check, needs no heartbeats");
	params(&p, true);
	sim_init(&s, &p);
	health_set_uses_hb(&s.h, false);
	s.check = 0;
	sim_at(&s, T0 + 10 * MS);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	CHECK_EQ(s.changes, 0);
	s.check = 1;
	sim_at(&s, T0 + 2 * S);
	CHECK_EQ(s.h.state, HEALTH_UP);
	CHECK_EQ(s.ev.why, HEALTH_R_CHECK_PASS);
	CHECK_EQ(health_deadline(&s.h), UINT64_MAX);
	sim_at(&s, T0 + 100 * S);
	CHECK_EQ(s.h.state, HEALTH_UP);
	s.check = 0;
	sim_at(&s, T0 + 101 * S);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	CHECK_EQ(s.changes, 2);
	test_end();

	test_begin("check declared: pending counts as failed, or passed with start_up");
	params(&p, true);
	sim_init(&s, &p);
	health_set_uses_hb(&s.h, false);
	health_set_has_check(&s.h, true);
	sim_at(&s, T0 + S);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	p.start_up = true;
	sim_init(&s, &p);
	health_set_uses_hb(&s.h, false);
	health_set_has_check(&s.h, true);
	sim_at(&s, T0 + S);
	CHECK_EQ(s.h.state, HEALTH_UP);
	CHECK_EQ(s.changes, 0);
	test_end();

	test_begin("monitoring changes: unmonitored is UP; heartbeats turned on must rise");
	params(&p, true);
	sim_init(&s, &p);
	health_set_uses_hb(&s.h, false);
	CHECK_EQ(health_next_event(&s.h), 0);
	sim_at(&s, T0 + 10 * MS);
	CHECK_EQ(s.h.state, HEALTH_UP);
	CHECK_EQ(s.ev.why, HEALTH_R_CONFIG);
	CHECK(!strcmp(s.ev.reason, "monitoring changed"), "reason '%s'", s.ev.reason);
	health_set_uses_hb(&s.h, true);
	sim_at(&s, T0 + 20 * MS);
	CHECK_EQ(s.h.state, HEALTH_DOWN);
	sim_hb(&s, T0 + S);
	sim_hb(&s, T0 + 2 * S);
	CHECK_EQ(s.h.state, HEALTH_UP);
	health_set_check(&s.h, true);
	s.check = 1;
	sim_at(&s, T0 + 2 * S + 10 * MS);
	CHECK_EQ(s.h.state, HEALTH_UP);
	health_set_has_check(&s.h, false);
	s.check = -1;
	sim_hb(&s, T0 + 3 * S);
	CHECK_EQ(s.h.state, HEALTH_UP);
	CHECK_EQ(s.changes, 3);
	test_end();
}

/* ---- service fail-open --------------------------------------------------------- */

static void test_fail_open(void)
{
	const char *why = NULL;

	test_begin("fail-open: every backend down keeps the last table unless fail-closed");
	CHECK(!health_service_fail_open(3, 1, false, &why), "some up");
	CHECK(!health_service_fail_open(3, 3, true, &why), "all up");
	CHECK(health_service_fail_open(3, 0, false, &why), "all down, fail-open");
	CHECK(strstr(why, "keeping the last table (fail-open)") != NULL, "why '%s'", why);
	CHECK(!health_service_fail_open(3, 0, true, &why), "all down, fail-closed");
	CHECK(strstr(why, "fail-closed") != NULL, "why '%s'", why);
	CHECK(!health_service_fail_open(0, 0, false, &why), "none configured");
	CHECK(strstr(why, "no backend configured") != NULL, "why '%s'", why);
	CHECK(!health_service_fail_open(0, 0, true, NULL), "none configured, closed");
	CHECK(health_service_fail_open(1, 0, false, NULL), "one down, no why");
	test_end();
}

/* ---- parameters ------------------------------------------------------------------ */

static void test_params(void)
{
	struct health_params p;
	struct health h;

	test_begin("parameters: defaults, ranges, clamped on -EINVAL");
	health_params_default(&p);
	CHECK_EQ(p.interval_ns, S);
	CHECK_EQ(p.rise, 2);
	CHECK_EQ(p.dead_after, 3);
	CHECK_EQ(p.start_up, false);
	CHECK_EQ(p.learn_interval, false);
	CHECK_EQ(p.flap_max, 5);
	CHECK_EQ(p.flap_window_ns, 60 * S);
	CHECK_EQ(p.flap_hold_ns, 30 * S);
	CHECK_EQ(health_params_check(&p), 0);
	p.interval_ns = 10 * MS;
	CHECK_EQ(health_params_check(&p), 0);
	p.interval_ns = 10 * MS - 1;
	CHECK_EQ(health_params_check(&p), -EINVAL);
	CHECK_EQ(health_init(&h, &p, T0), -EINVAL);
	CHECK_EQ(health_interval(&h), 10 * MS);
	health_params_default(&p);
	p.rise = 0;
	CHECK_EQ(health_params_check(&p), -EINVAL);
	p.rise = HEALTH_COUNT_MAX;
	CHECK_EQ(health_params_check(&p), 0);
	p.dead_after = HEALTH_COUNT_MAX + 1;
	CHECK_EQ(health_params_check(&p), -EINVAL);
	health_params_default(&p);
	p.flap_max = HEALTH_FLAP_MAX + 1;
	CHECK_EQ(health_init(&h, &p, T0), -EINVAL);
	CHECK_EQ(h.p.flap_max, HEALTH_FLAP_MAX);
	p.flap_max = 3;
	p.flap_window_ns = 0;
	CHECK_EQ(health_params_check(&p), -EINVAL);
	p.flap_max = 0;                 /* window unused then */
	CHECK_EQ(health_params_check(&p), 0);
	CHECK(!strcmp(health_state_name(HEALTH_UP), "up"), "up");
	CHECK(!strcmp(health_state_name(HEALTH_DOWN), "down"), "down");
	CHECK(!strcmp(health_state_name(HEALTH_HELD), "held"), "held");
	CHECK(!strcmp(health_reason_str(HEALTH_R_DEAD), "no heartbeat"), "reason");
	test_end();
}

/* ---- weights ------------------------------------------------------------------------ */

static void test_weights(void)
{
	static const __u32 jit[] = { 75, 74, 76, 75, 73, 77, 75, 76, 74, 75, 70, 80, 75 };
	struct weight_state w = { 0 }, w2;
	__u64 sum = 0;
	__u32 changes = 0, prev;

	test_begin("weights: jitter around 75 keeps one weight");
	for (size_t i = 0; i < sizeof(jit) / sizeof(jit[0]); i++)
		CHECK_EQ(weight_from_heartbeat(&w, jit[i], 5), 75);
	test_end();

	test_begin("weights: 75 -> 100 changes it; ready 0 drains");
	CHECK_EQ(weight_from_heartbeat(&w, 100, 5), 100);
	CHECK_EQ(weight_from_heartbeat(&w, 95, 5), 100);
	CHECK_EQ(weight_from_heartbeat(&w, 0, 5), WEIGHT_DRAIN);
	CHECK_EQ(weight_from_heartbeat(&w, 0, 0), 0);
	CHECK_EQ(weight_from_heartbeat(&w, 75, 5), 75);     /* back at once */
	test_end();

	test_begin("weights: hysteresis is > 1/8 and >= 2");
	weight_init(&w, 0);
	CHECK_EQ(weight_from_heartbeat(&w, 80, 1), 80);
	CHECK_EQ(weight_from_heartbeat(&w, 90, 1), 80);     /* 10 = 80 / 8 */
	CHECK_EQ(weight_from_heartbeat(&w, 70, 1), 80);
	CHECK_EQ(weight_from_heartbeat(&w, 91, 1), 91);
	weight_init(&w, 0);
	CHECK_EQ(weight_from_heartbeat(&w, 10, 1), 10);
	CHECK_EQ(weight_from_heartbeat(&w, 11, 1), 10);     /* 1 < 2 */
	CHECK_EQ(weight_from_heartbeat(&w, 12, 1), 12);
	weight_init(&w, 0);
	CHECK_EQ(weight_from_heartbeat(&w, 1, 1), 1);
	CHECK_EQ(weight_from_heartbeat(&w, 2, 1), 1);
	CHECK_EQ(weight_from_heartbeat(&w, 3, 1), 3);
	weight_init(&w, 0);
	CHECK_EQ(weight_from_heartbeat(&w, 1234, 1), 1200);
	CHECK_EQ(weight_from_heartbeat(&w, 1340, 1), 1200);
	CHECK_EQ(weight_from_heartbeat(&w, 1360, 1), 1400);
	test_end();

	test_begin("weights: grid of two significant digits, capped");
	CHECK_EQ(weight_quantise(0), 0);
	CHECK_EQ(weight_quantise(1), 1);
	CHECK_EQ(weight_quantise(99), 99);
	CHECK_EQ(weight_quantise(100), 100);
	CHECK_EQ(weight_quantise(104), 100);
	CHECK_EQ(weight_quantise(105), 110);
	CHECK_EQ(weight_quantise(300), 300);
	CHECK_EQ(weight_quantise(994), 990);
	CHECK_EQ(weight_quantise(995), 1000);
	CHECK_EQ(weight_quantise(1049), 1000);
	CHECK_EQ(weight_quantise(1050), 1100);
	CHECK_EQ(weight_quantise(12345), 12000);
	CHECK_EQ(weight_quantise(65535), WEIGHT_MAX);
	CHECK_EQ(weight_quantise(UINT32_MAX), WEIGHT_MAX);
	weight_init(&w, 0);
	CHECK_EQ(weight_from_heartbeat(&w, 100000, 1), WEIGHT_MAX);
	CHECK_EQ(weight_from_heartbeat(&w, UINT32_MAX, 1), WEIGHT_MAX);
	test_end();

	test_begin("weights: soft start while never busy, as Apache's ready / 4");
	weight_init(&w, 0);
	CHECK_EQ(weight_from_heartbeat(&w, 300, 0), 75);
	CHECK_EQ(weight_from_heartbeat(&w, 2, 0), 1);
	CHECK_EQ(weight_from_heartbeat(&w, 300, 3), 300);
	CHECK_EQ(weight_from_heartbeat(&w, 300, 0), 300);   /* idle again: no 4x swing */
	weight_init(&w, 0);
	CHECK_EQ(weight_from_heartbeat(&w, 100, 0), 25);
	CHECK_EQ(weight_from_heartbeat(&w, 100000, 0), 16000); /* 65535 / 4 = 16383 */
	test_end();

	test_begin("weights: a static weight bypasses it all");
	weight_init(&w, 7);
	CHECK_EQ(weight_from_heartbeat(&w, 75, 5), 7);
	CHECK_EQ(weight_from_heartbeat(&w, 0, 5), 7);
	weight_init(&w, 100000);
	CHECK_EQ(weight_from_heartbeat(&w, 75, 5), WEIGHT_MAX);
	test_end();

	test_begin("weights: deterministic; a random walk changes weight rarely");
	weight_init(&w, 0);
	weight_init(&w2, 0);
	rng_state = 4;
	prev = 0;
	for (int i = 0; i < 100000; i++) {
		/* a slow drift with +-3 jitter, a busy 0 now and then, drains */
		__u32 base = 50 + (__u32)(i / 1000) * 3;
		__u32 ready = (rng() % 500) ? base + (__u32)jitter(3) : 0;
		__u32 busy = rng() % 4;
		__u32 a = weight_from_heartbeat(&w, ready, busy);
		__u32 b = weight_from_heartbeat(&w2, ready, busy);

		CHECK(a == b, "step %d: %u vs %u", i, a, b);
		sum = sum * 31 + a;
		changes += a != prev;
		prev = a;
	}
	printf("# weights: %u changes over 100000 heartbeats (drift 50 -> 347, 0.2%% drains), "
	       "checksum %llx\n", changes, (unsigned long long)sum);
	CHECK(changes < 1000, "%u changes", changes);
	test_end();
}

/* ---- scale ---------------------------------------------------------------------------- */

#define N_BE    1000
#define N_TICKS 1000

static void test_scale(void)
{
	static struct health hs[N_BE];
	static __u64 cnt[N_BE], last[N_BE], next_hb[N_BE];
	struct health_params p;
	unsigned int ups = 0, downs = 0, other = 0;

	test_begin("scale: 1000 backends x 1000 ticks, fixed per-backend state");
	printf("# sizeof(struct health) = %zu bytes, caller-owned; no allocation\n",
	       sizeof(struct health));
	CHECK(sizeof(struct health) <= 512, "struct health is %zu bytes", sizeof(struct health));
	health_params_default(&p);
	for (int i = 0; i < N_BE; i++) {
		health_init(&hs[i], &p, T0);
		next_hb[i] = T0 + (__u64)i * 997 * 1000 % S;   /* spread over the second */
	}
	for (int k = 1; k <= N_TICKS; k++) {
		__u64 now = T0 + k * TICK;

		for (int i = 0; i < N_BE; i++) {
			struct health_event ev;

			/* every 10th stops after 4 s */
			while (next_hb[i] <= now && !(i % 10 == 0 && next_hb[i] > T0 + 4 * S)) {
				cnt[i]++;
				last[i] = next_hb[i];
				next_hb[i] += S;
			}
			health_observe_hb(&hs[i], cnt[i], last[i], now);
			if (health_tick(&hs[i], now, &ev)) {
				if (ev.new_state == HEALTH_UP)
					ups++;
				else if (ev.new_state == HEALTH_DOWN)
					downs++;
				else
					other++;
			}
		}
	}
	CHECK_EQ(ups, N_BE);
	CHECK_EQ(downs, N_BE / 10);
	CHECK_EQ(other, 0);
	test_end();
}

int main(void)
{
	test_rise();
	test_dead();
	test_fast();
	test_learn();
	test_start_and_reset();
	test_flap();
	test_checks();
	test_fail_open();
	test_params();
	test_weights();
	test_scale();
	return test_summary("health");
}
