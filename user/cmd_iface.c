// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* hblb attach DEV [mode native|generic] and hblb detach DEV. */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include "attach.h"
#include "cli.h"
#include "commands.h"
#include "log.h"

/* The sizes the pinned maps were made with, so a load reuses them. */
static void pinned_sizes(const char *dir, struct hblb_load_opts *lo)
{
	struct hblb_config cfg;
	char path[512];
	__u32 zero = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, HBLB_MAP_CONFIG);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return;
	if (bpf_map_lookup_elem(fd, &zero, &cfg) == 0 && cfg.table_size) {
		lo->table_size = cfg.table_size;
		lo->flow_buckets = cfg.flow_mask + 1;
		lo->max_services = cfg.max_services;
	}
	close(fd);
}

int cmd_attach(int argc, char **argv, struct global_opts *g)
{
	struct attach_req req = { .mode = XDP_FLAGS_DRV_MODE };
	struct hblb_load_opts lo = { .pin_dir = g->pin_dir };
	struct hblb h;
	int err;

	if (argc != 1 && !(argc == 3 && !strcmp(argv[1], "mode"))) {
		pr_err("usage: hblb attach DEV [mode native|generic]");
		return -EINVAL;
	}
	req.name = argv[0];
	if (argc == 3) {
		if (!strcmp(argv[2], "generic"))
			req.mode = XDP_FLAGS_SKB_MODE;
		else if (strcmp(argv[2], "native")) {
			pr_err("mode '%s' is neither native nor generic", argv[2]);
			return -EINVAL;
		}
	}
	if (geteuid() != 0) {
		pr_err("hblb needs root (CAP_BPF and CAP_NET_ADMIN): run it with sudo");
		return -EPERM;
	}
	if (!if_nametoindex(req.name)) {
		pr_err("no interface %s: check the name with 'ip link'", req.name);
		return -ENODEV;
	}
	pinned_sizes(hblb_pin_dir(g->pin_dir), &lo);
	err = hblb_open(&h, &lo);
	if (err)
		return err;
	err = hblb_attach(&h, &req);
	/* the attachment holds the program; our handles can go */
	hblb_close(&h);
	return err;
}

int cmd_detach(int argc, char **argv, struct global_opts *g)
{
	char path[512];
	int fd, err;

	if (argc != 1) {
		pr_err("usage: hblb detach DEV");
		return -EINVAL;
	}
	if (geteuid() != 0) {
		pr_err("hblb needs root (CAP_NET_ADMIN): run it with sudo");
		return -EPERM;
	}
	snprintf(path, sizeof(path), "%s/%s", hblb_pin_dir(g->pin_dir), HBLB_MAP_IFACES);
	fd = bpf_obj_get(path);
	err = hblb_detach(argv[0], fd);
	if (fd >= 0)
		close(fd);
	return err;
}
