"""MJPEG over HTTP with a live page. Standard library server (ThreadingHTTPServer), bound to 127.0.0.1 unless
told otherwise (a warning names any other address). Paths:

- ``/``: the live page (``_live_page.py``): the stream, the current counts and the last 20 events;
- ``/stream.mjpg``: the annotated (or anonymized) frames as multipart JPEG;
- ``/events``: server-sent events, one ``data:`` JSON message ``{"frame", "time", "counts", "events"}``
  whenever the counts change or new track records arrive (``events``: the last 20, newest first);
- ``/state.json``: the same JSON once; ``/snapshot.jpg``: the latest frame.

Only frames given to ``write`` ever reach it (for anonymize: anonymized frames)."""

from __future__ import annotations

import collections
import json
import logging
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

from ...results import Detections
from ._base import FrameMeta, SinkError
from ._json import json_default
from ._live_page import render_page

log = logging.getLogger(__name__)

__all__ = ["MjpegServer", "parse_hostport"]

BOUNDARY = "edgesdkframe"

LAST_EVENTS = 20  # track records kept for the page
LOOPBACK = ("127.0.0.1", "localhost", "::1")


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
    """Serve frames as MJPEG with a live page of counts and events. ``address`` is the bound (host, port)
    (port 0 picks a free one); a port in use raises SinkError here, before any frame is processed.
    JPEGs are encoded only while a client is watching, at most ``max_fps`` per second. ``caption`` is a line
    under the stream (anonymize: "faces anonymized on the device")."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8080, *, title: str = "edgesdk anonymize",
                 quality: int = 80, max_fps: float = 30.0, caption: str = "") -> None:
        self.title = title
        self._page = render_page(title, caption)
        self._events: collections.deque[dict] = collections.deque(maxlen=LAST_EVENTS)
        self._counts: dict[str, int] = {}
        self._state = json.dumps({"frame": None, "time": None, "counts": {}, "events": []}).encode()
        self._state_seq = 0
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
        self.address = (str(self._server.server_address[0]), int(self._server.server_address[1]))
        self.name = f"mjpeg:{self.url}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="mjpeg-server", daemon=True)
        self._thread.start()
        if host not in LOOPBACK:
            log.warning("serving the stream on %s: reachable from the network", host or "every interface")

    @property
    def url(self) -> str:
        host = f"[{self.address[0]}]" if ":" in self.address[0] else self.address[0]
        return f"http://{host}:{self.address[1]}/"

    def _encode(self, frame: np.ndarray) -> bytes:
        import cv2

        ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        if not ok:
            raise SinkError("cannot encode JPEG")
        return buf.tobytes()

    def write(self, frame: np.ndarray, detections: Detections | None = None, meta: FrameMeta | None = None) -> None:
        now = time.monotonic()
        if meta is not None:
            self.write_events(meta)
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

    def write_events(self, meta: FrameMeta) -> None:
        """Records with no new frame (the stream ended): the page shows them; the image stays the last frame."""
        if meta.events or meta.counts != self._counts:
            self._update_state(meta)

    def _update_state(self, meta: FrameMeta) -> None:
        """New track records or changed counts: a new state for the page's server-sent events."""
        self._counts = dict(meta.counts)
        for event in meta.events:
            self._events.appendleft(dict(event))
        state = {"frame": int(meta.index), "time": round(float(meta.timestamp), 3), "counts": self._counts,
                 "events": list(self._events)}
        data = json.dumps(state, separators=(",", ":"), default=json_default).encode()
        with self._cond:
            self._state = data
            self._state_seq += 1
            self._cond.notify_all()

    def state(self) -> dict:
        """What the page shows now: {"frame", "time", "counts", "events"}."""
        with self._cond:
            return json.loads(self._state)

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
                    self._send(HTTPStatus.OK, "text/html; charset=utf-8", sink._page)
                elif path == "/state.json":
                    with sink._cond:
                        state = sink._state
                    self._send(HTTPStatus.OK, "application/json", state)
                elif path == "/events":
                    self._events()
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

            def _events(self) -> None:
                self.send_response(HTTPStatus.OK)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Connection", "close")
                self.end_headers()
                seen = -1
                try:
                    self.wfile.write(b"retry: 2000\n\n")
                    while True:
                        with sink._cond:
                            sink._cond.wait_for(lambda seen=seen: sink._closed or sink._state_seq != seen, timeout=15.0)
                            if sink._closed:
                                break
                            fresh = sink._state_seq != seen
                            data, seen = sink._state, sink._state_seq
                        # a comment line every 15 s keeps proxies from closing an idle stream
                        self.wfile.write(b"data: " + data + b"\n\n" if fresh else b": keepalive\n\n")
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError, TimeoutError):
                    pass

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

