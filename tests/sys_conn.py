#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Clients for the system tests, run in the client namespace. Each backend
answers with its name (tests/sys_http.py), so every reply says who served it.

  count VIP N
      N new connections, one HTTP/1.0 request each; prints "NAME COUNT"
      lines, "none COUNT" for connections that failed.
  stream VIP OUT
      new connections back to back until SIGTERM; one line per connection
      in OUT: "START_NS END_NS NAME" (CLOCK_REALTIME, NAME "none" on failure).
  stream-report OUT [watch=NAME] [after=NS] [window=FROM_NS,TO_NS]
      sums up a stream: total=, failed=, per= counts by name; with watch,
      the start of the last connection NAME answered (last_watch_ns=) and
      how many that started after NS reached it (watch_after=); with
      window, how many failed connections were not in flight at some
      moment of the window (failed_outside=).
  hold VIP OUT --backends=b1,b2 [--per-backend=K] [--period-ms=MS] [--after=A]
      long-lived HTTP/1.1 connections: K to each named backend, opened
      first (others are closed), then one request every MS on each. Writes
      "ready" once all are open. After SIGUSR1 (the "mark", sent after the
      event under test) it stops as soon as every connection still working
      has A replies after the mark, and writes a JSON report to OUT: per
      connection the backend, replies, replies after the mark, the error
      that ended it (reset, closed, timeout, other backend), the largest gap
      between two replies and TCP's retransmission count.
"""
import json
import os
import signal
import socket
import struct
import sys
import threading
import time

PORT = 80
CONNECT_TIMEOUT = 5.0   # a lost SYN is retried after 1 s: let that count as success
REPLY_TIMEOUT = 10.0    # hang guard for a long-lived connection, far above any stall threshold
GUARD_AFTER_MARK = 30.0  # hang guard: a connection that cannot answer A times by then has failed


def who(data):
    body = data.split(b"\r\n\r\n", 1)
    return body[1].strip().decode(errors="replace") if len(body) == 2 else ""


def one_shot(vip):
    """One new connection, one HTTP/1.0 request: the name that answered or None."""
    try:
        with socket.create_connection((vip, PORT), timeout=CONNECT_TIMEOUT) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        return who(data) or None
    except OSError:
        return None


def cmd_count(vip, n):
    seen = {}
    for _ in range(int(n)):
        name = one_shot(vip) or "none"
        seen[name] = seen.get(name, 0) + 1
    for k in sorted(seen):
        print(k, seen[k])


def cmd_stream(vip, out):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    with open(out, "w") as f:
        while not stop:
            t0 = time.time_ns()
            name = one_shot(vip) or "none"
            f.write("%d %d %s\n" % (t0, time.time_ns(), name))
            f.flush()


def cmd_stream_report(out, *opts):
    o = dict(a.split("=", 1) for a in opts)
    watch, after = o.get("watch"), int(o.get("after", 0))
    lo, hi = (int(x) for x in o.get("window", "0,0").split(","))
    total = failed = failed_outside = watch_after = last_watch = 0
    per = {}
    with open(out) as f:
        for line in f:
            parts = line.split()
            if len(parts) != 3:
                continue
            start, end, name = int(parts[0]), int(parts[1]), parts[2]
            total += 1
            per[name] = per.get(name, 0) + 1
            if name == "none":
                failed += 1
                if "window" in o and (end < lo or start > hi):
                    failed_outside += 1
            if name == watch:
                last_watch = max(last_watch, start)
                if "after" in o and start > after:
                    watch_after += 1
    print("total=%d failed=%d failed_outside=%d last_watch_ns=%d watch_after=%d" % (
        total, failed, failed_outside, last_watch, watch_after))
    print("per=" + ",".join("%s:%d" % (k, per[k]) for k in sorted(per)))


class Held:
    """One long-lived keep-alive connection doing a request every period."""

    def __init__(self, sock, name, period):
        self.sock, self.name, self.period = sock, name, period
        self.replies = 1
        self.after_mark = 0
        self.error = None
        self.max_gap = 0.0
        self.last = time.monotonic()
        self.buf = b""

    def request(self):
        """One request and its reply: the name that answered."""
        self.sock.sendall(b"GET / HTTP/1.1\r\nHost: vip\r\n\r\n")
        while b"\r\n\r\n" not in self.buf:
            self.recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
        while len(self.buf) < length:
            self.recv()
        body, self.buf = self.buf[:length], self.buf[length:]
        return body.strip().decode(errors="replace")

    def recv(self):
        chunk = self.sock.recv(4096)
        if not chunk:
            raise EOFError
        self.buf += chunk

    def run(self, stop, marked):
        try:
            while not stop.is_set():
                stop.wait(self.period)
                name = self.request()
                now = time.monotonic()
                self.max_gap = max(self.max_gap, now - self.last)
                self.last = now
                if name != self.name:
                    self.error = "answered by %s" % name
                    return
                self.replies += 1
                if marked.is_set():
                    self.after_mark += 1
        except ConnectionResetError:
            self.error = "reset"
        except EOFError:
            self.error = "closed"
        except socket.timeout:
            self.error = "timeout"
        except OSError as e:
            self.error = str(e)

    def retrans(self):
        try:
            info = self.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
            return struct.unpack_from("I", info, 100)[0]        # tcpi_total_retrans
        except OSError:
            return -1


def cmd_hold(vip, out, backends, per_backend=2, period_ms=15, after=10):
    want = {b: int(per_backend) for b in backends.split(",")}
    held = []
    for _ in range(50 * sum(want.values())):
        if not any(want.values()):
            break
        try:
            s = socket.create_connection((vip, PORT), timeout=CONNECT_TIMEOUT)
        except OSError:
            continue
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.settimeout(REPLY_TIMEOUT)
        h = Held(s, None, int(period_ms) / 1000)
        try:
            h.name = h.request()
        except (OSError, EOFError):
            s.close()
            continue
        if want.get(h.name, 0) > 0:
            want[h.name] -= 1
            held.append(h)
        else:
            s.close()
    if any(want.values()):
        with open(out, "w") as f:
            json.dump({"error": "could not open connections to " + str(want)}, f)
        open(out + ".ready", "w").close()
        return 1

    stop, marked = threading.Event(), threading.Event()
    signal.signal(signal.SIGUSR1, lambda *_: marked.set())
    for h in held:
        h.last = time.monotonic()
    threads = [threading.Thread(target=h.run, args=(stop, marked), daemon=True) for h in held]
    for t in threads:
        t.start()
    open(out + ".ready", "w").close()
    while not marked.wait(0.05):
        pass
    guard = time.monotonic() + GUARD_AFTER_MARK
    while time.monotonic() < guard:
        if all(h.error or h.after_mark >= int(after) for h in held):
            break
        time.sleep(0.01)
    stop.set()
    for t in threads:
        t.join(REPLY_TIMEOUT + 1)
    report = [{"backend": h.name, "replies": h.replies, "after_mark": h.after_mark,
               "error": h.error or (None if h.after_mark >= int(after) else "stalled after the mark"),
               "max_gap_ms": round(h.max_gap * 1000, 1), "retrans": h.retrans()} for h in held]
    for h in held:
        h.sock.close()
    with open(out + ".tmp", "w") as f:
        json.dump({"connections": report}, f)
    os.rename(out + ".tmp", out)
    return 0


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "count":
        cmd_count(*args)
    elif cmd == "stream":
        cmd_stream(*args)
    elif cmd == "stream-report":
        cmd_stream_report(*args)
    elif cmd == "hold":
        pos = [a for a in args if not a.startswith("--")][:2]
        opts = dict(a[2:].replace("-", "_").split("=", 1) for a in args if a.startswith("--"))
        return cmd_hold(*pos, **opts)
    else:
        sys.exit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
