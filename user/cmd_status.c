// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * hblb status: every configured service and backend at a glance (state,
 * heartbeats, weight, share of the active table, traffic), then the global
 * counters by reason. Read-only: pinned maps only, no lock, so it works
 * with or without a daemon and never delays one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cli.h"
#include "commands.h"
#include "log.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Indexed by enum hblb_reason; the names are the enum's, lower-cased. */
static const char *const reason_names[] = {
	[HBLB_R_PASS_NOT_IPV4]      = "pass_not_ipv4",
	[HBLB_R_PASS_NOT_SERVICE]   = "pass_not_service",
	[HBLB_R_PASS_IP_OPTIONS]    = "pass_ip_options",
	[HBLB_R_PASS_IP_FRAGMENT]   = "pass_ip_fragment",
	[HBLB_R_PASS_NOT_OURS]      = "pass_not_ours",
	[HBLB_R_PASS_VLAN_DEPTH]    = "pass_vlan_depth",
	[HBLB_R_PASS_HEARTBEAT]     = "pass_heartbeat",
	[HBLB_R_DROP_TRUNC_ETH]     = "drop_trunc_eth",
	[HBLB_R_DROP_TRUNC_IP]      = "drop_trunc_ip",
	[HBLB_R_DROP_BAD_IP_HDR]    = "drop_bad_ip_hdr",
	[HBLB_R_DROP_BAD_IP_LEN]    = "drop_bad_ip_len",
	[HBLB_R_DROP_TRUNC_L4]      = "drop_trunc_l4",
	[HBLB_R_DROP_BAD_DOFF]      = "drop_bad_doff",
	[HBLB_R_DROP_BAD_UDP_LEN]   = "drop_bad_udp_len",
	[HBLB_R_DROP_HEARTBEAT]     = "drop_heartbeat",
	[HBLB_R_DROP_NO_BACKEND]    = "drop_no_backend",
	[HBLB_R_TX_FORWARDED]       = "tx_forwarded",
	[HBLB_R_HB_ACCEPTED]        = "hb_accepted",
	[HBLB_R_HB_UNKNOWN_SOURCE]  = "hb_unknown_source",
	[HBLB_R_HB_EMPTY]           = "hb_empty",
	[HBLB_R_HB_TOO_LONG]        = "hb_too_long",
	[HBLB_R_HB_BAD_SYNTAX]      = "hb_bad_syntax",
	[HBLB_R_HB_BAD_CHAR]        = "hb_bad_char",
	[HBLB_R_HB_BAD_VALUE]       = "hb_bad_value",
	[HBLB_R_HB_BAD_VERSION]     = "hb_bad_version",
	[HBLB_R_HB_MISSING_FIELD]   = "hb_missing_field",
	[HBLB_R_HB_DUPLICATE_FIELD] = "hb_duplicate_field",
	[HBLB_R_HB_AUTH_MALFORMED]  = "hb_auth_malformed",
	[HBLB_R_HB_AUTH_MISSING]    = "hb_auth_missing",
	[HBLB_R_HB_AUTH_BAD]        = "hb_auth_bad",
	[HBLB_R_HB_REPLAY]          = "hb_replay",
	[HBLB_R_HB_TTL]             = "hb_ttl",
	[HBLB_R_HB_AUTH_PREV_KEY]   = "hb_auth_prev_key",
	[HBLB_R_FLOW_HIT]           = "flow_hit",
	[HBLB_R_FLOW_NEW]           = "flow_new",
	[HBLB_R_FLOW_RESTEER]       = "flow_resteer",
	[HBLB_R_FLOW_EVICT]         = "flow_evict",
	[HBLB_R_TABLE_RETRY]        = "table_retry",
};
/* A reason appended to the enum without a name here fails the build; one
 * inserted in the middle leaves a hole, named at run time (reason_name). */
_Static_assert(ARRAY_SIZE(reason_names) == HBLB_R_MAX, "a reason has no name in reason_names");

struct be_row {
	struct hblb_cfg_backend_key key;
	struct hblb_cfg_backend cfg;
	struct hblb_hb_record hb;       /* summed count, newest CPU's last/ready/busy */
	struct hblb_traffic tr;
	__u32 id;
	__u32 slots;                    /* entries of the active table naming it */
	__u32 weight;                   /* in force, from the controller's record */
	__u8 dp_state;
	bool held;
	bool in_dp;
};

struct svc_row {
	struct hblb_service_key key;
	struct hblb_cfg_service cfg;
	struct hblb_traffic tr;
	size_t be_first, be_n;          /* its backends, contiguous in the sorted array */
	__u32 id;
	bool applied;
	bool has_table;                 /* slots were counted */
};

struct status {
	struct svc_row *svcs;
	struct be_row *bes;
	size_t n_svcs, n_bes;
	__u64 counters[HBLB_R_MAX];
	__u32 table_size;
	__u64 now;
	bool daemon;
};

static const char *reason_name(unsigned int r, char *buf, size_t len)
{
	if (r < ARRAY_SIZE(reason_names) && reason_names[r])
		return reason_names[r];
	snprintf(buf, len, "reason_%u", r);
	return buf;
}

static int map_info(int fd, struct bpf_map_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

static int svc_row_cmp(const void *a, const void *b)
{
	return svc_key_cmp(&((const struct svc_row *)a)->key, &((const struct svc_row *)b)->key);
}

/* ---- collection ------------------------------------------------------------ */

static int read_cfg_services(const struct pins *p, struct status *st)
{
	struct hblb_service_key k, prev, *pk = NULL;
	size_t cap = 0;

	while (bpf_map_get_next_key(p->cfg_svcs, pk, &k) == 0) {
		struct svc_row *r;

		prev = k;
		pk = &prev;
		if (st->n_svcs == cap) {
			void *n = realloc(st->svcs, (cap ? cap * 2 : 16) * sizeof(*st->svcs));

			if (!n)
				return -ENOMEM;
			st->svcs = n;
			cap = cap ? cap * 2 : 16;
		}
		r = &st->svcs[st->n_svcs];
		memset(r, 0, sizeof(*r));
		r->key = k;
		if (bpf_map_lookup_elem(p->cfg_svcs, &k, &r->cfg))
			continue;       /* deleted since get_next_key */
		st->n_svcs++;
	}
	qsort(st->svcs, st->n_svcs, sizeof(*st->svcs), svc_row_cmp);
	return 0;
}

static int read_cfg_backends(const struct pins *p, struct status *st)
{
	struct hblb_cfg_backend_key k, prev, *pk = NULL;
	size_t cap = 0;

	while (bpf_map_get_next_key(p->cfg_bes, pk, &k) == 0) {
		struct be_row *r;

		prev = k;
		pk = &prev;
		if (st->n_bes == cap) {
			void *n = realloc(st->bes, (cap ? cap * 2 : 64) * sizeof(*st->bes));

			if (!n)
				return -ENOMEM;
			st->bes = n;
			cap = cap ? cap * 2 : 64;
		}
		r = &st->bes[st->n_bes];
		memset(r, 0, sizeof(*r));
		r->key = k;
		if (bpf_map_lookup_elem(p->cfg_bes, &k, &r->cfg))
			continue;
		st->n_bes++;
	}
	/* by service then address: each service's backends are one run */
	qsort(st->bes, st->n_bes, sizeof(*st->bes), be_key_cmp);
	return 0;
}

static int percpu_sum_traffic(int fd, __u32 id, struct hblb_traffic *buf, int ncpus,
			      struct hblb_traffic *sum)
{
	memset(sum, 0, sizeof(*sum));
	if (bpf_map_lookup_elem(fd, &id, buf))
		return -errno;
	for (int c = 0; c < ncpus; c++) {
		sum->packets += buf[c].packets;
		sum->bytes += buf[c].bytes;
	}
	return 0;
}

/* Heartbeats of the backend's host: the real is per address, shared by
 * every service that host is in. */
static void read_heartbeats(const struct pins *p, struct be_row *b, struct hblb_hb_record *buf,
			    int ncpus)
{
	struct hblb_real real;

	memset(&b->hb, 0, sizeof(b->hb));
	if (bpf_map_lookup_elem(p->reals, &b->key.addr, &real) ||
	    bpf_map_lookup_elem(p->hb, &real.id, buf))
		return;
	for (int c = 0; c < ncpus; c++) {
		b->hb.count += buf[c].count;
		if (buf[c].count && buf[c].last_ns >= b->hb.last_ns) {
			b->hb.last_ns = buf[c].last_ns;
			b->hb.ready = buf[c].ready;
			b->hb.busy = buf[c].busy;
		}
	}
}

/* Attaches data-path records to configured backends (cli.c's matching). */
static int attach_dp_records(struct status *st, const struct hblb_backend *recs, __u32 n)
{
	__u32 *ids = calloc(st->n_bes ? st->n_bes : 1, sizeof(*ids));

	if (!ids)
		return -ENOMEM;
	match_dp_backends(recs, n, st->bes, st->n_bes, sizeof(*st->bes), ids);
	for (size_t i = 0; i < st->n_bes; i++) {
		struct be_row *b = &st->bes[i];
		const struct hblb_backend *rec = &recs[ids[i]];

		if (ids[i] == HBLB_BACKEND_NONE)
			continue;
		b->in_dp = true;
		b->id = ids[i];
		b->dp_state = rec->state;
		b->held = rec->flags & HBLB_BE_F_HELD;
		b->weight = rec->weight;
	}
	free(ids);
	return 0;
}

struct tables {
	const struct hblb_table_chunk *chunks;
	size_t len;             /* mapped bytes */
	__u64 n_chunks;
	__u32 *slots;           /* per backend id, scratch */
	__u32 n_ids;
};

static void tables_close(struct tables *t)
{
	if (t->chunks)
		munmap((void *)t->chunks, t->len);
	free(t->slots);
}

/* hblb_tables is not among the pins the CLI opens: only status reads it. */
static int tables_open(const struct pins *p, struct tables *t, __u32 n_ids)
{
	struct bpf_map_info info;
	char path[512];
	void *m;
	int fd, err;

	memset(t, 0, sizeof(*t));
	snprintf(path, sizeof(path), "%s/%s", p->dir, HBLB_MAP_TABLES);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	err = map_info(fd, &info);
	if (!err && info.value_size != sizeof(struct hblb_table_chunk))
		err = -EPROTO;
	if (err) {
		close(fd);
		return err;
	}
	t->n_chunks = info.max_entries;
	t->len = (size_t)t->n_chunks * sizeof(struct hblb_table_chunk);
	m = mmap(NULL, t->len, PROT_READ, MAP_SHARED, fd, 0);
	err = m == MAP_FAILED ? -errno : 0;
	close(fd);              /* the mapping keeps the map */
	if (err)
		return err;
	t->chunks = m;
	t->n_ids = n_ids;
	t->slots = calloc(n_ids ? n_ids : 1, sizeof(*t->slots));
	if (!t->slots) {
		tables_close(t);
		return -ENOMEM;
	}
	return 0;
}

/* Counts the slots of the service's active table per backend id into
 * t->slots. The controller writes only the inactive version, so the count
 * is exact unless it flips meanwhile: then count again (as the data path
 * reads again). */
static int count_slots(const struct pins *p, struct tables *t, __u32 svc_id, __u32 m)
{
	__u64 cpt = hblb_chunks_per_table(m);

	for (int attempt = 0; attempt < 4; attempt++) {
		struct hblb_svc_gen g1, g2;
		const __u16 *e;

		if (bpf_map_lookup_elem(p->svc_gen, &svc_id, &g1))
			return -errno;
		if (((__u64)svc_id * 2 + (g1.gen & 1) + 1) * cpt > t->n_chunks)
			return -ERANGE;
		/* one table is cpt contiguous chunks: index it as entries */
		e = (const __u16 *)(t->chunks + ((__u64)svc_id * 2 + (g1.gen & 1)) * cpt);
		memset(t->slots, 0, t->n_ids * sizeof(*t->slots));
		for (__u32 i = 0; i < m; i++)
			if (e[i] < t->n_ids)
				t->slots[e[i]]++;
		if (bpf_map_lookup_elem(p->svc_gen, &svc_id, &g2))
			return -errno;
		if (g1.gen == g2.gen)
			return 0;
	}
	return -EAGAIN;
}

static int collect(const struct pins *p, struct status *st)
{
	struct hblb_backend *recs = NULL;
	struct hblb_config cfg = { 0 };
	struct hblb_traffic *tbuf = NULL;
	struct hblb_hb_record *hbuf = NULL;
	__u64 *cbuf = NULL;
	struct tables t = { 0 };
	struct timespec ts;
	__u32 n_recs = 0, zero = 0;
	bool have_tables = false;
	int err, ncpus = libbpf_num_possible_cpus();

	if (ncpus <= 0) {
		pr_err("cannot count the possible CPUs: %s", strerror(ncpus ? -ncpus : EINVAL));
		return ncpus ? ncpus : -EINVAL;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);    /* bpf_ktime_get_ns()'s clock */
	st->now = (__u64)ts.tv_sec * 1000000000ull + ts.tv_nsec;
	st->daemon = daemon_running(p);
	if (bpf_map_lookup_elem(p->config, &zero, &cfg) == 0)
		st->table_size = cfg.table_size;

	err = read_cfg_services(p, st);
	if (!err)
		err = read_cfg_backends(p, st);
	if (!err)
		err = read_dp_backends(p->backends, &recs, &n_recs);
	if (err) {
		pr_err("cannot read the configuration and backends in %s: %s", p->dir,
		       strerror(-err));
		goto out;
	}
	err = attach_dp_records(st, recs, n_recs);
	if (err)
		goto out;

	/* per-CPU values: one slot per possible CPU, each rounded up to 8 bytes
	 * (all three value types are multiples of 8 already) */
	tbuf = calloc(ncpus, sizeof(*tbuf));
	hbuf = calloc(ncpus, sizeof(*hbuf));
	cbuf = calloc(ncpus, sizeof(*cbuf));
	if (!tbuf || !hbuf || !cbuf) {
		err = -ENOMEM;
		pr_err("out of memory");
		goto out;
	}

	if (st->table_size && st->n_svcs) {
		err = tables_open(p, &t, n_recs);
		if (err)
			pr_warn("cannot map the steering tables in %s (%s): no table shares",
				p->dir, strerror(-err));
		have_tables = !err;
		err = 0;
	}

	for (size_t s = 0, b = 0; s < st->n_svcs; s++) {
		struct svc_row *sv = &st->svcs[s];
		struct hblb_service dp;

		/* backends sort by service first: skip orphans of a deleted service */
		while (b < st->n_bes && svc_key_cmp(&st->bes[b].key.service, &sv->key) < 0)
			b++;
		sv->be_first = b;
		while (b < st->n_bes && !svc_key_cmp(&st->bes[b].key.service, &sv->key))
			b++;
		sv->be_n = b - sv->be_first;

		sv->applied = bpf_map_lookup_elem(p->services, &sv->key, &dp) == 0;
		if (!sv->applied)
			continue;
		sv->id = dp.id;
		percpu_sum_traffic(p->svc_stats, sv->id, tbuf, ncpus, &sv->tr);
		if (have_tables) {
			int e = count_slots(p, &t, sv->id, st->table_size);

			sv->has_table = !e;
			if (e)
				pr_warn("cannot read the table of service id %u: %s", sv->id,
					strerror(-e));
		}
		for (size_t i = sv->be_first; i < sv->be_first + sv->be_n; i++) {
			struct be_row *be = &st->bes[i];

			read_heartbeats(p, be, hbuf, ncpus);
			if (!be->in_dp)
				continue;
			percpu_sum_traffic(p->be_stats, be->id, tbuf, ncpus, &be->tr);
			if (sv->has_table && be->id < t.n_ids)
				be->slots = t.slots[be->id];
		}
	}
	/* a pending service's backends still show their hosts' heartbeats */
	for (size_t s = 0; s < st->n_svcs; s++)
		if (!st->svcs[s].applied)
			for (size_t i = 0; i < st->svcs[s].be_n; i++)
				read_heartbeats(p, &st->bes[st->svcs[s].be_first + i], hbuf, ncpus);

	for (__u32 r = 0; r < HBLB_R_MAX; r++) {
		if (bpf_map_lookup_elem(p->stats, &r, cbuf))
			continue;
		for (int c = 0; c < ncpus; c++)
			st->counters[r] += cbuf[c];
	}
out:
	if (have_tables)
		tables_close(&t);
	free(recs);
	free(tbuf);
	free(hbuf);
	free(cbuf);
	return err;
}

/* ---- output ------------------------------------------------------------------ */

static const char *be_state(const struct be_row *b)
{
	if (!b->in_dp)
		return "pending";
	/* the admin's drain shows even while the controller has it down */
	if (b->cfg.flags & HBLB_BECFG_DRAIN)
		return "draining";
	switch (b->dp_state) {
	case HBLB_BE_UP: return "up";
	case HBLB_BE_DRAINING: return "draining";
	default: return b->held ? "held" : "down";  /* held: down after flapping */
	}
}

static bool hb_seen(const struct be_row *b)
{
	return b->hb.count && b->hb.last_ns;
}

static __u64 hb_age_ns(const struct be_row *b, __u64 now)
{
	return now > b->hb.last_ns ? now - b->hb.last_ns : 0;
}

/* 0.4s, 12s, 3m, 5h, 2d: as precise as a glance needs */
static const char *age_str(__u64 ns, char *buf, size_t len)
{
	__u64 s = ns / 1000000000ull;

	if (s < 10)
		snprintf(buf, len, "%.1fs", ns / 1e9);
	else if (s < 60)
		snprintf(buf, len, "%llus", (unsigned long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%llum", (unsigned long long)(s / 60));
	else if (s < 2 * 86400)
		snprintf(buf, len, "%lluh", (unsigned long long)(s / 3600));
	else
		snprintf(buf, len, "%llud", (unsigned long long)(s / 86400));
	return buf;
}

struct style {
	const char *bold, *dim, *red, *green, *yellow, *off;
};

static const struct style style_plain = { "", "", "", "", "", "" };
static const struct style style_ansi = {
	"\033[1m", "\033[2m", "\033[31m", "\033[32m", "\033[33m", "\033[0m",
};

static const char *state_colour(const struct style *c, const char *state)
{
	if (!strcmp(state, "up"))
		return c->green;
	if (!strcmp(state, "draining"))
		return c->yellow;
	if (!strcmp(state, "pending"))
		return c->dim;
	return c->red;
}

static void print_text(const struct status *st, const char *dir)
{
	const bool tty = isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
	const struct style *c = tty ? &style_ansi : &style_plain;
	bool any = false;

	printf("daemon: %s%s%s (%s)\n", st->daemon ? c->green : c->yellow,
	       st->daemon ? "running" : "not running", c->off, dir);
	if (!st->n_svcs)
		printf("\nno services: add one with 'hblb service add ADDR:PORT[/tcp|/udp]'\n");
	for (size_t s = 0; s < st->n_svcs; s++) {
		const struct svc_row *sv = &st->svcs[s];
		char name[64], id[24];

		if (sv->applied)
			snprintf(id, sizeof(id), "id %u", sv->id);
		else
			snprintf(id, sizeof(id), "%spending%s", c->dim, c->off);
		printf("\n%s%s%s  %s  %s  %llu packets  %llu bytes\n", c->bold,
		       service_str(&sv->key, name, sizeof(name)), c->off, id,
		       sv->cfg.flags & HBLB_SVC_FAIL_CLOSED ? "fail-closed" : "fail-open",
		       (unsigned long long)sv->tr.packets, (unsigned long long)sv->tr.bytes);
		if (!sv->be_n) {
			printf("  no backends: add one with 'hblb backend add %s ADDR'\n", name);
			continue;
		}
		printf("  %-15s %-9s %10s %6s %6s %6s %-8s %7s %12s %14s\n", "BACKEND", "STATE",
		       "HEARTBEATS", "LAST", "READY", "BUSY", "WEIGHT", "SHARE", "PACKETS", "BYTES");
		for (size_t i = sv->be_first; i < sv->be_first + sv->be_n; i++) {
			const struct be_row *b = &st->bes[i];
			const char *state = be_state(b);
			char a[INET_ADDRSTRLEN], last[16], ready[12], busy[12], weight[24], share[16];

			if (hb_seen(b)) {
				age_str(hb_age_ns(b, st->now), last, sizeof(last));
				snprintf(ready, sizeof(ready), "%u", b->hb.ready);
				snprintf(busy, sizeof(busy), "%u", b->hb.busy);
			} else {
				strcpy(last, "-");
				strcpy(ready, "-");
				strcpy(busy, "-");
			}
			if (b->cfg.weight)
				snprintf(weight, sizeof(weight), "%u", b->cfg.weight);
			else if (b->in_dp)     /* from ready: the one in force, "hb" says whence */
				snprintf(weight, sizeof(weight), "%u hb", b->weight);
			else
				strcpy(weight, "hb");
			if (sv->has_table && b->in_dp)
				snprintf(share, sizeof(share), "%.2f%%",
					 100.0 * b->slots / st->table_size);
			else
				strcpy(share, "-");
			/* the padding is inside the colour: widths count visible text */
			printf("  %-15s %s%-9s%s %10llu %6s %6s %6s %-8s %7s %12llu %14llu\n",
			       ipv4_str(b->key.addr, a, sizeof(a)), state_colour(c, state), state,
			       c->off, (unsigned long long)b->hb.count, last, ready, busy, weight,
			       share, (unsigned long long)b->tr.packets,
			       (unsigned long long)b->tr.bytes);
		}
	}
	for (unsigned int r = 0; r < HBLB_R_MAX; r++) {
		char buf[24];

		if (!st->counters[r])
			continue;
		if (!any)
			printf("\n%sCOUNTERS%s\n", c->bold, c->off);
		any = true;
		printf("  %-20s %14llu\n", reason_name(r, buf, sizeof(buf)),
		       (unsigned long long)st->counters[r]);
	}
	if (!any)
		printf("\nno packets counted yet\n");
}

static void print_json(const struct status *st, bool pretty)
{
	struct json j;

	json_begin(&j, pretty);
	json_obj_open(&j, NULL);
	json_bool(&j, "daemon_running", st->daemon);
	json_arr_open(&j, "services");
	for (size_t s = 0; s < st->n_svcs; s++) {
		const struct svc_row *sv = &st->svcs[s];
		char name[64], a[INET_ADDRSTRLEN];

		json_obj_open(&j, NULL);
		json_str(&j, "service", service_str(&sv->key, name, sizeof(name)));
		json_str(&j, "vip", ipv4_str(sv->key.vip, a, sizeof(a)));
		json_u64(&j, "port", ntohs(sv->key.port));
		json_str(&j, "proto", sv->key.proto == IPPROTO_UDP ? "udp" : "tcp");
		if (sv->applied)
			json_u64(&j, "id", sv->id);
		json_bool(&j, "applied", sv->applied);
		json_bool(&j, "fail_closed", sv->cfg.flags & HBLB_SVC_FAIL_CLOSED);
		json_u64(&j, "packets", sv->tr.packets);
		json_u64(&j, "bytes", sv->tr.bytes);
		json_arr_open(&j, "backends");
		for (size_t i = sv->be_first; i < sv->be_first + sv->be_n; i++) {
			const struct be_row *b = &st->bes[i];

			json_obj_open(&j, NULL);
			json_str(&j, "address", ipv4_str(b->key.addr, a, sizeof(a)));
			json_str(&j, "state", be_state(b));
			if (b->in_dp)
				json_u64(&j, "id", b->id);
			json_u64(&j, "heartbeats", b->hb.count);
			if (hb_seen(b))
				json_u64(&j, "last_heartbeat_age_ms", hb_age_ns(b, st->now) / 1000000);
			json_u64(&j, "ready", b->hb.ready);
			json_u64(&j, "busy", b->hb.busy);
			if (b->cfg.weight)
				json_u64(&j, "weight", b->cfg.weight);
			else
				json_str(&j, "weight", "heartbeat");
			if (b->in_dp)
				json_u64(&j, "weight_in_force", b->weight);
			/* integers, exact: share = table_slots / table_size */
			if (sv->has_table && b->in_dp) {
				json_u64(&j, "table_slots", b->slots);
				json_u64(&j, "table_size", st->table_size);
			}
			json_u64(&j, "packets", b->tr.packets);
			json_u64(&j, "bytes", b->tr.bytes);
			json_obj_close(&j);
		}
		json_arr_close(&j);
		json_obj_close(&j);
	}
	json_arr_close(&j);
	/* every reason, zero or not: scripts get stable keys */
	json_obj_open(&j, "counters");
	for (unsigned int r = 0; r < HBLB_R_MAX; r++) {
		char buf[24];

		json_u64(&j, reason_name(r, buf, sizeof(buf)), st->counters[r]);
	}
	json_obj_close(&j);
	json_obj_close(&j);
	json_end(&j);
}

int cmd_status(int argc, char **argv, struct global_opts *g)
{
	struct status st = { 0 };
	struct pins p;
	int err;

	(void)argv;
	if (argc) {
		pr_err("usage: hblb status (no arguments)");
		return -EINVAL;
	}
	err = pins_open(&p, g);
	if (err)
		return err;
	err = collect(&p, &st);
	if (!err) {
		if (g->json)
			print_json(&st, g->pretty);
		else
			print_text(&st, p.dir);
	}
	free(st.svcs);
	free(st.bes);
	pins_close(&p);
	return err;
}
