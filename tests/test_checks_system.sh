#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Backends that cannot beat, checked actively, in the bridge topology
# (generic XDP, direct server return, real HTTP through the VIP):
#   b1  weight 10 check tcp 80
#   b2  weight 10 check http 80 /health
#   b3  heartbeat check tcp 80      (hblb beat ready 10: both must pass)
#   b4  heartbeat                   (hblb beat ready 10: always there)
# Their listeners stop: each leaves the rotation after `fall` failed checks
# and gets no new connection; they start again: each rejoins after `rise`
# passing checks and gets traffic. b2's /health answering 500 takes it out
# while it still serves; b3's heartbeats stopping take it out while its
# port still answers. Leave and rejoin times are printed.
# Usage: tests/test_checks_system.sh PATH/TO/hblb   (root)
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/topology.sh

HBLB=$(realpath "${1:?usage: test_checks_system.sh PATH/TO/hblb}")
P=hbck$$
PIN=/sys/fs/bpf/hblb-test-checks-system-$$
WORK=$(mktemp -d /tmp/hblb-test-checks-system.XXXXXX)
HB_INTERVAL=300         # ms, the heartbeat backends (b3, b4); not less: a loaded machine delays senders
# the checks' schedule: the checker's defaults (CLI-configured checks use them)
def() { awk -v n="$1" '$1 == "#define" && $2 == n { print $3 }' user/checks.h; }
CK_INTERVAL=$(def CHECK_INTERVAL_DEFAULT)
CK_TIMEOUT=$(def CHECK_TIMEOUT_DEFAULT)
CK_RISE=$(def CHECK_RISE_DEFAULT)
CK_FALL=$(def CHECK_FALL_DEFAULT)
declare -A SRV BEAT
DAEMON=
passed=0
failed=0

cleanup() {
	local pid
	for pid in "${SRV[@]}" "${BEAT[@]}" $DAEMON; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	topo_down "$P"
	rm -rf "$PIN" "$WORK"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok - $1"; }
fail() { failed=$((failed + 1)); echo "not ok - $1"; [[ $# -gt 1 ]] && echo "  $2"; }
hb() { topo_nsenter "$P" lb "$HBLB" --pin-dir "$PIN" "$@"; }
addr() { echo "198.18.7.1$1"; }

if [[ -z $CK_INTERVAL || -z $CK_TIMEOUT || -z $CK_RISE || -z $CK_FALL ]]; then
	echo "cannot read the check defaults from user/checks.h"
	echo; echo "checks_system: 0 passed, 1 failed"; exit 1
fi

# A web server: GET /health answers with the status in WORK/health-N
# (200 if absent), anything else with the backend's name.
cat >"$WORK/server.py" <<'EOF'
import http.server, os, sys, time
name, health, listening = sys.argv[1], sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code, body = 200, name
        if self.path == "/health":
            try:
                code = int(open(health).read())
            except (OSError, ValueError):
                code = 200
            body = "health %d" % code
        data = (body + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *args):
        pass
server = http.server.HTTPServer(("0.0.0.0", 80), H)   # bound and listening
with open(listening + ".tmp", "w") as f:
    f.write("%d\n" % (time.time() * 1000))
os.rename(listening + ".tmp", listening)
server.serve_forever()
EOF

# EV[N]: when backend N's listener or heartbeats last started or stopped (ms)
declare -A EV
start_srv() {           # start_srv N: the web server of backend N
	rm -f "$WORK/listening-b$1"
	ip netns exec "$P-b$1" python3 "$WORK/server.py" "b$1" "$WORK/health-b$1" "$WORK/listening-b$1" \
		>/dev/null 2>&1 &
	SRV[$1]=$!
	# the time it listens, as the server itself wrote it: a loaded machine
	# takes seconds to start python, and a probe would be late too
	local _
	for _ in $(seq 1200); do
		[[ -s $WORK/listening-b$1 ]] && { EV[$1]=$(cat "$WORK/listening-b$1"); return 0; }
		sleep 0.05
	done
	echo "# backend $1: web server not listening"
}
stop_srv() {            # stop_srv N
	kill "${SRV[$1]}" 2>/dev/null
	wait "${SRV[$1]}" 2>/dev/null
	EV[$1]=$(topo_now_ms)
	unset "SRV[$1]"
}
start_beat() {          # start_beat N: ready 10, busy 1 (no soft start)
	EV[$1]=$(topo_now_ms)
	ip netns exec "$P-b$1" "$HBLB" beat --interval "$HB_INTERVAL" --ready 10 --busy 1 >/dev/null 2>&1 &
	BEAT[$1]=$!
}
stop_beat() {
	kill "${BEAT[$1]}" 2>/dev/null
	wait "${BEAT[$1]}" 2>/dev/null
	EV[$1]=$(topo_now_ms)
	unset "BEAT[$1]"
}

# "ADDR STATE" for every backend, from one `hblb -j status`
states() {
	hb -j status 2>/dev/null | python3 -c '
import json, sys
for s in json.load(sys.stdin)["services"]:
    for b in s.get("backends", []):
        print(b["address"], b["state"])'
}
# changed_at N STATE: when the daemon logged backend N's change to STATE,
# the first at or after EV[N] (ms since the epoch); now if none. The log's
# time is the change itself, not when a poll of a busy machine noticed it.
changed_at() { topo_changed_at "$WORK/daemon.log" "$(addr "$1")" "$2" "${EV[$1]}"; }
# wait_all STATE SECONDS N...: until backends N... are all in STATE;
# AT[N] = ms after EV[N] when each was first seen so. Fails on a timeout.
declare -A AT
wait_all() {
	local want=$1 until=$((SECONDS + $2)) n st left; shift 2
	for n in "$@"; do unset "AT[$n]"; done
	while ((SECONDS <= until)); do
		st=$(states)
		left=0
		for n in "$@"; do
			[[ -n ${AT[$n]:-} ]] && continue
			if grep -qx "$(addr "$n") $want" <<<"$st"; then
				AT[$n]=$(($(changed_at "$n" "$want") - EV[$n]))
			else
				left=$((left + 1))
			fi
		done
		((left == 0)) && return 0
		sleep 0.02
	done
	return 1
}

# N new HTTP connections from the client to the VIP: "NAME COUNT" lines,
# "none COUNT" for those that failed (the system tests' client)
connections() { ip netns exec "$P-cl" python3 tests/sys_conn.py count "$TOPO_VIP" "$1"; }
count_of() { awk -v k="$1" '$1 == k { print $2 }' <<<"$2" | grep . || echo 0; }

# traffic_to WHAT N: N connections; WHAT "all" = every backend gets >= 10%,
# else WHAT is the list of backends that must get none (the rest serve all)
traffic() {
	local n=$1 out b bad=; shift
	out=$(connections "$n")
	echo "# $n connections: $(tr '\n' ' ' <<<"$out")"
	[[ $(count_of none "$out") == 0 ]] || bad+=" failed=$(count_of none "$out")"
	for b in 1 2 3 4; do
		if [[ " $* " == *" $b "* ]]; then
			[[ $(count_of "b$b" "$out") == 0 ]] || bad+=" b$b=$(count_of "b$b" "$out")"
		elif (($(count_of "b$b" "$out") * 10 < n)); then
			bad+=" b$b=$(count_of "b$b" "$out")"
		fi
	done
	[[ -z $bad ]] || { echo "  unexpected:$bad"; return 1; }
}

# A state change no sooner than COUNT runs allow: the first run that sees
# the change comes at most one interval after it, and COUNT - 1 more follow
# an interval apart. Half an interval of slack for a late-scheduled run.
not_before() {          # not_before MS COUNT
	(($1 >= ($2 - 1) * CK_INTERVAL - CK_INTERVAL / 2))
}

topo_up "$P" 4 || { echo "cannot build the topology"; exit 1; }
echo "# checks every $CK_INTERVAL ms, timeout $CK_TIMEOUT ms, rise $CK_RISE, fall $CK_FALL; heartbeats every $HB_INTERVAL ms"
topo_nsenter "$P" lb "$HBLB" --pin-dir "$PIN" daemon -i eth0:generic --interval "$HB_INTERVAL" \
	--tick 5 --flap off >"$WORK/daemon.log" 2>&1 &
DAEMON=$!
for _ in $(seq 200); do [[ -e $PIN/hblb_cfg_gen ]] && break; sleep 0.05; done
for n in 1 2 3 4; do start_srv "$n"; done
start_beat 3
start_beat 4
hb service add "$TOPO_VIP:80"
for n in 1 2 3 4; do EV[$n]=$(topo_now_ms); done   # phase 1 times: from the backends' addition
hb backend add "$TOPO_VIP:80" "$(addr 1)" weight 10 check tcp 80
hb backend add "$TOPO_VIP:80" "$(addr 2)" weight 10 check http 80 /health
hb backend add "$TOPO_VIP:80" "$(addr 3)" heartbeat check tcp 80
hb backend add "$TOPO_VIP:80" "$(addr 4)" heartbeat

# 1: all four up; each gets traffic
if wait_all up 60 1 2 3 4; then
	ok "tcp-checked, http-checked, heartbeat+tcp and heartbeat backends up (${AT[1]}, ${AT[2]}, ${AT[3]}, ${AT[4]} ms after they were added)"
else
	fail "backends come up" "$(states | tr '\n' ' '); $(tail -5 "$WORK/daemon.log")"
	echo; echo "checks_system: $passed passed, $failed failed"; exit 1
fi
if traffic 400; then ok "every backend gets traffic"; else fail "every backend gets traffic"; fi

# 2: listeners stop: tcp, http and heartbeat+tcp backends leave after `fall`
for n in 1 2 3; do stop_srv "$n"; done
if wait_all down 60 1 2 3; then
	echo "# listeners stopped: down after ${AT[1]} ms (tcp), ${AT[2]} ms (http), ${AT[3]} ms (heartbeat+tcp); fall $CK_FALL x $CK_INTERVAL ms (+ up to one interval + timeout $CK_TIMEOUT ms)"
	if not_before "${AT[1]}" "$CK_FALL" && not_before "${AT[2]}" "$CK_FALL" && not_before "${AT[3]}" "$CK_FALL"; then
		ok "stopped listeners: each backend leaves after $CK_FALL failed checks, not sooner"
	else
		fail "leave after fall" "down after ${AT[1]}, ${AT[2]}, ${AT[3]} ms; $CK_FALL checks take >= $(((CK_FALL - 1) * CK_INTERVAL)) ms"
	fi
	if traffic 200 1 2 3; then ok "no new connection reaches a backend whose listener stopped; none fails"
	else fail "stopped backends get no new connection"; fi
else
	fail "stopped listeners take backends down" "$(states | tr '\n' ' ')"
fi

# 3: listeners start again: each rejoins after `rise` and gets traffic
for n in 1 2 3; do start_srv "$n"; done
if wait_all up 60 1 2 3; then
	echo "# listeners started: up after ${AT[1]} ms (tcp), ${AT[2]} ms (http), ${AT[3]} ms (heartbeat+tcp); rise $CK_RISE x $CK_INTERVAL ms (+ up to one interval)"
	if not_before "${AT[1]}" "$CK_RISE" && not_before "${AT[2]}" "$CK_RISE" && not_before "${AT[3]}" "$CK_RISE"; then
		ok "started listeners: each backend rejoins after $CK_RISE passing checks, not sooner"
	else
		fail "rejoin after rise" "up after ${AT[1]}, ${AT[2]}, ${AT[3]} ms"
	fi
	if traffic 400; then ok "rejoined backends get traffic again"; else fail "rejoined backends get traffic"; fi
else
	fail "restarted listeners bring backends back" "$(states | tr '\n' ' ')"
fi

# 4: b2's /health answers 500 (it still serves /): out; b3's heartbeats
# stop (its port still answers): out too, after dead-after heartbeat intervals
echo 500 >"$WORK/health-b2"
EV[2]=$(topo_now_ms)
stop_beat 3
if wait_all down 60 2 3; then
	echo "# /health 500: b2 down after ${AT[2]} ms; heartbeats stopped: b3 down after ${AT[3]} ms (dead-after 3 x $HB_INTERVAL ms)"
	if not_before "${AT[2]}" "$CK_FALL"; then
		ok "HTTP check answered 500: backend leaves after $CK_FALL checks; silent heartbeat+tcp backend leaves although its port answers"
	else
		fail "500 takes it out after fall" "down after ${AT[2]} ms"
	fi
	if traffic 200 2 3; then ok "no new connection reaches the 500 backend (still serving) or the silent one"
	else fail "500 and silent backends get no new connection"; fi
else
	fail "500 and silence take backends down" "$(states | tr '\n' ' ')"
fi

echo 200 >"$WORK/health-b2"
EV[2]=$(topo_now_ms)
start_beat 3
if wait_all up 60 2 3; then
	echo "# /health 200 again: b2 up after ${AT[2]} ms; heartbeats again: b3 up after ${AT[3]} ms (rise 2 x $HB_INTERVAL ms)"
	ok "healthy again: both rejoin"
	if traffic 400; then ok "every backend gets traffic at the end"; else fail "traffic at the end"; fi
else
	fail "b2 and b3 rejoin" "$(states | tr '\n' ' ')"
fi

echo
echo "checks_system: $passed passed, $failed failed"
((failed == 0))
