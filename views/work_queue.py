"""Work queue: what the background worker is doing and will do. Its health (which worker holds the
store's lease, webhook or polling, heartbeat, request budget, last sweep, its /health and
/metrics), the tasks it follows by status, the fetches due now, the callbacks it received, the
deliveries still pending or failed, and the orders still open in the journal. Refreshed every 5 s."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pandas as pd
import streamlit as st

from tasking import monitoring
from tasking.desk import DeliveryState, Desk
from tasking.errors import TaskingError
from tasking.service import TaskingService
from ui.desk_view import WorkerView, clock_time, worker_view
from ui.errors import show_error
from ui.format import code, short_id, when
from ui.guard import guarded
from ui.service import get_service

T = TypeVar("T")

NO_WORKER = (
    "**No worker is running**: the Monitor polls ICEYE itself. Start one with "
    "`python -m tasking.worker` or leave `ICEYE_WORKER=auto`."
)
# Statuses in lifecycle order for the table (anything else after them).
ORDER = [*(s.value for s in monitoring.STAGE_STATUSES), "REJECTED", "FAILED", "CANCELED"]


def read(action: str, call: Callable[[], T]) -> T | None:
    """One store read; a failure is shown in place (the panel tries again in 5 s)."""
    try:
        return call()
    except TaskingError as error:
        show_error(error, action)
        return None


def show_health(service: TaskingService, worker: WorkerView) -> None:
    status = worker.status
    own = service.worker
    if not worker.alive:
        st.info(NO_WORKER, icon=":material/pause_circle:")
        if status is not None:
            st.caption(
                f"The last worker, {code(status.holder)}, was last seen "
                f"{clock_time(status.heartbeat_at)} ({worker.heartbeat_age})."
            )
    else:
        assert status is not None
        info = status.info
        cells = st.columns(4)
        cells[0].metric("Worker", "active")
        cells[1].metric("Mode", worker.mode)
        cells[2].metric("Heartbeat", worker.heartbeat_age)
        budget = info.get("budgetPerMinute")
        cells[3].metric("Request budget", f"{budget}/min" if budget else "—")
        receiver = worker.receiver
        poll = info.get("pollIntervalS")
        webhook = info.get("webhookID")
        rows = [
            ("Holder", code(status.holder)),
            ("Lease expires", clock_time(status.expires_at)),
            ("Receiver", code(receiver) if receiver else "none: not listening for callbacks"),
            ("Webhook ID", code(str(webhook)) if webhook else "none: the worker polls"),
            (
                "Poll interval",
                (f"{float(poll):g} s" if poll else "—")
                + (" (the list is swept less often with a webhook)" if webhook else ""),
            ),
            ("Last sweep", f"{when(worker.last_sweep, seconds=True)} (backend time)"),
        ]
        table = ["| The active worker | |", "|---|---|", *(f"| **{k}** | {v} |" for k, v in rows)]
        st.markdown("\n".join(table))
        if receiver:
            with st.container(horizontal=True):
                st.link_button("Health", f"{receiver}/health", icon=":material/favorite:")
                st.link_button("Metrics", f"{receiver}/metrics", icon=":material/bar_chart:")
    if own is not None:
        role = "the active one" if own.active else "on standby (another worker holds the lease)"
        st.caption(f"This app runs a worker too ({code(own.holder)}): {role}.")
    else:
        st.caption(f"This app runs no worker itself (ICEYE_WORKER={service.settings.worker}).")


def show_followed(desk: Desk) -> None:
    counts = read("count the followed tasks", desk.status_counts)
    due = read("count the fetches due", desk.due_count)
    backlog = read("count the tasks whose details are still to fetch", desk.lacking_details_count)
    if counts is None:
        return
    total = sum(counts.values())
    open_ = sum(n for s, n in counts.items() if not monitoring.is_terminal(s))
    cells = st.columns(4)
    cells[0].metric("Tasks followed", total)
    cells[1].metric("Still open", open_)
    cells[2].metric("Fetches due now", "—" if due is None else due)
    cells[3].metric(
        "Details to fetch",
        "—" if backlog is None else backlog,
        help="Open tasks known from the task list only (e.g. imported when the worker first met "
        "the account): their scene and products are fetched as the request budget allows.",
    )
    if counts:
        ordered = sorted(counts, key=lambda s: ORDER.index(s) if s in ORDER else len(ORDER))
        st.dataframe(
            pd.DataFrame({"Status": ordered, "Tasks": [counts[s] for s in ordered]}),
            hide_index=True,
            width="content",
        )


def show_callbacks(desk: Desk) -> None:
    received = read("read the callbacks received", lambda: desk.recent_callbacks(20))
    if received is None:
        return
    if not received:
        st.caption(
            "No callback received yet: ICEYE calls back only for tasks ordered with the worker's "
            "webhook, and never while the worker polls."
        )
        return
    st.dataframe(
        pd.DataFrame(
            {
                "Received (UTC)": [clock_time(c["received_at"]) for c in received],
                "Task": [short_id(str(c["task_id"])) for c in received],
                "Status": [c["status"] for c in received],
                "Happened (backend)": [when(c["occurred_at"], seconds=True) for c in received],
            }
        ),
        hide_index=True,
        width="stretch",
    )


def show_deliveries(desk: Desk) -> None:
    counts = read("count the deliveries", desk.delivery_counts) or {}
    cells = st.columns(4)
    for cell, state in zip(
        cells,
        (DeliveryState.PENDING, DeliveryState.SENDING, DeliveryState.SENT, DeliveryState.FAILED),
        strict=True,
    ):
        cell.metric(state.title(), counts.get(state, 0))
    waiting = read(
        "list the deliveries",
        lambda: desk.deliveries(
            states=[DeliveryState.PENDING, DeliveryState.SENDING, DeliveryState.FAILED], limit=50
        ),
    )
    if not waiting:
        st.caption("Nothing waiting to be delivered and nothing failed.")
        return
    st.dataframe(
        pd.DataFrame(
            {
                "Channel": [d.channel for d, _ in waiting],
                "State": [d.state for d, _ in waiting],
                "Attempts": [d.attempts for d, _ in waiting],
                "Next attempt (UTC)": [
                    clock_time(d.next_attempt_at) if d.state == DeliveryState.PENDING else "—"
                    for d, _ in waiting
                ],
                "Last error": [d.last_error or "" for d, _ in waiting],
                "Notification": [n.title for _, n in waiting],
            }
        ),
        hide_index=True,
        width="stretch",
    )


def show_orders(service: TaskingService) -> None:
    orders = read("read the order journal", service.journal.open_orders)
    if orders is None:
        return
    if not orders:
        st.caption("No open order: every order the journal holds is settled.")
        return
    st.dataframe(
        pd.DataFrame(
            {
                "Key": [o.key for o in orders],
                "State": [str(o.state) for o in orders],
                "Reference": [o.request.reference or "" for o in orders],
                "Error": [o.error or "" for o in orders],
            }
        ),
        hide_index=True,
        width="stretch",
    )


service = get_service()
st.title("Work queue")


@st.fragment(run_every=5)
@guarded("show the work queue")
def work_queue(service: TaskingService) -> None:
    desk = service.desk
    if desk is None:
        st.info("This app has no store for a worker.", icon=":material/info:")
        return
    worker = read("read the worker's lease", lambda: worker_view(service))
    if worker is not None:
        show_health(service, worker)
    st.markdown("#### Tasks followed")
    show_followed(desk)
    st.markdown("#### Callbacks received")
    show_callbacks(desk)
    st.markdown("#### Deliveries")
    show_deliveries(desk)
    st.markdown("#### Open orders")
    show_orders(service)
    st.caption(
        f"Read from the store {clock_time(worker.now if worker else None)} · refreshed every 5 s."
    )


work_queue(service)
