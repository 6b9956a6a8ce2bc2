"""Detections.tracker_id, the ByteTrack-style tracker, zones and lines, class-aware NMS (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest

from edgesdk.errors import InputError
from edgesdk.results import Detections
from edgesdk.runtime.stream import ByteTracker, ZoneCounter, class_aware_nms, parse_line, parse_zone


def _det(*rows, score=0.9, cls=0):
    """rows of x1 y1 x2 y2 (or x1 y1 x2 y2 score)."""
    boxes = [r[:4] for r in rows]
    scores = [r[4] if len(r) > 4 else score for r in rows]
    return Detections(np.asarray(boxes, np.float32).reshape(-1, 4), scores, [cls] * len(rows))


# --- Detections.tracker_id ---------------------------------------------------------------------------------------
def test_tracker_id_is_kept_by_every_operation():
    d = _det([0, 0, 10, 10], [20, 20, 40, 40], [5, 5, 8, 8]).with_tracker_id([7, 8, 9])
    assert d.tracker_id.dtype == np.int64 and d.tracker_id.tolist() == [7, 8, 9]
    assert d[np.array([False, True, True])].tracker_id.tolist() == [8, 9]
    assert d[[2, 0]].tracker_id.tolist() == [9, 7]
    assert d.scale(2.0).tracker_id.tolist() == [7, 8, 9]
    assert d.clip(30, 30).tracker_id.tolist() == [7, 8, 9]
    assert d.expand(1.5).tracker_id.tolist() == [7, 8, 9]
    assert Detections.concat([d, d[[0]]]).tracker_id.tolist() == [7, 8, 9, 7]
    assert Detections.concat([d, _det([1, 1, 2, 2])]).tracker_id is None  # not every part is tracked
    assert [r["track_id"] for r in d.to_dicts(["person"])] == [7, 8, 9]
    assert "track_id" not in _det([0, 0, 1, 1]).to_dicts()[0]
    assert d.with_tracker_id(None).tracker_id is None
    with pytest.raises(ValueError, match="tracker_id"):
        _det([0, 0, 1, 1]).with_tracker_id([1, 2])
    assert not d.tracker_id.flags.writeable


# --- tracker -----------------------------------------------------------------------------------------------------
def test_track_confirmed_after_min_hits_and_ended_after_max_misses():
    t = ByteTracker(high=0.5, min_hits=3, max_misses=2)
    outs = [t.track(_det([10 + 2 * i, 10, 50 + 2 * i, 90]), i) for i in range(3)]
    assert [len(o.detections) for o in outs] == [0, 0, 1]  # confirmed on the third hit
    assert outs[2].started.tolist() == [1] and outs[2].detections.tracker_id.tolist() == [1]
    assert [len(t.track(_det(), 3 + i).ended) for i in range(3)] == [0, 0, 1]  # ends after the 3rd miss
    assert t.track(_det(), 6).ended.tracker_id.tolist() == []


def test_missed_frames_keep_the_id_and_moving_box_is_followed():
    t = ByteTracker(min_hits=1, max_misses=10)
    ids = []
    for i in range(20):
        if i in (8, 9, 10, 11):  # four frames without a detection while it moves on
            t.track(_det(), i)
            continue
        o = t.track(_det([10 + 6 * i, 100, 60 + 6 * i, 200]), i)
        ids += o.detections.tracker_id.tolist()
    assert set(ids) == {1} and len(ids) == 16


def test_low_score_detection_continues_a_track_but_never_starts_one():
    t = ByteTracker(high=0.5, min_hits=1)
    t.track(_det([0, 0, 40, 80, 0.9]), 0)
    o = t.track(_det([1, 0, 41, 80, 0.3]), 1)  # half hidden: low score, same place
    assert o.detections.tracker_id.tolist() == [1]
    o = t.track(_det([1, 0, 41, 80, 0.9], [200, 0, 240, 80, 0.3]), 2)  # a new low-score box: no track
    assert o.detections.tracker_id.tolist() == [1]


def test_second_box_inside_a_tracked_object_starts_no_track():
    t = ByteTracker(min_hits=2)
    for i in range(6):
        o = t.track(_det([100, 0, 200, 300], [120, 0, 190, 200]), i)  # body and upper body, both high
    assert o.detections.tracker_id.tolist() == [1] and t.confirmed_total == 1


def test_classes_are_tracked_apart():
    t = ByteTracker(min_hits=1)
    a = Detections(np.array([[0, 0, 50, 50], [0, 0, 50, 50]], np.float32), [0.9, 0.9], [0, 2])
    for i in range(3):
        o = t.track(a, i)
    assert sorted(o.detections.tracker_id.tolist()) == [1, 2]


def test_two_people_crossing_keep_their_ids():
    t = ByteTracker(min_hits=1)
    for i in range(30):  # A walks right, B walks left, they pass each other at i = 15
        o = t.track(_det([10 + 10 * i, 0, 60 + 10 * i, 120], [310 - 10 * i, 0, 360 - 10 * i, 120]), i)
        if i in (0, 29):
            by_x = {int(tid): float(x) for tid, x in zip(o.detections.tracker_id, o.detections.xyxy[:, 0])}
            if i == 0:
                a_id = min(by_x, key=by_x.get)
    assert max(by_x, key=by_x.get) == a_id and t.confirmed_total == 2


# --- NMS -----------------------------------------------------------------------------------------------------------
def test_class_aware_nms():
    d = Detections(np.array([[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 10]], np.float32), [0.9, 0.8, 0.7], [0, 0, 1])
    out = class_aware_nms(d, 0.5)
    assert out.class_id.tolist() == [0, 1] and out.score.tolist() == pytest.approx([0.9, 0.7])


# --- zones and lines -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,message", [
    ("a:0,0;10,0", "at least 3 points"),
    ("a:0,0;10,0;10,10;5", "odd number"),
    ("a:0,0;0,0;0,0", "3 different points"),
    ("0,0;10,0;10,10", "NAME:COORDINATES"),
    ("a:x,0;1,1;0,1", "must be numbers"),
])
def test_bad_zones(text, message):
    with pytest.raises(InputError, match=message):
        parse_zone(text)


@pytest.mark.parametrize("text,message", [
    ("door:5,5,5,5", "end points are equal"),
    ("door:1,2,3", "4 numbers"),
    ("bad name:1,2,3,4", "the name may use"),
])
def test_bad_lines(text, message):
    with pytest.raises(InputError, match=message):
        parse_line(text)


def test_coordinates_outside_the_frame_and_fractions():
    with pytest.raises(InputError, match=r"outside the 640x480 frame"):
        parse_zone("z:0,0;700,0;700,100").resolved(640, 480)
    with pytest.raises(InputError, match=r"outside the 640x480 frame"):
        parse_line("l:0,0,100,500").resolved(640, 480)
    z = parse_zone("z:0.5,0;1,0;1,1").resolved(640, 480)
    assert z.points == ((320.0, 0.0), (640.0, 0.0), (640.0, 480.0))
    assert parse_line("l:0.5,0,0.5,1").resolved(640, 480).a == (320.0, 0.0)


def test_zone_enter_leave_and_line_crossing_with_direction():
    zone = parse_zone("left:0,0;100,0;100,100;0,100")
    line = parse_line("door:150,0,150,100")
    zc = ZoneCounter([zone], [line], settle=2)
    ids, events = np.array([1]), []
    for x in (50, 60, 120, 140, 160, 170, 180, 160, 140, 130):  # in the zone, out, across the line, back
        events += zc.update(ids, np.array([[x, 50.0]]), ["person"])
    kinds = [(e[0], e[3], e[4]) for e in events]
    assert kinds == [("enter", "left", None), ("leave", "left", None), ("cross", "door", "left_to_right"),
                     ("cross", "door", "right_to_left")]
    assert zc.counts() == {"door/person/left_to_right": 1, "door/person/right_to_left": 1}


def test_standing_on_an_edge_does_not_flicker():
    zone = parse_zone("z:0,0;100,0;100,100;0,100")
    line = parse_line("l:100,0,100,100")
    zc = ZoneCounter([zone], [line], settle=2)
    events = []
    for x in (90, 101, 99, 101, 99, 102, 98):  # one frame on each side at a time
        events += zc.update(np.array([4]), np.array([[x, 50.0]]), ["person"])
    assert [e[0] for e in events] == ["enter"]
    assert zc.end(4) == [("leave", 4, "person", "z", None)] and zc.counts() == {}


def test_line_segment_end_is_respected():
    line = parse_line("l:100,0,100,50")  # a short segment: passing below it is no crossing
    zc = ZoneCounter([], [line], settle=1)
    ev = []
    for x in (50, 150):
        ev += zc.update(np.array([1]), np.array([[x, 80.0]]), ["car"])
    assert ev == []


def test_tiles_cover_the_frame_and_merge_by_nms():
    from edgesdk.runtime.stream import ModelDetector

    class _Fake:
        labels = ["person"]
        path = type("P", (), {"name": "fake"})()

        def detect(self, image, threshold):  # one box in the middle of whatever it is given
            h, w = image.shape[:2]
            return Detections(np.array([[w * 0.25, h * 0.25, w * 0.75, h * 0.75]], np.float32), [0.9], [0])

    d = ModelDetector(_Fake(), threshold=0.5, tiles=(2, 2), nms_iou=0.5)
    wins = d._tiles(100, 80)
    assert len(wins) == 4 and wins[0][:2] == (0, 0) and wins[-1][2:] == (100, 80)
    assert all(x2 - x1 >= 50 and y2 - y1 >= 40 for x1, y1, x2, y2 in wins)  # each tile over half the frame
    out = d.detect(np.zeros((80, 100, 3), np.uint8))
    assert len(out) == 5  # the whole frame's box and one per tile: none overlap enough to be merged

    class _Edge(_Fake):
        def detect(self, image, threshold):  # a box reaching the right edge of what it is given
            h, w = image.shape[:2]
            return Detections(np.array([[w * 0.5, h * 0.25, w, h * 0.75]], np.float32), [0.9], [0])

    cut = ModelDetector(_Edge(), threshold=0.5, tiles=(1, 2)).detect(np.zeros((80, 100, 3), np.uint8))
    assert len(cut) and all(x2 == 100.0 for x2 in cut.xyxy[:, 2])  # the left tile's box, cut by the inner edge, is dropped
    d2 = ModelDetector(_Fake(), threshold=0.5, tiles=(1, 1))
    assert len(d2.detect(np.zeros((80, 100, 3), np.uint8))) == 1
