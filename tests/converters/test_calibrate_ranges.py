"""Range choice from activation histograms (pure numpy)."""

from __future__ import annotations

import numpy as np

from edgesdk.converters._calibrate import choose_range


def _hist(values, lo, hi, bins=2048):
    return np.histogram(values, bins=bins, range=(lo, hi))[0].astype(float)


def test_percentile_drops_rare_outliers_and_keeps_zero_inside():
    rng = np.random.default_rng(0)
    v = np.concatenate([rng.normal(2.0, 0.5, 200_000), [40.0]])  # one outlier stretches min/max to 40
    lo, hi = float(v.min()), float(v.max())
    plo, phi = choose_range(lo, hi, _hist(v, lo, hi), "percentile")
    assert plo == 0.0  # all-positive data: 0 stays representable
    assert 3.5 < phi < 5.0


def test_percentile_keeps_a_range_without_outliers():
    v = np.linspace(-1.0, 1.0, 100_000)
    lo, hi = choose_range(-1.0, 1.0, _hist(v, -1.0, 1.0), "percentile")
    assert lo < -0.99 and hi > 0.99
