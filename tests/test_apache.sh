#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# A real Apache httpd with mod_heartbeat as a backend, next to one
# `hblb beat` backend, in the bridge topology (generic XDP, direct server
# return). Apache runs from a private configuration written here (no
# /etc/apache2), multicasting to 239.0.0.1:27999 every second, and hblb
# runs with --interval 1000. Checked:
#   - Apache's heartbeats are counted: the count rises as a listener in the
#     client namespace receives them, with the ready/busy Apache sends;
#   - its weight follows ready as README says: soft start (ready/4) while
#     busy is 0, then ready; hysteresis keeps it on a change of 1;
#   - HTTP through the VIP reaches it; shares follow the two weights;
#   - after `graceful-stop` its heartbeats stop and it is expired after
#     dead-after (time printed) and gets no new connection.
# mod_heartbeat (2.4) sends `v=1&ready=R&busy=B`: R counts scoreboard
# worker slots in SERVER_READY, B those not ready, dead, starting or
# idle-kill, over every process of the current generation. With one
# process of THREADS threads (the MPM never adds or kills one here) an
# idle server sends ready=THREADS busy=0, and each connection holding a
# worker in a half-sent request moves one from ready to busy.
# Usage: tests/test_apache.sh PATH/TO/hblb   (root)
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/topology.sh

HBLB=$(realpath "${1:?usage: test_apache.sh PATH/TO/hblb}")
P=hbap$$
PIN=/sys/fs/bpf/hblb-test-apache-$$
WORK=
THREADS=40              # Apache's workers: ready when idle
HOLD=10                 # connections held open to move workers to busy
BEAT_READY=20           # the hblb beat backend's ready (busy 1: no soft start)
APACHE_IP=198.18.7.11
BEAT_IP=198.18.7.12
DAEMON= APACHE= LISTEN= HOLDER= BEAT= HTTP=
passed=0
failed=0

skip() {
	echo "# skip: $1"
	echo
	echo "apache: 0 passed, 0 failed"
	exit 0
}

# Apache: Debian's apache2 or an upstream httpd, and its modules directory
APACHE_BIN=$(command -v apache2 || command -v httpd || true)
MODDIR=
for d in /usr/lib/apache2/modules /usr/lib64/httpd/modules /usr/lib/httpd/modules /usr/local/apache2/modules; do
	[[ -e $d/mod_heartbeat.so ]] && { MODDIR=$d; break; }
done
[[ -n $APACHE_BIN ]] ||
	skip "apache2 is not installed (make test installs it through scripts/deps.sh; or: apt-get install apache2)"
[[ -n $MODDIR ]] ||
	skip "$APACHE_BIN has no mod_heartbeat.so (Debian's apache2 package ships it)"

stop_pid() {            # stop_pid PID: TERM, then wait for it (only our own children)
	[[ -n $1 ]] || return 0
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

cleanup() {
	stop_pid "$HOLDER"
	stop_pid "$LISTEN"
	stop_pid "$APACHE"
	stop_pid "$BEAT"
	stop_pid "$HTTP"
	stop_pid "$DAEMON"
	topo_down "$P"
	rm -rf "$PIN"
	[[ -n $WORK ]] && rm -rf "$WORK"
}
trap cleanup EXIT

WORK=$(mktemp -d /tmp/hblb-test-apache.XXXXXX)
chmod 755 "$WORK"       # Apache's children run as an unprivileged user

ok() { passed=$((passed + 1)); echo "ok - $1"; }
fail() { failed=$((failed + 1)); echo "not ok - $1"; [[ $# -gt 1 ]] && echo "  $2"; }
hb() { topo_nsenter "$P" lb "$HBLB" --pin-dir "$PIN" "$@"; }

# be ADDR: "state heartbeats ready busy table_slots age_ms" from `hblb -j status`
be() {
	hb -j status 2>/dev/null | python3 -c '
import json, sys
for s in json.load(sys.stdin)["services"]:
    for b in s.get("backends", []):
        if b["address"] == sys.argv[1]:
            print(b["state"], b["heartbeats"], b["ready"], b["busy"], b.get("table_slots", 0),
                  b.get("last_heartbeat_age_ms", -1))
            sys.exit(0)
print("? 0 0 0 0 -1")' "$1"
}
# The weight the daemon gives Apache, read from the live table: status
# shows a heartbeat backend's weight as "heartbeat", but the table shares
# are exact (Maglev: slots = M * w / sum(w) within 2 + n*w/sum(w)), and the
# beat backend's weight is BEAT_READY (busy 1: no soft start; quantised
# exactly). Prints round(BEAT_READY * slots(Apache) / slots(beat)).
apache_weight() {
	hb -j status 2>/dev/null | python3 -c '
import json, sys
slots = {b["address"]: b.get("table_slots", 0)
         for s in json.load(sys.stdin)["services"] for b in s.get("backends", [])}
a, b = slots.get(sys.argv[1], 0), slots.get(sys.argv[2], 0)
print(round(int(sys.argv[3]) * a / b) if b else "?")' "$APACHE_IP" "$BEAT_IP" "$BEAT_READY"
}
weight_is() { [[ $(apache_weight) == "$1" ]]; }
field() {               # field ADDR N: the Nth word of `be ADDR` (1 = state)
	be "$1" | cut -d' ' -f"$2"
}
wait_for() {            # wait_for SECONDS CMD...: until CMD succeeds
	local until=$((SECONDS + $1)); shift
	while ((SECONDS <= until)); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}
# changed_at ADDR STATE SINCE_MS: when the daemon logged ADDR's change to
# STATE, the first at or after SINCE_MS (ms since the epoch); now if none.
# The log's time is the change itself, not when a poll noticed it.
changed_at() { topo_changed_at "$WORK/daemon.log" "$1" "$2" "$3"; }
ready_busy_is() { [[ $(field "$1" 3) == "$2" && $(field "$1" 4) == "$3" ]]; }
state_is() { [[ $(field "$1" 1) == "$2" ]]; }

# counters whose name starts hb_ but that are not hb_accepted, that moved
hb_refusals() {
	hb -j status 2>/dev/null | python3 -c '
import json, sys
c = json.load(sys.stdin)["counters"]
print(" ".join("%s=%d" % (k, v) for k, v in sorted(c.items())
               if k.startswith("hb_") and k != "hb_accepted" and v))'
}

write_apache_conf() {
	local www=$WORK/www user=www-data
	id -u "$user" >/dev/null 2>&1 || user=nobody
	mkdir -p "$www"
	echo apache >"$www/index.html"
	{
		echo "# private, self-contained: nothing from /etc/apache2"
		echo "ServerRoot $WORK"
		echo "ServerName apache.hblb.test"
		echo "DefaultRuntimeDir $WORK"
		echo "PidFile $WORK/httpd.pid"
		echo "ErrorLog $WORK/error.log"
		echo "LogLevel notice"
		echo "User $user"
		echo "Group $(id -gn "$user")"
		# each module only if this build does not have it compiled in
		local m
		for m in mpm_event authz_core dir watchdog heartbeat; do
			echo "<IfModule !mod_$m.c>"
			echo "  LoadModule ${m}_module $MODDIR/mod_$m.so"
			echo "</IfModule>"
		done
		cat <<EOF
# on every address, so it answers the VIP held on lo (direct server return)
Listen 80
DocumentRoot $www
DirectoryIndex index.html
<Directory $www>
  Require all granted
</Directory>
KeepAlive Off
Timeout 60
# one process of $THREADS threads, never more, never fewer: ready is predictable
ServerLimit 1
StartServers 1
ThreadLimit $THREADS
ThreadsPerChild $THREADS
MaxRequestWorkers $THREADS
MinSpareThreads 1
MaxSpareThreads $THREADS
HeartbeatAddress 239.0.0.1:27999
EOF
	} >"$WORK/httpd.conf"
}

# N new HTTP connections from the client to the VIP: "NAME COUNT" lines,
# "none COUNT" for those that failed (the system tests' client)
connections() { ip netns exec "$P-cl" python3 tests/sys_conn.py count "$TOPO_VIP" "$1"; }
count_of() { awk -v k="$1" '$1 == k { print $2 }' <<<"$2" | grep . || echo 0; }

write_apache_conf
if ! out=$("$APACHE_BIN" -f "$WORK/httpd.conf" -t 2>&1); then
	fail "Apache accepts the private configuration" "$out"
	echo; echo "apache: $passed passed, $failed failed"; exit 1
fi

topo_up "$P" 2 || { echo "cannot build the topology"; exit 1; }

# a listener in the client namespace receives the same multicast frames the
# bridge floods to the load balancer: an independent record of what Apache sent
ip netns exec "$P-cl" python3 -u - 198.18.7.1 >"$WORK/heard" 2>&1 <<'EOF' &
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("239.0.0.1", 27999))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
             struct.pack("4s4s", socket.inet_aton("239.0.0.1"), socket.inet_aton(sys.argv[1])))
while True:
    data, (src, _) = s.recvfrom(2048)
    print(int(time.time() * 1000), src, data.decode(errors="replace"))
EOF
LISTEN=$!
heard_from() { awk -v a="$1" '$2 == a' "$WORK/heard"; }   # heard_from ADDR

topo_nsenter "$P" lb "$HBLB" --pin-dir "$PIN" daemon -i eth0:generic --interval 1000 \
	--rise 2 --dead-after 3 --flap off >"$WORK/daemon.log" 2>&1 &
DAEMON=$!
for _ in $(seq 200); do [[ -e $PIN/hblb_cfg_gen ]] && break; sleep 0.05; done
hb service add "$TOPO_VIP:80"
hb backend add "$TOPO_VIP:80" "$APACHE_IP" heartbeat
hb backend add "$TOPO_VIP:80" "$BEAT_IP" heartbeat

# the other backend: hblb beat with a fixed ready, and a web server
mkdir -p "$WORK/www-b2"
echo b2 >"$WORK/www-b2/index.html"
ip netns exec "$P-b2" python3 -m http.server 80 --bind 0.0.0.0 --directory "$WORK/www-b2" \
	>/dev/null 2>&1 &
HTTP=$!
ip netns exec "$P-b2" "$HBLB" beat --interval 1000 --ready "$BEAT_READY" --busy 1 >/dev/null 2>&1 &
BEAT=$!

# applied (not pending) before Apache's first heartbeat, so XDP counts them all
wait_for 30 state_is "$APACHE_IP" down || fail "backend configured" "$(be "$APACHE_IP")"

# Apache as a direct child in the foreground: $! is its parent process
t_start=$(topo_now_ms)
ip netns exec "$P-b1" "$APACHE_BIN" -f "$WORK/httpd.conf" -DFOREGROUND >"$WORK/apache.out" 2>&1 &
APACHE=$!

# 1: it comes up from its own heartbeats
if wait_for 30 state_is "$APACHE_IP" up; then
	t_up=$(changed_at "$APACHE_IP" up "$t_start")
	ok "Apache up from its own heartbeats, $((t_up - t_start)) ms after it started (rise 2 x 1 s)"
	[[ $(cat "$WORK/httpd.pid" 2>/dev/null) == "$APACHE" ]] ||
		echo "# note: PidFile says $(cat "$WORK/httpd.pid" 2>/dev/null), started as $APACHE"
else
	fail "Apache comes up" "$(be "$APACHE_IP"); $(tail -3 "$WORK/error.log" 2>/dev/null); $(tail -3 "$WORK/daemon.log")"
	echo; echo "apache: $passed passed, $failed failed"; exit 1
fi
wait_for 30 state_is "$BEAT_IP" up || fail "hblb beat backend comes up" "$(be "$BEAT_IP")"

# 2: counted, and rising as Apache beats (exact totals are compared at the
# end, when Apache is silent and no snapshot can fall between two beats)
c0=$(field "$APACHE_IP" 2)
sleep 3
c1=$(field "$APACHE_IP" 2)
if ((c1 - c0 >= 2)); then
	ok "Apache's heartbeats counted as they come: $c0, then $c1 about 3 s later"
else
	fail "Apache's heartbeats counted" "$c0, then $c1 about 3 s later"
fi
last=$(heard_from "$APACHE_IP" | tail -n 1 | cut -d' ' -f3)
read -r _ _ r b _ _ <<<"$(be "$APACHE_IP")"
echo "# Apache sends '$last'; status: ready $r busy $b"
if [[ $last == "v=1&ready=$THREADS&busy=0" && $r == "$THREADS" && $b == 0 ]]; then
	ok "ready/busy in status are what idle Apache sends (ready $THREADS = its threads, busy 0)"
else
	fail "idle ready/busy" "heard '$last', status ready $r busy $b"
fi

# 3: weight from ready: soft start (ready/4) while busy has been 0
if wait_for 15 weight_is $((THREADS / 4)); then
	ok "idle Apache (ready $THREADS, busy 0) weighted $((THREADS / 4)) = ready/4 (soft start), from table shares"
else
	fail "soft-start weight" "weight $(apache_weight), expected $((THREADS / 4)); $(be "$APACHE_IP")"
fi

# 4: connections held in a half-sent request keep workers busy: ready
# THREADS-HOLD, busy HOLD, and the weight follows ready (soft start over).
# The holder changes things just after a heartbeat, so no heartbeat sees a
# half-made change (hysteresis would keep an intermediate weight).
ip netns exec "$P-cl" python3 tests/apache_holder.py "$APACHE_IP" 198.18.7.1 "$HOLD" \
	>"$WORK/holder.out" 2>&1 &
HOLDER=$!
want_r=$((THREADS - HOLD))
heard_tail() { heard_from "$APACHE_IP" | tail -n 4 | cut -d' ' -f3 | tr '\n' ' '; }
if wait_for 30 ready_busy_is "$APACHE_IP" "$want_r" "$HOLD"; then
	if wait_for 15 weight_is "$want_r"; then
		ok "$HOLD workers busy: Apache sends ready $want_r busy $HOLD; weight $want_r (= ready, soft start over)"
	else
		fail "weight follows ready" "ready $want_r busy $HOLD, weight $(apache_weight); heard $(heard_tail)"
	fi
else
	fail "busy workers reported" "$(be "$APACHE_IP"); heard $(heard_tail)"
fi

# 5: hysteresis: one more busy worker (ready -1) leaves the weight alone
kill -USR1 "$HOLDER"
if wait_for 30 ready_busy_is "$APACHE_IP" $((want_r - 1)) $((HOLD + 1)); then
	# one more heartbeat with it: the daemon has had a second to react
	c=$(field "$APACHE_IP" 2)
	wait_for 30 eval '(($(field "$APACHE_IP" 2) > c))'
	w=$(apache_weight)
	if [[ $w == "$want_r" ]]; then
		ok "ready $((want_r - 1)): weight stays $w (hysteresis: a change of 1 is ignored)"
	else
		fail "hysteresis" "ready $((want_r - 1)), weight $w, expected $want_r; heard $(heard_tail)"
	fi
else
	fail "one more busy worker reported" "$(be "$APACHE_IP"); heard $(heard_tail)"
fi

# 6: released: ready back to THREADS, weight THREADS (no second soft start)
kill -USR2 "$HOLDER"
if wait_for 30 ready_busy_is "$APACHE_IP" "$THREADS" 0 && wait_for 15 weight_is "$THREADS"; then
	ok "workers released: ready $THREADS busy 0, weight $THREADS (busy 0 again is no new soft start)"
else
	fail "weight back to ready" "$(be "$APACHE_IP"), weight $(apache_weight); heard $(heard_tail)"
fi
stop_pid "$HOLDER"; HOLDER=

# 7: traffic through the VIP: Apache and the beat backend by weight
# THREADS : BEAT_READY (Apache's own requests make ready dip by 1:
# hysteresis keeps its weight)
n=1200
out=$(connections $n)
echo "$out" | sed 's/^/# /'
got_ap=$(count_of apache "$out"); got_b2=$(count_of b2 "$out"); none=$(count_of none "$out")
w_after=$(apache_weight)
echo "# weights $THREADS : $BEAT_READY (Apache's after the traffic: $w_after); Apache served $got_ap of $n"
if ((none == 0 && got_ap + got_b2 == n)) && python3 -c '
import sys
got, n, wa, wb = map(int, sys.argv[1:5])
sys.exit(0 if abs(got / n - wa / (wa + wb)) <= 0.05 else 1)' "$got_ap" "$n" "$THREADS" "$BEAT_READY"; then
	ok "$n connections through the VIP: Apache served $got_ap, within 5 points of $THREADS/($THREADS+$BEAT_READY)"
else
	fail "traffic shares by weight" "apache=$got_ap b2=$got_b2 none=$none weights $THREADS:$BEAT_READY"
fi

# 8: graceful-stop: Apache's heartbeats stop; expired after dead-after
t_stop=$(topo_now_ms)
kill -WINCH "$APACHE"   # httpd's graceful-stop
if wait_for 30 state_is "$APACHE_IP" down; then
	t_down=$(changed_at "$APACHE_IP" down "$t_stop")
	n_heard=$(heard_from "$APACHE_IP" | wc -l)
	last_hb=$(heard_from "$APACHE_IP" | tail -n 1 | cut -d' ' -f1)
	echo "# Apache down $((t_down - t_stop)) ms after graceful-stop, $((t_down - last_hb)) ms after its last heartbeat (dead-after 3 x 1000 ms)"
	ok "Apache expired after its heartbeats stopped ($((t_down - last_hb)) ms after the last)"
	out=$(connections 300)
	if [[ $(count_of apache "$out") == 0 && $(count_of none "$out") == 0 && $(count_of b2 "$out") == 300 ]]; then
		ok "expired Apache gets no new connection: 300 of 300 to the other backend"
	else
		fail "no connection to the expired Apache" "$out"
	fi
	# the 300 connections took a second or more: no Apache heartbeat since
	if [[ $(heard_from "$APACHE_IP" | wc -l) == "$n_heard" && $(field "$APACHE_IP" 1) == down ]]; then
		ok "no Apache heartbeat after it went down; it stays down"
	else
		fail "Apache silent after graceful-stop" "$(heard_from "$APACHE_IP" | tail -n 2); $(be "$APACHE_IP")"
	fi
else
	fail "Apache expires after graceful-stop" "$(be "$APACHE_IP")"
fi
wait "$APACHE" 2>/dev/null; APACHE=

# every heartbeat Apache sent was counted once: the listener has been on
# the bridge since before Apache started, the backend configured before too
counted_is_heard() { [[ $(field "$APACHE_IP" 2) == $(heard_from "$APACHE_IP" | wc -l) ]]; }
if wait_for 10 counted_is_heard; then
	ok "every heartbeat Apache sent counted exactly once ($(field "$APACHE_IP" 2) counted, as many heard)"
else
	fail "Apache's heartbeats counted exactly" "counted $(field "$APACHE_IP" 2), heard $(heard_from "$APACHE_IP" | wc -l)"
fi

refused=$(hb_refusals)
if [[ -z $refused ]]; then
	ok "no heartbeat refused (every Apache and hblb beat heartbeat parsed)"
else
	fail "heartbeats refused" "$refused"
fi

echo
echo "apache: $passed passed, $failed failed"
((failed == 0))
