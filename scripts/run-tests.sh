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

bench_smoke() {
	# every benchmark part at its small size, through the real make targets;
	# passes when each part that has a target produced all its figures.
	# Never a time limit: the figures are whatever this machine gave.
	local out rc
	out=$(make --no-print-directory bench-quick BUILD="$BUILD" 2>&1)
	rc=$?
	((rc == 0)) || { printf '%s\n' "$out" | tail -n 30; echo "not ok - make bench-quick exited $rc"; }
	scripts/bench-report.py --check "$BUILD/bench"
	((rc == 0))
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
run_suite auth "$BUILD/test_auth"
run_suite verifier verifier_budget
run_suite bench_report scripts/bench-report.py --self-test
# root-only suites (BPF, network namespaces), in order
root_suites=(
	'datapath "$BUILD/test_datapath" "$SHARED"'
	'ctl "$BUILD/test_ctl"'
	'checks "$BUILD/test_checks"'
	'daemon "$BUILD/test_daemon" "$BUILD/hblb"'
	'cli tests/test_cli.sh "$BUILD/hblb"'
	'batch tests/test_batch.sh "$BUILD/hblb"'
	'beat tests/test_beat.sh "$BUILD/hblb"'
	'log_sends tests/benchnet_log_sends.sh "$BUILD/hblb"'
	'system tests/test_system.sh "$BUILD/hblb"'
	'auth-e2e tests/test_auth.sh "$BUILD/hblb"'
	'checks_system tests/test_checks_system.sh "$BUILD/hblb"'
	'apache tests/test_apache.sh "$BUILD/hblb"'
	'flood "$BUILD/test_flood" "$BUILD/hblb"'
	'bench bench_smoke'
)
if [[ $(id -u) -eq 0 ]]; then
	for s in "${root_suites[@]}"; do
		eval "run_suite $s"
	done
else
	echo "=== ${#root_suites[@]} suites need root (BPF, network namespaces): counted as ${#root_suites[@]} failures"
	failed=$((failed + ${#root_suites[@]}))
fi

echo
echo "$passed passed, $failed failed"
((failed == 0))
