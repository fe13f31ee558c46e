#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Real TCP (HTTP) through the VIP, direct server return, generic XDP:
# shares follow the backends' heartbeat weights; a backend whose heartbeats
# stop gets no new connection after dead-after (time printed); a backend
# added later gets new flows. Usage: tests/test_system.sh PATH/TO/hblb (root)
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/topology.sh

HBLB=$(realpath "${1:?usage: test_system.sh PATH/TO/hblb}")
P=hbsys$$
PIN=/sys/fs/bpf/hblb-test-system-$$
WORK=$(mktemp -d /tmp/hblb-test-system.XXXXXX)
INTERVAL=100
declare -A BEAT HTTP
DAEMON=
passed=0
failed=0

cleanup() {
	local pid
	for pid in "${BEAT[@]}" "${HTTP[@]}" $DAEMON; do kill "$pid" 2>/dev/null; done
	wait 2>/dev/null
	topo_down "$P"
	rm -rf "$PIN" "$WORK"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok - $1"; }
fail() { failed=$((failed + 1)); echo "not ok - $1"; [[ $# -gt 1 ]] && echo "  $2"; }
hb() { topo_nsenter "$P" lb "$HBLB" --pin-dir "$PIN" "$@"; }

start_backend() {       # start_backend N READY
	mkdir -p "$WORK/www$1"
	echo "b$1" >"$WORK/www$1/index.html"
	ip netns exec "$P-b$1" python3 -m http.server 80 --bind 0.0.0.0 --directory "$WORK/www$1" \
		>/dev/null 2>&1 &
	HTTP[$1]=$!
	ip netns exec "$P-b$1" "$HBLB" beat --interval "$INTERVAL" --ready "$2" --busy 1 >/dev/null 2>&1 &
	BEAT[$1]=$!
}

# N new connections from the client; prints "b1 COUNT" lines and "none COUNT"
connections() {
	ip netns exec "$P-cl" python3 - "$1" "$TOPO_VIP" <<'EOF'
import collections, socket, sys
n, vip = int(sys.argv[1]), sys.argv[2]
seen = collections.Counter()
for _ in range(n):
    try:
        s = socket.create_connection((vip, 80), timeout=2)
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        seen[data.split(b"\r\n\r\n", 1)[-1].strip().decode() or "empty"] += 1
    except OSError:
        seen["none"] += 1
for k, v in sorted(seen.items()):
    print(k, v)
EOF
}


count_of() { awk -v k="$1" '$1 == k { print $2 }' <<<"$2" | grep . || echo 0; }

topo_up "$P" 4 || { echo "cannot build the topology"; exit 1; }
start_backend 1 10
start_backend 2 20
start_backend 3 30
topo_nsenter "$P" lb "$HBLB" --pin-dir "$PIN" daemon -i eth0:generic --interval "$INTERVAL" --tick 5 \
	>"$WORK/daemon.log" 2>&1 &
DAEMON=$!
for _ in $(seq 100); do [[ -e $PIN/hblb_cfg_gen ]] && break; sleep 0.05; done
hb service add "$TOPO_VIP:80"
for i in 1 2 3; do hb backend add "$TOPO_VIP:80" "198.18.7.1$i" heartbeat; done
up=0
for i in 1 2 3; do topo_wait_state "198.18.7.1$i" up 10 && up=$((up + 1)); done
if ((up == 3)); then ok "three heartbeating backends up"; else fail "backends up" "$(tail -5 "$WORK/daemon.log")"; fi

# 1: shares follow ready 10:20:30 (weights 1/6, 2/6, 3/6), within 5 points over 3000 connections
out=$(connections 3000)
echo "$out" | sed 's/^/# /'
b1=$(count_of b1 "$out"); b2=$(count_of b2 "$out"); b3=$(count_of b3 "$out"); none=$(count_of none "$out")
if ((none == 0)) && python3 -c '
import sys
b = [int(x) for x in sys.argv[1:4]]; t = sum(b)
want = [1/6, 2/6, 3/6]
sys.exit(0 if t == 3000 and all(abs(x / t - w) <= 0.05 for x, w in zip(b, want)) else 1)' "$b1" "$b2" "$b3"; then
	ok "3000 connections through the VIP, shares within 5 points of 1:2:3"
else
	fail "shares by weight" "b1=$b1 b2=$b2 b3=$b3 none=$none"
fi

# 2: heartbeats stop: after dead-after no new connection reaches it
kill "${BEAT[3]}"; wait "${BEAT[3]}" 2>/dev/null; unset 'BEAT[3]'
t0=$(date +%s%N)
if topo_wait_state 198.18.7.13 down 5; then
	echo "# backend 3 down $((($(date +%s%N) - t0) / 1000000)) ms after its beats stopped (dead-after 3 x $INTERVAL ms)"
	out=$(connections 300)
	if [[ $(count_of b3 "$out") == 0 && $(count_of none "$out") == 0 ]]; then
		ok "silent backend gets no new connection; nothing fails"
	else
		fail "silent backend" "$out"
	fi
else
	fail "silent backend goes down"
fi

# 4: a backend added gets new flows
start_backend 4 30
hb backend add "$TOPO_VIP:80" 198.18.7.14 heartbeat
if topo_wait_state 198.18.7.14 up 10; then
	out=$(connections 300)
	if (($(count_of b4 "$out") > 30)) && [[ $(count_of none "$out") == 0 ]]; then
		ok "added backend gets new flows ($(count_of b4 "$out") of 300)"
	else
		fail "added backend gets new flows" "$out"
	fi
else
	fail "added backend comes up"
fi

echo
echo "system: $passed passed, $failed failed"
((failed == 0))
