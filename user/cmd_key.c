// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * hblb key generate|set|rollover|finish|del|list: heartbeat authentication
 * keys, global or per service, written into hblb_cfg_keys under the
 * configuration lock; the daemon copies them into the data path. Key
 * material is never printed back (list shows fingerprints) and can come
 * from a file so that it does not show in ps.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <bpf/bpf.h>
#include "auth.h"
#include "cli.h"
#include "commands.h"
#include "log.h"

static const struct hblb_service_key global_target;     /* all zero */

static bool is_global(const struct hblb_service_key *k)
{
	return !memcmp(k, &global_target, sizeof(*k));
}

static const char *target_str(const struct hblb_service_key *k, char *buf, size_t len)
{
	if (is_global(k)) {
		snprintf(buf, len, "global");
		return buf;
	}
	return service_str(k, buf, len);
}

/* "global" or a service. */
static int parse_target(const char *s, struct hblb_service_key *k)
{
	if (!strcmp(s, "global")) {
		*k = global_target;
		return 0;
	}
	return parse_service(s, k);
}

/* HEX32, or --key-file PATH (keeps the key out of ps and shell history). */
static int parse_key_arg(int argc, char **argv, __u8 key[HBLB_KEY_LEN], const char *usage)
{
	if (argc == 2 && !strcmp(argv[0], "--key-file"))
		return auth_key_read_file(argv[1], key);
	if (argc == 1 && strcmp(argv[0], "--key-file"))
		return auth_key_parse(argv[0], "the key argument", key);
	pr_err("usage: %s", usage);
	return -EINVAL;
}

/* The key a service's reals must use: its own, else the global one, else none. */
static bool effective_key(const struct pins *p, const struct hblb_service_key *svc,
			  const struct hblb_service_key *ovr_target, const struct hblb_cfg_key *ovr,
			  __u8 out[HBLB_KEY_LEN])
{
	struct hblb_cfg_key v;
	const struct hblb_service_key *targets[2] = { svc, &global_target };

	for (int i = 0; i < 2; i++) {
		bool have;

		if (ovr_target && !memcmp(ovr_target, targets[i], sizeof(*svc))) {
			have = ovr && ovr->n_keys;
			if (have)
				v = *ovr;
		} else {
			have = bpf_map_lookup_elem(p->cfg_keys, targets[i], &v) == 0 && v.n_keys;
		}
		if (have) {
			memcpy(out, v.key[0], HBLB_KEY_LEN);
			return true;
		}
	}
	return false;
}

struct be_addr {
	__be32 addr;
	struct hblb_service_key svc;
};

static int be_addr_cmp(const void *a, const void *b)
{
	const struct be_addr *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/*
 * A real heartbeats once for all its services, so its services must agree
 * on the key: fails, naming the address and both services, if some address
 * would be in two services whose current keys differ once `ovr_target`
 * has key `ovr` (NULL: none) and the backend `extra` (NULL: none) exists.
 */
int key_conflict_check(const struct pins *p, const struct hblb_service_key *ovr_target,
		       const struct hblb_cfg_key *ovr, const struct hblb_cfg_backend_key *extra)
{
	struct hblb_cfg_backend_key k, prev, *pk = NULL;
	struct be_addr *list = NULL;
	size_t n = 0, cap = 0;
	int err = 0;

	for (;;) {
		bool more = bpf_map_get_next_key(p->cfg_bes, pk, &k) == 0;

		if (!more && !extra)
			break;
		if (n == cap) {
			struct be_addr *l = realloc(list, (cap = cap ? cap * 2 : 256) * sizeof(*l));

			if (!l) {
				free(list);
				return -ENOMEM;
			}
			list = l;
		}
		if (!more) {    /* the backend about to be added */
			list[n++] = (struct be_addr){ .addr = extra->addr, .svc = extra->service };
			extra = NULL;
			continue;
		}
		list[n++] = (struct be_addr){ .addr = k.addr, .svc = k.service };
		prev = k;
		pk = &prev;
	}
	qsort(list, n, sizeof(*list), be_addr_cmp);
	for (size_t i = 0; i < n && !err; i++) {
		__u8 ki[HBLB_KEY_LEN], kj[HBLB_KEY_LEN];
		bool hi;

		if (i + 1 == n || list[i + 1].addr != list[i].addr)
			continue;
		hi = effective_key(p, &list[i].svc, ovr_target, ovr, ki);
		for (size_t j = i + 1; j < n && list[j].addr == list[i].addr; j++) {
			if (!hi || !effective_key(p, &list[j].svc, ovr_target, ovr, kj) ||
			    !memcmp(ki, kj, HBLB_KEY_LEN))
				continue;
			{
				char a[INET_ADDRSTRLEN], s1[64], s2[64];

				pr_err("backend %s is in %s and %s, whose keys would differ: it sends one "
				       "heartbeat for both, so they need the same key (or one of them none)",
				       ipv4_str(list[i].addr, a, sizeof(a)),
				       service_str(&list[i].svc, s1, sizeof(s1)),
				       service_str(&list[j].svc, s2, sizeof(s2)));
			}
			err = -EINVAL;
			break;
		}
	}
	free(list);
	return err;
}

static int key_generate(int argc, char **argv, struct global_opts *g)
{
	__u8 key[HBLB_KEY_LEN];

	(void)argv; (void)g;
	if (argc) {
		pr_err("usage: hblb key generate   (prints a new random key; redirect it to a file)");
		return -EINVAL;
	}
	if (getrandom(key, sizeof(key), 0) != sizeof(key)) {
		pr_err("cannot get random bytes: %s", strerror(errno));
		return -EIO;
	}
	for (int i = 0; i < HBLB_KEY_LEN; i++)
		printf("%02x", key[i]);
	printf("\n");
	memset(key, 0, sizeof(key));
	return 0;
}

enum key_op { KEY_SET, KEY_ROLLOVER, KEY_FINISH, KEY_DEL };

static int key_change(int argc, char **argv, struct global_opts *g, enum key_op op)
{
	static const char *const usages[] = {
		[KEY_SET] = "hblb key set global|SERVICE HEX32|--key-file PATH",
		[KEY_ROLLOVER] = "hblb key rollover global|SERVICE HEX32|--key-file PATH",
		[KEY_FINISH] = "hblb key finish global|SERVICE",
		[KEY_DEL] = "hblb key del global|SERVICE",
	};
	struct hblb_service_key t;
	struct hblb_cfg_key v = { 0 }, old;
	__u8 key[HBLB_KEY_LEN];
	bool have_old, needs_key = op == KEY_SET || op == KEY_ROLLOVER;
	char name[64];
	struct pins p;
	int err;

	if (argc < 1 || (!needs_key && argc != 1)) {
		pr_err("usage: %s", usages[op]);
		return -EINVAL;
	}
	if (parse_target(argv[0], &t))
		return -EINVAL;
	if (needs_key && parse_key_arg(argc - 1, argv + 1, key, usages[op]))
		return -EINVAL;
	target_str(&t, name, sizeof(name));
	err = pins_open_locked(&p, g);
	if (err)
		goto out_wipe;
	if (!is_global(&t) &&
	    bpf_map_lookup_elem(p.cfg_svcs, &t, &(struct hblb_cfg_service){ 0 })) {
		pr_err("no service %s: see 'hblb service list'", name);
		err = -ENOENT;
		goto out;
	}
	have_old = bpf_map_lookup_elem(p.cfg_keys, &t, &old) == 0 && old.n_keys;
	switch (op) {
	case KEY_SET:
		if (have_old) {
			pr_err("%s already has a key: change it with 'hblb key rollover' (both keys are "
			       "accepted until 'hblb key finish'), or delete it first", name);
			err = -EEXIST;
			goto out;
		}
		memcpy(v.key[0], key, HBLB_KEY_LEN);
		v.n_keys = 1;
		break;
	case KEY_ROLLOVER:
		if (!have_old) {
			pr_err("%s has no key to roll over: use 'hblb key set'", name);
			err = -ENOENT;
			goto out;
		}
		if (old.n_keys == 2) {
			pr_err("a rollover of %s is in progress: end it with 'hblb key finish %s' first",
			       name, argv[0]);
			err = -EBUSY;
			goto out;
		}
		if (!memcmp(old.key[0], key, HBLB_KEY_LEN)) {
			pr_err("the new key of %s is its current key", name);
			err = -EINVAL;
			goto out;
		}
		memcpy(v.key[0], key, HBLB_KEY_LEN);
		memcpy(v.key[1], old.key[0], HBLB_KEY_LEN);
		v.n_keys = 2;
		break;
	case KEY_FINISH:
		if (!have_old || old.n_keys != 2) {
			pr_err("no rollover of %s is in progress", name);
			err = -ENOENT;
			goto out;
		}
		memcpy(v.key[0], old.key[0], HBLB_KEY_LEN);
		v.n_keys = 1;
		break;
	case KEY_DEL:
		if (!have_old) {
			pr_err("%s has no key: see 'hblb key list'", name);
			err = -ENOENT;
			goto out;
		}
		break;
	}
	err = key_conflict_check(&p, &t, op == KEY_DEL ? NULL : &v, NULL);
	if (err)
		goto out;
	if (op == KEY_DEL)
		err = bpf_map_delete_elem(p.cfg_keys, &t) ? -errno : 0;
	else
		err = bpf_map_update_elem(p.cfg_keys, &t, &v, BPF_ANY) ? -errno : 0;
	if (err) {
		pr_err("cannot change the key of %s: %s", name, strerror(-err));
		goto out;
	}
	err = pins_bump(&p);
	if (!daemon_running(&p))
		pr_warn("no hblb daemon is running on %s: the change applies when one starts", p.dir);
out:
	memset(&old, 0, sizeof(old));
	pins_close(&p);
out_wipe:
	memset(key, 0, sizeof(key));
	memset(&v, 0, sizeof(v));
	return err;
}

static int key_set(int argc, char **argv, struct global_opts *g) { return key_change(argc, argv, g, KEY_SET); }
static int key_rollover(int argc, char **argv, struct global_opts *g) { return key_change(argc, argv, g, KEY_ROLLOVER); }
static int key_finish(int argc, char **argv, struct global_opts *g) { return key_change(argc, argv, g, KEY_FINISH); }
static int key_del(int argc, char **argv, struct global_opts *g) { return key_change(argc, argv, g, KEY_DEL); }

static int key_list(int argc, char **argv, struct global_opts *g)
{
	struct hblb_service_key k, prev, *pk = NULL;
	struct hblb_cfg_key v;
	struct json j;
	struct pins p;
	int err;

	(void)argv;
	if (argc) {
		pr_err("usage: hblb key list");
		return -EINVAL;
	}
	err = pins_open(&p, g);
	if (err)
		return err;
	if (g->json) {
		json_begin(&j, g->pretty);
		json_arr_open(&j, NULL);
	} else {
		printf("%-24s %-16s %-16s %s\n", "TARGET", "FINGERPRINT", "PREVIOUS", "STATE");
	}
	while (bpf_map_get_next_key(p.cfg_keys, pk, &k) == 0) {
		char name[64], fp[17], fp_prev[17] = "-";

		prev = k;
		pk = &prev;
		if (bpf_map_lookup_elem(p.cfg_keys, &k, &v) || !v.n_keys)
			continue;
		target_str(&k, name, sizeof(name));
		auth_key_fingerprint(v.key[0], fp);
		if (v.n_keys == 2)
			auth_key_fingerprint(v.key[1], fp_prev);
		if (g->json) {
			json_obj_open(&j, NULL);
			json_str(&j, "target", name);
			json_str(&j, "fingerprint", fp);
			if (v.n_keys == 2)
				json_str(&j, "previous_fingerprint", fp_prev);
			json_bool(&j, "rollover", v.n_keys == 2);
			json_obj_close(&j);
		} else {
			printf("%-24s %-16s %-16s %s\n", name, fp, fp_prev,
			       v.n_keys == 2 ? "rollover: both accepted" : "active");
		}
		memset(&v, 0, sizeof(v));
	}
	if (g->json) {
		json_arr_close(&j);
		json_end(&j);
	}
	pins_close(&p);
	return 0;
}

const struct command key_commands[] = {
	{ "generate", key_generate, "   print a new random key (redirect it into a key file)" },
	{ "set", key_set, "global|SERVICE HEX32|--key-file PATH   require signed heartbeats" },
	{ "rollover", key_rollover, "global|SERVICE HEX32|--key-file PATH   new key; the old one stays accepted" },
	{ "finish", key_finish, "global|SERVICE   end a rollover: only the new key is accepted" },
	{ "del", key_del, "global|SERVICE   plain heartbeats accepted again" },
	{ "list", key_list, "   targets, key fingerprints, rollovers (never the keys)" },
	{ NULL, NULL, NULL },
};
