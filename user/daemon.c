// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * hblb daemon: the controller process. Loads the XDP program on the pinned
 * maps (reusing what a previous daemon left), attaches it to the given
 * interfaces or atomically replaces the program there, then ticks the
 * controller until SIGTERM/SIGINT, leaving the data path forwarding.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "ctl.h"
#include "attach.h"
#include "cli.h"
#include "daemon.h"
#include "log.h"

#define MAX_IFACES 16
#define IFACE_RECHECK_NS 1000000000ull  /* also look once a second: a lost netlink message */

/* An interface given with -i, as last seen. */
struct iface_watch {
	struct attach_req req;
	__u32 ifindex;          /* 0 while it does not exist */
	bool up;                /* administratively up (IFF_UP) */
	bool attached;          /* our program is on it */
	bool retry_attach;      /* attaching after its return failed: try at link up */
};

static bool iface_is_up(const char *name)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool up = false;

	if (fd < 0)
		return false;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0)
		up = ifr.ifr_flags & IFF_UP;
	close(fd);
	return up;
}

/* A socket that becomes readable on every link change (RTNLGRP_LINK): the
 * daemon then looks at its interfaces again. -errno if unavailable; the
 * once-a-second look still notices changes then. */
static int link_events_open(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = RTMGRP_LINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* The messages only say that something changed: read them all (an overrun,
 * ENOBUFS, means the same) and look at the interfaces by name. */
static void link_events_drain(int fd)
{
	char buf[8192];

	while (recv(fd, buf, sizeof(buf), 0) > 0 || errno == ENOBUFS)
		;
}

/*
 * Follows each -i interface by name: gone (deleted, or renamed) disables
 * its old ifindex in hblb_ifaces; back under a new ifindex (re-created)
 * enables that one and attaches again in the same mode (a failed attach is
 * tried again at link up); down and up are logged. One line per change. The data path keeps serving the other interfaces throughout.
 */
static void ifaces_follow(struct hblb *h, struct iface_watch *w, __u32 n)
{
	for (__u32 i = 0; i < n; i++) {
		struct iface_watch *x = &w[i];
		__u32 idx = if_nametoindex(x->req.name);
		bool up;

		if (!idx) {
			if (x->ifindex) {
				pr_warn("%s: interface gone (was ifindex %u); hblb attaches again when it "
					"returns", x->req.name, x->ifindex);
				hblb_iface_forget(h, x->ifindex);
				x->ifindex = 0;
				x->attached = false;
			}
			continue;
		}
		if (idx != x->ifindex) {
			if (x->ifindex)
				hblb_iface_forget(h, x->ifindex);
			pr_info("%s: interface %s as ifindex %u: attaching", x->req.name,
				x->ifindex ? "replaced" : "back", idx);
			x->ifindex = idx;
			x->up = iface_is_up(x->req.name);
			x->attached = hblb_attach(h, &x->req) == 0;
			x->retry_attach = !x->attached;
			/* the reasons an attach fails (ifindex out of range, a foreign
			 * program, the mode unsupported) last: said once, tried again
			 * when the interface comes up or returns anew */
			if (!x->attached)
				pr_err("%s: not attached; hblb tries again when it comes up or is "
				       "re-created", x->req.name);
			continue;
		}
		up = iface_is_up(x->req.name);
		if (up != x->up) {
			if (up)
				pr_info("%s: link up again", x->req.name);
			else
				pr_warn("%s: link down: no traffic on it until it is up", x->req.name);
			x->up = up;
			if (up && !x->attached && x->retry_attach) {
				x->attached = hblb_attach(h, &x->req) == 0;
				x->retry_attach = !x->attached;
			}
		}
		/* detached by hand (hblb detach, ip link): said once, not undone,
		 * so the daemon does not fight the operator */
		if (x->attached && !hblb_attached_here(h, idx)) {
			pr_warn("%s: hblb's program is no longer attached (detached by hand?); "
				"'hblb attach %s' or a daemon restart puts it back", x->req.name,
				x->req.name);
			x->attached = false;
		}
	}
}


static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* One daemon per pin directory: an exclusive lock on the directory itself,
 * held for the process's life (released by the kernel even on SIGKILL). */
static int lock_pin_dir(const char *dir)
{
	char parent[256], *slash;
	struct statfs st;
	int fd;

	/* the pin directory's parent must be bpffs: say so, not a bare EPERM
	 * from sysfs when /sys/fs/bpf is not mounted */
	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = 0;
	if (statfs(parent, &st) || st.f_type != BPF_FS_MAGIC) {
		pr_err("%s is not on bpffs (is bpffs mounted? mount -t bpf bpf /sys/fs/bpf), so "
		       "the maps cannot be pinned in %s", parent, dir);
		return -ENOENT;
	}
	if (mkdir(dir, 0700) && errno != EEXIST) {
		pr_err("cannot create pin directory %s: %s (is bpffs mounted on /sys/fs/bpf?)",
		       dir, strerror(errno));
		return -errno;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		pr_err("cannot open pin directory %s: %s", dir, strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int err = -errno;

		if (err == -EWOULDBLOCK)
			pr_err("another hblb daemon is running on %s: stop it first, or use another --pin-dir", dir);
		else
			pr_err("cannot lock %s: %s", dir, strerror(-err));
		close(fd);
		return err == -EWOULDBLOCK ? -EBUSY : err;
	}
	return fd;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: hblb daemon [OPTIONS]\n"
		"  -i, --interface DEV[:native|:generic]  attach to DEV (repeatable; default native)\n"
		"      --interval MS|learn    heartbeat interval (default 1000), or learned from the heartbeats\n"
		"      --rise N               up after N consecutive intervals with heartbeats (default 2)\n"
		"      --dead-after N         down after N intervals without (default 3)\n"
		"      --start-up             new backends start up instead of proving themselves\n"
		"      --flap N/WINDOW/HOLD|off  hold a backend down HOLD s after N changes in WINDOW s (default 5/60/30)\n"
		"      --fail-closed          empty a service's table when all its backends are down\n"
		"      --gtsm                 accept heartbeats only with IP TTL 255 (senders on this link)\n"
		"      --pass-heartbeats      pass heartbeats on to the host's stack after counting them\n"
		"                             (for a mod_heartmonitor on this host; default: consumed)\n"
		"      --tick MS              controller tick (default 10)\n"
		"      --table-size M         Maglev table size, prime (default %u)\n"
		"      --max-services N       (default %u)\n"
		"      --flow-buckets N       4-way flow buckets, power of two (default %u)\n"
		"Signals: TERM/INT exit and leave the data path forwarding; HUP rereads the configuration.\n",
		HBLB_TABLE_SIZE_DEFAULT, HBLB_MAX_SERVICES, HBLB_FLOW_BUCKETS_DEFAULT);
}

int cmd_daemon(int argc, char **argv, const char *pin_dir)
{
	static const struct option opts[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "interval", required_argument, NULL, 'I' },
		{ "rise", required_argument, NULL, 'r' },
		{ "dead-after", required_argument, NULL, 'd' },
		{ "start-up", no_argument, NULL, 'u' },
		{ "flap", required_argument, NULL, 'f' },
		{ "fail-closed", no_argument, NULL, 'c' },
		{ "gtsm", no_argument, NULL, 'G' },
		{ "pass-heartbeats", no_argument, NULL, 'P' },
		{ "tick", required_argument, NULL, 't' },
		{ "table-size", required_argument, NULL, 'T' },
		{ "max-services", required_argument, NULL, 'S' },
		{ "flow-buckets", required_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct attach_req ifaces[MAX_IFACES];
	struct iface_watch watch[MAX_IFACES];
	struct hblb_load_opts lo = { .pin_dir = pin_dir };
	struct ctl_opts co = { 0 };
	struct epoll_event ev, events[8];
	struct itimerspec its = { 0 };
	__u32 n_ifaces = 0, tick_ms = 10, v;
	int opt, lock_fd = -1, sfd = -1, tfd = -1, efd = -1, lfd = -1, err = 0, check_fd;
	__u64 next_iface_look = 0;
	bool running = true;
	sigset_t mask;
	struct ctl c;

	health_params_default(&co.health);
	optind = 1;
	while ((opt = getopt_long(argc, argv, "i:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'i': {
			char *colon = strchr(optarg, ':');

			if (n_ifaces == MAX_IFACES) {
				pr_err("at most %d interfaces", MAX_IFACES);
				return -EINVAL;
			}
			ifaces[n_ifaces].mode = XDP_FLAGS_DRV_MODE;
			if (colon) {
				*colon = 0;
				if (!strcmp(colon + 1, "generic"))
					ifaces[n_ifaces].mode = XDP_FLAGS_SKB_MODE;
				else if (strcmp(colon + 1, "native")) {
					pr_err("interface mode '%s' is neither native nor generic", colon + 1);
					return -EINVAL;
				}
			}
			ifaces[n_ifaces++].name = optarg;
			break;
		}
		case 'I':
			if (!strcmp(optarg, "learn")) {
				co.health.learn_interval = true;
				break;
			}
			if (parse_uint(optarg, "interval (ms)", 10, 600000, &v))
				return -EINVAL;
			co.health.interval_ns = (__u64)v * 1000000;
			break;
		case 'r':
			if (parse_uint(optarg, "rise", 1, 1000, &co.health.rise))
				return -EINVAL;
			break;
		case 'd':
			if (parse_uint(optarg, "dead-after", 1, 1000, &co.health.dead_after))
				return -EINVAL;
			break;
		case 'u':
			co.health.start_up = true;
			break;
		case 'f': {
			unsigned int n, w, hold;
			char extra;

			if (!strcmp(optarg, "off")) {
				co.health.flap_max = 0;
				break;
			}
			if (sscanf(optarg, "%u/%u/%u%c", &n, &w, &hold, &extra) != 3 || !n || !w) {
				pr_err("--flap '%s' is not N/WINDOW_S/HOLD_S, e.g. 5/60/30", optarg);
				return -EINVAL;
			}
			co.health.flap_max = n;
			co.health.flap_window_ns = (__u64)w * 1000000000;
			co.health.flap_hold_ns = (__u64)hold * 1000000000;
			break;
		}
		case 'c':
			co.fail_closed = true;
			break;
		case 'G':
			co.gtsm = true;
			break;
		case 'P':
			co.pass_heartbeats = true;
			break;
		case 't':
			if (parse_uint(optarg, "tick (ms)", 1, 1000, &tick_ms))
				return -EINVAL;
			break;
		case 'T':
			if (parse_uint(optarg, "table size", 3, 1u << 24, &lo.table_size))
				return -EINVAL;
			break;
		case 'S':
			if (parse_uint(optarg, "max services", 1, 65536, &lo.max_services))
				return -EINVAL;
			break;
		case 'B':
			if (parse_uint(optarg, "flow buckets", 1, 1u << 24, &lo.flow_buckets))
				return -EINVAL;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		pr_err("unexpected argument '%s': see 'hblb daemon --help'", argv[optind]);
		return -EINVAL;
	}
	if (health_params_check(&co.health)) {
		pr_err("liveness options out of range: interval 10 ms-600 s, rise and dead-after 1-%u, "
		       "flap at most %u changes, window and hold at most a day",
		       HEALTH_COUNT_MAX, HEALTH_FLAP_MAX);
		return -EINVAL;
	}

	/* bad input changes nothing: check the interfaces before any pin exists */
	for (__u32 i = 0; i < n_ifaces; i++) {
		if (!if_nametoindex(ifaces[i].name)) {
			pr_err("no interface %s: check the name with 'ip link'", ifaces[i].name);
			return -ENODEV;
		}
	}
	/* blocked from here: a SIGTERM while the program loads (seconds on a
	 * busy machine) ends the daemon cleanly once it is up, not half-way */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	lock_fd = lock_pin_dir(hblb_pin_dir(pin_dir));
	if (lock_fd < 0)
		return lock_fd;
	err = ctl_open(&c, &lo, &co, mono_ns());
	if (err)
		goto out_unlock;
	for (__u32 i = 0; i < n_ifaces; i++) {
		err = hblb_attach(&c.h, &ifaces[i]);
		if (err)
			goto out;
		watch[i] = (struct iface_watch){
			.req = ifaces[i], .ifindex = if_nametoindex(ifaces[i].name),
			.up = iface_is_up(ifaces[i].name), .attached = true,
		};
	}

	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	efd = epoll_create1(EPOLL_CLOEXEC);
	if (sfd < 0 || tfd < 0 || efd < 0) {
		err = -errno;
		pr_err("cannot set up the event loop: %s", strerror(-err));
		goto out;
	}
	its.it_interval.tv_nsec = (long)tick_ms * 1000000 % 1000000000;
	its.it_interval.tv_sec = tick_ms / 1000;
	its.it_value = its.it_interval;
	timerfd_settime(tfd, 0, &its, NULL);
	ev.events = EPOLLIN;
	ev.data.fd = sfd;
	epoll_ctl(efd, EPOLL_CTL_ADD, sfd, &ev);
	ev.data.fd = tfd;
	epoll_ctl(efd, EPOLL_CTL_ADD, tfd, &ev);
	lfd = n_ifaces ? link_events_open() : -1;
	if (lfd >= 0) {
		ev.data.fd = lfd;
		epoll_ctl(efd, EPOLL_CTL_ADD, lfd, &ev);
	} else if (n_ifaces) {
		pr_warn("no link notifications (%s): interfaces are looked at once a second",
			strerror(-lfd));
	}
	check_fd = ctl_check_fd(&c);
	if (check_fd >= 0) {
		ev.data.fd = check_fd;
		epoll_ctl(efd, EPOLL_CTL_ADD, check_fd, &ev);
	}
	pr_info("running on %s, pid %d, tick %u ms", c.h.pin_dir, getpid(), tick_ms);

	while (running) {
		int n = epoll_wait(efd, events, 8, -1);
		bool tick = false, reload = false, links = false;

		if (n < 0 && errno != EINTR) {
			err = -errno;
			pr_err("event loop: %s", strerror(-err));
			break;
		}
		for (int i = 0; i < n; i++) {
			int fd = events[i].data.fd;

			if (fd == sfd) {
				struct signalfd_siginfo si;

				while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					if (si.ssi_signo == SIGHUP) {
						pr_info("SIGHUP: rereading the configuration");
						reload = true;
					} else {
						pr_info("signal %u: exiting; the data path keeps forwarding",
							si.ssi_signo);
						running = false;
					}
				}
			} else if (fd == tfd) {
				__u64 expirations;

				if (read(tfd, &expirations, sizeof(expirations)) > 0)
					tick = true;
			} else if (fd == lfd) {
				link_events_drain(lfd);
				links = true;
			} else {
				tick = true;    /* a check's socket is ready */
			}
		}
		if (running && n_ifaces && (links || mono_ns() >= next_iface_look)) {
			ifaces_follow(&c.h, watch, n_ifaces);
			next_iface_look = mono_ns() + IFACE_RECHECK_NS;
		}
		if (running && (tick || reload))
			ctl_tick(&c, mono_ns(), reload);
	}
out:
	if (lfd >= 0)
		close(lfd);
	if (efd >= 0)
		close(efd);
	if (tfd >= 0)
		close(tfd);
	if (sfd >= 0)
		close(sfd);
	ctl_close(&c);
out_unlock:
	close(lock_fd);
	return err;
}
