// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bench_ctl - times the controller core (ctl.c) on real, pinned maps:
 *
 * 1. one service of 1000 heartbeat backends, M = 65537: the ctl_tick that
 *    takes a backend out when its heartbeats stop; and alone, on the set
 *    that tick built, maglev_build and hblb_table_install (write of the
 *    inactive copy + generation flip);
 * 2. 100 services of 10 backends each, one real (address) a backend of
 *    every one of them: the ctl_tick that takes it out of all 100 tables;
 * 3. 1000 backends beating at 1 Hz (a writer thread, staggered) while the
 *    controller ticks every 10 ms: its thread's CPU time over wall time.
 *
 * 1 and 2 drive the controller on a fake clock, the heartbeats carrying
 * that clock's times: each run silences one real until the tick at its
 * deadline takes it out, then lets it rise again; a first run is not
 * timed (caches, page faults). 3 runs on CLOCK_MONOTONIC. Ticks are timed
 * in wall time (CLOCK_MONOTONIC: the reaction) and the thread's CPU time;
 * the build and install alone in CPU time (their cost, whatever else the
 * shared machine runs); medians over --runs runs; 3 is the median of
 * five windows. Every timed tick must do what it names (all backends UP
 * before it; after it the victim DOWN, out of every table, one install per
 * service), and 3 must see every backend UP and no state change or
 * install throughout (measured again, up to 3 times, if late heartbeats on
 * a loaded machine took one down); else the bench fails. No wait is
 * bounded by time, only by heartbeats sent. A missed target is reported
 * (PASS/MISS) and does not change the exit status.
 *
 * The controller logs each state change (one line per backend) like the
 * daemon; the log goes to /dev/null unless -v, so ticks pay the writes
 * but no terminal.
 *
 * Needs root. Pins under /sys/fs/bpf/hblb-bench-ctl-<pid>, removed at the
 * end, on failure and on SIGINT/SIGTERM.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "ctl.h"
#include "log.h"
#include "bench_report.h"

#define TABLE_SIZE      HBLB_TABLE_SIZE_DEFAULT
#define MAX_SERVICES    128
#define FLOW_BUCKETS    1024        /* the controller never reads flows */
#define SEC_NS          1000000000ull
#define MS_NS           1000000ull
#define FAKE_T0         (1000 * SEC_NS)
#define MAX_RUNS        101

#define ONE_N           1000
#define MULTI_SVCS      100
#define MULTI_PER_SVC   10
#define IDLE_N          1000
#define IDLE_TICK_NS    (10 * MS_NS)
#define IDLE_WINDOWS    5
#define IDLE_RISE_BEATS 10              /* rise = 2 intervals; plenty of slack */
#define IDLE_ATTEMPTS   3

#define TARGET_BUILD_MS 1.0
#define TARGET_SWAP_MS  2.0
#define TARGET_MULTI_MS 20.0
#define TARGET_IDLE_PCT 1.0

#define IP(a, b, c, d)  (((__u32)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))
#define VIP             IP(198, 18, 2, 100)
#define REAL_BASE       IP(10, 0, 0, 1)
#define PORT_BASE       80

static char pin_dir[128];
static int ncpus;
static FILE *err_out;               /* stderr as it was: the controller's may be /dev/null */
static volatile sig_atomic_t stop;

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(err_out, "bench_ctl: ");
	va_start(ap, fmt);
	vfprintf(err_out, fmt, ap);
	va_end(ap);
	fputc('\n', err_out);
	fflush(err_out);
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * SEC_NS + ts.tv_nsec;
}

static __u64 thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * SEC_NS + ts.tv_nsec;
}

static void sleep_until(__u64 t)
{
	struct timespec ts = { .tv_sec = t / SEC_NS, .tv_nsec = t % SEC_NS };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !stop)
		;
}

static void remove_pins(void)
{
	DIR *d = opendir(pin_dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	if (rmdir(pin_dir))
		fail("cannot remove %s: %s", pin_dir, strerror(errno));
}

/* ---- a fleet: services, backends, their heartbeats ---------------------- */

struct fleet {
	struct ctl c;
	bool open;
	__u32 nsvc, per_svc, nreal;
	bool shared;            /* backend 0 of every service is real 0 */
	__u32 *svc_id;          /* [nsvc] */
	__u32 *real_id;         /* [nreal]: index into hblb_hb */
	__u64 *count;           /* [nreal]: heartbeats sent */
	bool *silent;           /* [nreal]: not beating */
	__u64 now;              /* fake clock */
	int hb_fd, be_fd;
};

static __u32 real_of(const struct fleet *f, __u32 s, __u32 j)
{
	if (f->shared)
		return j == 0 ? 0 : 1 + s * (f->per_svc - 1) + j - 1;
	return s * f->per_svc + j;
}

static __be32 real_addr(__u32 r)
{
	return htonl(REAL_BASE + r);
}

static struct hblb_service_key svc_key(__u32 s)
{
	return (struct hblb_service_key){ .vip = htonl(VIP), .port = htons(PORT_BASE + s),
					  .proto = IPPROTO_TCP };
}

/* What the XDP program keeps after `count` heartbeats; busy > 0 ends the
 * soft start at once, so every weight is 100 from the first beat on. */
static int hb_write(const struct fleet *f, __u32 r, __u64 count, __u64 at)
{
	struct hblb_hb_record recs[ncpus];

	memset(recs, 0, sizeof(recs));
	recs[0].count = count;
	recs[0].last_ns = at;
	recs[0].ready = 100;
	recs[0].busy = 1;
	return bpf_map_update_elem(f->hb_fd, &f->real_id[r], recs, BPF_ANY) ? -errno : 0;
}

static void fleet_close(struct fleet *f)
{
	if (f->open)
		ctl_close(&f->c);
	f->open = false;
	free(f->svc_id);
	free(f->real_id);
	free(f->count);
	free(f->silent);
	remove_pins();
}

/* A controller on fresh pins with nsvc services of per_svc heartbeat
 * backends, configured as the CLI would; every backend DOWN until it beats. */
static int fleet_open(struct fleet *f, __u32 nsvc, __u32 per_svc, bool shared,
		      const struct health_params *hp, __u64 now)
{
	struct hblb_load_opts lo = {
		.pin_dir = pin_dir, .table_size = TABLE_SIZE, .max_services = MAX_SERVICES,
		.flow_buckets = FLOW_BUCKETS,
	};
	struct ctl_opts o = { .health = *hp, .no_checks = true };
	__u32 zero = 0, used = 0;
	__u64 gen = 1;
	int svc_fd, cfg_fd, err;

	memset(f, 0, sizeof(*f));
	f->nsvc = nsvc;
	f->per_svc = per_svc;
	f->shared = shared;
	f->nreal = shared ? 1 + nsvc * (per_svc - 1) : nsvc * per_svc;
	f->now = now;
	f->svc_id = calloc(nsvc, sizeof(*f->svc_id));
	f->real_id = calloc(f->nreal, sizeof(*f->real_id));
	f->count = calloc(f->nreal, sizeof(*f->count));
	f->silent = calloc(f->nreal, sizeof(*f->silent));
	if (!f->svc_id || !f->real_id || !f->count || !f->silent) {
		fail("out of memory");
		return -ENOMEM;
	}
	remove_pins();          /* a fleet adopts nothing from the last one */
	err = ctl_open(&f->c, &lo, &o, now);
	if (err) {
		fail("ctl_open: %s (run with -v for the controller's log)", strerror(-err));
		return err;
	}
	f->open = true;
	f->hb_fd = bpf_map__fd(f->c.h.skel->maps.hblb_hb);
	f->be_fd = bpf_map__fd(f->c.h.skel->maps.hblb_backends);
	svc_fd = bpf_map__fd(f->c.h.skel->maps.hblb_cfg_svcs);
	cfg_fd = bpf_map__fd(f->c.h.skel->maps.hblb_cfg_bes);

	/* as the CLI does: desired state, then one generation bump */
	for (__u32 s = 0; s < nsvc; s++) {
		struct hblb_service_key k = svc_key(s);
		struct hblb_cfg_service v = { 0 };

		if (bpf_map_update_elem(svc_fd, &k, &v, BPF_ANY)) {
			err = -errno;
			fail("hblb_cfg_svcs: %s", strerror(-err));
			return err;
		}
		for (__u32 j = 0; j < per_svc; j++) {
			__u32 r = real_of(f, s, j);
			struct hblb_cfg_backend_key bk = { .service = k, .addr = real_addr(r) };
			/* a given MAC: no neighbour table reads in the ticks */
			struct hblb_cfg_backend bv = {
				.flags = HBLB_BECFG_HEARTBEAT | HBLB_BECFG_MAC,
				.mac = { 0x02, 0xbe, 0, r >> 16, r >> 8, r },
			};

			if (bpf_map_update_elem(cfg_fd, &bk, &bv, BPF_ANY)) {
				err = -errno;
				fail("hblb_cfg_bes: %s", strerror(-err));
				return err;
			}
		}
	}
	if (bpf_map_update_elem(bpf_map__fd(f->c.h.skel->maps.hblb_cfg_gen), &zero, &gen, BPF_ANY)) {
		err = -errno;
		fail("hblb_cfg_gen: %s", strerror(-err));
		return err;
	}
	ctl_tick(&f->c, now, false);

	for (__u32 id = 0; id < HBLB_MAX_BACKENDS; id++)
		used += f->c.bes[id].used;
	if (used != nsvc * per_svc) {
		fail("the controller took %u of %u backends", used, nsvc * per_svc);
		return -EPROTO;
	}
	for (__u32 s = 0; s < nsvc; s++) {
		struct hblb_service_key k = svc_key(s);
		struct hblb_service v;

		if (bpf_map_lookup_elem(bpf_map__fd(f->c.h.skel->maps.hblb_services), &k, &v)) {
			fail("service %u is not in hblb_services", s);
			return -EPROTO;
		}
		f->svc_id[s] = v.id;
	}
	for (__u32 r = 0; r < f->nreal; r++) {
		__be32 a = real_addr(r);
		struct hblb_real v;

		if (bpf_map_lookup_elem(bpf_map__fd(f->c.h.skel->maps.hblb_reals), &a, &v)) {
			fail("real %u is not in hblb_reals", r);
			return -EPROTO;
		}
		f->real_id[r] = v.id;
	}
	return 0;
}

/* Fake clock: `dt` later every beating real beats, then a tick. */
static int fleet_step(struct fleet *f, __u64 dt)
{
	int err;

	f->now += dt;
	for (__u32 r = 0; r < f->nreal; r++) {
		if (f->silent[r])
			continue;
		err = hb_write(f, r, ++f->count[r], f->now);
		if (err) {
			fail("hblb_hb: %s", strerror(-err));
			return err;
		}
	}
	return ctl_tick(&f->c, f->now, false);
}

/* Backends whose record in hblb_backends (what the data path reads) is not UP. */
static __u32 fleet_not_up(const struct fleet *f)
{
	__u32 n = 0, seen = 0;

	for (__u32 id = 0; id < HBLB_MAX_BACKENDS; id++) {
		struct hblb_backend rec;

		if (!f->c.bes[id].used)
			continue;
		seen++;
		if (bpf_map_lookup_elem(f->be_fd, &id, &rec) || rec.state != HBLB_BE_UP)
			n++;
	}
	return n + (f->nsvc * f->per_svc - seen);
}

static bool table_has(const struct fleet *f, __u32 svc_id, __u16 id)
{
	const __u16 *t = hblb_table_active(&f->c.h, svc_id);

	for (__u32 i = 0; i < TABLE_SIZE; i++)
		if (t[i] == id)
			return true;
	return false;
}

/* The set rebuild_service builds a table from: backends of svc_id now UP. */
static __u32 service_set(const struct ctl *c, __u32 svc_id, struct maglev_backend *mb)
{
	__u32 n = 0;

	for (__u32 id = 0; id < HBLB_MAX_BACKENDS; id++) {
		const struct ctl_backend *be = &c->bes[id];

		if (be->used && be->svc_id == svc_id && be->dp_state == HBLB_BE_UP) {
			mb[n].key = ((__u64)ntohl(be->key.addr) << 16) | ntohs(be->key.service.port);
			mb[n].weight = be->weight;
			mb[n].id = id;
			n++;
		}
	}
	return n;
}

/* ---- 1 and 2: the tick that takes a dead backend out ---------------------- */

struct samples {
	double v[MAX_RUNS];     /* ms */
	int n;
};

struct kill_bench {
	struct samples tick;        /* the whole ctl_tick, wall time */
	struct samples tick_cpu;    /* the same, the thread's CPU time */
	struct samples in_tick;     /* its stats.last_install_ns: builds + installs */
	struct samples build;       /* maglev_build alone, summed over the services */
	struct samples swap;        /* hblb_table_install alone, summed */
	struct samples exact_ticks; /* ticks until every patched table was rebuilt exactly */
	__u32 set_n;                /* backends in a rebuilt table */
	/* workspace for the "alone" timings */
	struct maglev_ws ws;
	struct maglev_backend *mb;
	__u16 *table;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(const struct samples *s)
{
	double v[MAX_RUNS];

	memcpy(v, s->v, s->n * sizeof(v[0]));
	qsort(v, s->n, sizeof(v[0]), cmp_double);
	return s->n % 2 ? v[s->n / 2] : (v[s->n / 2 - 1] + v[s->n / 2]) / 2.0;
}

static double smin(const struct samples *s)
{
	double m = s->v[0];

	for (int i = 1; i < s->n; i++)
		m = s->v[i] < m ? s->v[i] : m;
	return m;
}

static double smax(const struct samples *s)
{
	double m = s->v[0];

	for (int i = 1; i < s->n; i++)
		m = s->v[i] > m ? s->v[i] : m;
	return m;
}

/*
 * Silences real `victim` (which beat at f->now, as every real did), steps
 * the others on to just before its deadline, then times the tick at the
 * deadline (dead_after = 3 intervals of 1 s) and checks it took the victim
 * out of every table; then times, alone, maglev_build of each affected
 * service's new set and hblb_table_install of the result. The victim then
 * beats again and rises (rise = 2).
 */
static int kill_run(struct fleet *f, __u32 victim, struct kill_bench *kb, bool record)
{
	struct ctl *c = &f->c;
	__u64 last = f->now, installs, changes, t0, t1, c0, c1, build_ns = 0, swap_ns = 0, in_tick_ns;
	__u32 nvict = 0, bad;
	__u16 vids[MAX_SERVICES];
	__u32 vsvc[MAX_SERVICES];
	int err;

	for (__u32 id = 0; id < HBLB_MAX_BACKENDS && nvict < MAX_SERVICES; id++) {
		if (c->bes[id].used && c->bes[id].real_id == f->real_id[victim]) {
			vids[nvict] = id;
			vsvc[nvict++] = c->bes[id].svc_id;
		}
	}
	if (nvict == 0) {
		fail("real %u has no backend", victim);
		return -EPROTO;
	}
	f->silent[victim] = true;
	err = fleet_step(f, SEC_NS);
	if (!err)
		err = fleet_step(f, SEC_NS);
	if (err)
		return err;
	f->now = last + 3 * SEC_NS - MS_NS;
	ctl_tick(c, f->now, false);
	bad = fleet_not_up(f);
	if (bad) {
		fail("%u backends not UP before the timed tick", bad);
		return -EPROTO;
	}
	for (__u32 i = 0; i < nvict; i++) {
		if (!table_has(f, vsvc[i], vids[i])) {
			fail("backend %u is in no table before the timed tick", vids[i]);
			return -EPROTO;
		}
	}

	installs = c->stats.installs;
	changes = c->stats.state_changes;
	f->now = last + 3 * SEC_NS;
	t0 = mono_ns();
	c0 = thread_cpu_ns();
	err = ctl_tick(c, f->now, false);
	c1 = thread_cpu_ns();
	t1 = mono_ns();
	in_tick_ns = c->stats.last_install_ns;  /* later ticks overwrite it */
	if (err) {
		fail("ctl_tick: %s", strerror(-err));
		return err;
	}
	if (c->stats.installs - installs != nvict || c->stats.state_changes - changes != nvict) {
		fail("the timed tick made %llu installs and %llu state changes, not %u of each",
		     (unsigned long long)(c->stats.installs - installs),
		     (unsigned long long)(c->stats.state_changes - changes), nvict);
		return -EPROTO;
	}
	for (__u32 i = 0; i < nvict; i++) {
		struct hblb_backend rec;
		__u32 key = vids[i];

		if (bpf_map_lookup_elem(f->be_fd, &key, &rec) || rec.state != HBLB_BE_DOWN) {
			fail("backend %u is not DOWN after the timed tick", vids[i]);
			return -EPROTO;
		}
		if (table_has(f, vsvc[i], vids[i]) || table_has(f, vsvc[i], HBLB_BACKEND_NONE)) {
			fail("service %u's table still names backend %u, or has holes", vsvc[i], vids[i]);
			return -EPROTO;
		}
	}

	/* The death tick installs patched tables (the dead backend's slots
	 * handed to the others); exact Maglev tables follow in later ticks
	 * within the controller's per-tick budget. Tick on until they have. */
	for (int extra = 0; extra < 200; extra++) {
		bool pending = false;

		for (__u32 i = 0; i < nvict; i++)
			pending |= c->svcs[vsvc[i]].exact_pending;
		if (!pending) {
			if (record)
				kb->exact_ticks.v[kb->exact_ticks.n++] = extra;
			break;
		}
		f->now += 10 * MS_NS;
		ctl_tick(c, f->now, false);
	}

	/* alone, on the sets that tick built from; equal tables prove it */
	for (__u32 i = 0; i < nvict; i++) {
		__u32 n = service_set(c, vsvc[i], kb->mb);
		__u64 a, b;

		/* CPU time: the cost of the work, not the machine's other load */
		a = thread_cpu_ns();
		err = maglev_build(kb->mb, n, TABLE_SIZE, kb->table, &kb->ws);
		b = thread_cpu_ns();
		if (err) {
			fail("maglev_build: %s", strerror(-err));
			return err;
		}
		build_ns += b - a;
		if (memcmp(kb->table, hblb_table_active(&c->h, vsvc[i]), TABLE_SIZE * sizeof(__u16))) {
			fail("service %u: maglev_build of its set differs from its table", vsvc[i]);
			return -EPROTO;
		}
		/* same entries, so the data path sees no change */
		a = thread_cpu_ns();
		err = hblb_table_install(&c->h, vsvc[i], kb->table);
		b = thread_cpu_ns();
		if (err) {
			fail("hblb_table_install: %s", strerror(-err));
			return err;
		}
		swap_ns += b - a;
		kb->set_n = n;
	}
	if (record) {
		kb->tick.v[kb->tick.n++] = (t1 - t0) / 1e6;
		kb->tick_cpu.v[kb->tick_cpu.n++] = (c1 - c0) / 1e6;
		kb->in_tick.v[kb->in_tick.n++] = in_tick_ns / 1e6;
		kb->build.v[kb->build.n++] = build_ns / 1e6;
		kb->swap.v[kb->swap.n++] = swap_ns / 1e6;
	}

	f->silent[victim] = false;
	err = fleet_step(f, SEC_NS);
	return err ? err : fleet_step(f, SEC_NS);
}

/* Runs 0 (warm-up, not recorded) to `runs`; victim(r) picks the real. */
static int kill_bench(struct fleet *f, int runs, __u32 (*victim)(const struct fleet *, int),
		      struct kill_bench *kb)
{
	__u32 bad;
	int err;

	/* every real beats: up after rise = 2 */
	for (int i = 0; i < 3; i++) {
		err = fleet_step(f, SEC_NS);
		if (err)
			return err;
	}
	bad = fleet_not_up(f);
	if (bad) {
		fail("%u of %u backends did not come UP", bad, f->nsvc * f->per_svc);
		return -EPROTO;
	}
	for (int r = 0; r <= runs && !stop; r++) {
		err = kill_run(f, victim(f, r), kb, r > 0);
		if (err)
			return err;
	}
	return stop ? -EINTR : 0;
}

static __u32 victim_spread(const struct fleet *f, int r)
{
	return (r * 97u + 13) % f->nreal;      /* a new one each run: no flapping */
}

static __u32 victim_shared(const struct fleet *f, int r)
{
	(void)f;
	(void)r;
	return 0;
}

/* ---- 3: idle CPU ------------------------------------------------------------ */

struct writer {
	struct fleet *f;
	__u64 start;
	atomic_bool stop;
	atomic_uint_fast64_t writes;
	int err;
};

/* Real r beats at start + r/N s + k s: one write every 1/N s. */
static void *hb_writer(void *arg)
{
	struct writer *w = arg;
	struct fleet *f = w->f;
	__u64 slot = SEC_NS / f->nreal;

	for (__u64 k = 0; !atomic_load(&w->stop) && !stop; k++) {
		__u32 r = k % f->nreal;
		int err;

		sleep_until(w->start + k * slot);
		err = hb_write(f, r, ++f->count[r], mono_ns());
		if (err) {
			w->err = err;
			break;
		}
		atomic_fetch_add(&w->writes, 1);
	}
	return NULL;
}

struct idle_result {
	struct samples pct;         /* per window: CPU time / wall time, % */
	double pct_all;             /* over all windows */
	double tick_us;             /* controller CPU per tick */
	double rise_s;              /* until all were UP */
	double beats_per_s;
	__u64 ticks;
};

/* Ticks every IDLE_TICK_NS (as the daemon's timerfd) until `until`. */
static __u64 tick_until(struct fleet *f, __u64 *next, __u64 until)
{
	__u64 ticks = 0;

	while (*next < until && !stop) {
		sleep_until(*next);
		ctl_tick(&f->c, mono_ns(), false);
		ticks++;
		*next += IDLE_TICK_NS;
	}
	return ticks;
}

/* Ticks until every backend is UP; false if they are not after each real
 * has been sent IDLE_RISE_BEATS heartbeats. Bounded by the heartbeats sent,
 * not by time: on a loaded machine the writer thread runs late. */
static bool idle_wait_up(struct fleet *f, struct writer *w, __u64 *next)
{
	__u64 goal = atomic_load(&w->writes) + (__u64)IDLE_RISE_BEATS * f->nreal;

	for (;;) {
		__u32 bad = 0;

		tick_until(f, next, *next + IDLE_TICK_NS);
		for (__u32 id = 0; id < HBLB_MAX_BACKENDS; id++)
			bad += f->c.bes[id].used && f->c.bes[id].dp_state != HBLB_BE_UP;
		if (!bad)
			return fleet_not_up(f) == 0;
		if (stop || w->err || atomic_load(&w->writes) >= goal)
			return false;
	}
}

static int idle_bench(double seconds, struct idle_result *res)
{
	struct health_params hp;
	struct writer w = { 0 };
	struct fleet f;
	pthread_t th;
	__u64 start, next, t, installs, changes, writes0, window;
	__u64 cpu0, wall0, cpu_start, wall_start;
	int err, attempt;

	health_params_default(&hp);
	err = fleet_open(&f, 1, IDLE_N, false, &hp, mono_ns());
	if (err)
		goto out;
	w.f = &f;
	w.start = start = mono_ns();
	err = pthread_create(&th, NULL, hb_writer, &w);
	if (err) {
		fail("pthread_create: %s", strerror(err));
		err = -err;
		goto out;
	}

	next = start;
	/* A window counts only in a steady state: all UP throughout, no state
	 * change, no install. On a loaded machine late heartbeats can take a
	 * backend down; then wait until all are UP again and measure again. */
	for (attempt = 0; attempt < IDLE_ATTEMPTS; attempt++) {
		if (!idle_wait_up(&f, &w, &next)) {
			err = stop ? -EINTR : -EPROTO;
			if (!stop)
				fail("%u of %u backends not UP after %u heartbeats each%s",
				     fleet_not_up(&f), IDLE_N, IDLE_RISE_BEATS,
				     w.err ? " (heartbeat writes failed)" : "");
			goto join;
		}
		if (attempt == 0)
			res->rise_s = (next - start) / 1e9;
		/* a beat for each, so none is new to the window */
		tick_until(&f, &next, next + SEC_NS);

		installs = f.c.stats.installs;
		changes = f.c.stats.state_changes;
		writes0 = atomic_load(&w.writes);
		window = (__u64)(seconds * 1e9) / IDLE_WINDOWS;
		res->ticks = 0;
		res->pct.n = 0;
		t = next;
		cpu_start = cpu0 = thread_cpu_ns();
		wall_start = wall0 = mono_ns();
		for (int i = 0; i < IDLE_WINDOWS; i++) {
			__u64 c1, w1;

			res->ticks += tick_until(&f, &next, t + (i + 1) * window);
			c1 = thread_cpu_ns();
			w1 = mono_ns();
			res->pct.v[res->pct.n++] = 100.0 * (c1 - cpu0) / (w1 - wall0);
			cpu0 = c1;
			wall0 = w1;
		}
		res->pct_all = 100.0 * (cpu0 - cpu_start) / (wall0 - wall_start);
		res->tick_us = res->ticks ? (cpu0 - cpu_start) / 1e3 / res->ticks : 0;
		res->beats_per_s = (atomic_load(&w.writes) - writes0) * 1e9 / (wall0 - wall_start);
		if (stop) {
			err = -EINTR;
			goto join;
		}
		if (w.err) {
			fail("heartbeat writes failed: %s", strerror(-w.err));
			err = w.err;
			goto join;
		}
		if (!fleet_not_up(&f) && f.c.stats.state_changes == changes &&
		    f.c.stats.installs == installs)
			break;
		fprintf(err_out, "bench_ctl: idle: not a steady state (%u backends not UP, %llu "
			"state changes, %llu installs): heartbeats late on a loaded machine? "
			"measuring again\n", fleet_not_up(&f),
			(unsigned long long)(f.c.stats.state_changes - changes),
			(unsigned long long)(f.c.stats.installs - installs));
	}
	if (attempt == IDLE_ATTEMPTS) {
		fail("idle: no steady state in %d attempts", IDLE_ATTEMPTS);
		err = -EPROTO;
	}
join:
	atomic_store(&w.stop, true);
	pthread_join(th, NULL);
out:
	fleet_close(&f);
	return err;
}

/* ---- report -------------------------------------------------------------------- */

struct report {
	int runs;
	double idle_s;
	struct kill_bench *one, *multi;
	struct idle_result *idle;
};

/* {"controller": {...}}: medians, ms unless the key says otherwise */
static int write_json(const char *path, const struct report *r)
{
	struct bench_json j;
	int err;

	err = bench_json_open(&j, path, "controller");
	if (err)
		return err;
	bench_json_num(&j, r->runs, "runs");
	bench_json_num(&j, median(&r->one->build), "build_ms_n1000_m65537");
	bench_json_num(&j, median(&r->one->swap), "swap_ms_n1000_m65537");
	bench_json_num(&j, median(&r->one->tick), "tick_ms_n1000_m65537");
	bench_json_num(&j, median(&r->one->in_tick), "tick_build_install_ms_n1000_m65537");
	bench_json_num(&j, median(&r->one->tick_cpu), "tick_cpu_ms_n1000_m65537");
	bench_json_num(&j, median(&r->multi->tick), "tick_ms_100_services");
	bench_json_num(&j, median(&r->multi->tick_cpu), "tick_cpu_ms_100_services");
	bench_json_num(&j, smax(&r->multi->tick), "tick_max_ms_100_services");
	bench_json_num(&j, median(&r->multi->in_tick), "tick_build_install_ms_100_services");
	bench_json_num(&j, median(&r->multi->build), "build_ms_100_services");
	bench_json_num(&j, median(&r->multi->swap), "install_ms_100_services");
	bench_json_num(&j, median(&r->multi->exact_ticks), "exact_after_ticks_100_services");
	bench_json_num(&j, r->idle_s, "idle_seconds");
	bench_json_num(&j, r->idle->tick_us, "idle_tick_us_1000_backends");
	bench_json_num(&j, median(&r->idle->pct), "idle_cpu_percent_1000_backends");
	return bench_json_close(&j);
}

static void row(const char *name, const struct samples *s, double target, const char *unit)
{
	char t[32] = "-";
	double m = median(s);

	if (target > 0)
		snprintf(t, sizeof(t), "<= %g %s %s", target, unit, m <= target ? "PASS" : "MISS");
	printf("  %-44s %9.3f %9.3f %9.3f  %s\n", name, m, smin(s), smax(s), t);
}

static void print_table(const struct report *r)
{
	const struct idle_result *id = r->idle;
	char name[64];

	printf("\nctl_tick on real maps, %d runs (ms: ticks wall time, \"alone\" and \"CPU\" CPU time)\n", r->runs);
	printf("  %-44s %9s %9s %9s  %s\n", "", "median", "min", "max", "target");
	printf("1 service, %u backends, M=%u; one backend's heartbeats stop:\n", ONE_N, TABLE_SIZE);
	snprintf(name, sizeof(name), "maglev_build alone (%u backends)", r->one->set_n);
	row(name, &r->one->build, TARGET_BUILD_MS, "ms");
	row("hblb_table_install alone (write + flip)", &r->one->swap, TARGET_SWAP_MS, "ms");
	row("ctl_tick that takes it out", &r->one->tick, 0, "");
	row("  its CPU time", &r->one->tick_cpu, 0, "");
	row("  of which build + install (last_install_ns)", &r->one->in_tick, 0, "");
	printf("%u services x %u backends, one real in all of them stops:\n", MULTI_SVCS,
	       MULTI_PER_SVC);
	row("ctl_tick that takes it out of all tables", &r->multi->tick, 0, "");
	row("  its CPU time", &r->multi->tick_cpu, TARGET_MULTI_MS, "ms");
	row("  of which builds + installs (last_install_ns)", &r->multi->in_tick, 0, "");
	row("  later 10 ms ticks until every table is exact", &r->multi->exact_ticks, 0, "");
	snprintf(name, sizeof(name), "%u maglev_builds alone (%u backends each)", MULTI_SVCS,
		 r->multi->set_n);
	row(name, &r->multi->build, 0, "");
	snprintf(name, sizeof(name), "%u hblb_table_installs alone", MULTI_SVCS);
	row(name, &r->multi->swap, 0, "");
	printf("idle: %u backends beating at 1 Hz (%.0f/s seen), tick every %llu ms, %.1f s:\n",
	       IDLE_N, id->beats_per_s, IDLE_TICK_NS / MS_NS, r->idle_s);
	printf("  %-44s %9.3f %9.3f %9.3f  < %g %% %s\n", "controller thread CPU, % of a core",
	       median(&id->pct), smin(&id->pct), smax(&id->pct), TARGET_IDLE_PCT,
	       median(&id->pct) < TARGET_IDLE_PCT ? "PASS" : "MISS");
	printf("  (median of %d windows; overall %.3f %%; %.1f us CPU per tick over %llu ticks;\n"
	       "   all UP %.1f s after the first heartbeat)\n", IDLE_WINDOWS, id->pct_all, id->tick_us,
	       (unsigned long long)id->ticks, id->rise_s);
}

/* ---- main ------------------------------------------------------------------ */

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: bench_ctl [--runs N] [--quick] [--json FILE] [-v]\n"
		   "  --runs N     timed runs of cases 1 and 2 (default 11, --quick 5; 5 to %d)\n"
		   "  --quick      5 runs, 3 s of idle measurement instead of 10 s\n"
		   "  --json FILE  write {\"controller\": {...}} there (e.g. build/bench/controller.json)\n"
		   "  -v           the controller's log and libbpf's messages on stderr\n", MAX_RUNS);
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
	struct sigaction sa = { .sa_handler = on_signal };
	static struct kill_bench one, multi;
	struct idle_result idle = { 0 };
	struct report rep = { .one = &one, .multi = &multi, .idle = &idle };
	struct health_params hp;
	const char *json = NULL;
	bool quick = false;
	int opt, verbose = 0, runs = 0, err = 0, saved_err;
	struct fleet f;
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
			quick = true;
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
		runs = quick ? 5 : 11;
	rep.runs = runs;
	rep.idle_s = quick ? 3.0 : 10.0;
	if (geteuid() != 0) {
		fprintf(stderr, "bench_ctl needs root\n");
		return EXIT_FAILURE;
	}
	log_init(verbose);
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0) {
		fprintf(stderr, "cannot count the possible CPUs\n");
		return EXIT_FAILURE;
	}
	saved_err = dup(STDERR_FILENO);
	err_out = saved_err >= 0 ? fdopen(saved_err, "w") : NULL;
	if (!err_out)
		err_out = stderr;
	if (!verbose) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (null >= 0) {
			dup2(null, STDERR_FILENO);
			close(null);
		}
	}
	/* stop between steps, so the pins are always removed */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/hblb-bench-ctl-%d", getpid());

	for (int i = 0; i < 2; i++) {
		struct kill_bench *kb = i ? &multi : &one;

		err = maglev_ws_init(&kb->ws, HBLB_MAX_BACKENDS, TABLE_SIZE);
		kb->mb = calloc(HBLB_MAX_BACKENDS, sizeof(*kb->mb));
		kb->table = calloc(TABLE_SIZE, sizeof(*kb->table));
		if (err || !kb->mb || !kb->table) {
			fail("out of memory");
			err = -ENOMEM;
			goto out;
		}
	}

	/* fake clock; flap control off, as case 2 kills the same real every run */
	health_params_default(&hp);
	hp.flap_max = 0;
	printf("1: 1 service x %u backends ...\n", ONE_N);
	fflush(stdout);
	err = fleet_open(&f, 1, ONE_N, false, &hp, FAKE_T0);
	if (!err)
		err = kill_bench(&f, runs, victim_spread, &one);
	fleet_close(&f);
	if (err)
		goto out;

	printf("2: %u services x %u backends, one shared ...\n", MULTI_SVCS, MULTI_PER_SVC);
	fflush(stdout);
	err = fleet_open(&f, MULTI_SVCS, MULTI_PER_SVC, true, &hp, FAKE_T0);
	if (!err)
		err = kill_bench(&f, runs, victim_shared, &multi);
	fleet_close(&f);
	if (err)
		goto out;

	printf("3: idle, %u backends at 1 Hz for %.0f s ...\n", IDLE_N, rep.idle_s);
	fflush(stdout);
	err = idle_bench(rep.idle_s, &idle);
	if (err)
		goto out;

	print_table(&rep);
	if (json)
		err = write_json(json, &rep);
out:
	if (err == -EINTR)
		fail("interrupted");
	for (int i = 0; i < 2; i++) {
		struct kill_bench *kb = i ? &multi : &one;

		maglev_ws_free(&kb->ws);
		free(kb->mb);
		free(kb->table);
	}
	remove_pins();
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
