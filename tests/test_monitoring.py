"""Monitoring policy: what to fetch after a status change, timeline stages, cancelling and its fee."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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
