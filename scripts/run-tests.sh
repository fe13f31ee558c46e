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
	# every program, in every configuration verifier-stats loads, must load
	# and leave half the verifier's 1,000,000-instruction budget unused
	local out n line p=0 f=0
	out=$("$BUILD/hblb" verifier-stats) || { echo "$out"; echo "verifier: 0 passed, 1 failed"; return; }
	while IFS= read -r line; do
		n=$(sed -nE 's/.*processed ([0-9]+) insns.*/\1/p' <<<"$line")
		if [[ -n $n ]] && ((n <= 500000)); then
			echo "ok - $line"
			p=$((p + 1))
		else
			echo "not ok - over half the budget, or no count: $line"
			f=$((f + 1))
		fi
	done <<<"$out"
	# hblb_xdp and hblb_bench_vary in 4 configurations, and the 2 floors
	if ((p + f != 10)); then
		echo "not ok - verifier-stats printed $((p + f)) programs, expected 10"
		f=$((f + 1))
	fi
	echo "verifier: $p passed, $f failed"
}

run_suite hb_parse "$BUILD/test_hb_parse" tests/corpus/hb
run_suite maglev "$BUILD/test_maglev"
run_suite health "$BUILD/test_health"
run_suite auth "$BUILD/test_auth"
# a bounded number of executions per fuzz target; `make fuzz` runs 10,000,000
run_suite fuzz scripts/fuzz.sh 200000
run_suite verifier verifier_budget
run_suite bench_report scripts/bench-report.py --self-test
# root-only suites (BPF, network namespaces), in order
root_suites=(
	'datapath "$BUILD/test_datapath" "$SHARED"'
	'frames "$BUILD/test_frames" tests/corpus/hb'
	'ctl "$BUILD/test_ctl"'
	'checks "$BUILD/test_checks"'
	'daemon "$BUILD/test_daemon" "$BUILD/hblb"'
	'cli tests/test_cli.sh "$BUILD/hblb"'
	'batch tests/test_batch.sh "$BUILD/hblb"'
	'beat tests/test_beat.sh "$BUILD/hblb"'
	'log_sends tests/benchnet_log_sends.sh "$BUILD/hblb"'
	'system tests/test_system.sh "$BUILD/hblb"'
	'faults tests/test_faults.sh "$BUILD/hblb"'
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
