"""MqttSink against a real mosquitto (started here on 127.0.0.1) and a real paho subscriber."""

from __future__ import annotations

import json

import numpy as np
import pytest

from _mosquitto import Mosquitto, Subscriber, free_port, wait_until
from edgesdk.errors import InputError
from edgesdk.results import Detections
from edgesdk.runtime.sinks import MqttSink, MqttTarget, Sink, SinkError, parse_mqtt_url, read_password_file
from edgesdk.runtime.sinks import FrameMeta

FRAME = np.zeros((48, 64, 3), np.uint8)


def meta(i: int, events=(), counts=None) -> FrameMeta:
    return FrameMeta(index=i, timestamp=i / 30, events=tuple(events), counts=dict(counts or {}))


def event(i: int, kind: str = "new", track: int = 1, **extra) -> dict:
    return {"type": kind, "frame": i, "time": round(i / 30, 3), "track_id": track, "label": "person", **extra}


def _runs(values: list[str]) -> list[str]:
    """Consecutive repeats collapsed: ['1', '1', '0'] -> ['1', '0']."""
    return [v for i, v in enumerate(values) if i == 0 or values[i - 1] != v]


# --- the URL parser (pure) -------------------------------------------------------------------------------------
@pytest.mark.parametrize("url, host, port, prefix", [
    ("mqtt://localhost/edgesdk", "localhost", 1883, "edgesdk"),
    ("mqtt://10.0.0.2:1884/home/door/", "10.0.0.2", 1884, "home/door"),
    ("MQTT://broker.lan:8883/cam 1", "broker.lan", 8883, "cam 1"),
    ("mqtt://[::1]:1883/x", "::1", 1883, "x"),
])
def test_parse_mqtt_url(url, host, port, prefix):
    assert parse_mqtt_url(url) == MqttTarget(host, port, prefix)


@pytest.mark.parametrize("url, says", [
    ("localhost/edgesdk", "mqtt://HOST"),
    ("http://localhost/edgesdk", "only mqtt://"),
    ("mqtts://localhost/edgesdk", "only mqtt://"),
    ("mqtt:///edgesdk", "host"),
    ("mqtt://localhost:99999/e", "port"),
    ("mqtt://localhost:abc/e", "port"),
    ("mqtt://localhost:/e", "empty port"),
    ("mqtt://localhost", "prefix"),
    ("mqtt://localhost/", "prefix"),
    ("mqtt://localhost/a/+/b", "wildcards"),
    ("mqtt://localhost/a/#", "wildcards"),
    ("mqtt://localhost/a//b", "empty level"),
    ("mqtt://user:pw@localhost/e", "--mqtt-password-file"),
    ("mqtt://localhost/e?x=1", "query"),
    ("mqtt://bad host/e", "host"),
])
def test_parse_mqtt_url_rejects(url, says):
    with pytest.raises(InputError, match="MQTT URL") as err:
        parse_mqtt_url(url)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_topics_escape_wildcards():
    t = MqttTarget("h", 1883, "p")
    assert t.topic("door/person") == "p/door/person"
    assert t.topic("a+b#") == "p/a_b_"


def test_password_file(tmp_path):
    with pytest.raises(SinkError, match="not found"):
        read_password_file(tmp_path / "nope")
    (tmp_path / "empty").write_text("")
    with pytest.raises(SinkError, match="empty"):
        read_password_file(tmp_path / "empty")
    (tmp_path / "pw").write_text("s3cret\n")
    assert read_password_file(tmp_path / "pw") == "s3cret"


# --- a real broker -----------------------------------------------------------------------------------------------
@pytest.fixture
def broker(tmp_path):
    b = Mosquitto(tmp_path / "broker").start()
    yield b
    b.stop()


def test_events_and_retained_counts(broker):
    sub = Subscriber(broker, "cam/#")
    sink = MqttSink(f"{broker.url}/cam")
    try:
        assert isinstance(sink, Sink)
        sink.write(FRAME, Detections.empty(), meta(0, [event(0)], {"person": 1, "door/person": 0}))
        for i in range(1, 6):  # unchanged counts: nothing more is published for them
            sink.write(FRAME, Detections.empty(), meta(i, [], {"person": 1, "door/person": 0}))
        sink.write(FRAME, Detections.empty(), meta(6, [event(6, "enter", zone="door"), event(6, "cross", line="gate", direction="in")],
                                                  {"person": 1, "door/person": 1, "gate/person/in": 1}))
        sink.write(FRAME, Detections.empty(), meta(7, [event(7, "end")], {}))  # everything gone: counts drop to 0
        assert wait_until(lambda: len(sub.on("cam/events")) == 4
                          and all(sub.on(f"cam/{k}")[-1:] == ["0"] for k in ("person", "door/person", "gate/person/in")))
        got = [json.loads(p) for p in sub.on("cam/events")]
        assert [g["type"] for g in got] == ["new", "enter", "cross", "end"]
        assert got[1]["zone"] == "door" and got[2] == event(6, "cross", line="gate", direction="in")
        assert sub.on("cam/person") == ["1", "0"]
        assert sub.on("cam/door/person") == ["0", "1", "0"]
        assert sub.on("cam/gate/person/in") == ["1", "0"]
        assert sub.on("cam/available")[-1] == "online"
        assert wait_until(lambda: sink.stats().queued == 0)
        s = sink.stats()
        assert (s.sent, s.queued, s.dropped) == (4 + 7 + 1, 0, 0)  # 4 events, 7 count changes, "online"
    finally:
        sink.close()
        sink.close()  # idempotent
        sub.close()
    # a client arriving later gets the retained counts and the availability
    late = Subscriber(broker, "cam/#", client_id="late", clean=True)
    try:
        assert wait_until(lambda: late.on("cam/available") == ["offline"])
        # the broker sends the four retained topics one after another: wait for all of them (not only the first)
        wait_until(lambda: len({t for t, p, r in late.messages if r}) >= 4)
        retained = {t: p for t, p, r in late.messages if r}
        assert retained == {"cam/person": "0", "cam/door/person": "0", "cam/gate/person/in": "0", "cam/available": "offline"}
    finally:
        late.close()
    with pytest.raises(SinkError, match="closed"):
        sink.write(FRAME, Detections.empty(), meta(8))


def test_broker_lost_mid_run_queues_and_delivers(broker):
    sub = Subscriber(broker, "q/#")
    sink = MqttSink(f"{broker.url}/q", queue_size=25, reconnect_max_delay=1)
    try:
        sink.write(FRAME, Detections.empty(), meta(0, [event(0, track=0)], {"person": 1}))
        assert wait_until(lambda: sub.on("q/events"))
        broker.stop()
        assert wait_until(lambda: not sink.stats().connected)
        for i in range(1, 41):  # 40 events while the broker is away, counts changing every frame
            sink.write(FRAME, Detections.empty(), meta(i, [event(i, track=i)], {"person": i % 5}))
        s = sink.stats()
        assert not s.connected and s.queue_size == 25
        assert s.dropped == 40 - 25 and s.queued == 25  # counts wait coalesced outside the bounded queue
        broker.start()
        assert wait_until(lambda: sink.stats().connected and sink.stats().queued == 0, timeout=20)
        sink.write(FRAME, Detections.empty(), meta(41, [event(41, track=41)], {"person": 0}))
        assert wait_until(lambda: 41 in {json.loads(p)["track_id"] for p in sub.on("q/events")}, timeout=20)
        ids = {json.loads(p)["track_id"] for p in sub.on("q/events")}
        assert ids == {0, *range(1, 26), 41}  # the first 25 queued ones arrived, the rest were dropped
        # 40 count changes offline, one message after the reconnect: the latest value (40 % 5), retained.
        # QoS 1 is at-least-once (the restarted broker may deliver a message twice): compare without repeats.
        assert wait_until(lambda: _runs(sub.on("q/person", live=True)) == ["1", "0"]), sub.on("q/person", live=True)
        assert wait_until(lambda: sink.stats().queued == 0)  # the last acknowledgements may still be on the way
        s = sink.stats()
        assert s.reconnects == 1 and s.dropped == 15 and s.queued == 0
    finally:
        sink.close()
        sub.close()


def test_refused_wrong_password(tmp_path):
    b = Mosquitto(tmp_path / "auth", users={"cam": "right"}).start()
    try:
        (tmp_path / "bad").write_text("wrong\n")
        with pytest.raises(SinkError, match="refused the connection: (Not authorized|Bad user name or password)"):
            MqttSink(f"{b.url}/x", username="cam", password_file=tmp_path / "bad", connect_timeout=5)
        with pytest.raises(SinkError, match="refused"):
            MqttSink(f"{b.url}/x", connect_timeout=5)  # anonymous not allowed
        (tmp_path / "good").write_text("right\n")
        (tmp_path / "good").chmod(0o600)
        sub = Subscriber(b, "x/#", auth=("cam", "right"))
        sink = MqttSink(f"{b.url}/x", username="cam", password_file=tmp_path / "good")
        sink.write(FRAME, Detections.empty(), meta(0, [event(0)], {}))
        assert wait_until(lambda: len(sub.on("x/events")) == 1)
        sink.close()
        sub.close()
    finally:
        b.stop()


def test_nothing_listening():
    port = free_port()
    with pytest.raises(SinkError, match=f"cannot connect to the MQTT broker at 127.0.0.1:{port}: .*[Rr]efused"):
        MqttSink(f"mqtt://127.0.0.1:{port}/x", connect_timeout=3)


def test_silent_server_is_not_a_broker():
    """Something listens on the port but never answers MQTT (a wrong port): an error after the timeout."""
    import socket

    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()
        port = srv.getsockname()[1]
        with pytest.raises(SinkError, match=f"127.0.0.1:{port} did not answer as an MQTT broker within 1 s"):
            MqttSink(f"mqtt://127.0.0.1:{port}/x", connect_timeout=1)


def test_bad_arguments(tmp_path):
    with pytest.raises(InputError, match="user name"):
        MqttSink("mqtt://127.0.0.1:1/x", password="p")
    with pytest.raises(InputError, match="queue size"):
        MqttSink("mqtt://127.0.0.1:1/x", queue_size=0)
