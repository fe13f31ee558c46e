#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Faults around hblb, each with: the exit code, one clear message, no crash
# (no signal death), nothing changed (the configuration maps dumped before
# and after), and the data path or daemon still there where it should be.
#   pins:  a pin deleted, a pin replaced by a map of another type or size,
#          the pin directory gone: CLI and daemon, daemon stopped and running
#   bpffs: not mounted (in a private mount namespace only): CLI and daemon
#   full:  the backend map full: CLI refuses, a daemon applies what is there
#   iface: the interface down and up, deleted and re-created while attached:
#          the daemon survives, logs it, re-attaches; real TCP through the
#          VIP before and after (bridge topology, generic XDP)
# Usage: tests/test_faults.sh PATH/TO/hblb (root)
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/topology.sh

HBLB=$(realpath "${1:?usage: test_faults.sh PATH/TO/hblb}")
P=hbflt$$
PIN=/sys/fs/bpf/hblb-test-faults-$$
PIN2=/sys/fs/bpf/hblb-test-faults-$$-pins
WORK=$(mktemp -d /tmp/hblb-test-faults.XXXXXX)
# a table larger than the backend map, so that even a full map of backends
# under one service builds a Maglev table (M > N)
SIZES=(--table-size 16411 --max-services 4 --flow-buckets 64)
DAEMON=
DAEMON2=
DAEMON3=
HTTP=
BEAT=
passed=0
failed=0

cleanup() {
	local pid
	for pid in $DAEMON $DAEMON2 $DAEMON3 $HTTP $BEAT; do kill "$pid" 2>/dev/null; done
	for pid in $DAEMON $DAEMON2 $DAEMON3 $HTTP $BEAT; do wait "$pid" 2>/dev/null; done
	topo_down "$P"
	rm -rf "$PIN" "$PIN2" "$PIN2-moved" "$PIN2-small" "$WORK"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok - $1"; }
fail() { failed=$((failed + 1)); echo "not ok - $1"; [[ $# -gt 1 ]] && echo "  $2"; }

# the configuration as the CLI and daemon keep it, for "nothing changed"
state() {
	local m
	for m in hblb_cfg_svcs hblb_cfg_bes hblb_cfg_gen hblb_services hblb_reals; do
		echo "== $m"
		bpftool map dump pinned "$PIN2/$m" 2>&1
	done
}

# expect_refused NAME PATTERN CMD...: exit 1 (not a signal), PATTERN in the
# output, state unchanged
expect_refused() {
	local name=$1 pattern=$2 out rc before after
	shift 2
	before=$(state)
	out=$("$@" 2>&1); rc=$?
	after=$(state)
	if ((rc == 1)) && grep -qE "$pattern" <<<"$out" && [[ $before == "$after" ]]; then
		ok "$name: exit 1, says so"
		echo "#   $(grep -E "$pattern" <<<"$out" | head -n 1)"
	else
		fail "$name" "exit $rc (want 1), state $([[ $before == "$after" ]] && echo same || echo CHANGED): $out"
	fi
}

cli() { "$HBLB" --pin-dir "$PIN2" "$@"; }

start_daemon2() {       # its log starts afresh: "running on" is this daemon's
	"$HBLB" --pin-dir "$PIN2" daemon --tick 10 "${SIZES[@]}" >"$WORK/daemon2.log" 2>&1 &
	DAEMON2=$!
	# a bound for a hang (5 min), not a timing check: 16,384 backends take seconds to a minute
	for _ in $(seq 6000); do
		grep -q "running on" "$WORK/daemon2.log" 2>/dev/null && return 0
		kill -0 "$DAEMON2" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

stop_daemon2() {
	[[ -n $DAEMON2 ]] || return
	kill "$DAEMON2"; wait "$DAEMON2" 2>/dev/null; DAEMON2=
}

alive2() { [[ -n $DAEMON2 ]] && kill -0 "$DAEMON2" 2>/dev/null; }

# ---- pins ---------------------------------------------------------------------------
# a daemon without interfaces: the pins and the controller, no network
if ! start_daemon2; then
	fail "daemon on a fresh pin directory" "$(tail -n 5 "$WORK/daemon2.log")"
	echo "faults: $passed passed, $failed failed"
	exit 1
fi
cli service add 198.18.4.100:80
cli backend add 198.18.4.100:80 198.18.4.11 weight 5 mac 02:00:00:00:04:11
stop_daemon2

mv "$PIN2/hblb_cfg_bes" "$PIN2/hblb_cfg_bes_aside"      # bpffs names may not hold a dot
expect_refused "pin deleted: CLI list" "damaged: hblb_cfg_bes is missing" cli backend list
expect_refused "pin deleted: CLI add" "damaged: hblb_cfg_bes is missing" \
	cli backend add 198.18.4.100:80 198.18.4.12
expect_refused "pin deleted: daemon start" "incomplete: hblb_cfg_bes is missing" \
	"$HBLB" --pin-dir "$PIN2" daemon "${SIZES[@]}"
if [[ ! -e $PIN2/hblb_cfg_bes ]]; then ok "pin deleted: the daemon did not create it empty"; else fail "daemon created a missing pin"; fi
mv "$PIN2/hblb_cfg_bes_aside" "$PIN2/hblb_cfg_bes"

# with the daemon running, a deleted pin costs the CLI, not the daemon or the data path
start_daemon2 || fail "daemon restart" "$(tail -n 5 "$WORK/daemon2.log")"
mv "$PIN2/hblb_cfg_svcs" "$PIN2/hblb_cfg_svcs_aside"
expect_refused "pin deleted under a running daemon: CLI" "damaged: hblb_cfg_svcs is missing" \
	cli service add 198.18.4.101:80
sleep 0.3
if alive2; then ok "pin deleted under a running daemon: the daemon runs on"; else fail "daemon died after a pin was deleted"; fi
mv "$PIN2/hblb_cfg_svcs_aside" "$PIN2/hblb_cfg_svcs"
if cli service list >/dev/null 2>&1; then ok "pin restored: CLI works again"; else fail "CLI after restoring the pin"; fi
stop_daemon2

# replaced by a map of another type, then by one of the right type and another size
mv "$PIN2/hblb_cfg_svcs" "$PIN2/hblb_cfg_svcs_aside"
bpftool map create "$PIN2/hblb_cfg_svcs" type array key 4 value 8 entries 4 name hblb_cfg_svcs
expect_refused "pin replaced by an array: CLI" "hblb_cfg_svcs is not hblb's map" cli service list
expect_refused "pin replaced by an array: CLI add" "hblb_cfg_svcs is not hblb's map" \
	cli service add 198.18.4.102:80
expect_refused "pin replaced by an array: daemon" "hblb_cfg_svcs is not the map hblb needs" \
	"$HBLB" --pin-dir "$PIN2" daemon "${SIZES[@]}"
rm "$PIN2/hblb_cfg_svcs"
bpftool map create "$PIN2/hblb_cfg_svcs" type hash key 8 value 8 entries 1000 name hblb_cfg_svcs
expect_refused "pin replaced by a hash of another size: daemon" "1000 entries" \
	"$HBLB" --pin-dir "$PIN2" daemon "${SIZES[@]}"
rm "$PIN2/hblb_cfg_svcs"
mv "$PIN2/hblb_cfg_svcs_aside" "$PIN2/hblb_cfg_svcs"

# the whole pin directory gone
mv "$PIN2" "$PIN2-moved"
out=$(cli service list 2>&1); rc=$?
if ((rc == 1)) && grep -q "no hblb state in $PIN2" <<<"$out"; then
	ok "pin directory gone: CLI exit 1, says so"
else
	fail "pin directory gone: CLI" "exit $rc: $out"
fi
mv "$PIN2-moved" "$PIN2"
start_daemon2 || fail "daemon restart" "$(tail -n 5 "$WORK/daemon2.log")"
mv "$PIN2" "$PIN2-moved"
out=$(cli service list 2>&1); rc=$?
sleep 0.3
if ((rc == 1)) && grep -q "no hblb state" <<<"$out" && alive2; then
	ok "pin directory gone under a running daemon: CLI says so, the daemon runs on"
else
	fail "pin directory gone under a running daemon" "exit $rc: $out"
fi
mv "$PIN2-moved" "$PIN2"
if [[ $(cli -j service list 2>/dev/null | jq length) == 1 ]]; then ok "pin directory back: nothing lost"; else fail "state after the pin directory came back"; fi
stop_daemon2

# ---- corrupted entries (written past the CLI) -------------------------------------------
# a backend entry with a weight out of range, unknown flags, a multicast MAC
# and check type 7: the daemon refuses it by name and runs on, a valid
# backend added after it still applies
bpf_put() {             # bpf_put MAP KEY_HEX VALUE_HEX: one element through the bpf syscall
	python3 - "$@" <<'PYEOF'
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, 128)
    r = libc.syscall(321, cmd, buf, 128)
    if r < 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return r
path = ctypes.create_string_buffer(sys.argv[1].encode())
fd = bpf(7, struct.pack("QII", ctypes.addressof(path), 0, 0))
key = ctypes.create_string_buffer(bytes.fromhex(sys.argv[2]))
val = ctypes.create_string_buffer(bytes.fromhex(sys.argv[3]))
bpf(2, struct.pack("IIQQQ", fd, 0, ctypes.addressof(key), ctypes.addressof(val), 0))
PYEOF
}
start_daemon2 || fail "daemon restart" "$(tail -n 5 "$WORK/daemon2.log")"
# key: 198.18.4.100:80/tcp, 198.18.4.50; value: weight 70000, MAC 01:.., flags 0xff, check 7
bpf_put "$PIN2/hblb_cfg_bes" "c612046400500600c6120432""00000000" \
	"70110100""010000000500""ff07""0000""0000""$(printf '41%.0s' $(seq 64))"
cli backend add 198.18.4.100:80 198.18.4.51 weight 3 mac 02:00:00:00:04:51
sleep 0.5
if alive2 && grep -q "backend 198.18.4.50 of service 198.18.4.100:80/tcp is invalid (weight above 65535)" "$WORK/daemon2.log" &&
   ! grep -q "198.18.4.50 (service .*) added" "$WORK/daemon2.log" &&
   grep -q "198.18.4.51 (service .*) added" "$WORK/daemon2.log"; then
	ok "corrupted backend entry: refused by name, the daemon runs on, a valid one still applies"
	grep "is invalid" "$WORK/daemon2.log" | head -n 1 | sed 's/^/#   /'
else
	fail "corrupted backend entry" "$(tail -n 5 "$WORK/daemon2.log")"
fi
stop_daemon2
cli backend del 198.18.4.100:80 198.18.4.51 >/dev/null 2>&1
python3 - "$PIN2/hblb_cfg_bes" <<'PYEOF'
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, 128)
    return libc.syscall(321, cmd, buf, 128)
path = ctypes.create_string_buffer(sys.argv[1].encode())
fd = bpf(7, struct.pack("QII", ctypes.addressof(path), 0, 0))
key = ctypes.create_string_buffer(bytes.fromhex("c612046400500600c612043200000000"))
bpf(3, struct.pack("IIQ", fd, 0, ctypes.addressof(key)))
PYEOF

# ---- bpffs not mounted (private mount namespace: the host keeps it) ------------------
for what in "CLI list:service list" "CLI status:status" "daemon:daemon ${SIZES[*]}"; do
	name=${what%%:*}
	out=$(unshare --mount -- sh -c "umount /sys/fs/bpf && exec \"$HBLB\" --pin-dir $PIN2 ${what#*:}" 2>&1)
	rc=$?
	if ((rc == 1)) && grep -q "bpffs" <<<"$out"; then
		ok "bpffs not mounted: $name exit 1, says so"
		echo "#   $out"
	else
		fail "bpffs not mounted: $name" "exit $rc: $out"
	fi
done
if [[ -e $PIN2/hblb_cfg_gen ]]; then ok "bpffs not mounted: the host's mount and pins untouched"; else fail "host bpffs"; fi

# ---- a full backend map ---------------------------------------------------------------
# fill hblb_cfg_bes to its last entry through the bpf syscall (the CLI would
# take minutes), as many backends of one service as the map holds
fill_backends() {       # fill_backends add|del
	python3 - "$PIN2/hblb_cfg_bes" "$1" <<'PYEOF'
import ctypes, os, socket, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
SYS_bpf, OBJ_GET, UPDATE, DELETE, GET_INFO = 321, 7, 2, 3, 15
def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, 128)
    r = libc.syscall(SYS_bpf, cmd, buf, 128)
    if r < 0 and ctypes.get_errno() not in (17, 2, 7):  # EEXIST, ENOENT, E2BIG
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    return r, ctypes.get_errno() if r < 0 else 0
path = ctypes.create_string_buffer(sys.argv[1].encode())
fd, _ = bpf(OBJ_GET, struct.pack("QII", ctypes.addressof(path), 0, 0))
info = ctypes.create_string_buffer(80)
bpf(GET_INFO, struct.pack("IIQ", fd, 80, ctypes.addressof(info)))
max_entries = struct.unpack_from("I", info.raw, 16)[0]
svc = socket.inet_aton("198.18.4.100") + struct.pack("!H", 80) + bytes([6, 0])
val = struct.pack("I6sBBHH64s", 1, b"\x02\0\0\0\x05\0", 4, 0, 0, 0, b"")
full = 0
for i in range(max_entries + 1):
    key = ctypes.create_string_buffer(svc + socket.inet_aton("198.19.%d.%d" % (i // 250, i % 250 + 1)) + b"\0" * 4)
    v = ctypes.create_string_buffer(val)
    if sys.argv[2] == "add":
        r, e = bpf(UPDATE, struct.pack("IIQQQ", fd, 0, ctypes.addressof(key), ctypes.addressof(v), 1))
        full += r < 0 and e == 7
    else:
        bpf(DELETE, struct.pack("IIQ", fd, 0, ctypes.addressof(key)))
print(max_entries, full)
PYEOF
}
t0=$SECONDS
read -r max full_hits < <(fill_backends add)
echo "# filled hblb_cfg_bes ($max entries) in $((SECONDS - t0)) s"

expect_refused "backend map full ($max): CLI add" "backend map is full" \
	cli backend add 198.18.4.100:80 198.18.9.9
t0=$SECONDS
if start_daemon2; then
	sleep 1
	if alive2; then ok "backend map full: the daemon starts and runs"; else fail "daemon with a full backend map" "$(tail -n 5 "$WORK/daemon2.log")"; fi
	echo "#   started in $((SECONDS - t0)) s"
	# the applied records themselves, read from the map. The backend deleted above left its id in quarantine (10 s, so
	# flows pinned to it re-steer): the last backend waits for it, is said
	# to, and must then be applied. The wait is a bound for a hang.
	applied_backends() {
		bpftool -j map dump pinned "$PIN2/hblb_backends" |
			jq '[.[] | select(.formatted.value.addr != 0)] | length'
	}
	for _ in $(seq 60); do
		applied=$(applied_backends)
		[[ $applied == "$max" ]] && break
		sleep 0.5
	done
	if [[ $applied == "$max" ]]; then
		ok "backend map full: all $max configured backends applied, none lost"
	else
		fail "backend map full: $applied of $max backends applied"
	fi
	errors=$(grep "error" "$WORK/daemon2.log" | grep -v "added when a freed id leaves quarantine")
	if [[ -z $errors ]] && alive2; then
		ok "backend map full: no error but the quarantine wait, which says so"
		grep "quarantine" "$WORK/daemon2.log" | sed 's/^/#   /'
	else
		fail "backend map full: the daemon logs errors" "$(sort <<<"$errors" | uniq -c | sort -rn | head -n 3)"
	fi
else
	fail "backend map full: daemon start" "$(tail -n 5 "$WORK/daemon2.log")"
fi
stop_daemon2
fill_backends del >/dev/null

# ---- more usable backends than table slots ----------------------------------------------
# a daemon with a 7-slot table and 9 backends: it says so once (not every
# tick), keeps the last table, and says when the table builds again
PIN3=$PIN2-small
"$HBLB" --pin-dir "$PIN3" daemon --tick 5 --start-up --table-size 7 --max-services 2 \
	--flow-buckets 64 >"$WORK/daemon3.log" 2>&1 &
DAEMON3=$!
for _ in $(seq 200); do grep -q "running on" "$WORK/daemon3.log" && break; sleep 0.05; done
for i in $(seq 11 19); do
	echo "backend add 198.18.4.200:80 198.18.4.$i weight 1 mac 02:00:00:00:04:$i"
done | { echo "service add 198.18.4.200:80"; cat; } | "$HBLB" --pin-dir "$PIN3" batch - 2>>"$WORK/daemon3.log"
for _ in $(seq 200); do grep -q "do not fit" "$WORK/daemon3.log" && break; sleep 0.05; done
sleep 0.5       # a hundred ticks that would each have said it again
said=$(grep -c "do not fit a table of 7 slots" "$WORK/daemon3.log")
if ((said == 1)) && kill -0 "$DAEMON3" 2>/dev/null; then
	ok "9 backends for a 7-slot table: said once, with the fix (--table-size), daemon runs on"
else
	fail "backends over the table size" "said $said times; $(tail -n 3 "$WORK/daemon3.log")"
fi
for i in 17 18 19; do "$HBLB" --pin-dir "$PIN3" backend del 198.18.4.200:80 198.18.4.$i 2>/dev/null; done
for _ in $(seq 200); do grep -q "its table builds again" "$WORK/daemon3.log" && break; sleep 0.05; done
if grep -q "its table builds again" "$WORK/daemon3.log"; then
	ok "down to 6 backends: the table builds again, and the daemon says so"
else
	fail "table builds again" "$(tail -n 3 "$WORK/daemon3.log")"
fi
kill "$DAEMON3"; wait "$DAEMON3" 2>/dev/null; DAEMON3=
rm -rf "$PIN3"

# ---- the interface goes away and comes back ----------------------------------------------
hb() { topo_nsenter "$P" lb "$HBLB" --pin-dir "$PIN" "$@"; }

# N HTTP connections from the client through the VIP; prints how many answered
connections() {
	ip netns exec "$P-cl" python3 - "$1" "$TOPO_VIP" <<'PYEOF'
import socket, sys
n, vip, good = int(sys.argv[1]), sys.argv[2], 0
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
        good += data.rstrip().endswith(b"b1")
    except OSError:
        pass
print(good)
PYEOF
}

daemon_says() {         # daemon_says PATTERN SECONDS: wait for a log line (a bound for a hang)
	local until=$((SECONDS + $2))
	while ((SECONDS <= until)); do
		grep -qE "$1" "$WORK/daemon.log" && return 0
		sleep 0.05
	done
	return 1
}

# the LB's port to the bridge, as topology.sh makes it
lb_port_up() {
	ip -n "$P-br" link add p-lb type veth peer name eth0 netns "$P-lb"
	ip -n "$P-br" link set p-lb master br0 up
	ip -n "$P-lb" addr add 198.18.7.2/24 dev eth0
	ip -n "$P-lb" addr add "$TOPO_VIP/32" dev eth0
	ip -n "$P-lb" link set eth0 up
}

topo_up "$P" 1 || { fail "cannot build the topology"; echo "faults: $passed passed, $failed failed"; exit 1; }
mkdir -p "$WORK/www1"
echo b1 >"$WORK/www1/index.html"
ip netns exec "$P-b1" python3 -m http.server 80 --bind 0.0.0.0 --directory "$WORK/www1" >/dev/null 2>&1 &
HTTP=$!
ip netns exec "$P-b1" "$HBLB" beat --interval 100 --ready 10 --busy 1 >/dev/null 2>&1 &
BEAT=$!
topo_nsenter "$P" lb "$HBLB" --pin-dir "$PIN" daemon -i eth0:generic --interval 100 --tick 5 \
	"${SIZES[@]}" >"$WORK/daemon.log" 2>&1 &
DAEMON=$!
daemon_says "running on" 10
hb service add "$TOPO_VIP:80"
hb backend add "$TOPO_VIP:80" 198.18.7.11 heartbeat
if topo_wait_state 198.18.7.11 up 10 && [[ $(connections 20) == 20 ]]; then
	ok "interface: 20 of 20 connections through the VIP before"
else
	fail "interface: traffic before" "$(tail -n 5 "$WORK/daemon.log")"
fi

ip -n "$P-lb" link set eth0 down
if daemon_says "eth0: link down" 5 && kill -0 "$DAEMON"; then ok "interface down: the daemon says so and runs on"; else fail "interface down" "$(tail -n 5 "$WORK/daemon.log")"; fi
ip -n "$P-lb" link set eth0 up
ip -n "$P-lb" addr add "$TOPO_VIP/32" dev eth0 2>/dev/null
if daemon_says "eth0: link up again" 5 && [[ $(connections 20) == 20 ]]; then
	ok "interface up again: said so; 20 of 20 connections"
else
	fail "interface up again" "$(tail -n 5 "$WORK/daemon.log")"
fi

old_ifindex=$(ip netns exec "$P-lb" cat /sys/class/net/eth0/ifindex)
ip -n "$P-lb" link del eth0
if daemon_says "eth0: interface gone" 5 && kill -0 "$DAEMON"; then ok "interface deleted: the daemon says so and runs on"; else fail "interface deleted" "$(tail -n 5 "$WORK/daemon.log")"; fi
# another device takes the old ifindex's place in no namespace here; a new
# veth gets a new ifindex (and a new MAC: the client must learn it again)
lb_port_up
new_ifindex=$(ip netns exec "$P-lb" cat /sys/class/net/eth0/ifindex)
ip -n "$P-cl" neigh flush all
if daemon_says "eth0: interface back as ifindex $new_ifindex" 5 && ip -n "$P-lb" -d link show eth0 | grep -q xdpgeneric; then
	ok "interface re-created (ifindex $old_ifindex -> $new_ifindex): re-attached in generic mode"
else
	fail "interface re-created" "$(tail -n 5 "$WORK/daemon.log")"
fi
# hblb_ifaces follows: the new ifindex enabled with the new MAC, the old one not
ifaces_entry() {
	bpftool -j map lookup pinned "$PIN/hblb_ifaces" key $(printf '%d %d %d %d' $(($1 & 255)) $(($1 >> 8 & 255)) 0 0) |
		jq -r '.formatted.value | "\(.enabled) \(.mac | map(. | tostring) | join(":"))"'
}
new_mac=$(ip netns exec "$P-lb" cat /sys/class/net/eth0/address | tr ':' '\n' | while read -r x; do echo $((16#$x)); done | paste -sd:)
if [[ $(ifaces_entry "$new_ifindex") == "1 $new_mac" && $(ifaces_entry "$old_ifindex") == 0* ]]; then
	ok "hblb_ifaces: new ifindex enabled with the new MAC, old one disabled"
else
	fail "hblb_ifaces follows the interface" "new: $(ifaces_entry "$new_ifindex") (want 1 $new_mac), old: $(ifaces_entry "$old_ifindex")"
fi
if [[ $(connections 20) == 20 ]]; then ok "interface re-created: 20 of 20 connections through the VIP"; else fail "traffic after re-creation"; fi
if kill -0 "$DAEMON"; then ok "daemon alive after all of it"; else fail "daemon died"; fi
grep -E "eth0: (link|interface)" "$WORK/daemon.log" | sed 's/^/#   /'

echo
echo "faults: $passed passed, $failed failed"
((failed == 0))
