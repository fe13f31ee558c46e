// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include "cli.h"
#include "loader.h"
#include "log.h"

static int pin_get(const struct pins *p, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", p->dir, name);
	return bpf_obj_get(path);
}

static struct pins batch_pins;
static bool batch_active, batch_changed;

/* What the CLI expects at each pin it opens (the layouts of hblb.h). */
static const struct pin_spec {
	const char *name;
	__u32 type, key_size, value_size;
} pin_specs[] = {
	{ HBLB_MAP_CFG_SVCS, BPF_MAP_TYPE_HASH, sizeof(struct hblb_service_key),
	  sizeof(struct hblb_cfg_service) },
	{ HBLB_MAP_CFG_BES, BPF_MAP_TYPE_HASH, sizeof(struct hblb_cfg_backend_key),
	  sizeof(struct hblb_cfg_backend) },
	{ HBLB_MAP_CFG_GEN, BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(__u64) },
	{ HBLB_MAP_SERVICES, BPF_MAP_TYPE_HASH, sizeof(struct hblb_service_key),
	  sizeof(struct hblb_service) },
	{ HBLB_MAP_BACKENDS, BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(struct hblb_backend) },
	{ HBLB_MAP_REALS, BPF_MAP_TYPE_HASH, sizeof(__be32), sizeof(struct hblb_real) },
	{ HBLB_MAP_HB, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32), sizeof(struct hblb_hb_record) },
	{ HBLB_MAP_STATS, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32), sizeof(__u64) },
	{ HBLB_MAP_SVC_STATS, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32), sizeof(struct hblb_traffic) },
	{ HBLB_MAP_BE_STATS, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32), sizeof(struct hblb_traffic) },
	{ HBLB_MAP_CONFIG, BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(struct hblb_config) },
	{ HBLB_MAP_SVC_GEN, BPF_MAP_TYPE_ARRAY, sizeof(__u32), sizeof(struct hblb_svc_gen) },
	{ HBLB_MAP_CFG_KEYS, BPF_MAP_TYPE_HASH, sizeof(struct hblb_service_key),
	  sizeof(struct hblb_cfg_key) },
};

/* A pinned map the CLI would read or write with the wrong layout must be
 * refused before any access: -EINVAL with the pin named. */
static int pin_check(const struct pins *p, const struct pin_spec *spec, int fd)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		pr_err("%s/%s is pinned but is no BPF map (%s): the pinned state is damaged; "
		       "remove the pin directory and restart 'hblb daemon' to start afresh",
		       p->dir, spec->name, strerror(errno));
		return -EINVAL;
	}
	if (info.type == spec->type && info.key_size == spec->key_size &&
	    info.value_size == spec->value_size)
		return 0;
	pr_err("%s/%s is not hblb's map: type %u, key %u, value %u bytes instead of type %u, "
	       "key %u, value %u: the pinned state is damaged or from another program; nothing "
	       "was changed", p->dir, spec->name, info.type, info.key_size, info.value_size,
	       spec->type, spec->key_size, spec->value_size);
	return -EINVAL;
}

int pins_open(struct pins *p, const struct global_opts *g)
{
	struct statfs st;
	int *fds[] = { &p->cfg_svcs, &p->cfg_bes, &p->cfg_gen, &p->services, &p->backends,
		       &p->reals, &p->hb, &p->stats, &p->svc_stats, &p->be_stats, &p->config,
		       &p->svc_gen, &p->cfg_keys };
	int opened = 0;

	_Static_assert(sizeof(fds) / sizeof(fds[0]) == sizeof(pin_specs) / sizeof(pin_specs[0]),
		       "one spec per pin");
	if (batch_active) {
		*p = batch_pins;
		p->borrowed = true;
		return 0;
	}
	memset(p, 0, sizeof(*p));
	p->lock_fd = -1;
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		*fds[i] = -1;
	snprintf(p->dir, sizeof(p->dir), "%s", hblb_pin_dir(g->pin_dir));
	if (geteuid() != 0) {
		pr_err("hblb needs root (CAP_BPF and CAP_NET_ADMIN): run it with sudo");
		return -EPERM;
	}
	if (statfs("/sys/fs/bpf", &st) || st.f_type != BPF_FS_MAGIC) {
		pr_err("bpffs is not mounted on /sys/fs/bpf: mount -t bpf bpf /sys/fs/bpf");
		return -ENOENT;
	}
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		*fds[i] = pin_get(p, pin_specs[i].name);
		if (*fds[i] >= 0)
			opened++;
	}
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		int err;

		if (*fds[i] < 0) {
			if (opened)
				pr_err("pinned state in %s is damaged: %s is missing (%d of %zu maps are "
				       "there); a running daemon keeps working; re-pin it ('bpftool map "
				       "show name %s', then 'bpftool map pin id ID %s/%s') or remove the "
				       "directory and restart 'hblb daemon'", p->dir, pin_specs[i].name,
				       opened, sizeof(fds) / sizeof(fds[0]), pin_specs[i].name, p->dir,
				       pin_specs[i].name);
			else
				pr_err("no hblb state in %s: start 'hblb daemon' first, or give --pin-dir",
				       p->dir);
			pins_close(p);
			return -ENOENT;
		}
		err = pin_check(p, &pin_specs[i], *fds[i]);
		if (err) {
			pins_close(p);
			return err;
		}
	}
	return 0;
}

void pins_close(struct pins *p)
{
	int *fds[] = { &p->cfg_svcs, &p->cfg_bes, &p->cfg_gen, &p->services, &p->backends,
		       &p->reals, &p->hb, &p->stats, &p->svc_stats, &p->be_stats, &p->config,
		       &p->svc_gen, &p->cfg_keys, &p->lock_fd };

	if (p->borrowed)
		return;
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

/* The lock is on the configuration generation's pin: the daemon holds the
 * directory's lock for its life, so writers need one of their own. */
int pins_lock(struct pins *p)
{
	char path[512];

	if (p->borrowed)
		return 0;
	snprintf(path, sizeof(path), "%s/%s", p->dir, HBLB_MAP_CFG_GEN);
	p->lock_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (p->lock_fd < 0 || flock(p->lock_fd, LOCK_EX)) {
		int err = -errno;

		pr_err("cannot lock the configuration in %s: %s", p->dir, strerror(-err));
		return err;
	}
	return 0;
}

int pins_open_locked(struct pins *p, const struct global_opts *g)
{
	int err = pins_open(p, g);

	if (err)
		return err;
	err = pins_lock(p);
	if (err)
		pins_close(p);
	return err;
}

int pins_bump(struct pins *p)
{
	__u32 zero = 0;
	__u64 gen = 0;

	if (p->borrowed) {
		batch_changed = true;
		return 0;
	}
	bpf_map_lookup_elem(p->cfg_gen, &zero, &gen);
	gen++;
	if (bpf_map_update_elem(p->cfg_gen, &zero, &gen, BPF_ANY))
		return -errno;
	return 0;
}

/* A hash map's entries, to put back if a batch fails. */
struct map_copy {
	int fd;
	__u32 key_size, value_size, n;
	char *data;             /* n x (key, value) */
};

static struct map_copy batch_copies[2];

static int map_copy_take(int fd, struct map_copy *c)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	char *key, *prev = NULL;

	memset(c, 0, sizeof(*c));
	c->fd = fd;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	c->key_size = info.key_size;
	c->value_size = info.value_size;
	c->data = malloc((size_t)info.max_entries * (info.key_size + info.value_size) + info.key_size);
	if (!c->data)
		return -ENOMEM;
	for (;;) {
		key = c->data + (size_t)c->n * (c->key_size + c->value_size);
		if (c->n == info.max_entries || bpf_map_get_next_key(fd, prev, key))
			break;
		/* an entry deleted meanwhile cannot be: writers hold the lock */
		if (bpf_map_lookup_elem(fd, key, key + c->key_size))
			return -errno;
		prev = key;
		c->n++;
	}
	return 0;
}

/* Empties the map and puts the copy back. */
static int map_copy_restore(const struct map_copy *c)
{
	char key[256];
	int err = 0;

	if (c->key_size > sizeof(key))
		return -E2BIG;
	while (bpf_map_get_next_key(c->fd, NULL, key) == 0)
		if (bpf_map_delete_elem(c->fd, key))
			return -errno;
	for (__u32 i = 0; i < c->n && !err; i++) {
		const char *k = c->data + (size_t)i * (c->key_size + c->value_size);

		if (bpf_map_update_elem(c->fd, k, k + c->key_size, BPF_NOEXIST))
			err = -errno;
	}
	return err;
}

int batch_begin(const struct global_opts *g)
{
	int err = pins_open_locked(&batch_pins, g);

	if (err)
		return err;
	err = map_copy_take(batch_pins.cfg_svcs, &batch_copies[0]);
	if (!err)
		err = map_copy_take(batch_pins.cfg_bes, &batch_copies[1]);
	if (err) {
		pr_err("cannot copy the configuration before the batch: %s", strerror(-err));
		free(batch_copies[0].data);
		free(batch_copies[1].data);
		pins_close(&batch_pins);
		return err;
	}
	batch_active = true;
	batch_changed = false;
	return 0;
}

int batch_end(bool commit)
{
	int err = 0;

	batch_active = false;
	/* restore even if no command finished: one may have failed half-way */
	if (!commit) {
		err = map_copy_restore(&batch_copies[0]);
		if (!err)
			err = map_copy_restore(&batch_copies[1]);
		if (err)
			pr_err("cannot undo the batch: %s; the configuration maps hold part of it, "
			       "and the daemon sees it at the next change or SIGHUP", strerror(-err));
	} else if (commit && batch_changed) {
		err = pins_bump(&batch_pins);
		if (err)
			pr_err("cannot tell the daemon about the batch: %s", strerror(-err));
		else if (!daemon_running(&batch_pins))
			pr_warn("no hblb daemon is running on %s: the changes apply when one starts",
				batch_pins.dir);
	}
	free(batch_copies[0].data);
	free(batch_copies[1].data);
	memset(batch_copies, 0, sizeof(batch_copies));
	pins_close(&batch_pins);
	return err;
}

bool daemon_running(const struct pins *p)
{
	int fd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool held;

	if (fd < 0)
		return false;
	held = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

int parse_uint(const char *s, const char *what, __u32 min, __u32 max, __u32 *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *s == '-' || errno || *end || v < min || v > max) {
		pr_err("%s '%s' is not a number from %u to %u", what, s, min, max);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int parse_ipv4(const char *s, __be32 *addr)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1) {
		pr_err("'%s' is not an IPv4 address (dotted quad, e.g. 198.18.0.10)", s);
		return -EINVAL;
	}
	*addr = a.s_addr;
	return 0;
}

int parse_service(const char *s, struct hblb_service_key *k)
{
	char buf[64], *colon, *slash;
	__u32 port;

	memset(k, 0, sizeof(*k));
	if (strlen(s) >= sizeof(buf)) {
		pr_err("service '%s' is too long: use ADDR:PORT[/tcp|/udp]", s);
		return -EINVAL;
	}
	strcpy(buf, s);
	colon = strrchr(buf, ':');
	if (!colon) {
		pr_err("service '%s' has no port: use ADDR:PORT[/tcp|/udp], e.g. 198.18.0.100:80/tcp", s);
		return -EINVAL;
	}
	*colon = 0;
	slash = strchr(colon + 1, '/');
	k->proto = IPPROTO_TCP;
	if (slash) {
		*slash = 0;
		if (!strcmp(slash + 1, "udp"))
			k->proto = IPPROTO_UDP;
		else if (strcmp(slash + 1, "tcp")) {
			pr_err("service protocol '%s' is neither tcp nor udp", slash + 1);
			return -EINVAL;
		}
	}
	if (parse_ipv4(buf, &k->vip) || parse_uint(colon + 1, "port", 1, 65535, &port))
		return -EINVAL;
	k->port = htons(port);
	return 0;
}

int parse_mac(const char *s, __u8 *mac)
{
	unsigned int m[6];
	char extra;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5],
		   &extra) != 6 || strlen(s) != 17) {
		pr_err("'%s' is not a MAC address (six hex pairs, e.g. 02:00:00:00:00:0a)", s);
		return -EINVAL;
	}
	for (int i = 0; i < 6; i++)
		mac[i] = m[i];
	if (mac[0] & 1) {
		pr_err("'%s' is a multicast MAC: a backend needs its own unicast address", s);
		return -EINVAL;
	}
	return 0;
}

const char *ipv4_str(__be32 addr, char *buf, size_t len)
{
	inet_ntop(AF_INET, &addr, buf, len);
	return buf;
}

const char *service_str(const struct hblb_service_key *k, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN];

	snprintf(buf, len, "%s:%u/%s", ipv4_str(k->vip, a, sizeof(a)), ntohs(k->port),
		 k->proto == IPPROTO_UDP ? "udp" : "tcp");
	return buf;
}

/* ---- JSON ---------------------------------------------------------------- */

static void json_sep(struct json *j, const char *key)
{
	if (!j->first[j->depth])
		fputc(',', j->f);
	j->first[j->depth] = false;
	if (j->pretty) {
		/* depth counts from -1 at the top: members sit one level in */
		fputc('\n', j->f);
		for (int i = 0; i <= j->depth; i++)
			fputs("  ", j->f);
	}
	if (key) {
		fprintf(j->f, "\"%s\":", key);
		if (j->pretty)
			fputc(' ', j->f);
	}
}

static void json_open(struct json *j, const char *key, char c)
{
	if (j->depth >= 0)
		json_sep(j, key);
	fputc(c, j->f);
	j->depth++;
	j->first[j->depth] = true;
}

static void json_close(struct json *j, char c)
{
	bool empty = j->first[j->depth];

	j->depth--;
	if (j->pretty && !empty) {
		fputc('\n', j->f);
		for (int i = 0; i <= j->depth; i++)
			fputs("  ", j->f);
	}
	fputc(c, j->f);
}

void json_begin(struct json *j, bool pretty)
{
	memset(j, 0, sizeof(*j));
	j->f = stdout;
	j->pretty = pretty;
	j->depth = -1;
}

void json_end(struct json *j)
{
	fputc('\n', j->f);
}

void json_obj_open(struct json *j, const char *key) { json_open(j, key, '{'); }
void json_obj_close(struct json *j) { json_close(j, '}'); }
void json_arr_open(struct json *j, const char *key) { json_open(j, key, '['); }
void json_arr_close(struct json *j) { json_close(j, ']'); }

void json_str(struct json *j, const char *key, const char *val)
{
	json_sep(j, key);
	fputc('"', j->f);
	for (const char *c = val; *c; c++) {
		if (*c == '"' || *c == '\\')
			fprintf(j->f, "\\%c", *c);
		else if ((unsigned char)*c < 0x20)
			fprintf(j->f, "\\u%04x", *c);
		else
			fputc(*c, j->f);
	}
	fputc('"', j->f);
}

void json_u64(struct json *j, const char *key, unsigned long long val)
{
	json_sep(j, key);
	fprintf(j->f, "%llu", val);
}

void json_bool(struct json *j, const char *key, bool val)
{
	json_sep(j, key);
	fputs(val ? "true" : "false", j->f);
}

/* All of hblb_backends in one batch (one syscall instead of 16k); element
 * by element where batch lookups are unsupported. */
int read_dp_backends(int fd, struct hblb_backend **out, __u32 *n_out)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	struct hblb_backend *recs;
	__u32 *keys, n, batch = 0;
	int err;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.value_size != sizeof(*recs))
		return -EPROTO;
	n = info.max_entries;
	recs = calloc(n ? n : 1, sizeof(*recs));
	keys = calloc(n ? n : 1, sizeof(*keys));
	if (!recs || !keys) {
		free(recs);
		free(keys);
		return -ENOMEM;
	}
	err = bpf_map_lookup_batch(fd, NULL, &batch, keys, recs, &n, &opts);
	if (err && errno != ENOENT) {
		/* keys are the ids of an array: rebuild in place */
		n = info.max_entries;
		for (__u32 id = 0; id < n; id++)
			if (bpf_map_lookup_elem(fd, &id, &recs[id]))
				memset(&recs[id], 0, sizeof(recs[id]));
	} else {
		/* array batches come in id order; make sure, so recs[id] holds */
		for (__u32 i = 0; i < n; i++) {
			if (keys[i] != i) {
				free(recs);
				free(keys);
				return -EPROTO;
			}
		}
	}
	free(keys);
	*out = recs;
	*n_out = n;
	return 0;
}

int svc_key_cmp(const struct hblb_service_key *a, const struct hblb_service_key *b)
{
	if (a->vip != b->vip)
		return ntohl(a->vip) < ntohl(b->vip) ? -1 : 1;
	if (a->port != b->port)
		return ntohs(a->port) < ntohs(b->port) ? -1 : 1;
	return (int)a->proto - (int)b->proto;
}

int be_key_cmp(const void *a, const void *b)
{
	const struct hblb_cfg_backend_key *x = a, *y = b;
	int c = svc_key_cmp(&x->service, &y->service);

	if (c || x->addr == y->addr)
		return c;
	return ntohl(x->addr) < ntohl(y->addr) ? -1 : 1;
}

/* One pass over the records, a binary search each. A removed backend's
 * record lingers (down) until its table is gone, so a re-added one may
 * have two: the live one wins. */
void match_dp_backends(const struct hblb_backend *recs, __u32 n, const void *rows, size_t n_rows,
		       size_t stride, __u32 *ids)
{
	for (size_t i = 0; i < n_rows; i++)
		ids[i] = HBLB_BACKEND_NONE;
	for (__u32 id = 0; id < n; id++) {
		const struct hblb_backend *rec = &recs[id];
		struct hblb_cfg_backend_key k = { .service = rec->service, .addr = rec->addr };
		const char *row;
		size_t i;

		if (!rec->service.vip && !rec->service.port)
			continue;       /* free id */
		row = bsearch(&k, rows, n_rows, stride, be_key_cmp);
		if (!row)
			continue;
		i = (size_t)(row - (const char *)rows) / stride;
		if (ids[i] != HBLB_BACKEND_NONE &&
		    (recs[ids[i]].state != HBLB_BE_DOWN || rec->state == HBLB_BE_DOWN))
			continue;
		ids[i] = id;
	}
}
