# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Holds connections open to Apache in a half-sent request, so that each
keeps one worker busy: mod_heartbeat then reports ready - 1, busy + 1 per
connection. Every change is made just after one of Apache's heartbeats
(heard on the multicast group), so the next heartbeat, a second later,
sees all of it and never a half-made change.

    python3 apache_holder.py APACHE_ADDR LOCAL_ADDR N

Holds N connections; SIGUSR1: one more; SIGUSR2: closes all; SIGTERM: exits.
Prints one line after each change."""
import signal
import socket
import struct
import sys

apache, local, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
pending = []
signal.signal(signal.SIGUSR1, lambda *_: pending.append("add"))
signal.signal(signal.SIGUSR2, lambda *_: pending.append("release"))

hb = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
hb.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
hb.bind(("239.0.0.1", 27999))
hb.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
              struct.pack("4s4s", socket.inet_aton("239.0.0.1"), socket.inet_aton(local)))


def after_heartbeat():
    while True:
        try:
            _, (src, _) = hb.recvfrom(2048)
        except InterruptedError:
            continue
        if src == apache:
            return


def connect():
    s = socket.create_connection((apache, 80), timeout=5)
    s.sendall(b"GET / HTTP/1.0\r\n")    # no blank line: the worker waits for the rest
    return s


conns = []
after_heartbeat()
conns = [connect() for _ in range(n)]
print("held", len(conns), flush=True)
while True:
    after_heartbeat()
    while pending:
        what = pending.pop(0)
        if what == "add":
            conns.append(connect())
        else:
            for s in conns:
                s.close()
            conns = []
        print("held", len(conns), flush=True)
