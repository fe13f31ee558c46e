#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# A load-balancing topology in network namespaces (sourced by the demo and
# system tests). All addresses are in 198.18.0.0/15:
#
#   PREFIX-cl  client     198.18.7.1    ─┐
#   PREFIX-lb  hblb       198.18.7.2     ├─ br0 in PREFIX-br
#   PREFIX-bN  backend N  198.18.7.1N   ─┘   (VIP 198.18.7.100 on lo: direct server return)
#
# topo_up PREFIX N [generic|native] creates it for hblb's XDP mode on the
# load balancer's eth0; topo_down PREFIX removes every namespace with that
# prefix (and so their links and the XDP programs on them). Run a pinning
# program in a namespace with topo_nsenter (ip netns exec would hide bpffs).
#
# Native mode on veth needs two things generic mode does not (shared/ENV.md):
# the bridge-side peer of the LB's eth0 must run an XDP program, or frames
# the LB sends with XDP_TX are dropped there; and the client must compute
# its own checksums, because partial checksums (offload) do not survive a
# native XDP hop and the backends would drop the segments.

TOPO_VIP=198.18.7.100
TOPO_PASS_OBJ=${TOPO_PASS_OBJ:-${BUILD:-build}/floor_pass.bpf.o}   # a bare XDP_PASS

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

topo_up() {             # topo_up PREFIX N_BACKENDS [generic|native]
	local p=$1 n=$2 mode=${3:-generic} i
	case $mode in
	generic) ;;
	native) [[ -r $TOPO_PASS_OBJ ]] || { echo "topology: $TOPO_PASS_OBJ missing (make)" >&2; return 1; } ;;
	*) echo "topology: mode '$mode': generic or native" >&2; return 1 ;;
	esac
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
	if [[ $mode == native ]]; then
		ip -n "$p-br" link set p-lb xdpdrv obj "$TOPO_PASS_OBJ" sec xdp || return 1
		ip netns exec "$p-cl" ethtool -K eth0 tx off >/dev/null || return 1
	fi
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

topo_now_ms() { echo $(($(date +%s%N) / 1000000)); }

# topo_changed_at LOG ADDR STATE SINCE_MS: when the daemon logged ADDR's
# change to STATE, the first at or after SINCE_MS (ms since the epoch); now
# if none. The log's time is the change itself, not when a poll of a busy
# machine noticed it.
topo_changed_at() {
	python3 - "$@" <<'EOF' || topo_now_ms
import datetime, re, sys
log, addr, state, since = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
pat = re.compile(r"backend %s \(.*\): \S+ -> %s \(.*\) at (\S+)Z$" % (re.escape(addr), state))
for line in open(log):
    m = pat.search(line.rstrip())
    if m:
        t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f")
        ms = int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
        if ms >= since:
            print(ms)
            sys.exit(0)
sys.exit(1)
EOF
}
