#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# make demo: hblb in network namespaces, a line per step. Three backends
# serve HTTP and send heartbeats with `hblb beat`; hblb balances a VIP over
# them; one falls silent and comes back; one is drained. Everything is
# removed at the end, also on failure or Ctrl-C. MODE=native|generic picks
# the XDP mode on the load balancer (generic by default).
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/topology.sh

HBLB=$(realpath "${BUILD:-build}/hblb")
P=hbdemo$$
PIN=/sys/fs/bpf/hblb-demo-$$
WORK=$(mktemp -d /tmp/hblb-demo.XXXXXX)
INTERVAL=200            # ms; Apache sends every 1000
MODE=${MODE:-generic}
case $MODE in generic | native) ;; *) echo "MODE=$MODE: generic or native"; exit 2 ;; esac
declare -A BEAT HTTP
DAEMON=

if [[ -t 1 && -z ${NO_COLOR:-} ]]; then B=$'\033[1m' N=$'\033[0m'; else B= N=; fi
step() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
say() { printf '   %s\n' "$*"; }

cleanup() {
	step "cleaning up: processes, namespaces, pins"
	local pid
	for pid in "${BEAT[@]}" "${HTTP[@]}" $DAEMON; do
		kill "$pid" 2>/dev/null
	done
	wait 2>/dev/null
	topo_down "$P"
	rm -rf "$PIN" "$WORK"
	say "done"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

hb() { topo_nsenter "$P" lb "$HBLB" --pin-dir "$PIN" "$@"; }

start_beat() {          # start_beat N: heartbeats from backend N
	ip netns exec "$P-b$1" "$HBLB" beat --interval "$INTERVAL" --ready 50 --busy 1 \
		>>"$WORK/beat$1.log" 2>&1 &
	BEAT[$1]=$!
}

requests() {            # requests N: N new connections through the VIP, who answered
	local i
	for ((i = 0; i < $1; i++)); do
		ip netns exec "$P-cl" curl -s --max-time 2 "http://$TOPO_VIP/" || echo "(no answer)"
	done | sort | uniq -c | sed 's/^/   /'
}


[[ -x $HBLB ]] || { echo "build/hblb is missing: run make first"; exit 1; }

step "topology: a bridge, a client, the load balancer and 3 backends (namespaces $P-*)"
topo_up "$P" 3 "$MODE" || exit 1
say "client 198.18.7.1, load balancer 198.18.7.2, backends 198.18.7.11-13, VIP $TOPO_VIP"
say "backends hold the VIP on lo (direct server return): replies go straight to the client"
if [[ $MODE == native ]]; then
	say "native XDP on veth: an XDP_PASS program on the bridge's port to the LB (XDP_TX frames"
	say "are delivered only to a peer with XDP), and no checksum offload on the client"
fi

step "backends: an HTTP server and 'hblb beat' every $INTERVAL ms on each"
for i in 1 2 3; do
	mkdir -p "$WORK/www$i"
	echo "answered by backend $i (198.18.7.1$i)" >"$WORK/www$i/index.html"
	ip netns exec "$P-b$i" python3 -m http.server 80 --bind 0.0.0.0 --directory "$WORK/www$i" \
		>"$WORK/http$i.log" 2>&1 &
	HTTP[$i]=$!
	start_beat "$i"
done

step "load balancer: hblb daemon, XDP attached to eth0 ($MODE mode)"
nsenter --net=/run/netns/"$P-lb" "$HBLB" --pin-dir "$PIN" daemon -i "eth0:$MODE" --interval "$INTERVAL" \
	>"$WORK/daemon.log" 2>&1 &
DAEMON=$!
for _ in $(seq 100); do [[ -e $PIN/hblb_cfg_gen ]] && break; sleep 0.05; done
say "hblb service add $TOPO_VIP:80"
hb service add "$TOPO_VIP:80" || exit 1
for i in 1 2 3; do
	say "hblb backend add $TOPO_VIP:80 198.18.7.1$i heartbeat   (MAC from the neighbour table)"
	hb backend add "$TOPO_VIP:80" "198.18.7.1$i" heartbeat || exit 1
done
for i in 1 2 3; do
	topo_wait_state "198.18.7.1$i" up 10 || { say "backend $i did not come up"; tail -5 "$WORK/daemon.log"; exit 1; }
done
say "all three up after 2 heartbeats in a row each (rise 2)"

step "30 new connections through the VIP: who answered"
requests 30
step "hblb status"
hb status

step "backend 3 stops sending heartbeats"
kill "${BEAT[3]}"; wait "${BEAT[3]}" 2>/dev/null; unset 'BEAT[3]'
t0=$(date +%s%N)
topo_wait_state 198.18.7.13 down 10
say "down $((($(date +%s%N) - t0) / 1000000)) ms later (dead after 3 x $INTERVAL ms); its flows re-steer"
requests 30

step "backend 3 beats again"
start_beat 3
topo_wait_state 198.18.7.13 up 10
say "back in the rotation after rise"
requests 30

step "hblb backend drain $TOPO_VIP:80 198.18.7.12: no new flows, established ones stay"
hb backend drain "$TOPO_VIP:80" 198.18.7.12
topo_wait_state 198.18.7.12 draining 5
requests 30
hb status

step "done: the demo removes everything it made"
