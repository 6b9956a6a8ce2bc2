"""The stream contract every sink gets (FrameMeta.events, counts, source_name, track_ids), through the real
Pipeline with the detect stage and the tracker (a fake detector: a box walking right across a line)."""

from __future__ import annotations

import numpy as np
import pytest

from edgesdk.results import Detections
from edgesdk.runtime.stream import ByteTracker, DetectStage, Pipeline, RunError, parse_line


class _Walker:
    name, labels = "walker", ["person"]

    def detect(self, image):
        i = int(image[0, 0, 0])  # the frame number is painted into the frame
        return Detections(np.array([[10 + 8 * i, 20, 50 + 8 * i, 100]], np.float32), [0.9], [0])

    def reset(self):
        pass

    def close(self):
        pass


class _Frames:
    name, live, independent, total, skipped, dropped = "frames", False, False, 20, 0, 0

    def __iter__(self):
        for i in range(20):
            yield np.full((120, 240, 3), i, np.uint8), i / 10, i

    def frame_name(self, index):
        return None

    def close(self):
        pass


class _Mem:
    name = "mem"

    def __init__(self):
        self.metas, self.dets, self.finals, self.closed = [], [], [], False

    def write(self, frame, det, meta):
        self.metas.append(meta)
        self.dets.append(det)

    def write_events(self, meta):
        self.finals.append(meta)

    def close(self):
        self.closed = True


def test_sinks_get_events_counts_and_track_ids():
    line = parse_line("door:120,0,120,120")
    sink = _Mem()
    stage = DetectStage(["person"], lines=[line], draw=False)
    s = Pipeline(_Frames(), _Walker(), ByteTracker(min_hits=2), stage, [sink]).run()
    assert s.frames_written == 20 and sink.closed
    events = [e for m in sink.metas for e in m.events]
    assert [(e["type"], e["frame"], e["track_id"]) for e in events if e["type"] == "new"] == [("new", 1, 1)]
    cross = [e for e in events if e["type"] == "cross"]
    assert len(cross) == 1 and cross[0]["direction"] == "left_to_right" and cross[0]["line"] == "door"
    assert sink.metas[-1].counts == {"person": 1, "door/person/left_to_right": 1}
    assert sink.metas[0].track_ids.tolist() == [] and sink.metas[5].track_ids.tolist() == [1]
    assert sink.dets[5].tracker_id.tolist() == [1] and all(m.source_name is None for m in sink.metas)
    assert all(m.labels == ["person"] for m in sink.metas)
    # the walker is still in view at the end: its "end" comes once, after the last frame, with no frame written
    assert [[(e["type"], e["frame"], e["time"], e["track_id"]) for e in m.events] for m in sink.finals] == \
        [[("end", 19, 1.9, 1)]]
    assert sink.finals[0].counts == sink.metas[-1].counts and not any(e["type"] == "end" for e in events)


class _BrokenTracker(ByteTracker):
    def track(self, det, index=0):
        if index == 5:
            raise RuntimeError("boom")
        return super().track(det, index)


class _NoFinish(ByteTracker):
    def finish(self):
        raise RuntimeError("no finish")


def test_a_tracker_that_raises_stops_the_run_instead_of_hanging():
    sink = _Mem()
    with pytest.raises(RunError, match="detect stage failed: RuntimeError: boom") as e:
        Pipeline(_Frames(), _Walker(), _BrokenTracker(min_hits=2), DetectStage(["person"], draw=False), [sink]).run()
    assert sink.closed and e.value.summary.frames_written <= 5
    # failing at the end: every frame is written, the run ends well, with no end records
    sink = _Mem()
    s = Pipeline(_Frames(), _Walker(), _NoFinish(min_hits=2), DetectStage(["person"], draw=False), [sink]).run()
    assert s.frames_written == 20 and sink.finals == [] and sink.closed
