/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * cli.h - what the CLI commands share: global options, the pinned maps
 * opened by path (no program is loaded), the lock that serialises writers
 * of the configuration, argument parsers, and a JSON writer for -j/-p.
 */
#ifndef HBLB_CLI_H
#define HBLB_CLI_H

#include <stdbool.h>
#include <stdio.h>
#include "hblb.h"

struct global_opts {
	const char *pin_dir;
	int verbose;
	bool json;
	bool pretty;
};

/* Pinned maps by name; fds are -1 when absent. */
struct pins {
	char dir[256];
	int cfg_svcs, cfg_bes, cfg_gen, cfg_keys;
	int services, backends, reals, hb, stats, svc_stats, be_stats, config, svc_gen;
	int lock_fd;            /* the configuration lock, when held */
	bool borrowed;          /* the batch's pins: closing, locking, bumping are the batch's */
};

/* Opens the pins under the pin directory. Fails with a message saying
 * what to do when bpffs or the pins are missing. */
int pins_open(struct pins *p, const struct global_opts *g);
void pins_close(struct pins *p);
/* Serialises configuration writers (other CLI processes); held until
 * pins_close. */
int pins_lock(struct pins *p);
/* pins_open, then pins_lock: what every configuration change starts with.
 * On failure nothing is left open. */
int pins_open_locked(struct pins *p, const struct global_opts *g);
/* Tells the daemon the configuration changed. */
int pins_bump(struct pins *p);
/* hblb batch: between batch_begin and batch_end every command gets the
 * batch's open, locked pins; its changes are told to the daemon with one
 * generation bump at the end, or undone together (the configuration maps
 * restored as they were) if the batch fails. */
int batch_begin(const struct global_opts *g);
int batch_end(bool commit);

/* Whether a daemon holds the pin directory. */
bool daemon_running(const struct pins *p);

/* "198.18.0.1:80[/tcp|/udp]"; port 1-65535, tcp by default. */
int parse_service(const char *s, struct hblb_service_key *k);
int parse_ipv4(const char *s, __be32 *addr);
int parse_mac(const char *s, __u8 *mac);
int parse_uint(const char *s, const char *what, __u32 min, __u32 max, __u32 *out);
const char *service_str(const struct hblb_service_key *k, char *buf, size_t len);
const char *ipv4_str(__be32 addr, char *buf, size_t len);

/* JSON writer: one document on stdout, compact or pretty. */
struct json {
	FILE *f;
	bool pretty;
	int depth;
	bool first[32];
};

void json_begin(struct json *j, bool pretty);
void json_end(struct json *j);
void json_obj_open(struct json *j, const char *key);     /* key NULL inside arrays / at top */
void json_obj_close(struct json *j);
void json_arr_open(struct json *j, const char *key);
void json_arr_close(struct json *j);
void json_str(struct json *j, const char *key, const char *val);
void json_u64(struct json *j, const char *key, unsigned long long val);
void json_bool(struct json *j, const char *key, bool val);

/* hblb_backends read whole: recs[id] for every id (*n entries); free() it */
int read_dp_backends(int fd, struct hblb_backend **recs, __u32 *n);

/* Orders of services (VIP, port, proto) and of backends (service, then
 * address), numerically: how listings sort. */
int svc_key_cmp(const struct hblb_service_key *a, const struct hblb_service_key *b);
int be_key_cmp(const void *a, const void *b);

/* Which hblb_backends record serves each configured backend: rows holds
 * n_rows entries of `stride` bytes, each beginning with its struct
 * hblb_cfg_backend_key, sorted by be_key_cmp; ids[i] gets the record's id,
 * or HBLB_BACKEND_NONE. */
void match_dp_backends(const struct hblb_backend *recs, __u32 n, const void *rows, size_t n_rows,
		       size_t stride, __u32 *ids);

#endif
