// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * hblb beat: the backend-side heartbeat sender, in Apache mod_heartbeat's
 * format ("v=1&ready=N&busy=M"), to a multicast group or a unicast address.
 * Intervals are jittered as BFD does (each one 75-100% of the configured
 * interval), so thousands of backends do not beat in step. With a key
 * (--key-file), each heartbeat carries a sequence number and a SipHash tag
 * the load balancer checks in XDP (hblb.h has the format).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "auth.h"
#include "beat.h"
#include "cli.h"
#include "log.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: hblb beat [OPTIONS]\n"
		"  --to ADDR[:PORT]      destination (default 239.0.0.1:%u; multicast or unicast)\n"
		"  --interval MS         interval, 10 ms or more (default 1000), jittered 75-100%%\n"
		"  --ready N --busy M    the values to send (default ready 1, busy 0)\n"
		"  --file PATH           read 'ready busy' from PATH before each heartbeat\n"
		"  --command CMD         run CMD (sh -c) before each heartbeat; it prints 'ready busy'\n"
		"  --source ADDR         send from ADDR (bind)\n"
		"  --ttl N               IP TTL (default 1 for multicast, as Apache; 64 unicast)\n"
		"  --gtsm                TTL 255, for a load balancer that requires it (hblb daemon --gtsm)\n"
		"  --key-file PATH       sign heartbeats with the key in PATH (32 hex digits); reread\n"
		"                        when the file changes, so a key rollover needs no restart\n"
		"  --count N             stop after N heartbeats (default: until SIGTERM/SIGINT)\n"
		"  --log-sends           print each heartbeat's send time (CLOCK_MONOTONIC ns) on stdout\n",
		HBLB_HB_PORT_DEFAULT);
}

/* "ready busy" from a file's or a command's first line. */
static int parse_values(const char *text, const char *from, __u32 *ready, __u32 *busy)
{
	unsigned long r, b;
	char extra;

	if (sscanf(text, "%lu %lu %c", &r, &b, &extra) != 2 || r > 0xffffffffUL || b > 0xffffffffUL) {
		pr_warn("%s gave '%.40s', not 'ready busy': keeping the last values", from, text);
		return -EINVAL;
	}
	*ready = r;
	*busy = b;
	return 0;
}

static void read_source(const char *file, const char *command, __u32 *ready, __u32 *busy)
{
	char line[128] = "";
	FILE *f = file ? fopen(file, "r") : popen(command, "r");

	if (!f) {
		pr_warn("cannot read %s: %s: keeping the last values", file ? file : command,
			strerror(errno));
		return;
	}
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	if (file)
		fclose(f);
	else
		pclose(f);
	parse_values(line, file ? file : command, ready, busy);
}

/* A key file and what it held when last read. */
struct key_source {
	const char *path;
	struct stat st;
	__u8 key[HBLB_KEY_LEN];
};

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Rereads the key when the file changed (a rollover); keeps the last good
 * key if the new content is bad. Returns 0 once a key is loaded. */
static int key_refresh(struct key_source *ks, bool first)
{
	__u8 key[HBLB_KEY_LEN];
	char fp[17];
	struct stat st;

	if (stat(ks->path, &st)) {
		if (first) {
			pr_err("cannot read key file %s: %s", ks->path, strerror(errno));
			return -errno;
		}
		return 0;
	}
	if (!first && same_file(&st, &ks->st))
		return 0;
	if (auth_key_read_file(ks->path, key)) {
		if (!first)
			pr_warn("keeping the previous key until %s changes again", ks->path);
		ks->st = st;    /* one warning per change, not one per heartbeat */
		return first ? -EINVAL : 0;
	}
	ks->st = st;
	if (first || memcmp(key, ks->key, sizeof(key))) {
		memcpy(ks->key, key, sizeof(key));
		auth_key_fingerprint(key, fp);
		pr_info("signing heartbeats with the key of fingerprint %s", fp);
	}
	memset(key, 0, sizeof(key));
	return 0;
}

/* The address the kernel will send from: the tag covers it. */
static int source_for(const struct sockaddr_in *dst, __be32 *saddr)
{
	struct sockaddr_in local;
	socklen_t len = sizeof(local);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) ||
	    getsockname(fd, (struct sockaddr *)&local, &len))
		err = -errno;
	else
		*saddr = local.sin_addr.s_addr;
	close(fd);
	return err;
}

/* Microseconds of CLOCK_REALTIME: increasing across restarts of the
 * sender, and never repeated within one run. */
static __u64 next_seq(__u64 last)
{
	struct timespec ts;
	__u64 us;

	clock_gettime(CLOCK_REALTIME, &ts);
	us = (__u64)ts.tv_sec * 1000000ull + ts.tv_nsec / 1000;
	return us > last ? us : last + 1;
}

static void sleep_ns(__u64 ns)
{
	struct timespec ts = { ns / 1000000000ull, ns % 1000000000ull };

	while (!stop && nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int cmd_beat(int argc, char **argv, struct global_opts *g)
{
	static const struct option opts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "interval", required_argument, NULL, 'i' },
		{ "ready", required_argument, NULL, 'r' },
		{ "busy", required_argument, NULL, 'b' },
		{ "file", required_argument, NULL, 'f' },
		{ "command", required_argument, NULL, 'c' },
		{ "source", required_argument, NULL, 's' },
		{ "ttl", required_argument, NULL, 'T' },
		{ "count", required_argument, NULL, 'n' },
		{ "log-sends", no_argument, NULL, 'L' },
		{ "gtsm", no_argument, NULL, 'g' },
		{ "key-file", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(HBLB_HB_PORT_DEFAULT),
				   .sin_addr.s_addr = htonl(HBLB_HB_GROUP) };
	struct sockaddr_in src = { .sin_family = AF_INET };
	__u32 interval_ms = 1000, ready = 1, busy = 0, ttl = 0, count = 0, sent = 0, v;
	const char *file = NULL, *command = NULL;
	struct key_source ks = { 0 };
	bool have_src = false, gtsm = false, log_sends = false;
	__u64 seq = 0;
	struct sigaction sa = { .sa_handler = on_signal };
	int opt, fd, err = 0;

	(void)g;
	optind = 0;     /* argv[0] is the first option: rescan from it */
	while ((opt = getopt_long(argc + 1, argv - 1, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 't': {
			char buf[64], *colon;

			snprintf(buf, sizeof(buf), "%s", optarg);
			colon = strchr(buf, ':');
			if (colon) {
				*colon = 0;
				if (parse_uint(colon + 1, "port", 1, 65535, &v))
					return -EINVAL;
				dst.sin_port = htons(v);
			}
			if (parse_ipv4(buf, &dst.sin_addr.s_addr))
				return -EINVAL;
			break;
		}
		case 'i':
			if (parse_uint(optarg, "interval (ms)", 10, 3600000, &interval_ms))
				return -EINVAL;
			break;
		case 'r':
			if (parse_uint(optarg, "ready", 0, 0xffffffffu, &ready))
				return -EINVAL;
			break;
		case 'b':
			if (parse_uint(optarg, "busy", 0, 0xffffffffu, &busy))
				return -EINVAL;
			break;
		case 'f': file = optarg; break;
		case 'c': command = optarg; break;
		case 's':
			if (parse_ipv4(optarg, &src.sin_addr.s_addr))
				return -EINVAL;
			have_src = true;
			break;
		case 'T':
			if (parse_uint(optarg, "ttl", 1, 255, &ttl))
				return -EINVAL;
			break;
		case 'n':
			if (parse_uint(optarg, "count", 1, 0xffffffffu, &count))
				return -EINVAL;
			break;
		case 'L': log_sends = true; break;
		case 'g': gtsm = true; break;
		case 'k': ks.path = optarg; break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc + 1) {
		pr_err("unexpected argument '%s': see 'hblb beat --help'", argv[optind - 1]);
		return -EINVAL;
	}
	if (file && command) {
		pr_err("give --file or --command, not both");
		return -EINVAL;
	}
	if (gtsm && ttl && ttl != 255) {
		pr_err("--gtsm sends with TTL 255: drop --ttl %u", ttl);
		return -EINVAL;
	}
	if (gtsm)
		ttl = 255;
	if (!ttl)
		ttl = IN_MULTICAST(ntohl(dst.sin_addr.s_addr)) ? 1 : 64;
	if (ks.path && key_refresh(&ks, true))
		return -EINVAL;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		pr_err("cannot open a UDP socket: %s", strerror(-err));
		return err;
	}
	if (setsockopt(fd, IPPROTO_IP, IN_MULTICAST(ntohl(dst.sin_addr.s_addr)) ? IP_MULTICAST_TTL : IP_TTL,
		       &ttl, sizeof(ttl)) ||
	    (have_src && bind(fd, (struct sockaddr *)&src, sizeof(src)))) {
		err = -errno;
		pr_err("cannot set up the socket: %s", strerror(-err));
		goto out;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	while (!stop && (!count || sent < count)) {
		char msg[160];
		__be32 saddr = src.sin_addr.s_addr;
		struct timespec ts;
		__u32 jitter;
		int len;

		if (file || command)
			read_source(file, command, &ready, &busy);
		if (!ks.path) {
			len = snprintf(msg, sizeof(msg), "v=1&ready=%u&busy=%u", ready, busy);
		} else if (key_refresh(&ks, false) || (!have_src && (err = source_for(&dst, &saddr)))) {
			pr_warn("cannot find the source address towards the load balancer: %s",
				strerror(-err));
			err = 0;
			len = -1;
		} else {
			seq = next_seq(seq);
			len = auth_message(msg, sizeof(msg), ready, busy, seq, ks.key, saddr);
		}
		/* taken before the send: a lower bound of when the LB hears it */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if (len < 0) {
			/* nothing to send this time; try again next interval */
		} else if (sendto(fd, msg, len, 0, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
			/* a transient error (no route yet, buffer full) must not end it */
			pr_warn("cannot send a heartbeat: %s", strerror(errno));
		} else {
			sent++;
			/* for failover benchmarks: CLOCK_MONOTONIC is one clock for
			 * every network namespace, so the LB side can be compared */
			if (log_sends) {
				printf("%llu\n", (unsigned long long)ts.tv_sec * 1000000000ull + ts.tv_nsec);
				fflush(stdout);
			}
		}
		if (count && sent >= count)
			break;
		if (getrandom(&jitter, sizeof(jitter), 0) != sizeof(jitter))
			jitter = sent * 2654435761u;
		/* BFD: each interval is 75-100% of the configured one */
		sleep_ns((__u64)interval_ms * 1000000ull * (75 + jitter % 26) / 100);
	}
out:
	memset(ks.key, 0, sizeof(ks.key));
	close(fd);
	return err;
}
