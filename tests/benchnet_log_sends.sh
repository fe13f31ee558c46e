#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `hblb beat --log-sends`, which the failover benchmark's figures rest on:
# one CLOCK_MONOTONIC line per heartbeat sent, each taken before its send
# (so never after the datagram arrives), in order, spaced as the jittered
# interval allows (at least 75% of it).
# Usage: tests/benchnet_log_sends.sh PATH/TO/hblb (root)
set -uo pipefail
HBLB=$(realpath "${1:?usage: benchnet_log_sends.sh PATH/TO/hblb}")
NS=hbls$$
WORK=$(mktemp -d /tmp/hblb-test-log-sends.XXXXXX)
RECV=
passed=0
failed=0

cleanup() {
	[[ -n $RECV ]] && kill "$RECV" 2>/dev/null && wait "$RECV" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
ok() { passed=$((passed + 1)); echo "ok - $1"; }
fail() { failed=$((failed + 1)); echo "not ok - $1"; [[ $# -gt 1 ]] && echo "  $2"; }

ip netns add "$NS" || { echo "log_sends: 0 passed, 1 failed"; exit 1; }
ip -n "$NS" link set lo up
ip -n "$NS" addr add 198.18.9.1/32 dev lo
# the receiver stamps each datagram's arrival on the same clock
ip netns exec "$NS" python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("198.18.9.1", 27999))
print("ready", flush=True)
while True:
    s.recv(2048)
    print(time.monotonic_ns(), flush=True)' >"$WORK/arrivals" &
RECV=$!
for _ in $(seq 100); do grep -q ready "$WORK/arrivals" 2>/dev/null && break; sleep 0.02; done

before=$(python3 -c 'import time; print(time.monotonic_ns())')
ip netns exec "$NS" "$HBLB" beat --to 198.18.9.1 --interval 20 --count 10 --log-sends >"$WORK/sends"
rc=$?
after=$(python3 -c 'import time; print(time.monotonic_ns())')
sleep 0.1
((rc == 0)) && [[ $(wc -l <"$WORK/sends") == 10 ]] && ok "10 heartbeats, 10 lines, exit 0" ||
	fail "10 heartbeats, 10 lines" "exit $rc, $(wc -l <"$WORK/sends") lines"

python3 - "$WORK/sends" "$WORK/arrivals" "$before" "$after" <<'PY' && ok "each stamp in the run, in order, >= 15 ms apart, before its arrival" || fail "stamps"
import sys
sends = [int(x) for x in open(sys.argv[1]).read().split()]
arrivals = [int(x) for x in open(sys.argv[2]).read().split()[1:]]
before, after = int(sys.argv[3]), int(sys.argv[4])
problems = []
if len(arrivals) != len(sends):
    problems.append(f"{len(sends)} stamps, {len(arrivals)} arrivals")
if not all(before <= s <= after for s in sends):
    problems.append("a stamp outside the run")
if any(b - a < 15_000_000 for a, b in zip(sends, sends[1:])):
    problems.append("two stamps closer than 75% of 20 ms")
if any(s > r for s, r in zip(sends, arrivals)):
    problems.append("a stamp after its datagram arrived")
if problems:
    print("\n".join("  " + p for p in problems))
sys.exit(1 if problems else 0)
PY

out=$("$HBLB" beat --help)
grep -q -- "--log-sends" <<<"$out" && ok "--help names --log-sends" || fail "--help names --log-sends"

echo
echo "log_sends: $passed passed, $failed failed"
((failed == 0))
