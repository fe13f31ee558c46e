#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Issue 6 part 5: failover time in network namespaces. A backend's
# heartbeats stop (it keeps serving); how long after its last heartbeat does
# it still get new connections, and how soon after its heartbeats resume does
# it get them again? hblb (generic XDP, dead-after 3) at 1 s and at 10 ms
# intervals; Apache's mod_heartmonitor + mod_proxy_balancer lbmethod=heartbeat
# in front of the same backends, from the same heartbeats, as the reference
# (1 s only: Apache's liveness has a granularity of seconds).
# Usage: scripts/bench-failover.sh PATH/TO/hblb OUT.json   (root; QUICK=1: a few trials)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/topology.sh
. scripts/bench_net_lib.sh

BN_HBLB=$(realpath "${1:?usage: bench-failover.sh PATH/TO/hblb OUT.json}")
OUT=${2:?usage: bench-failover.sh PATH/TO/hblb OUT.json}
BN_PIN=/sys/fs/bpf/hblb-bench-failover-$$
BN_WORK=$(mktemp -d /tmp/hblb-bench-failover.XXXXXX)
chmod 755 "$BN_WORK"    # Apache's children (www-data) read their document roots below
ORCH=
stop_all() {
	local status=$?
	set +e                  # clean up everything, whatever fails
	# the trial driver (host namespace) stops its beats and clients itself
	[[ -n $ORCH ]] && kill "$ORCH" 2>/dev/null && wait "$ORCH" 2>/dev/null
	bn_down "$status"
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
BACKENDS=4              # trials overlap: up to 3 silent at once, one always up
if [[ ${QUICK:-0} == 1 ]]; then TRIALS_1S=3 TRIALS_10MS=6; else TRIALS_1S=20 TRIALS_10MS=30; fi
export BN_TICK=${TICK:-1}

run() {                 # run INTERVAL_MS TRIALS ORCHESTRATOR-OPTIONS... (figures to $BN_WORK/INTERVAL.json)
	local rc=0
	# in the background, so that a signal reaches our traps at once
	python3 scripts/bench_net_failover.py --prefix "$BN_PREFIX" --hblb "$BN_HBLB" --pin-dir "$BN_PIN" \
		--work "$BN_WORK" --backends "$BACKENDS" --interval "$1" --trials "$2" "${@:3}" \
		>"$BN_WORK/$1.json" &
	ORCH=$!
	wait "$ORCH" || rc=$?
	ORCH=
	return "$rc"
}

mkdir -p "$(dirname "$OUT")"
bn_up "hbfo$$" "$BACKENDS" 10
echo "# failover at 10 ms x 3: $TRIALS_10MS trials" >&2
run 10 "$TRIALS_10MS" --target hblb="$TOPO_VIP" --suffix _10ms --gap 0.05 --stagger 0.1 \
	--max-silent 2 --max-back 2
cat "$BN_WORK/10.json" >&2
bn_stop_daemon
bn_start_daemon 1000
echo "# failover at 1 s x 3, hblb and Apache: $TRIALS_1S trials" >&2
run 1000 "$TRIALS_1S" --target hblb="$TOPO_VIP" --target apache="$BN_APACHE_ADDR" --gap 0.5 \
	--stagger 0.7 --max-silent 25 --max-back 20
python3 - "$BN_WORK/10.json" "$BN_WORK/1000.json" "$TRIALS_1S" "$TRIALS_10MS" "$BN_TICK" "$OUT" <<'PY'
import json, sys
f = {}
for path in sys.argv[1:3]:
    f.update(json.load(open(path)))
f.update(trials=int(sys.argv[3]), trials_10ms=int(sys.argv[4]), tick_ms=int(sys.argv[5]))
json.dump({"failover": f}, open(sys.argv[6], "w"), indent=1, sort_keys=True)
print(json.dumps(f, indent=1, sort_keys=True))
PY
