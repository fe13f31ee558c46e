#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# hblb batch FILE|-: many service/backend commands under one lock and one
# configuration-generation bump, all applied or none.
# Usage: tests/test_batch.sh PATH/TO/hblb   (root)
set -uo pipefail

HBLB=$(realpath "${1:?usage: test_batch.sh PATH/TO/hblb}")
NS=hbb$$
PIN=/sys/fs/bpf/hblb-test-batch-$$
LOG=$(mktemp /tmp/hblb-test-batch.XXXXXX)
FILE=$(mktemp /tmp/hblb-test-batch-file.XXXXXX)
DAEMON=
passed=0
failed=0

cleanup() {
	[[ -n $DAEMON ]] && kill "$DAEMON" 2>/dev/null && wait "$DAEMON" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$PIN" "$LOG" "$FILE"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok - $1"; }
fail() { failed=$((failed + 1)); echo "not ok - $1"; [[ $# -gt 1 ]] && echo "  $2"; }
hb() { "$HBLB" --pin-dir "$PIN" "$@"; }
gen() { bpftool -j map lookup pinned "$PIN/hblb_cfg_gen" key 0 0 0 0 | python3 -c '
import json, sys
v = json.load(sys.stdin)["value"]
print(int.from_bytes(bytes(int(b, 16) for b in v), "little") if isinstance(v, list) else v)'; }
# the backends status reports, by service
backends() { hb -j status | python3 -c '
import json, sys
for s in json.load(sys.stdin)["services"]:
    for b in s.get("backends", []):
        print(s["service"], b["address"], b["state"])'; }
config() { hb -j service list; backends | cut -d" " -f1,2 | sort; }
count_up() { backends | grep -c " up$"; }

ip netns add "$NS" || { echo "cannot create a namespace"; exit 1; }
ip -n "$NS" link add b0 type veth peer name b1
ip -n "$NS" link set b0 up
ip -n "$NS" link set b1 up
nsenter --net=/run/netns/"$NS" "$HBLB" --pin-dir "$PIN" daemon -i b0:generic --start-up \
	--flap off >>"$LOG" 2>&1 &
DAEMON=$!
for _ in $(seq 100); do [[ -e $PIN/hblb_cfg_gen ]] && break; sleep 0.05; done

# a service and 2,000 backends, comments and blank lines, from stdin
g0=$(gen)
{
	echo "# two services"
	echo "service add 198.18.12.100:80"
	echo
	echo "service add 198.18.12.101:53/udp fail-closed"
	for i in $(seq 0 1999); do
		printf 'backend add 198.18.12.100:80 198.18.%d.%d weight 2 mac 02:00:00:00:%02x:%02x\n' \
			$((13 + i / 256)) $((i % 256)) $((i / 256)) $((i % 256))
	done
} | hb batch - 2>>"$LOG"
rc=$?
g1=$(gen)
n=$(backends | wc -l)
if ((rc == 0 && n == 2000)) && [[ $(hb -j service list) == *198.18.12.101* ]]; then
	ok "batch from stdin: 2 services and 2,000 backends"
else
	fail "batch from stdin" "rc $rc, $n backends"
fi
if ((g1 == g0 + 1)); then ok "one configuration-generation bump for the whole batch"; else fail "generation $g0 -> $g1"; fi
up=0
for _ in $(seq 250); do up=$(count_up); ((up == 2000)) && break; sleep 0.02; done
if ((up == 2000)); then ok "the daemon applies all of it"; else fail "daemon applied" "$up of 2000 up"; fi

# a bad line undoes the lines before it
before=$(config)
g0=$(gen)
printf '%s\n' "backend del 198.18.12.100:80 198.18.13.0" "service del 198.18.12.101:53/udp" \
	"backend add 198.18.12.100:80 198.18.12.7 weight 1" "backend add 198.18.12.100:80 not-an-address" >"$FILE"
out=$(hb batch "$FILE" 2>&1)
rc=$?
if ((rc != 0)) && [[ $(config) == "$before" && $(gen) == "$g0" ]] && [[ $out == *"$FILE:4: failed"* ]]; then
	ok "a bad line names itself and the batch changes nothing"
else
	fail "bad line" "rc $rc: $out"
fi

# only configuration commands; a missing file; no argument
out=$(printf 'service add 198.18.12.102:80\ndaemon -i b0\n' | hb batch - 2>&1)
rc=$?
if ((rc != 0)) && [[ $out == *"only service and backend"* && $(hb -j service list) != *198.18.12.102* ]]; then
	ok "other commands are refused, nothing changed"
else
	fail "other commands" "rc $rc: $out"
fi
if ! hb batch /nonexistent/file 2>/dev/null && ! hb batch 2>/dev/null; then
	ok "missing file or argument: error"
else
	fail "missing file or argument"
fi

# a batch waits for another writer's lock and loses nothing
printf 'backend add 198.18.12.100:80 198.18.30.%d weight 1 mac 02:00:00:00:30:01\n' $(seq 1 50) >"$FILE"
hb batch "$FILE" 2>>"$LOG" &
b=$!
for i in $(seq 51 70); do hb backend add 198.18.12.100:80 198.18.30.$i weight 1 mac 02:00:00:00:30:02 2>>"$LOG"; done
wait "$b"
n=$(backends | grep -c " 198\.18\.30\.")
if ((n == 70)); then ok "a batch and single commands at once: all 70 added"; else fail "concurrent writers" "$n of 70"; fi

echo
echo "batch: $passed passed, $failed failed"
((failed == 0))
