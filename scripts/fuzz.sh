#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Runs each libFuzzer target for a fixed number of executions (never a time
# limit) from its checked-in seed corpus, and reports it as a test suite:
#   scripts/fuzz.sh [RUNS]     (default 10,000,000 per target: `make fuzz`)
# New inputs and any finding go to a scratch directory, never into the
# checked-in corpus; a finding is kept and its path printed.
set -uo pipefail

cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
RUNS=${1:-10000000}
work=$(mktemp -d "${TMPDIR:-/tmp}/hblb-fuzz.XXXXXX")
passed=0
failed=0
keep=0

# target  seed corpus
targets=(
	"fuzz_hb_parse tests/corpus/hb"
	"fuzz_xdp tests/corpus/fuzz_xdp"
)

for t in "${targets[@]}"; do
	read -r name seeds <<<"$t"
	mkdir -p "$work/$name/corpus" "$work/$name/artifacts"
	log="$work/$name/log"
	"$BUILD/$name" -runs="$RUNS" -print_final_stats=1 \
		-artifact_prefix="$work/$name/artifacts/" "$work/$name/corpus" "$seeds" >"$log" 2>&1
	rc=$?
	done_line=$(grep -E '^Done [0-9]+ runs' "$log" | tail -n 1)
	execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
	if ((rc == 0)) && [[ -n $done_line ]] && ((${execs:-0} >= RUNS)); then
		echo "ok - $name: ${execs} executions, no finding ($done_line)"
		passed=$((passed + 1))
	else
		echo "not ok - $name: exit $rc after ${execs:-?} executions; log and finding kept in $work/$name"
		grep -E 'fuzz_|ERROR|SUMMARY|runtime error' "$log" | head -n 20
		failed=$((failed + 1))
		keep=1
	fi
done
((keep)) || rm -rf "$work"
echo "fuzz: $passed passed, $failed failed"
((failed == 0))
