#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Runs every test suite and adds up their "N passed, N failed" lines.
# A suite that crashes or prints no summary counts as one failure.
set -uo pipefail

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SHARED=${SHARED:-../shared}
passed=0
failed=0

run_suite() {
	local name=$1; shift
	local out rc line p f
	echo "=== $name"
	out=$("$@" 2>&1)
	rc=$?
	printf '%s\n' "$out" | grep -v '^ok - ' || true
	line=$(printf '%s\n' "$out" | grep -E '[0-9]+ passed, [0-9]+ failed' | tail -n 1)
	if [[ -z $line ]]; then
		echo "$name: no summary (exit $rc): counted as 1 failure"
		failed=$((failed + 1))
		return
	fi
	p=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+')
	f=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+')
	passed=$((passed + p))
	failed=$((failed + f))
	if ((rc != 0 && f == 0)); then
		echo "$name: exit $rc with no failed case: counted as 1 failure"
		failed=$((failed + 1))
	fi
}

verifier_budget() {
	# the program must load, and leave half the verifier's budget unused
	local out n
	out=$("$BUILD/hblb" verifier-stats) || { echo "verifier: 0 passed, 1 failed"; return; }
	echo "$out"
	n=$(sed -E 's/.*processed ([0-9]+) insns.*/\1/' <<<"$out")
	if ((n <= 500000)); then echo "verifier: 1 passed, 0 failed"; else echo "verifier: 0 passed, 1 failed"; fi
}

run_suite hb_parse "$BUILD/test_hb_parse" tests/corpus/hb
run_suite maglev "$BUILD/test_maglev"
run_suite health "$BUILD/test_health"
# a bounded number of executions per fuzz target; `make fuzz` runs 10,000,000
run_suite fuzz scripts/fuzz.sh 200000
run_suite verifier verifier_budget
if [[ $(id -u) -eq 0 ]]; then
	run_suite datapath "$BUILD/test_datapath" "$SHARED"
	run_suite ctl "$BUILD/test_ctl"
	run_suite checks "$BUILD/test_checks"
	run_suite daemon "$BUILD/test_daemon" "$BUILD/hblb"
	run_suite cli tests/test_cli.sh "$BUILD/hblb"
	run_suite beat tests/test_beat.sh "$BUILD/hblb"
	run_suite system tests/test_system.sh "$BUILD/hblb"
else
	echo "=== datapath, ctl, checks, daemon, cli, beat, system: need root (BPF, network namespaces): counted as 7 failures"
	failed=$((failed + 7))
fi

echo
echo "$passed passed, $failed failed"
((failed == 0))
