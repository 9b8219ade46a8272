"""The shared grid of pass prediction (tasking/passes.py, tasking/ephemeris.py): a batch of points
on one propagated grid finds what each point finds on its own, the grid is propagated once, and
every cache is bounded."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sgp4.api import SatrecArray, jday

import tasking.passes as passes_module
from tasking.ephemeris import Ephemeris
from tasking.lru import BoundedCache
from tasking.orbits import Satellite, generate_constellation, parse_tle_text, to_tle_text
from tasking.passes import (
    Constraints,
    PassPredictor,
    PassQuery,
    PassTable,
    exclusion_reason,
    predict_passes,
    predictor_for,
)
from tasking.sandbox.world import World

EPOCH = datetime(2026, 11, 22, tzinfo=UTC)
# Not on the grid's lattice: the batch's grid must serve windows wherever they start.
START = EPOCH + timedelta(hours=7, minutes=13, seconds=7, microseconds=500_000)
END = START + timedelta(days=14)
POINTS = {"equator": (0.0, 25.0), "60°N": (60.1699, 24.9384), "78°N": (78.22, 15.65)}


@pytest.fixture(scope="module")
def sats() -> list[Satellite]:
    return generate_constellation(epoch=EPOCH)


def _per_point_search(
    sats: list[Satellite], lat: float, lon: float, start: datetime, end: datetime
) -> list[tuple[str, datetime, float]]:
    """The passes of one point searched on their own, independently of tasking.passes: a grid
    anchored at the window start, no prefilter, bisection to 1 ms on exact SGP4 states in ECEF.
    (satellite, zero-Doppler time, incidence) for incidence ≤ 45°."""
    a, f = 6378.137, 1 / 298.257223563
    e2 = f * (2 - f)
    phi, lam = math.radians(lat), math.radians(lon)
    n = a / math.sqrt(1 - e2 * math.sin(phi) ** 2)
    target = np.array(
        [
            n * math.cos(phi) * math.cos(lam),
            n * math.cos(phi) * math.sin(lam),
            n * (1 - e2) * math.sin(phi),
        ]
    )
    up = np.array([math.cos(phi) * math.cos(lam), math.cos(phi) * math.sin(lam), math.sin(phi)])
    jd0, fr0 = jday(
        start.year,
        start.month,
        start.day,
        start.hour,
        start.minute,
        start.second + start.microsecond / 1e6,
    )
    omega = 7.292115146706979e-5  # rad/s, the Earth's rotation as SGP4's gstime turns

    def ecef(e: np.ndarray, r: np.ndarray, v: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, ...]:
        tut1 = (jd0 - 2451545.0 + fr0 + t / 86400.0) / 36525.0
        seconds = (
            -6.2e-6 * tut1**3
            + 0.093104 * tut1**2
            + (876600.0 * 3600 + 8640184.812866) * tut1
            + 67310.54841
        )
        theta = np.radians(seconds / 240.0) % (2 * math.pi)
        c, s = np.cos(theta), np.sin(theta)
        x, y = c * r[..., 0] + s * r[..., 1], -s * r[..., 0] + c * r[..., 1]
        vx = c * v[..., 0] + s * v[..., 1] + omega * y
        vy = -s * v[..., 0] + c * v[..., 1] - omega * x
        pos = np.stack([x, y, r[..., 2]], -1) - target
        return pos, np.stack([vx, vy, v[..., 2]], -1), e

    span = (end - start).total_seconds()
    grid = np.append(np.arange(0.0, span, 120.0), span)
    e, r, v = SatrecArray([s.satrec for s in sats]).sgp4(
        np.full(grid.shape, jd0), fr0 + grid / 86400.0
    )
    d, w, _ = ecef(e, r, v, grid)
    rate = np.einsum("stk,stk->st", d, w)
    found = []
    for i, sat in enumerate(sats):
        k = np.flatnonzero((rate[i, :-1] < 0) & (rate[i, 1:] >= 0) & (e[i, 1:] == 0))
        lo, hi = grid[k], grid[k + 1]
        for _ in range(20):  # 120 s / 2**20 ≈ 0.1 ms
            mid = 0.5 * (lo + hi)
            em, rm, vm = sat.satrec.sgp4_array(np.full(mid.shape, jd0), fr0 + mid / 86400.0)
            dm, wm, _ = ecef(em, rm, vm, mid)
            ahead = np.einsum("ck,ck->c", dm, wm) >= 0
            lo, hi = np.where(ahead, lo, mid), np.where(ahead, mid, hi)
        t = 0.5 * (lo + hi)
        et, rt, vt = sat.satrec.sgp4_array(np.full(t.shape, jd0), fr0 + t / 86400.0)
        dt, _, _ = ecef(et, rt, vt, t)
        incidence = np.degrees(np.arccos(dt @ up / np.linalg.norm(dt, axis=-1)))
        found += [
            (sat.name, start + timedelta(seconds=float(ti)), float(inc))
            for ti, inc in zip(t, incidence, strict=True)
            if inc <= 45.0
        ]
    return found


@pytest.mark.parametrize("place", list(POINTS))
def test_a_batch_on_the_shared_grid_finds_the_passes_of_a_per_point_search(
    sats: list[Satellite], place: str
) -> None:
    rng = random.Random(3)
    others = [PassQuery(rng.uniform(-70, 80), rng.uniform(-180, 180), START, END) for _ in range(9)]
    lat, lon = POINTS[place]
    batch = PassPredictor(sats).passes_many(
        [*others[:4], PassQuery(lat, lon, START, END), *others[4:]]
    )
    ours = batch[4].to_list()
    reference = _per_point_search(sats, lat, lon, START, END)

    unmatched = list(reference)
    for p in ours:
        match = [
            c
            for c in unmatched
            if c[0] == p.satellite and abs((c[1] - p.time).total_seconds()) <= 1.0
        ]
        assert len(match) == 1, f"no per-point pass within ±1 s for {p}"
        assert p.incidence == pytest.approx(match[0][2], abs=0.1)
        unmatched.remove(match[0])
    # Only a pass grazing 45° within both methods' noise may be on one side only.
    assert all(abs(inc - 45.0) < 0.01 for _, _, inc in unmatched), unmatched
    assert len(ours) > 100


def test_each_point_of_a_batch_gets_what_it_gets_alone(sats: list[Satellite]) -> None:
    # Windows of their own (the batch's grid covers them all) and more points than one matrix
    # product takes, so the batch crosses every internal boundary; identical to the last bit, so
    # a feasibility check and the create after it agree.
    rng = random.Random(4)
    queries = [
        PassQuery(
            rng.uniform(-80, 85),
            rng.uniform(-180, 180),
            START + timedelta(hours=rng.uniform(0, 48)),
            END - timedelta(hours=rng.uniform(0, 48)),
        )
        for _ in range(40)
    ]
    batch = PassPredictor(sats).passes_many(queries)
    for query, table in zip(queries, batch, strict=True):
        assert table.to_list() == PassPredictor(sats).passes(*query).to_list()


def test_the_grid_is_propagated_once_for_every_point_and_window_it_covers(
    sats: list[Satellite], monkeypatch: pytest.MonkeyPatch
) -> None:
    propagated: list[int] = []
    original = Ephemeris._propagate

    def counting(self: Ephemeris, chunk: int, step_s: float) -> object:
        propagated.append(chunk)
        return original(self, chunk, step_s)

    monkeypatch.setattr(Ephemeris, "_propagate", counting)
    predictor = PassPredictor(sats)
    predictor.passes_many([PassQuery(lat, 2.0 * lat, START, END) for lat in range(-70, 80, 10)])
    first = len(propagated)
    # Six hours at a time: 07:00 on day 0 to 07:20 on day 14 is 57 blocks, each once.
    assert first == len(set(propagated)) == 14 * 4 + 1
    for hours in (1, 10, 20):  # later windows, point by point: only what is new is propagated
        later = timedelta(hours=hours)
        predictor.passes(12.0, 34.0, START + later, END + later)
    assert len(propagated) == len(set(propagated)) == first + 3  # up to 03:20 on day 15


def test_callers_with_the_same_elements_share_one_predictor(sats: list[Satellite]) -> None:
    # The sandbox and the app's preview parse the same published elements into new objects.
    copies = parse_tle_text(to_tle_text(sats))
    assert copies is not sats and predictor_for(copies) is predictor_for(sats)
    assert predictor_for(copies) is not predictor_for(sats[:5])
    assert predict_passes(copies, 10.0, 20.0, START, START + timedelta(days=1)) == predict_passes(
        sats, 10.0, 20.0, START, START + timedelta(days=1)
    )


def test_the_bounded_cache_drops_least_recently_used_bytes_first() -> None:
    cache: BoundedCache[str, bytes] = BoundedCache(10, len)
    cache.put("a", b"aaaa")
    cache.put("b", b"bbbb")
    assert cache.get("a") == b"aaaa"  # now the most recently used
    cache.put("c", b"cccc")
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (b"aaaa", None, b"cccc")
    assert cache.nbytes == 8 and len(cache) == 2
    assert cache.put("huge", b"x" * 11) == b"x" * 11  # returned, not kept
    assert cache.get("huge") is None and cache.nbytes == 8
    cache.put("a", b"a")  # a replaced value is counted once
    assert cache.nbytes == 5
    assert cache.get_or_make("d", lambda: b"dd") == b"dd" and cache.get("d") == b"dd"


def test_the_grid_caches_stay_within_their_budgets(sats: list[Satellite]) -> None:
    ephemeris = Ephemeris(
        [s.satrec for s in sats], chunk_cache_bytes=2_000_000, grid_cache_bytes=4_000_000
    )
    for day in range(0, 60, 3):
        grid = ephemeris.grid(START + timedelta(days=day), END + timedelta(days=day), 1200.0)
        assert grid.t[-1] >= 14 * 86400
        assert ephemeris.cached_bytes <= 6_000_000


def test_the_sandbox_pass_cache_is_bounded_by_bytes_and_still_answers_right(
    sats: list[Satellite],
) -> None:
    world = World(sats, pass_cache_bytes=400_000)
    queries = [PassQuery(lat, 5.0, START, END) for lat in range(-75, 80, 5)]
    tables = world.passes_many(queries)
    assert world.pass_cache.nbytes <= 400_000 and 0 < len(world.pass_cache) < len(queries)
    assert world.passes(*queries[0]).to_list() == tables[0].to_list()  # recomputed once evicted
    # Compact: about 60 bytes a pass (a list of Pass objects is about ten times that).
    assert tables[-1].nbytes < 80 * len(tables[-1]) + 1000


def test_a_pass_table_reads_like_the_list_of_its_passes(sats: list[Satellite]) -> None:
    table = PassPredictor(sats).passes(48.85, 2.35, START, START + timedelta(days=3))
    passes = table.to_list()
    assert list(table) == passes and len(table) == len(passes) > 20
    assert table[0] == passes[0] and table[-1] == passes[-1]
    assert table[5:9].to_list() == passes[5:9]
    assert table.take(np.array([3, 1])).to_list() == [passes[3], passes[1]]
    with pytest.raises(IndexError):
        table[len(passes)]
    again = PassTable.from_passes(passes)
    assert all(a is b for a, b in zip(again, passes, strict=True))


@pytest.mark.parametrize(
    "constraints",
    [
        Constraints(10, 45),
        Constraints(20, 35, look_side="LEFT"),
        Constraints(15, 40, look_side="RIGHT", pass_direction="DESCENDING"),
        Constraints(0, 90, pass_direction="ASCENDING"),
        Constraints(30, 30),
    ],
)
def test_exclusion_kinds_of_a_table_follow_exclusion_reason(
    sats: list[Satellite], constraints: Constraints
) -> None:
    table = PassPredictor(sats).passes(-33.9, 151.2, START, START + timedelta(days=4))
    words = {0: None, 1: "incidence", 2: "look", 3: "pass"}
    for kinds in (
        table.exclusion_kinds(constraints),
        PassTable.from_passes(table.to_list()).exclusion_kinds(constraints),
    ):
        expected = [
            (reason.split()[0] if (reason := exclusion_reason(p, constraints)) else None)
            for p in table
        ]
        assert [words[int(k)] for k in kinds] == expected


def test_grid_step_and_prefilter_are_read_at_each_call(
    sats: list[Satellite], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A test (test_passes.py) changes them to check the coarse search against a fine one.
    window = (START, START + timedelta(days=1))
    coarse = predict_passes(sats, 81.5, -40.0, *window)
    monkeypatch.setattr(passes_module, "_GRID_STEP_S", 60.0)
    monkeypatch.setattr(passes_module, "_PREFILTER_MARGIN_DEG", 180.0)
    grid = predictor_for(sats)._ephemeris.grid(*window, passes_module._GRID_STEP_S)  # type: ignore[union-attr]
    assert grid.t[1] == 60.0
    fine = predict_passes(sats, 81.5, -40.0, *window)
    assert [p.satellite for p in fine] == [p.satellite for p in coarse]
