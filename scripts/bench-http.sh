#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Issue 6 part 7: wrk HTTP requests/s through hblb's VIP (generic XDP,
# direct server return), against the same backends reached directly, and
# through Apache's proxy balancer (lbmethod=heartbeat) in front of them, in
# one run, interleaved round by round. Same client threads and connections
# for each: through a balancer one wrk with -t3 -c24; directly one wrk per
# backend with -t1 -c8, run at once and summed (wrk talks to one address,
# and with direct server return "direct" must mean the same backends).
# wrk keeps its connections open (HTTP/1.1 keep-alive), so this measures
# forwarding of established flows, not connection setup.
# Usage: scripts/bench-http.sh PATH/TO/hblb OUT.json   (root; QUICK=1: three 1 s rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/topology.sh
. scripts/bench_net_lib.sh

BN_HBLB=$(realpath "${1:?usage: bench-http.sh PATH/TO/hblb OUT.json}")
OUT=${2:?usage: bench-http.sh PATH/TO/hblb OUT.json}
BN_PIN=/sys/fs/bpf/hblb-bench-http-$$
BN_WORK=$(mktemp -d /tmp/hblb-bench-http.XXXXXX)
chmod 755 "$BN_WORK"    # Apache's children (www-data) read their document roots below
BEATS=()
stop_all() {
	local status=$?
	set +e                  # clean up everything, whatever fails
	local pid
	for pid in "${BEATS[@]}"; do kill "$pid" 2>/dev/null; done
	bn_down "$status"
}
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# short rounds, many: the three see the same drift in the machine's load
if [[ ${QUICK:-0} == 1 ]]; then ROUNDS=3 SECS=1; else ROUNDS=6 SECS=4; fi
BACKENDS=3 THREADS=3 CONNS=24
WRK_LUA=$PWD/scripts/bench_net_wrk.lua

mkdir -p "$(dirname "$OUT")"
bn_up "hbht$$" "$BACKENDS" 1000
for ((i = 1; i <= BACKENDS; i++)); do
	ip netns exec "$BN_PREFIX-b$i" "$BN_HBLB" beat --ready 10 --busy 1 >/dev/null 2>&1 &
	BEATS+=($!)
done
hb() { bn_hb "$@"; }
for ((i = 1; i <= BACKENDS; i++)); do
	topo_wait_state "198.18.7.1$i" up 15 || { echo "backend $i did not come up" >&2; exit 1; }
done
# Apache learns the backends from the same heartbeats: wait until it uses all
for _ in $(seq 100); do
	seen=$(for _ in $(seq 30); do ip netns exec "$BN_PREFIX-cl" curl -s -m 1 "http://$BN_APACHE_ADDR/id"; done |
	       sort -u | grep -c '^b[0-9]' || true)
	((seen == BACKENDS)) && break
	sleep 0.2
done
((seen == BACKENDS)) || { echo "Apache does not reach every backend" >&2; exit 1; }

wrk_to() {              # wrk_to OUTFILE THREADS CONNS ADDR
	ip netns exec "$BN_PREFIX-cl" wrk -t"$2" -c"$3" -d"${SECS}s" -s "$WRK_LUA" "http://$4/id" \
		| tail -n 1 >"$1"
}

for ((r = 1; r <= ROUNDS; r++)); do
	order=(direct hblb apache)
	# rotate the order each round, so drift in the machine's load spreads over all three
	order=("${order[@]:r % 3}" "${order[@]:0:r % 3}")
	for what in "${order[@]}"; do
		echo "# round $r: $what" >&2
		case $what in
		hblb) wrk_to "$BN_WORK/wrk-$r-hblb.json" "$THREADS" "$CONNS" "$TOPO_VIP" ;;
		apache) wrk_to "$BN_WORK/wrk-$r-apache.json" "$THREADS" "$CONNS" "$BN_APACHE_ADDR" ;;
		direct)
			pids=()
			for ((i = 1; i <= BACKENDS; i++)); do
				wrk_to "$BN_WORK/wrk-$r-direct-b$i.json" 1 $((CONNS / BACKENDS)) "198.18.7.1$i" &
				pids+=($!)
			done
			for pid in "${pids[@]}"; do wait "$pid"; done ;;
		esac
	done
done

python3 - "$BN_WORK" "$ROUNDS" "$SECS" "$THREADS" "$CONNS" "$OUT" <<'PY'
import glob, json, statistics, sys
work, rounds, secs, threads, conns, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]

def load(path):
    return json.load(open(path))

f = {}
per = {"hblb": [], "apache": [], "direct": []}
lat = {k: ([], []) for k in per}
errors = {k: 0 for k in per}
for r in range(1, rounds + 1):
    for what in ("hblb", "apache"):
        w = load(f"{work}/wrk-{r}-{what}.json")
        per[what].append(w["requests"] / (w["duration_us"] / 1e6))
        lat[what][0].append(w["p50_us"]); lat[what][1].append(w["p99_us"])
        errors[what] += w["errors"] + w["non2xx"]
    ws = [load(p) for p in sorted(glob.glob(f"{work}/wrk-{r}-direct-b*.json"))]
    per["direct"].append(sum(w["requests"] / (w["duration_us"] / 1e6) for w in ws))
    # one histogram per wrk: the mean of their medians, the worst of their p99s
    lat["direct"][0].append(statistics.mean(w["p50_us"] for w in ws))
    lat["direct"][1].append(max(w["p99_us"] for w in ws))
    errors["direct"] += sum(w["errors"] + w["non2xx"] for w in ws)
for k in per:
    f[f"{k}_rps"] = round(statistics.median(per[k]))
    f[f"{k}_p50_ms"] = round(statistics.median(lat[k][0]) / 1000, 3)
    f[f"{k}_p99_ms"] = round(statistics.median(lat[k][1]) / 1000, 3)
    f[f"{k}_errors"] = errors[k]
f["hblb_ratio"] = round(f["hblb_rps"] / f["direct_rps"], 3)
f["apache_ratio"] = round(f["apache_rps"] / f["direct_rps"], 3)
# the same ratio per round (side by side), their median
f["hblb_ratio_round_median"] = round(statistics.median(h / d for h, d in zip(per["hblb"], per["direct"])), 3)
f.update(rounds=rounds, seconds=secs, threads=threads, connections=conns)
json.dump({"http": f}, open(out, "w"), indent=1, sort_keys=True)
print(json.dumps(f, indent=1, sort_keys=True))
PY
