"""`edgesdk detect ... --mqtt` end to end: the real COCO SSD on the people clip, a real mosquitto (with a
password), a real paho subscriber; bad URLs and refusing brokers fail before any work."""

from __future__ import annotations

import json

import pytest

from _mosquitto import Mosquitto, Subscriber, free_port, wait_until
from _paths import MODELS, TESTDATA

from edgesdk.cli import main
from edgesdk.errors import InputError
from edgesdk.runtime.stream import DetectConfig

SSD = MODELS / "ssd_mobilenet_v1_coco_quant.tflite"
LABELS = MODELS / "coco_labels.txt"
PEOPLE = TESTDATA / "videos" / "one-by-one-person-detection.mp4"  # the first person crosses x=0.5 by frame 70

pytestmark = pytest.mark.skipif(not SSD.exists(), reason="needs ../shared/testdata")

RUN = [SSD, PEOPLE, "--labels", LABELS, "--classes", "person", "--line", "door:0.5,0,0.5,1", "--max-frames", 100]


def _detect(capsys, *argv):
    rc = main(["detect", *[str(a) for a in argv]])
    out, err = capsys.readouterr()
    return rc, out, err


def test_detect_publishes_events_and_retained_counts(tmp_path, capsys):
    broker = Mosquitto(tmp_path / "broker", users={"cam": "s3cret"}).start()
    pw = tmp_path / "pw"
    pw.write_text("s3cret\n")
    pw.chmod(0o600)
    sub = Subscriber(broker, "home/door/#", auth=("cam", "s3cret"))
    try:
        rc, out, err = _detect(capsys, *RUN, "--mqtt", f"{broker.url}/home/door", "--mqtt-user", "cam",
                               "--mqtt-password-file", pw, "--json")
        assert rc == 0, err
        rep = json.loads(out)
        assert wait_until(lambda: sub.on("home/door/available")[-1:] == ["offline"])
        events = [json.loads(p) for p in sub.on("home/door/events")]
        types = [e["type"] for e in events]
        assert "new" in types and "cross" in types, types
        # the person still in view after --max-frames 100 gets its "end", on the last frame
        news = [e["track_id"] for e in events if e["type"] == "new"]
        ends = [e for e in events if e["type"] == "end"]
        assert sorted(e["track_id"] for e in ends) == sorted(news) and ends[-1]["frame"] == 99, events
        cross = next(e for e in events if e["type"] == "cross")
        assert cross["line"] == "door" and cross["label"] == "person" and cross["direction"]
        line_topic = f"home/door/door/person/{cross['direction']}"
        assert sub.on(line_topic)[-1] == "1"
        assert "1" in sub.on("home/door/person")
        # the summary carries the MQTT stats: everything acknowledged, nothing dropped, the bound shown
        m = rep["mqtt"]
        assert m["sent"] >= len(events) + 3 and m["queued"] == 0 and m["dropped"] == 0 and m["queue_size"] > 0
        assert rep["counts"][f"door/person/{cross['direction']}"] == 1
    finally:
        sub.close()
        broker.stop()
    # a client arriving later gets the retained line count
    late_broker = broker.start()
    late = Subscriber(late_broker, "home/door/#", client_id="late", clean=True, auth=("cam", "s3cret"))
    try:
        assert wait_until(lambda: late.on(line_topic) == ["1"])
    finally:
        late.close()
        broker.stop()


@pytest.mark.parametrize("url, says", [
    ("http://127.0.0.1/cam", "only mqtt://"),
    ("mqtt://127.0.0.1:1883", "topic prefix"),
    ("mqtt://127.0.0.1:99999/cam", "port"),
    ("mqtt://u:p@127.0.0.1/cam", "--mqtt-user"),
])
def test_malformed_url_is_one_line_and_writes_nothing(tmp_path, capsys, url, says):
    out = tmp_path / "out.mp4"
    rc, stdout, err = _detect(capsys, *RUN, "--mqtt", url, "-o", out, "--events", tmp_path / "e.jsonl")
    assert rc == 1 and says in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err and "Error:" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flags", [["--mqtt-user", "cam"], ["--mqtt-password-file", "pw"],
                                   ["--mqtt-user", "cam", "--mqtt-password-file", "pw"]])
def test_mqtt_credentials_without_mqtt_are_bad_usage(tmp_path, capsys, flags):
    out = tmp_path / "out.mp4"
    with pytest.raises(SystemExit) as e:  # were silently ignored
        _detect(capsys, *RUN, *flags, "-o", out)
    err = capsys.readouterr().err
    assert e.value.code == 2 and err == "edgesdk detect: error: --mqtt-user and --mqtt-password-file go with --mqtt\n"
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InputError, match="needs an MQTT URL"):
        DetectConfig(str(SSD), str(PEOPLE), mqtt_user="cam")


def test_refusing_broker_fails_before_any_work(tmp_path, capsys):
    out, ev = tmp_path / "out.mp4", tmp_path / "e.jsonl"
    rc, stdout, err = _detect(capsys, *RUN, "--mqtt", f"mqtt://127.0.0.1:{free_port()}/cam", "-o", out, "--events", ev)
    assert rc == 1 and "cannot connect to the MQTT broker" in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists() and not ev.exists()


def test_wrong_password_and_missing_password_file(tmp_path, capsys):
    broker = Mosquitto(tmp_path / "broker", users={"cam": "s3cret"}).start()
    try:
        pw = tmp_path / "pw"
        pw.write_text("wrong\n")
        pw.chmod(0o600)
        out = tmp_path / "out.mp4"
        rc, _, err = _detect(capsys, *RUN, "--mqtt", f"{broker.url}/cam", "--mqtt-user", "cam",
                             "--mqtt-password-file", pw, "-o", out)
        assert rc == 1 and "refused" in err and len(err.strip().splitlines()) == 1, err
        assert not out.exists()
        rc, _, err = _detect(capsys, *RUN, "--mqtt", f"{broker.url}/cam", "--mqtt-user", "cam",
                             "--mqtt-password-file", tmp_path / "nope", "-o", out)
        assert rc == 1 and "password file not found" in err, err
        assert not out.exists()
    finally:
        broker.stop()
