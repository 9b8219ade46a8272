"""Monitoring policy: what to fetch after a status change, timeline stages, what may be said of a
task at a moment (planned, imaged, products due), cancelling and its fees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tasking import monitoring as m
from tasking.models import TaskStatus
from tasking.modes import sla_hours

STATUSES = [s.value for s in TaskStatus]
NOW = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("current", "expected"),
    [
        ("RECEIVED", set()),
        ("ACTIVE", {"scene"}),
        ("FULFILLED", {"scene", "products"}),
        ("DONE", {"scene", "products"}),
        ("REJECTED", set()),
        ("CANCELED", set()),
        ("FAILED", set()),
    ],
)
def test_a_status_change_fetches_scene_from_active_and_products_from_fulfilled(
    current: str, expected: set[str]
) -> None:
    assert m.fetches_after("RECEIVED" if current != "RECEIVED" else None, current) == expected


@pytest.mark.parametrize("status", ["ACTIVE", "FULFILLED", "DONE"])
def test_the_first_observation_counts_as_a_change(status: str) -> None:
    assert "scene" in m.fetches_after(None, status)


@given(status=st.sampled_from(STATUSES))
def test_nothing_is_fetched_when_the_status_did_not_change(status: str) -> None:
    assert m.fetches_after(status, status) == frozenset()


@pytest.mark.parametrize("terminal", ["DONE", "REJECTED", "CANCELED", "FAILED"])
@pytest.mark.parametrize("current", ["ACTIVE", "FULFILLED", "DONE"])
def test_nothing_more_is_fetched_after_a_terminal_status(terminal: str, current: str) -> None:
    assert m.fetches_after(terminal, current) == frozenset()


def test_fulfilled_to_done_fetches_products_again_for_the_non_sla_ones() -> None:
    assert m.fetches_after("FULFILLED", "DONE") == {"scene", "products"}


@pytest.mark.parametrize(
    ("status", "terminal"),
    [
        ("RECEIVED", False),
        ("ACTIVE", False),
        ("FULFILLED", False),
        ("DONE", True),
        ("REJECTED", True),
        ("CANCELED", True),
        ("FAILED", True),
    ],
)
def test_terminal_statuses_end_polling(status: str, terminal: bool) -> None:
    assert m.is_terminal(status) is terminal
    assert m.next_poll_in(status) == (None if terminal else 5.0)


@pytest.mark.parametrize("status", ["DONE", "FAILED"])
def test_a_final_status_is_polled_while_a_fetch_it_calls_for_is_pending(status: str) -> None:
    assert m.next_poll_in(status, pending=True) == m.POLL_INTERVAL_S


def test_a_status_not_read_yet_is_polled() -> None:
    assert m.next_poll_in(None) == m.POLL_INTERVAL_S


@pytest.mark.parametrize(
    ("status", "index", "label"),
    [
        ("RECEIVED", 0, "Received"),
        ("ACTIVE", 1, "Scheduled"),
        ("FULFILLED", 2, "Captured"),
        ("DONE", 3, "Complete"),
    ],
)
def test_statuses_on_the_happy_path_map_to_timeline_stages(
    status: str, index: int, label: str
) -> None:
    assert m.stage_index(status) == index
    stage = m.stage_of(status)
    assert (stage.index, stage.label, stage.ok) == (index, label, True)
    assert stage.is_end is (status == "DONE")
    assert m.STAGES[index] == label
    assert m.STAGE_STATUSES[index] == status


@pytest.mark.parametrize(
    ("status", "label"), [("REJECTED", "Rejected"), ("CANCELED", "Canceled"), ("FAILED", "Failed")]
)
def test_unhappy_endings_have_no_stage_index(status: str, label: str) -> None:
    assert m.stage_index(status) == -1
    stage = m.stage_of(status)
    assert (stage.label, stage.is_end, stage.ok) == (label, True, False)


def test_an_unknown_status_has_no_stage_and_is_not_an_end() -> None:
    stage = m.stage_of("PAUSED")
    assert (stage.index, stage.is_end) == (-1, False)


@pytest.mark.parametrize("status", STATUSES)
def test_only_received_and_active_tasks_can_be_cancelled(status: str) -> None:
    assert m.can_cancel(status) is (status in {"RECEIVED", "ACTIVE"})


@pytest.mark.parametrize(
    ("hours_before", "percent"),
    [
        (100, 0),
        (72.001, 0),
        (72, 10),  # exactly 72 h before: no longer "more than 72 h"
        (60, 10),
        (48.001, 10),
        (48, 20),
        (30, 20),
        (24.001, 20),
        (24, 100),
        (1, 100),
        (-5, 100),  # window already open
    ],
)
def test_cancellation_fee_tiers_and_their_boundaries(hours_before: float, percent: int) -> None:
    tier = m.cancellation_fee(NOW, NOW + timedelta(hours=hours_before))
    assert tier.percent == percent
    assert ("free" in tier.label) is (percent == 0)


@given(hours=st.floats(min_value=-100, max_value=400, allow_nan=False))
def test_the_fee_never_falls_as_the_window_start_gets_closer(hours: float) -> None:
    sooner = m.cancellation_fee(NOW, NOW + timedelta(hours=hours))
    later = m.cancellation_fee(NOW, NOW + timedelta(hours=hours + 1))
    assert sooner.percent >= later.percent


def test_the_status_sets_partition_the_lifecycle_as_iceye_documents_it() -> None:
    assert m.CANCELLABLE | m.SCENE_STATUSES | {
        TaskStatus.REJECTED,
        TaskStatus.CANCELED,
        TaskStatus.FAILED,
    } == set(TaskStatus)
    assert m.PRODUCT_STATUSES < m.SCENE_STATUSES
    assert not m.CANCELLABLE & m.TERMINAL
    assert {s for s in TaskStatus if m.is_captured(s)} == m.PRODUCT_STATUSES


def test_status_sets_read_in_lifecycle_order_in_messages() -> None:
    assert m.statuses_text(m.CANCELLABLE) == "RECEIVED or ACTIVE"
    assert m.statuses_text(m.SCENE_STATUSES) == "ACTIVE, FULFILLED or DONE"
    assert m.statuses_text(frozenset({TaskStatus.DONE})) == "DONE"


def test_the_default_sla_is_the_specs_eight_hours() -> None:
    assert m.DEFAULT_SLA == "SLA_8H" and sla_hours(m.DEFAULT_SLA) == 8.0


# --- what may be said at a moment: planned, imaged, products due (issue 11) ------------------

END = NOW + timedelta(hours=2)
"""A planned imaging end two hours after NOW."""


@pytest.mark.parametrize(
    ("status", "now", "expected"),
    [
        (None, NOW, m.Progress.WAITING),
        ("RECEIVED", NOW, m.Progress.WAITING),
        ("ACTIVE", NOW, m.Progress.PLANNED),
        ("ACTIVE", END, m.Progress.PLANNED),  # "before now": the end itself is not past yet
        ("ACTIVE", END + timedelta(seconds=1), m.Progress.IMAGED),
        ("ACTIVE", None, m.Progress.PLANNED),  # the clock could not be read: nothing says so
        ("FULFILLED", NOW, m.Progress.SLA_READY),
        ("DONE", NOW, m.Progress.COMPLETE),
        ("REJECTED", END + timedelta(hours=1), m.Progress.REJECTED),
        ("CANCELED", END + timedelta(hours=1), m.Progress.CANCELED),
        ("FAILED", END + timedelta(hours=1), m.Progress.FAILED),
        ("PAUSED", NOW, m.Progress.UNKNOWN),
    ],
)
def test_progress_is_the_status_read_with_the_backends_clock(
    status: str | None, now: datetime | None, expected: m.Progress
) -> None:
    assert m.progress_of(status, END, now) is expected


def test_an_active_task_without_a_scene_is_planned_whatever_the_time() -> None:
    assert m.progress_of("ACTIVE", None, NOW + timedelta(days=3)) is m.Progress.PLANNED


def test_an_active_task_past_its_imaging_is_captured_and_its_products_are_due() -> None:
    later = END + timedelta(hours=1)

    capture = m.capture_of(
        "ACTIVE", planned_end=END, actual_end=None, now=later, sla="SLA_8H", available_in_s=None
    )

    assert capture.progress is m.Progress.IMAGED
    assert capture.imaged_at == END
    assert capture.products_due == END + timedelta(hours=8)
    assert capture.sla == "SLA_8H"
    assert not capture.may_be_replanned
    assert not capture.overdue


def test_before_its_imaging_an_active_task_may_be_replanned_and_nothing_is_due() -> None:
    capture = m.capture_of("ACTIVE", planned_end=END, actual_end=None, now=NOW, sla="SLA_3H")

    assert capture.progress is m.Progress.PLANNED and capture.may_be_replanned
    assert capture.imaged_at is None and capture.products_due is None


@given(
    status=st.sampled_from([*STATUSES, None]),
    after_s=st.floats(min_value=0.001, max_value=10 * 86400, allow_nan=False),
)
def test_no_task_may_be_replanned_once_its_planned_imaging_end_has_passed(
    status: str | None, after_s: float
) -> None:
    capture = m.capture_of(
        status,
        planned_end=END,
        actual_end=None,
        now=END + timedelta(seconds=after_s),
        sla=None,
    )

    assert not capture.may_be_replanned


def test_products_are_overdue_once_the_sla_has_passed_without_them() -> None:
    late = END + timedelta(hours=9)

    active = m.capture_of("ACTIVE", planned_end=END, actual_end=None, now=late, sla="SLA_8H")
    fulfilled = m.capture_of("FULFILLED", planned_end=END, actual_end=END, now=late, sla="SLA_8H")

    assert active.overdue
    assert not fulfilled.overdue  # FULFILLED: the SLA products are there


def test_the_captured_scene_wins_over_the_planned_one() -> None:
    actual = END + timedelta(minutes=7)  # re-planned after the last reading of the plan

    capture = m.capture_of(
        "FULFILLED", planned_end=END, actual_end=actual, now=actual + timedelta(hours=8), sla=None
    )

    assert capture.progress is m.Progress.SLA_READY
    assert capture.imaged_at == actual
    assert capture.products_due == actual + timedelta(hours=8)


@pytest.mark.parametrize("status", ["REJECTED", "CANCELED", "FAILED"])
def test_a_task_that_ended_badly_was_never_imaged_and_nothing_is_due(status: str) -> None:
    capture = m.capture_of(
        status, planned_end=END, actual_end=None, now=END + timedelta(hours=1), sla="SLA_8H"
    )

    assert capture.imaged_at is None and capture.products_due is None
    assert not capture.may_be_replanned and not capture.overdue


@pytest.mark.parametrize(
    ("sla", "available_in_s", "hours"),
    [
        ("SLA_3H", None, 3.0),
        ("SLA_24H", 3600, 24.0),  # the SLA literal wins
        (None, None, 8.0),  # no SLA named: the server's default
        ("SLA_SOON", 5 * 3600, 5.0),  # unreadable: productsAvailableInSeconds
        ("SLA_SOON", None, None),
    ],
)
def test_products_are_due_the_tasks_sla_after_the_imaging_end(
    sla: str | None, available_in_s: int | None, hours: float | None
) -> None:
    due = m.products_due(END, sla, available_in_s)

    assert due == (None if hours is None else END + timedelta(hours=hours))


def test_a_task_naming_no_sla_is_labelled_with_the_default() -> None:
    capture = m.capture_of(
        "ACTIVE", planned_end=END, actual_end=None, now=END + timedelta(minutes=1), sla=None
    )
    assert capture.sla == m.DEFAULT_SLA


# --- the cancellation fees still ahead ---------------------------------------------------------


def test_far_ahead_every_tier_is_listed_and_the_free_one_applies_now() -> None:
    start = NOW + timedelta(days=5)

    spans = m.fee_schedule(NOW, start)

    assert [s.tier.percent for s in spans] == [0, 10, 20, 100]
    assert [s.current for s in spans] == [True, False, False, False]
    assert spans[0].end == start - timedelta(hours=72)
    assert spans[1].start == start - timedelta(hours=72)
    assert spans[-1].start == start - timedelta(hours=24) and spans[-1].end is None


def test_tiers_whose_time_has_passed_are_left_out() -> None:
    spans = m.fee_schedule(NOW, NOW + timedelta(hours=60))

    assert [s.tier.percent for s in spans] == [10, 20, 100]
    assert spans[0].current


@pytest.mark.parametrize("hours_before", [13, 24, 0, -5])
def test_within_a_day_of_the_window_only_the_full_fee_is_left(hours_before: float) -> None:
    spans = m.fee_schedule(NOW, NOW + timedelta(hours=hours_before))

    assert [(s.tier, s.current) for s in spans] == [(m.FULL_FEE, True)]


@given(hours=st.floats(min_value=-100, max_value=400, allow_nan=False))
def test_the_schedule_starts_with_the_fee_that_applies_now_and_runs_on_without_gaps(
    hours: float,
) -> None:
    start = NOW + timedelta(hours=hours)

    spans = m.fee_schedule(NOW, start)

    assert spans[0].tier == m.cancellation_fee(NOW, start)
    assert [s.current for s in spans] == [True] + [False] * (len(spans) - 1)
    assert all(s.end is None or s.end > NOW for s in spans)
    for before, after in pairwise(spans):
        assert before.end == after.start
        assert before.tier.percent < after.tier.percent


def test_a_fee_as_a_share_names_no_order_value() -> None:
    shares = [tier.share for _, tier in m.FEE_TIERS] + [m.FULL_FEE.share]

    assert shares == ["free", "10 %", "20 %", "100 %"]
    assert all("order value" in tier.label for _, tier in m.FEE_TIERS[1:])
