// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "checks.h"
#include "ctl.h"
#include "log.h"

/* A freed backend id is not reused for this long, so that flows still
 * pinned to it re-steer instead of following a stranger. */
#define BACKEND_QUARANTINE_NS (10ull * 1000000000ull)

static int fd_of(struct bpf_map *m)
{
	return bpf_map__fd(m);
}

const char *ctl_state_name(__u8 dp_state)
{
	switch (dp_state) {
	case HBLB_BE_UP: return "up";
	case HBLB_BE_DRAINING: return "draining";
	default: return "down";
	}
}

static const char *be_name(const struct ctl_backend *be, char *buf, size_t len)
{
	char vip[INET_ADDRSTRLEN], addr[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &be->key.service.vip, vip, sizeof(vip));
	inet_ntop(AF_INET, &be->key.addr, addr, sizeof(addr));
	snprintf(buf, len, "%s (service %s:%u/%s)", addr, vip, ntohs(be->key.service.port),
		 be->key.service.proto == IPPROTO_UDP ? "udp" : "tcp");
	return buf;
}

static const char *svc_name(const struct hblb_service_key *k, char *buf, size_t len)
{
	char vip[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &k->vip, vip, sizeof(vip));
	snprintf(buf, len, "%s:%u/%s", vip, ntohs(k->port), k->proto == IPPROTO_UDP ? "udp" : "tcp");
	return buf;
}

/* Wall-clock time for log lines, which journald and people read. */
static const char *wall_time(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year % 10000 + 1900,
		 (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
		 tm.tm_sec % 100, (int)(ts.tv_nsec / 1000000) % 1000);
	return buf;
}

/* ---- data-path writes ------------------------------------------------------ */

static int write_backend(struct ctl *c, __u32 id, __u8 state)
{
	struct ctl_backend *be = &c->bes[id];
	struct hblb_backend rec = {
		.addr = be->key.addr, .state = state, .service_id = be->svc_id,
		.real_id = be->real_id, .service = be->key.service,
	};

	memcpy(rec.mac, be->mac, 6);
	if (bpf_map_update_elem(fd_of(c->h.skel->maps.hblb_backends), &id, &rec, BPF_ANY))
		return -errno;
	be->dp_state = state;
	return 0;
}

/* A record no flow may match: no service key, down. */
static int clear_backend(struct ctl *c, __u32 id)
{
	struct hblb_backend rec = { 0 };

	if (bpf_map_update_elem(fd_of(c->h.skel->maps.hblb_backends), &id, &rec, BPF_ANY))
		return -errno;
	return 0;
}

static void rebuild_vip_bits(struct ctl *c)
{
	__u64 bits[HBLB_VIP_BITS / 64] = { 0 };

	for (__u32 s = 0; s < c->h.max_services; s++) {
		if (c->svcs[s].used) {
			__u32 b = hblb_vip_bit(c->svcs[s].key.vip);

			bits[b / 64] |= 1ull << (b % 64);
		}
	}
	/* bits still in use are set in both old and new words: never cleared */
	for (__u32 w = 0; w < HBLB_VIP_BITS / 64; w++)
		__atomic_store_n(&c->h.vip_bits[w], bits[w], __ATOMIC_RELEASE);
}

static void install_empty(struct ctl *c, __u32 svc_id)
{
	memset(c->table, 0xff, c->h.cfg.table_size * sizeof(*c->table));
	hblb_table_install(&c->h, svc_id, c->table);
}

/* ---- services ---------------------------------------------------------------- */

static int find_service(const struct ctl *c, const struct hblb_service_key *k)
{
	for (__u32 s = 0; s < c->h.max_services; s++)
		if (c->svcs[s].used && memcmp(&c->svcs[s].key, k, sizeof(*k)) == 0)
			return s;
	return -ENOENT;
}

static int add_service(struct ctl *c, const struct hblb_service_key *k,
		       const struct hblb_cfg_service *cfg)
{
	struct hblb_service v = { 0 };
	char name[64];
	__u32 s;

	for (s = 0; s < c->h.max_services && c->svcs[s].used; s++)
		;
	if (s == c->h.max_services) {
		pr_err("service %s: all %u service slots are in use: remove one, or restart with a larger --max-services",
		       svc_name(k, name, sizeof(name)), c->h.max_services);
		return -ENOSPC;
	}
	c->svcs[s] = (struct ctl_service){ .used = true, .dirty = true, .key = *k, .cfg = *cfg };
	/* a table, then the filter bit, then the service: never one without the other */
	install_empty(c, s);
	install_empty(c, s);
	hblb_vip_mark(&c->h, k->vip);
	v.id = s;
	if (bpf_map_update_elem(fd_of(c->h.skel->maps.hblb_services), k, &v, BPF_ANY)) {
		int err = -errno;

		pr_err("service %s: cannot add it to the data path: %s", svc_name(k, name, sizeof(name)),
		       strerror(-err));
		c->svcs[s].used = false;
		return err;
	}
	pr_info("service %s added as id %u", svc_name(k, name, sizeof(name)), s);
	return s;
}

static void remove_backend(struct ctl *c, __u32 id, __u64 now);

static void remove_service(struct ctl *c, __u32 s, __u64 now)
{
	char name[64];

	bpf_map_delete_elem(fd_of(c->h.skel->maps.hblb_services), &c->svcs[s].key);
	for (__u32 id = 0; id < HBLB_MAX_BACKENDS; id++)
		if (c->bes[id].used && c->bes[id].svc_id == s)
			remove_backend(c, id, now);
	c->svcs[s].used = false;
	install_empty(c, s);
	rebuild_vip_bits(c);
	pr_info("service %s removed", svc_name(&c->svcs[s].key, name, sizeof(name)));
}

/* ---- reals --------------------------------------------------------------------- */

static int get_real(struct ctl *c, __be32 addr)
{
	struct hblb_hb_record zero[c->ncpus];
	struct hblb_real v = { 0 };
	__u32 r, free_id = HBLB_MAX_REALS;

	for (r = 0; r < c->reals_hi; r++) {
		if (c->reals[r].refs && c->reals[r].addr == addr) {
			c->reals[r].refs++;
			return r;
		}
		if (!c->reals[r].refs && free_id == HBLB_MAX_REALS)
			free_id = r;
	}
	if (free_id == HBLB_MAX_REALS)
		free_id = c->reals_hi;
	if (free_id >= HBLB_MAX_REALS)
		return -ENOSPC;
	/* a new real starts from zero, not from a previous owner's counts */
	memset(zero, 0, sizeof(zero));
	bpf_map_update_elem(fd_of(c->h.skel->maps.hblb_hb), &free_id, zero, BPF_ANY);
	v.id = free_id;
	if (bpf_map_update_elem(fd_of(c->h.skel->maps.hblb_reals), &addr, &v, BPF_ANY))
		return -errno;
	c->reals[free_id] = (struct ctl_real){ .addr = addr, .refs = 1 };
	if (free_id >= c->reals_hi)
		c->reals_hi = free_id + 1;
	return free_id;
}

static void put_real(struct ctl *c, __u32 r)
{
	if (--c->reals[r].refs)
		return;
	bpf_map_delete_elem(fd_of(c->h.skel->maps.hblb_reals), &c->reals[r].addr);
	while (c->reals_hi && !c->reals[c->reals_hi - 1].refs)
		c->reals_hi--;
}

/* ---- backends ---------------------------------------------------------------- */

/* The neighbour table's entry for addr, as /proc/net/arp shows it. */
static bool neigh_mac(__be32 addr, __u8 *mac)
{
	char line[256], ip[64], hw[64], want[INET_ADDRSTRLEN];
	unsigned int m[6], type, flags;
	bool found = false;
	FILE *f = fopen("/proc/net/arp", "r");

	if (!f)
		return false;
	inet_ntop(AF_INET, &addr, want, sizeof(want));
	while (!found && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s 0x%x 0x%x %63s", ip, &type, &flags, hw) != 4 ||
		    strcmp(ip, want) || !(flags & 0x2) /* ATF_COM: resolved */)
			continue;
		if (sscanf(hw, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) == 6) {
			for (int i = 0; i < 6; i++)
				mac[i] = m[i];
			found = true;
		}
	}
	fclose(f);
	return found;
}

/* Makes the kernel resolve addr: a zero-length datagram to the discard port. */
static void neigh_poke(__be32 addr)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = addr };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return;
	sendto(fd, "", 0, 0, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
}

static void resolve_mac(struct ctl_backend *be)
{
	if (be->cfg.flags & HBLB_BECFG_MAC) {
		memcpy(be->mac, be->cfg.mac, 6);
		be->have_mac = true;
		return;
	}
	be->have_mac = neigh_mac(be->key.addr, be->mac);
	if (!be->have_mac)
		neigh_poke(be->key.addr);
}

static int find_backend(const struct ctl *c, const struct hblb_cfg_backend_key *k)
{
	for (__u32 id = 0; id < HBLB_MAX_BACKENDS; id++)
		if (c->bes[id].used && memcmp(&c->bes[id].key, k, sizeof(*k)) == 0)
			return id;
	return -ENOENT;
}

static void add_check(struct ctl *c, __u32 id, __u64 now)
{
	struct ctl_backend *be = &c->bes[id];
	struct check_spec spec = { 0 };

	be->check_up = be->cfg.check_type == HBLB_CHECK_NONE;
	if (!c->checker || be->cfg.check_type == HBLB_CHECK_NONE)
		return;
	/* zero fields take the checker's defaults */
	spec.type = be->cfg.check_type;
	spec.addr = be->key.addr;
	spec.port = be->cfg.check_port;
	if (be->cfg.check_path[0])
		snprintf(spec.path, sizeof(spec.path), "%.*s", HBLB_CHECK_PATH_LEN, be->cfg.check_path);
	if (checker_add(c->checker, id, &spec, now))
		pr_warn("backend id %u: cannot start its active check", id);
}

static void health_start(struct ctl *c, struct ctl_backend *be, bool start_up, __u64 now)
{
	struct health_params p = c->o.health;

	p.start_up = start_up;
	health_init(&be->health, &p, now);
	health_set_uses_hb(&be->health, be->cfg.flags & HBLB_BECFG_HEARTBEAT);
	health_set_has_check(&be->health, be->cfg.check_type != HBLB_CHECK_NONE);
	if (be->cfg.flags & HBLB_BECFG_HEARTBEAT)
		health_observe_hb(&be->health, c->reals[be->real_id].hb.count,
				  c->reals[be->real_id].hb.last_ns, now);
	weight_init(&be->wstate, 0);    /* static weights bypass it: effective_weight */
}

static __u32 alloc_backend_id(struct ctl *c, __u64 now)
{
	static __u32 next;      /* round robin: a freed id is the last to come back */

	for (__u32 i = 0; i < HBLB_MAX_BACKENDS; i++) {
		__u32 id = (next + i) % HBLB_MAX_BACKENDS;
		const struct ctl_backend *be = &c->bes[id];

		if (!be->used && (!be->freed_at || now - be->freed_at >= BACKEND_QUARANTINE_NS)) {
			next = id + 1;
			return id;
		}
	}
	return HBLB_MAX_BACKENDS;
}

static int add_backend(struct ctl *c, const struct hblb_cfg_backend_key *k,
		       const struct hblb_cfg_backend *cfg, __u64 now)
{
	int s = find_service(c, &k->service), r;
	struct ctl_backend *be;
	char name[96];
	__u32 id;

	if (s < 0)
		return s;       /* the CLI adds services first; next sync */
	id = alloc_backend_id(c, now);
	if (id == HBLB_MAX_BACKENDS) {
		pr_err("no free backend id (%u in use or quarantined)", HBLB_MAX_BACKENDS);
		return -ENOSPC;
	}
	be = &c->bes[id];
	memset(be, 0, sizeof(*be));
	be->key = *k;
	be->cfg = *cfg;
	r = get_real(c, k->addr);
	if (r < 0) {
		pr_err("backend %s: no free real id", be_name(be, name, sizeof(name)));
		return r;
	}
	be->used = true;
	be->real_id = r;
	be->svc_id = s;
	be->dp_state = HBLB_BE_DOWN;
	resolve_mac(be);
	health_start(c, be, c->o.health.start_up, now);
	add_check(c, id, now);
	/* complete and down before any table can name it */
	write_backend(c, id, HBLB_BE_DOWN);
	pr_info("backend %s added as id %u", be_name(be, name, sizeof(name)), id);
	return id;
}

/* Out of the table first (its service is rebuilt), then cleared. */
static void remove_backend(struct ctl *c, __u32 id, __u64 now)
{
	struct ctl_backend *be = &c->bes[id];
	char name[96];

	pr_info("backend %s removed", be_name(be, name, sizeof(name)));
	be->used = false;
	be->freed_at = now ? now : 1;
	if (c->checker && be->cfg.check_type != HBLB_CHECK_NONE)
		checker_del(c->checker, id);
	put_real(c, be->real_id);
	if (c->svcs[be->svc_id].used)
		c->svcs[be->svc_id].dirty = true;
	be->dp_state = HBLB_BE_DOWN;
	be->pending_clear = true;       /* after the table no longer names it */
}

/* ---- configuration ------------------------------------------------------------- */

static bool config_changed(struct ctl *c)
{
	__u64 gen = 0;
	__u32 zero = 0;

	bpf_map_lookup_elem(fd_of(c->h.skel->maps.hblb_cfg_gen), &zero, &gen);
	if (c->cfg_seen && gen == c->cfg_gen)
		return false;
	c->cfg_gen = gen;
	c->cfg_seen = true;
	return true;
}

static void sync_config(struct ctl *c, __u64 now)
{
	int svc_fd = fd_of(c->h.skel->maps.hblb_cfg_svcs);
	int be_fd = fd_of(c->h.skel->maps.hblb_cfg_bes);
	struct hblb_service_key sk, *sprev = NULL;
	struct hblb_cfg_backend_key bk, *bprev = NULL;
	struct hblb_cfg_service scfg;
	struct hblb_cfg_backend bcfg;
	bool *svc_seen = calloc(c->h.max_services, sizeof(bool));
	bool *be_seen = calloc(HBLB_MAX_BACKENDS, sizeof(bool));
	int s, id;

	if (!svc_seen || !be_seen) {
		pr_err("configuration sync: out of memory");
		goto out;
	}
	while (bpf_map_get_next_key(svc_fd, sprev, &sk) == 0) {
		sprev = &sk;
		if (bpf_map_lookup_elem(svc_fd, &sk, &scfg))
			continue;
		s = find_service(c, &sk);
		if (s < 0)
			s = add_service(c, &sk, &scfg);
		if (s < 0)
			continue;
		if (c->svcs[s].cfg.flags != scfg.flags)
			c->svcs[s].dirty = true;
		c->svcs[s].cfg = scfg;
		svc_seen[s] = true;
	}
	for (s = 0; s < (int)c->h.max_services; s++)
		if (c->svcs[s].used && !svc_seen[s])
			remove_service(c, s, now);

	while (bpf_map_get_next_key(be_fd, bprev, &bk) == 0) {
		bprev = &bk;
		if (bpf_map_lookup_elem(be_fd, &bk, &bcfg))
			continue;
		id = find_backend(c, &bk);
		if (id < 0) {
			id = add_backend(c, &bk, &bcfg, now);
		} else if (memcmp(&c->bes[id].cfg, &bcfg, sizeof(bcfg)) != 0) {
			struct ctl_backend *be = &c->bes[id];
			bool check_changed = be->cfg.check_type != bcfg.check_type ||
					     be->cfg.check_port != bcfg.check_port ||
					     strncmp(be->cfg.check_path, bcfg.check_path, HBLB_CHECK_PATH_LEN);

			if (check_changed && c->checker && be->cfg.check_type != HBLB_CHECK_NONE)
				checker_del(c->checker, id);
			if ((be->cfg.flags ^ bcfg.flags) & HBLB_BECFG_HEARTBEAT)
				health_set_uses_hb(&be->health, bcfg.flags & HBLB_BECFG_HEARTBEAT);
			be->cfg = bcfg;
			if (check_changed) {
				health_set_has_check(&be->health, bcfg.check_type != HBLB_CHECK_NONE);
				add_check(c, id, now);
			}
			resolve_mac(be);
			c->svcs[be->svc_id].dirty = true;
		}
		if (id >= 0)
			be_seen[id] = true;
	}
	for (id = 0; id < HBLB_MAX_BACKENDS; id++)
		if (c->bes[id].used && !be_seen[id])
			remove_backend(c, id, now);
out:
	free(svc_seen);
	free(be_seen);
}

/* ---- adopting what a previous controller left ----------------------------------- */

static void adopt(struct ctl *c, __u64 now)
{
	int svc_fd = fd_of(c->h.skel->maps.hblb_services);
	int real_fd = fd_of(c->h.skel->maps.hblb_reals);
	int be_fd = fd_of(c->h.skel->maps.hblb_backends);
	struct hblb_service_key sk, *sprev = NULL;
	struct hblb_service sv;
	__be32 addr, *aprev = NULL;
	struct hblb_real rv;
	__u32 n_svc = 0, n_be = 0;

	while (bpf_map_get_next_key(svc_fd, sprev, &sk) == 0) {
		sprev = &sk;
		if (bpf_map_lookup_elem(svc_fd, &sk, &sv) || sv.id >= c->h.max_services)
			continue;
		c->svcs[sv.id] = (struct ctl_service){ .used = true, .key = sk };
		n_svc++;
	}
	while (bpf_map_get_next_key(real_fd, aprev, &addr) == 0) {
		aprev = &addr;
		if (bpf_map_lookup_elem(real_fd, &addr, &rv) || rv.id >= HBLB_MAX_REALS)
			continue;
		c->reals[rv.id].addr = addr;
		if (rv.id >= c->reals_hi)
			c->reals_hi = rv.id + 1;
	}
	for (__u32 id = 0; id < HBLB_MAX_BACKENDS; id++) {
		struct hblb_backend rec;
		struct ctl_backend *be = &c->bes[id];

		if (bpf_map_lookup_elem(be_fd, &id, &rec) || (!rec.service.vip && !rec.service.port))
			continue;
		if (rec.service_id >= c->h.max_services || !c->svcs[rec.service_id].used ||
		    rec.real_id >= HBLB_MAX_REALS || c->reals[rec.real_id].addr != rec.addr) {
			/* an orphan no table names: no flow may follow it */
			clear_backend(c, id);
			continue;
		}
		memset(be, 0, sizeof(*be));
		be->used = true;
		be->key.service = rec.service;
		be->key.addr = rec.addr;
		be->svc_id = rec.service_id;
		be->real_id = rec.real_id;
		be->dp_state = rec.state;
		memcpy(be->mac, rec.mac, 6);
		be->have_mac = true;
		c->reals[rec.real_id].refs++;
		n_be++;
	}
	/* reals no adopted backend uses are the config sync's to recreate */
	for (__u32 r = 0; r < c->reals_hi; r++)
		if (c->reals[r].addr && !c->reals[r].refs)
			bpf_map_delete_elem(real_fd, &c->reals[r].addr);
	while (c->reals_hi && !c->reals[c->reals_hi - 1].refs)
		c->reals_hi--;
	if (n_svc || n_be)
		pr_info("adopted %u services and %u backends from the pinned maps", n_svc, n_be);
	(void)now;
}

/* Adopted backends get their configuration and health from the first sync:
 * one that was up stays up (a restart must not drop it). */
static void adopt_finish(struct ctl *c, __u64 now)
{
	int be_fd = fd_of(c->h.skel->maps.hblb_cfg_bes);
	int svc_fd = fd_of(c->h.skel->maps.hblb_cfg_svcs);

	for (__u32 s = 0; s < c->h.max_services; s++)
		if (c->svcs[s].used)
			bpf_map_lookup_elem(svc_fd, &c->svcs[s].key, &c->svcs[s].cfg);
	for (__u32 id = 0; id < HBLB_MAX_BACKENDS; id++) {
		struct ctl_backend *be = &c->bes[id];

		if (!be->used)
			continue;
		if (bpf_map_lookup_elem(be_fd, &be->key, &be->cfg))
			continue;       /* gone from the configuration: the sync removes it */
		if (be->cfg.flags & HBLB_BECFG_MAC)
			memcpy(be->mac, be->cfg.mac, 6);
		health_start(c, be, be->dp_state != HBLB_BE_DOWN, now);
		add_check(c, id, now);
		if (be->dp_state != HBLB_BE_DOWN)
			be->check_up = true;    /* as it was, until the check says otherwise */
	}
}

/* ---- heartbeats and checks ------------------------------------------------------ */

static int read_heartbeats(struct ctl *c)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	__u32 n = c->reals_hi, out = 0, *keys;
	size_t stride = (sizeof(struct hblb_hb_record) + 7) & ~7ul;
	int err;

	if (!n)
		return 0;
	keys = calloc(n, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	err = bpf_map_lookup_batch(fd_of(c->h.skel->maps.hblb_hb), NULL, &out, keys, c->hbbuf, &n, &opts);
	if (err && errno != ENOENT) {
		err = -errno;
		free(keys);
		return err;
	}
	for (__u32 i = 0; i < n; i++) {
		struct ctl_real *r = &c->reals[keys[i]];
		struct hblb_hb_record sum = { 0 };

		for (int cpu = 0; cpu < c->ncpus; cpu++) {
			const struct hblb_hb_record *rec =
				(const void *)((const char *)c->hbbuf + (i * c->ncpus + cpu) * stride);

			sum.count += rec->count;
			if (rec->count && rec->last_ns >= sum.last_ns) {
				sum.last_ns = rec->last_ns;
				sum.ready = rec->ready;
				sum.busy = rec->busy;
				sum.port = rec->port;
			}
		}
		r->hb = sum;
	}
	free(keys);
	return 0;
}

static void on_check(void *arg, __u32 id, bool up, const char *why)
{
	struct ctl *c = arg;
	char name[96];

	if (id >= HBLB_MAX_BACKENDS || !c->bes[id].used)
		return;
	c->bes[id].check_up = up;
	pr_info("backend %s: active check %s (%s)", be_name(&c->bes[id], name, sizeof(name)),
		up ? "passes" : "fails", why);
}

/* ---- the step ---------------------------------------------------------------------- */

static __u32 effective_weight(struct ctl_backend *be, const struct ctl_real *r)
{
	if (be->cfg.weight)
		return be->cfg.weight;
	if (be->cfg.flags & HBLB_BECFG_HEARTBEAT)
		return weight_from_heartbeat(&be->wstate, r->hb.ready, r->hb.busy);
	return 1;
}

static __u8 desired_state(const struct ctl_backend *be)
{
	if (be->health.state != HEALTH_UP || !be->have_mac)
		return HBLB_BE_DOWN;
	if ((be->cfg.flags & HBLB_BECFG_DRAIN) || be->weight == 0)
		return HBLB_BE_DRAINING;
	return HBLB_BE_UP;
}

static int rebuild_service(struct ctl *c, __u32 s)
{
	struct ctl_service *svc = &c->svcs[s];
	__u32 n = 0, m = c->h.cfg.table_size;
	const __u16 *active;
	char name[64], t[40];
	int err;

	for (__u32 id = 0; id < HBLB_MAX_BACKENDS; id++) {
		const struct ctl_backend *be = &c->bes[id];

		if (be->used && be->svc_id == s && desired_state(be) == HBLB_BE_UP) {
			c->mb[n].key = ((__u64)ntohl(be->key.addr) << 16) | ntohs(be->key.service.port);
			c->mb[n].weight = be->weight;
			c->mb[n].id = id;
			n++;
		}
	}
	if (n == 0) {
		bool closed = c->o.fail_closed || (svc->cfg.flags & HBLB_SVC_FAIL_CLOSED);

		if (!closed && svc->table_live) {
			if (!svc->kept_last)
				pr_warn("service %s: EVERY BACKEND IS DOWN; keeping the last table (fail-open) at %s",
					svc_name(&svc->key, name, sizeof(name)), wall_time(t, sizeof(t)));
			svc->kept_last = true;
			return 0;
		}
		if (svc->table_live)
			pr_warn("service %s: every backend is down; table emptied (fail-closed) at %s",
				svc_name(&svc->key, name, sizeof(name)), wall_time(t, sizeof(t)));
		memset(c->table, 0xff, m * sizeof(*c->table));
	} else {
		if (svc->kept_last)
			pr_info("service %s: %u backend%s up again, leaving fail-open",
				svc_name(&svc->key, name, sizeof(name)), n, n == 1 ? "" : "s");
		svc->kept_last = false;
		err = maglev_build(c->mb, n, m, c->table, &c->ws);
		if (err) {
			pr_err("service %s: cannot build its table: %s",
			       svc_name(&svc->key, name, sizeof(name)), strerror(-err));
			return err;
		}
	}
	active = hblb_table_active(&c->h, s);
	if (memcmp(active, c->table, m * sizeof(*c->table)) == 0)
		return 0;
	err = hblb_table_install(&c->h, s, c->table);
	if (err)
		return err;
	svc->table_live = n > 0;
	c->stats.installs++;
	return 0;
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int ctl_tick(struct ctl *c, __u64 now, bool force_config)
{
	__u8 next[HBLB_MAX_BACKENDS];
	char name[96], t[40];
	__u64 t0;
	int err;

	if (config_changed(c) || force_config)
		sync_config(c, now);
	err = read_heartbeats(c);
	if (err)
		pr_warn("cannot read heartbeat records: %s", strerror(-err));
	if (c->checker)
		checker_run(c->checker, now, on_check, c);

	/* evaluate; phase 1: what becomes usable is published before any
	 * table names it */
	for (__u32 id = 0; id < HBLB_MAX_BACKENDS; id++) {
		struct ctl_backend *be = &c->bes[id];
		const struct ctl_real *r;
		struct health_event ev;
		__u32 w;

		next[id] = HBLB_BE_DOWN;
		if (!be->used)
			continue;
		r = &c->reals[be->real_id];
		if (!be->have_mac)
			resolve_mac(be);
		if (be->cfg.flags & HBLB_BECFG_HEARTBEAT)
			health_observe_hb(&be->health, r->hb.count, r->hb.last_ns, now);
		if (be->cfg.check_type != HBLB_CHECK_NONE)
			health_set_check(&be->health, be->check_up);
		if (health_tick(&be->health, now, &ev)) {
			c->stats.state_changes++;
			log_msg(ev.new_state == HEALTH_UP ? LOG_INFO : LOG_WARN,
				"backend %s: %s -> %s (%s) at %s", be_name(be, name, sizeof(name)),
				health_state_name(ev.old_state), health_state_name(ev.new_state),
				ev.detail[0] ? ev.detail : ev.reason, wall_time(t, sizeof(t)));
		}
		w = effective_weight(be, r);
		if (w != be->weight) {
			be->weight = w;
			c->svcs[be->svc_id].dirty = true;
		}
		next[id] = desired_state(be);
		if (next[id] != be->dp_state) {
			c->svcs[be->svc_id].dirty = true;
			if (next[id] != HBLB_BE_DOWN) {
				pr_debug("backend id %u: %s -> %s", id, ctl_state_name(be->dp_state),
					 ctl_state_name(next[id]));
				write_backend(c, id, next[id]);
			}
		}
	}

	/* phase 2: whole tables, one flip each */
	t0 = mono_ns();
	for (__u32 s = 0; s < c->h.max_services; s++) {
		if (c->svcs[s].used && c->svcs[s].dirty) {
			if (rebuild_service(c, s) == 0)
				c->svcs[s].dirty = false;
		}
	}
	c->stats.last_install_ns = mono_ns() - t0;

	/* phase 3: what is no longer usable is withdrawn after the tables
	 * stopped naming it; its pinned flows then re-steer */
	for (__u32 id = 0; id < HBLB_MAX_BACKENDS; id++) {
		struct ctl_backend *be = &c->bes[id];

		if (be->used && next[id] == HBLB_BE_DOWN && be->dp_state != HBLB_BE_DOWN)
			write_backend(c, id, HBLB_BE_DOWN);
		if (!be->used && be->pending_clear) {
			clear_backend(c, id);
			be->pending_clear = false;
		}
	}
	return 0;
}

__u64 ctl_next_deadline(const struct ctl *c)
{
	__u64 next = UINT64_MAX, d;

	for (__u32 id = 0; id < HBLB_MAX_BACKENDS; id++) {
		if (!c->bes[id].used)
			continue;
		d = health_next_event(&c->bes[id].health);
		if (d < next)
			next = d;
	}
	if (c->checker) {
		d = checker_next_deadline(c->checker);
		if (d < next)
			next = d;
	}
	return next;
}

int ctl_check_fd(const struct ctl *c)
{
	return c->checker ? checker_fd(c->checker) : -1;
}

int ctl_open(struct ctl *c, const struct hblb_load_opts *lo, const struct ctl_opts *o, __u64 now)
{
	int err;

	memset(c, 0, sizeof(*c));
	c->o = *o;
	err = hblb_open(&c->h, lo);
	if (err)
		return err;
	c->ncpus = libbpf_num_possible_cpus();
	c->svcs = calloc(c->h.max_services, sizeof(*c->svcs));
	c->bes = calloc(HBLB_MAX_BACKENDS, sizeof(*c->bes));
	c->reals = calloc(HBLB_MAX_REALS, sizeof(*c->reals));
	c->mb = calloc(HBLB_MAX_BACKENDS, sizeof(*c->mb));
	c->table = calloc(c->h.cfg.table_size, sizeof(*c->table));
	c->hbbuf = calloc((size_t)HBLB_MAX_REALS * c->ncpus,
			  (sizeof(struct hblb_hb_record) + 7) & ~7ul);
	if (c->ncpus <= 0 || !c->svcs || !c->bes || !c->reals || !c->mb || !c->table || !c->hbbuf) {
		err = -ENOMEM;
		goto fail;
	}
	err = maglev_ws_init(&c->ws, HBLB_MAX_BACKENDS, c->h.cfg.table_size);
	if (err)
		goto fail;
	if (!o->no_checks) {
		c->checker = checker_new();
		if (!c->checker) {
			err = -errno ? -errno : -ENOMEM;
			goto fail;
		}
	}
	adopt(c, now);
	read_heartbeats(c);
	adopt_finish(c, now);
	/* a live table left by the previous controller is kept on fail-open */
	for (__u32 s = 0; s < c->h.max_services; s++) {
		const __u16 *t = hblb_table_active(&c->h, s);

		for (__u32 i = 0; c->svcs[s].used && i < c->h.cfg.table_size; i++) {
			if (t[i] != HBLB_BACKEND_NONE) {
				c->svcs[s].table_live = true;
				break;
			}
		}
	}
	err = ctl_tick(c, now, true);
	if (err)
		goto fail;
	return 0;
fail:
	pr_err("cannot start the controller: %s", strerror(-err));
	ctl_close(c);
	return err;
}

void ctl_close(struct ctl *c)
{
	if (c->checker)
		checker_free(c->checker);
	maglev_ws_free(&c->ws);
	free(c->svcs);
	free(c->bes);
	free(c->reals);
	free(c->mb);
	free(c->table);
	free(c->hbbuf);
	if (c->h.skel)
		hblb_close(&c->h);
	memset(c, 0, sizeof(*c));
}
