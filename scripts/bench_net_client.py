#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""New HTTP connections, one after another, as fast as they complete, until
SIGTERM. Each line of OUT: "START_NS CONNECTED_NS BACKEND": CLOCK_MONOTONIC
(one clock in every network namespace, so it compares with the backends'
heartbeat send times) just before connect() and when it returned (the SYN
was steered between the two), and the body the backend answered with (its
name), or "-" when the connection failed.
Usage: bench_net_client.py ADDR PORT OUT"""
import signal
import socket
import sys
import time

addr, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
stop = False


def on_term(*_):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, on_term)
request = b"GET /id HTTP/1.0\r\n\r\n"
lines = []
flushed = time.monotonic()
while not stop:
    t = time.monotonic_ns()
    connected = t
    who = "-"
    try:
        with socket.create_connection((addr, port), timeout=1) as s:
            connected = time.monotonic_ns()
            s.sendall(request)
            data = b""
            while True:     # HTTP/1.0: the server closes, so no TIME_WAIT here
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        if head.startswith(b"HTTP/1.1 200") or head.startswith(b"HTTP/1.0 200"):
            who = body.strip().decode(errors="replace") or "-"
    except OSError:
        time.sleep(0.001)   # no backend answers: do not spin
    lines.append(f"{t} {connected} {who}\n")
    if time.monotonic() - flushed > 0.05:     # the driver watches the log live
        with open(out, "a") as f:
            f.writelines(lines)
        lines = []
        flushed = time.monotonic()
with open(out, "a") as f:
    f.writelines(lines)
