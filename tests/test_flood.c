// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A heartbeat flood (issue 7): hblb in native XDP on a veth, its daemon
 * running, two backends beating for real (`hblb beat`) and a third that
 * never beats. A live-frames generator floods the interface with
 * heartbeats while it also sends service traffic:
 *
 *   phase 1: heartbeats from 65,536 unknown sources;
 *   phase 2: heartbeats spoofing a known backend's address with malformed
 *            and absurd payloads (one template per refusal reason), while
 *            the other backend falls silent;
 *   phase 3: the service gets a key and A signs its heartbeats; the flood
 *            spoofs A with what a forger can make: no tag, a wrong tag, a
 *            genuine tag on an old sequence number, a truncated tag.
 *
 * Checks: every flood frame is counted under the reason it deserves and
 * changes no backend's record (accepted heartbeats are exactly the real
 * ones), the backends' states do not move (the silent one does go down,
 * on time for the daemon), service frames are still forwarded, and
 * `hblb status` answers during the flood. The flood rate is printed,
 * never judged.
 *
 * To add a phase (e.g. authenticated heartbeats with a bad tag), add a
 * row to spoofed[] with the payload and the reason it must be counted
 * under.
 *
 * Usage: test_flood PATH/TO/hblb   (root)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "auth.h"
#include "hblb.h"
#include "livegen.h"
#include "log.h"
#include "packets.h"
#include "testing.h"

#define IP(a, b, c, d) (((__u32)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))
#define VIP        IP(198, 18, 10, 100)
#define SERVICE    "198.18.10.100:80/tcp"
#define CLIENT     IP(198, 18, 10, 1)
#define BE_A       IP(198, 18, 10, 11)          /* beats throughout; spoofed in phase 2 */
#define BE_B       IP(198, 18, 10, 12)          /* beats, falls silent in phase 2 */
#define BE_C       IP(198, 18, 10, 13)          /* never beats */
#define UNKNOWN    IP(198, 19, 0, 0)            /* phase 1 sources: 198.19.0.0/16 */
#define N_UNKNOWN  65536
#define FLOOD_CHUNK   100000                    /* flood frames per send */
#define SERVICE_CHUNK 2000                      /* service frames after each */
#define SERVICE_FLOWS 256

static const char *hblb_bin;
static char ns_gen[32], ns_lb[32], pin_dir[128], log_path[128], key_path[128];
static pid_t daemon_pid, beat_a, beat_b;
static __u8 lb_mac[6], gen_mac[6];
static int gen_ifindex;

/* ---- frames ------------------------------------------------------------------ */

struct frame {
	const char *name;
	__u8 buf[1100];
	__u32 len;
	__u32 reason;           /* enum hblb_reason every copy must count */
	struct livegen_vary vary;
};

struct payload {
	const char *name;
	const char *text;
	__u32 reason;
};

/* Heartbeats from a known backend's address that must change nothing.
 * Authenticated heartbeats will add rows here: a valid-looking payload
 * with a wrong tag or a replayed sequence number, and its reason. */
static const struct payload spoofed[] = {
	{ "version 2", "v=2&ready=1&busy=0", HBLB_R_HB_BAD_VERSION },
	{ "busy missing", "v=1&ready=1", HBLB_R_HB_MISSING_FIELD },
	{ "ready above 2^32-1", "v=1&ready=99999999999&busy=0", HBLB_R_HB_BAD_VALUE },
	{ "ready twice", "v=1&ready=1&ready=65535&busy=0", HBLB_R_HB_DUPLICATE_FIELD },
	{ "control byte", "v=1&ready=1&busy=0\x01", HBLB_R_HB_BAD_CHAR },
	{ "field without '='", "v=1&ready&busy=0", HBLB_R_HB_BAD_SYNTAX },
	{ "empty", "", HBLB_R_HB_EMPTY },
	{ "1001 bytes", NULL /* built: over HBLB_HB_MAX_PAYLOAD */, HBLB_R_HB_TOO_LONG },
};
#define N_SPOOFED (sizeof(spoofed) / sizeof(spoofed[0]))

/* Phase 3: A signs with KEY; a forger knows the format, not the key. */
#define KEY_HEX "000102030405060708090a0b0c0d0e0f"
enum { SIGNED_MISSING, SIGNED_BAD_TAG, SIGNED_OLD_SEQ, SIGNED_TRUNCATED, N_SIGNED };

static void heartbeat_frame(struct frame *f, const char *name, __u32 saddr, const void *payload,
			    size_t len, __u32 reason)
{
	struct pkt_spec s = {
		.dst_mac = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 },
		.saddr = saddr, .daddr = HBLB_HB_GROUP,
		.proto = IPPROTO_UDP, .sport = HBLB_HB_PORT_DEFAULT, .dport = HBLB_HB_PORT_DEFAULT,
		.payload = payload, .payload_len = len,
	};

	memcpy(s.src_mac, gen_mac, 6);
	f->name = name;
	f->reason = reason;
	f->len = pkt_build(&s, f->buf, sizeof(f->buf), NULL, NULL);
	memset(&f->vary, 0, sizeof(f->vary));
}

static void service_frame(struct frame *f)
{
	struct pkt_spec s = {
		.saddr = CLIENT, .daddr = VIP, .proto = IPPROTO_TCP,
		.sport = 20000, .dport = 80, .tcp_flags = PKT_TCP_ACK,
	};

	memcpy(s.dst_mac, lb_mac, 6);
	memcpy(s.src_mac, gen_mac, 6);
	f->name = "service";
	f->reason = HBLB_R_TX_FORWARDED;
	f->len = pkt_build(&s, f->buf, sizeof(f->buf), NULL, NULL);
	f->vary = (struct livegen_vary){ .off = LIVEGEN_SPORT_OFF, .width = 2, .base = 20000,
					 .count = SERVICE_FLOWS };
}

/* ---- the flood, in its own thread ---------------------------------------------- */

struct flood {
	struct livegen *g;
	const struct frame *frames;     /* flood templates, in turn */
	int n_frames;
	const struct frame *service;
	atomic_bool stop;
	atomic_ullong rounds;
	/* per template: frames sent, and lost before reaching hblb (gen0
	 * could not queue them at lb0: its ring was full) */
	__u64 sent[N_SPOOFED + N_SIGNED], lost[N_SPOOFED + N_SIGNED];
	__u64 service_sent, service_lost, flood_sent, flood_ns, flood_kernel_ns;
	int err;
};

/* Sends n copies of f; adds what was sent and what was lost. */
static int send_counted(struct flood *fl, const struct frame *f, __u64 n, __u64 *sent, __u64 *lost,
			__u64 *ns, __u64 *kernel_ns)
{
	long long e0 = livegen_ethtool_sum("gen0", "xdp_xmit_errors"), e1;
	struct livegen_result r = { 0 };
	int err;

	err = livegen_send(fl->g, gen_ifindex, f->buf, f->len, &f->vary, n, &r);
	e1 = livegen_ethtool_sum("gen0", "xdp_xmit_errors");
	if (!err && (e0 < 0 || e1 < 0))
		err = e0 < 0 ? (int)e0 : (int)e1;
	*sent += r.packets;
	*lost += e1 - e0;
	if (ns)
		*ns += r.wall_ns;
	if (kernel_ns)
		*kernel_ns += r.kernel_ns;
	return err;
}

static void *flood_run(void *arg)
{
	struct flood *fl = arg;

	while (!atomic_load(&fl->stop) && !fl->err) {
		for (int i = 0; i < fl->n_frames && !fl->err; i++) {
			__u64 before = fl->sent[i];

			fl->err = send_counted(fl, &fl->frames[i], FLOOD_CHUNK, &fl->sent[i], &fl->lost[i],
					       &fl->flood_ns, &fl->flood_kernel_ns);
			fl->flood_sent += fl->sent[i] - before;
			if (!fl->err)
				fl->err = send_counted(fl, fl->service, SERVICE_CHUNK, &fl->service_sent,
						       &fl->service_lost, NULL, NULL);
		}
		atomic_fetch_add(&fl->rounds, 1);
	}
	return NULL;
}

/* ---- hblb's state, read from its pins ------------------------------------------- */

static int pinned(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	return bpf_obj_get(path);
}

/* A backend's state in hblb_backends, or -1 if it has no record. */
static int be_state(__u32 addr)
{
	int fd = pinned(HBLB_MAP_BACKENDS), state = -1;
	struct hblb_backend be;

	for (__u32 id = 0; fd >= 0 && id < HBLB_MAX_BACKENDS; id++)
		if (bpf_map_lookup_elem(fd, &id, &be) == 0 && be.addr == htonl(addr)) {
			state = be.state;
			break;
		}
	if (fd >= 0)
		close(fd);
	return state;
}

struct hb_view {
	__u64 count;
	__u32 ready, busy;
};

/* A real's heartbeat record, summed over CPUs; ready/busy from the latest. */
static struct hb_view hb_record(__u32 addr)
{
	int ncpus = libbpf_num_possible_cpus(), reals = pinned(HBLB_MAP_REALS), hb = pinned(HBLB_MAP_HB);
	struct hblb_hb_record rec[ncpus];
	struct hb_view v = { 0 };
	struct hblb_real real;
	__be32 a = htonl(addr);
	__u64 last = 0;

	if (reals >= 0 && hb >= 0 && bpf_map_lookup_elem(reals, &a, &real) == 0 &&
	    bpf_map_lookup_elem(hb, &real.id, rec) == 0)
		for (int c = 0; c < ncpus; c++) {
			v.count += rec[c].count;
			if (rec[c].last_ns >= last && rec[c].count) {
				last = rec[c].last_ns;
				v.ready = rec[c].ready;
				v.busy = rec[c].busy;
			}
		}
	if (reals >= 0)
		close(reals);
	if (hb >= 0)
		close(hb);
	return v;
}

/* Accepted heartbeats of every backend (A, B, C). */
static __u64 backends_hb(void)
{
	return hb_record(BE_A).count + hb_record(BE_B).count + hb_record(BE_C).count;
}

/* Real heartbeats keep arriving while the counters are read, so the
 * accepted count is checked between the backends' records read just
 * inside and just outside the counter snapshots. */
struct window {
	__u64 outer0, inner0, inner1, outer1;
	__u64 before[HBLB_R_MAX], after[HBLB_R_MAX];
};

static void snapshot_reasons(__u64 *out);

static void window_open(struct window *w)
{
	w->outer0 = backends_hb();
	snapshot_reasons(w->before);
	w->inner0 = backends_hb();
}

static void window_close(struct window *w)
{
	w->inner1 = backends_hb();
	snapshot_reasons(w->after);
	w->outer1 = backends_hb();
}

static void check_accepted_are_real(const struct window *w)
{
	__u64 acc = w->after[HBLB_R_HB_ACCEPTED] - w->before[HBLB_R_HB_ACCEPTED];

	CHECK(acc >= w->inner1 - w->inner0 && acc <= w->outer1 - w->outer0,
	      "%llu heartbeats accepted, the backends' records grew by %llu-%llu",
	      (unsigned long long)acc, (unsigned long long)(w->inner1 - w->inner0),
	      (unsigned long long)(w->outer1 - w->outer0));
}

static void snapshot_reasons(__u64 *out)
{
	for (__u32 r = 0; r < HBLB_R_MAX; r++)
		out[r] = lg_reason(pin_dir, r);
}

static bool wait_state(__u32 addr, int state, int polls)
{
	for (int i = 0; i < polls; i++) {
		if (be_state(addr) == state)
			return true;
		usleep(20000);
	}
	return false;
}

/* `hblb -j status` answers with the daemon running; its latency in ms. */
static bool status_answers(double *ms)
{
	char cmd[512], buf[4096];
	__u64 t0 = lg_now_ns();
	size_t n;
	FILE *f;
	int rc;

	snprintf(cmd, sizeof(cmd), "%s --pin-dir %s -j status 2>&1", hblb_bin, pin_dir);
	f = popen(cmd, "r");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	rc = pclose(f);
	*ms = (lg_now_ns() - t0) / 1e6;
	return rc == 0 && strstr(buf, "\"daemon_running\":true");
}

static bool daemon_alive(void)
{
	return daemon_pid > 0 && waitpid(daemon_pid, NULL, WNOHANG) == 0;
}

/* ---- set-up and clean-up ------------------------------------------------------- */

static void cleanup(void)
{
	char cmd[256];

	lg_stop(beat_a);
	lg_stop(beat_b);
	lg_stop(daemon_pid);
	beat_a = beat_b = daemon_pid = 0;
	if (!ns_gen[0])
		return;
	snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null; ip netns del %s 2>/dev/null; rm -rf %s",
		 ns_gen, ns_lb, pin_dir);
	if (system(cmd))
		fprintf(stderr, "cleanup: %s failed\n", cmd);
	unlink(log_path);
	if (key_path[0])
		unlink(key_path);
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

	snprintf(cmd, sizeof(cmd), "tail -n 20 %s >&2", log_path);
	(void)!system(cmd);
}

static int cli(const char *args)
{
	return lg_sh("%s --pin-dir %s %s >>%s 2>&1", hblb_bin, pin_dir, args, log_path) ? -EIO : 0;
}

static pid_t start_beat(const char *addr)
{
	char *argv[] = { (char *)hblb_bin, "beat", "--interval", "20", "--source", (char *)addr,
			 "--ready", "7", "--busy", "2", NULL };

	return lg_spawn(ns_gen, argv, log_path);
}

static pid_t start_signed_beat(const char *addr)
{
	char *argv[] = { (char *)hblb_bin, "beat", "--interval", "20", "--source", (char *)addr,
			 "--ready", "7", "--busy", "2", "--key-file", key_path, NULL };

	return lg_spawn(ns_gen, argv, log_path);
}

static int setup(void)
{
	/* dead-after 5 x 100 ms: beats every 20 ms leave A 25 chances, so a
	 * sender starved on this shared machine does not fake a state change */
	char *dargv[] = { (char *)hblb_bin, "--pin-dir", pin_dir, "daemon", "-i", "lb0:native",
			  "--interval", "100", "--rise", "2", "--dead-after", "5", "--flap", "off",
			  "--table-size", "1021", "--flow-buckets", "1024", NULL };
	char path[256];

	if (lg_sh("ip netns add %s && ip netns add %s", ns_gen, ns_lb) ||
	    lg_sh("for n in %s %s; do ip netns exec $n sysctl -qw net.ipv6.conf.all.disable_ipv6=1 "
		  "net.ipv6.conf.default.disable_ipv6=1 && ip -n $n link set lo up || exit 1; done",
		  ns_gen, ns_lb) ||
	    lg_sh("ip -n %s link add gen0 type veth peer name lb0 netns %s", ns_gen, ns_lb) ||
	    lg_sh("ip -n %s addr add 198.18.10.11/24 dev gen0 && ip -n %s addr add 198.18.10.12/24 dev gen0 && "
		  "ip -n %s addr add 198.18.10.2/24 dev lb0 && ip -n %s link set gen0 up && "
		  "ip -n %s link set lb0 up && ip -n %s route add 224.0.0.0/4 dev gen0",
		  ns_gen, ns_gen, ns_lb, ns_gen, ns_lb, ns_gen) ||
	    lg_dev_mac(ns_lb, "lb0", lb_mac) || lg_dev_mac(ns_gen, "gen0", gen_mac))
		return -EIO;
	daemon_pid = lg_spawn(ns_lb, dargv, log_path);
	if (daemon_pid < 0)
		return daemon_pid;
	snprintf(path, sizeof(path), "%s/%s", pin_dir, HBLB_MAP_CFG_GEN);
	for (int i = 0; i < 500 && access(path, F_OK); i++)
		usleep(20000);
	if (cli("service add " SERVICE) ||
	    cli("backend add " SERVICE " 198.18.10.11 weight 1 mac 02:00:00:00:0a:0b") ||
	    cli("backend add " SERVICE " 198.18.10.12 weight 1 mac 02:00:00:00:0a:0c") ||
	    cli("backend add " SERVICE " 198.18.10.13 weight 1 mac 02:00:00:00:0a:0d"))
		return -EIO;
	beat_a = start_beat("198.18.10.11");
	beat_b = start_beat("198.18.10.12");
	return beat_a > 0 && beat_b > 0 ? 0 : -ECHILD;
}

/* ---- checks -------------------------------------------------------------------- */

/* Exactly the frames that reached hblb: sent minus lost on the way. */
static void check_counted(const char *what, __u64 counted, __u64 sent, __u64 lost)
{
	printf("#   %-22s %9llu counted of %9llu sent, %llu lost on the way\n", what,
	       (unsigned long long)counted, (unsigned long long)sent, (unsigned long long)lost);
	CHECK(counted == sent - lost, "%s: %llu counted, %llu sent, %llu lost on the way", what,
	      (unsigned long long)counted, (unsigned long long)sent, (unsigned long long)lost);
}

static void check_states(const char *when)
{
	CHECK(be_state(BE_A) == HBLB_BE_UP, "%s: backend A is %d, not up", when, be_state(BE_A));
	CHECK(be_state(BE_C) == HBLB_BE_DOWN, "%s: silent backend C is %d, not down", when,
	      be_state(BE_C));
}

static void during_flood(struct flood *fl, const char *phase, __u64 min_rounds)
{
	double ms, worst = 0;
	int answered = 0;

	/* the flood is under way before anything is judged */
	while (atomic_load(&fl->rounds) < 1 && !fl->err)
		usleep(10000);
	for (int i = 0; i < 5; i++) {
		answered += status_answers(&ms);
		worst = ms > worst ? ms : worst;
		check_states(phase);
		usleep(100000);
	}
	CHECK(answered == 5, "%s: hblb status answered %d of 5 times", phase, answered);
	printf("# %s: hblb status answered %d/5 during the flood (slowest %.0f ms)\n", phase, answered,
	       worst);
	while (atomic_load(&fl->rounds) < min_rounds && !fl->err)
		usleep(10000);
}

static void report_rate(const char *phase, const struct flood *fl)
{
	/* wall clock, and the kernel's time of the runs (which leaves out the
	 * time the sender waited for a CPU on this shared machine) */
	printf("# %s: %llu flood frames at %.2f Mpps (%.2f Mpps of the sender's CPU time), "
	       "%llu service frames between them\n", phase, (unsigned long long)fl->flood_sent,
	       fl->flood_ns ? fl->flood_sent * 1e3 / fl->flood_ns : 0.0,
	       fl->flood_kernel_ns ? fl->flood_sent * 1e3 / fl->flood_kernel_ns : 0.0,
	       (unsigned long long)fl->service_sent);
}

/* Starts flooding `frames` in turn, with service frames between them, and
 * opens the counting window; 0, or the thread could not start. */
static int flood_start(struct flood *fl, pthread_t *th, struct livegen *g,
		       const struct frame *frames, int n_frames, const struct frame *service,
		       struct window *w)
{
	int err;

	memset(fl, 0, sizeof(*fl));
	fl->g = g;
	fl->frames = frames;
	fl->n_frames = n_frames;
	fl->service = service;
	window_open(w);
	err = pthread_create(th, NULL, flood_run, fl);
	CHECK(!err, "pthread_create: %s", strerror(err));
	return err;
}

/* Each flood template counted under its reason, exactly, in the window. */
static void check_flood_counted(const struct frame *frames, int n, const struct flood *fl,
				const struct window *w)
{
	for (int i = 0; i < n; i++)
		check_counted(frames[i].name, w->after[frames[i].reason] - w->before[frames[i].reason],
			      fl->sent[i], fl->lost[i]);
}

/* Stops a flood that started and closes the window. */
static void flood_stop(struct flood *fl, pthread_t th, bool started, struct window *w)
{
	if (started) {
		atomic_store(&fl->stop, true);
		pthread_join(th, NULL);
	}
	CHECK(!fl->err, "generator failed: %s", strerror(-fl->err));
	window_close(w);
}

int main(int argc, char **argv)
{
	static struct window w;
	__u64 *before = w.before, *after = w.after;
	static struct frame unknown, service, spoof[N_SPOOFED];
	static char too_long[HBLB_HB_MAX_PAYLOAD + 1];
	struct hb_view a1, b1, c1;
	struct livegen *g = NULL;
	struct flood fl;
	pthread_t th;
	int err;

	if (argc != 2) {
		fprintf(stderr, "usage: test_flood PATH/TO/hblb\n");
		return EXIT_FAILURE;
	}
	hblb_bin = argv[1];
	log_init(0);
	snprintf(ns_gen, sizeof(ns_gen), "hbf%d-gen", getpid());
	snprintf(ns_lb, sizeof(ns_lb), "hbf%d-lb", getpid());
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/hblb-test-flood-%d", getpid());
	snprintf(log_path, sizeof(log_path), "/tmp/hblb-test-flood-%d.log", getpid());
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	test_begin("set-up: daemon native on a veth, backends A and B beating, C silent");
	err = setup();
	CHECK(!err, "set-up failed: %s", strerror(-err));
	/* this thread, and the flood thread it starts, send from gen0 */
	if (!err)
		err = netns_enter(ns_gen);
	if (!err) {
		gen_ifindex = if_nametoindex("gen0");
		err = livegen_open(&g);
	}
	if (!err)
		err = livegen_attach_counter(g, gen_ifindex, true);
	CHECK(!err, "generator: %s", strerror(-err));
	CHECK(!err && wait_state(BE_A, HBLB_BE_UP, 250) && wait_state(BE_B, HBLB_BE_UP, 250),
	      "A is %d and B is %d, not up", be_state(BE_A), be_state(BE_B));
	check_states("before the flood");
	test_end();
	if (t_failed) {
		show_log();
		return test_summary("flood");
	}

	service_frame(&service);
	heartbeat_frame(&unknown, "unknown sources", UNKNOWN, "v=1&ready=100&busy=0",
			strlen("v=1&ready=100&busy=0"), HBLB_R_HB_UNKNOWN_SOURCE);
	unknown.vary = (struct livegen_vary){ .off = LIVEGEN_SADDR_OFF, .width = 4,
					      .ip_off = LIVEGEN_IP_OFF, .base = UNKNOWN,
					      .count = N_UNKNOWN };

	/* ---- phase 1: unknown sources ---- */
	test_begin("unknown sources: each counted as such, no record or state changes");
	err = flood_start(&fl, &th, g, &unknown, 1, &service, &w);
	if (!err)
		during_flood(&fl, "unknown sources", 20);
	flood_stop(&fl, th, !err, &w);
	a1 = hb_record(BE_A);
	b1 = hb_record(BE_B);
	c1 = hb_record(BE_C);
	report_rate("unknown sources", &fl);
	check_flood_counted(&unknown, 1, &fl, &w);
	/* every accepted heartbeat is one of the real ones */
	check_accepted_are_real(&w);
	CHECK(c1.count == 0, "silent backend C has %llu heartbeats", (unsigned long long)c1.count);
	CHECK(a1.ready == 7 && a1.busy == 2 && b1.ready == 7 && b1.busy == 2,
	      "records: A ready %u busy %u, B ready %u busy %u", a1.ready, a1.busy, b1.ready, b1.busy);
	check_states("after the flood");
	CHECK(be_state(BE_B) == HBLB_BE_UP, "B is %d, not up", be_state(BE_B));
	test_end();

	test_begin("unknown sources: service traffic still forwarded");
	check_counted("tx_forwarded", after[HBLB_R_TX_FORWARDED] - before[HBLB_R_TX_FORWARDED],
		      fl.service_sent, fl.service_lost);
	CHECK(fl.service_sent > 0, "no service frame sent");
	CHECK(daemon_alive(), "the daemon exited");
	test_end();

	/* ---- phase 2: a known source, spoofed, with bad payloads; B falls silent ---- */
	memset(too_long, 'x', sizeof(too_long));
	for (size_t i = 0; i < N_SPOOFED; i++) {
		const char *p = spoofed[i].text ? spoofed[i].text : too_long;
		size_t len = spoofed[i].text ? strlen(p) : sizeof(too_long);

		heartbeat_frame(&spoof[i], spoofed[i].name, BE_A, p, len, spoofed[i].reason);
	}
	test_begin("spoofed known source: every bad payload refused by reason, record unchanged");
	err = flood_start(&fl, &th, g, spoof, N_SPOOFED, &service, &w);
	if (!err) {
		while (atomic_load(&fl.rounds) < 1 && !fl.err)
			usleep(10000);
		lg_stop(beat_b);
		beat_b = 0;
		/* dead-after 5 x 100 ms: the daemon must notice during the flood */
		CHECK(wait_state(BE_B, HBLB_BE_DOWN, 250), "silent B is %d during the flood, not down",
		      be_state(BE_B));
		CHECK(atomic_load(&fl.rounds) > 0 && !atomic_load(&fl.stop), "flood not running");
		during_flood(&fl, "spoofed known source", 3);
	}
	flood_stop(&fl, th, !err, &w);
	a1 = hb_record(BE_A);
	b1 = hb_record(BE_B);
	report_rate("spoofed known source", &fl);
	check_flood_counted(spoof, N_SPOOFED, &fl, &w);
	check_accepted_are_real(&w);
	CHECK(a1.ready == 7 && a1.busy == 2, "A's record: ready %u busy %u", a1.ready, a1.busy);
	check_states("after the spoofed flood");
	test_end();

	test_begin("spoofed known source: service traffic still forwarded, daemon alive");
	check_counted("tx_forwarded", after[HBLB_R_TX_FORWARDED] - before[HBLB_R_TX_FORWARDED],
		      fl.service_sent, fl.service_lost);
	CHECK(daemon_alive(), "the daemon exited");
	test_end();

	/* ---- phase 3: A signs; a forger spoofs A without the key ---- */
	test_begin("signed heartbeats: A keeps beating with the service's key");
	{
		FILE *kf;

		snprintf(key_path, sizeof(key_path), "/tmp/hblb-test-flood-%d.key", getpid());
		kf = fopen(key_path, "w");
		CHECK(kf && fprintf(kf, "%s\n", KEY_HEX) > 0 && fclose(kf) == 0, "key file: %s",
		      strerror(errno));
		chmod(key_path, 0600);
	}
	/* sign first (a keyless service accepts signed heartbeats), then require it */
	lg_stop(beat_a);
	beat_a = start_signed_beat("198.18.10.11");
	CHECK(beat_a > 0, "cannot start A's signed sender");
	{
		char args[256];

		snprintf(args, sizeof(args), "key set %s --key-file %s", SERVICE, key_path);
		CHECK(cli(args) == 0, "hblb %s failed", args);
	}
	snapshot_reasons(before);
	usleep(500000);
	snapshot_reasons(after);
	CHECK(after[HBLB_R_HB_ACCEPTED] > before[HBLB_R_HB_ACCEPTED] &&
	      after[HBLB_R_HB_AUTH_MISSING] == before[HBLB_R_HB_AUTH_MISSING],
	      "signed heartbeats: %llu accepted, %llu refused as unsigned in 0.5 s",
	      (unsigned long long)(after[HBLB_R_HB_ACCEPTED] - before[HBLB_R_HB_ACCEPTED]),
	      (unsigned long long)(after[HBLB_R_HB_AUTH_MISSING] - before[HBLB_R_HB_AUTH_MISSING]));
	CHECK(be_state(BE_A) == HBLB_BE_UP, "A is %d, not up", be_state(BE_A));
	test_end();

	{
		static struct frame forged[N_SIGNED];
		static const char *const names[N_SIGNED] = {
			[SIGNED_MISSING] = "unsigned ready=65535",
			[SIGNED_BAD_TAG] = "wrong tag",
			[SIGNED_OLD_SEQ] = "genuine tag, old seq",
			[SIGNED_TRUNCATED] = "truncated tag",
		};
		static const __u32 reasons[N_SIGNED] = {
			[SIGNED_MISSING] = HBLB_R_HB_AUTH_MISSING,
			[SIGNED_BAD_TAG] = HBLB_R_HB_AUTH_BAD,
			[SIGNED_OLD_SEQ] = HBLB_R_HB_REPLAY,
			[SIGNED_TRUNCATED] = HBLB_R_HB_AUTH_MALFORMED,
		};
		__u8 key[HBLB_KEY_LEN], wrong[HBLB_KEY_LEN];
		char msg[N_SIGNED][160];
		int len[N_SIGNED];
		/* far above any realtime-microsecond seq A sends: only the tag can refuse it */
		__u64 future = 9000000000000000000ull;

		auth_key_parse(KEY_HEX, "test key", key);
		memcpy(wrong, key, sizeof(wrong));
		wrong[0] ^= 1;
		len[SIGNED_MISSING] = snprintf(msg[SIGNED_MISSING], 160, "v=1&ready=65535&busy=0");
		len[SIGNED_BAD_TAG] = auth_message(msg[SIGNED_BAD_TAG], 160, 65535, 0, future, wrong,
						   htonl(BE_A));
		len[SIGNED_OLD_SEQ] = auth_message(msg[SIGNED_OLD_SEQ], 160, 65535, 0, 1, key, htonl(BE_A));
		len[SIGNED_TRUNCATED] = auth_message(msg[SIGNED_TRUNCATED], 160, 65535, 0, future, key,
						     htonl(BE_A)) - 3;
		for (int i = 0; i < N_SIGNED; i++)
			heartbeat_frame(&forged[i], names[i], BE_A, msg[i], len[i], reasons[i]);

		test_begin("signed A spoofed: no tag, wrong tag, old seq, truncated tag all refused by reason");
		err = flood_start(&fl, &th, g, forged, N_SIGNED, &service, &w);
		if (!err)
			during_flood(&fl, "signed A spoofed", 3);
		flood_stop(&fl, th, !err, &w);
		a1 = hb_record(BE_A);
		report_rate("signed A spoofed", &fl);
		check_flood_counted(forged, N_SIGNED, &fl, &w);
		check_accepted_are_real(&w);
		CHECK(a1.ready == 7 && a1.busy == 2, "A's record: ready %u busy %u", a1.ready, a1.busy);
		CHECK(be_state(BE_A) == HBLB_BE_UP, "A is %d, not up", be_state(BE_A));
		check_counted("tx_forwarded", after[HBLB_R_TX_FORWARDED] - before[HBLB_R_TX_FORWARDED],
			      fl.service_sent, fl.service_lost);
		CHECK(daemon_alive(), "the daemon exited");
		test_end();
	}

	test_begin("after the flood: B beats again and comes back up");
	beat_b = start_signed_beat("198.18.10.12");     /* the service has a key now */
	CHECK(beat_b > 0 && wait_state(BE_B, HBLB_BE_UP, 250), "B is %d, not up", be_state(BE_B));
	check_states("after the flood");
	test_end();

	if (t_failed)
		show_log();
	livegen_close(g);
	return test_summary("flood");
}
