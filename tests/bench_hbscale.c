// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bench_hbscale: 10,000 backends heartbeating at 10 Hz (issue 6, part 6).
 * One live-frames sender emulates them all from their own source
 * addresses (198.18.16.0 onwards) into hblb's interface (native XDP on a
 * veth); the daemon runs with a 100 ms heartbeat interval. Reported: every
 * heartbeat sent against hblb's per-backend counts (must match exactly),
 * how many backends the daemon marked up, and the daemon's CPU share
 * (utime + stime over the window / wall time, one core = 1.0).
 *
 * Each 100 ms round is sent in slices of SLICE backends spread over the
 * round, as real backends' beats are spread. Frames the generator could
 * not queue at hblb's interface (a full veth ring, ethtool's
 * xdp_xmit_errors) never reached hblb: they are reported as ring_drops
 * and not counted as sent.
 *
 * Usage: bench_hbscale --hblb PATH --json OUT [--quick] [--backends N]
 *        [--seconds S] [--rate HZ]                        (root)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "hblb.h"
#include "livegen.h"
#include "log.h"
#include "packets.h"

#define SERVICE  "198.18.15.100:80/tcp"
#define BE_BASE  0xc6121000u    /* 198.18.16.0 */
/* Backends per burst. Each live-frames run has a fixed cost (~35 ms per
 * run measured on this loaded machine: 2,000 runs of 500 frames took
 * 71 s), so a round is a few large bursts, not many small ones. */
#define SLICE    5000
#define PAYLOAD  "v=1&ready=10&busy=0"

static char ns_gen[32], ns_lb[32], pin_dir[128], log_path[128];
static pid_t daemon_pid;

static void cleanup(void)
{
	char cmd[256];

	lg_stop(daemon_pid);
	daemon_pid = 0;
	if (!ns_gen[0])
		return;
	snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null; rm -rf %s",
		 ns_gen, ns_lb, pin_dir);
	if (system(cmd))
		fprintf(stderr, "cleanup: %s failed\n", cmd);
	unlink(log_path);
	ns_gen[0] = 0;
}

static void on_signal(int sig)
{
	(void)sig;
	exit(EXIT_FAILURE);
}

static void show_log(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "tail -n 15 %s >&2", log_path);
	(void)!system(cmd);
}

/* The service and its backends through `hblb batch -`: one process. */
static int configure(const char *hblb, int n)
{
	char cmd[512];
	FILE *f;
	int rc;

	snprintf(cmd, sizeof(cmd), "%s --pin-dir %s batch - >>%s 2>&1", hblb, pin_dir, log_path);
	f = popen(cmd, "w");
	if (!f)
		return -errno;
	fprintf(f, "service add " SERVICE "\n");
	for (int i = 0; i < n; i++) {
		__u32 a = BE_BASE + i;

		fprintf(f, "backend add " SERVICE " %u.%u.%u.%u mac 02:00:c6:12:%02x:%02x\n", a >> 24,
			(a >> 16) & 0xff, (a >> 8) & 0xff, a & 0xff, (a >> 8) & 0xff, a & 0xff);
	}
	rc = pclose(f);
	if (rc) {
		pr_err("hblb batch failed");
		return -EIO;
	}
	return 0;
}

static int setup(const char *hblb, int n)
{
	char *argv[] = { (char *)hblb, "--pin-dir", pin_dir, "daemon", "-i", "lb0:native",
			 "--interval", "100", "--rise", "2", "--dead-after", "3", "--flap", "off", NULL };
	struct lg_hb_counts c = { 0 };
	char path[256];
	int err;

	if (lg_sh("ip netns add %s && ip netns add %s", ns_gen, ns_lb) ||
	    lg_sh("for n in %s %s; do ip netns exec $n sysctl -qw net.ipv6.conf.all.disable_ipv6=1 "
		  "net.ipv6.conf.default.disable_ipv6=1 && ip -n $n link set lo up || exit 1; done",
		  ns_gen, ns_lb) ||
	    lg_sh("ip -n %s link add gen0 type veth peer name lb0 netns %s && ip -n %s link set gen0 up && "
		  "ip -n %s link set lb0 up", ns_gen, ns_lb, ns_gen, ns_lb))
		return -EIO;
	daemon_pid = lg_spawn(ns_lb, argv, log_path);
	if (daemon_pid < 0)
		return daemon_pid;
	snprintf(path, sizeof(path), "%s/%s", pin_dir, HBLB_MAP_CFG_GEN);
	for (int i = 0; i < 500 && access(path, F_OK); i++)
		usleep(20000);
	err = configure(hblb, n);
	if (err)
		return err;
	/* the daemon has made every backend a heartbeat source */
	for (int i = 0; i < 1000 && (lg_hb_counts(pin_dir, &c) || c.reals < (__u64)n); i++)
		usleep(20000);
	if (c.reals != (__u64)n) {
		pr_err("the daemon knows %llu of %d backends", (unsigned long long)c.reals, n);
		return -ETIMEDOUT;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: bench_hbscale --hblb PATH --json OUT [--quick] [--backends N] [--seconds S] "
		   "[--rate HZ]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hblb", required_argument, NULL, 'H' },
		{ "json", required_argument, NULL, 'j' },
		{ "quick", no_argument, NULL, 'q' },
		{ "backends", required_argument, NULL, 'b' },
		{ "seconds", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *hblb = NULL, *json = NULL;
	int n = 10000, seconds = 10, rate = 10, opt, err = 0, up = 0, slices;
	__u64 generated = 0, lost = 0, sent, acc0, acc1, cpu0, cpu1, t0, t1, period_ns;
	struct lg_hb_counts before, after;
	struct pkt_spec s = {
		.dst_mac = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 },
		.saddr = BE_BASE, .daddr = HBLB_HB_GROUP, .proto = IPPROTO_UDP,
		.sport = HBLB_HB_PORT_DEFAULT, .dport = HBLB_HB_PORT_DEFAULT,
		.payload = PAYLOAD, .payload_len = sizeof(PAYLOAD) - 1,
	};
	struct livegen_vary vary = { .off = LIVEGEN_SADDR_OFF, .width = 4, .ip_off = LIVEGEN_IP_OFF };
	struct livegen *g = NULL;
	struct timespec next;
	__u8 frame[128];
	__u32 len;
	int ifindex;
	double share;
	FILE *f;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'H': hblb = optarg; break;
		case 'j': json = optarg; break;
		case 'q': n = 1000; seconds = 3; break;
		case 'b': n = atoi(optarg); break;
		case 's': seconds = atoi(optarg); break;
		case 'r': rate = atoi(optarg); break;
		case 'h': usage(stdout); return EXIT_SUCCESS;
		default: usage(stderr); return EXIT_FAILURE;
		}
	}
	if (!hblb || !json || n < 1 || n > HBLB_MAX_REALS || seconds < 1 || rate < 1 || rate > 100) {
		usage(stderr);
		return EXIT_FAILURE;
	}
	log_init(0);
	snprintf(ns_gen, sizeof(ns_gen), "hbs%d-gen", getpid());
	snprintf(ns_lb, sizeof(ns_lb), "hbs%d-lb", getpid());
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/hblb-bench-hbscale-%d", getpid());
	snprintf(log_path, sizeof(log_path), "/tmp/hblb-bench-hbscale-%d.log", getpid());
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	printf("configuring %d backends (hblb batch)...\n", n);
	fflush(stdout);
	t0 = lg_now_ns();
	err = setup(hblb, n);
	if (err)
		goto out;
	printf("configured and applied in %.2f s\n", (lg_now_ns() - t0) / 1e9);
	if ((err = netns_enter(ns_gen)) || (err = livegen_open(&g)))
		goto out;
	ifindex = if_nametoindex("gen0");
	lg_dev_mac(ns_gen, "gen0", s.src_mac);
	len = pkt_build(&s, frame, sizeof(frame), NULL, NULL);

	slices = (n + SLICE - 1) / SLICE;
	period_ns = 1000000000ull / rate;
	lg_hb_counts(pin_dir, &before);
	acc0 = lg_reason(pin_dir, HBLB_R_HB_ACCEPTED);
	cpu0 = lg_cpu_ns(daemon_pid);
	t0 = lg_now_ns();
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (int round = 0; round < seconds * rate; round++) {
		for (int sl = 0; sl < slices; sl++) {
			struct livegen_result r;
			long long e0, e1;

			vary.base = BE_BASE + sl * SLICE;
			vary.count = n - sl * SLICE < SLICE ? n - sl * SLICE : SLICE;
			e0 = livegen_ethtool_sum("gen0", "xdp_xmit_errors");
			err = livegen_send(g, ifindex, frame, len, &vary, vary.count, &r);
			e1 = livegen_ethtool_sum("gen0", "xdp_xmit_errors");
			if (err || e0 < 0 || e1 < 0) {
				err = err ? err : -EIO;
				pr_err("sending failed");
				goto out;
			}
			generated += r.packets;
			lost += e1 - e0;
			/* the next slice's time in this round */
			next.tv_nsec += period_ns / slices;
			while (next.tv_nsec >= 1000000000) {
				next.tv_nsec -= 1000000000;
				next.tv_sec++;
			}
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		}
	}
	t1 = lg_now_ns();
	cpu1 = lg_cpu_ns(daemon_pid);
	up = lg_backends_in_state(pin_dir, HBLB_BE_UP);
	acc1 = lg_reason(pin_dir, HBLB_R_HB_ACCEPTED);
	lg_hb_counts(pin_dir, &after);

	sent = generated - lost;
	if (t1 - t0 > (__u64)seconds * 1100000000ull)
		pr_warn("the sender fell behind: %d rounds took %.1f s, not %d s; backends beat "
			"less often than %d Hz and may be marked down", seconds * rate, (t1 - t0) / 1e9,
			seconds, rate);
	share = (double)(cpu1 - cpu0) / (t1 - t0);
	printf("%d backends x %d Hz x %d s: %llu heartbeats sent (%llu generated, %llu lost in the veth "
	       "ring), %llu counted by hblb (ratio %.6f; hb_accepted %llu), per backend %llu-%llu; "
	       "%d up; daemon CPU %.2f%% of a core\n",
	       n, rate, seconds, (unsigned long long)sent, (unsigned long long)generated,
	       (unsigned long long)lost, (unsigned long long)(after.sum - before.sum),
	       sent ? (double)(after.sum - before.sum) / sent : 0, (unsigned long long)(acc1 - acc0),
	       (unsigned long long)after.min, (unsigned long long)after.max, up, share * 100);
	if (up != n) {
		pr_warn("the daemon has %d of %d backends up; its log:", up, n);
		show_log();
	}
	if (after.sum - before.sum != sent || acc1 - acc0 != sent)
		pr_warn("hblb counted %llu heartbeats of %llu sent",
			(unsigned long long)(after.sum - before.sum), (unsigned long long)sent);

	f = fopen(json, "w");
	if (!f && errno == ENOENT) {
		char dir[256];

		snprintf(dir, sizeof(dir), "%s", json);
		if (strrchr(dir, '/'))
			*strrchr(dir, '/') = 0;
		lg_sh("mkdir -p %s", dir);
		f = fopen(json, "w");
	}
	if (!f) {
		err = -errno;
		pr_err("cannot write %s: %s", json, strerror(-err));
		goto out;
	}
	fprintf(f, "{\"heartbeat_scale\": {\"backends\": %d, \"rate_hz\": %d, \"seconds\": %d, "
		   "\"sent\": %llu, \"counted\": %llu, \"counted_ratio\": %.6f, \"up\": %d, "
		   "\"ctl_cpu_share\": %.5f, \"ring_drops\": %llu, \"per_backend_min\": %llu, "
		   "\"per_backend_max\": %llu, \"wall_s\": %.3f}}\n",
		n, rate, seconds, (unsigned long long)sent, (unsigned long long)(after.sum - before.sum),
		sent ? (double)(after.sum - before.sum) / sent : 0, up, share, (unsigned long long)lost,
		(unsigned long long)after.min, (unsigned long long)after.max, (t1 - t0) / 1e9);
	fclose(f);
	printf("report: %s\n", json);
out:
	if (err)
		show_log();
	livegen_close(g);
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
