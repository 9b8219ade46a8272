"""Recurring series on the Campaigns page (``?series=<id>``): the occurrences a page orders when no
worker runs, past / current / upcoming with their windows, states and task statuses, pause and
resume, cancel behind a confirmation listing each cancellable task's fee tier; and the recurrence
input's refusals by rule."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tasking.config import load_settings
from tasking.rules import TaskDraft
from tasking.sandbox import seed
from tasking.sandbox.server import SandboxHandle
from tasking.series import OccurrenceState, Recurrence, Series, SeriesStatus
from tasking.service import TaskingService, build_service
from tasking.targets import Target
from tests.app.conftest import RUN_TIMEOUT_S, no_exception
from tests.app.conftest import texts as escaped
from ui import keys

CAMPAIGNS = "views/campaigns.py"


@pytest.fixture
def service(app_env: SandboxHandle, tmp_path: Path) -> Iterator[TaskingService]:
    """A service on the app's own store (the same data directory), for arranging and checking."""
    settings = load_settings(data_dir=tmp_path / "data", sandbox_url=app_env.url, worker="off")
    built = build_service(settings)
    try:
        yield built
    finally:
        built.close()


def weekly(service: TaskingService, name: str = "Weekly harbour") -> Series:
    """Four weekly occurrences of two targets; the first two are within ICEYE's 14 days now."""
    contract = service.client.get_contract(seed.BROAD_CONTRACT_ID)
    start = (service.now() + timedelta(days=2, hours=12)).replace(minute=0, second=0, microsecond=0)
    draft = TaskDraft(
        contract_id=contract.id,
        lat=None,
        lon=None,
        window_start=None,
        window_end=None,
        imaging_mode="SPOTLIGHT",
    )
    return service.create_series(
        name,
        draft,
        [Target("harbour", 60.15, 24.95), Target("airport", 60.32, 24.96)],
        contract,
        timedelta(hours=48),
        Recurrence(start=start, every_days=7, count=4),
    )


def texts(at: AppTest) -> str:
    return escaped(at).replace("\\", "")


def table(at: AppTest, column: str, value: object) -> object:
    """The first dataframe holding ``value`` in ``column``."""
    for frame in at.dataframe:
        data = frame.value
        if column in data.columns and value in list(data[column]):
            return data
    raise AssertionError(f"no table with {column} = {value!r}")


def test_a_series_page_orders_what_is_due_and_shows_current_and_upcoming_occurrences(
    open_app: Callable[..., AppTest], service: TaskingService
) -> None:
    series = weekly(service)

    at = open_app(CAMPAIGNS, query={"series": series.id})

    no_exception(at)
    assert [t.value for t in at.title] == ["Weekly harbour"]
    assert "Every 7 days, 4 times · windows of 48 h" in texts(at)
    current = service.series.get(series.id)
    assert current is not None
    assert [o.state for o in current.occurrences] == [
        OccurrenceState.ORDERED, OccurrenceState.ORDERED,
        OccurrenceState.UPCOMING, OccurrenceState.UPCOMING,
    ]  # fmt: skip
    ordered = table(at, "#", 1)
    assert list(ordered["State"]) == ["ORDERED", "ORDERED"]
    assert all("2 RECEIVED" in t or "ACTIVE" in t for t in ordered["Tasks"])
    assert all(link.startswith("campaigns?campaign=") for link in ordered["Campaign"])
    upcoming = table(at, "#", 3)
    assert list(upcoming["State"]) == ["UPCOMING", "UPCOMING"]
    tasks = table(at, "Target", "harbour")
    assert len(tasks) == 4 and all(link.startswith("monitor?task=") for link in tasks["Task"])
    assert [s.value for s in at.subheader][:3] == ["Current", "Upcoming", "Past"]


def test_pause_and_resume_then_cancel_lists_each_fee_tier_and_cancels_the_tasks(
    open_app: Callable[..., AppTest], service: TaskingService
) -> None:
    series = weekly(service, "Cancel me")
    at = open_app(CAMPAIGNS, query={"series": series.id})

    at.button(key="sr_pause").click().run()
    no_exception(at)
    assert "Paused" in texts(at)
    assert service.series.get(series.id).status is SeriesStatus.PAUSED  # type: ignore[union-attr]
    at.button(key="sr_resume").click().run()
    assert service.series.get(series.id).status is SeriesStatus.ACTIVE  # type: ignore[union-attr]

    at.button(key="sr_cancel_open").click().run()
    no_exception(at)
    fees = table(at, "Fee", "10 %")
    # 60 h before the first window: 10 %; a week later, more than 72 h ahead: free.
    assert sorted(fees["Fee"]) == ["10 %", "10 %", "free", "free"]
    at.button(key="sr_cancel_confirm").click().run()

    no_exception(at)
    assert "The series was cancelled" in texts(at)
    after = service.series.get(series.id)
    assert after is not None and after.status is SeriesStatus.CANCELED
    tasks = [t for o in after.occurrences if o.campaign_id for t in campaign_tasks(service, o)]
    assert len(tasks) == 4
    assert {service.client.get_task(t).status for t in tasks} == {"CANCELED"}
    assert not [b for b in at.button if b.key in ("sr_pause", "sr_cancel_open")]


def campaign_tasks(service: TaskingService, occurrence: object) -> list[str]:
    campaign = service.campaigns.get(occurrence.campaign_id)  # type: ignore[attr-defined]
    assert campaign is not None
    return [t.task_id for t in campaign.targets if t.task_id]


def test_the_series_list_links_each_series_with_its_next_occurrence(
    open_app: Callable[..., AppTest], service: TaskingService
) -> None:
    series = weekly(service, "Listed series")

    at = open_app(CAMPAIGNS)

    no_exception(at)
    assert "Recurring series" in [s.value for s in at.subheader]
    assert "next: #3" in texts(at)
    assert "2 of 4 ordered" in texts(at)
    assert series.id  # the link's query (?series=<id>) is the page link's, checked in a browser


def test_an_unknown_series_is_a_readable_not_found(open_app: Callable[..., AppTest]) -> None:
    at = open_app(CAMPAIGNS, query={"series": "no-such-series"})
    no_exception(at)
    assert "No recurring series no-such-series" in texts(at)


def field(name: str) -> str:
    return keys.recurrence_field("t_", name).name


def recurrence_form() -> None:
    import streamlit as st

    from ui.series_view import recurrence_input

    made = recurrence_input("t_")
    st.write("made" if made is not None else "refused")


def test_the_recurrence_input_refuses_by_rule_and_makes_a_recurrence(
    app_env: SandboxHandle,
) -> None:
    at = AppTest.from_function(recurrence_form, default_timeout=RUN_TIMEOUT_S).run()
    no_exception(at)
    assert "made" in [m.value for m in at.markdown]
    assert "6 occurrences (every 7 days, 6 times)" in texts(at)

    at.number_input(key=field("every")).set_value(0).run()
    assert "Every N days needs N between 1 and" in texts(at)
    assert "every-n-days rule" not in texts(at)  # the rule's words, not its internal id
    assert "refused" in [m.value for m in at.markdown]

    at.number_input(key=field("every")).set_value(7)
    at.number_input(key=field("count")).set_value(500).run()
    assert "A series has at most" in texts(at)

    at.number_input(key=field("count")).set_value(3)
    at.radio(key=field("kind")).set_value("On weekdays").run()
    at.multiselect(key=field("weekdays")).set_value([]).run()
    assert "Choose every N days, or at least one weekday" in texts(at)
    at.multiselect(key=field("weekdays")).set_value(["Monday", "Thursday"]).run()
    assert "3 occurrences (on Monday and Thursday, 3 times)" in texts(at)
