#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A backend's HTTP server for the system tests: every GET is answered with
the backend's name as the body. HTTP/1.1 connections stay open (keep-alive)
for the long-lived clients; HTTP/1.0 requests are answered and closed.

Usage: sys_http.py NAME [PORT]
"""
import http.server
import socket
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # one segment per answer, sent at once: no Nagle wait behind the
        # client's delayed ACK, which would show up as 40 ms gaps
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self):
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY))

    def log_message(self, *args):
        pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256


if __name__ == "__main__":
    BODY = (sys.argv[1] + "\n").encode()
    Server(("0.0.0.0", int(sys.argv[2]) if len(sys.argv) > 2 else 80), Handler).serve_forever()
