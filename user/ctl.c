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
#include "siphash.h"

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
		.flags = be->health.state == HEALTH_HELD ? HBLB_BE_F_HELD : 0,
		.weight = be->weight,
	};

	memcpy(rec.mac, be->mac, 6);
	if (bpf_map_update_elem(fd_of(c->h.skel->maps.hblb_backends), &id, &rec, BPF_ANY))
		return -errno;
	be->dp_state = state;
	be->held = rec.flags & HBLB_BE_F_HELD;
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

static void live_add(struct ctl *c, __u32 id)
{
	c->live[c->n_live++] = id;
	c->next_eval[id] = 0;
	c->be_real[id] = c->bes[id].real_id;
	c->be_svc[id] = c->bes[id].svc_id;
	c->be_usable_w[id] = 0;
	c->reals[c->bes[id].real_id].next_read = 0;
}

static void live_del(struct ctl *c, __u32 id)
{
	for (__u32 k = 0; k < c->n_live; k++) {
		if (c->live[k] == id) {
			c->live[k] = c->live[--c->n_live];
			break;
		}
	}
	c->be_usable_w[id] = 0;
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
	c->svcs[s] = (struct ctl_service){ .used = true, .dirty = true, .key = *k, .cfg = *cfg,
					   .members = c->svcs[s].members };
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
	for (__u32 k = c->n_live; k-- > 0;)
		if (k < c->n_live && c->be_svc[c->live[k]] == s)
			remove_backend(c, c->live[k], now);
	c->svcs[s].n_members = 0;
	c->svcs[s].used = false;
	install_empty(c, s);
	rebuild_vip_bits(c);
	pr_info("service %s removed", svc_name(&c->svcs[s].key, name, sizeof(name)));
}

/* ---- reals --------------------------------------------------------------------- */

static int get_real(struct ctl *c, __be32 addr, __u32 key_id)
{
	struct hblb_hb_record zero[c->ncpus];
	struct hblb_hb_seq seq0 = { 0 };
	struct hblb_real v = { .key_id = key_id };
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
	/* and from no sequence number: its sender is not the previous owner */
	bpf_map_update_elem(fd_of(c->h.skel->maps.hblb_hb_seq), &free_id, &seq0, BPF_ANY);
	v.id = free_id;
	/* with its key from the start: no moment where plain heartbeats count */
	if (bpf_map_update_elem(fd_of(c->h.skel->maps.hblb_reals), &addr, &v, BPF_ANY))
		return -errno;
	c->reals[free_id] = (struct ctl_real){ .addr = addr, .refs = 1, .key_id = key_id };
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

/* ---- heartbeat keys --------------------------------------------------------------
 * The CLI's hblb_cfg_keys (global, per service) become hblb_keys entries by
 * key id; each real points at the key its heartbeats must carry: the own
 * key of its lowest-id keyed service, else the global key, else none (the
 * CLI refuses configurations where a real's services disagree). Order:
 * a key is written before any real points at it, and cleared only after
 * none does. A key replaced in place (rollover) may be read half-written
 * by a packet in flight: that one heartbeat is refused, the next counts. */

static void key_from_cfg(const struct hblb_cfg_key *cfg, struct hblb_key *out)
{
	memset(out, 0, sizeof(*out));
	out->n_keys = cfg->n_keys > 2 ? 2 : cfg->n_keys;
	for (__u32 slot = 0; slot < out->n_keys; slot++)
		sip_key(cfg->key[slot], &out->k[slot][0], &out->k[slot][1]);
}

static int write_key(struct ctl *c, __u32 key_id, const struct hblb_key *k)
{
	if (bpf_map_update_elem(fd_of(c->h.skel->maps.hblb_keys), &key_id, k, BPF_ANY)) {
		int err = -errno;

		pr_err("cannot write heartbeat key %u: %s", key_id, strerror(-err));
		return err;
	}
	c->keys[key_id] = *k;
	return 0;
}

/* Reads the configured keys; writes the ones that are new or changed. */
static void keys_load(struct ctl *c)
{
	int cfg_fd = fd_of(c->h.skel->maps.hblb_cfg_keys);
	struct hblb_service_key global = { 0 };
	struct hblb_cfg_key cfg;

	for (__u32 id = HBLB_KEY_GLOBAL; id < c->n_key_ids; id++) {
		const struct hblb_service_key *target = &global;
		struct hblb_key *want = &c->want_keys[id];

		memset(want, 0, sizeof(*want));
		if (id != HBLB_KEY_GLOBAL) {
			if (!c->svcs[id - HBLB_KEY_SERVICE(0)].used)
				continue;
			target = &c->svcs[id - HBLB_KEY_SERVICE(0)].key;
		}
		if (bpf_map_lookup_elem(cfg_fd, target, &cfg) == 0)
			key_from_cfg(&cfg, want);
		memset(&cfg, 0, sizeof(cfg));
		if (want->n_keys && memcmp(want, &c->keys[id], sizeof(*want)))
			write_key(c, id, want);
	}
}

/* The key id a service's reals must use. */
static __u32 service_key_id(const struct ctl *c, __u32 s)
{
	if (c->want_keys[HBLB_KEY_SERVICE(s)].n_keys)
		return HBLB_KEY_SERVICE(s);
	return c->want_keys[HBLB_KEY_GLOBAL].n_keys ? HBLB_KEY_GLOBAL : HBLB_KEY_NONE;
}

/* Service keys first (lowest service id), then global, then none. */
static bool key_preferred(__u32 a, __u32 b)
{
	if (a >= HBLB_KEY_SERVICE(0) || b >= HBLB_KEY_SERVICE(0))
		return a >= HBLB_KEY_SERVICE(0) && (b < HBLB_KEY_SERVICE(0) || a < b);
	return a > b;
}

/* Points every real at its key, then clears the keys nothing uses. */
static void keys_apply(struct ctl *c)
{
	int real_fd = fd_of(c->h.skel->maps.hblb_reals);

	for (__u32 r = 0; r < c->reals_hi; r++)
		c->real_key[r] = HBLB_KEY_NONE;
	for (__u32 k = 0; k < c->n_live; k++) {
		__u32 id = c->live[k], r = c->be_real[id], want = service_key_id(c, c->be_svc[id]);

		if (key_preferred(want, c->real_key[r]))
			c->real_key[r] = want;
	}
	for (__u32 r = 0; r < c->reals_hi; r++) {
		struct hblb_real v = { .id = r, .key_id = c->real_key[r] };
		char a[INET_ADDRSTRLEN];

		if (!c->reals[r].refs || c->reals[r].key_id == v.key_id)
			continue;
		if (bpf_map_update_elem(real_fd, &c->reals[r].addr, &v, BPF_EXIST)) {
			pr_err("cannot set the heartbeat key of %s: %s",
			       inet_ntop(AF_INET, &c->reals[r].addr, a, sizeof(a)), strerror(errno));
			continue;
		}
		c->reals[r].key_id = v.key_id;
		inet_ntop(AF_INET, &c->reals[r].addr, a, sizeof(a));
		if (v.key_id == HBLB_KEY_NONE)
			pr_info("heartbeats from %s: plain ones accepted (no key)", a);
		else if (v.key_id == HBLB_KEY_GLOBAL)
			pr_info("heartbeats from %s: must be signed with the global key", a);
		else
			pr_info("heartbeats from %s: must be signed with the key of service %s", a,
				svc_name(&c->svcs[v.key_id - HBLB_KEY_SERVICE(0)].key, (char[64]){ 0 }, 64));
	}
	for (__u32 id = HBLB_KEY_GLOBAL; id < c->n_key_ids; id++) {
		static const struct hblb_key none;

		if (!c->want_keys[id].n_keys && c->keys[id].n_keys)
			write_key(c, id, &none);
	}
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
	for (__u32 i = 0; i < c->n_live; i++) {
		__u32 id = c->live[i];

		if (!memcmp(&c->bes[id].key, k, sizeof(*k)))
			return id;
	}
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
		char addr[INET_ADDRSTRLEN];

		/* ids freed less than the quarantine ago come back by then: read
		 * the configuration again at that point, or the backend would wait
		 * for the next unrelated change */
		inet_ntop(AF_INET, &k->addr, addr, sizeof(addr));
		if (!c->resync_at)
			pr_err("backend %s: no free backend id (%u in use or recently freed): "
			       "added when a freed id leaves quarantine (%llu s)", addr,
			       HBLB_MAX_BACKENDS, BACKEND_QUARANTINE_NS / 1000000000ull);
		c->resync_at = now + BACKEND_QUARANTINE_NS;
		return -ENOSPC;
	}
	be = &c->bes[id];
	memset(be, 0, sizeof(*be));
	be->key = *k;
	be->cfg = *cfg;
	r = get_real(c, k->addr, service_key_id(c, s));
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
	live_add(c, id);
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
	live_del(c, id);
	c->pending[c->n_pending++] = id;
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

/*
 * The desired configuration is written by the CLI, which checks every
 * field; anything else that writes the pinned maps (a damaged pin, a stray
 * tool) must not reach the data path. Returns NULL for a valid entry, or
 * what is wrong with it.
 */
static const char *cfg_service_invalid(const struct hblb_service_key *k,
				       const struct hblb_cfg_service *v)
{
	if (k->pad || (k->proto != IPPROTO_TCP && k->proto != IPPROTO_UDP) || !k->port || !k->vip)
		return "key is no ADDR:PORT/tcp|udp";
	if (v->flags & ~HBLB_SVC_FAIL_CLOSED || v->pad)
		return "unknown flags";
	return NULL;
}

static const char *cfg_backend_invalid(const struct hblb_cfg_backend_key *k,
				       const struct hblb_cfg_backend *v)
{
	const __u32 known = HBLB_BECFG_HEARTBEAT | HBLB_BECFG_DRAIN | HBLB_BECFG_MAC;

	if (cfg_service_invalid(&k->service, &(struct hblb_cfg_service){ 0 }) || k->pad || !k->addr ||
	    (ntohl(k->addr) >> 28) == 0xe)
		return "key is no service and unicast address";
	if (v->weight > 65535)
		return "weight above 65535";
	if (v->flags & ~known)
		return "unknown flags";
	if ((v->flags & HBLB_BECFG_MAC) && (v->mac[0] & 1))
		return "multicast MAC";
	if (v->check_type > HBLB_CHECK_HTTP)
		return "unknown check type";
	if (v->check_type != HBLB_CHECK_NONE && !v->check_port)
		return "check without a port";
	if (v->check_type == HBLB_CHECK_HTTP &&
	    (v->check_path[0] != '/' || !memchr(v->check_path, 0, HBLB_CHECK_PATH_LEN)))
		return "check path not '/...' within 64 bytes";
	return NULL;
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
	const char *why;
	char name[64];
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
		why = cfg_service_invalid(&sk, &scfg);
		if (why) {
			/* logged once per configuration change; a service already
			 * applied keeps what it had */
			pr_err("configuration entry for service %s is invalid (%s): ignored; "
			       "'hblb service del' and add it again", svc_name(&sk, name, sizeof(name)), why);
			if (s >= 0)
				svc_seen[s] = true;
			continue;
		}
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
	keys_load(c);

	while (bpf_map_get_next_key(be_fd, bprev, &bk) == 0) {
		bprev = &bk;
		if (bpf_map_lookup_elem(be_fd, &bk, &bcfg))
			continue;
		id = find_backend(c, &bk);
		why = cfg_backend_invalid(&bk, &bcfg);
		if (why) {
			char addr[INET_ADDRSTRLEN];

			inet_ntop(AF_INET, &bk.addr, addr, sizeof(addr));
			pr_err("configuration entry for backend %s of service %s is invalid (%s): "
			       "ignored; 'hblb backend del' and add it again", addr,
			       svc_name(&bk.service, name, sizeof(name)), why);
			if (id >= 0)
				be_seen[id] = true;
			continue;
		}
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
			c->next_eval[id] = 0;
		}
		if (id >= 0)
			be_seen[id] = true;
	}
	/* from the end: remove_backend moves the last live id into the hole */
	for (__u32 i = c->n_live; i-- > 0;)
		if (!be_seen[c->live[i]])
			remove_backend(c, c->live[i], now);
	keys_apply(c);
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
		c->svcs[sv.id] = (struct ctl_service){ .used = true, .key = sk,
						       .members = c->svcs[sv.id].members };
		n_svc++;
	}
	while (bpf_map_get_next_key(real_fd, aprev, &addr) == 0) {
		aprev = &addr;
		if (bpf_map_lookup_elem(real_fd, &addr, &rv) || rv.id >= HBLB_MAX_REALS)
			continue;
		c->reals[rv.id].addr = addr;
		c->reals[rv.id].key_id = rv.key_id;
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
		live_add(c, id);
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

/* Reads the records of the reals that are due: an up backend's real at
 * its death deadline (a heartbeat since then just moves the deadline), a
 * down one's every half interval (to see it rise). An idle controller so
 * reads each real about once per dead-after period, not every tick. */
static void read_due_reals(struct ctl *c, __u64 now, bool all)
{
	int fd = fd_of(c->h.skel->maps.hblb_hb);

	for (__u32 r = 0; r < c->reals_hi; r++) {
		struct ctl_real *real = &c->reals[r];
		struct hblb_hb_record sum = { 0 };

		if (!real->refs || (!all && real->next_read > now))
			continue;
		if (bpf_map_lookup_elem(fd, &r, c->hbbuf)) {
			real->next_read = now;  /* try again next tick */
			continue;
		}
		for (int cpu = 0; cpu < c->ncpus; cpu++) {
			const struct hblb_hb_record *rec = &c->hbbuf[cpu];

			sum.count += rec->count;
			if (rec->count && rec->last_ns >= sum.last_ns) {
				sum.last_ns = rec->last_ns;
				sum.ready = rec->ready;
				sum.busy = rec->busy;
				sum.port = rec->port;
			}
		}
		real->hb = sum;
		real->read_tick = c->tick_no;
		real->next_read = UINT64_MAX;   /* its backends say when, below */
		c->stats.hb_reads++;
	}
}

static void on_check(void *arg, __u32 id, bool up, const char *why)
{
	struct ctl *c = arg;
	char name[96];

	if (id >= HBLB_MAX_BACKENDS || !c->bes[id].used)
		return;
	c->bes[id].check_up = up;
	c->next_eval[id] = 0;
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

static int member_cmp(const void *a, const void *b)
{
	const struct ctl_member *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* The backends that belong in a service's table now, by id. */
static __u32 gather_members(struct ctl *c, __u32 s, struct ctl_member *out)
{
	__u32 n = 0;

	for (__u32 k = 0; k < c->n_live; k++) {
		__u32 id = c->live[k];

		if (c->be_svc[id] == s && c->be_usable_w[id])
			out[n++] = (struct ctl_member){ .id = id, .weight = c->be_usable_w[id] };
	}
	qsort(out, n, sizeof(*out), member_cmp);
	return n;
}

/* True when `now` is `before` less some members, the others unchanged. */
static bool only_losses(const struct ctl_member *before, __u32 nb, const struct ctl_member *now, __u32 nn)
{
	__u32 i = 0;

	if (nn == 0 || nn >= nb)
		return false;
	for (__u32 j = 0; j < nn; j++) {
		while (i < nb && before[i].id < now[j].id)
			i++;
		if (i == nb || before[i].id != now[j].id || before[i].weight != now[j].weight)
			return false;
	}
	return true;
}

static __u32 slot_mix(__u32 x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

/*
 * The live table with the slots of members that left handed to the others,
 * in proportion to their weights: what a backend's death costs within one
 * tick for any number of services (a full Maglev build is ~0.8 ms at
 * M = 65,537; 100 services would take 80 ms). Slots of the survivors do not
 * move. The exact table follows within the rebuild budget.
 */
#define PATCH_SEQ 4096     /* power of two */

static void patch_table(struct ctl *c, __u32 s, const struct ctl_member *m, __u32 n)
{
	const __u16 *active = hblb_table_active(&c->h, s);
	__u32 size = c->h.cfg.table_size;
	__u16 seq[PATCH_SEQ];
	__u64 total = 0;
	__u32 filled = 0, pos = 0;

	/* a weighted sequence of the survivors: each gets its share of the
	 * PATCH_SEQ entries (the rest in id order), laid out with an odd
	 * stride so shares interleave; a dead slot takes seq[hash(slot)].
	 * O(PATCH_SEQ + n), deterministic. */
	for (__u32 i = 0; i < n; i++) {
		total += m[i].weight;
		c->in_set[m[i].id] = true;
	}
	for (__u32 i = 0; i < n && filled < PATCH_SEQ; i++) {
		__u32 share = (__u32)(m[i].weight * (__u64)PATCH_SEQ / total);

		for (__u32 k = 0; k < share && filled < PATCH_SEQ; k++, filled++) {
			seq[pos] = m[i].id;
			pos = (pos + 2477) & (PATCH_SEQ - 1);
		}
	}
	for (__u32 i = 0; filled < PATCH_SEQ; i = (i + 1) % n, filled++) {
		seq[pos] = m[i].id;
		pos = (pos + 2477) & (PATCH_SEQ - 1);
	}
	memcpy(c->table, active, size * sizeof(*c->table));
	for (__u32 i = 0; i < size; i++) {
		__u16 id = c->table[i];

		if (id == HBLB_BACKEND_NONE || !c->in_set[id])
			c->table[i] = seq[slot_mix(i) & (PATCH_SEQ - 1)];
	}
	for (__u32 i = 0; i < n; i++)
		c->in_set[m[i].id] = false;
}

static int rebuild_service(struct ctl *c, __u32 s, bool allow_patch)
{
	struct ctl_service *svc = &c->svcs[s];
	struct ctl_member *m = c->scratch_members;
	__u32 n, m_size = c->h.cfg.table_size;
	bool patched = false;
	const __u16 *active;
	char name[64], t[40];
	int err;

	n = gather_members(c, s, m);
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
		memset(c->table, 0xff, m_size * sizeof(*c->table));
	} else {
		if (svc->kept_last)
			pr_info("service %s: %u backend%s up again, leaving fail-open",
				svc_name(&svc->key, name, sizeof(name)), n, n == 1 ? "" : "s");
		svc->kept_last = false;
		if (allow_patch && svc->table_live && only_losses(svc->members, svc->n_members, m, n)) {
			patch_table(c, s, m, n);
			patched = true;
		} else {
			struct maglev_backend *mb = c->mb;

			for (__u32 i = 0; i < n; i++) {
				const struct ctl_backend *be = &c->bes[m[i].id];

				mb[i].key = ((__u64)ntohl(be->key.addr) << 16) | ntohs(be->key.service.port);
				mb[i].weight = m[i].weight;
				mb[i].id = m[i].id;
			}
			err = maglev_build(mb, n, m_size, c->table, &c->ws);
			if (err) {
				/* said once, not every tick it is retried; the
				 * live table stays */
				if (err != svc->build_err && n > m_size)
					pr_err("service %s: cannot build its table: %u usable backends "
					       "do not fit a table of %u slots; the last table stays; "
					       "restart the daemon with a larger --table-size (a prime)",
					       svc_name(&svc->key, name, sizeof(name)), n, m_size);
				else if (err != svc->build_err)
					pr_err("service %s: cannot build its table: %s; the last "
					       "table stays", svc_name(&svc->key, name, sizeof(name)),
					       strerror(-err));
				svc->build_err = err;
				return err;
			}
			if (svc->build_err)
				pr_info("service %s: its table builds again",
					svc_name(&svc->key, name, sizeof(name)));
			svc->build_err = 0;
		}
	}
	svc->exact_pending = patched;
	if (patched)
		svc->patched_tick = c->tick_no;
	memcpy(svc->members, m, n * sizeof(*m));
	svc->n_members = n;
	active = hblb_table_active(&c->h, s);
	if (!patched && memcmp(active, c->table, m_size * sizeof(*c->table)) == 0)
		return 0;
	err = hblb_table_install(&c->h, s, c->table);
	if (err)
		return err;
	svc->table_live = n > 0;
	c->stats.installs++;
	c->stats.patched += patched;
	return 0;
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Exact rebuilds of patched tables may take this long per tick. */
#define EXACT_REBUILD_BUDGET_NS (5ull * 1000000)

static void evaluate(struct ctl *c, __u32 id, __u64 now, __u32 *n_down)
{
	bool reweighed;
	struct ctl_backend *be = &c->bes[id];
	struct ctl_real *r = &c->reals[be->real_id];
	struct health_event ev;
	char name[96], t[40];
	__u64 next;
	__u8 want;
	__u32 w;

	if (!be->have_mac)
		resolve_mac(be);
	if ((be->cfg.flags & HBLB_BECFG_HEARTBEAT) && r->read_tick == c->tick_no)
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
	reweighed = w != be->weight;
	if (reweighed) {
		be->weight = w;
		c->svcs[be->svc_id].dirty = true;
	}
	want = desired_state(be);
	c->be_usable_w[id] = want == HBLB_BE_UP ? be->weight : 0;
	if (want == be->dp_state && ((be->health.state == HEALTH_HELD) != be->held || reweighed))
		write_backend(c, id, want);     /* only the flag or weight: status shows it */
	if (want != be->dp_state) {
		c->svcs[be->svc_id].dirty = true;
		if (want != HBLB_BE_DOWN)
			write_backend(c, id, want);     /* published before a table names it */
		else
			c->to_down[(*n_down)++] = id;   /* withdrawn after the tables */
	}

	/* when to look again without news: a deadline or a hold's end; and
	 * when its real's record must be read */
	next = health_next_event(&be->health);
	if (!be->have_mac && next > now + 1000000000ull)
		next = now + 1000000000ull;
	c->next_eval[id] = next;
	if (be->cfg.flags & HBLB_BECFG_HEARTBEAT) {
		__u64 read_at = be->health.state == HEALTH_UP ? health_deadline(&be->health) :
				now + health_interval(&be->health) / 2;

		if (read_at < r->next_read)
			r->next_read = read_at;
	}
}

int ctl_tick(struct ctl *c, __u64 now, bool force_config)
{
	bool all = false;
	__u32 n_down = 0;
	__u64 t0;

	c->tick_no++;
	if (config_changed(c) || force_config || (c->resync_at && now >= c->resync_at)) {
		c->resync_at = 0;
		sync_config(c, now);
		all = true;
	}
	read_due_reals(c, now, all);
	if (c->checker)
		checker_run(c->checker, now, on_check, c);

	/* phase 1: evaluate what has news or is due */
	for (__u32 k = 0; k < c->n_live; k++) {
		__u32 id = c->live[k];

		if (all || c->next_eval[id] <= now || c->reals[c->be_real[id]].read_tick == c->tick_no)
			evaluate(c, id, now, &n_down);
	}

	/* phase 2: whole tables, one flip each; a death is patched in at once
	 * and rebuilt exactly within a per-tick budget */
	t0 = mono_ns();
	for (__u32 s = 0; s < c->h.max_services; s++) {
		if (c->svcs[s].used && c->svcs[s].dirty && rebuild_service(c, s, true) == 0)
			c->svcs[s].dirty = false;
	}
	c->stats.last_install_ns = mono_ns() - t0;
	for (__u32 s = 0; s < c->h.max_services && mono_ns() - t0 < EXACT_REBUILD_BUDGET_NS; s++) {
		if (c->svcs[s].used && c->svcs[s].exact_pending &&
		    c->svcs[s].patched_tick != c->tick_no)
			rebuild_service(c, s, false);
	}

	/* phase 3: what is no longer usable is withdrawn now that no table
	 * names it; its pinned flows then re-steer */
	for (__u32 i = 0; i < n_down; i++) {
		__u32 id = c->to_down[i];

		if (c->bes[id].used && c->bes[id].dp_state != HBLB_BE_DOWN)
			write_backend(c, id, HBLB_BE_DOWN);
	}
	for (__u32 i = 0; i < c->n_pending; i++) {
		__u32 id = c->pending[i];

		if (!c->bes[id].used && c->bes[id].pending_clear) {
			clear_backend(c, id);
			c->bes[id].pending_clear = false;
		}
	}
	c->n_pending = 0;
	return 0;
}

__u64 ctl_next_deadline(const struct ctl *c)
{
	__u64 next = UINT64_MAX, d;

	for (__u32 k = 0; k < c->n_live; k++) {
		d = c->next_eval[c->live[k]];
		if (d < next)
			next = d;
	}
	for (__u32 r = 0; r < c->reals_hi; r++)
		if (c->reals[r].refs && c->reals[r].next_read < next)
			next = c->reals[r].next_read;
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

/* GTSM and passing heartbeats on are the daemon's options: stored in
 * hblb_config at every start, so the last daemon's choice holds. */
static int set_cfg_flag(struct ctl *c, __u32 flag, bool on, const char *what)
{
	int fd = fd_of(c->h.skel->maps.hblb_config);
	struct hblb_config cfg;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(fd, &zero, &cfg))
		return -errno;
	if (!!(cfg.flags & flag) == on)
		return 0;
	cfg.flags = on ? cfg.flags | flag : cfg.flags & ~flag;
	if (bpf_map_update_elem(fd, &zero, &cfg, BPF_EXIST))
		return -errno;
	c->h.cfg = cfg;
	pr_info("%s", what);
	return 0;
}

static int set_daemon_flags(struct ctl *c)
{
	int err;

	err = set_cfg_flag(c, HBLB_CFG_GTSM, c->o.gtsm,
			   c->o.gtsm ? "GTSM on: heartbeats must arrive with TTL 255"
				     : "GTSM off: heartbeats may arrive with any TTL");
	if (err)
		return err;
	return set_cfg_flag(c, HBLB_CFG_PASS_HEARTBEATS, c->o.pass_heartbeats,
			    c->o.pass_heartbeats
				    ? "heartbeats are passed on to the host after counting"
				    : "heartbeats are consumed after counting");
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
	c->hbbuf = calloc(c->ncpus > 0 ? c->ncpus : 1, sizeof(struct hblb_hb_record));
	c->live = calloc(HBLB_MAX_BACKENDS, sizeof(*c->live));
	c->next_eval = calloc(HBLB_MAX_BACKENDS, sizeof(*c->next_eval));
	c->be_real = calloc(HBLB_MAX_BACKENDS, sizeof(*c->be_real));
	c->be_svc = calloc(HBLB_MAX_BACKENDS, sizeof(*c->be_svc));
	c->be_usable_w = calloc(HBLB_MAX_BACKENDS, sizeof(*c->be_usable_w));
	c->to_down = calloc(HBLB_MAX_BACKENDS, sizeof(*c->to_down));
	c->pending = calloc(HBLB_MAX_BACKENDS, sizeof(*c->pending));
	c->in_set = calloc(HBLB_MAX_BACKENDS, sizeof(*c->in_set));
	c->scratch_members = calloc(HBLB_MAX_BACKENDS, sizeof(*c->scratch_members));
	c->n_key_ids = HBLB_KEY_SERVICE(c->h.max_services);
	c->keys = calloc(c->n_key_ids, sizeof(*c->keys));
	c->want_keys = calloc(c->n_key_ids, sizeof(*c->want_keys));
	c->real_key = calloc(HBLB_MAX_REALS, sizeof(*c->real_key));
	if (c->ncpus <= 0 || !c->svcs || !c->bes || !c->reals || !c->mb || !c->table || !c->hbbuf ||
	    !c->live || !c->next_eval || !c->be_real || !c->be_svc || !c->be_usable_w ||
	    !c->to_down || !c->pending || !c->in_set || !c->scratch_members || !c->keys ||
	    !c->want_keys || !c->real_key) {
		err = -ENOMEM;
		goto fail;
	}
	for (__u32 s = 0; s < c->h.max_services; s++) {
		c->svcs[s].members = calloc(HBLB_MAX_BACKENDS, sizeof(struct ctl_member));
		if (!c->svcs[s].members) {
			err = -ENOMEM;
			goto fail;
		}
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
	/* what a previous controller left in hblb_keys */
	for (__u32 id = 0; id < c->n_key_ids; id++)
		bpf_map_lookup_elem(fd_of(c->h.skel->maps.hblb_keys), &id, &c->keys[id]);
	err = set_daemon_flags(c);
	if (err)
		goto fail;
	adopt(c, now);
	read_due_reals(c, now, true);
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
	for (__u32 s = 0; c->svcs && s < c->h.max_services; s++)
		free(c->svcs[s].members);
	maglev_ws_free(&c->ws);
	free(c->svcs);
	free(c->bes);
	free(c->reals);
	free(c->mb);
	free(c->table);
	free(c->hbbuf);
	free(c->live);
	free(c->next_eval);
	free(c->be_real);
	free(c->be_svc);
	free(c->be_usable_w);
	free(c->to_down);
	free(c->pending);
	free(c->in_set);
	free(c->scratch_members);
	if (c->keys)
		memset(c->keys, 0, c->n_key_ids * sizeof(*c->keys));
	if (c->want_keys)
		memset(c->want_keys, 0, c->n_key_ids * sizeof(*c->want_keys));
	free(c->keys);
	free(c->want_keys);
	free(c->real_key);
	if (c->h.skel)
		hblb_close(&c->h);
	memset(c, 0, sizeof(*c));
}
