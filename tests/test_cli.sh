#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# The hblb CLI against a running daemon, in a private network namespace
# with a veth: every command, its JSON output, each bad input (one clear
# message, exit != 0, nothing changed) and concurrent writers.
# Usage: tests/test_cli.sh PATH/TO/hblb   (root; re-executes itself in a
# new network namespace with unshare, so nothing is left behind)
set -uo pipefail

HBLB=$(realpath "${1:?usage: test_cli.sh PATH/TO/hblb}")
if [[ ${HBLB_CLI_IN_NETNS:-} != 1 ]]; then
	exec env HBLB_CLI_IN_NETNS=1 unshare --net -- "$0" "$@"
fi

PIN=/sys/fs/bpf/hblb-test-cli-$$
LOG=$(mktemp /tmp/hblb-test-cli.XXXXXX)
DAEMON=
passed=0
failed=0

cleanup() {
	[[ -n $DAEMON ]] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
	rm -rf "$PIN" "$LOG" "$LOG".*
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok - $1"; }
fail() { failed=$((failed + 1)); echo "not ok - $1"; [[ $# -gt 1 ]] && echo "  $2"; }

hb() { "$HBLB" --pin-dir "$PIN" "$@"; }

# expect_ok NAME CMD...: exit 0
expect_ok() {
	local name=$1; shift
	if out=$("$@" 2>&1); then ok "$name"; else fail "$name" "$out"; fi
}

# expect_err NAME PATTERN CMD...: exit != 0, one "error:" line matching
# PATTERN, and the configuration unchanged
expect_err() {
	local name=$1 pattern=$2; shift 2
	local before after out rc
	before=$(config_snapshot)
	out=$("$@" 2>&1); rc=$?
	after=$(config_snapshot)
	if ((rc == 0)); then
		fail "$name" "exit 0: $out"
	elif [[ $(grep -c 'error:' <<<"$out") -ne 1 ]] || ! grep -qiE "$pattern" <<<"$out"; then
		fail "$name" "message: $out"
	elif [[ $before != "$after" ]]; then
		fail "$name" "the configuration changed"
	else
		ok "$name"
	fi
}

# The configuration alone: what the daemon updates by itself (id, state,
# applied, counters, a resolved MAC) is left out.
config_snapshot() {
	{ hb -j service list; hb -j backend list; } 2>/dev/null | python3 -c '
import json, sys
dyn = {"id", "state", "applied", "packets", "bytes", "mac"}
for line in sys.stdin:
    print(json.dumps(sorted(({k: v for k, v in x.items() if k not in dyn} for x in json.loads(line)),
                            key=json.dumps)))'
}

json_ok() {
	python3 -c 'import json,sys; json.load(sys.stdin)' 2>/dev/null
}

ip link set lo up
ip link add clitst0 type veth peer name clitst1
ip link set clitst0 up
ip link set clitst1 up

# ---- before any daemon ---------------------------------------------------------
expect_err "no pins: clear message" "start 'hblb daemon' first" hb service list
expect_err "bad service syntax before anything" "no port" hb service add 198.18.0.100

# the binary itself, not the hb function: $! must be the daemon's own PID
"$HBLB" --pin-dir "$PIN" daemon --tick 5 >"$LOG" 2>&1 &
DAEMON=$!
for _ in $(seq 50); do [[ -e $PIN/hblb_cfg_gen ]] && break; sleep 0.1; done

# ---- environment ------------------------------------------------------------------
if command -v setpriv >/dev/null; then
	expect_err "not root" "needs root" setpriv --reuid=65534 --regid=65534 --clear-groups "$HBLB" --pin-dir "$PIN" service list
fi
# bpffs unmounted in a private mount namespace only: the host keeps it
out=$(unshare --mount -- sh -c "umount /sys/fs/bpf && \"$HBLB\" --pin-dir $PIN service list" 2>&1); rc=$?
if ((rc != 0)) && grep -q "bpffs is not mounted" <<<"$out"; then
	ok "bpffs not mounted: clear message"
else
	fail "bpffs not mounted" "exit $rc: $out"
fi

# ---- services ----------------------------------------------------------------------
expect_ok "service add tcp" hb service add 198.18.0.100:80
expect_ok "service add udp fail-closed" hb service add 198.18.0.100:53/udp fail-closed
expect_err "duplicate service" "already exists" hb service add 198.18.0.100:80/tcp
expect_err "port 0" "port '0'" hb service add 198.18.0.100:0
expect_err "port 65536" "port '65536'" hb service add 198.18.0.100:65536
expect_err "malformed address" "not an IPv4 address" hb service add 198.18.0.300:80
expect_err "unknown protocol" "neither tcp nor udp" hb service add 198.18.0.100:80/sctp
expect_err "unknown service option" "unknown option" hb service add 198.18.0.101:80 fast
expect_err "delete unknown service" "no service" hb service del 198.18.0.199:80
out=$(hb -j service list)
if json_ok <<<"$out" && [[ $(python3 -c 'import json,sys; print(len(json.load(sys.stdin)))' <<<"$out") == 2 ]]; then
	ok "service list -j: valid JSON, 2 services"
else
	fail "service list -j" "$out"
fi
if hb -p service list | json_ok; then ok "service list -p: valid JSON"; else fail "service list -p"; fi

# ---- backends ------------------------------------------------------------------------
expect_ok "backend add static weight with mac" hb backend add 198.18.0.100:80 198.18.0.11 weight 5 mac 02:00:00:00:00:0b
expect_ok "backend add heartbeat" hb backend add 198.18.0.100:80 198.18.0.12 heartbeat mac 02:00:00:00:00:0c
expect_ok "backend add with http check" hb backend add 198.18.0.100:80 198.18.0.13 check http 8080 /health
expect_ok "backend add with tcp check" hb backend add 198.18.0.100:53/udp 198.18.0.13 check tcp 53
expect_err "duplicate backend" "already exists" hb backend add 198.18.0.100:80 198.18.0.11
expect_err "backend of unknown service" "no service" hb backend add 198.18.0.100:81 198.18.0.11
expect_err "weight 0" "weight '0'" hb backend add 198.18.0.100:80 198.18.0.14 weight 0
expect_err "weight over range" "weight '70000'" hb backend add 198.18.0.100:80 198.18.0.14 weight 70000
expect_err "weight and heartbeat" "either" hb backend add 198.18.0.100:80 198.18.0.14 weight 3 heartbeat
expect_err "malformed MAC" "not a MAC" hb backend add 198.18.0.100:80 198.18.0.14 mac 02:00:00:00:0b
expect_err "multicast MAC" "multicast" hb backend add 198.18.0.100:80 198.18.0.14 mac 01:00:5e:00:00:01
expect_err "check path without /" "must start with" hb backend add 198.18.0.100:80 198.18.0.14 check http 80 health
expect_err "check of unknown type" "tcp PORT" hb backend add 198.18.0.100:80 198.18.0.14 check icmp 80
expect_err "malformed backend address" "not an IPv4" hb backend add 198.18.0.100:80 198.18.0
expect_err "drain unknown backend" "no backend" hb backend drain 198.18.0.100:80 198.18.0.99

sleep 0.3       # a few daemon ticks
out=$(hb -j backend list 198.18.0.100:80)
if json_ok <<<"$out" && python3 -c '
import json,sys
b = {x["address"]: x for x in json.load(sys.stdin)}
assert set(b) == {"198.18.0.11", "198.18.0.12", "198.18.0.13"}, b
assert b["198.18.0.11"]["weight"] == 5 and b["198.18.0.12"]["weight"] == "heartbeat"
assert b["198.18.0.13"]["check"] == "http 8080 /health"
assert all(x["state"] in ("down", "up", "draining") for x in b.values()), b
' <<<"$out"; then
	ok "backend list SERVICE -j: every backend applied by the daemon"
else
	fail "backend list SERVICE -j" "$out"
fi

expect_ok "backend drain" hb backend drain 198.18.0.100:80 198.18.0.11
if hb -j backend list | python3 -c '
import json,sys
b = {x["address"]: x for x in json.load(sys.stdin) if x["service"] == "198.18.0.100:80/tcp"}
assert b["198.18.0.11"]["drain"] is True'; then ok "drain recorded"; else fail "drain recorded"; fi
expect_ok "backend undrain" hb backend undrain 198.18.0.100:80 198.18.0.11
expect_ok "backend del" hb backend del 198.18.0.100:80 198.18.0.13
sleep 0.2
if [[ $(hb -j backend list 198.18.0.100:80 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))') == 2 ]]; then
	ok "backend gone after del"
else
	fail "backend gone after del"
fi

# ---- concurrency: two writers at once lose nothing ---------------------------------------
hb service add 198.18.0.102:80 >/dev/null 2>&1
writers=()
for w in 1 2; do
	(for i in $(seq 1 25); do
		hb backend add 198.18.0.102:80 198.18.$((w + 1)).$i weight 1 mac 02:00:00:00:0$w:$(printf %02x "$i") 2>>"$LOG.$w" || echo "lost $w.$i" >>"$LOG.$w"
	done) &
	writers+=($!)
done
wait "${writers[@]}"        # not a bare wait: the daemon is a child too
n=$(hb -j backend list 198.18.0.102:80 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
if [[ $n == 50 ]] && ! grep -q lost "$LOG".1 "$LOG".2 2>/dev/null; then
	ok "two concurrent writers: 50 of 50 backends kept"
else
	fail "two concurrent writers" "$n backends; $(cat "$LOG".1 "$LOG".2 2>/dev/null | head -3)"
fi
expect_ok "service del takes its backends" hb service del 198.18.0.102:80
if [[ $(hb -j backend list | python3 -c 'import json,sys; print(sum(1 for x in json.load(sys.stdin) if x["service"].startswith("198.18.0.102")))') == 0 ]]; then
	ok "no backend left of the deleted service"
else
	fail "no backend left of the deleted service"
fi

# ---- a full map ---------------------------------------------------------------------
n=$(hb -j service list | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
for i in $(seq $((n + 1)) 64); do hb service add 198.18.1.$i:80 >/dev/null 2>&1; done
expect_err "service map full" "all 64 services" hb service add 198.18.3.1:80
for i in $(seq $((n + 1)) 64); do hb service del 198.18.1.$i:80 >/dev/null 2>&1; done

# ---- interfaces --------------------------------------------------------------------------
expect_err "attach to a missing interface" "no interface" hb attach nosuchdev0
expect_err "attach with a bad mode" "neither native nor generic" hb attach clitst0 mode turbo
expect_ok "attach generic" hb attach clitst0 mode generic
if ip -d link show clitst0 | grep -q "xdpgeneric"; then ok "program on the interface"; else fail "program on the interface"; fi
expect_ok "attach again keeps it" hb attach clitst0 mode generic
expect_ok "detach" hb detach clitst0
if ! ip -d link show clitst0 | grep -q "prog/xdp"; then ok "program gone after detach"; else fail "program gone after detach"; fi
expect_err "detach with nothing attached" "no XDP program" hb detach clitst0

# ---- status ---------------------------------------------------------------------------------
expect_ok "status" hb status
if hb -j status | json_ok; then ok "status -j: valid JSON"; else fail "status -j: valid JSON"; fi
if hb -j status | python3 -c '
import json,sys
s = json.load(sys.stdin)
assert s["daemon_running"] is True
assert any(x["service"] == "198.18.0.100:80/tcp" for x in s["services"])'; then
	ok "status -j: daemon and services"
else
	fail "status -j: daemon and services"
fi

# ---- usage --------------------------------------------------------------------------------
expect_ok "help" hb help
expect_ok "service help" hb service help
expect_ok "backend help" hb backend help
expect_ok "backend add help" hb backend add help
expect_err "unknown object command" "unknown command" hb service frobnicate
expect_err "unknown command" "unknown command" hb frobnicate

kill "$DAEMON"; wait "$DAEMON" 2>/dev/null; DAEMON=
out=$(hb service add 198.18.0.103:80 2>&1); rc=$?
if ((rc == 0)) && grep -q "no hblb daemon is running" <<<"$out"; then
	ok "no daemon: the change is stored and the warning says when it applies"
else
	fail "no daemon warning" "exit $rc: $out"
fi
echo
echo "cli: $passed passed, $failed failed"
((failed == 0))
