"""Zones (polygons) and lines that tracks enter, leave and cross.

``--zone NAME:x,y;x,y;x,y...`` and ``--line NAME:x1,y1,x2,y2``, in pixels or in 0-1 fractions of the frame (all
values <= 1). A track's position is the bottom centre of its box (where a person stands). ``ZoneCounter``
turns positions into events and counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from ...errors import InputError

__all__ = ["Line", "Zone", "ZoneCounter", "parse_line", "parse_zone"]

_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def _split(text: str, what: str) -> tuple[str, str]:
    name, sep, rest = text.partition(":")
    if not sep or not name or not rest:
        raise InputError(f"--{what} {text!r}: expected NAME:COORDINATES")
    if not _NAME.match(name):
        raise InputError(f"--{what} {text!r}: the name may use letters, digits, '_', '-' and '.'")
    return name, rest


def _numbers(text: str, what: str, full: str) -> list[float]:
    try:
        return [float(v) for v in re.split(r"[,;\s]+", text.strip()) if v]
    except ValueError:
        raise InputError(f"--{what} {full!r}: coordinates must be numbers") from None


@dataclass(frozen=True)
class Zone:
    """A polygon (k, 2), k >= 3, in pixels once ``resolved`` (else fractions when ``fraction``)."""

    name: str
    points: tuple[tuple[float, float], ...]
    fraction: bool = False

    def resolved(self, width: int, height: int) -> "Zone":
        """Pixels of a width x height frame; InputError when a point lies outside the frame."""
        pts = [(x * width, y * height) if self.fraction else (x, y) for x, y in self.points]
        for x, y in pts:
            if not (0 <= x <= width and 0 <= y <= height):
                raise InputError(f"zone {self.name}: point ({x:g}, {y:g}) is outside the {width}x{height} frame")
        return Zone(self.name, tuple(pts), False)

    def contains(self, xy: np.ndarray) -> np.ndarray:
        """(n, 2) points -> (n,) bool inside (even-odd rule)."""
        pts = np.asarray(self.points, np.float64)
        x, y = xy[:, 0:1], xy[:, 1:2]
        x1, y1 = pts[:, 0][None], pts[:, 1][None]
        x2, y2 = np.roll(pts[:, 0], -1)[None], np.roll(pts[:, 1], -1)[None]
        crosses = ((y1 > y) != (y2 > y)) & (x < (x2 - x1) * (y - y1) / np.where(y2 == y1, 1e-12, y2 - y1) + x1)
        return (crosses.sum(axis=1) % 2) == 1


@dataclass(frozen=True)
class Line:
    """A segment from (x1, y1) to (x2, y2). Crossing it has two directions, named by the side the track comes
    from: for a mostly vertical line ``left_to_right`` / ``right_to_left``, else ``top_to_bottom`` /
    ``bottom_to_top``."""

    name: str
    a: tuple[float, float]
    b: tuple[float, float]
    fraction: bool = False

    def resolved(self, width: int, height: int) -> "Line":
        sx, sy = (width, height) if self.fraction else (1, 1)
        a, b = (self.a[0] * sx, self.a[1] * sy), (self.b[0] * sx, self.b[1] * sy)
        for x, y in (a, b):
            if not (0 <= x <= width and 0 <= y <= height):
                raise InputError(f"line {self.name}: point ({x:g}, {y:g}) is outside the {width}x{height} frame")
        return Line(self.name, a, b, False)

    def side(self, xy: np.ndarray) -> np.ndarray:
        """(n, 2) -> (n,) sign of the cross product: which side of the line each point is on (0: on it)."""
        ax, ay = self.a
        bx, by = self.b
        return np.sign((bx - ax) * (xy[:, 1] - ay) - (by - ay) * (xy[:, 0] - ax))

    def crossed(self, p: np.ndarray, q: np.ndarray) -> bool:
        """Whether the move p -> q (2,) crosses the segment (both ends strictly on opposite sides)."""
        s1 = self.side(np.stack([p, q]))
        if s1[0] == 0 or s1[1] == 0 or s1[0] == s1[1]:
            return False
        seg = Line("", (float(p[0]), float(p[1])), (float(q[0]), float(q[1])))
        s2 = seg.side(np.array([self.a, self.b], np.float64))
        return bool(s2[0] != s2[1] and s2[0] != 0 and s2[1] != 0)

    def direction(self, p: np.ndarray, q: np.ndarray) -> str:
        dx, dy = self.b[0] - self.a[0], self.b[1] - self.a[1]
        if abs(dy) >= abs(dx):  # mostly vertical line: movement across it is horizontal
            return "left_to_right" if q[0] > p[0] else "right_to_left"
        return "top_to_bottom" if q[1] > p[1] else "bottom_to_top"


def parse_zone(text: str) -> Zone:
    """``NAME:x,y;x,y;x,y...`` -> Zone (InputError for fewer than 3 points or an odd count)."""
    name, rest = _split(text, "zone")
    v = _numbers(rest, "zone", text)
    if len(v) % 2:
        raise InputError(f"--zone {text!r}: an odd number of coordinates (give x,y pairs)")
    if len(v) < 6:
        raise InputError(f"--zone {text!r}: a zone needs at least 3 points, got {len(v) // 2}")
    pts = tuple((v[i], v[i + 1]) for i in range(0, len(v), 2))
    if len(set(pts)) < 3:
        raise InputError(f"--zone {text!r}: a zone needs at least 3 different points")
    return Zone(name, pts, fraction=all(0 <= c <= 1 for c in v))


def parse_line(text: str) -> Line:
    """``NAME:x1,y1,x2,y2`` -> Line (InputError for another count or equal end points)."""
    name, rest = _split(text, "line")
    v = _numbers(rest, "line", text)
    if len(v) != 4:
        raise InputError(f"--line {text!r}: expected NAME:x1,y1,x2,y2 (4 numbers), got {len(v)}")
    if (v[0], v[1]) == (v[2], v[3]):
        raise InputError(f"--line {text!r}: the two end points are equal")
    return Line(name, (v[0], v[1]), (v[2], v[3]), fraction=all(0 <= c <= 1 for c in v))


@dataclass
class ZoneCounter:
    """Per track: inside which zones, and on which side of each line.

    A change of zone or side counts once the track's point has stayed on the new side for ``settle`` updates
    in a row (a person standing on an edge does not flicker in and out); a crossing counts when the move from
    the last point on the old side to the first settled point on the new side crosses the segment.
    ``update(ids, xy, labels)`` -> list of (type, track_id, label, name, direction) events; ``counts()`` ->
    ``{"<zone>/<label>": tracks inside, "<line>/<label>/<direction>": crossings so far}``.
    """

    zones: list[Zone]
    lines: list[Line]
    settle: int = 2
    _inside: dict[int, set[str]] = field(default_factory=dict)
    _side: dict[tuple[int, str], tuple[float, np.ndarray]] = field(default_factory=dict)
    _pending: dict[tuple[int, str], int] = field(default_factory=dict)
    _label: dict[int, str] = field(default_factory=dict)
    _crossings: dict[str, int] = field(default_factory=dict)

    def _settled(self, key: tuple[int, str], changed: bool) -> bool:
        if not changed:
            self._pending.pop(key, None)
            return False
        n = self._pending.get(key, 0) + 1
        if n >= self.settle:
            self._pending.pop(key, None)
            return True
        self._pending[key] = n
        return False

    def update(self, ids: np.ndarray, xy: np.ndarray, labels: list[str]) -> list[tuple[str, int, str, str, str | None]]:
        events: list[tuple[str, int, str, str, str | None]] = []
        inside = {z.name: z.contains(xy) for z in self.zones} if len(ids) else {}
        sides = {ln.name: ln.side(xy) for ln in self.lines} if len(ids) else {}
        for k, tid in enumerate(int(t) for t in ids):
            label = labels[k]
            self._label[tid] = label
            first = tid not in self._inside
            now = self._inside.setdefault(tid, set())
            for z in self.zones:
                raw = bool(inside[z.name][k])
                if first and raw:
                    now.add(z.name)
                    events.append(("enter", tid, label, z.name, None))
                elif not first and self._settled((tid, z.name), raw != (z.name in now)):
                    (now.add if raw else now.discard)(z.name)
                    events.append(("enter" if raw else "leave", tid, label, z.name, None))
            q = xy[k].astype(np.float64)
            for line in self.lines:
                key = (tid, line.name)
                side = float(sides[line.name][k])
                old = self._side.get(key)
                if old is None or old[0] == 0:
                    self._side[key] = (side, q)
                    continue
                if side == 0 or side == old[0]:
                    self._pending.pop(key, None)
                    self._side[key] = (old[0], q)  # last point on the settled side
                elif self._settled(key, True):
                    if line.crossed(old[1], q):
                        d = line.direction(old[1], q)
                        name = f"{line.name}/{label}/{d}"
                        self._crossings[name] = self._crossings.get(name, 0) + 1
                        events.append(("cross", tid, label, line.name, d))
                    self._side[key] = (side, q)
        return events

    def end(self, tid: int) -> list[tuple[str, int, str, str, str | None]]:
        """The track ended: it leaves every zone it was in."""
        label = self._label.pop(tid, "")
        for key in [k for k in self._side if k[0] == tid]:
            del self._side[key]
        for key in [k for k in self._pending if k[0] == tid]:
            del self._pending[key]
        return [("leave", tid, label, name, None) for name in sorted(self._inside.pop(tid, set()))]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for z in self.zones:
            for tid, names in self._inside.items():
                if z.name in names:
                    key = f"{z.name}/{self._label.get(tid, '')}"
                    out[key] = out.get(key, 0) + 1
        out.update(self._crossings)
        return out
