// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * hblb service add|del|list and hblb backend add|del|drain|undrain|list:
 * the desired configuration, written into the hblb_cfg_* maps under the
 * configuration lock; the daemon applies it within one tick. Every
 * argument is checked before anything is written.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "cli.h"
#include "commands.h"
#include "log.h"

static void warn_no_daemon(const struct pins *p)
{
	/* a batch warns once, at its end */
	if (!p->borrowed && !daemon_running(p))
		pr_warn("no hblb daemon is running on %s: the change applies when one starts", p->dir);
}

static __u32 map_max_entries(int fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.max_entries;
}

/* Keys in a hash map whose keys fit in 64 bytes. */
static __u32 map_count(int fd)
{
	char key[64], prev[64];
	void *pk = NULL;
	__u32 n = 0;

	while (bpf_map_get_next_key(fd, pk, key) == 0) {
		memcpy(prev, key, sizeof(key));
		pk = prev;
		n++;
	}
	return n;
}

/* ---- service --------------------------------------------------------------- */

static int service_add(int argc, char **argv, struct global_opts *g)
{
	struct hblb_cfg_service v = { 0 };
	struct hblb_service_key k;
	char name[64];
	struct pins p;
	int err;

	if (argc < 1) {
		pr_err("usage: hblb service add ADDR:PORT[/tcp|/udp] [fail-closed]");
		return -EINVAL;
	}
	if (parse_service(argv[0], &k))
		return -EINVAL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "fail-closed")) {
			v.flags |= HBLB_SVC_FAIL_CLOSED;
		} else {
			pr_err("unknown option '%s' for service add: only 'fail-closed'", argv[i]);
			return -EINVAL;
		}
	}
	err = pins_open_locked(&p, g);
	if (err)
		return err;
	if (bpf_map_lookup_elem(p.cfg_svcs, &k, &(struct hblb_cfg_service){ 0 }) == 0) {
		pr_err("service %s already exists", service_str(&k, name, sizeof(name)));
		err = -EEXIST;
		goto out;
	}
	if (map_count(p.cfg_svcs) >= map_max_entries(p.cfg_svcs)) {
		pr_err("cannot add %s: all %u services are configured; delete one, or restart the daemon "
		       "with a larger --max-services on fresh pins", service_str(&k, name, sizeof(name)),
		       map_max_entries(p.cfg_svcs));
		err = -ENOSPC;
		goto out;
	}
	if (bpf_map_update_elem(p.cfg_svcs, &k, &v, BPF_NOEXIST)) {
		err = -errno;
		pr_err("cannot add %s: %s", service_str(&k, name, sizeof(name)), strerror(-err));
		goto out;
	}
	err = pins_bump(&p);
	warn_no_daemon(&p);
out:
	pins_close(&p);
	return err;
}

static int service_del(int argc, char **argv, struct global_opts *g)
{
	struct hblb_cfg_backend_key bk, prev, *pk = NULL;
	struct hblb_service_key k;
	struct hblb_cfg_service v;
	char name[64];
	struct pins p;
	int err;

	if (argc != 1) {
		pr_err("usage: hblb service del ADDR:PORT[/tcp|/udp]");
		return -EINVAL;
	}
	if (parse_service(argv[0], &k))
		return -EINVAL;
	err = pins_open_locked(&p, g);
	if (err)
		return err;
	if (bpf_map_lookup_elem(p.cfg_svcs, &k, &v)) {
		pr_err("no service %s: see 'hblb service list'", service_str(&k, name, sizeof(name)));
		err = -ENOENT;
		goto out;
	}
	/* its backends go with it */
	while (bpf_map_get_next_key(p.cfg_bes, pk, &bk) == 0) {
		if (!memcmp(&bk.service, &k, sizeof(k))) {
			bpf_map_delete_elem(p.cfg_bes, &bk);
			continue;       /* bk is gone: continue from the same predecessor */
		}
		prev = bk;
		pk = &prev;
	}
	bpf_map_delete_elem(p.cfg_keys, &k);   /* and its heartbeat key, if any */
	bpf_map_delete_elem(p.cfg_svcs, &k);
	err = pins_bump(&p);
	warn_no_daemon(&p);
out:
	pins_close(&p);
	return err;
}

struct be_view {
	struct hblb_cfg_backend_key key;
	struct hblb_cfg_backend cfg;
	struct hblb_backend rec;
	bool in_dp;
	__u32 id;
};

static int service_list(int argc, char **argv, struct global_opts *g)
{
	struct hblb_service_key k, prev, *pk = NULL;
	struct hblb_cfg_backend_key bk, bprev, *bpk = NULL;
	struct hblb_cfg_service v;
	struct json j;
	struct pins p;
	char name[64];
	int err, ncpus = libbpf_num_possible_cpus();

	(void)argv;
	if (argc) {
		pr_err("usage: hblb service list");
		return -EINVAL;
	}
	err = pins_open(&p, g);
	if (err)
		return err;
	if (g->json) {
		json_begin(&j, g->pretty);
		json_arr_open(&j, NULL);
	} else {
		printf("%-24s %5s %-12s %8s %12s %14s\n", "SERVICE", "ID", "FLAGS", "BACKENDS",
		       "PACKETS", "BYTES");
	}
	while (bpf_map_get_next_key(p.cfg_svcs, pk, &k) == 0) {
		struct hblb_service dp = { .id = ~0u };
		struct hblb_traffic tr[ncpus > 0 ? ncpus : 1], sum = { 0 };
		__u32 nbe = 0;
		bool live;

		prev = k;
		pk = &prev;
		if (bpf_map_lookup_elem(p.cfg_svcs, &k, &v))
			continue;
		live = bpf_map_lookup_elem(p.services, &k, &dp) == 0;
		if (live && bpf_map_lookup_elem(p.svc_stats, &dp.id, tr) == 0)
			for (int c = 0; c < ncpus; c++) {
				sum.packets += tr[c].packets;
				sum.bytes += tr[c].bytes;
			}
		bpk = NULL;
		while (bpf_map_get_next_key(p.cfg_bes, bpk, &bk) == 0) {
			bprev = bk;
			bpk = &bprev;
			nbe += !memcmp(&bk.service, &k, sizeof(k));
		}
		service_str(&k, name, sizeof(name));
		if (g->json) {
			char a[INET_ADDRSTRLEN];

			json_obj_open(&j, NULL);
			json_str(&j, "service", name);
			json_str(&j, "vip", ipv4_str(k.vip, a, sizeof(a)));
			json_u64(&j, "port", ntohs(k.port));
			json_str(&j, "proto", k.proto == IPPROTO_UDP ? "udp" : "tcp");
			if (live)
				json_u64(&j, "id", dp.id);
			json_bool(&j, "applied", live);
			json_bool(&j, "fail_closed", v.flags & HBLB_SVC_FAIL_CLOSED);
			json_u64(&j, "backends", nbe);
			json_u64(&j, "packets", sum.packets);
			json_u64(&j, "bytes", sum.bytes);
			json_obj_close(&j);
		} else {
			char id[16];

			snprintf(id, sizeof(id), live ? "%u" : "-", dp.id);
			printf("%-24s %5s %-12s %8u %12llu %14llu\n", name, id,
			       v.flags & HBLB_SVC_FAIL_CLOSED ? "fail-closed" : "fail-open", nbe,
			       (unsigned long long)sum.packets, (unsigned long long)sum.bytes);
		}
	}
	if (g->json) {
		json_arr_close(&j);
		json_end(&j);
	}
	pins_close(&p);
	return 0;
}

/* ---- backend ----------------------------------------------------------------- */

static int backend_key(int argc, char **argv, struct hblb_cfg_backend_key *k, const char *usage)
{
	memset(k, 0, sizeof(*k));
	if (argc < 2) {
		pr_err("usage: %s", usage);
		return -EINVAL;
	}
	if (parse_service(argv[0], &k->service) || parse_ipv4(argv[1], &k->addr))
		return -EINVAL;
	return 0;
}

#define BACKEND_ADD_USAGE \
	"hblb backend add SERVICE ADDR [weight N|heartbeat] [mac MAC] [check tcp PORT | check http PORT PATH]"

static int parse_backend_opts(int argc, char **argv, struct hblb_cfg_backend *v)
{
	bool weight_given = false, heartbeat_given = false;
	__u32 n;

	memset(v, 0, sizeof(*v));
	for (int i = 0; i < argc; i++) {
		const char *w = argv[i];

		if (!strcmp(w, "weight") && i + 1 < argc) {
			if (parse_uint(argv[++i], "weight", 1, 65535, &n))
				return -EINVAL;
			v->weight = n;
			weight_given = true;
		} else if (!strcmp(w, "heartbeat")) {
			heartbeat_given = true;
		} else if (!strcmp(w, "mac") && i + 1 < argc) {
			if (parse_mac(argv[++i], v->mac))
				return -EINVAL;
			v->flags |= HBLB_BECFG_MAC;
		} else if (!strcmp(w, "check") && i + 2 < argc) {
			const char *type = argv[++i];

			if (parse_uint(argv[++i], "check port", 1, 65535, &n))
				return -EINVAL;
			v->check_port = n;
			if (!strcmp(type, "tcp")) {
				v->check_type = HBLB_CHECK_TCP;
			} else if (!strcmp(type, "http") && i + 1 < argc) {
				const char *path = argv[++i];

				if (path[0] != '/' || strlen(path) >= HBLB_CHECK_PATH_LEN ||
				    strpbrk(path, " \t\r\n")) {
					pr_err("check path '%s' must start with '/', have no spaces and be shorter than %d",
					       path, HBLB_CHECK_PATH_LEN);
					return -EINVAL;
				}
				v->check_type = HBLB_CHECK_HTTP;
				strncpy(v->check_path, path, HBLB_CHECK_PATH_LEN - 1);
			} else {
				pr_err("check must be 'tcp PORT' or 'http PORT PATH'");
				return -EINVAL;
			}
		} else {
			pr_err("unknown or incomplete option '%s': usage: %s", w, BACKEND_ADD_USAGE);
			return -EINVAL;
		}
	}
	if (weight_given && heartbeat_given) {
		pr_err("give either 'weight N' (static) or 'heartbeat' (weight from ready), not both");
		return -EINVAL;
	}
	/* liveness: heartbeats unless the backend is checked and not said to beat */
	if (heartbeat_given || v->check_type == HBLB_CHECK_NONE)
		v->flags |= HBLB_BECFG_HEARTBEAT;
	return 0;
}

static int backend_add(int argc, char **argv, struct global_opts *g)
{
	struct hblb_cfg_backend_key k;
	struct hblb_cfg_backend v, old;
	char name[64], a[INET_ADDRSTRLEN];
	struct pins p;
	int err;

	if (backend_key(argc, argv, &k, BACKEND_ADD_USAGE) ||
	    parse_backend_opts(argc - 2, argv + 2, &v))
		return -EINVAL;
	err = pins_open_locked(&p, g);
	if (err)
		return err;
	if (bpf_map_lookup_elem(p.cfg_svcs, &k.service, &(struct hblb_cfg_service){ 0 })) {
		pr_err("no service %s: add it first with 'hblb service add'",
		       service_str(&k.service, name, sizeof(name)));
		err = -ENOENT;
		goto out;
	}
	if (bpf_map_lookup_elem(p.cfg_bes, &k, &old) == 0) {
		pr_err("backend %s already exists in %s: delete it first to change it",
		       ipv4_str(k.addr, a, sizeof(a)), service_str(&k.service, name, sizeof(name)));
		err = -EEXIST;
		goto out;
	}
	err = key_conflict_check(&p, NULL, NULL, &k);
	if (err)
		goto out;
	if (bpf_map_update_elem(p.cfg_bes, &k, &v, BPF_NOEXIST)) {
		err = -errno;
		if (err == -E2BIG || err == -ENOMEM)
			pr_err("cannot add backend %s: the backend map is full (%u): delete unused ones",
			       ipv4_str(k.addr, a, sizeof(a)), map_max_entries(p.cfg_bes));
		else
			pr_err("cannot add backend %s: %s", ipv4_str(k.addr, a, sizeof(a)), strerror(-err));
		goto out;
	}
	err = pins_bump(&p);
	warn_no_daemon(&p);
out:
	pins_close(&p);
	return err;
}

/* del, drain, undrain: an existing backend, changed under the lock. */
static int backend_change(int argc, char **argv, struct global_opts *g, const char *verb)
{
	struct hblb_cfg_backend_key k;
	struct hblb_cfg_backend v;
	char usage[96], name[64], a[INET_ADDRSTRLEN];
	struct pins p;
	int err;

	snprintf(usage, sizeof(usage), "hblb backend %s SERVICE ADDR", verb);
	if (backend_key(argc, argv, &k, usage))
		return -EINVAL;
	if (argc > 2) {
		pr_err("unexpected argument '%s': usage: %s", argv[2], usage);
		return -EINVAL;
	}
	err = pins_open_locked(&p, g);
	if (err)
		return err;
	if (bpf_map_lookup_elem(p.cfg_bes, &k, &v)) {
		pr_err("no backend %s in service %s: see 'hblb backend list'",
		       ipv4_str(k.addr, a, sizeof(a)), service_str(&k.service, name, sizeof(name)));
		err = -ENOENT;
		goto out;
	}
	if (!strcmp(verb, "del")) {
		err = bpf_map_delete_elem(p.cfg_bes, &k) ? -errno : 0;
	} else {
		if (!strcmp(verb, "drain"))
			v.flags |= HBLB_BECFG_DRAIN;
		else
			v.flags &= ~HBLB_BECFG_DRAIN;
		err = bpf_map_update_elem(p.cfg_bes, &k, &v, BPF_EXIST) ? -errno : 0;
	}
	if (!err)
		err = pins_bump(&p);
	if (err)
		pr_err("cannot %s backend: %s", verb, strerror(-err));
	warn_no_daemon(&p);
out:
	pins_close(&p);
	return err;
}

static const char *be_state(const struct be_view *b)
{
	if (!b->in_dp)
		return "pending";
	switch (b->rec.state) {
	case HBLB_BE_UP: return "up";
	case HBLB_BE_DRAINING: return "draining";
	default: return b->rec.flags & HBLB_BE_F_HELD ? "held" : "down";
	}
}

static int backend_list(int argc, char **argv, struct global_opts *g)
{
	struct hblb_cfg_backend_key k, prev, *pk = NULL;
	struct hblb_service_key only;
	bool filter = false;
	struct hblb_backend *recs = NULL;
	struct be_view *rows = NULL;
	size_t n_rows = 0, cap = 0;
	__u32 n_recs = 0, *ids = NULL;
	struct json j;
	struct pins p;
	int err;

	if (argc > 1) {
		pr_err("usage: hblb backend list [SERVICE]");
		return -EINVAL;
	}
	if (argc == 1) {
		if (parse_service(argv[0], &only))
			return -EINVAL;
		filter = true;
	}
	err = pins_open(&p, g);
	if (err)
		return err;
	if (filter && bpf_map_lookup_elem(p.cfg_svcs, &only, &(struct hblb_cfg_service){ 0 })) {
		char name[64];

		pr_err("no service %s: see 'hblb service list'", service_str(&only, name, sizeof(name)));
		pins_close(&p);
		return -ENOENT;
	}
	err = read_dp_backends(p.backends, &recs, &n_recs);
	if (err) {
		pr_err("cannot read %s: %s", HBLB_MAP_BACKENDS, strerror(-err));
		pins_close(&p);
		return err;
	}
	/* the configured backends, sorted as status lists them, each with the
	 * record that serves it (the same matching as status) */
	while (bpf_map_get_next_key(p.cfg_bes, pk, &k) == 0) {
		prev = k;
		pk = &prev;
		if (filter && memcmp(&k.service, &only, sizeof(only)))
			continue;
		if (n_rows == cap) {
			void *more = realloc(rows, (cap ? cap * 2 : 64) * sizeof(*rows));

			if (!more) {
				err = -ENOMEM;
				goto out;
			}
			rows = more;
			cap = cap ? cap * 2 : 64;
		}
		memset(&rows[n_rows], 0, sizeof(rows[n_rows]));
		rows[n_rows].key = k;
		if (bpf_map_lookup_elem(p.cfg_bes, &k, &rows[n_rows].cfg) == 0)
			n_rows++;
	}
	qsort(rows, n_rows, sizeof(*rows), be_key_cmp);
	ids = calloc(n_rows ? n_rows : 1, sizeof(*ids));
	if (!ids) {
		err = -ENOMEM;
		goto out;
	}
	match_dp_backends(recs, n_recs, rows, n_rows, sizeof(*rows), ids);

	if (g->json) {
		json_begin(&j, g->pretty);
		json_arr_open(&j, NULL);
	} else {
		printf("%-24s %-16s %-9s %-10s %-17s %s\n", "SERVICE", "ADDRESS", "STATE", "WEIGHT",
		       "MAC", "CHECK");
	}
	for (size_t r = 0; r < n_rows; r++) {
		struct be_view b = rows[r];
		char name[64], a[INET_ADDRSTRLEN], mac[18], weight[16], check[96];
		const __u8 *m;

		b.in_dp = ids[r] != HBLB_BACKEND_NONE;
		if (b.in_dp) {
			b.id = ids[r];
			b.rec = recs[b.id];
		}
		/* the configured MAC, else the one the daemon resolved, if any */
		m = (b.cfg.flags & HBLB_BECFG_MAC) ? b.cfg.mac :
		    b.in_dp && memcmp(b.rec.mac, "\0\0\0\0\0\0", 6) ? b.rec.mac : NULL;
		if (m)
			snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2],
				 m[3], m[4], m[5]);
		else
			strcpy(mac, "-");
		if (b.cfg.weight)
			snprintf(weight, sizeof(weight), "%u", b.cfg.weight);
		else
			strcpy(weight, "heartbeat");
		if (b.cfg.check_type == HBLB_CHECK_TCP)
			snprintf(check, sizeof(check), "tcp %u", b.cfg.check_port);
		else if (b.cfg.check_type == HBLB_CHECK_HTTP)
			snprintf(check, sizeof(check), "http %u %.*s", b.cfg.check_port,
				 HBLB_CHECK_PATH_LEN, b.cfg.check_path);
		else
			strcpy(check, "-");
		service_str(&b.key.service, name, sizeof(name));
		ipv4_str(b.key.addr, a, sizeof(a));
		if (g->json) {
			json_obj_open(&j, NULL);
			json_str(&j, "service", name);
			json_str(&j, "address", a);
			json_str(&j, "state", be_state(&b));
			if (b.in_dp)
				json_u64(&j, "id", b.id);
			if (b.cfg.weight)
				json_u64(&j, "weight", b.cfg.weight);
			else
				json_str(&j, "weight", "heartbeat");
			json_bool(&j, "heartbeat", b.cfg.flags & HBLB_BECFG_HEARTBEAT);
			json_bool(&j, "drain", b.cfg.flags & HBLB_BECFG_DRAIN);
			json_str(&j, "mac", mac);
			json_str(&j, "check", check);
			json_obj_close(&j);
		} else {
			printf("%-24s %-16s %-9s %-10s %-17s %s%s\n", name, a, be_state(&b), weight, mac,
			       check, b.cfg.flags & HBLB_BECFG_DRAIN ? " (drain)" : "");
		}
	}
	if (g->json) {
		json_arr_close(&j);
		json_end(&j);
	}
out:
	if (err)
		pr_err("cannot list backends: %s", strerror(-err));
	free(ids);
	free(rows);
	free(recs);
	pins_close(&p);
	return err;
}

static int backend_del(int argc, char **argv, struct global_opts *g) { return backend_change(argc, argv, g, "del"); }
static int backend_drain(int argc, char **argv, struct global_opts *g) { return backend_change(argc, argv, g, "drain"); }
static int backend_undrain(int argc, char **argv, struct global_opts *g) { return backend_change(argc, argv, g, "undrain"); }

const struct command service_commands[] = {
	{ "add", service_add, "ADDR:PORT[/tcp|/udp] [fail-closed]" },
	{ "del", service_del, "ADDR:PORT[/tcp|/udp]   (its backends go too)" },
	{ "list", service_list, "" },
	{ NULL, NULL, NULL },
};

const struct command backend_commands[] = {
	{ "add", backend_add, "SERVICE ADDR [weight N|heartbeat] [mac MAC] [check tcp PORT | check http PORT PATH]" },
	{ "del", backend_del, "SERVICE ADDR" },
	{ "drain", backend_drain, "SERVICE ADDR   (no new flows; established ones stay)" },
	{ "undrain", backend_undrain, "SERVICE ADDR" },
	{ "list", backend_list, "[SERVICE]" },
	{ NULL, NULL, NULL },
};
