#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""One interval's failover trials in a topology built by bench-failover.sh.

Every backend beats with `hblb beat --log-sends` (multicast: hblb and the
Apache reference both hear it) and keeps serving HTTP throughout; clients in
the client namespace open new connections to each target (hblb's VIP, the
Apache balancer) without pause and log when each started and which backend
answered. A trial silences one backend's heartbeats (SIGTERM: its log's last
line is its last heartbeat) until every target has stopped sending it new
connections, then restarts them (the new log's first line is the first
resumed heartbeat) and waits until every target sends it connections again.
Trials rotate over the backends and overlap (at most all but one silent), but
each backend's trials follow one another, so each trial is independent.

  out  = last connection answered by X before it resumed - X's last heartbeat
  back = first connection answered by X after it resumed - X's first new heartbeat

A connection's time is when connect() returned (the LB steered its SYN
before that); a heartbeat's is taken just before it is sent (the LB hears it
after that). "back" so errs long only; "out" errs long by the same, and
short by up to one sampling gap (the backend may still have been in the
table a little after its last observed connection): sample_gap_ms is the
mean time between two connections to one backend.

Prints a JSON object of figures for this interval; keys are TARGET+SUFFIX+_ms_p50 etc."""
import argparse
import json
import os
import signal
import subprocess
import sys
import time


def parse_args():
    a = argparse.ArgumentParser()
    a.add_argument("--prefix", required=True)
    a.add_argument("--hblb", required=True)
    a.add_argument("--work", required=True)
    a.add_argument("--backends", type=int, required=True)
    a.add_argument("--interval", type=int, required=True, help="heartbeat interval, ms")
    a.add_argument("--dead-after", type=int, default=3)
    a.add_argument("--trials", type=int, required=True)
    a.add_argument("--target", action="append", required=True, help="NAME=ADDR (port 80)")
    a.add_argument("--clients", type=int, default=2, help="client processes per target")
    a.add_argument("--gap", type=float, required=True,
                   help="seconds without a connection to a backend that mean it is out")
    a.add_argument("--stagger", type=float, required=True, help="minimum seconds between trial starts")
    a.add_argument("--max-silent", type=float, required=True)
    a.add_argument("--max-back", type=float, required=True)
    a.add_argument("--pin-dir", required=True, help="hblb's pin directory (to wait until all are up)")
    a.add_argument("--suffix", default="", help="inserted after the target name in every key")
    return a.parse_args()


def mono():
    return time.monotonic_ns()


class Log:
    """A file another process appends lines to, read incrementally."""

    def __init__(self, path):
        self.path, self.pos, self.rest = path, 0, ""

    def new_lines(self):
        try:
            with open(self.path) as f:
                f.seek(self.pos)
                data = f.read()
                self.pos = f.tell()
        except FileNotFoundError:
            return []
        data = self.rest + data
        lines = data.split("\n")
        self.rest = lines.pop()
        return lines


def pct(values, p):
    v = sorted(values)
    if not v:
        return None
    k = (len(v) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def on_signal(sig, _frame):
    raise SystemExit(128 + sig)     # through the finally below: stop beats and clients


def main():
    # SIGINT too: a background job of a shell starts with it ignored
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    a = parse_args()
    targets = dict(t.split("=", 1) for t in a.target)
    names = [f"b{i}" for i in range(1, a.backends + 1)]
    procs = []

    def start_beat(b, gen):
        path = os.path.join(a.work, f"beat-{a.interval}-{b}-{gen}.log")
        out = open(path, "w")
        p = subprocess.Popen(["ip", "netns", "exec", f"{a.prefix}-{b}", a.hblb, "beat",
                              "--interval", str(a.interval), "--ready", "10", "--busy", "1",
                              "--log-sends"], stdout=out, stderr=subprocess.DEVNULL)
        out.close()
        procs.append(p)
        return p, path

    def stop(p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def read_beats(path):
        with open(path) as f:
            return [int(x) for x in f.read().split()]

    beat = {b: start_beat(b, 0) for b in names}
    clients, logs = [], {}
    for t, addr in targets.items():
        for k in range(a.clients):
            path = os.path.join(a.work, f"client-{a.interval}-{t}-{k}.log")
            clients.append(subprocess.Popen(["ip", "netns", "exec", f"{a.prefix}-cl", sys.executable,
                                             os.path.join(os.path.dirname(__file__), "bench_net_client.py"),
                                             addr, "80", path]))
            logs[path] = (t, Log(path))
    procs += clients
    # live view: per target, the last connection time per backend and the newest line
    last_seen = {t: {} for t in targets}
    newest = {t: 0 for t in targets}
    conns = {t: [] for t in targets}
    connect_ns = {t: [] for t in targets}

    def poll():
        for t, log in logs.values():
            for line in log.new_lines():
                start_ns, ts, who = line.split()
                ts = int(ts)
                conns[t].append((ts, who))
                connect_ns[t].append(ts - int(start_ns))
                newest[t] = max(newest[t], ts)
                if who != "-":
                    last_seen[t][who] = max(last_seen[t].get(who, 0), ts)

    def hblb_all_up():
        r = subprocess.run(["nsenter", f"--net=/run/netns/{a.prefix}-lb", a.hblb, "--pin-dir", a.pin_dir,
                            "-j", "backend", "list"], capture_output=True, text=True)
        try:
            states = [x["state"] for x in json.loads(r.stdout)]
        except ValueError:
            return False
        return len(states) == len(names) and all(s == "up" for s in states)

    def all_serving(b, since):
        return all(last_seen[t].get(b, 0) > since for t in targets)

    def all_out(b, since):
        # every target has newer connections, none to b for the gap, and its last to b is older
        gap = int(a.gap * 1e9)
        return all(newest[t] - max(last_seen[t].get(b, 0), since) > gap for t in targets)

    try:
        deadline = time.monotonic() + 60
        while not hblb_all_up():    # not just served: all-down fail-open serves every backend too
            if time.monotonic() > deadline:
                r = subprocess.run(["nsenter", f"--net=/run/netns/{a.prefix}-lb", a.hblb, "--pin-dir",
                                    a.pin_dir, "backend", "list"], capture_output=True, text=True)
                sys.exit("hblb did not bring every backend up within 60 s:\n" + r.stdout + r.stderr)
            time.sleep(0.1)
        start = mono()
        while True:
            poll()
            if all(all_serving(b, start + int(0.5e9)) for b in names) and \
               all(newest[t] > start + int(1e9) for t in targets):
                break
            if time.monotonic() > deadline:
                sys.exit("not every target reached every backend within 60 s: " + json.dumps(last_seen))
            time.sleep(0.05)

        trials = []         # dicts: backend, stop_ns, last_beat, resume_path, state
        busy = {}           # backend -> its running trial
        next_trial, last_start = 0, 0.0
        while next_trial < a.trials or busy:
            poll()
            now = time.monotonic()
            silent = sum(1 for tr in busy.values() if tr["state"] == "silent")
            b = names[next_trial % len(names)] if next_trial < a.trials else None
            if b and b not in busy and silent < len(names) - 1 and now - last_start >= a.stagger:
                p, path = beat[b]
                stop(p)
                beats = read_beats(path)
                tr = {"backend": b, "last_beat": beats[-1] if beats else None, "stop": mono(),
                      "state": "silent", "t": now}
                trials.append(tr)
                busy[b] = tr
                next_trial += 1
                last_start = now
            for b, tr in list(busy.items()):
                if tr["state"] == "silent" and (all_out(b, tr["stop"]) or now - tr["t"] > a.max_silent):
                    tr["resume_path"] = None
                    beat[b] = start_beat(b, len(trials))
                    tr["resume_path"] = beat[b][1]
                    tr["resumed"] = mono()
                    tr["state"], tr["t"] = "back", now
                elif tr["state"] == "back" and (all_serving(b, tr["resumed"]) or now - tr["t"] > a.max_back):
                    del busy[b]
            time.sleep(0.01)
        time.sleep(0.2)
    finally:
        for p in clients:
            stop(p)
        for p in procs:
            stop(p)
    poll()

    # exact figures from the complete logs
    res = {}
    gap = int(a.gap * 1e9)
    for t in targets:
        by_backend = {}
        for ts, who in sorted(conns[t]):
            by_backend.setdefault(who, []).append(ts)
        outs, backs, not_out = [], [], 0
        for tr in trials:
            first = read_beats(tr["resume_path"])
            times = by_backend.get(tr["backend"], [])
            if tr["last_beat"] is None or not first:
                not_out += 1
                continue
            resume = first[0]
            before = [x for x in times if x < resume]
            after = [x for x in times if x >= resume]
            if not before or resume - before[-1] < gap:
                not_out += 1     # still receiving connections when its beats resumed
                continue
            outs.append((before[-1] - tr["last_beat"]) / 1e6)
            if after:
                backs.append((after[0] - resume) / 1e6)
        key = f"{t}{a.suffix}"
        for name, vals in (("ms", outs), ("back_ms", backs)):
            for p in (50, 90):
                v = pct(vals, p)
                if v is not None:
                    res[f"{key}_{name}_p{p}"] = round(v, 2)
            if vals:
                res[f"{key}_{name}_min"] = round(min(vals), 2)
                res[f"{key}_{name}_max"] = round(max(vals), 2)
        dead = a.dead_after * a.interval
        if outs:
            res[f"{key}_excess_ms_p50"] = round(pct(outs, 50) - dead, 2)
            res[f"{key}_excess_ms_max"] = round(max(outs) - dead, 2)
        res[f"{key}_trials"] = len(outs)
        res[f"{key}_trials_not_out"] = not_out
        # sampling resolution: connections answered per second over the run
        ok = [ts for ts, who in conns[t] if who != "-"]
        if len(ok) > 1:
            res[f"{key}_conn_per_s"] = round((len(ok) - 1) / ((max(ok) - min(ok)) / 1e9), 1)
            res[f"{key}_sample_gap_ms"] = round(len(names) / res[f"{key}_conn_per_s"] * 1e3, 3)
        # how far a connection's time can be from its SYN's
        if connect_ns[t]:
            res[f"{key}_connect_ms_p50"] = round(pct(connect_ns[t], 50) / 1e6, 3)
            res[f"{key}_connect_ms_p99"] = round(pct(connect_ns[t], 99) / 1e6, 3)
        # failures while trials ran (before, the targets were still learning the backends)
        t0 = trials[0]["stop"] if trials else 0
        res[f"{key}_failed_conns"] = sum(1 for ts, who in conns[t] if who == "-" and ts >= t0)
    res[f"dead_after{a.suffix}_ms"] = a.dead_after * a.interval
    print(json.dumps(res, sort_keys=True))


if __name__ == "__main__":
    main()
