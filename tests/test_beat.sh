#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Heartbeats end to end with real packets: `hblb beat` in a backend
# namespace sends multicast heartbeats over a veth to the load balancer's
# namespace, where the XDP program (generic mode) counts them and the
# daemon brings the backend up, follows its ready/busy, drains it at
# ready=0 and takes it down when the beats stop.
# Usage: tests/test_beat.sh PATH/TO/hblb   (root)
set -uo pipefail

HBLB=$(realpath "${1:?usage: test_beat.sh PATH/TO/hblb}")
RUN=hbt$$
LB=$RUN-lb
BE=$RUN-be
PIN=/sys/fs/bpf/hblb-test-beat-$$
LOG=$(mktemp /tmp/hblb-test-beat.XXXXXX)
VALUES=$(mktemp /tmp/hblb-test-beat-values.XXXXXX)
DAEMON=
BEAT=
passed=0
failed=0

cleanup() {
	[[ -n $BEAT ]] && kill "$BEAT" 2>/dev/null && wait "$BEAT" 2>/dev/null
	[[ -n $DAEMON ]] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
	ip netns del "$LB" 2>/dev/null
	ip netns del "$BE" 2>/dev/null
	rm -rf "$PIN" "$LOG" "$VALUES"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok - $1"; }
fail() { failed=$((failed + 1)); echo "not ok - $1"; [[ $# -gt 1 ]] && echo "  $2"; }

# nsenter, not ip netns exec: the latter remounts /sys and hides bpffs
in_lb() { nsenter --net=/run/netns/"$LB" "$@"; }
hb() { in_lb "$HBLB" --pin-dir "$PIN" "$@"; }

backend_field() {
	hb -j status 2>/dev/null | python3 -c '
import json, sys
field = sys.argv[1]
for s in json.load(sys.stdin)["services"]:
    for b in s.get("backends", []):
        if b["address"] == "198.18.6.11":
            print(b.get(field, ""))' "$1"
}

wait_state() {   # wait_state STATE SECONDS
	local until=$((SECONDS + $2))
	while ((SECONDS <= until)); do
		[[ $(backend_field state) == "$1" ]] && return 0
		sleep 0.02
	done
	return 1
}

start_beat() {
	ip netns exec "$BE" "$HBLB" beat --interval 50 "$@" >>"$LOG" 2>&1 &
	BEAT=$!
}

ip netns add "$LB" && ip netns add "$BE" || { echo "cannot create namespaces"; exit 1; }
for ns in "$LB" "$BE"; do
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$ns" link set lo up
done
ip -n "$LB" link add lb0 type veth peer name be0 netns "$BE"
ip -n "$LB" addr add 198.18.6.1/24 dev lb0
ip -n "$BE" addr add 198.18.6.11/24 dev be0
ip -n "$LB" link set lb0 up
ip -n "$BE" link set be0 up
ip -n "$BE" route add 224.0.0.0/4 dev be0
BE_MAC=$(ip -n "$BE" -o link show be0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)

# nsenter itself, not the in_lb function: $! must be the daemon's own PID
# (nsenter execs the command in place)
nsenter --net=/run/netns/"$LB" "$HBLB" --pin-dir "$PIN" daemon -i lb0:generic --interval 50 --tick 5 \
	--flap off >>"$LOG" 2>&1 &
DAEMON=$!
for _ in $(seq 100); do [[ -e $PIN/hblb_cfg_gen ]] && break; sleep 0.05; done
hb service add 198.18.6.100:80 2>>"$LOG"
hb backend add 198.18.6.100:80 198.18.6.11 heartbeat mac "$BE_MAC" 2>>"$LOG"

start_beat --ready 7 --busy 2
if wait_state up 5; then ok "heartbeats over the wire bring the backend up"; else fail "backend up" "$(tail -5 "$LOG")"; fi
sleep 0.2
if [[ $(backend_field ready) == 7 && $(backend_field busy) == 2 && $(backend_field heartbeats) -gt 2 ]]; then
	ok "the XDP record has the heartbeats, ready 7 and busy 2"
else
	fail "record" "ready=$(backend_field ready) busy=$(backend_field busy) heartbeats=$(backend_field heartbeats)"
fi
if [[ $(backend_field weight_in_force) == 7 ]]; then
	ok "status shows the weight in force: 7, from ready"
else
	fail "weight in force" "$(backend_field weight_in_force)"
fi
if hb -j status | python3 -c 'import json,sys; c=json.load(sys.stdin)["counters"]; assert c["hb_accepted"] > 0 and c["drop_heartbeat"] >= c["hb_accepted"]'; then
	ok "heartbeats counted by XDP and consumed"
else
	fail "heartbeat counters"
fi

# silence: dead after 3 x 50 ms, seen within a tick or two
t0=$(date +%s%N)
kill "$BEAT"; wait "$BEAT" 2>/dev/null; BEAT=
if wait_state down 3; then
	ms=$((($(date +%s%N) - t0) / 1000000))
	echo "# down ${ms} ms after the last heartbeat was sent (dead-after 150 ms, tick 5 ms, polled every 20 ms)"
	ok "silent backend goes down"
else
	fail "silent backend goes down" "state $(backend_field state)"
fi

# ready from a file: 0 drains, then back to work
echo "0 3" >"$VALUES"
start_beat --file "$VALUES"
if wait_state draining 5; then ok "ready=0 from --file drains it"; else fail "ready=0 drains" "state $(backend_field state)"; fi
echo "40 1" >"$VALUES"
if wait_state up 5 && [[ $(backend_field ready) == 40 ]]; then ok "new values from the file are sent"; else fail "file values" "state $(backend_field state) ready $(backend_field ready)"; fi
for _ in $(seq 50); do [[ $(backend_field weight_in_force) == 40 ]] && break; sleep 0.02; done
if [[ $(backend_field weight_in_force) == 40 ]]; then ok "the weight in force follows ready to 40"; else fail "weight follows ready" "$(backend_field weight_in_force)"; fi
kill "$BEAT"; wait "$BEAT" 2>/dev/null; BEAT=

# a bounded run exits by itself, SIGTERM exits cleanly
if ip netns exec "$BE" timeout 5 "$HBLB" beat --interval 10 --count 3 2>>"$LOG"; then ok "--count 3 exits 0"; else fail "--count exits"; fi
start_beat
sleep 0.2
kill -TERM "$BEAT"; wait "$BEAT"; rc=$?; BEAT=
if ((rc == 0)); then ok "SIGTERM: clean exit"; else fail "SIGTERM exit status $rc"; fi

# --pass-heartbeats: counted by XDP and also delivered to a receiver on the
# LB host (a mod_heartmonitor there); without it, counted and consumed
listener() {    # heartbeats a multicast receiver on lb0 hears in 1.5 s
	ip netns exec "$LB" python3 -c '
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("239.0.0.1", 27999))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
             struct.pack("4s4s", socket.inet_aton("239.0.0.1"), socket.inet_aton("198.18.6.1")))
s.settimeout(1.5)
n = 0
try:
    while True:
        s.recv(2048); n += 1
except socket.timeout:
    pass
print(n)'
}
restart_daemon() {
	kill "$DAEMON" && wait "$DAEMON" 2>/dev/null
	nsenter --net=/run/netns/"$LB" "$HBLB" --pin-dir "$PIN" daemon -i lb0:generic --interval 50 \
		--tick 5 --flap off "$@" >>"$LOG" 2>&1 &
	DAEMON=$!
	for _ in $(seq 100); do grep -q "heartbeats are .* after counting" <(tail -n 20 "$LOG") && break; sleep 0.05; done
}
counter() { hb -j status | python3 -c 'import json,sys; print(json.load(sys.stdin)["counters"].get(sys.argv[1], 0))' "$1"; }
restart_daemon --pass-heartbeats
passed0=$(counter pass_heartbeat)
listener >"$VALUES" &
lpid=$!
sleep 0.3
ip netns exec "$BE" "$HBLB" beat --interval 50 --count 10 2>>"$LOG"
wait "$lpid"
heard=$(<"$VALUES")
passed1=$(counter pass_heartbeat)
if ((heard == 10 && passed1 - passed0 == 10)); then
	ok "--pass-heartbeats: 10 counted by XDP and 10 heard on the host"
else
	fail "--pass-heartbeats" "heard $heard, pass_heartbeat $passed0 -> $passed1"
fi
restart_daemon
listener >"$VALUES" &
lpid=$!
sleep 0.3
ip netns exec "$BE" "$HBLB" beat --interval 50 --count 10 2>>"$LOG"
wait "$lpid"
heard=$(<"$VALUES")
if ((heard == 0)) && (($(counter pass_heartbeat) == passed1)); then
	ok "without it heartbeats are consumed: none heard on the host"
else
	fail "heartbeats consumed" "heard $heard"
fi

echo
echo "beat: $passed passed, $failed failed"
((failed == 0))
