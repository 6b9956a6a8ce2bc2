import numpy as np
import pytest

from edgesdk.runtime import decode_classification, decode_ssd, softmax, ssd_output_order


def test_decode_ssd_threshold_count_and_order():
    boxes = np.array([[[0.1, 0.2, 0.5, 0.6], [0.0, 0.0, 1.0, 1.0], [0.2, 0.2, 0.3, 0.3]]], np.float32)
    classes = np.array([[3.0, 1.0, 2.0]], np.float32)
    scores = np.array([[0.9, 0.3, 0.8]], np.float32)
    det = decode_ssd(boxes, classes, scores, np.array([2.0]), threshold=0.5)
    assert len(det) == 1  # the third row is beyond count, the second under the threshold
    assert det.normalized
    assert det.xyxy[0].tolist() == pytest.approx([0.2, 0.1, 0.6, 0.5])  # (ymin,xmin,...) -> (x1,y1,...)
    assert det.class_id.tolist() == [3]
    all3 = decode_ssd(boxes, classes, scores, 3, threshold=0.0, class_filter=[2, 3])
    assert all3.class_id.tolist() == [3, 2]


def test_decode_ssd_empty():
    det = decode_ssd(np.zeros((1, 10, 4)), np.zeros((1, 10)), np.zeros((1, 10)), np.array([0.0]))
    assert len(det) == 0


def test_ssd_output_order_by_name_and_shape():
    names = ["TFLite_Detection_PostProcess", "TFLite_Detection_PostProcess:1", "TFLite_Detection_PostProcess:2",
             "TFLite_Detection_PostProcess:3", "lstm_c"]
    assert ssd_output_order(names, [(1, 10, 4), (1, 10), (1, 10), (1,), (1, 8, 8, 320)]) == (0, 1, 2, 3)
    assert ssd_output_order(["a", "b", "c", "d"], [(1,), (1, 10), (1, 10, 4), (1, 10)]) == (2, 1, 3, 0)
    with pytest.raises(ValueError):
        ssd_output_order(["logits"], [(1, 1001)])


def test_decode_classification_topk_softmax_offset():
    logits = np.array([1.0, 3.0, 2.0, -1.0], np.float32)
    c = decode_classification(logits, 2, labels=("a", "b", "c", "d"))
    assert c.class_id.tolist() == [1, 2]
    assert c.score.sum() < 1.0 and c.score[0] == pytest.approx(softmax(logits)[1])
    probs = np.array([[0.1, 0.6, 0.3]], np.float32)
    p = decode_classification(probs, 5)
    assert p.class_id.tolist() == [1, 2, 0] and p.score.tolist() == pytest.approx([0.6, 0.3, 0.1])
    off = decode_classification(probs, 1, label_offset=-1)
    assert off.class_id.tolist() == [0]
    assert len(decode_classification(probs, 3, threshold=0.25)) == 2
