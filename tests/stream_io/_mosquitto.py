"""A real mosquitto broker on 127.0.0.1 for tests, and a real paho subscriber that records what it gets.

The broker keeps its state on disk (``persistence true``) so that a subscriber's session and the retained
messages survive a stop/restart on the same port, as a broker restarted by systemd would."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"


def need_mosquitto() -> None:
    if not Path(MOSQUITTO).is_file():
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Mosquitto:
    """``start()`` / ``stop()`` / ``restart()`` a broker on ``port``; ``users`` {name: password} requires login."""

    def __init__(self, folder: Path, users: dict[str, str] | None = None) -> None:
        need_mosquitto()
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence true",
            f"user {getpass.getuser()}",  # as root, mosquitto would switch to the user `mosquitto` (no access here)
            f"persistence_location {folder}/",
            f"log_dest file {folder}/mosquitto.log",
        ]
        if users:
            pw = folder / "passwd"
            pw.touch(mode=0o600)
            for name, password in users.items():
                subprocess.run([MOSQUITTO_PASSWD, "-b", str(pw), name, password], check=True, capture_output=True)
            lines += ["allow_anonymous false", f"password_file {pw}"]
        else:
            lines.append("allow_anonymous true")
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> "Mosquitto":
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.proc.stderr.read().decode() if self.proc.stderr else ''}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


def wait_until(predicate, timeout: float = 10.0, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


class Subscriber:
    """A paho client subscribed (QoS 1, persistent session) to ``topic``; ``messages`` is a list of
    (topic, payload str, retain flag)."""

    def __init__(self, broker: Mosquitto, topic: str, *, client_id: str = "edgesdk-test-sub",
                 clean: bool = False, auth: tuple[str, str] | None = None) -> None:
        import paho.mqtt.client as mqtt

        self.messages: list[tuple[str, str, bool]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean)
        if auth:
            c.username_pw_set(*auth)
        c.reconnect_delay_set(1, 1)

        def on_connect(client, userdata, flags, rc, props):
            client.subscribe(topic, qos=1)

        def on_subscribe(client, userdata, mid, rcs, props):
            self._subscribed.set()

        def on_message(client, userdata, msg):
            with self._lock:
                self.messages.append((msg.topic, msg.payload.decode(), bool(msg.retain)))

        c.on_connect, c.on_subscribe, c.on_message = on_connect, on_subscribe, on_message
        c.connect("127.0.0.1", broker.port, 30)
        c.loop_start()
        if not self._subscribed.wait(10):
            raise RuntimeError("subscriber did not subscribe")
        self.client = c

    def on(self, topic: str, live: bool = False) -> list[str]:
        """Payloads received on ``topic`` (``live``: leave out retained copies replayed on (re)subscribe)."""
        with self._lock:
            return [p for t, p, r in self.messages if t == topic and not (live and r)]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
