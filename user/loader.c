// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "loader.h"
#include "log.h"

const char *hblb_pin_dir(const char *flag)
{
	const char *env = getenv("HBLB_PIN_DIR");

	if (flag && *flag)
		return flag;
	if (env && *env)
		return env;
	return HBLB_PIN_DIR_DEFAULT;
}

bool hblb_is_prime(__u32 n)
{
	if (n < 2)
		return false;
	for (__u32 d = 2; (__u64)d * d <= n; d++)
		if (n % d == 0)
			return false;
	return true;
}

int hblb_map_fd(const struct hblb *h, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(h->skel->obj, name);

	return m ? bpf_map__fd(m) : -ENOENT;
}

static void *map_mmap(struct bpf_map *m, size_t *len)
{
	size_t sz = (size_t)bpf_map__value_size(m) * bpf_map__max_entries(m);
	void *p;

	/* array map values are laid out with an 8-byte stride */
	if (bpf_map__value_size(m) % 8)
		return NULL;
	sz = (sz + getpagesize() - 1) & ~((size_t)getpagesize() - 1);
	p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(m), 0);
	if (p == MAP_FAILED)
		return NULL;
	*len = sz;
	return p;
}

static int sizes_match(const struct hblb *h, const struct hblb_config *cfg, __u32 table_size,
		       __u32 flow_buckets, __u32 max_services)
{
	if (cfg->table_size == table_size && cfg->flow_mask == flow_buckets - 1 &&
	    cfg->max_services == max_services)
		return 0;
	pr_err("pinned maps in %s were made with table size %u, %u flow buckets and %u services, "
	       "not %u, %u and %u: load with the same sizes, or remove the pins",
	       h->pin_dir, cfg->table_size, cfg->flow_mask + 1, cfg->max_services,
	       table_size, flow_buckets, max_services);
	return -EINVAL;
}

/* Pinned maps are reused only if their sizes match; say which differ
 * before libbpf refuses with a bare EINVAL. */
static int check_pinned_sizes(const struct hblb *h, __u32 table_size, __u32 flow_buckets,
			      __u32 max_services)
{
	struct hblb_config cfg;
	char path[512];
	__u32 zero = 0;
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", h->pin_dir, HBLB_MAP_CONFIG);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	err = bpf_map_lookup_elem(fd, &zero, &cfg) ? -errno : 0;
	close(fd);
	if (err || cfg.table_size == 0)
		return err;
	return sizes_match(h, &cfg, table_size, flow_buckets, max_services);
}

/* Fills in hblb_config on a fresh pin set, or checks the pinned one. */
static int config_init(struct hblb *h, __u32 table_size, __u32 flow_buckets, __u32 max_services)
{
	int fd = bpf_map__fd(h->skel->maps.hblb_config);
	struct hblb_config cfg;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(fd, &zero, &cfg))
		return -errno;
	if (cfg.table_size == 0) {
		cfg.hb_port = HBLB_HB_PORT_DEFAULT;
		cfg.flags = 0;
		cfg.hash_seed = 0;
		cfg.table_size = table_size;
		cfg.flow_mask = flow_buckets - 1;
		cfg.max_services = max_services;
		cfg.pad = 0;
		if (bpf_map_update_elem(fd, &zero, &cfg, BPF_ANY))
			return -errno;
	} else if (sizes_match(h, &cfg, table_size, flow_buckets, max_services)) {
		return -EINVAL;
	}
	h->cfg = cfg;
	return 0;
}

/* The maps every hblb since the first has pinned: all present (a restart
 * or an upgrade) or all absent (a first start). A map a later version adds
 * may be missing and is created; one of these missing beside the others
 * means damaged state, and creating it empty would silently drop what it
 * held (e.g. every backend's configuration). */
static const char *const core_pins[] = {
	HBLB_MAP_CONFIG, HBLB_MAP_IFACES, HBLB_MAP_VIP_BITS, HBLB_MAP_SERVICES, HBLB_MAP_REALS,
	HBLB_MAP_HB, HBLB_MAP_BACKENDS, HBLB_MAP_SVC_GEN, HBLB_MAP_TABLES, HBLB_MAP_FLOWS,
	HBLB_MAP_STATS, HBLB_MAP_SVC_STATS, HBLB_MAP_BE_STATS, HBLB_MAP_CFG_SVCS,
	HBLB_MAP_CFG_BES, HBLB_MAP_CFG_GEN,
};

static bool is_core_pin(const char *name)
{
	for (size_t i = 0; i < sizeof(core_pins) / sizeof(core_pins[0]); i++)
		if (!strcmp(core_pins[i], name))
			return true;
	return false;
}

/*
 * Before libbpf reuses the pins (it refuses a mismatch with a bare EINVAL,
 * and creates a missing one beside the others), check that each pinned map
 * is the one this program defines, sized as configured, and that no core
 * map is missing while others exist. Says which pin and what to do.
 */
static int check_pins(struct hblb *h)
{
	const char *missing = NULL;
	int present = 0, nmissing = 0, err = 0;
	struct bpf_map *m;

	bpf_object__for_each_map(m, h->skel->obj) {
		const char *name = bpf_map__name(m);
		struct bpf_map_info info = { 0 };
		__u32 len = sizeof(info);
		char path[512];
		int fd;

		if (!bpf_map__pin_path(m))
			continue;
		snprintf(path, sizeof(path), "%s/%s", h->pin_dir, name);
		fd = bpf_obj_get(path);
		if (fd < 0) {
			if (errno != ENOENT) {
				err = -errno;
				pr_err("cannot open pinned map %s: %s", path, strerror(-err));
				return err;
			}
			if (is_core_pin(name)) {
				nmissing++;
				missing = missing ? missing : name;
			}
			continue;
		}
		present += is_core_pin(name);
		if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
			err = -errno;
			pr_err("%s is pinned but is no BPF map hblb can read (%s): remove it, or the "
			       "whole pin directory to start afresh", path, strerror(-err));
		} else if (info.type != bpf_map__type(m) || info.key_size != bpf_map__key_size(m) ||
			   info.value_size != bpf_map__value_size(m) ||
			   info.max_entries != bpf_map__max_entries(m) ||
			   info.map_flags != bpf_map__map_flags(m)) {
			pr_err("%s is not the map hblb needs there: type %u, key %u, value %u bytes, "
			       "%u entries, flags %#x instead of type %u, key %u, value %u bytes, %u "
			       "entries, flags %#x: remove it (losing what it holds), or the whole "
			       "pin directory to start afresh", path, info.type, info.key_size,
			       info.value_size, info.max_entries, info.map_flags, bpf_map__type(m),
			       bpf_map__key_size(m), bpf_map__value_size(m), bpf_map__max_entries(m),
			       bpf_map__map_flags(m));
			err = -EINVAL;
		}
		close(fd);
		if (err)
			return err;
	}
	if (present && nmissing) {
		pr_err("pinned state in %s is incomplete: %s%s is missing beside %d others; hblb "
		       "will not create it empty (that would drop what it held): re-pin it from "
		       "a running hblb ('bpftool map show name %s', then 'bpftool map pin id ID "
		       "%s/%s'), or remove the directory to start afresh", h->pin_dir, missing,
		       nmissing > 1 ? " (and more)" : "", present, missing, h->pin_dir, missing);
		return -ENOENT;
	}
	return 0;
}

int hblb_open(struct hblb *h, const struct hblb_load_opts *o)
{
	LIBBPF_OPTS(bpf_object_open_opts, open_opts);
	__u32 table_size = o->table_size ? o->table_size : HBLB_TABLE_SIZE_DEFAULT;
	__u32 max_services = o->max_services ? o->max_services : HBLB_MAX_SERVICES;
	__u32 flow_buckets = o->flow_buckets ? o->flow_buckets : HBLB_FLOW_BUCKETS_DEFAULT;
	struct hblb_bpf *skel;
	int err;

	memset(h, 0, sizeof(*h));
	if (!hblb_is_prime(table_size) || table_size > (1u << 24)) {
		pr_err("table size %u is not a prime below 2^24", table_size);
		return -EINVAL;
	}
	if (flow_buckets & (flow_buckets - 1) || flow_buckets > (1u << 24)) {
		pr_err("flow buckets %u is not a power of two up to 2^24", flow_buckets);
		return -EINVAL;
	}
	if (max_services == 0 || max_services > 65536) {
		pr_err("max services %u is out of range 1-65536", max_services);
		return -EINVAL;
	}
	snprintf(h->pin_dir, sizeof(h->pin_dir), "%s", hblb_pin_dir(o->pin_dir));
	if (!o->no_pin && mkdir(h->pin_dir, 0700) && errno != EEXIST) {
		err = -errno;
		pr_err("cannot create pin directory %s: %s (is bpffs mounted on /sys/fs/bpf?)",
		       h->pin_dir, strerror(-err));
		return err;
	}
	if (!o->no_pin) {
		err = check_pinned_sizes(h, table_size, flow_buckets, max_services);
		if (err)
			return err;
	}
	open_opts.pin_root_path = h->pin_dir;
	skel = hblb_bpf__open_opts(&open_opts);
	if (!skel) {
		err = -errno;
		pr_err("cannot open the BPF object: %s", strerror(-err));
		return err;
	}
	h->skel = skel;
	if (o->no_pin) {
		struct bpf_map *m;

		bpf_object__for_each_map(m, skel->obj)
			bpf_map__set_pin_path(m, NULL);
	}
	h->max_services = max_services;
	h->chunks_per_table = hblb_chunks_per_table(table_size);

	bpf_program__set_autoload(skel->progs.hblb_bench_vary, o->bench);
	bpf_program__set_autoload(skel->progs.hblb_bench_auth, o->bench);
	bpf_map__set_max_entries(skel->maps.hblb_services, max_services);
	bpf_map__set_max_entries(skel->maps.hblb_cfg_svcs, max_services);
	bpf_map__set_max_entries(skel->maps.hblb_cfg_keys, max_services + 1);
	bpf_map__set_max_entries(skel->maps.hblb_keys, HBLB_KEY_SERVICE(max_services));
	bpf_map__set_max_entries(skel->maps.hblb_svc_gen, max_services);
	bpf_map__set_max_entries(skel->maps.hblb_svc_stats, max_services);
	bpf_map__set_max_entries(skel->maps.hblb_tables, max_services * 2 * h->chunks_per_table);
	bpf_map__set_max_entries(skel->maps.hblb_flows, flow_buckets);
	if (o->log_level) {
		bpf_program__set_log_level(skel->progs.hblb_xdp, o->log_level);
		bpf_program__set_log_buf(skel->progs.hblb_xdp, o->log_buf, o->log_size);
		if (o->bench && o->bench_log_buf) {
			bpf_program__set_log_level(skel->progs.hblb_bench_vary, o->log_level);
			bpf_program__set_log_buf(skel->progs.hblb_bench_vary, o->bench_log_buf,
						 o->log_size);
		}
	}

	if (!o->no_pin) {
		err = check_pins(h);
		if (err)
			goto fail;
	}
	err = hblb_bpf__load(skel);
	if (err) {
		pr_err("cannot load the XDP program%s%s: %s (run with -v for libbpf's messages)",
		       o->no_pin ? "" : " with maps in ", o->no_pin ? "" : h->pin_dir, strerror(-err));
		goto fail;
	}
	err = config_init(h, table_size, flow_buckets, max_services);
	if (err)
		goto fail;
	h->svc_gen = map_mmap(skel->maps.hblb_svc_gen, &h->svc_gen_len);
	h->tables = map_mmap(skel->maps.hblb_tables, &h->tables_len);
	h->vip_bits = map_mmap(skel->maps.hblb_vip_bits, &h->vip_bits_len);
	if (!h->svc_gen || !h->tables || !h->vip_bits) {
		err = -errno ? -errno : -EINVAL;
		pr_err("cannot mmap the steering tables: %s", strerror(-err));
		goto fail;
	}
	return 0;
fail:
	hblb_close(h);
	return err;
}

void hblb_close(struct hblb *h)
{
	if (h->svc_gen)
		munmap(h->svc_gen, h->svc_gen_len);
	if (h->tables)
		munmap(h->tables, h->tables_len);
	if (h->vip_bits)
		munmap(h->vip_bits, h->vip_bits_len);
	hblb_bpf__destroy(h->skel);
	h->skel = NULL;
	h->svc_gen = NULL;
	h->tables = NULL;
	h->vip_bits = NULL;
}

void hblb_vip_mark(struct hblb *h, __be32 vip)
{
	__u32 bit = hblb_vip_bit(vip);

	__atomic_fetch_or(&h->vip_bits[bit / 64], 1ull << (bit % 64), __ATOMIC_RELEASE);
}

/* Removes every pin this program made and the pin directory if empty. */
int hblb_unpin(struct hblb *h)
{
	struct bpf_map *m;
	int err = 0;

	bpf_object__for_each_map(m, h->skel->obj) {
		if (bpf_map__is_pinned(m) && bpf_map__unpin(m, NULL))
			err = -errno;
	}
	rmdir(h->pin_dir);
	return err;
}

int hblb_table_install(struct hblb *h, __u32 svc_id, const __u16 *entries)
{
	__u32 m = h->cfg.table_size, gen, next;
	struct hblb_table_chunk *dst;
	size_t off;

	if (svc_id >= h->max_services)
		return -ERANGE;
	gen = __atomic_load_n(&h->svc_gen[svc_id].gen, __ATOMIC_ACQUIRE);
	next = (gen + 1) & 1;
	off = ((size_t)svc_id * 2 + next) * h->chunks_per_table;
	dst = h->tables + off;
	memcpy(dst, entries, (size_t)m * sizeof(*entries));
	/* the tail of the last chunk is never indexed; keep it defined */
	memset((__u16 *)dst + m, 0xff, ((size_t)h->chunks_per_table * HBLB_TABLE_CHUNK - m) * sizeof(__u16));
	/* the entries must be visible before the version that names them */
	__atomic_store_n(&h->svc_gen[svc_id].gen, gen + 1, __ATOMIC_RELEASE);
	return 0;
}

const __u16 *hblb_table_active(const struct hblb *h, __u32 svc_id)
{
	__u32 gen = __atomic_load_n(&h->svc_gen[svc_id].gen, __ATOMIC_ACQUIRE);
	size_t off = ((size_t)svc_id * 2 + (gen & 1)) * h->chunks_per_table;

	return (const __u16 *)(h->tables + off);
}

__u16 hblb_table_entry(const struct hblb *h, __u32 svc_id, __u32 slot)
{
	return hblb_table_active(h, svc_id)[slot];
}
