/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Opening, sizing and loading the XDP program with its maps pinned under a
 * pin directory (existing pins are reused, so a reload keeps all state),
 * and the map operations the controller and the tests share. */
#ifndef HBLB_LOADER_H
#define HBLB_LOADER_H

#include <stdbool.h>
#include "hblb.h"
#include "hblb.skel.h"

struct hblb_load_opts {
	const char *pin_dir;        /* NULL: HBLB_PIN_DIR or the default */
	bool no_pin;                /* private maps, nothing pinned (tests, stats) */
	bool bench;                 /* also load the benchmark entry points */
	__u32 table_size;           /* 0: HBLB_TABLE_SIZE_DEFAULT; prime */
	__u32 max_services;         /* 0: HBLB_MAX_SERVICES */
	__u32 flow_buckets;         /* 0: HBLB_FLOW_BUCKETS_DEFAULT; power of two */
	__u32 log_level;            /* verifier log level, 0 for none */
	char *log_buf;              /* hblb_xdp's verifier log, with log_level */
	char *bench_log_buf;        /* hblb_bench_vary's, with log_level and bench */
	__u32 log_size;             /* of each log buffer */
};

struct hblb {
	struct hblb_bpf *skel;
	struct hblb_config cfg;     /* as stored in hblb_config after load */
	__u32 max_services;
	__u32 chunks_per_table;
	struct hblb_svc_gen *svc_gen;       /* mmap of hblb_svc_gen */
	struct hblb_table_chunk *tables;    /* mmap of hblb_tables */
	__u64 *vip_bits;                    /* mmap of hblb_vip_bits */
	size_t svc_gen_len, tables_len, vip_bits_len;
	char pin_dir[256];
};

const char *hblb_pin_dir(const char *flag);
bool hblb_is_prime(__u32 n);
int hblb_open(struct hblb *h, const struct hblb_load_opts *o);
void hblb_close(struct hblb *h);
int hblb_unpin(struct hblb *h);

/* Installs a complete table (table_size backend ids) for a service as its
 * new version: writes the inactive copy, then flips the generation. */
int hblb_table_install(struct hblb *h, __u32 svc_id, const __u16 *entries);
/* Marks a VIP in the data path's filter; call before adding its first
 * service (a bit set for a VIP that has none left only costs a lookup). */
void hblb_vip_mark(struct hblb *h, __be32 vip);

/* The active version of a service's table (table_size entries). */
const __u16 *hblb_table_active(const struct hblb *h, __u32 svc_id);

/* The active table's entry for a slot, as the data path would read it. */
__u16 hblb_table_entry(const struct hblb *h, __u32 svc_id, __u32 slot);

int hblb_map_fd(const struct hblb *h, const char *name);

#endif
