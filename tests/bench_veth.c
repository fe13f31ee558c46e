// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bench_veth: hblb's forwarding rate on a veth pair in native XDP mode,
 * beside a bare MAC-swap XDP_TX reflector on an identical pair (issue 6,
 * part 2; target: hblb >= 0.9 of the reflector).
 *
 *   namespace GEN                         namespace LB
 *   livegen_tx (live frames) -> gen0 ==== lb0  hblb (native; daemon + CLI)
 *   livegen_count (sink)     <- gen0         (XDP_TX to a backend MAC)
 *   livegen_tx (live frames) -> gen1 ==== lb1  floor_tx (parse + MAC swap + XDP_TX)
 *   livegen_count (sink)     <- gen1
 *
 * The generator sends TCP segments of many flows (source port varied per
 * frame) to the service; whatever comes back into gen0/gen1 is counted.
 * Forwarded rate = counted / time of the run. The two set-ups take turns,
 * so both see the same machine load; medians of the runs are reported.
 * The whole chain (generator, forwarder, sink) runs on one CPU per
 * frame batch, so the ratio understates the forwarder's own difference.
 *
 * Usage: bench_veth --hblb PATH --reflector floor_tx.bpf.o --json OUT [--quick]
 *        [--runs N] [--packets N] [--flows N] [--flow-buckets N (hblb's; default its own)]
 *        (root)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "hblb.h"
#include "livegen.h"
#include "log.h"
#include "packets.h"

#define VIP      "198.18.9.100"
#define SERVICE  VIP ":80/tcp"
#define NBACKENDS 4

static char ns_gen[32], ns_lb[32], pin_dir[128], log_path[128];
static pid_t daemon_pid;

static void cleanup(void)
{
	char cmd[256];

	lg_stop(daemon_pid);
	daemon_pid = 0;
	/* the veths, and the XDP programs on them, go with the namespaces */
	snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null; rm -rf %s",
		 ns_gen, ns_lb, pin_dir);
	if (ns_gen[0] && system(cmd))
		fprintf(stderr, "cleanup: %s failed\n", cmd);
	if (log_path[0])
		unlink(log_path);
	ns_gen[0] = 0;
}

static void on_signal(int sig)
{
	(void)sig;
	exit(EXIT_FAILURE);     /* runs cleanup through atexit */
}

static void show_log(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "tail -n 15 %s >&2", log_path);
	(void)!system(cmd);
}

static int hblb_cli(const char *hblb, const char *args)
{
	return lg_sh("%s --pin-dir %s %s >>%s 2>&1", hblb, pin_dir, args, log_path) ? -EIO : 0;
}

static int setup_netns(void)
{
	const char *ns[] = { ns_gen, ns_lb };

	for (int i = 0; i < 2; i++)
		if (lg_sh("ip netns add %s && ip netns exec %s sysctl -qw net.ipv6.conf.all.disable_ipv6=1 "
			  "net.ipv6.conf.default.disable_ipv6=1 && ip -n %s link set lo up",
			  ns[i], ns[i], ns[i]))
			return -EIO;
	for (int i = 0; i < 2; i++)
		if (lg_sh("ip -n %s link add gen%d type veth peer name lb%d netns %s && "
			  "ip -n %s link set gen%d up && ip -n %s link set lb%d up",
			  ns_gen, i, i, ns_lb, ns_gen, i, ns_lb, i))
			return -EIO;
	return 0;
}

static int attach_reflector(const char *path, int ifindex, struct bpf_object **out)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	struct bpf_program *prog;
	int err;

	if (!obj)
		return -errno;
	err = bpf_object__load(obj);
	prog = bpf_object__next_program(obj, NULL);
	if (!err && !prog)
		err = -ENOENT;
	if (!err)
		err = bpf_xdp_attach(ifindex, bpf_program__fd(prog), XDP_FLAGS_DRV_MODE, NULL);
	if (err) {
		pr_err("cannot attach the reflector %s: %s", path, strerror(-err));
		bpf_object__close(obj);
		return err;
	}
	*out = obj;
	return 0;
}

static int start_hblb(const char *hblb, const char *flow_buckets)
{
	char *argv[] = { (char *)hblb, "--pin-dir", pin_dir, "daemon", "-i", "lb0:native",
			 /* no heartbeats here: backends start up and stay for 30 min */
			 "--start-up", "--interval", "600000", "--flap", "off",
			 flow_buckets ? "--flow-buckets" : NULL, (char *)flow_buckets, NULL };
	char path[256], args[256];
	int up = 0;

	daemon_pid = lg_spawn(ns_lb, argv, log_path);
	if (daemon_pid < 0)
		return daemon_pid;
	snprintf(path, sizeof(path), "%s/%s", pin_dir, HBLB_MAP_CFG_GEN);
	for (int i = 0; i < 500 && access(path, F_OK); i++)
		usleep(20000);
	if (hblb_cli(hblb, "service add " SERVICE))
		return -EIO;
	for (int b = 1; b <= NBACKENDS; b++) {
		snprintf(args, sizeof(args), "backend add " SERVICE " 198.18.9.1%d weight 1 mac 02:00:00:00:09:1%d",
			 b, b);
		if (hblb_cli(hblb, args))
			return -EIO;
	}
	for (int i = 0; i < 500 && (up = lg_backends_in_state(pin_dir, HBLB_BE_UP)) < NBACKENDS; i++)
		usleep(20000);
	if (up != NBACKENDS) {
		pr_err("hblb has %d of %d backends up", up, NBACKENDS);
		return -ETIMEDOUT;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct target {
	const char *name;
	int ifindex;
	__u8 frame[128];
	__u32 len;
};

/* One run: frames that came back per second of the run, in Mpps. The
 * run's time is the kernel's (scheduled-out time left out: six other
 * engineers share these two cores); the wall-clock rate is kept too. */
static int run_once(struct livegen *g, const struct target *t, const struct livegen_vary *vary,
		    __u64 packets, double *mpps, double *wall_mpps, __u64 *counted)
{
	struct livegen_result r;
	__u64 c0 = livegen_counted(g);
	int err;

	err = livegen_send(g, t->ifindex, t->frame, t->len, vary, packets, &r);
	if (err)
		return err;
	*counted = livegen_counted(g) - c0;
	*mpps = r.kernel_ns ? *counted * 1e3 / r.kernel_ns : 0;
	*wall_mpps = r.wall_ns ? *counted * 1e3 / r.wall_ns : 0;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: bench_veth --hblb PATH --reflector floor_tx.bpf.o --json OUT [--quick]\n"
		   "                  [--runs N] [--packets N] [--flows N] [--flow-buckets N]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hblb", required_argument, NULL, 'H' },
		{ "reflector", required_argument, NULL, 'R' },
		{ "json", required_argument, NULL, 'j' },
		{ "quick", no_argument, NULL, 'q' },
		{ "runs", required_argument, NULL, 'r' },
		{ "packets", required_argument, NULL, 'n' },
		{ "flows", required_argument, NULL, 'f' },
		{ "flow-buckets", required_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *hblb = NULL, *reflector = NULL, *json = NULL, *flow_buckets = NULL;
	int runs = 9, flows = 4096, opt, err = 0;
	__u64 packets = 1000000, hblb_counted = 0, refl_counted = 0, fwd0, fwd1;
	double hblb_mpps[64], refl_mpps[64], hblb_wall[64], refl_wall[64], pair_ratio[64], h, r, ratio,
	       hw, rw, dummy;
	struct bpf_object *refl_obj = NULL;
	struct livegen *g = NULL;
	struct target t[2] = { { .name = "hblb" }, { .name = "reflector" } };
	struct livegen_vary vary = { .off = LIVEGEN_SPORT_OFF, .width = 2, .base = 10000 };
	long long xmit_err[2], gen_err[2];
	FILE *f;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'H': hblb = optarg; break;
		case 'R': reflector = optarg; break;
		case 'j': json = optarg; break;
		case 'q': runs = 5; packets = 500000; break;
		case 'r': runs = atoi(optarg); break;
		case 'n': packets = strtoull(optarg, NULL, 10); break;
		case 'f': flows = atoi(optarg); break;
		case 'B': flow_buckets = optarg; break;
		case 'h': usage(stdout); return EXIT_SUCCESS;
		default: usage(stderr); return EXIT_FAILURE;
		}
	}
	if (!hblb || !reflector || !json || runs < 1 || runs > 64 || !packets || flows < 1 ||
	    flows > 65535 - 10000) {
		usage(stderr);
		return EXIT_FAILURE;
	}
	log_init(0);
	vary.count = flows;
	snprintf(ns_gen, sizeof(ns_gen), "hbv%d-gen", getpid());
	snprintf(ns_lb, sizeof(ns_lb), "hbv%d-lb", getpid());
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/hblb-bench-veth-%d", getpid());
	snprintf(log_path, sizeof(log_path), "/tmp/hblb-bench-veth-%d.log", getpid());
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	if (setup_netns() || (err = start_hblb(hblb, flow_buckets))) {
		show_log();
		return EXIT_FAILURE;
	}
	/* the reflector's side, then the generator's: this thread stays there */
	if ((err = netns_enter(ns_lb)) ||
	    (err = attach_reflector(reflector, if_nametoindex("lb1"), &refl_obj)) ||
	    (err = netns_enter(ns_gen)) || (err = livegen_open(&g)))
		goto out;
	for (int i = 0; i < 2; i++) {
		char dev[8], peer[8];
		struct pkt_spec s = {
			.saddr = 0xc6120901, /* 198.18.9.1 */
			.daddr = 0xc6120964, /* VIP */
			.proto = IPPROTO_TCP, .sport = 10000, .dport = 80, .tcp_flags = PKT_TCP_ACK,
		};

		snprintf(dev, sizeof(dev), "gen%d", i);
		snprintf(peer, sizeof(peer), "lb%d", i);
		t[i].ifindex = if_nametoindex(dev);
		if (!t[i].ifindex || (err = lg_dev_mac(ns_gen, dev, s.src_mac)) ||
		    (err = lg_dev_mac(ns_lb, peer, s.dst_mac)) ||
		    (err = livegen_attach_counter(g, t[i].ifindex, true)))
			goto out;
		t[i].len = pkt_build(&s, t[i].frame, sizeof(t[i].frame), NULL, NULL);
	}

	/* warm-up: hblb learns every flow, caches settle */
	for (int i = 0; i < 2; i++)
		if ((err = run_once(g, &t[i], &vary, flows * 4 + 100000, &h, &dummy, &hblb_counted)))
			goto out;
	hblb_counted = 0;
	fwd0 = lg_reason(pin_dir, HBLB_R_TX_FORWARDED);
	for (int k = 0; k < runs; k++) {
		__u64 c;

		/* alternate which goes first, so neither always follows the other */
		for (int i = 0; i < 2; i++) {
			int w = (k + i) % 2;

			if ((err = run_once(g, &t[w], &vary, packets, w ? &refl_mpps[k] : &hblb_mpps[k],
					    w ? &refl_wall[k] : &hblb_wall[k], &c)))
				goto out;
			*(w ? &refl_counted : &hblb_counted) += c;
		}
		/* each pair ran back to back, under about the same load */
		pair_ratio[k] = refl_mpps[k] > 0 ? hblb_mpps[k] / refl_mpps[k] : 0;
		printf("run %d: reflector %.2f Mpps, hblb %.2f Mpps, ratio %.3f (wall clock: %.2f, %.2f)\n",
		       k + 1, refl_mpps[k], hblb_mpps[k], pair_ratio[k], refl_wall[k], hblb_wall[k]);
		fflush(stdout);
	}
	fwd1 = lg_reason(pin_dir, HBLB_R_TX_FORWARDED);
	/* frames the generator could not queue at the forwarder (full ring),
	 * then frames the forwarders' XDP_TX could not queue back */
	gen_err[0] = livegen_ethtool_sum("gen0", "xdp_xmit_errors");
	gen_err[1] = livegen_ethtool_sum("gen1", "xdp_xmit_errors");
	if ((err = netns_enter(ns_lb)))
		goto out;
	xmit_err[0] = livegen_ethtool_sum("lb0", "xdp_tx_errors");
	xmit_err[1] = livegen_ethtool_sum("lb1", "xdp_tx_errors");
	h = median(hblb_mpps, runs);
	r = median(refl_mpps, runs);
	hw = median(hblb_wall, runs);
	rw = median(refl_wall, runs);
	ratio = median(pair_ratio, runs);
	printf("veth, native XDP, %d flows, %d runs of %llu frames, median: reflector %.2f Mpps, "
	       "hblb %.2f Mpps, ratio %.3f (median of the pairs; target >= 0.9)\n",
	       flows, runs, (unsigned long long)packets, r, h, ratio);
	printf("hblb tx_forwarded %llu, frames back at the generator %llu%s; "
	       "reflector frames back %llu of %llu sent\n",
	       (unsigned long long)(fwd1 - fwd0), (unsigned long long)hblb_counted,
	       fwd1 - fwd0 == hblb_counted ? " (match)" : " (MISMATCH: lost between lb0 and gen0)",
	       (unsigned long long)refl_counted, (unsigned long long)packets * runs);
	if (fwd1 - fwd0 != hblb_counted)
		pr_warn("lb0's xdp_tx_errors: %lld", xmit_err[0]);

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
	fprintf(f, "{\"veth\": {\"reflector_mpps\": %.3f, \"hblb_mpps\": %.3f, \"ratio\": %.3f, "
		   "\"reflector_wall_mpps\": %.3f, \"hblb_wall_mpps\": %.3f, "
		   "\"flows\": %d, \"runs\": %d, \"packets_per_run\": %llu, "
		   "\"hblb_tx_forwarded\": %llu, \"hblb_counted\": %llu, \"reflector_counted\": %llu, "
		   "\"hblb_xdp_tx_errors\": %lld, \"reflector_xdp_tx_errors\": %lld, "
		   "\"hblb_ring_drops\": %lld, \"reflector_ring_drops\": %lld}}\n",
		r, h, ratio, rw, hw, flows, runs, (unsigned long long)packets,
		(unsigned long long)(fwd1 - fwd0), (unsigned long long)hblb_counted,
		(unsigned long long)refl_counted, xmit_err[0], xmit_err[1], gen_err[0], gen_err[1]);
	fclose(f);
	printf("report: %s\n", json);
out:
	if (err)
		show_log();
	livegen_close(g);
	bpf_object__close(refl_obj);
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
