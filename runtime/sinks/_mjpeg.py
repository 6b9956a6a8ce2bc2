"""MJPEG over HTTP: a small HTML page at ``/``, the stream at ``/stream.mjpg``, the latest frame at
``/snapshot.jpg``. Standard library server (ThreadingHTTPServer), bound to 127.0.0.1 unless told otherwise.
Only anonymized frames ever reach it."""

from __future__ import annotations

import html
import logging
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from ...results import Detections
from ._base import FrameMeta, SinkError

log = logging.getLogger(__name__)

__all__ = ["MjpegServer", "parse_hostport"]

BOUNDARY = "edgesdkframe"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{margin:0;background:#111;color:#ddd;font:14px sans-serif;text-align:center}}
img{{max-width:100vw;max-height:92vh;display:block;margin:0 auto}}p{{margin:.5em}}</style></head>
<body><img src="/stream.mjpg" alt="anonymized stream"><p>{title} &middot; faces anonymized on the device &middot;
<a href="/snapshot.jpg" style="color:#9cf">snapshot</a></p></body></html>
"""


def parse_hostport(text: str, default_host: str = "127.0.0.1") -> tuple[str, int]:
    """'8080' | ':8080' | 'HOST:PORT' | '[::1]:8080' -> (host, port)."""
    t = text.strip()
    if t.startswith("["):
        host, _, rest = t[1:].partition("]")
        port = rest.lstrip(":")
    elif ":" in t:
        host, _, port = t.rpartition(":")
    else:
        host, port = "", t
    if not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected HOST:PORT (e.g. 127.0.0.1:8080), got {text!r}")
    return host or default_host, int(port)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class MjpegServer:
    """Serve anonymized frames as MJPEG. ``address`` is the bound (host, port) (port 0 picks a free one).
    JPEGs are encoded only while a client is watching, at most ``max_fps`` per second."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8080, *, title: str = "edgesdk anonymize",
                 quality: int = 80, max_fps: float = 30.0) -> None:
        self.title = title
        self.quality = quality
        self.min_interval = 1.0 / max_fps if max_fps > 0 else 0.0
        self._cond = threading.Condition()
        self._jpeg: bytes | None = None
        self._seq = 0
        self._frame: np.ndarray | None = None
        self._last_encode = 0.0
        self._clients = 0
        self._closed = False
        self.frames_sent = 0
        handler = self._handler_class()
        try:
            self._server = _Server((host, port), handler)
        except OSError as exc:
            raise SinkError(f"cannot serve on {host}:{port}: {exc.strerror or exc}") from None
        self.address: tuple[str, int] = self._server.server_address[:2]  # type: ignore[assignment]
        self.name = f"mjpeg:http://{self.address[0]}:{self.address[1]}/"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="mjpeg-server", daemon=True)
        self._thread.start()
        if host not in ("127.0.0.1", "localhost", "::1"):
            log.warning("serving the stream on %s: reachable from the network", host)

    @property
    def url(self) -> str:
        return f"http://{self.address[0]}:{self.address[1]}/"

    def _encode(self, frame: np.ndarray) -> bytes:
        import cv2

        ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise SinkError("cannot encode JPEG")
        return buf.tobytes()

    def write(self, frame: np.ndarray, detections: Detections | None = None, meta: FrameMeta | None = None) -> None:
        now = time.monotonic()
        with self._cond:
            self._frame = frame.copy()
            watching = self._clients > 0
        if watching and now - self._last_encode >= self.min_interval:
            jpeg = self._encode(frame)
            self._last_encode = now
            with self._cond:
                self._jpeg = jpeg
                self._seq += 1
                self._cond.notify_all()

    def snapshot(self) -> bytes | None:
        with self._cond:
            frame = self._frame
        return None if frame is None else self._encode(frame)

    def close(self) -> None:
        if self._closed:
            return
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler_class(self):
        sink = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "edgesdk-mjpeg"

            def log_message(self, fmt, *args):  # route to logging, not stderr
                log.debug("%s " + fmt, self.address_string(), *args)

            def _send(self, code, ctype, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):  # noqa: N802
                path = self.path.split("?", 1)[0]
                if path in ("/", "/index.html"):
                    self._send(HTTPStatus.OK, "text/html; charset=utf-8", PAGE.format(title=html.escape(sink.title)).encode())
                elif path == "/snapshot.jpg":
                    jpeg = sink.snapshot()
                    if jpeg is None:
                        self._send(HTTPStatus.SERVICE_UNAVAILABLE, "text/plain", b"no frame yet\n")
                    else:
                        self._send(HTTPStatus.OK, "image/jpeg", jpeg)
                elif path == "/stream.mjpg":
                    self._stream()
                else:
                    self._send(HTTPStatus.NOT_FOUND, "text/plain", b"not found\n")

            def _stream(self) -> None:
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Connection", "close")
                self.end_headers()
                with sink._cond:
                    sink._clients += 1
                    seen = 0
                try:
                    while True:
                        with sink._cond:
                            sink._cond.wait_for(lambda: sink._closed or sink._seq > seen, timeout=1.0)  # noqa: B023 (waits here, in this iteration)
                            if sink._closed:
                                break
                            if sink._seq <= seen:
                                continue
                            jpeg, seen = sink._jpeg, sink._seq
                        part = (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n").encode()
                        self.wfile.write(part + jpeg + b"\r\n")
                        self.wfile.flush()
                        sink.frames_sent += 1
                except (BrokenPipeError, ConnectionResetError, TimeoutError):
                    pass
                finally:
                    with sink._cond:
                        sink._clients -= 1

        return Handler
