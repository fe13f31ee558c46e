#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# A load-balancing topology in network namespaces (sourced by the demo and
# system tests). All addresses are in 198.18.0.0/15:
#
#   PREFIX-cl  client     198.18.7.1    ─┐
#   PREFIX-lb  hblb       198.18.7.2     ├─ br0 in PREFIX-br
#   PREFIX-bN  backend N  198.18.7.1N   ─┘   (VIP 198.18.7.100 on lo: direct server return)
#
# topo_up PREFIX N creates it; topo_down PREFIX removes every namespace
# with that prefix (and so their links). Run a pinning program in a
# namespace with topo_nsenter (ip netns exec would hide bpffs).

TOPO_VIP=198.18.7.100

topo_ns() { echo "$1-$2"; }

topo_nsenter() {        # topo_nsenter PREFIX NAME CMD...: CMD replaces nsenter (same PID)
	local ns=$1-$2; shift 2
	nsenter --net=/run/netns/"$ns" "$@"
}

topo_port() {           # topo_port PREFIX NAME ADDR: a veth from the bridge into NAME
	local p=$1 name=$2 addr=$3 ns=$1-$2
	ip netns add "$ns"
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$ns" link set lo up
	ip -n "$p-br" link add "p-$name" type veth peer name eth0 netns "$ns"
	ip -n "$p-br" link set "p-$name" master br0 up
	ip -n "$ns" addr add "$addr/24" dev eth0
	ip -n "$ns" link set eth0 up
}

topo_up() {             # topo_up PREFIX N_BACKENDS
	local p=$1 n=$2 i
	ip netns add "$p-br" || return 1
	ip netns exec "$p-br" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	# bridged frames with XDP-rewritten headers must not meet iptables
	ip netns exec "$p-br" sysctl -qw net.bridge.bridge-nf-call-iptables=0 2>/dev/null
	ip -n "$p-br" link add br0 type bridge mcast_snooping 0
	ip -n "$p-br" link set br0 up
	topo_port "$p" cl 198.18.7.1
	topo_port "$p" lb 198.18.7.2
	# the load balancer answers ARP for the VIP; backends must not
	ip -n "$p-lb" addr add "$TOPO_VIP/32" dev eth0
	for ((i = 1; i <= n; i++)); do
		topo_port "$p" "b$i" "198.18.7.1$i"
		ip netns exec "$p-b$i" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
		ip -n "$p-b$i" addr add "$TOPO_VIP/32" dev lo
		ip -n "$p-b$i" route add 224.0.0.0/4 dev eth0      # heartbeats to 239.0.0.1
	done
}

topo_down() {           # topo_down PREFIX
	local ns
	for ns in $(ip netns list | awk '{print $1}' | grep "^$1-"); do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
		ip netns del "$ns"
	done
}

# hblb state, for scripts that define hb() (hblb with their pin directory)
topo_state_of() {       # topo_state_of ADDR: a backend's state in `hblb backend list`
	hb -j backend list 2>/dev/null | python3 -c '
import json, sys
print(next((b["state"] for b in json.load(sys.stdin) if b["address"] == sys.argv[1]), "?"))' "$1"
}

topo_wait_state() {     # topo_wait_state ADDR STATE SECONDS
	local until=$((SECONDS + $3))
	while ((SECONDS <= until)); do
		[[ $(topo_state_of "$1") == "$2" ]] && return 0
		sleep 0.02
	done
	return 1
}
