"""The Campaigns page (issue 12): the list of campaigns, one campaign's view (counts that follow
the sandbox clock, a row per target, the exports' contents, Resume, an unknown id), the view read
from the worker's store with no ICEYE request, and All tasks filtered by campaign.

Campaigns are made as ``tests/test_campaigns.py`` makes them, by a service of their own on the
app's sandbox and store (the New campaign page's own process, as far as the view can tell)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

import ui.service
from tasking import monitoring
from tasking.campaign_progress import bucket_of
from tasking.campaigns import CampaignRun, TargetResult, TargetState
from tasking.client import TaskingClient
from tasking.config import Settings, load_settings
from tasking.sandbox.control import SandboxControl
from tasking.sandbox.server import SandboxHandle
from tasking.service import TaskingService, build_service
from tasking.targets import Target
from tasking.worker import Worker, WorkerConfig
from tests.app.conftest import no_exception, texts
from tests.test_campaigns import draft_and_contract

CAMPAIGNS = "views/campaigns.py"
TASKS = "views/tasks.py"
PORTS = [
    Target(name="Gdańsk", lat=54.40, lon=18.67),
    Target(name="Riga", lat=57.03, lon=24.07),
    Target(name="Tallinn", lat=59.46, lon=24.77),
]


class Stop(Exception):
    """Raised by a progress callback to stop a create half-way (a page closed)."""


def shown(at: AppTest) -> str:
    return texts(at).replace("\\", "")


@pytest.fixture
def app_service(app_env: SandboxHandle) -> Iterator[TaskingService]:
    """A service on the app's sandbox and store, to make campaigns as New campaign does."""
    service = build_service(load_settings())
    try:
        yield service
    finally:
        service.close()


def make_campaign(
    service: TaskingService, name: str, sites: list[Target] = PORTS, *, stop_after: int = 0
) -> str:
    """A campaign of ``sites``; ``stop_after`` > 0 stops its run after that many targets."""
    draft, contract = draft_and_contract(service)
    campaign_id, requests = service.campaign_requests(name, draft, sites, contract)

    def stop(done: int, _total: int, _result: TargetResult) -> None:
        if done == stop_after:
            raise Stop

    try:
        run: CampaignRun = service.create_campaign(
            name,
            draft,
            sites,
            contract,
            requests=requests,
            campaign_id=campaign_id,
            on_progress=stop if stop_after else None,
        )
    except Stop:
        return campaign_id
    assert run.count(TargetState.PLACED) == len(sites)
    return campaign_id


def metrics(at: AppTest) -> dict[str, int]:
    return {m.label: int(m.value) for m in at.metric}


def truth(client: TaskingClient, service: TaskingService, campaign_id: str) -> dict[str, int]:
    """The counts the sandbox says, bucket by bucket (labels as the view's metrics)."""
    campaign = service.campaigns.get(campaign_id)
    assert campaign is not None
    found = dict.fromkeys(("Planned", "Captured", "Delivered", "Failed"), 0)
    for target in campaign.targets:
        status = client.get_task(target.task_id).status if target.task_id else None
        found[bucket_of(target, status).value.capitalize()] += 1
    return found


def all_final(client: TaskingClient, service: TaskingService, campaign_id: str) -> bool:
    campaign = service.campaigns.get(campaign_id)
    assert campaign is not None
    return all(
        monitoring.is_terminal(client.get_task(t.task_id).status)
        for t in campaign.targets
        if t.task_id
    )


def test_an_empty_store_points_to_new_campaign(open_app: Callable[..., AppTest]) -> None:
    at = open_app(CAMPAIGNS)

    no_exception(at)
    assert "No campaign yet" in shown(at)
    links = {el.proto.label: el.proto for el in at.get("page_link")}
    assert links["New campaign"].page.endswith("new-campaign") or "new_campaign" in str(
        links["New campaign"]
    )


def test_the_list_shows_each_campaign_with_its_counts_and_a_link_that_opens_it(
    open_app: Callable[..., AppTest], app_service: TaskingService
) -> None:
    campaign_id = make_campaign(app_service, "Baltic ports")

    at = open_app(CAMPAIGNS)

    no_exception(at)
    link = next(el.proto for el in at.get("page_link") if el.proto.label == "Baltic ports")
    assert f"campaign={campaign_id}" in link.query_string
    assert "3 targets" in shown(at) and "every target ordered" in shown(at)
    bars = [el.proto.text for el in at.get("progress")]
    # Nothing is captured within seconds of the order (lead times); a scheduling decision (a
    # rejection) could come within the sandbox's latency, so planned + failed make the three.
    assert any(
        re.fullmatch(r"Planned (\d) · Captured 0 · Delivered 0 · Failed (\d)", b)
        and sum(map(int, re.findall(r"\d", b))) == 3
        for b in bars
    ), bars


def test_the_view_counts_follow_the_sandbox_clock_until_every_target_is_final(
    open_app: Callable[..., AppTest],
    app_service: TaskingService,
    client: TaskingClient,
    control: SandboxControl,
) -> None:
    campaign_id = make_campaign(app_service, "Clockwork")

    at = open_app(CAMPAIGNS, query={"campaign": campaign_id})

    no_exception(at)
    assert [t.value for t in at.title] == ["Clockwork"]
    assert shown(at).count("**Imaging mode** SPOTLIGHT · **Window**") == 1
    # Just ordered: nothing can be captured within seconds of the order (lead times); a
    # scheduling decision (a rejection) may come within the sandbox's latency.
    assert metrics(at)["Captured"] == metrics(at)["Delivered"] == 0
    assert metrics(at)["Planned"] + metrics(at)["Failed"] == 3
    table = at.dataframe[0].value
    assert list(table["Target"]) == ["Gdańsk", "Riga", "Tallinn"]
    assert list(table["Order"]) == ["PLACED"] * 3
    assert "asks ICEYE for the campaign's tasks every" in shown(at)

    for _ in range(200):  # bounded: each jump is one event of the sandbox (any test's)
        if all_final(client, app_service, campaign_id):
            break
        control.advance(to_next_event=True)
    else:
        pytest.fail("the campaign's tasks never reached a final status")
    at.run()

    no_exception(at)
    assert metrics(at) == truth(client, app_service, campaign_id)
    assert sum(metrics(at).values()) == 3 and metrics(at)["Planned"] == 0
    # Without a worker the view fetched the quicklooks itself (three tasks: one refresh's worth).
    assert len(at.get("image")) == metrics(at)["Delivered"]
    assert "Every target is final: no more refreshes" in shown(at)


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bytes, str]]:
    """Every file the app hands to the browser (downloads included), with its media type."""
    files: list[tuple[bytes, str]] = []
    original = MemoryMediaFileStorage.load_and_get_id

    def record(
        self: MemoryMediaFileStorage, path_or_data: Any, mimetype: str, *a: Any, **k: Any
    ) -> str:
        data = path_or_data.encode() if isinstance(path_or_data, str) else path_or_data
        files.append((bytes(data), mimetype))
        return original(self, path_or_data, mimetype, *a, **k)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    return files


def test_the_exports_carry_every_target_with_its_task(
    open_app: Callable[..., AppTest],
    app_service: TaskingService,
    served: list[tuple[bytes, str]],
) -> None:
    campaign_id = make_campaign(app_service, "Export me")
    campaign = app_service.campaigns.get(campaign_id)
    assert campaign is not None

    at = open_app(CAMPAIGNS, query={"campaign": campaign_id})

    no_exception(at)
    labels = {b.proto.label for b in at.get("download_button")}
    assert {"Download CSV", "Download GeoJSON"} <= labels
    text = next(d for d, mime in served if mime.startswith("text/csv")).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [r["target"] for r in rows] == ["Gdańsk", "Riga", "Tallinn"]
    assert [r["id"] for r in rows] == [t.task_id for t in campaign.targets]
    assert {r["campaign"] for r in rows} == {"Export me"}
    assert all(r["status"] in ("RECEIVED", "ACTIVE") for r in rows)
    collection = json.loads(next(d for d, mime in served if "geo+json" in mime))
    assert collection["campaign"]["id"] == campaign_id
    features = collection["features"]
    assert [f["properties"]["id"] for f in features] == [t.task_id for t in campaign.targets]
    assert all(f["geometry"]["type"] in ("Point", "Polygon") for f in features)


def test_resume_sends_only_the_targets_never_sent(
    open_app: Callable[..., AppTest], app_service: TaskingService
) -> None:
    campaign_id = make_campaign(app_service, "Half done", stop_after=1)

    at = open_app(CAMPAIGNS, query={"campaign": campaign_id})

    no_exception(at)
    assert "2 of 3 targets have no task" in shown(at)
    assert metrics(at)["Not ordered"] == 2
    assert list(at.dataframe[0].value["Order"]) == ["PLACED", "PENDING", "PENDING"]
    at.button(key="cv_resume").click().run()

    no_exception(at)
    assert "Resume sent 2 orders: 3 of 3 targets have a task." in shown(at)
    assert "have no task" not in shown(at)  # the page read everything again
    assert "Not ordered" not in metrics(at)
    assert metrics(at)["Planned"] + metrics(at)["Failed"] == 3
    campaign = app_service.campaigns.get(campaign_id)
    assert campaign is not None and all(t.task_id for t in campaign.targets)
    assert not [b for b in at.button if b.key == "cv_resume"]
    at.run()
    assert "Resume sent" not in shown(at)  # said once


def test_resume_refuses_a_window_that_no_longer_meets_the_rules_before_sending_anything(
    open_app: Callable[..., AppTest], app_service: TaskingService, control: SandboxControl
) -> None:
    campaign_id = make_campaign(app_service, "Too late", stop_after=1)
    # A day later the window starts within the 12 h lead time of a COMMERCIAL order.
    control.advance(to_next_event=False, seconds=86_400)
    at = open_app(CAMPAIGNS, query={"campaign": campaign_id})

    at.button(key="cv_resume").click().run()

    no_exception(at)
    assert "Could not resume the campaign" in shown(at)
    assert "Targets 2, 3: Window start must be at least 12 h after now" in shown(at)
    campaign = app_service.campaigns.get(campaign_id)
    assert campaign is not None
    # Nothing journaled, so nothing sent.
    assert [t.order_key is None for t in campaign.targets] == [False, True, True]


def test_an_unknown_campaign_id_says_so(open_app: Callable[..., AppTest]) -> None:
    at = open_app(CAMPAIGNS, query={"campaign": "no-such-campaign"})

    no_exception(at)
    assert "No campaign no-such-campaign in this app's store" in shown(at)
    assert any(el.proto.label == "All campaigns" for el in at.get("page_link"))


def test_all_tasks_filters_by_campaign_names_it_and_keeps_the_filter_across_pages(
    open_app: Callable[..., AppTest],
    app_service: TaskingService,
    client: TaskingClient,
    control: SandboxControl,
) -> None:
    from tests.app.helpers import order

    outsider = order(client, control, reference="Not in a campaign")
    campaign_id = make_campaign(app_service, "Filter me")
    campaign = app_service.campaigns.get(campaign_id)
    assert campaign is not None
    ids = {t.task_id for t in campaign.targets}

    at = open_app(TASKS)
    frame = at.dataframe[0].value
    assert outsider.id in set(frame["Task ID"])
    named = dict(zip(frame["Task ID"], frame["Campaign"], strict=True))
    assert all(named[i] == "Filter me" for i in ids) and named[outsider.id] == ""

    at.selectbox(key="tl_campaign").select(campaign_id).run()

    no_exception(at)
    assert set(at.dataframe[0].value["Task ID"]) == ids
    at.switch_page("views/monitor.py").run()
    at.switch_page(TASKS).run()
    assert at.selectbox(key="tl_campaign").value == campaign_id
    assert set(at.dataframe[0].value["Task ID"]) == ids


# --- with a background worker: the view reads its store and asks ICEYE nothing ---------------------


@pytest.fixture
def app_services(monkeypatch: pytest.MonkeyPatch) -> list[TaskingService]:
    """The service the app builds (to count the app's own ICEYE requests)."""
    built: list[TaskingService] = []
    original = ui.service.build_service

    def recording(settings: Settings) -> TaskingService:
        built.append(original(settings))
        return built[-1]

    monkeypatch.setattr(ui.service, "build_service", recording)
    return built


@pytest.fixture
def worker(app_service: TaskingService) -> Iterator[Worker]:
    """A worker on its own service, driven one pass at a time (``run_once``)."""
    config = WorkerConfig(budget_per_minute=100_000, lease_ttl_s=600, poll_interval_s=0)
    made = Worker(app_service, config, senders={})
    try:
        yield made
    finally:
        made.stop()


def test_with_a_worker_the_view_reads_its_store_and_a_refresh_asks_iceye_nothing(
    open_app: Callable[..., AppTest],
    app_service: TaskingService,
    app_services: list[TaskingService],
    worker: Worker,
    client: TaskingClient,
    control: SandboxControl,
) -> None:
    campaign_id = make_campaign(app_service, "Quiet")
    worker.run_once()

    at = open_app(CAMPAIGNS, query={"campaign": campaign_id})

    no_exception(at)
    assert "Followed by the background worker" in shown(at)
    assert sum(metrics(at).values()) == 3
    (app,) = app_services
    before = app.client.request_count
    at.run()
    no_exception(at)
    assert app.client.request_count == before

    # On to the end: the worker fetches what each status calls for, the view shows it all.
    campaign = app_service.campaigns.get(campaign_id)
    assert campaign is not None
    ids = [t.task_id for t in campaign.targets if t.task_id]
    for _ in range(200):  # bounded: one sandbox event, then one worker pass, per round
        assert app_service.desk is not None
        followed = app_service.desk.followed_many(ids)
        if all(
            f.final and (f.status != "DONE" or f.quicklook is not None) for f in followed.values()
        ) and len(followed) == len(ids):
            break
        control.advance(to_next_event=True)
        worker.run_once()
    else:
        pytest.fail("the worker never saw the campaign's tasks final")
    before = app.client.request_count
    at.run()

    no_exception(at)
    assert app.client.request_count == before
    assert metrics(at) == truth(client, app_service, campaign_id)
    assert "Every target is final: no more refreshes" in shown(at)
    delivered = metrics(at)["Delivered"]
    assert len(at.get("image")) == delivered  # one quicklook per delivered target


def test_the_coverage_map_colours_each_target_by_its_status_and_draws_known_footprints() -> None:
    from tasking.campaign_progress import TargetProgress
    from tasking.campaigns import CampaignTarget
    from tasking.export import Footprint
    from tasking.models import TaskRequest
    from ui.campaign_map import NOT_ORDERED_COLOUR, coverage_layer
    from ui.format import status_chip
    from ui.maps import base_map
    from ui.scene_map import ACTUAL_COLOUR

    request = TaskRequest.model_validate(
        {
            "contractID": "c",
            "pointOfInterest": {"lat": 60.0, "lon": 25.0},
            "acquisitionWindow": {"start": "2026-12-01T00:00:00Z", "end": "2026-12-03T00:00:00Z"},
            "imagingMode": "SPOTLIGHT",
        }
    )
    done = CampaignTarget(0, "<b>tile 1</b>", 60.0, 25.0, request, order_key="k", task_id="t1")
    unsent_target = CampaignTarget(1, "tile 2", 60.05, 25.09, request)
    corners = [(59.98, 24.97), (59.98, 25.03), (60.02, 25.03), (60.02, 24.97)]
    layer = coverage_layer(
        [TargetProgress(done, status="DONE"), TargetProgress(unsent_target)],
        {"t1": Footprint(corners, "actual")},
    )
    drawn_on = base_map()
    layer.add_to(drawn_on)
    script = drawn_on.get_root().render()
    drawn = next(iter(layer._children.values()))
    assert [t[2] for t in drawn.targets] == [status_chip("DONE").hex, NOT_ORDERED_COLOUR]
    assert "&lt;b&gt;tile 1&lt;/b&gt;" in drawn.targets[0][3]  # a name is text, never HTML
    assert [f[1] for f in drawn.footprints] == [ACTUAL_COLOUR]
    assert drawn.bounds == [[60.0, 25.0], [60.05, 25.09]]
    assert "L.circleMarker" in script and "L.polygon" in script
    assert "cdn" not in script.casefold()  # Leaflet's own shapes: nothing more to load
