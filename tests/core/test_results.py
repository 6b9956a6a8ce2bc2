import numpy as np
import pytest

from edgesdk import Classifications, Detections


def make(n=3):
    xyxy = np.array([[0, 0, 10, 10], [5, 5, 25, 15], [1, 2, 3, 4]][:n], np.float32)
    return Detections(xyxy, np.array([0.9, 0.4, 0.7][:n]), np.array([1, 2, 1][:n]))


def test_columns_are_typed_and_immutable():
    d = make()
    assert d.xyxy.dtype == np.float32 and d.score.dtype == np.float32 and d.class_id.dtype == np.int32
    assert len(d) == 3
    with pytest.raises(ValueError):
        d.xyxy[0, 0] = 5


@pytest.mark.parametrize(
    "xyxy,score,cls",
    [
        (np.zeros((2, 3)), np.zeros(2), np.zeros(2)),  # wrong box width
        (np.zeros((2, 4)), np.zeros(3), np.zeros(2)),  # score length
        (np.zeros((2, 4)), np.zeros(2), np.zeros(1)),  # class length
    ],
)
def test_shape_checks(xyxy, score, cls):
    with pytest.raises(ValueError):
        Detections(xyxy, score, cls)


def test_mask_filter_and_index():
    d = make()
    kept = d[d.score > 0.5]
    assert len(kept) == 2 and kept.class_id.tolist() == [1, 1]
    assert len(d[np.array([2])]) == 1 and d[1].score.tolist() == pytest.approx([0.4])


def test_scale_clip_expand_area_return_new_objects():
    d = make()
    s = d.scale(2.0, 3.0, 1.0, -1.0)
    assert s.xyxy[1].tolist() == [11, 14, 51, 44]
    assert d.xyxy[1].tolist() == [5, 5, 25, 15]
    c = s.clip(20, 20)
    assert c.xyxy.max() == 20 and c.xyxy.min() >= 0
    e = d[:1].expand(2.0)
    assert e.xyxy[0].tolist() == [-5, -5, 15, 15]
    assert d.area.tolist() == [100, 200, 4]


def test_normalized_to_pixels_and_concat_and_empty():
    n = Detections(np.array([[0.1, 0.2, 0.5, 1.0]]), [0.5], [0], normalized=True)
    p = n.to_pixels(200, 100)
    assert not p.normalized and p.xyxy[0].tolist() == pytest.approx([20, 20, 100, 100])
    both = Detections.concat([make(), make(1)])
    assert len(both) == 4
    assert len(Detections.empty()) == 0
    with pytest.raises(ValueError):
        Detections.concat([n, make(1)])


def test_keypoints_follow_rows():
    kp = np.arange(3 * 6 * 2, dtype=np.float32).reshape(3, 6, 2)
    d = Detections(make().xyxy, make().score, make().class_id, keypoints=kp)
    sub = d[d.score > 0.5]
    assert sub.keypoints.shape == (2, 6, 2)
    assert sub.scale(2.0).keypoints[0, 0].tolist() == [0, 2]
    with pytest.raises(ValueError):
        Detections(make().xyxy, make().score, make().class_id, keypoints=kp[:2])


def test_to_dicts_with_labels():
    rows = make(1).to_dicts(["a", "b"])
    assert rows == [{"box": [0.0, 0.0, 10.0, 10.0], "score": 0.9, "class_id": 1, "label": "b"}]


def test_classifications():
    c = Classifications([3, 1], [0.7, 0.2], ("a", "b", "c", "d"))
    assert len(c) == 2 and c.label(0) == "d"
    assert c.to_dicts()[1] == {"class_id": 1, "label": "b", "score": pytest.approx(0.2)}
    with pytest.raises(ValueError):
        Classifications([1, 2], [0.5])
