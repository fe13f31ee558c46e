// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* livegen: see livegen.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "livegen.h"
#include "livegen.skel.h"
#include "log.h"

struct livegen {
	struct livegen_bpf *skel;
	int ncpus;
	__u32 attach_flags;
};

/* Live frames: how many frames the kernel prepares per batch (its default
 * is 64). The veth peer's NAPI runs between batches on the same CPU and
 * takes up to 64 frames per poll from a 256-frame ring. */
#define LIVEGEN_BATCH 64

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int livegen_open(struct livegen **out)
{
	struct livegen *g = calloc(1, sizeof(*g));
	int err;

	if (!g)
		return -ENOMEM;
	g->ncpus = libbpf_num_possible_cpus();
	g->skel = livegen_bpf__open_and_load();
	if (!g->skel || g->ncpus <= 0) {
		err = errno ? -errno : -EINVAL;
		pr_err("cannot load the live-frames generator: %s", strerror(-err));
		livegen_close(g);
		return err;
	}
	*out = g;
	return 0;
}

void livegen_close(struct livegen *g)
{
	if (!g)
		return;
	livegen_bpf__destroy(g->skel);
	free(g);
}

int livegen_send(struct livegen *g, int ifindex, const void *frame, __u32 len,
		 const struct livegen_vary *vary, __u64 packets, struct livegen_result *res)
{
	LIBBPF_OPTS(bpf_test_run_opts, o,
		.data_in = frame,
		.data_size_in = len,
		.flags = BPF_F_TEST_XDP_LIVE_FRAMES,
		.batch_size = LIVEGEN_BATCH,
	);
	/* the kernel wants data_end to equal the frame size */
	struct xdp_md ctx = { .data_end = len, .ingress_ifindex = ifindex };
	__u64 t0, left = packets, kernel_ns = 0;
	int err;

	if (vary && vary->count &&
	    ((vary->width != 2 && vary->width != 4) || (__u32)vary->off + vary->width > len ||
	     vary->off > LIVEGEN_OFF_MASK || (vary->ip_off && (__u32)vary->ip_off + 20 > len))) {
		pr_err("livegen: field to vary (offset %u, width %u) is outside the %u-byte frame",
		       vary->off, vary->width, len);
		return -EINVAL;
	}
	g->skel->bss->vary = vary ? *vary : (struct livegen_vary){ 0 };
	g->skel->bss->seq = 0;
	/* LIVEGEN_HEAD_MAX - 1: the program masks the length with it */
	g->skel->bss->head_len = len < LIVEGEN_HEAD_MAX - 1 ? len : LIVEGEN_HEAD_MAX - 1;
	memcpy(g->skel->bss->head, frame, g->skel->bss->head_len);
	o.ctx_in = &ctx;
	o.ctx_size_in = sizeof(ctx);
	t0 = now_ns();
	while (left) {
		/* repeat is 32 bits */
		__u32 n = left > 1u << 30 ? 1u << 30 : left;

		o.repeat = n;
		err = bpf_prog_test_run_opts(bpf_program__fd(g->skel->progs.livegen_tx), &o);
		if (err) {
			err = -errno;
			pr_err("livegen: live-frames run on ifindex %d failed: %s", ifindex,
			       strerror(-err));
			return err;
		}
		left -= n;
		kernel_ns += (__u64)o.duration * n;
	}
	if (res) {
		res->kernel_ns = kernel_ns;
		res->wall_ns = now_ns() - t0;
		res->packets = g->skel->bss->seq;
	}
	return 0;
}

int livegen_attach_counter(struct livegen *g, int ifindex, bool native)
{
	int err;

	g->attach_flags = native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
	err = bpf_xdp_attach(ifindex, bpf_program__fd(g->skel->progs.livegen_count),
			     g->attach_flags, NULL);
	if (err)
		pr_err("livegen: cannot attach the counter to ifindex %d: %s", ifindex,
		       strerror(-err));
	return err;
}

void livegen_detach_counter(struct livegen *g, int ifindex)
{
	bpf_xdp_detach(ifindex, g->attach_flags, NULL);
}

__u64 livegen_counted(struct livegen *g)
{
	__u64 v[g->ncpus], sum = 0;
	__u32 key = LIVEGEN_CNT_RX;

	if (bpf_map_lookup_elem(bpf_map__fd(g->skel->maps.livegen_counts), &key, v))
		return 0;
	for (int c = 0; c < g->ncpus; c++)
		sum += v[c];
	return sum;
}

int netns_enter(const char *name)
{
	char path[256];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET))
		err = -errno;
	if (fd >= 0)
		close(fd);
	if (err)
		pr_err("cannot enter network namespace %s: %s", name, strerror(-err));
	return err;
}

long long livegen_ethtool_sum(const char *dev, const char *suffix)
{
	struct {
		struct ethtool_sset_info hdr;
		__u32 len;
	} sset = { .hdr = { .cmd = ETHTOOL_GSSET_INFO, .sset_mask = 1ull << ETH_SS_STATS } };
	struct ethtool_gstrings *names = NULL;
	struct ethtool_stats *stats = NULL;
	struct ifreq ifr = { 0 };
	size_t slen = strlen(suffix);
	long long sum = -ENOENT;
	__u32 n;
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	ifr.ifr_data = (void *)&sset;
	if (ioctl(fd, SIOCETHTOOL, &ifr) || !sset.hdr.sset_mask) {
		sum = errno ? -errno : -EOPNOTSUPP;
		goto out;
	}
	n = sset.len;
	names = calloc(1, sizeof(*names) + (size_t)n * ETH_GSTRING_LEN);
	stats = calloc(1, sizeof(*stats) + (size_t)n * sizeof(__u64));
	if (!names || !stats) {
		sum = -ENOMEM;
		goto out;
	}
	names->cmd = ETHTOOL_GSTRINGS;
	names->string_set = ETH_SS_STATS;
	names->len = n;
	stats->cmd = ETHTOOL_GSTATS;
	stats->n_stats = n;
	ifr.ifr_data = (void *)names;
	if (ioctl(fd, SIOCETHTOOL, &ifr)) {
		sum = -errno;
		goto out;
	}
	ifr.ifr_data = (void *)stats;
	if (ioctl(fd, SIOCETHTOOL, &ifr)) {
		sum = -errno;
		goto out;
	}
	for (__u32 i = 0; i < n && i < stats->n_stats; i++) {
		const char *name = (const char *)names->data + (size_t)i * ETH_GSTRING_LEN;
		size_t len = strnlen(name, ETH_GSTRING_LEN);

		if (len >= slen && !memcmp(name + len - slen, suffix, slen))
			sum = (sum < 0 ? 0 : sum) + (long long)stats->data[i];
	}
out:
	free(names);
	free(stats);
	close(fd);
	return sum;
}

/* ---- harness ---------------------------------------------------------------- */

#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include "hblb.h"

__u64 lg_now_ns(void)
{
	return now_ns();
}

int lg_sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	rc = rc == -1 ? -1 : WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
	if (rc)
		pr_err("command failed (%d): %s", rc, cmd);
	return rc;
}

pid_t lg_spawn(const char *ns, char *const argv[], const char *log)
{
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (netns_enter(ns))
			_exit(126);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

void lg_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 200; i++) {
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static int pin_get(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return bpf_obj_get(path);
}

__u64 lg_reason(const char *pin_dir, __u32 reason)
{
	int ncpus = libbpf_num_possible_cpus(), fd = pin_get(pin_dir, HBLB_MAP_STATS);
	__u64 v[ncpus > 0 ? ncpus : 1], sum = 0;

	if (fd < 0)
		return 0;
	if (bpf_map_lookup_elem(fd, &reason, v) == 0)
		for (int c = 0; c < ncpus; c++)
			sum += v[c];
	close(fd);
	return sum;
}

int lg_hb_counts(const char *pin_dir, struct lg_hb_counts *out)
{
	int ncpus = libbpf_num_possible_cpus();
	int reals = pin_get(pin_dir, HBLB_MAP_REALS), hb = pin_get(pin_dir, HBLB_MAP_HB);
	struct hblb_hb_record rec[ncpus > 0 ? ncpus : 1];
	__be32 addr, prev, *pk = NULL;
	struct hblb_real real;
	int err = 0;

	memset(out, 0, sizeof(*out));
	if (reals < 0 || hb < 0) {
		err = -errno;
		goto out;
	}
	while (bpf_map_get_next_key(reals, pk, &addr) == 0) {
		__u64 n = 0;

		prev = addr;
		pk = &prev;
		if (bpf_map_lookup_elem(reals, &addr, &real) ||
		    bpf_map_lookup_elem(hb, &real.id, rec))
			continue;
		for (int c = 0; c < ncpus; c++)
			n += rec[c].count;
		out->min = out->reals ? (n < out->min ? n : out->min) : n;
		out->max = n > out->max ? n : out->max;
		out->sum += n;
		out->reals++;
	}
out:
	if (reals >= 0)
		close(reals);
	if (hb >= 0)
		close(hb);
	return err;
}

int lg_backends_in_state(const char *pin_dir, int state)
{
	int fd = pin_get(pin_dir, HBLB_MAP_BACKENDS), n = 0;
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	struct hblb_backend be;

	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		n = -errno;
		goto out;
	}
	for (__u32 id = 0; id < info.max_entries; id++)
		if (bpf_map_lookup_elem(fd, &id, &be) == 0 && be.addr && be.state == state)
			n++;
out:
	close(fd);
	return n;
}

int lg_dev_mac(const char *ns, const char *dev, __u8 mac[6])
{
	char cmd[256], line[64];
	unsigned int m[6];
	FILE *f;
	int ok;

	snprintf(cmd, sizeof(cmd), "ip netns exec %s cat /sys/class/net/%s/address", ns, dev);
	f = popen(cmd, "r");
	if (!f)
		return -errno;
	ok = fgets(line, sizeof(line), f) &&
	     sscanf(line, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) == 6;
	pclose(f);
	if (!ok) {
		pr_err("cannot read the MAC of %s in %s", dev, ns);
		return -ENODEV;
	}
	for (int i = 0; i < 6; i++)
		mac[i] = m[i];
	return 0;
}

__u64 lg_cpu_ns(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	ok = fgets(buf, sizeof(buf), f) != NULL;
	fclose(f);
	/* fields after the command name, which may hold spaces: state is
	 * field 3, utime 14 and stime 15 */
	p = ok ? strrchr(buf, ')') : NULL;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
			 &ut, &st) != 2)
		return 0;
	return (ut + st) * (1000000000ull / sysconf(_SC_CLK_TCK));
}
