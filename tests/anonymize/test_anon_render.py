"""Anonymizers, the IoU tracker and the pipeline's fail-closed behaviour (with fake detectors and cameras)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from edgesdk.results import Detections
from edgesdk.runtime.anonymize import (
    AnonymizePipeline, Blur, EllipseMask, IoUTracker, Pixelate, Renderer, Solid, make_anonymizer,
)
from edgesdk.runtime.sinks import FrameMeta
from edgesdk.testing import FakeCamera


def _noise(h=200, w=300, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("anon", [Blur(), Pixelate(), Solid(), EllipseMask(), Blur(feather=6), Solid(feather=4)])
def test_strategy_changes_only_the_box(anon):
    img = _noise()
    before = img.copy()
    covered = anon.apply(img, np.array([[50.4, 40.2, 150.7, 160.1]]), margins=np.array([10.0]))
    assert covered.tolist() == [[50, 40, 151, 161]]
    outside = np.ones(img.shape[:2], bool)
    outside[40:161, 50:151] = False
    assert np.array_equal(img[outside], before[outside])
    inner = (slice(70, 130), slice(70, 130))  # the centre of the box: always fully anonymized
    diff = np.abs(img[inner].astype(int) - before[inner].astype(int)).mean()
    assert diff > 40, f"{anon.name}: centre barely changed ({diff:.1f})"


def test_blur_kernel_scales_with_box():
    img = _noise(400, 400)
    small, big = img.copy(), img.copy()
    Blur().apply(small, np.array([[0, 0, 40, 40]]))
    Blur().apply(big, np.array([[0, 0, 400, 400]]))
    # a bigger box is smoothed over more pixels: lower local variance after blurring
    assert big[:40, :40].std() < small[:40, :40].std() < img[:40, :40].std()


def test_feather_keeps_detection_covered_and_softens_margin():
    img = np.full((100, 100, 3), 200, np.uint8)
    Solid(feather=8).apply(img, np.array([[20, 20, 80, 80]]), margins=np.array([8]))
    assert np.all(img[28:72, 28:72] == 0)  # inside the margin: full strength
    edge = img[50, 20:28, 0]
    assert edge[0] > edge[-1] and edge[0] > 0  # ramps up towards the inside
    assert np.all(img[:20] == 200)


def test_ellipse_leaves_corners():
    img = np.full((100, 100, 3), 200, np.uint8)
    EllipseMask().apply(img, np.array([[0, 0, 100, 100]]))
    assert img[50, 50, 0] == 0 and img[2, 2, 0] == 200


def test_make_anonymizer_and_bad_values():
    assert isinstance(make_anonymizer("pixelate"), Pixelate)
    with pytest.raises(ValueError):
        make_anonymizer("smudge")
    with pytest.raises(ValueError):
        Blur(strength=0)
    with pytest.raises(ValueError):
        Renderer(Blur(), mask_scale=0.5)


def test_renderer_enlarges_and_clips():
    r = Renderer(Solid(), 1.5)
    img = np.full((100, 100, 3), 255, np.uint8)
    covered = r(img, Detections(np.array([[80, 40, 100, 60]], np.float32), [0.9], [0]))
    assert covered.tolist() == [[75, 35, 100, 65]]
    assert np.all(img[35:65, 75:100] == 0) and img[30, 90, 0] == 255


def _det(*boxes):
    return Detections(np.array(boxes, np.float32).reshape(-1, 4), [0.9] * len(boxes), [0] * len(boxes))


def test_tracker_holds_missed_face_then_drops_it():
    t = IoUTracker(hold_frames=2)
    out, ids = t.update(_det([10, 10, 30, 30]))
    assert len(out) == 1 and ids[0] == 1
    out, ids = t.update(_det([12, 10, 32, 30]))  # moving right by 2 px/frame
    assert ids.tolist() == [1]
    out, ids = t.update(_det())  # missed: held, moved on with the velocity, grown
    assert len(out) == 1 and ids.tolist() == [1]
    assert out.xyxy[0, 0] < 13 and out.xyxy[0, 2] > 33  # moved on (+1 px smoothed velocity) and grown 5%
    assert len(t.update(_det())[0]) == 1  # second miss: still held
    assert len(t.update(_det())[0]) == 0  # hold_frames exceeded
    # a new face gets a new id, a re-found one keeps its id
    t2 = IoUTracker(hold_frames=3)
    t2.update(_det([0, 0, 10, 10]))
    t2.update(_det())
    _, ids = t2.update(_det([0, 0, 10, 10], [50, 50, 60, 60]))
    assert ids.tolist() == [1, 2]


class _Mem:
    name = "mem"

    def __init__(self):
        self.frames, self.dets, self.metas, self.closed = [], [], [], False

    def write(self, frame, det, meta: FrameMeta):
        self.frames.append(frame.copy())
        self.dets.append(det)
        self.metas.append(meta)

    def write_events(self, meta):
        pass

    def close(self):
        self.closed = True


class _ListSource:
    name, live, independent = "list", False, False

    def __init__(self, frames):
        self._frames, self.total, self.skipped, self.dropped = frames, len(frames), 0, 0

    def __iter__(self):
        for i, f in enumerate(self._frames):
            yield f, i / 30, i

    def frame_name(self, index):
        return None

    def close(self):
        pass


class _BoxDetector:
    """Finds a fixed box, except on the frames listed in ``miss`` and raising on ``fail``."""

    name, labels = "box", ["face"]

    def reset(self):
        pass

    def close(self):
        pass

    def __init__(self, box, miss=(), fail=(), delay=0.0):
        self.box, self.miss, self.fail, self.delay, self.calls = box, set(miss), set(fail), delay, 0

    def detect(self, image):
        i = self.calls
        self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        if i in self.fail:
            raise RuntimeError("boom")
        if i in self.miss:
            return Detections.empty()
        return _det(self.box)


def test_one_frame_miss_never_shows_the_face():
    frames = [np.full((60, 80, 3), 255, np.uint8) for _ in range(6)]
    sink = _Mem()
    s = AnonymizePipeline(_ListSource(frames), _BoxDetector([20, 20, 40, 40], miss={2, 3}), Solid(), [sink],
                          hold_frames=2).run()
    assert s.frames_written == 6 and sink.closed
    for f in sink.frames:
        assert np.all(f[22:38, 22:38] == 0)
    assert [bool(m.held.any()) for m in sink.metas] == [False, False, True, True, False, False]


def test_detector_failure_blanks_the_frame():
    frames = [np.full((60, 80, 3), 255, np.uint8) for _ in range(4)]
    sink = _Mem()
    s = AnonymizePipeline(_ListSource(frames), _BoxDetector([0, 0, 10, 10], fail={1}), Solid(), [sink]).run()
    assert s.blanked == 1 and s.frames_written == 4
    assert np.all(sink.frames[1] == 0) and sink.metas[1].blanked
    assert sink.frames[0][50, 70, 0] == 255


def test_persistent_detector_failure_stops_with_error():
    frames = [np.full((20, 20, 3), 255, np.uint8) for _ in range(50)]
    sink = _Mem()
    with pytest.raises(Exception, match="failed on 5 frames in a row"):
        AnonymizePipeline(_ListSource(frames), _BoxDetector([0, 0, 5, 5], fail=set(range(50))), Solid(), [sink],
                          max_detect_errors=5).run()
    assert sink.closed and all(np.all(f == 0) for f in sink.frames)


def test_live_source_drops_frames_when_detection_is_slow():
    cam = FakeCamera((160, 120), fps=200, frames=60)
    det = _BoxDetector([10, 10, 40, 40], delay=0.03)
    sink = _Mem()
    s = AnonymizePipeline(cam, det, Solid(), [sink], queue_size=1).run()
    assert s.dropped > 0
    assert s.frames_written == det.calls  # every written frame went through the detector
    assert all(np.all(f[12:38, 12:38] == 0) for f in sink.frames)


def test_stop_event_finishes_in_flight_frames_and_closes():
    cam = FakeCamera((160, 120), fps=100)  # endless
    sink = _Mem()
    stop = threading.Event()
    pipe = AnonymizePipeline(cam, _BoxDetector([0, 0, 10, 10]), Solid(), [sink],
                             on_frame=lambda n: stop.set() if n >= 5 else None)
    s = pipe.run(stop)
    assert s.interrupted and s.frames_written >= 5 and sink.closed
    assert s.frames_written == s.frames_read - s.dropped or s.frames_written <= s.frames_read


def test_fake_camera_reopens_after_drop():
    cam = FakeCamera((64, 48), fps=100, frames=20, drop_at=[5])
    got = [f.index for f in cam]
    cam.close()
    assert len(got) >= 15 and cam.reopens >= 1


def test_face_found_once_is_held_for_exactly_hold_frames():
    """Found on frame 0 only (like a face found at frame 85 and lost from 86 on): masked on frames 0-5 with
    --hold-frames 5, and no longer on frame 6."""
    frames = [np.full((60, 80, 3), 255, np.uint8) for _ in range(8)]
    sink = _Mem()
    AnonymizePipeline(_ListSource(frames), _BoxDetector([20, 20, 40, 40], miss=set(range(1, 8))), Solid(), [sink],
                      hold_frames=5).run()
    masked = [bool(np.all(f[22:38, 22:38] == 0)) for f in sink.frames]
    assert masked == [True] * 6 + [False] * 2
