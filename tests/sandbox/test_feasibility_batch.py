"""checkFeasibility with many items (issue 12): one request predicts the passes of every item on the
constellation's shared grid, and each item still gets the verdict it would get on its own."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tasking.sandbox import feasibility
from tests.sandbox.conftest import task_body

# Far apart (≥ 3,000 km): no satellite can image two of them within the setup gap, so the items
# of one request cannot take each other's slots.
SPREAD = [(lat, lon) for lat in (-60, -30, 0, 30, 60) for lon in (-144, -72, 0, 72, 144)]


def _check(client: TestClient, headers: dict[str, str], bodies: list[dict[str, Any]]) -> Any:
    response = client.post("/api/tasking/v2/feasibility", json=bodies, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["feasibility"]


def test_a_batch_gives_each_point_the_verdict_a_request_of_its_own_gives(
    client: TestClient, demo: dict[str, str]
) -> None:
    bodies = [task_body(pointOfInterest={"lat": lat, "lon": lon}, width_h=24 * 13)
              for lat, lon in SPREAD]  # fmt: skip
    together = _check(client, demo, bodies)
    world = client.app.state.sandbox.world  # type: ignore[attr-defined]
    alone = []
    for body in bodies:
        world.pass_cache.clear()  # each point predicted on its own, not read back from the batch
        alone.append(_check(client, demo, [body])[0])
    assert [v["id"] for v in together] == [str(i) for i in range(len(SPREAD))]
    for batch, single in zip(together, alone, strict=True):
        assert {k: v for k, v in batch.items() if k != "id"} == {
            k: v for k, v in single.items() if k != "id"
        }
    assert all(v["result"] == "FEASIBLE" and len(v["opportunities"]) == 5 for v in together)


def test_a_request_may_carry_up_to_the_sandbox_limit_of_items(
    client: TestClient, demo: dict[str, str]
) -> None:
    limit = feasibility.MAX_ITEMS
    assert limit >= 1000  # a campaign of a thousand targets is one request
    bodies = [task_body(pointOfInterest={"lat": -70.0 + 0.14 * i, "lon": (0.37 * i) % 360 - 180})
              for i in range(limit)]  # fmt: skip
    verdicts = _check(client, demo, bodies)
    assert len(verdicts) == limit and {v["result"] for v in verdicts} <= {"FEASIBLE", "INFEASIBLE"}
    too_many = client.post("/api/tasking/v2/feasibility", json=[*bodies, bodies[0]], headers=demo)
    assert too_many.status_code == 400
    assert f"at most {limit} task requests" in too_many.json()["message"]
