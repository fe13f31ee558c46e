#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# End-to-end: real TCP (HTTP) through the VIP with direct server return, in
# network namespaces (scripts/topology.sh), in generic and then native XDP
# mode, each on a fresh topology and pin directory:
#   1. new connections split as the heartbeats' weights say;
#   2. a backend whose heartbeats stop gets no new connection once declared
#      down (detection time printed); long-lived connections to the others,
#      open throughout, see no reset and no stall;
#   3. drain: established connections to the drained backend keep working,
#      new ones go elsewhere;
#   4. a backend added gets new flows; established flows elsewhere stay;
#   5. hblb daemon SIGKILLed during traffic: every request succeeds, a new
#      daemon adopts the pinned state without breaking a connection, and it
#      is in charge (a backend silenced afterwards still expires).
# A mode whose checks fail after backend deaths the test did not cause (a
# machine too loaded to deliver heartbeats for a second) is shown as void,
# the deaths named, and run once more.
# Usage: tests/test_system.sh PATH/TO/hblb (root). HBLB_SYSTEM_MODES picks
# the modes ("generic native" by default); HBLB_SYSTEM_KEEP=DIR keeps each
# mode's logs and client reports in DIR/MODE.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/topology.sh

HBLB=$(realpath "${1:?usage: test_system.sh PATH/TO/hblb}")
TOPO_PASS_OBJ=$(dirname "$HBLB")/floor_pass.bpf.o
MODES=${HBLB_SYSTEM_MODES:-generic native}
# the interpreter itself, not a wrapper (pyenv's shim forks): signals to $!
# must reach the client
PY=$(python3 -c 'import os, sys; print(os.path.realpath(sys.executable))')
INTERVAL=100            # heartbeat interval and the daemon's, ms
TICK=5                  # daemon tick, ms
DEAD_AFTER=10           # 1 s: at load 15-17 on 2 cores, 3-5 x 100 ms took live backends down
STALL_MS=2000           # a gap between two replies on a long-lived connection above this is a stall
SVC=$TOPO_VIP:80
passed=0
failed=0

# per mode
MODE= P= PIN= WORK= DAEMON= HOLD= STREAM= HELD=
declare -A BEAT HTTP

stop_pid() {            # stop_pid PID [SIGNAL]: one child of ours, and reap it
	[[ -n $1 ]] || return 0
	kill "-${2:-TERM}" "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

cleanup_mode() {
	local pid
	for pid in "${BEAT[@]}" "${HTTP[@]}" $DAEMON $HOLD $STREAM; do stop_pid "$pid"; done
	BEAT=() HTTP=() DAEMON= HOLD= STREAM=
	[[ -n $P ]] && topo_down "$P"
	[[ -n $PIN ]] && rm -rf "$PIN"
	# HBLB_SYSTEM_KEEP=DIR keeps the logs and client reports for a look
	[[ -n $WORK && -n ${HBLB_SYSTEM_KEEP:-} ]] && mkdir -p "$HBLB_SYSTEM_KEEP" &&
		cp -r "$WORK" "$HBLB_SYSTEM_KEEP/$MODE"
	[[ -n $WORK ]] && rm -rf "$WORK"
	P= PIN= WORK=
}
trap cleanup_mode EXIT             # and the output buffer, below
trap 'exit 130' INT TERM

ok() { passed=$((passed + 1)); echo "ok - $MODE: $1"; }
fail() { failed=$((failed + 1)); echo "not ok - $MODE: $1"; [[ $# -gt 1 ]] && printf '  %s\n' "${@:2}"; }
note() { echo "# $MODE: $*"; }
hb() { nsenter --net=/run/netns/"$P-lb" "$HBLB" --pin-dir "$PIN" "$@"; }
now_ns() { date +%s%N; }
ms_since() { echo $((($2 - $1) / 1000000)); }     # ms_since FROM_NS TO_NS

# The heartbeat senders and the daemon run at a higher priority (nice -10):
# the test judges the load balancer, not how long a busy machine leaves a
# sender unscheduled (load averages of 15 on 2 cores were seen here).
start_beat() {          # start_beat N READY
	ip netns exec "$P-b$1" nice -n -10 "$HBLB" beat --interval "$INTERVAL" --ready "$2" --busy 1 >/dev/null 2>&1 &
	BEAT[$1]=$!
}

stop_beat() { stop_pid "${BEAT[$1]}"; unset "BEAT[$1]"; }

start_backend() {       # start_backend N READY: an HTTP server answering "bN", then heartbeats
	ip netns exec "$P-b$1" "$PY" tests/sys_http.py "b$1" 80 >"$WORK/http$1.log" 2>&1 &
	HTTP[$1]=$!
	for _ in $(seq 250); do
		ip netns exec "$P-b$1" ss -Hltn 'sport = :80' | grep -q . && break
		kill -0 "${HTTP[$1]}" 2>/dev/null || break
		sleep 0.02
	done
	start_beat "$1" "$2"
}

start_daemon() {        # start_daemon LOG: the controller, a direct child (nsenter execs it)
	nsenter --net=/run/netns/"$P-lb" nice -n -10 "$HBLB" --pin-dir "$PIN" daemon -i "eth0:$MODE" \
		--interval "$INTERVAL" --dead-after "$DEAD_AFTER" --tick "$TICK" --flap off >"$1" 2>&1 &
	DAEMON=$!
	for _ in $(seq 250); do
		grep -q "running on" "$1" && return 0
		kill -0 "$DAEMON" 2>/dev/null || break
		sleep 0.02
	done
	return 1
}

count() { ip netns exec "$P-cl" "$PY" tests/sys_conn.py count "$TOPO_VIP" "$1"; }
count_of() { awk -v k="$1" '$1 == k { print $2 }' <<<"$2" | grep . || echo 0; }

stream_start() {        # stream_start NAME: new connections back to back
	ip netns exec "$P-cl" "$PY" tests/sys_conn.py stream "$TOPO_VIP" "$WORK/$1.stream" &
	STREAM=$!
}

stream_stop() { stop_pid "$STREAM"; STREAM=; }

stream_report() {       # stream_report NAME [watch=B] [after=NS] [window=FROM,TO] (see sys_conn.py)
	python3 tests/sys_conn.py stream-report "$WORK/$1.stream" "${@:2}"
}

hold_start() {          # hold_start NAME BACKENDS: 2 long-lived connections to each
	ip netns exec "$P-cl" "$PY" tests/sys_conn.py hold "$TOPO_VIP" "$WORK/$1.json" \
		--backends="$2" --per-backend=2 --period-ms=15 --after=10 &
	HOLD=$!
	until [[ -e $WORK/$1.json.ready ]]; do
		kill -0 "$HOLD" 2>/dev/null || { wait "$HOLD"; HOLD= HELD="the client exited"; return 1; }
		sleep 0.02
	done
	[[ ! -e $WORK/$1.json ]] && return 0
	wait "$HOLD"                    # the report this early says why it could not open them
	HOLD=
	HELD=$(cat "$WORK/$1.json")
	return 1
}

# hold_end NAME EXCLUDE: mark "event over", let every connection answer 10
# more times, then check those not to EXCLUDE (a backend, or "") saw no
# error and no stall. Leaves a summary in $HELD; returns non-zero on a
# failure. (Not to be run in a $(subshell): HOLD is this shell's child.)
hold_end() {
	kill -USR1 "$HOLD"
	wait "$HOLD"
	HOLD=
	HELD=$(hold_check "$@")
}

hold_check() {
	python3 - "$WORK/$1.json" "$2" "$STALL_MS" <<'EOF'
import collections, json, sys
r = json.load(open(sys.argv[1]))
if "error" in r:
    print(r["error"]); sys.exit(1)
excl, stall = sys.argv[2], float(sys.argv[3])
kept = [c for c in r["connections"] if c["backend"] != excl]
gone = [c for c in r["connections"] if c["backend"] == excl]
bad = [c for c in kept if c["error"] or c["max_gap_ms"] > stall]
by = collections.Counter(c["backend"] for c in kept)
msg = "%d connections (%s), %d replies, max gap %.0f ms, %d retransmissions" % (
    len(kept), " ".join("%s x%d" % kv for kv in sorted(by.items())),
    sum(c["replies"] for c in kept), max(c["max_gap_ms"] for c in kept),
    sum(c["retrans"] for c in kept))
if gone:
    msg += "; to %s: %s" % (excl, ", ".join(c["error"] or "kept working" for c in gone))
print(msg)
for c in bad:
    print("  %s: %s, max gap %.0f ms, %d replies" % (c["backend"], c["error"] or "stall", c["max_gap_ms"], c["replies"]))
sys.exit(1 if bad or not kept else 0)
EOF
}

state_of() { topo_state_of "$@"; }

silence_ms() {          # silence_ms LOG ADDR: the daemon's "no heartbeat for S.CC s" when ADDR went down
	local v
	v=$(grep -E " $2 \(service [^)]*\): up -> down \(no heartbeat for " "$1" | tail -n 1 |
		sed -E 's/.*no heartbeat for ([0-9]+)\.([0-9]{2}) s.*/\1 \2/')
	[[ $v =~ ^([0-9]+)\ ([0-9]{2})$ ]] && echo $(((BASH_REMATCH[1] * 100 + 10#${BASH_REMATCH[2]}) * 10)) || echo 0
}

kv() { grep -oE "(^| )$1=[^ ]*" <<<"$2" | head -n 1 | cut -d= -f2; }    # kv KEY TEXT: KEY=VALUE's value

log_time_ns() {         # log_time_ns LOG ADDR STATE: when the daemon logged ADDR -> STATE
	grep -E " $2 \(service [^)]*\): [a-z]+ -> $3 " "$1" | tail -n 1 | grep -oE '[0-9T:.-]+Z$' | python3 -c '
import datetime, sys
t = sys.stdin.read().strip()
print(int(datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ")
      .replace(tzinfo=datetime.timezone.utc).timestamp() * 1000) * 1000000 if t else 0)'
}

run_mode() {
	local out b1 b2 b3 none t_kill t_last t_log t_seen rep r t0 dl silence up i
	P=hbsys$$${MODE:0:1}
	PIN=/sys/fs/bpf/hblb-test-system-$$-$MODE
	WORK=$(mktemp -d /tmp/hblb-test-system.XXXXXX)

	if ! topo_up "$P" 4 "$MODE"; then fail "topology"; return; fi
	start_backend 1 10
	start_backend 2 20
	start_backend 3 30
	if ! start_daemon "$WORK/daemon.log"; then fail "daemon starts" "$(tail -5 "$WORK/daemon.log")"; return; fi
	hb service add "$SVC"
	for i in 1 2 3; do hb backend add "$SVC" "198.18.7.1$i" heartbeat; done
	up=0
	for i in 1 2 3; do topo_wait_state "198.18.7.1$i" up 10 && up=$((up + 1)); done
	if ((up == 3)); then ok "three heartbeating backends up"; else fail "backends up" "$(tail -5 "$WORK/daemon.log")"; return; fi

	# 1: shares follow ready 10:20:30 (weights 1/6, 2/6, 3/6), within 5 points over 3000 connections
	out=$(count 3000)
	b1=$(count_of b1 "$out"); b2=$(count_of b2 "$out"); b3=$(count_of b3 "$out"); none=$(count_of none "$out")
	note "3000 connections: b1 $b1, b2 $b2, b3 $b3, failed $none (weights 1:2:3)"
	if ((none == 0)) && python3 -c '
import sys
b = [int(x) for x in sys.argv[1:4]]; t = sum(b)
want = [1/6, 2/6, 3/6]
sys.exit(0 if t == 3000 and all(abs(x / t - w) <= 0.05 for x, w in zip(b, want)) else 1)' "$b1" "$b2" "$b3"; then
		ok "3000 connections through the VIP, shares within 5 points of 1:2:3"
	else
		fail "shares by weight" "b1=$b1 b2=$b2 b3=$b3 none=$none"
	fi

	# 2: heartbeats of b3 stop while long-lived connections to every backend
	# and a stream of new connections run. b3's server still answers: only
	# the load balancer's verdict decides whether a connection reaches it.
	if hold_start dead b1,b2,b3; then
		stream_start dead
		sleep 0.3
		t_kill=$(now_ns)
		stop_beat 3
		if topo_wait_state 198.18.7.13 down 10; then
			t_seen=$(now_ns)
			sleep 0.3       # new connections keep coming after the verdict
			stream_stop
			t_log=$(log_time_ns "$WORK/daemon.log" 198.18.7.13 down)
			silence=$(silence_ms "$WORK/daemon.log" 198.18.7.13)
			t_last=$((t_log - silence * 1000000))
			dl=$((t_last + (DEAD_AFTER * INTERVAL + TICK) * 1000000))
			note "b3's sender killed: the daemon declared b3 down $(ms_since "$t_kill" "$t_log") ms later," \
				"after $silence ms without a heartbeat (dead-after $DEAD_AFTER x $INTERVAL ms + tick $TICK ms" \
				"= $((DEAD_AFTER * INTERVAL + TICK)) ms); hblb status showed it $(ms_since "$t_log" "$t_seen") ms after that"
			# judged: nothing started after the verdict reached b3, and only
			# connections in flight when b3 left failed (their flows re-steer)
			rep=$(stream_report dead watch=b3 after="$t_seen" window="$((t_log - 1000000)),$t_seen")
			r=$(kv last_watch_ns "$rep")
			note "new connections: $(kv per "$rep"); the last one b3 answered started" \
				"$(ms_since "$t_last" "$r") ms after b3's last heartbeat; answered by b3 though started" \
				"later than dead-after + one tick: $(kv watch_after "$(stream_report dead watch=b3 after="$dl")")" \
				"(timing on a shared machine: reported, not judged); failed: $(kv failed "$rep")" \
				"(in flight to b3 when it left)"
			if [[ $(kv watch_after "$rep") == 0 && $(kv failed_outside "$rep") == 0 ]]; then
				ok "silent b3 gets no new connection once down; of $(kv total "$rep") new connections none failed but those in flight to b3 as it left ($(kv failed "$rep"))"
			else
				fail "silent b3 gets new connections after it is down, or others failed" "$rep"
			fi
		else
			stream_stop
			fail "silent b3 goes down" "$(tail -5 "$WORK/daemon.log")"
		fi
		out=$(count 300)
		if [[ $(count_of b3 "$out") == 0 && $(count_of none "$out") == 0 ]]; then
			ok "300 new connections after the death: none to b3, none failed"
		else
			fail "new connections after the death" "$out"
		fi
		if hold_end dead b3; then ok "long-lived connections to the others survive the death: $HELD"
		else fail "long-lived connections through a death" "$HELD"; fi
	else
		fail "long-lived connections open" "$HELD"
	fi
	start_beat 3 30         # b3 back for the rest
	topo_wait_state 198.18.7.13 up 10 || fail "b3 readmitted when it beats again"

	# 3: drain b2: its established connections keep working, new ones go elsewhere
	if hold_start drain b1,b2,b3; then
		hb backend drain "$SVC" 198.18.7.12
		if topo_wait_state 198.18.7.12 draining 10; then
			out=$(count 300)
			if [[ $(count_of b2 "$out") == 0 && $(count_of none "$out") == 0 ]]; then
				ok "drained b2 gets none of 300 new connections; none failed"
			else
				fail "new connections avoid a drained backend" "$out"
			fi
		else
			fail "b2 draining" "$(state_of 198.18.7.12)"
		fi
		if hold_end drain ""; then ok "established connections to the drained b2 and the others keep working: $HELD"
		else fail "long-lived connections through a drain" "$HELD"; fi
	else
		fail "long-lived connections open" "$HELD"
	fi
	hb backend undrain "$SVC" 198.18.7.12
	topo_wait_state 198.18.7.12 up 10 || fail "b2 undrained"

	# 4: b4 added: it gets new flows; established flows elsewhere stay put
	if hold_start add b1,b2,b3; then
		start_backend 4 30
		hb backend add "$SVC" 198.18.7.14 heartbeat
		if topo_wait_state 198.18.7.14 up 10; then
			out=$(count 300)
			# weights 10:20:30:30: b4's share is 1/3, 100 of 300, from the first
			# connection (a SYN on a recycled port follows the new table, not
			# an old flow entry); 76-124 is three standard deviations
			n4=$(count_of b4 "$out")
			if ((n4 >= 76 && n4 <= 124)) && [[ $(count_of none "$out") == 0 ]]; then
				ok "added b4 gets its share of new flows at once ($n4 of 300, weight 1/3); none failed"
			else
				fail "added backend gets new flows" "$out"
			fi
		else
			fail "added b4 comes up"
		fi
		if hold_end add ""; then ok "established connections to b1-b3 untouched by the addition: $HELD"
		else fail "long-lived connections through an addition" "$HELD"; fi
	else
		fail "long-lived connections open" "$HELD"
	fi

	# 5: SIGKILL the daemon during traffic, start another on the same pins
	if hold_start kill b1,b2,b3,b4; then
		stream_start kill
		sleep 0.3
		stop_pid "$DAEMON" KILL
		DAEMON=
		sleep 0.2
		r=$(hb -j status | python3 -c 'import json, sys; print(json.load(sys.stdin)["daemon_running"])')
		sleep 0.3       # traffic with no controller at all
		t0=$(now_ns)
		if start_daemon "$WORK/daemon2.log"; then
			note "new daemon running $(ms_since "$t0" "$(now_ns)") ms after its start;" \
				"$(grep -oE 'adopted [0-9]+ services and [0-9]+ backends' "$WORK/daemon2.log")"
			if [[ $r == False ]] && grep -q 'adopted 1 services and 4 backends' "$WORK/daemon2.log" &&
				grep -q 'adopted the running hblb program' "$WORK/daemon2.log"; then
				ok "a new daemon adopts the program, 1 service and 4 backends (status saw no daemon in between)"
			else
				fail "a new daemon adopts" "daemon_running between: $r" "$(cat "$WORK/daemon2.log")"
			fi
		else
			fail "a new daemon starts on the same pin directory" "$(tail -5 "$WORK/daemon2.log")"
		fi
		sleep 0.3
		stream_stop
		rep=$(stream_report kill)
		if grep -q ' failed=0 ' <<<"$rep" && ! grep -q 'total=0 ' <<<"$rep"; then
			ok "every new connection during the kill and restart succeeded: $(tail -n 1 <<<"$rep" | cut -d= -f2)"
		else
			fail "new connections during the kill and restart" "$rep"
		fi
		if hold_end kill ""; then ok "long-lived connections unbroken by the kill and restart: $HELD"
		else fail "long-lived connections through a kill and restart" "$HELD"; fi
		# the new daemon is in charge: silence b1 and it expires
		t_kill=$(now_ns)
		stop_beat 1
		if topo_wait_state 198.18.7.11 down 10; then
			note "b1 silenced after the restart: down $(ms_since "$t_kill" "$(log_time_ns "$WORK/daemon2.log" 198.18.7.11 down)") ms after its sender was killed"
			out=$(count 200)
			if [[ $(count_of b1 "$out") == 0 && $(count_of none "$out") == 0 ]]; then
				ok "the restarted daemon expires a backend silenced after it started; new connections avoid it"
			else
				fail "new connections after the restarted daemon's verdict" "$out"
			fi
		else
			fail "the restarted daemon expires a silenced backend" "$(tail -5 "$WORK/daemon2.log")"
		fi
	else
		fail "long-lived connections open" "$HELD"
	fi
}

# Deaths the test did not cause: the daemon's verdicts other than b3's
# (scenario 2) and, after the restart, b1's (scenario 5). On a machine too
# loaded to deliver heartbeats for a second, live backends go down, rightly,
# and checks fail that judge the load balancer, not the machine.
unplanned_deaths() {
	[[ -n $WORK ]] || return 0
	awk '/-> (down|held)|EVERY BACKEND/ {
		if (!b3 && / 198\.18\.7\.13 .*up -> down/) { b3 = 1; next }
		print }' "$WORK/daemon.log" 2>/dev/null
	awk '/-> (down|held)|EVERY BACKEND/ {
		if (!b1 && / 198\.18\.7\.11 .*up -> down/) { b1 = 1; next }
		print }' "$WORK/daemon2.log" 2>/dev/null
}

# A mode whose checks failed after deaths the test did not cause is void and
# runs once more; its lines are shown as "# void:", the deaths named.
OUTBUF=$(mktemp /tmp/hblb-test-system-out.XXXXXX)
trap 'cleanup_mode; rm -f "$OUTBUF"' EXIT
for MODE in $MODES; do
	for attempt in 1 2; do
		p0=$passed f0=$failed
		run_mode >"$OUTBUF"
		deaths=$(unplanned_deaths)
		if [[ -n $deaths ]] && ((failed > f0 && attempt == 1)); then
			sed 's/^/# void: /' "$OUTBUF"
			echo "# $MODE: void: deaths the test did not cause (load average $(cut -d' ' -f1-3 /proc/loadavg)); once more:"
			sed 's/^/#   /' <<<"$deaths"
			passed=$p0 failed=$f0
			cleanup_mode
			continue
		fi
		cat "$OUTBUF"
		[[ -n $deaths ]] && sed "s/^/# $MODE: deaths the test did not cause: /" <<<"$deaths"
		cleanup_mode
		break
	done
done

echo
echo "system: $passed passed, $failed failed"
((failed == 0))
