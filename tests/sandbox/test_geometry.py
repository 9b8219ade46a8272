"""A scene's geometry agrees with an independent skyfield computation on the published TLE."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from skyfield.api import EarthSatellite, load, wgs84
from skyfield.framelib import itrs

from tests.sandbox.conftest import history, login, run_until, task_body

TASKS = "/api/tasking/v2/tasks"


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _published(client: TestClient) -> dict[str, tuple[str, str]]:
    text = client.get("/sandbox/v1/constellation", params={"format": "tle"}).text
    lines = text.strip().splitlines()
    return {lines[i].strip(): (lines[i + 1], lines[i + 2]) for i in range(0, len(lines), 3)}


@pytest.mark.parametrize(
    ("point", "fields"),
    [
        ({"lat": 60.1699, "lon": 24.9384}, {}),
        ({"lat": -1.2921, "lon": 36.8219}, {"lookSide": "LEFT", "passDirection": "ASCENDING"}),
        ({"lat": 35.0, "lon": 179.9}, {"imagingMode": "STRIPMAP", "lookSide": "RIGHT"}),
    ],
    ids=["helsinki-any", "nairobi-left-ascending", "antimeridian-strip-right"],
)
def test_scene_geometry_matches_skyfield_on_the_published_elements(
    client: TestClient, point: dict[str, float], fields: dict[str, Any]
) -> None:
    headers = login(client)
    task = client.post(TASKS, json=task_body(pointOfInterest=point, **fields), headers=headers)
    assert task.status_code == 201, task.text
    task_id = task.json()["id"]
    run_until(client, headers, task_id, {"ACTIVE"})
    scene = client.get(f"{TASKS}/{task_id}/scene", headers=headers).json()
    satellite = history(client, headers, task_id)[-1]["detail"]["satellite"]
    line1, line2 = _published(client)[satellite]

    ts = load.timescale(builtin=True)
    sat = EarthSatellite(line1, line2, satellite, ts)
    target = wgs84.latlon(point["lat"], point["lon"])
    start = _time(scene["imagingTime"]["start"])
    middle = start + timedelta(seconds=scene["duration"] / 2)

    # Zero-Doppler: the range is smallest at the middle of the imaging interval (±1 s).
    offsets = np.arange(-30.0, 30.01, 0.1)
    times = ts.from_datetimes([middle + timedelta(seconds=float(s)) for s in offsets])
    distances = (sat - target).at(times).distance().km
    assert abs(offsets[int(np.argmin(distances))]) <= 1.0

    at = ts.from_datetime(middle)
    altitude = (sat - target).at(at).altaz()[0].degrees
    assert abs((90.0 - altitude) - float(scene["incidenceAngle"])) <= 0.1 + 0.05  # 1 decimal

    position, velocity = sat.at(at).frame_xyz_and_velocity(itrs)
    r, v = position.km, velocity.km_per_s
    to_target = target.itrs_xyz.km - r
    left = float(np.dot(to_target, np.cross(r, v))) > 0
    assert scene["lookSide"] == ("LEFT" if left else "RIGHT")
    assert scene["passDirection"] == ("ASCENDING" if v[2] > 0 else "DESCENDING")
    for name in ("lookSide", "passDirection"):
        if name in fields:
            assert scene[name] == fields[name]
    window = task.json()["acquisitionWindow"]
    assert _time(window["start"]) <= start <= _time(window["end"])


def test_published_constellation_has_forty_satellites_in_both_formats(client: TestClient) -> None:
    tle = _published(client)
    assert len(tle) == 40
    omm = client.get("/sandbox/v1/constellation", params={"format": "omm"}).json()
    assert {record["OBJECT_NAME"] for record in omm} == set(tle)
    assert client.get("/sandbox/v1/constellation", params={"format": "kml"}).status_code == 400
