// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The hblb daemon as a process: in a private network namespace it attaches
 * to a veth (generic XDP), takes its configuration from the pinned hblb_cfg_*
 * maps and its heartbeats from hblb_hb (written here, as the XDP program
 * would). While one backend flaps and traffic runs through the attached
 * program, the daemon is killed with SIGKILL at random moments (often in
 * the middle of a table swap or of its own start) and restarted, 100 times:
 * after every kill the pinned state holds a complete table (every slot of
 * the active version names a live backend of its service), no packet may
 * be dropped for want of a table and no established flow to a healthy
 * backend may move; each restarted daemon reconciles (it adopts the pins
 * and keeps following the flapping backend: the swaps go on). Then: a
 * second daemon on the same pin directory is refused, and SIGTERM leaves
 * the program attached. Needs root.
 *
 * Usage: test_daemon PATH/TO/hblb
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "hblb.h"
#include "packets.h"
#include "testing.h"

#define IP(a, b, c, d) (((__u32)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))
#define VIP    IP(198, 18, 2, 100)
#define CLIENT IP(198, 18, 2, 1)
#define BE(n)  IP(198, 18, 2, 10 + (n))
#define NBE    3
#define FLAPPER 2               /* backend that keeps dying and coming back */
#define NFLOWS 60
#define KILLS  100
#define TABLE_SIZE 1021

static const char *hblb_bin;
static char pin_dir[128], log_path[128];
static pid_t daemon_pid = -1;
static int ncpus, ifindex;
static __u8 if_mac[6];
static atomic_bool hb_stop;

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static pid_t start_daemon(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(hblb_bin, hblb_bin, "--pin-dir", pin_dir, "daemon", "-i", "hbt0:generic",
		      "--interval", "100", "--tick", "5", "--table-size", "1021", /* TABLE_SIZE */
		      "--max-services", "4", "--flow-buckets", "1024", "--flap", "off", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int pinned(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	return bpf_obj_get(path);
}

static void cleanup(void)
{
	char cmd[256];

	atomic_store(&hb_stop, true);
	if (daemon_pid > 0) {
		kill(daemon_pid, SIGKILL);
		waitpid(daemon_pid, NULL, 0);
		daemon_pid = -1;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", pin_dir);
	if (system(cmd))
		fprintf(stderr, "cannot remove %s\n", pin_dir);
	unlink(log_path);
	/* the namespace, and the veth in it, go with this process */
}

static void show_log(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "tail -n 20 %s >&2", log_path);
	if (system(cmd))
		return;
}

/* ---- heartbeats, written as the XDP program would -------------------------- */

static void *heartbeats(void *arg)
{
	int hb_fd = pinned(HBLB_MAP_HB), real_fd = pinned(HBLB_MAP_REALS);
	__u64 count[NBE] = { 0 }, t0 = mono_ns();

	(void)arg;
	while (!atomic_load(&hb_stop)) {
		__u64 now = mono_ns();
		/* the flapper beats for 0.4 s, then is silent for 0.4 s: with a
		 * 100 ms interval it changes state (and the table) every ~0.4 s,
		 * so many kills land in or next to a swap */
		bool flapper_on = ((now - t0) / 400000000ull) % 2 == 0;

		for (int n = 0; n < NBE; n++) {
			struct hblb_hb_record recs[ncpus];
			__be32 addr = htonl(BE(n));
			struct hblb_real real;

			if (n == FLAPPER && !flapper_on)
				continue;
			if (bpf_map_lookup_elem(real_fd, &addr, &real))
				continue;
			memset(recs, 0, sizeof(recs));
			recs[0].count = ++count[n];
			recs[0].last_ns = now;
			/* backend 0's ready swings 20 <-> 80 every 150 ms: each swing
			 * is a weight change past the hysteresis, so a live daemon
			 * rebuilds and swaps the table all the time */
			recs[0].ready = n == 0 && ((now - t0) / 150000000ull) % 2 ? 80 : 20 + 30 * (n != 0);
			recs[0].busy = 1;
			bpf_map_update_elem(hb_fd, &real.id, recs, BPF_ANY);
		}
		sleep_ms(50);   /* twice per 100 ms interval */
	}
	close(hb_fd);
	close(real_fd);
	return NULL;
}

/* ---- configuration, written as the CLI would ------------------------------- */

static int configure(void)
{
	int svc_fd = pinned(HBLB_MAP_CFG_SVCS), be_fd = pinned(HBLB_MAP_CFG_BES);
	int gen_fd = pinned(HBLB_MAP_CFG_GEN), err = 0;
	struct hblb_service_key sk = { .vip = htonl(VIP), .port = htons(80), .proto = IPPROTO_TCP };
	struct hblb_cfg_service sv = { 0 };
	__u32 zero = 0;
	__u64 gen = 1;

	if (svc_fd < 0 || be_fd < 0 || gen_fd < 0)
		err = -ENOENT;
	if (!err && bpf_map_update_elem(svc_fd, &sk, &sv, BPF_ANY))
		err = -errno;
	for (int n = 0; !err && n < NBE; n++) {
		struct hblb_cfg_backend_key bk = { .service = sk, .addr = htonl(BE(n)) };
		struct hblb_cfg_backend bv = { .flags = HBLB_BECFG_HEARTBEAT | HBLB_BECFG_MAC,
					       .mac = { 2, 0, 0, 0, 0xbe, n } };

		if (bpf_map_update_elem(be_fd, &bk, &bv, BPF_ANY))
			err = -errno;
	}
	if (!err && bpf_map_update_elem(gen_fd, &zero, &gen, BPF_ANY))
		err = -errno;
	close(svc_fd);
	close(be_fd);
	close(gen_fd);
	return err;
}

/* ---- traffic through the attached program ---------------------------------- */

static int attached_prog(void)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (bpf_xdp_query(ifindex, 0, &q) || !q.prog_id)
		return -1;
	return bpf_prog_get_fd_by_id(q.prog_id);
}

/* Returns the backend (MAC byte) a packet went to, or -1 if not forwarded. */
static int send_pkt(int prog_fd, __u16 sport, __u8 flags)
{
	struct pkt_spec s = { .saddr = CLIENT, .daddr = VIP, .proto = IPPROTO_TCP,
			      .sport = sport, .dport = 80, .tcp_flags = flags };
	struct xdp_md ctx = { .ingress_ifindex = ifindex };
	__u8 buf[128], out[128];
	size_t len;

	memcpy(s.dst_mac, if_mac, 6);
	len = pkt_build(&s, buf, sizeof(buf), NULL, NULL);
	ctx.data_end = len;
	{
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf, .data_size_in = len,
			    .data_out = out, .data_size_out = sizeof(out),
			    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx), .repeat = 1);

		if (bpf_prog_test_run_opts(prog_fd, &o) || o.retval != XDP_TX)
			return -1;
	}
	return out[5];
}

static int setup_netns(void)
{
	struct ifreq ifr = { 0 };
	int fd;

	if (unshare(CLONE_NEWNET)) {
		perror("unshare(CLONE_NEWNET)");
		return -errno;
	}
	if (system("ip link set lo up && ip link add hbt0 type veth peer name hbt1 && "
		   "ip link set hbt0 up && ip link set hbt1 up"))
		return -EIO;
	ifindex = if_nametoindex("hbt0");
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "hbt0");
	if (fd < 0 || ioctl(fd, SIOCGIFHWADDR, &ifr))
		return -errno;
	memcpy(if_mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return ifindex ? 0 : -ENODEV;
}

/* Table flips so far: the generation of every service slot. */
static __u64 table_flips(void)
{
	int fd = pinned(HBLB_MAP_SVC_GEN);
	__u64 sum = 0;

	for (__u32 s = 0; fd >= 0 && s < 4; s++) {
		struct hblb_svc_gen g;

		if (bpf_map_lookup_elem(fd, &s, &g) == 0)
			sum += g.gen;
	}
	if (fd >= 0)
		close(fd);
	return sum;
}

/*
 * Every service in hblb_services has a complete active table: each of its
 * TABLE_SIZE slots names a backend that is up or draining and belongs to
 * that service. Returns the number of bad slots (0: complete), -1 if the
 * maps cannot be read, and counts the services seen.
 */
static int incomplete_slots(int *nservices)
{
	int svc_fd = pinned(HBLB_MAP_SERVICES), gen_fd = pinned(HBLB_MAP_SVC_GEN);
	int tab_fd = pinned(HBLB_MAP_TABLES), be_fd = pinned(HBLB_MAP_BACKENDS), bad = 0;
	__u32 chunks = (TABLE_SIZE + HBLB_TABLE_CHUNK - 1) / HBLB_TABLE_CHUNK;
	struct hblb_service_key key, *prev = NULL;

	*nservices = 0;
	if (svc_fd < 0 || gen_fd < 0 || tab_fd < 0 || be_fd < 0) {
		bad = -1;
		goto out;
	}
	while (bpf_map_get_next_key(svc_fd, prev, &key) == 0) {
		struct hblb_service svc;
		struct hblb_svc_gen g;

		prev = &key;
		if (bpf_map_lookup_elem(svc_fd, &key, &svc) ||
		    bpf_map_lookup_elem(gen_fd, &svc.id, &g)) {
			bad = -1;
			break;
		}
		(*nservices)++;
		for (__u32 c = 0; c < chunks; c++) {
			__u32 k = (svc.id * 2 + (g.gen & 1)) * chunks + c;
			struct hblb_table_chunk chunk;

			if (bpf_map_lookup_elem(tab_fd, &k, &chunk)) {
				bad = -1;
				goto out;
			}
			for (__u32 i = 0; i < HBLB_TABLE_CHUNK && c * HBLB_TABLE_CHUNK + i < TABLE_SIZE; i++) {
				struct hblb_backend be;
				__u32 id = chunk.be[i];

				if (id == HBLB_BACKEND_NONE || bpf_map_lookup_elem(be_fd, &id, &be) ||
				    be.service_id != svc.id ||
				    (be.state != HBLB_BE_UP && be.state != HBLB_BE_DRAINING))
					bad++;
			}
		}
	}
out:
	for (int *fd = (int[]){ svc_fd, gen_fd, tab_fd, be_fd }, i = 0; i < 4; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	return bad;
}

static bool wait_for(bool (*cond)(void), int ms)
{
	for (int waited = 0; waited < ms; waited += 20) {
		if (cond())
			return true;
		sleep_ms(20);
	}
	return cond();
}

static bool pins_ready(void)
{
	int fd = pinned(HBLB_MAP_CFG_GEN);

	if (fd < 0)
		return false;
	close(fd);
	return attached_prog() >= 0;
}

static bool healthy_up(void)
{
	int fd = pinned(HBLB_MAP_BACKENDS), up = 0;

	for (__u32 id = 0; fd >= 0 && id < 64; id++) {
		struct hblb_backend rec;

		if (bpf_map_lookup_elem(fd, &id, &rec) == 0 && rec.state == HBLB_BE_UP &&
		    rec.addr != htonl(BE(FLAPPER)))
			up++;
	}
	if (fd >= 0)
		close(fd);
	return up == NBE - 1;
}

int main(int argc, char **argv)
{
	int flow_be[NFLOWS], prog_fd = -1, kills = 0, drops = 0, moved = 0, sent = 0;
	pthread_t hb_thread;
	bool hb_started = false;

	if (argc < 2) {
		fprintf(stderr, "usage: %s PATH/TO/hblb\n", argv[0]);
		return 1;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "test_daemon needs root\n");
		return 1;
	}
	hblb_bin = argv[1];
	ncpus = libbpf_num_possible_cpus();
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/hblb-test-daemon-%d", getpid());
	snprintf(log_path, sizeof(log_path), "/tmp/hblb-test-daemon-%d.log", getpid());
	srand(getpid());

	test_begin("daemon starts, attaches and brings heartbeating backends up");
	if (!CHECK_EQ(setup_netns(), 0))
		goto out;
	daemon_pid = start_daemon();
	if (!CHECK(wait_for(pins_ready, 5000), "daemon did not pin its maps and attach")) {
		show_log();
		goto out;
	}
	CHECK_EQ(configure(), 0);
	hb_started = pthread_create(&hb_thread, NULL, heartbeats, NULL) == 0;
	if (!CHECK(wait_for(healthy_up, 5000), "backends did not come up")) {
		show_log();
		goto out;
	}
	prog_fd = attached_prog();
	for (int f = 0; f < NFLOWS; f++) {
		flow_be[f] = send_pkt(prog_fd, 10000 + f, PKT_TCP_SYN);
		CHECK(flow_be[f] >= 0, "flow %d not forwarded", f);
	}
	test_end();

	test_begin("100 SIGKILLs at random moments: a complete table after each, nothing dropped, "
		   "no healthy flow moved, each restart reconciles");
	__u64 flips0 = table_flips(), flips_at_kill = flips0;
	int incomplete = 0, unreadable = 0, stalled = 0, nsvc_bad = 0;

	while (kills < KILLS) {
		/* traffic for a random 50-500 ms, then the kill */
		__u64 kill_at = mono_ns() + (50 + rand() % 450) * 1000000ull;

		do {
			for (int f = 0; f < NFLOWS; f++) {
				int b = send_pkt(prog_fd, 10000 + f, PKT_TCP_ACK);

				sent++;
				if (b < 0)
					drops++;
				else if (flow_be[f] != FLAPPER && b != flow_be[f])
					moved++;
				else if (flow_be[f] == FLAPPER)
					flow_be[f] = b;         /* may move while its backend is dead */
			}
			{
				/* new flows keep being placed too; few enough distinct
				 * ones (200) that the 4096-entry flow table never evicts
				 * a tracked flow, which would re-steer it legitimately */
				int b = send_pkt(prog_fd, 20000 + sent % 200, PKT_TCP_SYN);

				sent++;
				drops += b < 0;
			}
			sleep_ms(5);
		} while (mono_ns() < kill_at);

		kill(daemon_pid, SIGKILL);
		waitpid(daemon_pid, NULL, 0);
		kills++;
		/* with no daemon at all, the data path must hold a complete table */
		{
			int nsvc, bad = incomplete_slots(&nsvc);

			if (bad < 0)
				unreadable++;
			else if (bad > 0)
				incomplete++;
			if (nsvc != 1)
				nsvc_bad++;
			if (bad)
				fprintf(stderr, "  kill %d: %d bad slots in the active table\n", kills, bad);
		}
		/* reconciled: every few kills, wait (no pass/fail on time) until the
		 * new daemon has swapped a table, i.e. adopted the pins and is
		 * following the flapping backend */
		daemon_pid = start_daemon();
		if (kills % 10 == 0) {
			__u64 give_up = mono_ns() + 20000000000ull;

			while (table_flips() == flips_at_kill && mono_ns() < give_up)
				sleep_ms(20);
			if (table_flips() == flips_at_kill)
				stalled++;
			flips_at_kill = table_flips();
		}
	}
	__u64 flips = table_flips() - flips0;

	printf("# %d kills, %llu table swaps, %d packets, %d dropped, %d healthy flows moved, "
	       "%d kills left an incomplete table\n", kills, (unsigned long long)flips, sent, drops,
	       moved, incomplete);
	CHECK_EQ(kills, KILLS);
	CHECK(flips >= KILLS / 10, "only %llu table swaps: the flapping backend did not flap",
	      (unsigned long long)flips);
	CHECK(incomplete == 0, "%d of %d kills left an incomplete active table", incomplete, kills);
	CHECK(unreadable == 0, "%d times the pinned maps could not be read after a kill", unreadable);
	CHECK(nsvc_bad == 0, "%d times the service was not in hblb_services after a kill", nsvc_bad);
	CHECK(stalled == 0, "%d restarted daemons did not swap a table within 20 s", stalled);
	CHECK_EQ(drops, 0);
	CHECK_EQ(moved, 0);
	CHECK(attached_prog() >= 0, "program gone from the interface");
	test_end();

	test_begin("a second daemon on the same pin directory is refused");
	{
		sleep_ms(300);  /* the last restart holds the lock by now */
		pid_t second = start_daemon();
		int status = 0;

		waitpid(second, &status, 0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) != 0, "second daemon was not refused");
		CHECK(kill(daemon_pid, 0) == 0, "first daemon died");
	}
	test_end();

	test_begin("SIGTERM exits cleanly and leaves the data path forwarding");
	{
		int status = 0;

		kill(daemon_pid, SIGTERM);
		waitpid(daemon_pid, &status, 0);
		daemon_pid = -1;
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
		CHECK(attached_prog() >= 0, "program detached on SIGTERM");
		CHECK(send_pkt(prog_fd, 10000, PKT_TCP_ACK) >= 0, "traffic stopped after SIGTERM");
	}
	test_end();
out:
	if (t_case)
		test_end();
	if (t_failed)
		show_log();
	cleanup();
	if (hb_started)
		pthread_join(hb_thread, NULL);
	if (prog_fd >= 0)
		close(prog_fd);
	return test_summary("daemon");
}
