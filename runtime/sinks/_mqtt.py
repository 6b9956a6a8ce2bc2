"""MQTT sink: track events and retained counts for home automation (the Frigate / Home Assistant convention).

Topics under ``PREFIX`` (from ``mqtt://HOST[:PORT]/PREFIX``), all QoS 1:

- ``PREFIX/events``: one JSON message per track record (``meta.events``: new, end, enter, leave, cross), not
  retained. Per-frame detection records are NOT published (at camera rates they would flood the broker and
  the offline queue; ``--events FILE.jsonl`` keeps them).
- ``PREFIX/<label>``, ``PREFIX/<zone>/<label>``, ``PREFIX/<line>/<label>/<direction>``: the current count as
  a decimal string, retained, published only when it changes (a count that disappears from ``meta.counts``
  is published as ``0``). After a reconnect every count is published again (a restarted broker may have
  lost its retained messages).
- ``PREFIX/available``: ``online`` (retained) while the sink runs, ``offline`` on close and as the last will.

A broker that refuses at open time (nothing listening, wrong password, not authorized) raises SinkError
before any frame is processed. A broker lost mid-run does not stop the run: messages wait in paho's queue
(at most ``queue_size``, default :data:`DEFAULT_QUEUE_SIZE`), counts are coalesced to their latest value, and
everything is delivered when the broker is back; what did not fit is dropped and counted (:meth:`MqttSink.stats`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from ...errors import InputError
from ...results import Detections
from ._base import FrameMeta, SinkError
from ._json import json_default

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_QUEUE_SIZE", "MqttSink", "MqttStats", "MqttTarget", "parse_mqtt_url", "read_password_file"]

DEFAULT_PORT = 1883
DEFAULT_QUEUE_SIZE = 10_000  # messages held while the broker is away (about 2 MB of events)
QOS = 1
_HEADROOM = 64  # paho's own bound is queue_size + this: room for the availability messages

_HOST = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?)$")


@dataclass(frozen=True)
class MqttTarget:
    """A parsed ``mqtt://HOST[:PORT]/PREFIX``."""

    host: str
    port: int
    prefix: str

    def topic(self, *parts: str) -> str:
        return "/".join([self.prefix, *(_topic_part(p) for p in parts)])

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"mqtt://{host}:{self.port}/{self.prefix}"


def parse_mqtt_url(url: str) -> MqttTarget:
    """``mqtt://HOST[:PORT]/PREFIX`` -> MqttTarget (port 1883 by default; PREFIX one or more topic levels,
    e.g. ``edgesdk/door``). Raises InputError naming what is wrong: another scheme, no host, a bad port,
    no prefix, wildcards or empty levels in the prefix, credentials in the URL, a query string."""
    text = url.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        raise InputError(f"MQTT URL {url!r} must look like mqtt://HOST[:PORT]/PREFIX")
    if scheme.lower() != "mqtt":
        raise InputError(f"MQTT URL {url!r}: only mqtt:// is supported (got {scheme}://)")
    if "?" in rest or "#" in rest.partition("/")[0]:
        raise InputError(f"MQTT URL {url!r}: no query string or fragment allowed")
    netloc, _, prefix = rest.partition("/")
    if "@" in netloc:
        raise InputError(f"MQTT URL {url!r}: put credentials in --mqtt-user and --mqtt-password-file, not in the URL")
    if netloc.startswith("["):
        host, _, tail = netloc.partition("]")
        host += "]"
        if tail and not tail.startswith(":"):
            raise InputError(f"MQTT URL {url!r}: bad host {netloc!r}")
        port_text = tail[1:] if tail else ""
    else:
        host, colon, port_text = netloc.partition(":")
        if colon and not port_text:
            raise InputError(f"MQTT URL {url!r}: empty port")
    if not host or not _HOST.match(host):
        raise InputError(f"MQTT URL {url!r}: missing or invalid host")
    port = DEFAULT_PORT
    if port_text:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise InputError(f"MQTT URL {url!r}: port must be a number from 1 to 65535, got {port_text!r}")
        port = int(port_text)
    prefix = prefix.strip("/")
    if not prefix:
        raise InputError(f"MQTT URL {url!r}: add a topic prefix, e.g. mqtt://{netloc}/edgesdk")
    if "+" in prefix or "#" in prefix or "\x00" in prefix:
        raise InputError(f"MQTT URL {url!r}: the topic prefix must not contain the wildcards + or #")
    if "" in prefix.split("/"):
        raise InputError(f"MQTT URL {url!r}: the topic prefix has an empty level (//)")
    return MqttTarget(host.strip("[]"), port, prefix)


def _topic_part(text: str) -> str:
    """A label, zone or line name as topic levels: wildcards and NUL replaced by '_'; '/' kept (counts keys
    are already '<zone>/<label>')."""
    return re.sub(r"[+#\x00]", "_", str(text)) or "_"


def read_password_file(path: str | os.PathLike) -> str:
    """The first line of ``path`` (trailing newline stripped). Raises SinkError when unreadable or empty;
    warns when other users may read it."""
    p = Path(path)
    try:
        mode = p.stat().st_mode
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SinkError(f"MQTT password file not found: {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SinkError(f"cannot read MQTT password file {p}: {getattr(exc, 'strerror', None) or exc}") from None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        log.warning("MQTT password file %s is readable by other users (chmod 600 it)", p)
    password = text.splitlines()[0] if text else ""
    if not password:
        raise SinkError(f"MQTT password file {p} is empty")
    return password


@dataclass(frozen=True)
class MqttStats:
    """Messages acknowledged by the broker (sent), waiting in the queue or in flight (queued), dropped because
    the queue was full (dropped); ``queue_size`` is the bound, ``reconnects`` how often the broker came back."""

    sent: int
    queued: int
    dropped: int
    queue_size: int
    connected: bool
    reconnects: int


class MqttSink:
    """Publish ``meta.events`` and ``meta.counts`` to an MQTT broker (see the module docstring for topics).

    Connects in the constructor and raises SinkError if the broker cannot be reached or refuses within
    ``connect_timeout`` seconds. ``close()`` waits up to ``drain_timeout`` s for queued messages, then
    disconnects; it is idempotent.
    """

    def __init__(
        self,
        target: MqttTarget | str,
        *,
        username: str | None = None,
        password: str | None = None,
        password_file: str | os.PathLike | None = None,
        client_id: str | None = None,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        keepalive: int = 30,
        connect_timeout: float = 10.0,
        drain_timeout: float = 5.0,
        reconnect_max_delay: int = 10,
    ) -> None:
        try:
            import paho.mqtt.client as mqtt
        except ImportError:
            raise SinkError("paho-mqtt is not installed: pip install 'paho-mqtt>=2,<3'") from None
        self.target = parse_mqtt_url(target) if isinstance(target, str) else target
        self.name = f"mqtt:{self.target}"
        if queue_size < 1:
            raise InputError(f"MQTT queue size must be at least 1, got {queue_size}")
        if password_file is not None:
            if password is not None:
                raise InputError("give an MQTT password or a password file, not both")
            password = read_password_file(password_file)
        if password is not None and not username:
            raise InputError("an MQTT password needs a user name (--mqtt-user)")
        self.queue_size = queue_size
        self.drain_timeout = drain_timeout
        self._lock = threading.Lock()
        self._accepted = 0
        self._sent = 0
        self._dropped = 0
        self._connects = 0
        self._refused: str | None = None
        self._connected_evt = threading.Event()
        self._latest: dict[str, int] = {}  # topic -> the latest count given to write()
        self._published: dict[str, int] = {}  # topic -> the count last handed to paho
        self._topics: dict[str, str] = {}  # counts key -> topic (built once per key)
        self._resend_counts = False  # set by the network thread after a reconnect
        self._closed = False

        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id or f"edgesdk-{uuid.uuid4().hex[:12]}",
            protocol=mqtt.MQTTv311,
            clean_session=True,
        )
        client.max_queued_messages_set(queue_size + _HEADROOM)
        client.max_inflight_messages_set(100)
        client.reconnect_delay_set(1, max(1, reconnect_max_delay))
        if username:
            client.username_pw_set(username, password)
        client.will_set(self.target.topic("available"), "offline", qos=QOS, retain=True)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        self._client = client
        self._open(connect_timeout, keepalive)

    # --- connection ----------------------------------------------------------------------------------------
    def _open(self, timeout: float, keepalive: int) -> None:
        t = self.target
        try:
            self._client.connect(t.host, t.port, keepalive)
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise SinkError(f"cannot connect to the MQTT broker at {t.host}:{t.port}: {reason}") from None
        self._client.loop_start()
        ok = self._connected_evt.wait(timeout)
        if self._refused or not ok:
            self._client.loop_stop()
            self._client.disconnect()
            if self._refused:
                raise SinkError(f"the MQTT broker at {t.host}:{t.port} refused the connection: {self._refused}")
            raise SinkError(f"{t.host}:{t.port} did not answer as an MQTT broker within {timeout:g} s")
        log.info("MQTT: connected to %s (queue up to %d messages while offline)", t, self.queue_size)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            if not self._connected_evt.is_set():  # at open time: report it and give up
                self._refused = str(reason_code)
                self._connected_evt.set()
            else:
                log.warning("MQTT: broker %s refused the reconnection: %s", self.target, reason_code)
            return
        with self._lock:
            self._connects += 1
            if self._connects > 1:
                self._resend_counts = True
                log.warning("MQTT: reconnected to %s", self.target)
        self._publish(self.target.topic("available"), "online", retain=True, bounded=False)
        self._connected_evt.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if not self._closed:
            log.warning("MQTT: lost the broker %s (%s): queueing up to %d messages", self.target, reason_code, self.queue_size)

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self._lock:
            self._sent += 1

    def _publish(self, topic: str, payload: str, *, retain: bool = False, bounded: bool = True) -> bool:
        """Hand one QoS 1 message to paho; False (and counted as dropped) when the queue holds ``queue_size``
        messages. ``bounded=False`` (availability only) uses paho's small headroom above the bound."""
        import paho.mqtt.client as mqtt

        with self._lock:
            full = bounded and self._accepted - self._sent >= self.queue_size
            if full:
                self._dropped += 1
                return False
        # never call paho while holding self._lock: its network thread takes its own locks, then ours
        info = self._client.publish(topic, payload, qos=QOS, retain=retain)
        with self._lock:
            if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
                self._dropped += 1
                return False
            self._accepted += 1
        return True

    # --- Sink --------------------------------------------------------------------------------------------
    def write(self, frame: np.ndarray, detections: Detections, meta: FrameMeta) -> None:
        """Publish this frame's track records and the counts that changed."""
        self.write_events(meta)

    def write_events(self, meta: FrameMeta) -> None:
        """Publish ``meta.events`` and the counts that changed (no pixels are published either way)."""
        if self._closed:
            raise SinkError(f"{self.name} is closed")
        events_topic = self.target.topic("events")
        for event in meta.events:
            self._publish(events_topic, json.dumps(event, separators=(",", ":"), default=json_default))
        self._publish_counts(meta.counts)

    def _publish_counts(self, counts: Mapping[str, int]) -> None:
        latest = {topic: 0 for topic in self._latest}  # a count that disappeared is now 0
        topics = self._topics
        for key, v in counts.items():
            topic = topics.get(key)
            if topic is None:
                topic = topics[key] = self.target.topic(key)
            latest[topic] = int(v)
        self._latest = latest
        self._flush_counts()

    def _flush_counts(self) -> None:
        """Publish every latest count that differs from what was published (all of them after a reconnect);
        offline, nothing is queued: the latest values wait here, coalesced."""
        if not self._client.is_connected():
            return
        with self._lock:
            resend, self._resend_counts = self._resend_counts, False
        if resend:
            self._published.clear()
        for topic, value in self._latest.items():
            if self._published.get(topic) != value and self._publish(topic, str(value), retain=True):
                self._published[topic] = value

    def stats(self) -> MqttStats:
        with self._lock:
            return MqttStats(
                sent=self._sent, queued=max(0, self._accepted - self._sent), dropped=self._dropped,
                queue_size=self.queue_size, connected=self._client.is_connected(), reconnects=max(0, self._connects - 1),
            )

    def close(self) -> None:
        """Publish the last counts and ``offline``, wait up to ``drain_timeout`` s for the queue, disconnect."""
        if self._closed:
            return
        try:
            self._flush_counts()  # counts coalesced while offline
            self._publish(self.target.topic("available"), "offline", retain=True)
            deadline = time.monotonic() + self.drain_timeout
            while self.stats().queued and self._client.is_connected() and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            self._closed = True
            self._client.disconnect()
            self._client.loop_stop()
        s = self.stats()
        log.info("MQTT: %d messages sent, %d undelivered, %d dropped (queue bound %d)", s.sent, s.queued, s.dropped, s.queue_size)

