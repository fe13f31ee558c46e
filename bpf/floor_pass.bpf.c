// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Benchmark floor: the cheapest XDP program there is. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int floor_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}
