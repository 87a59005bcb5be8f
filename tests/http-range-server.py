#!/usr/bin/python3
"""http-range-server.py PORT DIR — serve DIR on 127.0.0.1:PORT like
`python3 -m http.server`, but answer a single `Range: bytes=A-B` request
with 206 and those bytes, and keep connections alive, as mirrors (Apache,
nginx) do.  Python's own
server ignores ranges; imgbuild fetches package headers with them."""
import http.server
import os
import re
import sys


class Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"       # keep-alive, as mirrors do
    disable_nagle_algorithm = True      # TCP_NODELAY, as nginx on keep-alive:
                                        # else each small answer waits 40 ms for an ACK

    def log_message(self, *args):
        pass

    def send_head(self):
        self.range_left = None      # the handler lives as long as the connection
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        path = self.translate_path(self.path)
        if not m or not os.path.isfile(path):
            return super().send_head()
        size = os.path.getsize(path)
        start = int(m.group(1))
        end = min(int(m.group(2)) if m.group(2) else size - 1, size - 1)
        if start > end:
            self.send_error(416, "Requested Range Not Satisfiable")
            return None
        f = open(path, "rb")
        f.seek(start)
        self.send_response(206)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        self.range_left = end - start + 1
        return f

    def copyfile(self, source, outputfile):
        left = self.range_left
        if left is None:
            return super().copyfile(source, outputfile)
        while left > 0:
            buf = source.read(min(left, 65536))
            if not buf:
                break
            outputfile.write(buf)
            left -= len(buf)


if __name__ == "__main__":
    port, root = int(sys.argv[1]), sys.argv[2]
    handler = lambda *a, **kw: Handler(*a, directory=root, **kw)
    # socketserver's listen backlog is 5: a ninth parallel connect waits
    # for a SYN retry (1 s); mirrors listen with 511
    http.server.ThreadingHTTPServer.request_queue_size = 128
    http.server.ThreadingHTTPServer(("127.0.0.1", port), handler).serve_forever()
