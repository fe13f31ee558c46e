/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ctl.h - the controller's core: turns the desired configuration (the CLI's
 * hblb_cfg_* maps), the heartbeat records and the active checks into the
 * data path's maps: services, reals, backends with their state, and whole
 * Maglev tables installed with one generation flip each.
 *
 * Driven by ctl_tick(now) so tests can run it on a fake clock; the daemon
 * (daemon.c) is a loop around it.
 */
#ifndef HBLB_CTL_H
#define HBLB_CTL_H

#include <stdbool.h>
#include "hblb.h"
#include "loader.h"
#include "health.h"
#include "maglev.h"

struct checker;

struct ctl_opts {
	struct health_params health;
	bool fail_closed;               /* every service: empty table when all are down */
	bool no_checks;                 /* tests: do not run active checks */
	bool gtsm;                      /* heartbeats must arrive with TTL 255 */
	bool pass_heartbeats;           /* XDP_PASS heartbeats after counting them */
};

struct ctl_real {
	__be32 addr;
	__u32 refs;                     /* backends using this real; 0: free */
	struct hblb_hb_record hb;       /* summed over CPUs at its last read */
	__u64 next_read;                /* when its record must be read again */
	__u64 read_tick;                /* the tick that last read it */
	__u32 key_id;                   /* as written to hblb_reals */
};

struct ctl_backend {
	bool used;
	struct hblb_cfg_backend_key key;
	struct hblb_cfg_backend cfg;
	__u32 svc_id, real_id;
	struct health health;
	struct weight_state wstate;
	__u32 weight;                   /* effective weight; 0: drained by ready=0 */
	__u8 dp_state;                  /* as written to hblb_backends */
	__u8 mac[6];
	bool have_mac;
	bool check_up;
	bool held;                      /* as last written to its record */
	__u64 freed_at;                 /* quarantine before the id is reused */
	bool pending_clear;             /* removed: clear its record after the tables */
};

struct ctl_member {
	__u32 id, weight;
};

struct ctl_service {
	bool used;
	bool dirty;                     /* table must be rebuilt */
	bool exact_pending;             /* a patched table is live: rebuild exactly soon */
	__u64 patched_tick;             /* not in the tick that patched it */
	struct ctl_member *members;     /* the usable set of the live table, by id */
	__u32 n_members;
	bool kept_last;                 /* fail-open: all down, last table kept */
	struct hblb_service_key key;
	struct hblb_cfg_service cfg;
	bool table_live;                /* the installed table names backends */
	int build_err;                  /* last table build's error, said once */
};

struct ctl_stats {
	__u64 installs;                 /* tables installed */
	__u64 last_install_ns;          /* build + install of the last tick's tables */
	__u64 patched;                  /* tables patched on a backend's death */
	__u64 hb_reads;                 /* heartbeat records read */
	__u64 state_changes;
};

struct ctl {
	struct hblb h;
	struct ctl_opts o;
	struct ctl_service *svcs;       /* [h.max_services] */
	struct ctl_backend *bes;        /* [HBLB_MAX_BACKENDS] */
	struct ctl_real *reals;         /* [HBLB_MAX_REALS] */
	__u32 reals_hi;                 /* highest real id in use + 1 */
	/* Compact views so an idle tick touches a few bytes per backend:
	 * the ids in use, and when each must be evaluated again. */
	__u32 *live;
	__u32 n_live;
	__u64 *next_eval;               /* [HBLB_MAX_BACKENDS] */
	__u32 *be_real;                 /* [HBLB_MAX_BACKENDS] real id of each */
	__u32 *be_svc;                  /* [HBLB_MAX_BACKENDS] service id of each */
	__u32 *be_usable_w;             /* [HBLB_MAX_BACKENDS] weight if it belongs in tables, else 0 */
	__u32 *to_down;                 /* scratch: ids to withdraw after the tables */
	__u32 *pending;                 /* removed ids whose records await clearing */
	__u32 n_pending;
	__u64 tick_no;
	bool *in_set;                   /* scratch: [HBLB_MAX_BACKENDS] */
	struct ctl_member *scratch_members;
	__u64 cfg_gen;
	__u64 resync_at;                /* 0, or when to read the configuration again:
					 * a backend waited for a quarantined id */
	bool cfg_seen;
	struct maglev_ws ws;
	struct maglev_backend *mb;
	__u16 *table;
	struct hblb_hb_record *hbbuf;   /* batch read of hblb_hb */
	int ncpus;
	struct checker *checker;
	/* heartbeat keys by key id: as written to hblb_keys, and as configured */
	struct hblb_key *keys, *want_keys;
	__u32 n_key_ids;
	__u32 *real_key;                /* scratch: [HBLB_MAX_REALS] */
	struct ctl_stats stats;
};

int ctl_open(struct ctl *c, const struct hblb_load_opts *lo, const struct ctl_opts *o, __u64 now);
void ctl_close(struct ctl *c);

/* One controller step at time `now` (CLOCK_MONOTONIC ns): rereads the
 * configuration if its generation moved (or `force`), reads heartbeat
 * records, evaluates every backend and installs the tables that changed. */
int ctl_tick(struct ctl *c, __u64 now, bool force_config);

/* The earliest time a backend may change state without new input. */
__u64 ctl_next_deadline(const struct ctl *c);

/* The checker's epoll fd, or -1 without active checks. */
int ctl_check_fd(const struct ctl *c);

const char *ctl_state_name(__u8 dp_state);

#endif
