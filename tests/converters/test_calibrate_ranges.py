"""The int8 strategies: range choice from activation histograms (pure numpy), and names -> strategy classes."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from edgesdk.converters import (
    CALIBRATIONS,
    ROUNDINGS,
    AdaRound,
    Calibration,
    ConvertOptions,
    Gptq,
    MinMax,
    Mse,
    Nearest,
    Percentile,
    parse_calibration,
    parse_rounding,
)
from edgesdk.errors import InputError


def _hist(values, lo, hi, bins=2048):
    return np.histogram(values, bins=bins, range=(lo, hi))[0].astype(float)


def _skewed():
    """200k values around 2 and one outlier at 40 that stretches min/max: (values, lo, hi, histogram)."""
    rng = np.random.default_rng(0)
    v = np.concatenate([rng.normal(2.0, 0.5, 200_000), [40.0]])
    lo, hi = float(v.min()), float(v.max())
    return v, lo, hi, _hist(v, lo, hi)


def test_percentile_drops_rare_outliers_and_keeps_zero_inside():
    _, lo, hi, hist = _skewed()
    plo, phi = Percentile().choose_range(lo, hi, hist)
    assert plo == 0.0  # all-positive data: 0 stays representable
    assert 3.5 < phi < 5.0


def test_percentile_keeps_a_range_without_outliers():
    v = np.linspace(-1.0, 1.0, 100_000)
    lo, hi = Percentile().choose_range(-1.0, 1.0, _hist(v, -1.0, 1.0))
    assert lo < -0.99 and hi > 0.99


def test_each_calibration_chooses_its_own_range_on_a_skewed_histogram():
    v, lo, hi, hist = _skewed()
    assert MinMax().choose_range(lo, hi, hist) == (lo, hi)  # the converter's own: the outlier kept
    p = Percentile().choose_range(lo, hi, hist)
    m = Mse().choose_range(lo, hi, hist)
    assert p[0] == 0.0 and p[1] < 5.0  # the central 99.99%: the outlier dropped
    assert 5.0 < m[1] < hi and lo < m[0] < 0.0  # mse shrinks both ends by one factor, clipping the outlier less

    def err(r):  # expected squared int8 error of the values over a range
        step = (r[1] - r[0]) / 255
        return float(np.mean((v - (np.round((np.clip(v, *r) - r[0]) / step) * step + r[0])) ** 2))

    assert err(m) < err((min(lo, 0.0), hi))  # mse beats the full range on what it minimises


def test_empty_or_flat_histograms_keep_the_range():
    for method in (MinMax(), Percentile(), Mse()):
        assert method.choose_range(-1.0, 1.0, np.zeros(16)) == (-1.0, 1.0)
        assert method.choose_range(2.0, 2.0, np.ones(16)) == (2.0, 2.0)


@pytest.mark.parametrize("parse, names, classes", [
    (parse_calibration, CALIBRATIONS, (MinMax, Mse, Percentile)),
    (parse_rounding, ROUNDINGS, (Nearest, Gptq, AdaRound)),
])
def test_names_give_their_strategies(parse, names, classes):
    for name, cls in zip(names, classes):
        s = parse(name)
        assert type(s) is cls and s.name == str(s) == name and s == cls() and parse(s) is s


@pytest.mark.parametrize("parse, what, text", [
    (parse_calibration, "calibration", "calibration must be one of minmax, mse, percentile, got 'entropy'"),
    (parse_rounding, "rounding", "rounding must be one of nearest, gptq, adaround, got 'entropy'"),
])
def test_unknown_name_is_one_input_error_line(parse, what, text):
    with pytest.raises(InputError) as info:
        parse("entropy")
    assert str(info.value) == text
    with pytest.raises(InputError, match=f"^--{what} must be one of"):
        parse("entropy", f"--{what}")
    with pytest.raises(InputError, match="got 3$"):
        parse(3)
    with pytest.raises(InputError):  # a strategy of the other kind is not one of these
        parse(Nearest() if parse is parse_calibration else MinMax())


def test_a_calibration_of_ones_own_is_used_as_given():
    class Half(Calibration):
        name = "half"

        def _clip(self, lo, hi, hist):
            return lo / 2, hi / 2

    assert parse_calibration(Half()).choose_range(-2.0, 2.0, np.ones(8)) == (-1.0, 1.0)


def test_convert_options_take_names_or_strategies_and_keep_names_in_json():
    opts = ConvertOptions(calibration="percentile", rounding="nearest")
    assert opts.calibration == Percentile() and opts.rounding == Nearest()
    assert ConvertOptions(calibration=Mse(), rounding=AdaRound()).rounding_method == AdaRound()
    assert ConvertOptions().calibration is None and ConvertOptions().rounding == Gptq()  # the defaults
    as_json = json.loads(json.dumps(dataclasses.asdict(opts), default=str))  # as recipe fingerprints hash it
    assert (as_json["calibration"], as_json["rounding"]) == ("percentile", "nearest")
    with pytest.raises(InputError, match="^--calibration must be one of minmax, mse, percentile, got 'x'$"):
        ConvertOptions(calibration="x")


def test_cli_flags_offer_the_registered_names():
    from edgesdk.cli import build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["convert"]
    flags = {a.dest: a.choices for a in sub._actions}
    assert sorted(flags["calibration"]) == sorted(CALIBRATIONS) and sorted(flags["rounding"]) == sorted(ROUNDINGS)
