"""The order journal: one active order per request body, across threads and processes; each test
on SQLite and on PostgreSQL (``store_url``)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tasking.errors import HistoryError
from tasking.journal import OrderJournal, OrderState, fingerprint
from tasking.models import TaskRequest
from tasking.store import make_engine

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


def request(reference: str = "port", lat: float = 60.17) -> TaskRequest:
    return TaskRequest.model_validate(
        {
            "contractID": "c-1",
            "pointOfInterest": {"lat": lat, "lon": 24.94},
            "acquisitionWindow": {"start": "2026-05-02T10:00:00Z", "end": "2026-05-04T10:00:00Z"},
            "imagingMode": "SPOTLIGHT",
            "reference": reference,
        }
    )


@pytest.fixture
def journal(store_url: str) -> Iterator[OrderJournal]:
    engine = make_engine(store_url)
    yield OrderJournal(engine, clock=lambda: T0)
    engine.dispose()


def test_a_new_order_is_written_sending_before_anything_is_sent(journal: OrderJournal) -> None:
    order, new = journal.begin(request(), T0)
    assert new and order.state is OrderState.SENDING and order.open
    assert order.request == request() and order.sent_at == T0
    assert journal.open_orders() == [order]


def test_an_identical_order_in_flight_or_placed_is_returned_instead_of_a_new_one(
    journal: OrderJournal,
) -> None:
    first, _ = journal.begin(request(), T0)
    again, new = journal.begin(request(), T0)
    assert not new and again.key == first.key
    journal.placed(first.key, "task-1")
    placed, new = journal.begin(request(), T0)
    assert not new and placed.state is OrderState.PLACED and placed.task_id == "task-1"
    other, new = journal.begin(request(reference="another"), T0)
    assert new and other.key != first.key


def test_an_order_proven_absent_may_be_sent_again(journal: OrderJournal) -> None:
    first, _ = journal.begin(request(), T0)
    journal.unconfirmed(first.key, "timed out")
    assert journal.begin(request(), T0)[1] is False
    journal.not_placed(first.key, "absent")
    second, new = journal.begin(request(), T0)
    assert new and second.key != first.key


def test_a_placed_order_stays_placed_whatever_a_late_answer_says(journal: OrderJournal) -> None:
    order, _ = journal.begin(request(), T0)
    journal.placed(order.key, "task-1")
    assert journal.not_placed(order.key, "late").state is OrderState.PLACED
    assert journal.unconfirmed(order.key, "late").state is OrderState.PLACED
    assert journal.for_task("task-1") is not None


def test_eight_threads_and_two_instances_sending_one_request_make_one_order(
    store_url: str,
) -> None:
    engines = [make_engine(store_url), make_engine(store_url)]
    journals = [OrderJournal(engine) for engine in engines]
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def place(index: int) -> None:
        barrier.wait()
        results.append(journals[index % 2].begin(request(), T0)[1])

    threads = [threading.Thread(target=place, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [False] * 7 + [True]
    (order,) = journals[0].open_orders()
    assert journals[1].active(request()) == order
    for engine in engines:
        engine.dispose()


def test_the_fingerprint_is_the_exact_wire_body() -> None:
    assert fingerprint(request()) == fingerprint(request())
    assert fingerprint(request()) != fingerprint(request(lat=60.1700001))


def test_a_journal_on_a_database_that_fails_is_a_history_error(store_url: str) -> None:
    engine = make_engine(store_url)
    journal = OrderJournal(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE orders")
    with pytest.raises(HistoryError, match="order journal"):
        journal.begin(request(), T0)
    engine.dispose()


def test_a_late_201_after_absent_takes_the_fingerprint_back(journal: OrderJournal) -> None:
    order, _ = journal.begin(request(), T0)
    journal.not_placed(order.key, "proven absent")
    journal.placed(order.key, "task-late")  # the delayed create did make the task after all
    again, new = journal.begin(request(), T0)
    assert not new and again.key == order.key and again.task_id == "task-late"


def test_an_unreadable_order_row_is_named_and_hides_no_other(journal: OrderJournal) -> None:
    broken, _ = journal.begin(request(reference="broken"), T0)
    fine, _ = journal.begin(request(reference="fine"), T0)
    with journal._engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE orders SET request = 'not json' WHERE key = %s"
            if conn.dialect.name == "postgresql"
            else "UPDATE orders SET request = 'not json' WHERE key = ?",
            (broken.key,),
        )
    assert [o.key for o in journal.open_orders()] == [fine.key]
    with pytest.raises(HistoryError, match=broken.key):
        journal.get(broken.key)


def test_the_database_is_named_without_its_password_or_query() -> None:
    from sqlalchemy import create_engine

    from tasking.store import database_name

    engine = create_engine("postgresql+psycopg://u:secret@db.example/tasks?password=secret2")
    assert "secret" not in database_name(engine)
    assert "db.example/tasks" in database_name(engine)
