#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Merges the benchmark parts' figures into one report.

Each part (make bench-<target>) writes DIR/<part>.json as
{"<part>": {"key": number, ...}}; `make bench` also writes DIR/parts.txt,
one "<target> ok|failed|missing" line per part it tried. This writes:

  DIR/report.json  {"meta": {...}, "<part>": {its figures}, ...,
                    "targets": [{"part", "figure", "value", "target", "met"}]}
  DIR/report.md    a header (date, kernel, CPU), a table per part (figure,
                   value, reference, ratio, target, met) and a line per
                   part that is missing or failed
  DIR/report.png   with gnuplot (scripts/bench-report.gp), when installed

--check DIR reads report.json and parts.txt back and prints one ok/not ok
line per part that has a make target: its required figures must be there
as finite numbers (no time limit is checked: the smoke test of make test).

Python 3 standard library only.
"""
import argparse
import contextlib
import datetime
import io
import json
import math
import os
import platform
import shutil
import subprocess
import sys

# ---- what the report knows about every part --------------------------------
# A figure: key, label, unit, reference key (the ratio is value/reference,
# both from the same run), target (applies to "value" or "ratio"), required
# (the part's contract: the smoke test fails without it).


def fig(key, label, unit="", ref=None, target=None, on="value", required=True, spread=None):
    return {"key": key, "label": label, "unit": unit, "ref": ref, "target": target,
            "on": on, "required": required, "spread": spread}


def le(x):
    return ("<=", x)


def ge(x):
    return (">=", x)


def eq(x):
    return ("==", x)


def datapath_figs():
    def case(name, label, target=None, required=True):
        return fig(name + "_ns", label, "ns", ref=None if name == "floor_tx" else "floor_tx_ns",
                   target=target, on="ratio", required=required,
                   spread=(name + "_min_ns", name + "_max_ns"))
    return [
        case("floor_pass", "floor: empty XDP_PASS"),
        case("floor_tx", "floor: parse + MAC swap + XDP_TX (reference)"),
        case("established", "established flow", le(2.0)),
        case("new_flow", "new flow, flow table full (every insert evicts)", le(10.0)),
        case("heartbeat", "Apache heartbeat counted", le(4.0)),
        case("non_service", "not for a service (passed)"),
        case("established_1m_flows", "established, 1,000,000 flows taking turns"),
        fig("established_1m_flows_hit_share", "  share of those packets that hit the flow table"),
        fig("counters_ok", "counters showed every case on its path (1 = yes)", target=eq(1)),
    ]


def maglev_figs():
    out = []
    for n in (10, 100, 1000, 10000):
        for m in (65537, 655373):
            t = n == 1000 and m == 65537
            out.append(fig(f"build_ms_n{n}_m{m}", f"build (CPU), N = {n:,}, M = {m:,}", "ms",
                           target=le(1.0) if t else None))
            out.append(fig(f"swap_ms_n{n}_m{m}", f"install + swap, N = {n:,}, M = {m:,}", "ms",
                           target=le(2.0) if t else None))
            out.append(fig(f"update_ms_n{n}_m{m}", f"build + install + swap, N = {n:,}, M = {m:,}",
                           "ms", required=False))
    out += [
        fig("swap_ms_100_services", "100 services, one shared backend dies: install + swap of all",
            "ms", target=le(20.0)),
        fig("build_ms_100_services", "  exact Maglev builds of all 100 (10 backends each)", "ms"),
        fig("update_ms_100_services", "  builds + installs + swaps, together", "ms"),
    ]
    return out


def disruption_figs():
    out = []
    for n in (10, 100, 1000):
        out.append(fig(f"remove_1_of_{n}", f"flows moved, 1 of {n:,} backends removed", "share",
                       ref=f"remove_1_of_{n}_min", target=le(1.0 / n + 0.01)))
        out.append(fig(f"add_1_to_{n}", f"flows moved, 1 backend added to {n:,}", "share",
                       ref=f"add_1_to_{n}_min", target=le(1.0 / n + 0.01)))
    out += [
        fig("remove_1_of_1000_m655373", "flows moved, 1 of 1,000 removed, M = 655,373", "share",
            ref="remove_1_of_1000_m655373_min", target=le(1.0 / 1000 + 0.01)),
        fig("add_1_to_1000_m655373", "flows moved, 1 added to 1,000, M = 655,373", "share",
            ref="add_1_to_1000_m655373_min", target=le(1.0 / 1000 + 0.01)),
        fig("balance_max_min_n100", "largest / smallest share of flows, 100 equal backends",
            target=le(1.10)),
        fig("balance_slots_max_min_n100", "largest / smallest share of table slots, 100 equal",
            target=le(1.01)),
        fig("balance_max_min_n10", "largest / smallest share of flows, 10 equal", required=False),
        fig("balance_max_min_n1000", "largest / smallest share of flows, 1,000 equal",
            required=False),
    ]
    return out


def controller_figs():
    return [
        fig("build_ms_n1000_m65537", "Maglev build (CPU), N = 1,000, M = 65,537", "ms",
            target=le(1.0)),
        fig("swap_ms_n1000_m65537", "install + swap of a built table (CPU)", "ms", target=le(2.0)),
        fig("tick_ms_n1000_m65537", "tick that takes a dead backend out of 1 service of 1,000",
            "ms"),
        fig("tick_cpu_ms_100_services",
            "tick that takes a backend shared by 100 services out of all (CPU)", "ms",
            target=le(20.0)),
        fig("tick_ms_100_services", "  its wall time (the machine's load included)", "ms"),
        fig("exact_after_ticks_100_services", "  later ticks until every table is exact Maglev"),
        fig("idle_cpu_percent_1000_backends",
            "idle CPU, 1,000 backends beating at 1 Hz, 10 ms tick", "% of a core", target=le(1.0)),
    ]


PARTS = [
    # part (json name), make target (bench-<target>), title, figures
    ("datapath", "datapath", "Data path: ns per packet (BPF_PROG_TEST_RUN), ratio to the "
     "parse + XDP_TX floor", datapath_figs()),
    ("veth", "veth", "Forwarding over veth (native XDP), ratio to an XDP reflector", [
        fig("reflector_mpps", "XDP reflector (reference)", "Mpps"),
        fig("hblb_mpps", "hblb", "Mpps", ref="reflector_mpps", target=ge(0.9), on="ratio"),
        fig("ratio", "hblb / reflector, as the part measured it", target=ge(0.9)),
    ]),
    ("maglev", "maglev", "Maglev tables: build, install and swap", maglev_figs()),
    ("disruption", "disruption", "Disruption and balance (1,000,000 random flows, data-path "
     "hash, real tables); reference: the flows that had to move", disruption_figs()),
    ("controller", "ctl", "Controller on real maps", controller_figs()),
    ("failover", "failover", "Failover: a backend dies, until no new connection goes to it "
     "(reference: Apache mod_heartmonitor)", [
        fig("hblb_ms_p50", "hblb, 1 s interval x 3 (median)", "ms", ref="apache_ms_p50",
            target=le(3005)),
        fig("hblb_ms_max", "hblb, 1 s interval x 3 (max)", "ms", ref="apache_ms_p50"),
        fig("apache_ms_p50", "Apache mod_heartmonitor (reference)", "ms"),
        fig("hblb_10ms_ms_p50", "hblb, 10 ms interval x 3 (median)", "ms", target=le(35)),
    ]),
    ("heartbeat_scale", "hbscale", "Heartbeats at scale: every one counted", [
        fig("sent", "heartbeats sent"),
        fig("counted", "heartbeats counted", ref="sent"),
        fig("counted_ratio", "counted / sent", target=eq(1.0)),
        fig("ctl_cpu_share", "controller CPU share"),
    ]),
    ("http", "http", "HTTP through the VIP (wrk), ratio to the backends directly", [
        fig("direct_rps", "backends directly (reference)", "req/s"),
        fig("hblb_rps", "through hblb", "req/s", ref="direct_rps"),
        fig("apache_rps", "through Apache mod_proxy_balancer", "req/s", ref="direct_rps"),
    ]),
]


def finite(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def met(target, v):
    if target is None or v is None:
        return None
    op, x = target
    if op == "<=":
        return v <= x
    if op == ">=":
        return v >= x
    return abs(v - x) <= 1e-9


def fmt(v, unit=""):
    if v is None:
        return "-"
    if unit == "share":
        return f"{v * 100:.2f} %"
    a = abs(v)
    if a == 0 or (a >= 0.01 and a < 1e6 and float(v).is_integer()):
        s = f"{v:,.0f}"
    elif a >= 100:
        s = f"{v:,.0f}"
    elif a >= 1:
        s = f"{v:.4g}" if a < 10 else f"{v:.1f}"
    else:
        s = f"{v:.3g}"
    return f"{s} {unit}".strip() if unit and unit != "share" else s


def fmt_target(target, on, unit):
    if target is None:
        return ""
    op, x = target
    sym = {"<=": "≤", ">=": "≥", "==": "="}[op]
    if on == "ratio":
        return f"{sym} {x:g}×"
    if unit == "share":
        return f"{sym} {x * 100:.2f} %"
    return f"{sym} {x:g} {unit}".strip()


def read_status(d):
    status = {}
    try:
        with open(os.path.join(d, "parts.txt")) as f:
            for line in f:
                w = line.split()
                if len(w) == 2:
                    status[w[0]] = w[1]
    except FileNotFoundError:
        pass
    return status


def read_part(d, name):
    path = os.path.join(d, name + ".json")
    try:
        with open(path) as f:
            obj = json.load(f)
    except FileNotFoundError:
        return None, None
    except (OSError, ValueError) as e:
        return None, f"{path}: {e}"
    if not isinstance(obj, dict) or not isinstance(obj.get(name), dict):
        return None, f'{path}: not {{"{name}": {{...}}}}'
    figs = {k: v for k, v in obj[name].items() if finite(v)}
    bad = sorted(k for k, v in obj[name].items() if not finite(v))
    return figs, (f"{path}: not numbers: {', '.join(bad)}" if bad else None)


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "kernel": platform.release(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "host": platform.node(),
    }


def evaluate(name, figs, spec):
    """Rows of the part's table, in spec order, then figures spec does not know."""
    rows = []
    known = set()
    for s in spec:
        known.add(s["key"])
        if s["ref"]:
            known.add(s["ref"])
        if s["spread"]:
            known.update(s["spread"])
        v = figs.get(s["key"])
        ref = figs.get(s["ref"]) if s["ref"] else None
        ratio = v / ref if v is not None and ref else None
        judged = ratio if s["on"] == "ratio" else v
        rows.append({**s, "value": v, "refval": ref, "ratio": ratio,
                     "met": met(s["target"], judged)})
    # the part's own ratios to a reference the table already divides by
    known.update(s["key"][:-3] + "_ratio" for s in spec if s["ref"] and s["key"].endswith("_ns"))
    other = {k: figs[k] for k in sorted(figs) if k not in known}
    return rows, other


def write_md(path, meta, results, quick):
    out = []
    met_n = sum(1 for r in results.values() for row in r["rows"] if row["met"] is True)
    miss_n = sum(1 for r in results.values() for row in r["rows"] if row["met"] is False)
    absent = [p for p, r in results.items() if r["figs"] is None]
    out.append("# hblb benchmark report\n")
    out.append(f"- date: {meta['date']}" + (" (quick: small sizes, a smoke run)" if quick else ""))
    out.append(f"- kernel: {meta['kernel']}")
    out.append(f"- CPU: {meta['cpu']} × {meta['cpus']}")
    out.append(f"- targets: {met_n} met, {miss_n} not met"
               + (f"; parts without figures: {', '.join(absent)}" if absent else ""))
    out.append("")
    out.append("Ratios are to a reference measured in the same run; the machine is shared "
               "and noisy, so compare ratios rather than absolute times.\n")
    for name, target, title, _ in PARTS:
        r = results[name]
        out.append(f"## {name}: {title}\n")
        if r["figs"] is None:
            why = {"missing": f"no `make bench-{target}` target on this branch",
                   "failed": f"`make bench-{target}` failed"}.get(r["status"],
                                                                  "no figures were written")
            out.append(f"**missing**: {why}.\n")
            continue
        if r["error"]:
            out.append(f"warning: {r['error']}\n")
        out.append("| figure | value | reference | ratio | target | met |")
        out.append("|---|---:|---:|---:|---|---|")
        for row in r["rows"]:
            v = fmt(row["value"], row["unit"]) if row["value"] is not None else "not measured"
            if row["spread"] and row["value"] is not None:
                lo, hi = (r["figs"].get(k) for k in row["spread"])
                if lo is not None and hi is not None:
                    v += f" [{fmt(lo)}–{fmt(hi)}]"
            ref = fmt(row["refval"], row["unit"]) if row["refval"] is not None else ""
            ratio = f"{row['ratio']:.2f}×" if row["ratio"] is not None else ""
            m = {True: "met", False: "**not met**", None: ""}[row["met"]]
            out.append(f"| {row['label']} | {v} | {ref} | {ratio} | "
                       f"{fmt_target(row['target'], row['on'], row['unit'])} | {m} |")
        if r["other"]:
            out.append("")
            out.append("Also measured: " + ", ".join(f"`{k}` {fmt(v)}" for k, v in r["other"].items())
                       + ".")
        out.append("")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(out))
    os.replace(path + ".tmp", path)


def write_plot(d, results):
    """Data files for scripts/bench-report.gp, then gnuplot; False if it cannot."""
    gp = shutil.which("gnuplot")
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench-report.gp")
    if not gp:
        print("bench-report: gnuplot is not installed (scripts/deps.sh --bench): no report.png",
              file=sys.stderr)
        return False
    pd = os.path.join(d, "plot")
    os.makedirs(pd, exist_ok=True)
    have = {}

    def data(name, lines):
        have[name] = 1 if lines else 0
        with open(os.path.join(pd, name + ".dat"), "w") as f:
            f.write("\n".join(lines) + "\n")

    def figs(part):
        return results[part]["figs"] or {}

    dp = figs("datapath")
    data("datapath", [f'"{c}" {dp[c + "_ns"]} {dp.get(c + "_min_ns", dp[c + "_ns"])} '
                      f'{dp.get(c + "_max_ns", dp[c + "_ns"])} {1 if c.startswith("floor") else 0}'
                      for c in ("floor_pass", "floor_tx", "established", "non_service",
                                "new_flow", "heartbeat", "established_1m_flows")
                      if c + "_ns" in dp])
    mg = figs("maglev")
    data("maglev", [" ".join([str(n)] + [str(mg.get(f"{k}_ms_n{n}_m{m}", "NaN"))
                                         for m in (65537, 655373) for k in ("build", "swap")])
                    for n in (10, 100, 1000, 10000) if f"build_ms_n{n}_m65537" in mg])
    ds = figs("disruption")
    data("disruption", [f"{n} {ds[f'remove_1_of_{n}']} {ds.get(f'add_1_to_{n}', 'NaN')} "
                        f"{ds.get(f'remove_1_of_{n}_min', 'NaN')} {1.0 / n + 0.01}"
                        for n in (10, 100, 1000) if f"remove_1_of_{n}" in ds])
    ct, fo = figs("controller"), figs("failover")
    data("times", [f'"{label}" {v} {t}' for label, v, t in (
        ("ctl: 1 svc tick", ct.get("tick_ms_n1000_m65537"), "NaN"),
        ("ctl: 100 svc tick (CPU)", ct.get("tick_cpu_ms_100_services"), 20),
        ("failover 10 ms x3", fo.get("hblb_10ms_ms_p50"), 35),
    ) if v is not None])
    data("failover", [f'"{label}" {v} {t}' for label, v, t in (
        ("hblb 1 s x3 p50", fo.get("hblb_ms_p50"), 3005),
        ("hblb 1 s x3 max", fo.get("hblb_ms_max"), 3005),
        ("Apache p50", fo.get("apache_ms_p50"), "NaN"),
    ) if v is not None])
    ve, hs, ht = figs("veth"), figs("heartbeat_scale"), figs("http")

    def ratio(a, b):
        return a / b if a is not None and b else None
    data("ratios", [f'"{label}" {v} {t}' for label, v, t in (
        ("veth hblb/reflector", ratio(ve.get("hblb_mpps"), ve.get("reflector_mpps")), 0.9),
        ("heartbeats counted/sent", hs.get("counted_ratio"), 1.0),
        ("http hblb/direct", ratio(ht.get("hblb_rps"), ht.get("direct_rps")), "NaN"),
        ("http apache/direct", ratio(ht.get("apache_rps"), ht.get("direct_rps")), "NaN"),
    ) if v is not None])
    args = "; ".join([f"dir='{pd}'", f"out='{os.path.join(d, 'report.png')}'"]
                     + [f"has_{k}={v}" for k, v in have.items()])
    p = subprocess.run([gp, "-e", args, script], capture_output=True, text=True)
    if p.returncode != 0:
        print(f"bench-report: gnuplot failed:\n{p.stderr}", file=sys.stderr)
        return False
    return True


def report(d, quick):
    status = read_status(d)
    meta = machine()
    meta["quick"] = quick
    meta["parts"] = {}
    results = {}
    merged = {"meta": meta}
    targets = []
    for name, target, title, spec in PARTS:
        figs, error = read_part(d, name)
        st = status.get(target, "ok" if figs is not None else "missing")
        if figs is not None and st == "failed":
            # written before the failure (e.g. a case that ran the wrong path
            # is left out): shown, with the failure said
            error = f"make bench-{target} failed; the figures it wrote are shown" + \
                (f"; {error}" if error else "")
        meta["parts"][name] = st if figs is not None or st != "ok" else "no figures"
        rows, other = evaluate(name, figs, spec) if figs is not None else ([], {})
        results[name] = {"figs": figs, "error": error, "status": st, "rows": rows,
                         "other": other}
        if figs is not None:
            merged[name] = figs
        for row in rows:
            if row["target"] is not None:
                op, x = row["target"]
                targets.append({"part": name, "figure": row["key"], "on": row["on"],
                                "value": row["ratio"] if row["on"] == "ratio" else row["value"],
                                "target": f"{op} {x:g}", "met": row["met"]})
        if error:
            print(f"bench-report: {error}", file=sys.stderr)
    merged["targets"] = targets
    path = os.path.join(d, "report.json")
    with open(path + ".tmp", "w") as f:
        json.dump(merged, f, indent=2)
        f.write("\n")
    os.replace(path + ".tmp", path)
    write_md(os.path.join(d, "report.md"), meta, results, quick)
    png = write_plot(d, results)
    for name, _, _, _ in PARTS:
        r = results[name]
        if r["figs"] is None:
            print(f"{name:16} {r['status']}")
        else:
            n_met = sum(1 for row in r["rows"] if row["met"] is True)
            n_miss = sum(1 for row in r["rows"] if row["met"] is False)
            print(f"{name:16} {len(r['figs'])} figures, targets: {n_met} met, {n_miss} not met")
    print(f"report: {path}, {os.path.join(d, 'report.md')}"
          + (f", {os.path.join(d, 'report.png')}" if png else ""))
    return 0


def check(d):
    """The smoke test: every part that has a target produced its figures."""
    status = read_status(d)
    passed = failed = 0

    def result(ok, msg):
        nonlocal passed, failed
        print(("ok - " if ok else "not ok - ") + msg)
        if ok:
            passed += 1
        else:
            failed += 1

    try:
        with open(os.path.join(d, "report.json")) as f:
            rep = json.load(f)
    except (OSError, ValueError) as e:
        rep = None
        result(False, f"report.json: {e}")
    if not status:
        result(False, "parts.txt: no part was run")
    for name, target, _, spec in PARTS:
        st = status.get(target)
        if rep is None or st is None:
            continue
        if st == "missing":
            print(f"# {name}: no make bench-{target} on this branch")
            continue
        result(st == "ok", f"make bench-{target} succeeded ({st})")
        figs = rep.get(name)
        if not isinstance(figs, dict):
            result(False, f"{name}: no figures in report.json")
            continue
        want = [s["key"] for s in spec if s["required"]] + \
               [s["ref"] for s in spec if s["required"] and s["ref"]]
        lost = [k for k in dict.fromkeys(want) if not finite(figs.get(k))]
        result(not lost, f"{name}: {len(want) - len(lost)} of {len(want)} required figures"
               + (f" (missing: {', '.join(lost)})" if lost else ""))
    if rep is not None:
        for f in ("report.md",) + (("report.png",) if shutil.which("gnuplot") else ()):
            p = os.path.join(d, f)
            result(os.path.isfile(p) and os.path.getsize(p) > 0, f"{f} written")
    print(f"bench: {passed} passed, {failed} failed")
    return 1 if failed else 0


def self_test():
    """The report itself, on figures shaped as every part's contract says,
    including the parts other branches write: each target judged as it
    should be, a missing and a failed part said so, a non-number refused."""
    import tempfile
    passed = failed = 0

    def result(ok, msg):
        nonlocal passed, failed
        print(("ok - " if ok else "not ok - ") + msg)
        passed, failed = passed + ok, failed + (not ok)

    parts = {
        "datapath": {"floor_pass_ns": 22, "floor_tx_ns": 26, "established_ns": 45,
                     "new_flow_ns": 300, "heartbeat_ns": 95, "non_service_ns": 30,
                     "established_1m_flows_ns": 210, "counters_ok": 1},
        "veth": {"reflector_mpps": 6.0, "hblb_mpps": 5.1, "ratio": 0.85},
        "maglev": {"build_ms_n1000_m65537": 0.9, "swap_ms_n1000_m65537": 0.004,
                   "swap_ms_100_services": 1.1},
        "failover": {"hblb_ms_p50": 3004, "hblb_ms_max": 3010, "apache_ms_p50": 9000,
                     "hblb_10ms_ms_p50": 36},
        "heartbeat_scale": {"sent": 1000, "counted": 1000, "counted_ratio": 1.0,
                            "ctl_cpu_share": 0.01},
        "http": {"hblb_rps": 9000, "direct_rps": 10000, "apache_rps": 5000},
        "controller": {"tick_cpu_ms_100_services": "12"},   # not a number
    }
    expect = {   # (part, figure): met
        ("datapath", "established_ns"): True,       # 1.73x <= 2
        ("datapath", "new_flow_ns"): False,         # 11.5x > 10
        ("datapath", "heartbeat_ns"): True,
        ("veth", "hblb_mpps"): False,               # 0.85 < 0.9
        ("veth", "ratio"): False,
        ("maglev", "build_ms_n1000_m65537"): True,
        ("maglev", "swap_ms_100_services"): True,
        ("failover", "hblb_ms_p50"): True,          # 3004 <= 3005
        ("failover", "hblb_10ms_ms_p50"): False,    # 36 > 35
        ("heartbeat_scale", "counted_ratio"): True,
    }
    with tempfile.TemporaryDirectory() as d:
        for name, figs in parts.items():
            with open(os.path.join(d, name + ".json"), "w") as f:
                json.dump({name: figs}, f)
        with open(os.path.join(d, "parts.txt"), "w") as f:
            f.write("datapath ok\nveth ok\nmaglev ok\ndisruption missing\nctl failed\n"
                    "failover ok\nhbscale ok\nhttp ok\n")
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            report(d, False)
        with open(os.path.join(d, "report.json")) as f:
            rep = json.load(f)
        with open(os.path.join(d, "report.md")) as f:
            md = f.read()
    for name in ("datapath", "veth", "maglev", "failover", "heartbeat_scale", "http"):
        result(rep.get(name) == parts[name], f"{name}: figures merged unchanged")
    got = {(t["part"], t["figure"]): t["met"] for t in rep["targets"]}
    for k, want in expect.items():
        result(got.get(k) is want, f"{k[0]}.{k[1]}: target {'met' if want else 'not met'}")
    result(rep["meta"]["parts"].get("disruption") == "missing" and
           "no `make bench-disruption` target" in md, "a part without a target: missing")
    result(rep["meta"]["parts"].get("controller") == "failed" and "controller" in rep and
           "tick_cpu_ms_100_services" not in rep["controller"], "a failed part with a non-number")
    result("| through hblb | 9,000 req/s | 10,000 req/s | 0.90× |" in md,
           "http: ratio to the reference in report.md")
    result(md.count("\n## ") == len(PARTS), "report.md: a section per part")
    print(f"bench_report: {passed} passed, {failed} failed")
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir", nargs="?", help="the bench directory, e.g. build/bench")
    ap.add_argument("--quick", action="store_true", help="mark the report as a quick run")
    ap.add_argument("--check", action="store_true",
                    help="check report.json has every part's required figures")
    ap.add_argument("--self-test", action="store_true",
                    help="check the report on made-up figures of every part, then exit")
    a = ap.parse_args()
    if a.self_test:
        return self_test()
    if not a.dir or not os.path.isdir(a.dir):
        print(f"bench-report: {a.dir} is not a directory (run make bench)", file=sys.stderr)
        return 1
    return check(a.dir) if a.check else report(a.dir, a.quick)


if __name__ == "__main__":
    sys.exit(main())
