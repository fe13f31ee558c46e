// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * hblb beat: the backend-side heartbeat sender, in Apache mod_heartbeat's
 * format ("v=1&ready=N&busy=M"), to a multicast group or a unicast address.
 * Intervals are jittered as BFD does (each one 75-100% of the configured
 * interval), so thousands of backends do not beat in step.
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
#include <time.h>
#include <unistd.h>
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
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(HBLB_HB_PORT_DEFAULT),
				   .sin_addr.s_addr = htonl(HBLB_HB_GROUP) };
	struct sockaddr_in src = { .sin_family = AF_INET };
	__u32 interval_ms = 1000, ready = 1, busy = 0, ttl = 0, count = 0, sent = 0, v;
	const char *file = NULL, *command = NULL;
	bool have_src = false, log_sends = false;
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
	if (!ttl)
		ttl = IN_MULTICAST(ntohl(dst.sin_addr.s_addr)) ? 1 : 64;

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
		struct timespec ts;
		char msg[64];
		__u32 jitter;
		int len;

		if (file || command)
			read_source(file, command, &ready, &busy);
		len = snprintf(msg, sizeof(msg), "v=1&ready=%u&busy=%u", ready, busy);
		/* taken before the send: a lower bound of when the LB hears it */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if (sendto(fd, msg, len, 0, (struct sockaddr *)&dst, sizeof(dst)) < 0) {
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
	close(fd);
	return err;
}
