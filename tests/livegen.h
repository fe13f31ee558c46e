/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * livegen - a packet generator on BPF_PROG_TEST_RUN live frames
 * (BPF_F_TEST_XDP_LIVE_FRAMES), for benchmarks and tests on veth: the
 * xdp-trafficgen of xdp-tools needs tracepoint BTF this kernel lacks.
 *
 * A run sends `packets` copies of one template frame out of a device at
 * full speed (XDP_TX from the device's own receive path), rewriting one
 * big-endian field of each copy to base + (n % count): many flows (a
 * source port) or many sources (a source address, with the IPv4 header
 * checksum fixed up) from one template. The device must be in the calling
 * thread's network namespace (netns_enter). On veth, the frames land in
 * the peer's receive ring; the peer needs an XDP program (native mode) or
 * GRO on, and a full ring drops frames (see livegen_ethtool_sum).
 *
 * The same object has a sink, livegen_count: attached to a device it
 * counts and drops every frame that arrives there.
 */
#ifndef HBLB_LIVEGEN_H
#define HBLB_LIVEGEN_H

#include <linux/types.h>

#define LIVEGEN_OFF_MASK 0x3ff          /* fields lie within the first 1 KiB */
#define LIVEGEN_HEAD_MAX 128            /* bytes of the template restored in each frame */

/* What livegen_tx rewrites in each copy; count 0: nothing. */
struct livegen_vary {
	__u16 off;              /* byte offset of the field in the frame */
	__u16 width;            /* 2 or 4 bytes, written big-endian */
	__u16 ip_off;           /* offset of an ihl=5 IPv4 header to re-checksum; 0: none */
	__u16 pad;
	__u32 base;
	__u32 count;
};

enum livegen_counter {
	LIVEGEN_CNT_TX = 0,     /* frames livegen_tx sent */
	LIVEGEN_CNT_RX,         /* frames livegen_count received */
	LIVEGEN_CNT_MAX,
};

#ifndef __bpf__
#include <stdbool.h>
#include <stddef.h>

struct livegen;

struct livegen_result {
	__u64 packets;          /* frames handed to XDP_TX (the program's count) */
	__u64 wall_ns;          /* time the run took */
	/* the kernel's own measure of the run (BPF_PROG_TEST_RUN's duration):
	 * leaves out the time the sender was scheduled out, so it is steadier
	 * than wall_ns on a shared machine; 1 ns/frame resolution */
	__u64 kernel_ns;
};

/* Loads the generator and sink programs; 0 or -errno. */
int livegen_open(struct livegen **g);
void livegen_close(struct livegen *g);

/* Sends `packets` copies of frame (len bytes) out of ifindex, varied as
 * *vary says (NULL: all identical). One run at a time per livegen. */
int livegen_send(struct livegen *g, int ifindex, const void *frame, __u32 len,
		 const struct livegen_vary *vary, __u64 packets, struct livegen_result *res);

/* Attaches the sink to ifindex (native mode if native, else generic);
 * it stays until livegen_detach_counter or the device goes away. */
int livegen_attach_counter(struct livegen *g, int ifindex, bool native);
void livegen_detach_counter(struct livegen *g, int ifindex);

/* Frames the sink has counted (all CPUs, since open). */
__u64 livegen_counted(struct livegen *g);

/* Moves the calling thread into network namespace /run/netns/NAME;
 * 0 or -errno. */
int netns_enter(const char *name);

/* The sum of a device's ethtool statistics whose names end in suffix, or
 * -errno; the device is in the calling thread's namespace. On veth:
 * "xdp_xmit_errors" counts frames the device could not queue at its peer
 * (a generator's losses to a full ring), "xdp_tx_errors" frames its own
 * XDP program's XDP_TX could not send. */
long long livegen_ethtool_sum(const char *dev, const char *suffix);

/* ---- Harness for live-traffic benchmarks and tests ----------------------- */
#include <sys/types.h>

/* Runs a shell command built like printf; its exit status, or -1. A
 * failure is logged with the command. */
int lg_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Starts `argv` (argv[0] the path) in namespace NS with stdout and stderr
 * appended to log; the child's PID or -errno. */
pid_t lg_spawn(const char *ns, char *const argv[], const char *log);

/* Sends SIGTERM (then SIGKILL after 2 s) to a child and reaps it. */
void lg_stop(pid_t pid);

/* hblb_stats[reason] summed over CPUs, from the pins in pin_dir; 0 if
 * unreadable. */
__u64 lg_reason(const char *pin_dir, __u32 reason);

/* Accepted heartbeats of every configured real (hblb_reals -> hblb_hb,
 * summed over CPUs): their number, sum, minimum and maximum; 0 or -errno. */
struct lg_hb_counts {
	__u64 reals, sum, min, max;
};
int lg_hb_counts(const char *pin_dir, struct lg_hb_counts *out);

/* Backends in hblb_backends whose state is `state` (enum hblb_backend_state),
 * or -errno. */
int lg_backends_in_state(const char *pin_dir, int state);

/* A device's MAC in namespace ns; 0 or -errno. */
int lg_dev_mac(const char *ns, const char *dev, __u8 mac[6]);

/* utime + stime of a process, in ns; 0 if unreadable. */
__u64 lg_cpu_ns(pid_t pid);

__u64 lg_now_ns(void);

/* Field offsets in a frame built by tests/packets.h (no VLAN tags). */
#define LIVEGEN_IP_OFF     14
#define LIVEGEN_SADDR_OFF  (14 + 12)
#define LIVEGEN_SPORT_OFF  (14 + 20)
#endif

#endif
