/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
#ifndef HBLB_ATTACH_H
#define HBLB_ATTACH_H

#include "loader.h"

struct attach_req {
	const char *name;
	__u32 mode;             /* XDP_FLAGS_DRV_MODE or XDP_FLAGS_SKB_MODE */
};

/* Enables the interface in hblb_ifaces and puts h's program on it: keeps an
 * hblb program already running there on the same maps and code, replaces
 * another hblb program in one step, refuses a foreign one. */
int hblb_attach(struct hblb *h, const struct attach_req *req);

/* Takes hblb's program off the interface and disables it in hblb_ifaces
 * (ifaces_fd). A foreign program there is left alone. */
int hblb_detach(const char *dev, int ifaces_fd);

/* Whether h's program (hblb_xdp on these maps) is attached to ifindex. */
bool hblb_attached_here(struct hblb *h, __u32 ifindex);

/* Marks ifindex disabled in hblb_ifaces: its interface is gone, and the
 * number may come back as another device. */
void hblb_iface_forget(struct hblb *h, __u32 ifindex);

#endif
