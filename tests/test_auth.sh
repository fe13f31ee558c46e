#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Authenticated heartbeats end to end, generic XDP, bridge topology: two
# backends run `hblb beat --key-file --gtsm` to a daemon (--gtsm) whose
# service has that key; a forger in another namespace on the same bridge
# captures their genuine heartbeats and, spoofing backend 1's address,
# sends plain ready=4242, ready=4242 signed with a wrong key and with
# another service's key, the captured packets replayed, tampered and with
# a truncated tag, and TTL-1 heartbeats. Each attack is counted by its
# reason, exactly; backend 1's ready never becomes 4242, weights and table
# shares do not move, and both backends stay up throughout. Then a key
# rollover with the senders switching one by one loses no heartbeat, and
# the key commands refuse bad input and never print a key.
# Usage: tests/test_auth.sh PATH/TO/hblb   (root)
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/topology.sh

HBLB=$(realpath "${1:?usage: test_auth.sh PATH/TO/hblb}")
P=hbau$$
PIN=/sys/fs/bpf/hblb-test-auth-$$
WORK=$(mktemp -d /tmp/hblb-test-auth.XXXXXX)
LOG=$WORK/log
INTERVAL=100
SVC=$TOPO_VIP:80
B1=198.18.7.11
B2=198.18.7.12
declare -A BEAT
DAEMON=
CAPTURE=
passed=0
failed=0

cleanup() {
	local pid
	((failed)) && { echo "# last lines of the log:"; tail -n 15 "$LOG" | sed 's/^/#   /'; }
	for pid in "${BEAT[@]}" $CAPTURE $DAEMON; do
		kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	topo_down "$P"
	rm -rf "$PIN" "$WORK"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok - $1"; }
fail() { failed=$((failed + 1)); echo "not ok - $1"; [[ $# -gt 1 ]] && echo "  $2"; }
hb() { topo_nsenter "$P" lb "$HBLB" --pin-dir "$PIN" "$@"; }

# status as "key=value" lines: counters, and per backend ADDR.field
status_kv() {
	hb -j status 2>/dev/null | python3 -c '
import json, sys
s = json.load(sys.stdin)
for k, v in s["counters"].items():
    print(f"{k}={v}")
for svc in s["services"]:
    if svc["service"] != sys.argv[1]:
        continue
    for b in svc.get("backends", []):
        for f in ("state", "ready", "weight", "table_slots", "heartbeats"):
            print("%s.%s=%s" % (b["address"], f, b.get(f, "")))' "$SVC/tcp"
}
get() { grep "^$1=" <<<"$2" | head -1 | cut -d= -f2; }

start_beat() {          # start_beat N KEYFILE READY
	ip netns exec "$P-b$1" "$HBLB" beat --interval "$INTERVAL" --gtsm --key-file "$2" \
		--ready "$3" --busy 1 >>"$LOG" 2>&1 &
	BEAT[$1]=$!
}

both_up() {
	local s
	s=$(status_kv)
	[[ $(get $B1.state "$s") == up && $(get $B2.state "$s") == up ]]
}

wait_both_up() {
	local until=$((SECONDS + $1))
	while ((SECONDS <= until)); do both_up && return 0; sleep 0.05; done
	return 1
}

topo_up "$P" 2 || { echo "cannot build the topology"; exit 1; }
topo_port "$P" fg 198.18.7.50
ip -n "$P-fg" route add 224.0.0.0/4 dev eth0

topo_nsenter "$P" lb "$HBLB" --pin-dir "$PIN" daemon -i eth0:generic --interval "$INTERVAL" \
	--tick 5 --flap off --gtsm >>"$LOG" 2>&1 &
DAEMON=$!
for _ in $(seq 100); do [[ -e $PIN/hblb_cfg_gen ]] && break; sleep 0.05; done

umask 077
"$HBLB" key generate >"$WORK/key"
"$HBLB" key generate >"$WORK/key2"
"$HBLB" key generate >"$WORK/wrong"
"$HBLB" key generate >"$WORK/new"
hb service add "$SVC" 2>>"$LOG"
hb service add "$TOPO_VIP:81" 2>>"$LOG"
for b in 1 2; do
	mac=$(ip -n "$P-b$b" -o link show eth0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)
	hb backend add "$SVC" "198.18.7.1$b" heartbeat mac "$mac" 2>>"$LOG"
done

# ---- key commands ----------------------------------------------------------
if hb key set "$SVC" --key-file "$WORK/key" 2>>"$LOG" &&
   hb key set "$TOPO_VIP:81" "$(cat "$WORK/key2")" 2>>"$LOG"; then
	ok "key set from a file and from the command line"
else
	fail "key set" "$(tail -3 "$LOG")"
fi
out=$(hb key list 2>&1)
if grep -q "$TOPO_VIP:80" <<<"$out" && ! grep -qi -e "$(cat "$WORK/key")" -e "$(cat "$WORK/key2")" <<<"$out" &&
   hb -j key list | python3 -c 'import json,sys; l=json.load(sys.stdin); assert len(l)==2 and all(len(k["fingerprint"])==16 for k in l)'; then
	ok "key list shows fingerprints, never key material"
else
	fail "key list" "$out"
fi
msg=$(hb key set "$SVC" --key-file "$WORK/new" 2>&1); rc=$?
msg2=$(hb key set "$SVC" 0123 2>&1); rc2=$?
msg3=$(hb key finish "$SVC" 2>&1); rc3=$?
msg4=$(hb backend add "$TOPO_VIP:81" $B1 2>&1); rc4=$?
if ((rc && rc2 && rc3 && rc4)) && grep -q rollover <<<"$msg" && grep -q "32 hex" <<<"$msg2" &&
   grep -q "no rollover" <<<"$msg3" && grep -q "need the same key" <<<"$msg4" &&
   [[ $(hb -j key list | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') == 2 ]] &&
   ! hb -j backend list | grep -q "$TOPO_VIP:81/tcp\".*$B1"; then
	ok "refused: a second set, a short key, finish without rollover, a backend in two services with different keys"
else
	fail "key input checks" "$rc/$msg | $rc2/$msg2 | $rc3/$msg3 | $rc4/$msg4"
fi

# ---- genuine senders ---------------------------------------------------------
cp "$WORK/key" "$WORK/k1"
cp "$WORK/key" "$WORK/k2"
start_beat 1 "$WORK/k1" 30
start_beat 2 "$WORK/k2" 60
# the forger listens on the wire for genuine heartbeats of backend 1
ip netns exec "$P-fg" python3 -c '
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("239.0.0.1", 27999))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
             struct.pack("4s4s", socket.inet_aton("239.0.0.1"), socket.inet_aton("198.18.7.50")))
with open(sys.argv[1], "w") as out:
    n = 0
    while n < 10:
        data, src = s.recvfrom(2048)
        if src[0] == sys.argv[2]:
            out.write(data.decode() + "\n"); out.flush(); n += 1
' "$WORK/captured" "$B1" &
CAPTURE=$!
if wait_both_up 10; then ok "signed heartbeats with TTL 255 bring both backends up"; else fail "backends up" "$(status_kv | grep 198; tail -5 "$LOG")"; fi
for _ in $(seq 100); do [[ $(wc -l <"$WORK/captured" 2>/dev/null) -ge 10 ]] && break; sleep 0.05; done
wait "$CAPTURE" 2>/dev/null; CAPTURE=
sleep 0.3       # weights settle
before=$(status_kv)
if [[ $(get $B1.ready "$before") == 30 && $(get $B2.ready "$before") == 60 &&
      $(get hb_auth_bad "$before") == 0 && $(get hb_replay "$before") == 0 ]] && grep -q "&seq=.*&auth=" "$WORK/captured"; then
	ok "ready 30 and 60 from signed heartbeats; the forger captured 10 of them"
else
	fail "baseline" "$(grep -e 198 -e hb_ <<<"$before")"
fi

# ---- attacks from the forger, spoofing backend 1 --------------------------------
# the forger owns backend 1's address from now on (after the capture: a
# packet from one's own address would be dropped as martian)
# (on eth0, so that multicast from it leaves by eth0; it answers no ARP)
ip netns exec "$P-fg" sysctl -qw net.ipv4.conf.all.arp_ignore=8
ip -n "$P-fg" addr add $B1/32 dev eth0
N=20
forge_beat() {          # forge_beat ARGS...: N heartbeats from B1's address
	ip netns exec "$P-fg" "$HBLB" beat --source $B1 --interval 10 --count $N "$@" >>"$LOG" 2>&1
}
# sends each line of a file as a datagram from B1's address with TTL 255
forge_send() {          # forge_send FILE
	ip netns exec "$P-fg" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[2], 0))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255)
for line in open(sys.argv[1]):
    s.sendto(line.rstrip("\n").encode(), ("239.0.0.1", 27999))
' "$1" $B1
}
watch_ready() {         # fails if backend 1's ready is ever 4242 or its state leaves up
	local s
	s=$(status_kv)
	[[ $(get $B1.ready "$s") != 4242 && $(get $B1.state "$s") == up && $(get $B2.state "$s") == up ]] ||
		{ echo "  ready $(get $B1.ready "$s") states $(get $B1.state "$s")/$(get $B2.state "$s")"; return 1; }
}

attack() {              # attack NAME REASON EXPECTED_COUNT COMMAND...
	local name=$1 reason=$2 want=$3 s0 s1 d
	shift 3
	s0=$(status_kv)
	"$@"
	sleep 0.2
	s1=$(status_kv)
	d=$(($(get "$reason" "$s1") - $(get "$reason" "$s0")))
	if ((d == want)) && watch_ready && [[ $(get $B1.heartbeats "$s1") -gt $(get $B1.heartbeats "$s0") ]]; then
		ok "attack: $name: $d counted as $reason, nothing changed, the genuine sender goes on"
	else
		fail "attack: $name" "$reason moved by $d (want $want); $(grep -e 198 -e hb_ <<<"$s1" | tr '\n' ' ')"
	fi
}

attack "plain ready=4242" hb_auth_missing $N forge_beat --gtsm --ready 4242
attack "ready=4242 signed with a wrong key" hb_auth_bad $N forge_beat --gtsm --ready 4242 --key-file "$WORK/wrong"
attack "ready=4242 signed with another service's key" hb_auth_bad $N forge_beat --gtsm --ready 4242 --key-file "$WORK/key2"
attack "captured genuine packets replayed" hb_replay 10 forge_send "$WORK/captured"
sed 's/ready=30/ready=4242/' "$WORK/captured" >"$WORK/tampered"
attack "captured packets with ready=4242 and their tags" hb_auth_bad 10 forge_send "$WORK/tampered"
sed 's/.$//' "$WORK/captured" >"$WORK/truncated"
attack "captured packets with a truncated tag" hb_auth_malformed 10 forge_send "$WORK/truncated"
attack "TTL 1 (GTSM)" hb_ttl $N forge_beat --ready 4242 --key-file "$WORK/key"
after=$(status_kv)
if [[ $(get $B1.weight "$after") == "$(get $B1.weight "$before")" &&
      $(get $B2.weight "$after") == "$(get $B2.weight "$before")" &&
      $(get $B1.table_slots "$after") == "$(get $B1.table_slots "$before")" &&
      $(get $B2.table_slots "$after") == "$(get $B2.table_slots "$before")" &&
      $(get $B1.table_slots "$after") -gt 0 ]]; then
	ok "after every attack: table shares $(get $B1.table_slots "$after")/$(get $B2.table_slots "$after") unchanged"
else
	fail "shares moved" "$(grep 198 <<<"$before" | tr '\n' ' ') -> $(grep 198 <<<"$after" | tr '\n' ' ')"
fi

# ---- rollover: LB first, then the senders one by one, then finish ------------------
s0=$(status_kv)
hb key rollover "$SVC" --key-file "$WORK/new" 2>>"$LOG"
# backend 1 moves to the new key: its beat rereads the file when it changes
cp "$WORK/new" "$WORK/k1.next" && mv "$WORK/k1.next" "$WORK/k1"
sleep 0.5
mid=$(status_kv)
cp "$WORK/new" "$WORK/k2.next" && mv "$WORK/k2.next" "$WORK/k2"
sleep 0.5
hb key finish "$SVC" 2>>"$LOG"
sleep 0.3
s1=$(status_kv)
if both_up && (($(get hb_auth_bad "$s1") == $(get hb_auth_bad "$s0"))) &&
   (($(get hb_auth_prev_key "$mid") > $(get hb_auth_prev_key "$s0"))) &&
   ! hb key list | grep -q rollover; then
	ok "rollover: old and new key accepted meanwhile (previous-key heartbeats counted), none refused, both up"
else
	fail "rollover" "$(grep -e 198 -e hb_ <<<"$s1" | tr '\n' ' ')"
fi
s0=$(status_kv)
sleep 0.5
s1=$(status_kv)
if both_up && (($(get hb_auth_prev_key "$s1") == $(get hb_auth_prev_key "$s0"))) &&
   (($(get hb_auth_bad "$s1") == $(get hb_auth_bad "$s0"))) &&
   (($(get $B1.heartbeats "$s1") > $(get $B1.heartbeats "$s0"))) &&
   (($(get $B2.heartbeats "$s1") > $(get $B2.heartbeats "$s0"))); then
	ok "after finish only the new key is in use, both backends keep beating"
else
	fail "after finish" "$(grep -e 198 -e hb_ <<<"$s1" | tr '\n' ' ')"
fi

# ---- without a key: plain heartbeats count again -------------------------------------
hb key del "$SVC" 2>>"$LOG"
sleep 0.2
s0=$(status_kv)
forge_beat --gtsm --ready 4242
sleep 0.3
s1=$(status_kv)
if (($(get hb_auth_missing "$s1") == $(get hb_auth_missing "$s0"))) &&
   (($(get $B1.heartbeats "$s1") - $(get $B1.heartbeats "$s0") >= N)); then
	ok "key deleted: plain heartbeats from the address are trusted again (the unauthenticated mode)"
else
	fail "key del" "$(grep -e 198 -e hb_ <<<"$s1" | tr '\n' ' ')"
fi

hb service del "$TOPO_VIP:81" 2>>"$LOG"
if [[ $(hb -j key list | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') == 0 ]]; then
	ok "service del takes the service's key with it"
else
	fail "service del left its key" "$(hb key list 2>&1)"
fi

echo
echo "auth-e2e: $passed passed, $failed failed"
((failed == 0))
