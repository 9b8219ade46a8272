"""Recurring series (issue 12): the recurrence's occurrences (Hypothesis), each occurrence ordered
through the journaled campaign path once its window is within ICEYE's 14-day reach on the sandbox
clock, told once, a worker killed with SIGKILL half-way through an occurrence's batch, and pause,
resume and cancel with the fee tiers; on SQLite and PostgreSQL (``store_url``)."""

from __future__ import annotations

import itertools
import os
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasking import rules
from tasking.errors import InputError
from tasking.models import Contract, Task
from tasking.rules import TaskDraft
from tasking.sandbox import seed
from tasking.sandbox.control import SandboxControl
from tasking.sandbox.server import SandboxHandle, start_in_background
from tasking.series import (
    MAX_OCCURRENCES,
    ORDER_MARGIN,
    ORDERED_KIND,
    OccurrenceState,
    Recurrence,
    Series,
    SeriesStatus,
    campaign_id_for,
    order_due,
)
from tasking.service import TaskingService
from tasking.targets import Target
from tests.e2e.conftest import free_port, wait_until
from tests.test_worker import make_service, make_worker
from tests.test_worker_process import WorkerProcess


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    handle = start_in_background(tmp_path_factory.mktemp("sandbox"), speed=1.0)
    try:
        yield handle
    finally:
        handle.stop()


# --- the recurrence (no server) ---------------------------------------------------------------

starts = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
)
weekday_sets = st.sets(st.integers(0, 6), min_size=1).map(lambda s: tuple(sorted(s)))


@given(start=starts, every=st.integers(1, 60), count=st.integers(1, MAX_OCCURRENCES))
def test_every_n_days_makes_count_windows_exactly_n_days_apart_at_the_same_time(
    start: datetime, every: int, count: int
) -> None:
    recurrence = Recurrence(start=start, every_days=every, count=count)
    found = recurrence.starts()
    assert len(found) == count
    assert found[0] == start
    assert all(b - a == timedelta(days=every) for a, b in itertools.pairwise(found))
    assert found == Recurrence.from_json(recurrence.to_json()).starts()  # deterministic, stored


@given(start=starts, weekdays=weekday_sets, days=st.integers(0, 120))
def test_weekdays_until_a_date_make_every_chosen_day_in_between_and_nothing_else(
    start: datetime, weekdays: tuple[int, ...], days: int
) -> None:
    until = start.date() + timedelta(days=days)
    recurrence = Recurrence(start=start, weekdays=weekdays, until=until)
    expected = [
        start.date() + timedelta(days=d)
        for d in range(days + 1)
        if (start.date() + timedelta(days=d)).weekday() in weekdays
    ]
    if not expected:
        assert {v.rule for v in recurrence.violations()} == {"until-after-start"}
        return
    if len(expected) > MAX_OCCURRENCES:
        assert {v.rule for v in recurrence.violations()} == {"max-occurrences"}
        return
    found = recurrence.starts()
    assert [s.date() for s in found] == expected
    assert all(s.timetz() == start.timetz() for s in found)
    assert found == sorted(set(found))


@given(start=starts, weekdays=weekday_sets, count=st.integers(1, 30))
def test_weekdays_for_m_occurrences_start_on_or_after_the_first_day(
    start: datetime, weekdays: tuple[int, ...], count: int
) -> None:
    found = Recurrence(start=start, weekdays=weekdays, count=count).starts()
    assert len(found) == count
    assert found[0] >= start and found[0] - start < timedelta(days=7)
    assert all(s.weekday() in weekdays for s in found)
    # No chosen day skipped between two occurrences.
    for a, b in itertools.pairwise(found):
        between = [a.date() + timedelta(days=d) for d in range(1, (b.date() - a.date()).days)]
        assert not any(d.weekday() in weekdays for d in between)


@settings(max_examples=50)
@given(
    start=starts,
    every=st.one_of(st.none(), st.integers(-5, 400)),
    weekdays=st.lists(st.integers(-1, 8), max_size=3).map(tuple),
    count=st.one_of(st.none(), st.integers(-3, 150)),
    until_days=st.one_of(st.none(), st.integers(-30, 3000)),
)
def test_a_recurrence_either_makes_its_occurrences_or_names_each_broken_rule(
    start: datetime,
    every: int | None,
    weekdays: tuple[int, ...],
    count: int | None,
    until_days: int | None,
) -> None:
    until = None if until_days is None else start.date() + timedelta(days=until_days)
    recurrence = Recurrence(
        start=start, every_days=every, weekdays=weekdays, count=count, until=until
    )
    broken = recurrence.violations()
    if broken:
        assert all(f"({v.rule} rule)" in v.message for v in broken)
        with pytest.raises(InputError):
            recurrence.starts()
    else:
        found = recurrence.starts()
        assert 1 <= len(found) <= MAX_OCCURRENCES
        assert until is None or all(s.date() <= until for s in found)


@pytest.mark.parametrize(
    ("recurrence", "rule"),
    [
        (Recurrence(start=datetime(2026, 1, 5, tzinfo=UTC), every_days=0, count=3), "every-n-days"),
        (Recurrence(start=datetime(2026, 1, 5, tzinfo=UTC), count=3), "weekdays-required"),
        (
            Recurrence(
                start=datetime(2026, 1, 5, tzinfo=UTC), every_days=2, weekdays=(1,), count=3
            ),
            "recurrence-kind",
        ),
        (Recurrence(start=datetime(2026, 1, 5, tzinfo=UTC), every_days=7), "count-or-until"),
        (
            Recurrence(start=datetime(2026, 1, 5, tzinfo=UTC), every_days=7, count=0),
            "occurrence-count",
        ),
        (
            Recurrence(start=datetime(2026, 1, 5, tzinfo=UTC), every_days=7, count=101),
            "max-occurrences",
        ),
        (
            Recurrence(
                start=datetime(2026, 1, 5, tzinfo=UTC), every_days=7, until=date(2026, 1, 4)
            ),
            "until-after-start",
        ),
        (
            Recurrence(
                start=datetime(2026, 1, 5, tzinfo=UTC), every_days=1, until=date(2027, 1, 1)
            ),
            "max-occurrences",
        ),
        (
            Recurrence(
                start=datetime(2026, 1, 5, tzinfo=UTC), weekdays=(4,), until=date(2026, 1, 7)
            ),
            "until-after-start",
        ),
    ],
)
def test_each_refused_recurrence_names_its_rule(recurrence: Recurrence, rule: str) -> None:
    assert rule in {v.rule for v in recurrence.violations()}


def test_a_recurrence_describes_itself() -> None:
    start = datetime(2026, 1, 5, 9, tzinfo=UTC)
    assert Recurrence(start=start, every_days=7, count=6).describe() == "every 7 days, 6 times"
    assert (
        Recurrence(start=start, weekdays=(0, 3), until=date(2026, 3, 1)).describe()
        == "on Monday and Thursday until 2026-03-01"
    )


# --- series on the sandbox --------------------------------------------------------------------


def draft_of(contract: Contract) -> TaskDraft:
    return TaskDraft(
        contract_id=contract.id,
        lat=None,
        lon=None,
        window_start=None,
        window_end=None,
        imaging_mode="SPOTLIGHT",
    )


def first_start(service: TaskingService, ahead: timedelta) -> datetime:
    return (service.now() + ahead).replace(minute=0, second=0, microsecond=0)


def series_tasks_on_sandbox(service: TaskingService, series: Series) -> list[Task]:
    """Every task on the sandbox whose reference carries one of the series' campaign tags."""
    tags = {f"[{campaign_id_for(series.id, o.position)[:8]}/" for o in series.occurrences}
    since = series.created_at - timedelta(days=1)
    return [
        task
        for task in service.client.iter_tasks(contract_id=series.contract_id, created_after=since)
        if task.reference is not None and any(tag in task.reference for tag in tags)
    ]


def jump(service: TaskingService, control: SandboxControl, seconds: float) -> None:
    control.advance(seconds=seconds)
    service.refresh_clock()


def test_six_weekly_occurrences_on_the_sandbox_clock_make_six_tasks_each_within_reach_told_once(
    sandbox: SandboxHandle, store_url: str, tmp_path: Path
) -> None:
    service = make_service(sandbox, store_url, tmp_path)
    control = SandboxControl(sandbox.url)
    worker, outbox = make_worker(service)
    try:
        contract = service.client.get_contract(seed.BROAD_CONTRACT_ID)
        recurrence = Recurrence(
            start=first_start(service, timedelta(days=2, hours=12)), every_days=7, count=6
        )
        series = service.create_series(
            f"Weekly port {uuid.uuid4().hex[:6]}",
            draft_of(contract),
            [Target("Helsinki port", 60.17, 24.94)],
            contract,
            timedelta(hours=48),
            recurrence,
        )
        assert [o.state for o in series.occurrences] == [OccurrenceState.UPCOMING] * 6
        assert series_tasks_on_sandbox(service, series) == []  # recording sends nothing

        for _day in range(40):
            worker.run_once()
            order_due(service, service.series)  # a page asking at the same time: nothing twice
            now = service.now()
            current = service.series.get(series.id)
            assert current is not None
            for occurrence in current.occurrences:
                within = occurrence.window_end - rules.MAX_AHEAD + ORDER_MARGIN <= now
                expected = OccurrenceState.ORDERED if within else OccurrenceState.UPCOMING
                assert occurrence.state is expected, (occurrence, now)
            if current.status is SeriesStatus.FINISHED:
                break
            jump(service, control, 86_400)
        else:
            raise AssertionError("the series did not finish")

        tasks = series_tasks_on_sandbox(service, current)
        assert len(tasks) == 6
        windows = sorted((t.acquisitionWindow.start, t.acquisitionWindow.end) for t in tasks)
        assert windows == [(o.window_start, o.window_end) for o in current.occurrences]
        for task in tasks:
            # Created once its window was within ICEYE's 14 days, never before.
            assert task.acquisitionWindow.end - task.createdAt <= rules.MAX_AHEAD
        # Told once per occurrence, in the app and through the worker's senders.
        assert service.desk is not None
        told = [
            n
            for n in service.desk.notifications(limit=500)
            if n.kind == ORDERED_KIND and current.name in n.title
        ]
        assert sorted(n.title for n in told) == [
            f"Series ordered: {current.name} #{i}" for i in range(1, 7)
        ]
        worker.deliver_due()
        worker.run_once()
        worker.deliver_due()
        sent = Counter(
            n.title for n in outbox.sent if n.kind == ORDERED_KIND and current.name in n.title
        )
        assert len(sent) == 6 and set(sent.values()) == {1}
    finally:
        worker.stop()
        control.close()
        service.close()


def test_pause_holds_ordering_resume_orders_what_is_due_and_cancel_cancels_with_fee_tiers(
    sandbox: SandboxHandle, store_url: str, tmp_path: Path
) -> None:
    service = make_service(sandbox, store_url, tmp_path)
    control = SandboxControl(sandbox.url)
    try:
        contract = service.client.get_contract(seed.BROAD_CONTRACT_ID)
        series = service.create_series(
            "Paused site",
            draft_of(contract),
            [Target("site A", 48.85, 2.35), Target("site B", 51.5, -0.12)],
            contract,
            timedelta(hours=48),
            Recurrence(
                start=first_start(service, timedelta(days=2, hours=12)), every_days=7, count=4
            ),
        )
        assert service.pause_series(series.id)
        assert not service.pause_series(series.id)  # already paused: nothing changes
        assert service.order_due_occurrences().ordered == []
        assert series_tasks_on_sandbox(service, series) == []

        assert service.resume_series(series.id)
        done = service.order_due_occurrences()
        assert sorted(done.ordered) == [(series.id, 0), (series.id, 1)]  # ends within 14 days
        assert done.sent == 4
        tasks = series_tasks_on_sandbox(service, series)
        assert len(tasks) == 4

        current = service.series.get(series.id)
        assert current is not None
        preview = service.series_cancel_preview(series.id)
        assert {p.task_id for p in preview} == {t.id for t in tasks}
        # 60 h before the first window: 10 %; the second more than 72 h away: free.
        assert {p.occurrence: p.fee.percent for p in preview} == {1: 10, 2: 0}

        outcomes = service.cancel_series(series.id)
        assert all(o.canceled for o in outcomes) and len(outcomes) == 4
        assert {o.task.occurrence: o.task.fee.percent for o in outcomes} == {1: 10, 2: 0}
        after = service.series.get(series.id)
        assert after is not None and after.status is SeriesStatus.CANCELED
        assert [o.state for o in after.occurrences] == [
            OccurrenceState.ORDERED, OccurrenceState.ORDERED,
            OccurrenceState.CANCELED, OccurrenceState.CANCELED,
        ]  # fmt: skip
        assert {service.client.get_task(t.id).status for t in tasks} == {"CANCELED"}
        jump(service, control, 20 * 86_400)
        assert service.order_due_occurrences().ordered == []
        assert len(series_tasks_on_sandbox(service, after)) == 4
    finally:
        control.close()
        service.close()


def test_an_occurrence_whose_window_can_no_longer_be_met_is_skipped_with_the_rule(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    service = make_service(sandbox, f"sqlite:///{tmp_path / 'store.sqlite'}", tmp_path)
    control = SandboxControl(sandbox.url)
    try:
        contract = service.client.get_contract(seed.BROAD_CONTRACT_ID)
        series = service.create_series(
            "Late",
            draft_of(contract),
            [Target("site", 60.0, 25.0)],
            contract,
            timedelta(hours=24),
            Recurrence(start=first_start(service, timedelta(days=2)), every_days=30, count=2),
        )
        service.pause_series(series.id)
        jump(service, control, 2 * 86_400)  # past the first window's lead time while paused
        service.resume_series(series.id)
        done = service.order_due_occurrences()
        assert done.skipped == [(series.id, 0)] and done.sent == 0
        current = service.series.get(series.id)
        assert current is not None
        first = current.occurrences[0]
        assert first.state is OccurrenceState.SKIPPED
        assert first.reason is not None and "could no longer be met" in first.reason
        assert "less than a lead time away" in first.reason  # the rule, in words
        assert current.occurrences[1].state is OccurrenceState.UPCOMING
        assert series_tasks_on_sandbox(service, current) == []
    finally:
        control.close()
        service.close()


def test_a_series_is_refused_before_anything_is_recorded_naming_each_rule(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    service = make_service(sandbox, f"sqlite:///{tmp_path / 'store.sqlite'}", tmp_path)
    try:
        contract = service.client.get_contract(seed.BROAD_CONTRACT_ID)
        soon = service.now() + timedelta(hours=2)
        with pytest.raises(InputError) as refused:
            service.create_series(
                " ",
                draft_of(contract),
                [Target("nowhere", 95.0, 0.0, row=3)],
                contract,
                timedelta(hours=12),
                Recurrence(start=soon, every_days=0, count=3),
            )
        rules_named = {v.rule for v in refused.value.violations}
        assert {"required", "every-n-days", "series-window-length"} <= rules_named
        with pytest.raises(InputError) as late:
            service.create_series(
                "Soon",
                draft_of(contract),
                [Target("nowhere", 95.0, 0.0, row=3)],
                contract,
                timedelta(hours=24),
                Recurrence(start=soon, every_days=7, count=3),
            )
        assert {v.rule for v in late.value.violations} == {"lead-time"}
        with pytest.raises(InputError) as target:
            service.create_series(
                "Bad target",
                draft_of(contract),
                [Target("nowhere", 95.0, 0.0, row=3)],
                contract,
                timedelta(hours=24),
                Recurrence(start=first_start(service, timedelta(days=1)), every_days=7, count=3),
            )
        assert "Target 1 (nowhere, row 3)" in str(target.value)
        assert service.series.ids() == []
    finally:
        service.close()


# --- a real worker process, killed half-way through an occurrence's batch ---------------------


def test_a_worker_killed_half_way_through_a_batch_of_50_and_restarted_makes_exactly_50_tasks(
    sandbox: SandboxHandle, store_url: str, tmp_path: Path
) -> None:
    service = make_service(sandbox, store_url, tmp_path)
    base = {k: v for k, v in os.environ.items() if not k.startswith("ICEYE_")}
    base.update(
        ICEYE_SANDBOX_URL=sandbox.url,
        ICEYE_HISTORY_URL=store_url,
        ICEYE_DATA_DIR=str(tmp_path / "worker-data"),
        ICEYE_WORKER_PORT=str(free_port()),
        ICEYE_POLL_INTERVAL_S="2",
    )
    # A budget of 30 requests a minute cuts the batch short half-way; the worker then waits for
    # the budget, and is killed there. The operator restarts it with a larger budget.
    first = WorkerProcess({**base, "ICEYE_REQUEST_BUDGET": "30"}, tmp_path / "worker.log")
    second = WorkerProcess({**base, "ICEYE_REQUEST_BUDGET": "3000"}, tmp_path / "worker.log")
    try:
        contract = service.client.get_contract(seed.BROAD_CONTRACT_ID)
        sites = [
            Target(f"site {i + 1}", 40.0 + (i % 10) * 2.0, -5.0 + (i // 10) * 6.0)
            for i in range(50)
        ]
        series = service.create_series(
            f"Batch {uuid.uuid4().hex[:6]}",
            draft_of(contract),
            sites,
            contract,
            timedelta(hours=48),
            Recurrence(
                start=first_start(service, timedelta(days=2, hours=12)), every_days=30, count=2
            ),
        )

        def occurrence() -> tuple[OccurrenceState, str | None]:
            current = service.series.get(series.id)
            assert current is not None
            first_one = current.occurrences[0]
            return first_one.state, first_one.reason

        first.start()
        wait_until(
            lambda: "request budget" in (occurrence()[1] or ""),
            60,
            "the worker to stop for its request budget half-way",
        )
        first.kill()
        state, note = occurrence()
        made = len(series_tasks_on_sandbox(service, series))
        assert state is OccurrenceState.ORDERING and 0 < made < 50, (made, note)
        assert note is not None and note.startswith(f"{made} of 50 tasks ordered")

        second.start()  # takes over once the dead worker's 3 s lease runs out
        wait_until(
            lambda: occurrence()[0] is OccurrenceState.ORDERED,
            120,
            "the restarted worker to finish",
        )
        tasks = series_tasks_on_sandbox(service, series)
        assert len(tasks) == 50
        assert len({t.reference for t in tasks}) == 50
        current = service.series.get(series.id)
        assert current is not None and current.occurrences[1].state is OccurrenceState.UPCOMING
        assert service.desk is not None
        told = [n for n in service.desk.notifications(limit=500) if n.kind == ORDERED_KIND]
        assert [n.title for n in told if series.name in n.title] == [
            f"Series ordered: {series.name} #1"
        ]
    finally:
        first.stop()
        second.stop()
        service.close()


def test_an_occurrence_claimed_but_left_without_its_campaign_is_built_and_ordered_once(
    sandbox: SandboxHandle, tmp_path: Path
) -> None:
    # A process died between claiming the occurrence (ORDERING) and recording its campaign:
    # nothing was sent, so the next pass builds the campaign and orders it.
    service = make_service(sandbox, f"sqlite:///{tmp_path / 'store.sqlite'}", tmp_path)
    try:
        contract = service.client.get_contract(seed.BROAD_CONTRACT_ID)
        series = service.create_series(
            "Claimed",
            draft_of(contract),
            [Target("site", 59.3, 18.1)],
            contract,
            timedelta(hours=48),
            Recurrence(start=first_start(service, timedelta(days=3)), every_days=30, count=2),
        )
        claimed = service.series.move(
            series.id,
            0,
            (OccurrenceState.UPCOMING,),
            OccurrenceState.ORDERING,
            campaign_id=campaign_id_for(series.id, 0),
        )
        assert claimed and service.campaigns.get(campaign_id_for(series.id, 0)) is None
        service.pause_series(series.id)  # paused: an occurrence already ORDERING is finished

        done = service.order_due_occurrences()

        assert done.ordered == [(series.id, 0)] and done.sent == 1
        assert len(series_tasks_on_sandbox(service, series)) == 1
        assert service.order_due_occurrences().sent == 0
    finally:
        service.close()


def test_two_processes_ordering_at_once_make_each_task_once(
    sandbox: SandboxHandle, store_url: str, tmp_path: Path
) -> None:
    first = make_service(sandbox, store_url, tmp_path / "one")
    second = make_service(sandbox, store_url, tmp_path / "two")
    try:
        contract = first.client.get_contract(seed.BROAD_CONTRACT_ID)
        series = first.create_series(
            "Raced",
            draft_of(contract),
            [Target(f"site {i}", 45.0 + i, 10.0) for i in range(6)],
            contract,
            timedelta(hours=48),
            Recurrence(
                start=first_start(first, timedelta(days=2, hours=12)), every_days=4, count=3
            ),
        )
        barrier = threading.Barrier(2)

        def order(service: TaskingService) -> None:
            barrier.wait()
            order_due(service, service.series)

        threads = [threading.Thread(target=order, args=(s,)) for s in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        # One process may find the other's orders in flight and leave the occurrence ORDERING
        # (never sending them again); the next pass finds their tasks.
        assert len(series_tasks_on_sandbox(first, series)) == 18
        order_due(first, first.series)
        current = first.series.get(series.id)
        assert current is not None
        assert [o.state for o in current.occurrences] == [OccurrenceState.ORDERED] * 3
        tasks = series_tasks_on_sandbox(first, current)
        assert len(tasks) == 18 and len({t.reference for t in tasks}) == 18
    finally:
        first.close()
        second.close()
