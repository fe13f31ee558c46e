/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * hblb.h - everything that crosses the kernel/user boundary: map names,
 * sizes, key and value layouts, verdict reasons and the flow hash.
 * Included by the XDP program, the user-space tools and the tests alike;
 * no struct here may be defined a second time anywhere else.
 *
 * Writers (one per map):
 *   CLI          : hblb_cfg_svcs, hblb_cfg_bes, hblb_cfg_keys, hblb_cfg_gen
 *                  (desired state, under a lock on the pin directory)
 *   XDP program  : hblb_hb, hblb_hb_seq, hblb_flows, hblb_stats,
 *                  hblb_svc_stats, hblb_be_stats
 *   controller   : hblb_config, hblb_ifaces, hblb_vip_bits, hblb_services,
 *                  hblb_reals, hblb_keys, hblb_backends, hblb_svc_gen,
 *                  hblb_tables
 * (The controller zeroes a real's hblb_hb and hblb_hb_seq entries when it
 * gives the real id to a new address, before the address is in hblb_reals:
 * no packet can reach them then.)
 */
#ifndef HBLB_H
#define HBLB_H

#include <linux/types.h>

/* ---- Map names (pinned as <pin-dir>/<name>) --------------------------- */
#define HBLB_MAP_CONFIG     "hblb_config"
#define HBLB_MAP_IFACES     "hblb_ifaces"
#define HBLB_MAP_VIP_BITS   "hblb_vip_bits"
#define HBLB_MAP_SERVICES   "hblb_services"
#define HBLB_MAP_REALS      "hblb_reals"
#define HBLB_MAP_HB         "hblb_hb"
#define HBLB_MAP_HB_SEQ     "hblb_hb_seq"
#define HBLB_MAP_KEYS       "hblb_keys"
#define HBLB_MAP_BACKENDS   "hblb_backends"
#define HBLB_MAP_SVC_GEN    "hblb_svc_gen"
#define HBLB_MAP_TABLES     "hblb_tables"
#define HBLB_MAP_FLOWS      "hblb_flows"
#define HBLB_MAP_STATS      "hblb_stats"
#define HBLB_MAP_SVC_STATS  "hblb_svc_stats"
#define HBLB_MAP_BE_STATS   "hblb_be_stats"

#define HBLB_MAP_CFG_SVCS   "hblb_cfg_svcs"
#define HBLB_MAP_CFG_BES    "hblb_cfg_bes"
#define HBLB_MAP_CFG_GEN    "hblb_cfg_gen"
#define HBLB_MAP_CFG_KEYS   "hblb_cfg_keys"

#define HBLB_PIN_DIR_DEFAULT "/sys/fs/bpf/hblb"

/* ---- Sizes --------------------------------------------------------------
 * Compile-time maxima; the loader may shrink the load-time ones
 * (table size, services, flow buckets) before load. */
#ifndef HBLB_MAX_SERVICES
#define HBLB_MAX_SERVICES      64       /* default services at load */
#endif
#ifndef HBLB_MAX_REALS
#define HBLB_MAX_REALS         16384    /* distinct backend hosts (heartbeat sources) */
#endif
#ifndef HBLB_MAX_BACKENDS
#define HBLB_MAX_BACKENDS      16384    /* (service, real) pairs; must fit in __u16 */
#endif
#ifndef HBLB_MAX_IFINDEX
#define HBLB_MAX_IFINDEX       4096     /* interfaces with ifindex >= this are refused */
#endif
#define HBLB_TABLE_SIZE_DEFAULT 65537   /* Maglev M: prime */
#define HBLB_TABLE_CHUNK       16       /* table entries per map element (one cache line) */
#define HBLB_FLOW_WAYS         4        /* entries per flow bucket (one cache line) */
/* x4 ways = 2,097,152 entries (32 MiB): room for a million flows with
 * little eviction (at one entry per flow, 4-way buckets overflow ~18%) */
#define HBLB_FLOW_BUCKETS_DEFAULT (1u << 19)

#define HBLB_HB_PORT_DEFAULT   27999
#define HBLB_HB_MAX_PAYLOAD    1000     /* Apache mod_heartmonitor's MAX_MSG_LEN */
#define HBLB_HB_GROUP          0xef000001u /* 239.0.0.1, host order */

#define HBLB_BACKEND_NONE      0xffffu  /* table entry: no usable backend */

/* ---- Configuration (hblb_config, ARRAY of 1) --------------------------- */
enum hblb_config_flags {
	HBLB_CFG_PASS_HEARTBEATS = 1u << 0, /* XDP_PASS heartbeats after counting (mod_heartmonitor on this host) */
	HBLB_CFG_GTSM            = 1u << 1, /* heartbeats must arrive with IP TTL 255 (RFC 5082) */
};

struct hblb_config {
	__u16 hb_port;          /* host byte order; 0 disables heartbeat parsing */
	__u16 flags;            /* enum hblb_config_flags */
	__u32 hash_seed;        /* flow hash seed; equal on all nodes that must agree */
	__u32 table_size;       /* Maglev M, set at load; prime */
	__u32 flow_mask;        /* flow buckets - 1; set at load */
	__u32 max_services;     /* set at load */
	__u32 pad;
};

/* ---- Interfaces (hblb_ifaces, ARRAY indexed by ifindex) --------------- */
struct hblb_iface {
	__u8  mac[6];           /* the interface's own MAC: source of forwarded frames */
	__u8  enabled;          /* 0: frames on this ifindex are passed untouched */
	__u8  pad;
};

/* ---- VIP filter (hblb_vip_bits, mmapable ARRAY of __u64 words) ---------
 * One bit per hash of a service's VIP. A packet whose destination's bit is
 * clear is no service's, so ordinary traffic passes without touching the
 * flow table or the service hash map. A stale set bit only costs a lookup;
 * the controller sets a VIP's bit before adding its first service. */
#define HBLB_VIP_BITS 4096

static inline __u32 hblb_vip_bit(__be32 vip)
{
	return ((__u32)vip * 0x9e3779b1u) >> 20;     /* top 12 bits */
}

/* ---- Services (hblb_services, HASH) ------------------------------------ */
struct hblb_service_key {
	__be32 vip;
	__be16 port;
	__u8   proto;           /* IPPROTO_TCP or IPPROTO_UDP */
	__u8   pad;             /* must be zero */
};

struct hblb_service {
	__u32 id;               /* index into hblb_svc_gen, hblb_tables, hblb_svc_stats */
	__u32 flags;            /* reserved, zero */
};

/* ---- Heartbeat sources (hblb_reals, HASH: __be32 address -> real) ------ */
struct hblb_real {
	__u32 id;               /* index into hblb_hb and hblb_hb_seq */
	__u32 key_id;           /* HBLB_KEY_NONE: plain heartbeats accepted; else
				 * the hblb_keys entry its heartbeats must be signed with */
};

/* ---- Authentication keys (hblb_keys, ARRAY by key id) --------------------
 * Key ids: HBLB_KEY_NONE (no key), HBLB_KEY_GLOBAL, and
 * HBLB_KEY_SERVICE(service id) for a service's own key; the loader sizes
 * the map to HBLB_KEY_SERVICE(max_services). A real in a keyed service
 * must sign its heartbeats with that service's key (else the global key).
 * Slot 0 is the current key; slot 1, during a rollover, the previous one;
 * both are accepted. The halves are SipHash's k0 and k1: the key's bytes
 * 0-7 and 8-15, little endian. */
#define HBLB_KEY_NONE        0u
#define HBLB_KEY_GLOBAL      1u
#define HBLB_KEY_SERVICE(id) ((id) + 2u)
#define HBLB_KEY_LEN         16         /* 128-bit SipHash key */

struct hblb_key {
	__u64 k[2][2];          /* [slot][half] */
	__u32 n_keys;           /* valid slots: 0 (no key), 1, or 2 (rollover) */
	__u32 pad;
};

/* Replay state (hblb_hb_seq, ARRAY by real id, shared by all CPUs): the
 * highest sequence number accepted from the real, advanced with an atomic
 * compare-and-swap so two CPUs cannot both accept one number. */
struct hblb_hb_seq {
	__u64 last_seq;
};

/* An authenticated heartbeat is exactly "v=1&ready=N&busy=M&seq=S&auth=T"
 * (Apache's form and two more fields; a real with a key may send no other
 * form, so the data path reads it in place). S is a decimal sequence
 * number (1 to 19 digits) that must exceed the last one accepted from the
 * address; T is 16 lowercase hex digits, the SipHash-2-4 tag (as a 64-bit
 * number) over HBLB_AUTH_HDR_LEN header bytes - the sender's IPv4 address
 * in network order, then "hblb" - followed by the payload up to, not
 * including, "&auth=". The address binds a tag to its sender, so a packet
 * captured from one backend cannot be replayed as another's. */
#define HBLB_AUTH_HDR_LEN    8
#define HBLB_AUTH_DOMAIN     "hblb"
#define HBLB_AUTH_TAIL       "&auth="
#define HBLB_AUTH_TAIL_LEN   6
#define HBLB_AUTH_TAG_HEX    16
#define HBLB_SEQ_DIGITS_MAX  19         /* < 10^19 < 2^64: no overflow */

/* ---- Heartbeat records (hblb_hb, PERCPU_ARRAY indexed by real id) ------
 * Per CPU so that counting needs no atomics and stays exact: readers sum
 * `count` and take ready/busy/port from the CPU with the latest last_ns. */
struct hblb_hb_record {
	__u64 count;            /* accepted heartbeats */
	__u64 last_ns;          /* bpf_ktime_get_ns() of the last one (CLOCK_MONOTONIC) */
	__u32 ready;
	__u32 busy;
	__u16 port;             /* optional port= field, 0 if absent */
	__u16 pad[3];
};

/* ---- Backends (hblb_backends, ARRAY indexed by backend id) ------------- */
enum hblb_backend_state {
	HBLB_BE_DOWN     = 0,   /* flows pinned to it are re-steered */
	HBLB_BE_UP       = 1,
	HBLB_BE_DRAINING = 2,   /* not in new tables; pinned flows stay */
};

enum hblb_backend_flags {
	HBLB_BE_F_HELD = 1u << 0,       /* down because it flapped (for status; not read by XDP) */
};

struct hblb_backend {
	__be32 addr;
	__u8   mac[6];
	__u8   state;           /* enum hblb_backend_state */
	__u8   flags;           /* enum hblb_backend_flags */
	__u32  service_id;
	__u32  real_id;
	/* The service this backend serves: a pinned flow is valid only while
	 * its packets are addressed to it, so a flow-table hit needs no
	 * service lookup. */
	struct hblb_service_key service;
	/* The weight the controller builds tables with (static, or from the
	 * heartbeats' ready after soft start, hysteresis and rounding); for
	 * status only, the data path does not read it. */
	__u32 weight;
};

/* ---- Steering tables ------------------------------------------------------
 * hblb_tables is one mmapable ARRAY of chunks holding, for every service,
 * two table versions of table_size entries each:
 *   entry(s, v, i) = chunk[((s * 2 + v) * chunks_per_table) + i / 16].be[i % 16]
 * with chunks_per_table = ceil(table_size / 16). The controller writes the
 * inactive version, then bumps hblb_svc_gen[s].gen with one store; the
 * active version is gen & 1. The data path re-reads gen after reading an
 * entry and retries if it moved, so it never uses a half-written version. */
struct hblb_table_chunk {
	__u16 be[HBLB_TABLE_CHUNK]; /* backend ids, HBLB_BACKEND_NONE if none */
};

struct hblb_svc_gen {
	__u32 gen;
	__u32 pad;
};

static inline __u32 hblb_chunks_per_table(__u32 table_size)
{
	return (table_size + HBLB_TABLE_CHUNK - 1) / HBLB_TABLE_CHUNK;
}

/* ---- Flow table (hblb_flows, ARRAY of 4-way buckets) --------------------
 * Shared by all CPUs; hits only read. An entry is written as two 8-byte
 * words; `tag` (the flow hash's top byte) sits in the same word as
 * `backend`, so a torn entry mixing two flows fails the tag check. */
struct hblb_flow {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u16  backend;         /* backend id */
	__u8   proto;           /* 0: empty */
	__u8   tag;
};

struct hblb_flow_bucket {
	struct hblb_flow way[HBLB_FLOW_WAYS];
};

/* ---- Desired configuration (written by the CLI, read by the controller) --
 * hblb_cfg_svcs: HASH service key -> struct hblb_cfg_service
 * hblb_cfg_bes:  HASH struct hblb_cfg_backend_key -> struct hblb_cfg_backend
 * hblb_cfg_gen:  ARRAY[1] of __u64, bumped after every change so the
 *                controller rereads the maps only when something changed. */
enum hblb_cfg_service_flags {
	HBLB_SVC_FAIL_CLOSED = 1u << 0,     /* all backends down: empty table, not the last one */
};

struct hblb_cfg_service {
	__u32 flags;            /* enum hblb_cfg_service_flags */
	__u32 pad;
};

struct hblb_cfg_backend_key {
	struct hblb_service_key service;
	__be32 addr;
	__u32  pad;             /* must be zero */
};

enum hblb_cfg_backend_flags {
	HBLB_BECFG_HEARTBEAT = 1u << 0,     /* liveness from its heartbeats */
	HBLB_BECFG_DRAIN     = 1u << 1,     /* admin drain: no new flows */
	HBLB_BECFG_MAC       = 1u << 2,     /* mac given; else the neighbour table's */
};

enum hblb_check_type {
	HBLB_CHECK_NONE = 0,
	HBLB_CHECK_TCP  = 1,    /* connect to check_port */
	HBLB_CHECK_HTTP = 2,    /* GET check_path on check_port, 2xx/3xx passes */
};

#define HBLB_CHECK_PATH_LEN 64

struct hblb_cfg_backend {
	__u32 weight;           /* 0: from heartbeats' ready; else static, 1-65535 */
	__u8  mac[6];
	__u8  flags;            /* enum hblb_cfg_backend_flags */
	__u8  check_type;       /* enum hblb_check_type */
	__u16 check_port;       /* host order */
	__u16 pad;
	char  check_path[HBLB_CHECK_PATH_LEN];
};

/* hblb_cfg_keys: HASH service key -> struct hblb_cfg_key; the all-zero
 * service key is the global key. The controller copies each into hblb_keys
 * and points the reals of keyed services at it. */
struct hblb_cfg_key {
	__u8  key[2][HBLB_KEY_LEN];     /* [0] current, [1] previous (rollover) */
	__u32 n_keys;                   /* 1, or 2 during a rollover */
	__u32 pad;
};

/* ---- Counters (PERCPU_ARRAYs) ------------------------------------------- */
struct hblb_traffic {
	__u64 packets;
	__u64 bytes;
};

/* Global counters (hblb_stats, indexed by reason). Every packet increments
 * exactly one verdict reason; the HB_ and FLOW_ entries are extra detail. */
enum hblb_reason {
	/* XDP_PASS */
	HBLB_R_PASS_NOT_IPV4 = 0,   /* ARP, IPv6, anything but IPv4 */
	HBLB_R_PASS_NOT_SERVICE,    /* IPv4 not addressed to a service */
	HBLB_R_PASS_IP_OPTIONS,     /* IPv4 with options: left to the kernel */
	HBLB_R_PASS_IP_FRAGMENT,    /* IPv4 fragment: left to the kernel */
	HBLB_R_PASS_NOT_OURS,       /* interface not enabled, or dst MAC not ours */
	HBLB_R_PASS_VLAN_DEPTH,     /* more than 2 VLAN tags */
	HBLB_R_PASS_HEARTBEAT,      /* heartbeat handled, passed on (HBLB_CFG_PASS_HEARTBEATS) */
	/* XDP_DROP */
	HBLB_R_DROP_TRUNC_ETH,      /* frame shorter than its Ethernet/VLAN headers */
	HBLB_R_DROP_TRUNC_IP,       /* IPv4 header cut short */
	HBLB_R_DROP_BAD_IP_HDR,     /* version != 4 or ihl < 5 */
	HBLB_R_DROP_BAD_IP_LEN,     /* tot_len below the header or beyond the frame */
	HBLB_R_DROP_TRUNC_L4,       /* TCP/UDP header cut short */
	HBLB_R_DROP_BAD_DOFF,       /* TCP doff < 5 or beyond the packet */
	HBLB_R_DROP_BAD_UDP_LEN,    /* UDP length disagrees with the IP length */
	HBLB_R_DROP_HEARTBEAT,      /* heartbeat handled and consumed (default) */
	HBLB_R_DROP_NO_BACKEND,     /* service has no usable backend */
	/* XDP_TX */
	HBLB_R_TX_FORWARDED,        /* service traffic sent to a backend */
	/* detail, counted in addition to the verdict reason */
	HBLB_R_HB_ACCEPTED,         /* record updated */
	HBLB_R_HB_UNKNOWN_SOURCE,   /* source address is no configured real */
	HBLB_R_HB_EMPTY,            /* zero-length payload */
	HBLB_R_HB_TOO_LONG,         /* payload over HBLB_HB_MAX_PAYLOAD */
	HBLB_R_HB_BAD_SYNTAX,       /* field without '=', empty key or field */
	HBLB_R_HB_BAD_CHAR,         /* control or non-ASCII byte */
	HBLB_R_HB_BAD_VALUE,        /* non-digit, empty or > 2^32-1 value */
	HBLB_R_HB_BAD_VERSION,      /* v other than 1 */
	HBLB_R_HB_MISSING_FIELD,    /* v, ready or busy absent */
	HBLB_R_HB_DUPLICATE_FIELD,  /* a known field given twice */
	HBLB_R_HB_AUTH_MALFORMED,   /* auth not 16 lowercase hex digits or not last; seq absent beside it */
	HBLB_R_HB_AUTH_MISSING,     /* the real's service has a key; no auth field */
	HBLB_R_HB_AUTH_BAD,         /* tag matches neither accepted key */
	HBLB_R_HB_REPLAY,           /* seq not above the last accepted from this real */
	HBLB_R_HB_TTL,              /* GTSM on and IP TTL not 255 */
	HBLB_R_HB_AUTH_PREV_KEY,    /* accepted with the previous key of a rollover (also HB_ACCEPTED) */
	HBLB_R_FLOW_HIT,            /* pinned flow used */
	HBLB_R_FLOW_NEW,            /* flow chosen from the table and recorded */
	HBLB_R_FLOW_RESTEER,        /* pinned backend down or stale: chosen again */
	HBLB_R_FLOW_EVICT,          /* an older entry in a full bucket replaced */
	HBLB_R_TABLE_RETRY,         /* table version moved while read: read again */
	HBLB_R_MAX,
	HBLB_R_DROP_FIRST = HBLB_R_DROP_TRUNC_ETH,   /* reasons below it are XDP_PASS */
};

/* Heartbeat parser results: 0 or one of these (same order as the reasons). */
enum hblb_hb_error {
	HBLB_HB_OK = 0,
	HBLB_HB_EMPTY = HBLB_R_HB_EMPTY,
	HBLB_HB_TOO_LONG,
	HBLB_HB_BAD_SYNTAX,
	HBLB_HB_BAD_CHAR,
	HBLB_HB_BAD_VALUE,
	HBLB_HB_BAD_VERSION,
	HBLB_HB_MISSING_FIELD,
	HBLB_HB_DUPLICATE_FIELD,
	HBLB_HB_AUTH_MALFORMED,
};

/* ---- Flow hash ------------------------------------------------------------
 * One 32-bit hash of the 5-tuple picks the flow bucket (low bits), the
 * Maglev slot (hash % table_size) and the flow tag (top byte). Same code in
 * BPF and user space so tests and the controller can predict the data path.
 * Bob Jenkins' final mix over three words (as jhash_3words). */
static inline __u32 hblb_rol32(__u32 w, unsigned int s)
{
	return (w << s) | (w >> ((32 - s) & 31));
}

static inline __u32 hblb_flow_hash(__be32 saddr, __be32 daddr, __be16 sport,
				   __be16 dport, __u8 proto, __u32 seed)
{
	__u32 a = (__u32)saddr + 0xdeadbef3u + seed;
	__u32 b = (__u32)daddr + 0xdeadbef3u + seed;
	__u32 c = (((__u32)sport << 16) | (__u32)dport) + 0xdeadbef3u + seed + proto;

	c ^= b; c -= hblb_rol32(b, 14);
	a ^= c; a -= hblb_rol32(c, 11);
	b ^= a; b -= hblb_rol32(a, 25);
	c ^= b; c -= hblb_rol32(b, 16);
	a ^= c; a -= hblb_rol32(c, 4);
	b ^= a; b -= hblb_rol32(a, 14);
	c ^= b; c -= hblb_rol32(b, 24);
	return c;
}

#endif /* HBLB_H */
