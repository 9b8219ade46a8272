"""Pure helpers of the UI: error wording, escaping, timeline, fee table,
task list selection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tasking.errors import InsufficientFunds, RateLimited, RequestTimeout, TransportError
from tasking.models import Task
from ui.errors import explain
from ui.format import duration, plain
from ui.monitor_view import timeline_html
from ui.order import cancellation_policy
from ui.task_table import Query, TaskList, select

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def test_errors_are_explained_with_code_status_and_what_to_do() -> None:
    funds = explain(
        InsufficientFunds(
            "could not create task: insufficient funds",
            status_code=400,
            code="ERR_INSUFFICIENT_FUNDS",
        ),
        "create the task",
    )
    assert funds.headline == "Could not create the task"
    assert funds.status == "HTTP 400 · ERR_INSUFFICIENT_FUNDS"
    assert "available funds" in funds.hint

    limited = explain(RateLimited("slow down", status_code=429, retry_after=7), "list the tasks")
    assert "about 7 s" in limited.hint
    assert explain(TransportError("refused"), "x").status == "no answer"
    assert "look for it in All tasks" in explain(RequestTimeout("late"), "create the task").hint


def test_plain_makes_markdown_and_html_inert() -> None:
    assert plain("**x** <b>y</b> [a](b)") == "\\*\\*x\\*\\* \\<b\\>y\\</b\\> \\[a\\]\\(b\\)"


def test_duration_is_short_and_readable() -> None:
    assert duration(timedelta(days=2, hours=3)) == "2 d 3 h"
    assert duration(timedelta(hours=5, minutes=12)) == "5 h 12 min"
    assert duration(timedelta(seconds=-42)) == "-42 s"


def test_timeline_marks_where_a_cancelled_task_stopped() -> None:
    seen = {
        "RECEIVED": T0,
        "ACTIVE": T0 + timedelta(minutes=1),
        "CANCELED": T0 + timedelta(hours=1),
    }

    drawn = timeline_html("CANCELED", seen)

    assert drawn.count('class="tl-step done"') == 2  # Received and Scheduled
    assert 'tl-step end"' in drawn and "Canceled" in drawn
    assert "2026-05-01 09:00 UTC" in drawn


def test_timeline_escapes_nothing_dangerous_and_shows_unseen_stages_as_not_observed() -> None:
    drawn = timeline_html("DONE", {"DONE": T0})
    assert drawn.count("not observed") == 3
    imaged = timeline_html("DONE", {"DONE": T0}, imaged_at=T0 - timedelta(hours=8))
    assert "imaged 2026-05-01 00:00 UTC" in imaged and imaged.count("not observed") == 2
    assert "<script" not in drawn


def test_cancellation_policy_lists_the_tiers_for_this_window() -> None:
    start = T0 + timedelta(days=5)

    text = cancellation_policy(start, T0)

    assert "until 2026\\-05\\-03 08:00 UTC" in text  # 72 h before the start: free until then
    assert "| free \\(applies now\\) |" in text  # Markdown-escaped
    assert "ordering: **free**" in text
    late = cancellation_policy(T0 + timedelta(hours=13), T0)
    assert "cannot be cancelled free of charge" in late
    # Tiers whose time has passed are not listed; the one that applies now is marked.
    assert "free" not in late.split("ordering")[0] and "20 %" not in late
    assert "100 % of the order value \\(no refund\\) \\(applies now\\)" in late
    unpriced = cancellation_policy(start, T0, priced=False)
    assert "order value" not in unpriced and "no price list" in unpriced


def _task(ref: str, status: str, created: datetime) -> Task:
    return Task.model_validate(
        {
            "id": f"{ref}-0000",
            "contractID": "c",
            "pointOfInterest": {"lat": 1, "lon": 2},
            "acquisitionWindow": {"start": created, "end": created + timedelta(days=1)},
            "imagingMode": "SPOTLIGHT",
            "status": status,
            "createdAt": created,
            "reference": ref,
        }
    )


def test_select_filters_by_status_and_text_then_sorts() -> None:
    tasks = [
        _task("b-port", "ACTIVE", T0),
        _task("a-port", "DONE", T0 + timedelta(hours=1)),
        _task("field", "ACTIVE", T0 + timedelta(hours=2)),
    ]

    assert [t.reference for t in select(tasks, [], "", "Newest first")] == [
        "field",
        "a-port",
        "b-port",
    ]
    assert [t.reference for t in select(tasks, ["ACTIVE"], "", "Oldest first")] == [
        "b-port",
        "field",
    ]
    assert [t.reference for t in select(tasks, [], "PORT", "Reference")] == ["a-port", "b-port"]


def test_task_list_pages_without_duplicates_and_knows_when_it_is_complete() -> None:
    listing = TaskList(Query())
    first = _task("x", "DONE", T0)
    listing.add_page([first], "cursor-1")
    assert not listing.complete
    listing.add_page([first, _task("y", "DONE", T0)], "")
    assert listing.complete and [t.reference for t in listing.tasks] == ["x", "y"]


@pytest.mark.parametrize("status", ["REJECTED", "FAILED"])
def test_timeline_of_an_unhappy_end_without_history_has_no_stage_done(status: str) -> None:
    drawn = timeline_html(status, {})
    assert 'class="tl-step done"' not in drawn and "tl-step end" in drawn
