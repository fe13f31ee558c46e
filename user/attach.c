// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Putting hblb's program on an interface and taking it off, shared by the
 * daemon (-i) and the CLI (attach/detach). */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "attach.h"
#include "log.h"

static int iface_mac(const char *name, __u8 *mac)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr))
		err = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return err;
}

static bool prog_uses_map(int prog_fd, __u32 map_id)
{
	struct bpf_prog_info info = { 0 };
	__u32 ids[64], len = sizeof(info);

	info.nr_map_ids = 64;
	info.map_ids = (__u64)(unsigned long)ids;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len))
		return false;
	for (__u32 i = 0; i < info.nr_map_ids && i < 64; i++)
		if (ids[i] == map_id)
			return true;
	return false;
}

/*
 * Enables the interface in hblb_ifaces, then: keeps an hblb program already
 * there that runs on these pinned maps and the same code (a restart),
 * replaces any other hblb program in one step (an upgrade: no moment with
 * no program), or attaches where there is none.
 */
int hblb_attach(struct hblb *h, const struct attach_req *io)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	LIBBPF_OPTS(bpf_xdp_attach_opts, ao);
	struct bpf_prog_info old_info = { 0 }, new_info = { 0 };
	struct bpf_map_info cfg_info = { 0 };
	__u32 len, ifindex = if_nametoindex(io->name);
	int new_fd = bpf_program__fd(h->skel->progs.hblb_xdp), old_fd = -1, err;
	struct hblb_iface ifc = { .enabled = 1 };

	if (!ifindex) {
		pr_err("no interface %s: check the name with 'ip link'", io->name);
		return -ENODEV;
	}
	if (ifindex >= HBLB_MAX_IFINDEX) {
		pr_err("interface %s has ifindex %u; hblb supports up to %u", io->name, ifindex,
		       HBLB_MAX_IFINDEX - 1);
		return -ERANGE;
	}
	err = iface_mac(io->name, ifc.mac);
	if (err) {
		pr_err("cannot read the MAC of %s: %s", io->name, strerror(-err));
		return err;
	}
	if (bpf_map_update_elem(bpf_map__fd(h->skel->maps.hblb_ifaces), &ifindex, &ifc, BPF_ANY))
		return -errno;

	err = bpf_xdp_query(ifindex, 0, &q);
	if (err) {
		pr_err("cannot query XDP on %s: %s", io->name, strerror(-err));
		return err;
	}
	if (q.prog_id) {
		old_fd = bpf_prog_get_fd_by_id(q.prog_id);
		len = sizeof(old_info);
		if (old_fd < 0 || bpf_obj_get_info_by_fd(old_fd, &old_info, &len)) {
			err = -errno;
			pr_err("cannot inspect the XDP program on %s: %s", io->name, strerror(-err));
			goto out;
		}
		if (strcmp(old_info.name, "hblb_xdp") != 0) {
			pr_err("%s already runs XDP program '%s' (id %u), which is not hblb's: detach it first",
			       io->name, old_info.name, q.prog_id);
			err = -EEXIST;
			goto out;
		}
		len = sizeof(new_info);
		bpf_obj_get_info_by_fd(new_fd, &new_info, &len);
		len = sizeof(cfg_info);
		bpf_obj_get_info_by_fd(bpf_map__fd(h->skel->maps.hblb_config), &cfg_info, &len);
		if (memcmp(old_info.tag, new_info.tag, sizeof(old_info.tag)) == 0 &&
		    prog_uses_map(old_fd, cfg_info.id)) {
			pr_info("%s: adopted the running hblb program (id %u)", io->name, q.prog_id);
			err = 0;
			goto out;
		}
		ao.old_prog_fd = old_fd;
		err = bpf_xdp_attach(ifindex, new_fd, io->mode | XDP_FLAGS_REPLACE, &ao);
		if (!err)
			pr_info("%s: replaced hblb program id %u in one step", io->name, q.prog_id);
	} else {
		err = bpf_xdp_attach(ifindex, new_fd, io->mode | XDP_FLAGS_UPDATE_IF_NOEXIST, NULL);
		if (!err)
			pr_info("%s: attached (%s mode)", io->name,
				io->mode == XDP_FLAGS_SKB_MODE ? "generic" : "native");
	}
	if (err)
		pr_err("cannot attach to %s: %s%s", io->name, strerror(-err),
		       err == -EEXIST || err == -EBUSY ?
		       " (a program is attached in the other mode: detach it or use the same mode)" : "");
out:
	if (old_fd >= 0)
		close(old_fd);
	return err;
}

bool hblb_attached_here(struct hblb *h, __u32 ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);

	if (bpf_xdp_query(ifindex, 0, &q) || !q.prog_id)
		return false;
	if (bpf_obj_get_info_by_fd(bpf_program__fd(h->skel->progs.hblb_xdp), &info, &len))
		return false;
	/* the same program, or one this daemon adopted: same code on our maps */
	if (q.prog_id == info.id)
		return true;
	{
		struct bpf_prog_info old = { 0 };
		struct bpf_map_info cfg = { 0 };
		int fd = bpf_prog_get_fd_by_id(q.prog_id);
		bool same;

		if (fd < 0)
			return false;
		len = sizeof(old);
		same = !bpf_obj_get_info_by_fd(fd, &old, &len) &&
		       !memcmp(old.tag, info.tag, sizeof(old.tag));
		len = sizeof(cfg);
		same = same && !bpf_obj_get_info_by_fd(bpf_map__fd(h->skel->maps.hblb_config), &cfg, &len) &&
		       prog_uses_map(fd, cfg.id);
		close(fd);
		return same;
	}
}

void hblb_iface_forget(struct hblb *h, __u32 ifindex)
{
	struct hblb_iface off = { 0 };

	if (ifindex && ifindex < HBLB_MAX_IFINDEX)
		bpf_map_update_elem(bpf_map__fd(h->skel->maps.hblb_ifaces), &ifindex, &off, BPF_ANY);
}

int hblb_detach(const char *dev, int ifaces_fd)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	LIBBPF_OPTS(bpf_xdp_attach_opts, ao);
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info), ifindex = if_nametoindex(dev), flags;
	struct hblb_iface off = { 0 };
	int fd, err;

	if (!ifindex) {
		pr_err("no interface %s: check the name with 'ip link'", dev);
		return -ENODEV;
	}
	err = bpf_xdp_query(ifindex, 0, &q);
	if (err) {
		pr_err("cannot query XDP on %s: %s", dev, strerror(-err));
		return err;
	}
	if (!q.prog_id) {
		pr_err("%s has no XDP program attached", dev);
		return -ENOENT;
	}
	fd = bpf_prog_get_fd_by_id(q.prog_id);
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len)) {
		err = -errno;
		pr_err("cannot inspect the XDP program on %s: %s", dev, strerror(-err));
		goto out;
	}
	if (strcmp(info.name, "hblb_xdp")) {
		pr_err("%s runs XDP program '%s' (id %u), not hblb's: left alone", dev, info.name, q.prog_id);
		err = -EPERM;
		goto out;
	}
	flags = q.attach_mode == XDP_ATTACHED_SKB ? XDP_FLAGS_SKB_MODE :
		q.attach_mode == XDP_ATTACHED_HW ? XDP_FLAGS_HW_MODE : XDP_FLAGS_DRV_MODE;
	/* only the program we inspected: a concurrent attach is not undone */
	ao.old_prog_fd = fd;
	err = bpf_xdp_detach(ifindex, flags | XDP_FLAGS_REPLACE, &ao);
	if (err) {
		pr_err("cannot detach from %s: %s", dev, strerror(-err));
		goto out;
	}
	if (ifaces_fd >= 0 && ifindex < HBLB_MAX_IFINDEX)
		bpf_map_update_elem(ifaces_fd, &ifindex, &off, BPF_ANY);
	pr_info("%s: detached", dev);
out:
	if (fd >= 0)
		close(fd);
	return err;
}
