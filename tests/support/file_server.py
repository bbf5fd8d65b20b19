"""A tiny HTTP file server for fetcher tests: serves a directory on 127.0.0.1 from a thread,
plus a few misbehaving paths (`/slow/...` waits before answering, `/drip/...` sends one
byte a second, `/nolength/...` streams without a Content-Length).

    with FileServer(tmp_path) as server:
        url = server.url("run.sh")
"""

from __future__ import annotations

import functools
import http.server
import threading
import time
from pathlib import Path


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # quiet in test output
        pass

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/slow/"):
            time.sleep(3)
            self.path = self.path[len("/slow"):]
        elif self.path.startswith("/drip/"):
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            for _ in range(100):
                try:
                    self.wfile.write(b"x")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(1)
            return
        elif self.path.startswith("/nolength/"):
            data = (Path(self.directory) / self.path[len("/nolength/"):]).read_bytes()
            self.send_response(200)
            self.end_headers()
            self.wfile.write(data)
            self.close_connection = True
            return
        super().do_GET()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up (the fetcher's bounds at work) is not news


class FileServer:
    def __init__(self, directory: Path) -> None:
        handler = functools.partial(_Handler, directory=str(directory))
        self.httpd = _Server(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{path}"

    def __enter__(self) -> "FileServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
