"""Quality with real data: every labelled face covered in the default mode; no face left for a detector to find
in the anonymized again.mkv."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import cv2
import numpy as np
import pytest

from _paths import IMAGES, TESTDATA

from edgesdk.runtime.anonymize import (
    AnonymizePipeline, Blur, build_detectors, count_leaks, face_coverage, thorough_face_detector,
)
from edgesdk.runtime.sources import DemoSource, ImageFolderSource, ImageSource, VideoFileSource, video_frames

FACES = TESTDATA / "faces"
VIDEOS = TESTDATA / "videos"

# Hand-labelled (by eye, x1, y1, x2, y2) faces in images/face.jpg: two in front, two in the background.
FACE_JPG = [(262, 80, 345, 165), (135, 105, 222, 195), (10, 100, 55, 155), (438, 115, 490, 180)]


class _Mem:
    name = "mem"

    def __init__(self):
        self.frames, self.boxes = [], []

    def write(self, frame, det, meta):
        self.frames.append(frame.copy())
        self.boxes.append(det)

    def write_events(self, meta):
        pass

    def close(self):
        pass


def _default_run(source):
    """What `edgesdk anonymize SOURCE` does by default (face, tiles auto, blur, mask scale 1.3)."""
    det = build_detectors(None, threads=1, sweep_frames=4, still=bool(getattr(source, "independent", False)))
    sink = _Mem()
    pipe = AnonymizePipeline(source, det, Blur(), [sink], mask_scale=1.3, hold_frames=5)
    pipe.run()
    return pipe, sink


def _coverage(pipe, det, shape, box) -> float:
    boxes, _ = pipe.renderer.boxes(det, shape[1], shape[0])
    mask = np.zeros(shape[:2], bool)
    for x1, y1, x2, y2 in boxes:
        mask[int(np.floor(y1)):int(np.ceil(y2)), int(np.floor(x1)):int(np.ceil(x2))] = True
    x1, y1, x2, y2 = box
    return float(mask[y1:y2, x1:x2].mean())


def _changed(before, after, box) -> float:
    x1, y1, x2, y2 = box
    d = np.abs(before[y1:y2, x1:x2].astype(int) - after[y1:y2, x1:x2].astype(int)).max(axis=2)
    return float((d > 2).mean())


def _dlib_boxes():
    root = ET.parse(FACES / "training.xml").getroot()
    out = {}
    for im in root.iter("image"):
        out[im.get("file")] = [
            (int(b.get("left")), int(b.get("top")), int(b.get("left")) + int(b.get("width")), int(b.get("top")) + int(b.get("height")))
            for b in im.iter("box")
        ]
    return out


def test_every_labelled_small_face_is_covered():
    if not (FACES / "training.xml").exists():
        pytest.skip("test data not available")
    labels = _dlib_boxes()
    src = ImageFolderSource(FACES)
    pipe, sink = _default_run(src)
    assert len(sink.frames) == len(labels) == 4
    results = []
    for i, f in enumerate(src.files):
        before = cv2.imread(str(f))
        for box in labels[f.name]:
            cov = _coverage(pipe, sink.boxes[i], before.shape, box)
            results.append((f.name, box, round(cov, 2), round(_changed(before, sink.frames[i], box), 2)))
    assert len(results) == 18
    missed = [r for r in results if r[2] < 0.8 or r[3] < 0.8]
    assert not missed, f"faces not covered >= 80% (file, box, covered, pixels changed): {missed}"


def test_single_pass_misses_small_faces_that_tiles_find():
    """The reason for tiles: without them most 37 px faces in 500 px photos are missed."""
    if not (FACES / "training.xml").exists():
        pytest.skip("test data not available")
    labels = _dlib_boxes()
    off = build_detectors(["face"], tiles="off", threads=1)
    found = 0
    for name, boxes in labels.items():
        det = off.detect(cv2.imread(str(FACES / name)))
        for x1, y1, x2, y2 in boxes:
            cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
            found += any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in det.xyxy)
    assert found < 12  # measured: 6 of 18


def test_face_jpg_all_visible_faces_covered():
    path = IMAGES / "face.jpg"
    if not path.exists():
        pytest.skip("test data not available")
    pipe, sink = _default_run(ImageSource(path))
    before = cv2.imread(str(path))
    for box in FACE_JPG:
        assert _coverage(pipe, sink.boxes[0], before.shape, box) >= 0.8, box
        assert _changed(before, sink.frames[0], box) >= 0.8, box


def test_kite_and_cold_runs_and_masks_what_it_finds():
    """People on a beach seen from behind at a distance: no face is visible at a size anyone could recognise
    (heads under 12 px); the run must still go through and change nothing but what it masks."""
    path = IMAGES / "kite_and_cold.jpg"
    if not path.exists():
        pytest.skip("test data not available")
    pipe, sink = _default_run(ImageSource(path))
    before = cv2.imread(str(path))
    det = sink.boxes[0]
    boxes, _ = pipe.renderer.boxes(det, before.shape[1], before.shape[0])
    untouched = np.ones(before.shape[:2], bool)
    for x1, y1, x2, y2 in boxes:
        untouched[int(y1):int(np.ceil(y2)), int(x1):int(np.ceil(x2))] = False
    assert np.array_equal(sink.frames[0][untouched], before[untouched])


def test_no_leak_on_again_mkv():
    """The person's face is never left for a detector to find in the output.

    The reference is BlazeFace with every tile on every frame at 0.9: on this clip that is exactly one box per
    frame, the person's face (scored 0.91-0.97; the other things BlazeFace scores >= 0.5 here, the skull printed
    on the hoodie and the hands in front of it, score at most 0.8). At the reference threshold 0.5 those count
    as faces as well and some leak in frames where the tile sweep does not reach them: that rate is measured
    by benchmarks/anonymize_fps.py and listed box by box in benchmarks/results/anonymize."""
    clip = VIDEOS / "again.mkv"
    if not clip.exists():
        pytest.skip("test data not available")
    _, sink = _default_run(VideoFileSource(clip))
    assert len(sink.frames) == 77
    rep = count_leaks(zip(video_frames(clip), sink.frames), reference=thorough_face_detector(threshold=0.9), match_iou=0.5)
    assert rep.input_faces == 77  # the face, found in every input frame, and nothing else at this score
    assert rep.leaked_faces == 0, rep.to_dict()


def test_demo_every_visible_face_covered_in_every_frame():
    """The README's first command: on all 150 demo frames, every face with >= 30 % of its box in view is
    covered >= 80 %. Ground truth: the photo's two face boxes put through each frame's affine."""
    src = DemoSource()
    pipe, sink = _default_run(src)
    assert len(sink.frames) == 150
    checked, missed = 0, []
    for i, det in enumerate(sink.boxes):
        masked, _ = pipe.renderer.boxes(det, 640, 480)
        visible, covered = face_coverage(masked, src.face_boxes(i), 640, 480)
        for k in np.flatnonzero(visible >= 0.3):
            checked += 1
            if covered[k] < 0.8:
                missed.append((i, int(k), round(float(visible[k]), 2), round(float(covered[k]), 2)))
    assert checked >= 150  # both faces are in view in about half of the frames
    assert not missed, f"(frame, face, visible, covered): {missed}"


def test_demo_ground_truth_matches_the_photo():
    """The ground-truth boxes sit on faces: the detector (every tile), run on frames where a face is whole,
    finds a box on each (IoU >= 0.5), so the coverage test above measures faces, not arbitrary boxes."""
    from edgesdk.runtime.faces import FaceDetector, TiledDetector, iou_matrix

    src = DemoSource()
    fd = TiledDetector(FaceDetector("face", threads=1), "auto")
    seen = set()
    for i in (0, 40, 110, 149):
        gt = src.face_boxes(i)
        inside = (gt[:, 0] >= 0) & (gt[:, 2] <= 640) & (gt[:, 1] >= 0) & (gt[:, 3] <= 480)
        det = fd.detect(src.frame(i))
        for k in np.flatnonzero(inside):
            assert len(det) and iou_matrix(gt[k:k + 1], det.xyxy).max() >= 0.5, (i, k, det.xyxy)
            seen.add(int(k))
    assert seen == {0, 1}


def test_face_cut_by_the_frame_edge_needs_the_reflected_margin():
    """Demo frame 90: the small face at the right edge (about a third of it outside the frame). Tiles that stop
    at the frame's edge miss it; tiles reaching over the edge into a reflected margin find it."""
    from edgesdk.runtime.faces import FaceDetector, TiledDetector, iou_matrix

    src = DemoSource()
    frame, gt = src.frame(90), src.face_boxes(90)[1:2]
    assert gt[0, 2] > 640  # cut by the right edge
    fd = FaceDetector("face", threads=1)
    found = {}
    for pad in ("off", "reflect"):
        det = TiledDetector(fd, "auto", pad=pad).detect(frame)
        found[pad] = bool(len(det)) and float(iou_matrix(gt, det.xyxy).max()) >= 0.3
    assert found == {"off": False, "reflect": True}


def test_tile_workers_give_the_same_boxes_and_fast_paths_match():
    """Two interpreters sharing the tiles of a frame find exactly what one finds; the preprocessing fast path
    (input already at the model size, fused affine scaling) gives the table lookup's tensor."""
    from edgesdk.runtime.faces import FaceDetector, TiledDetector

    src = DemoSource()
    one = TiledDetector(FaceDetector("face", threads=1), "auto", tile_factor=2.0)
    two = TiledDetector(FaceDetector("face", threads=1), "auto", tile_factor=2.0,
                        workers=[FaceDetector("face", threads=1)])
    try:
        for i in (0, 90, 128):
            a, b = one.detect(src.frame(i)), two.detect(src.frame(i))
            assert len(a) == len(b) and np.allclose(a.xyxy, b.xyxy) and np.allclose(a.score, b.score)
    finally:
        two.close()
    model = one.detector.model
    img = np.random.default_rng(0).integers(0, 256, (128, 128, 3), np.uint8)
    fast = model.preprocess(img)[0].copy()
    pre = model._pre
    affine, pre._affine = pre._affine, None
    try:
        slow = model.preprocess(img)[0].copy()
    finally:
        pre._affine = affine
    assert affine is not None and np.allclose(fast, slow, atol=1e-6)
    assert np.allclose(fast[0, 0, 0], img[0, 0, ::-1] / 127.5 - 1.0, atol=1e-6)  # RGB order, [-1, 1]
