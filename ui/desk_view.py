"""What the pages show of the background worker's store (``tasking.desk``): the worker's state,
the Monitor's task read from the store instead of ICEYE, notifications and their deliveries.

While a worker holds the store's lease it follows every open task, so the pages read what it wrote
and send ICEYE nothing: ten Monitor tabs cost ICEYE no request. Without a worker the pages poll as
before (``tasking.watch.refresh``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import streamlit as st

from tasking import monitoring
from tasking.desk import Delivery, DeliveryState, Followed, Notification, WorkerStatus
from tasking.models import Task
from tasking.service import TaskingService
from tasking.times import parse_time_or_none, to_utc, utc_now
from tasking.watch import QUICKLOOK_ASSET, Watch
from ui import keys, state
from ui.format import duration, plain, when

__all__ = [
    "KIND_ICONS",
    "TOASTS_PER_RUN",
    "DeskReading",
    "WorkerView",
    "clock_time",
    "deliveries_by_notification",
    "delivery_line",
    "fill_from_desk",
    "later_status",
    "read_for_monitor",
    "show_desk_source",
    "show_notification",
    "toast_new",
    "toast_text",
    "worker_view",
]

KIND_ICONS = {
    "scheduled": ":material/event_available:",
    "rejected": ":material/block:",
    "captured": ":material/satellite_alt:",
    "products_ready": ":material/download_done:",
    "failed": ":material/error:",
    "canceled": ":material/cancel:",
}
OTHER_ICON = ":material/notifications:"

TOASTS_PER_RUN = 3
"""A burst (a new worker's first sweep over a busy account) toasts this many, then a summary."""


def clock_time(value: datetime | None) -> str:
    """``22:35:49 UTC`` (the worker's times are on each machine's real clock)."""
    return "—" if value is None else to_utc(value).strftime("%H:%M:%S UTC")


def _ago(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "never"
    return f"{duration(max(now - to_utc(value), timedelta(0)))} ago"


# --- the worker ------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerView:
    """The worker's lease as the pages show it (one store read)."""

    status: WorkerStatus | None
    now: datetime
    """This machine's clock when the lease was read (leases are on real clocks)."""

    @property
    def alive(self) -> bool:
        return self.status is not None and self.status.alive(self.now)

    @property
    def mode(self) -> str:
        mode = self.status.info.get("mode") if self.status is not None else None
        return str(mode) if mode in ("webhook", "polling") else "polling"

    @property
    def heartbeat_age(self) -> str:
        return _ago(self.status.heartbeat_at if self.status else None, self.now)

    @property
    def last_sweep(self) -> datetime | None:
        """When the worker last swept the task list (backend time), if it has."""
        if self.status is None:
            return None
        return parse_time_or_none(self.status.info.get("lastSweep"))

    @property
    def receiver(self) -> str | None:
        url = self.status.info.get("receiver") if self.status is not None else None
        return str(url).rstrip("/") if url else None


def worker_view(service: TaskingService) -> WorkerView:
    """The worker's lease (raises HistoryError when the store fails)."""
    status = service.desk.worker_status() if service.desk is not None else None
    return WorkerView(status, utc_now())


# --- the Monitor, from the store -------------------------------------------------------------

_END_RANK = len(monitoring.STAGES)


def _rank(status: str | None) -> int:
    if status is None:
        return -2
    index = monitoring.stage_index(status)
    if index >= 0:
        return index
    return _END_RANK if monitoring.is_terminal(status) else -1


def later_status(desk_status: str | None, history_status: str | None) -> str | None:
    """The later of two readings of a task's status. Statuses only move forward, so the further
    one is the newer: the history may be ahead of the desk for a moment (the app's own cancel,
    the worker writing its history just before its desk row)."""
    if _rank(history_status) > _rank(desk_status):
        return history_status
    return desk_status if desk_status is not None else history_status


def fill_from_desk(watch: Watch, followed: Followed | None, task: Task | None) -> None:
    """Make ``watch`` show what the store holds (in place: the page's fragment keeps the object).
    What the worker has not fetched yet for the status stays pending, so that the Monitor keeps
    reading the store and, should the worker stop, polls ICEYE for exactly that."""
    status = later_status(followed.status if followed else None, task.status if task else None)
    if task is not None and status is not None and task.status != status:
        task = task.model_copy(update={"status": status})
    watch.task = task
    watch.status = status
    watch.errors = []
    watch.failed_final_refreshes = 0
    if followed is None:
        watch.pending = set(monitoring.fetches_after(None, status)) if status else set()
        watch.missing = False
        return
    watch.planned = followed.planned
    watch.actual = followed.actual
    watch.products = list(followed.products)
    watch.quicklook = followed.quicklook
    source = next(
        (p for p in followed.products if any(a.key == QUICKLOOK_ASSET for a in p.assets)), None
    )
    watch.quicklook_title = source.product_type if source is not None else None
    fetched = followed.details_for is not None and followed.details_for == status
    watch.pending = (
        set() if fetched or status is None else set(monitoring.fetches_after(None, status))
    )
    # The worker stopped following it (unknown to the backend): nothing more will come.
    watch.missing = followed.final and (status is None or not monitoring.is_terminal(status))


@dataclass(frozen=True)
class DeskReading:
    """What one read of the store found for the Monitor."""

    worker: WorkerView
    followed: Followed | None
    first_seen: dict[str, datetime]

    @property
    def waiting(self) -> bool:
        """The worker has not fetched the task yet (a deep link to a task made elsewhere)."""
        return self.followed is None or (self.followed.status is None and not self.followed.final)


def read_for_monitor(service: TaskingService, watch: Watch) -> DeskReading:
    """Fill ``watch`` from the store: no ICEYE request. A task the store does not know is hinted
    to the worker once per session (it fetches it on its next pass). Raises HistoryError."""
    desk = service.desk
    assert desk is not None  # only called while a worker is active, which needs the desk
    worker = worker_view(service)
    followed = desk.followed(watch.task_id)
    task = service.history.get(watch.task_id)
    first_seen = service.history.first_seen(watch.task_id) if task is not None else {}
    reading = DeskReading(worker, followed, first_seen)
    fill_from_desk(watch, followed, task)
    # A task the store does not know, or whose details it lacks and will not fetch soon (one the
    # worker imported from the task list, old news): asked for once per session, so opening it
    # gets it fetched ahead of the backlog.
    lacking = followed is not None and followed.due_at is None and bool(watch.pending)
    if reading.waiting or lacking:
        hinted = keys.HINTED.setdefault(set())
        if watch.task_id not in hinted:
            desk.hint(watch.task_id)
            hinted.add(watch.task_id)
    return reading


def show_desk_source(reading: DeskReading, watch: Watch) -> None:
    """Where the Monitor's data comes from and how fresh it is; why a task ended badly; what the
    worker could not fetch."""
    followed = reading.followed
    if watch.missing and followed is not None:
        why = plain(followed.last_error or "unknown to the backend")
        st.error(
            f"**The background worker could not find this task** ({why}). Check the task ID: it "
            "may belong to another account.",
            icon=":material/search_off:",
        )
        return
    if reading.waiting:
        st.info("Waiting for the worker to fetch this task…", icon=":material/hourglass_top:")
    worker = reading.worker
    checked = followed.checked_at if followed is not None else None
    parts = [
        f"Followed by the background worker ({worker.mode})",
        f"checked {clock_time(checked)} ({_ago(checked, worker.now)})" if checked else "",
        f"task list swept {when(worker.last_sweep)} (backend time)" if worker.last_sweep else "",
    ]
    tail = (
        "Final status: no more refreshes."
        if watch.final
        else f"This page reads the worker's store every {monitoring.POLL_INTERVAL_S:g} s and asks "
        "ICEYE nothing."
    )
    st.caption(" · ".join(p for p in parts if p) + f". {tail}")
    if followed is None:
        return
    if followed.reason and watch.status in ("REJECTED", "FAILED"):
        verb = "rejected" if watch.status == "REJECTED" else "failed"
        st.warning(f"**Why it {verb}:** {plain(followed.reason)}", icon=":material/info:")
    if followed.last_error:
        tries = followed.fetch_errors
        st.caption(
            f":orange[:material/warning:] The worker's last fetch of this task failed"
            f"{f' ({tries} times)' if tries > 1 else ''}: {plain(followed.last_error)}. "
            "It tries again by itself; what is shown is what it fetched before."
        )


# --- notifications ---------------------------------------------------------------------------


def toast_text(notification: Notification) -> str:
    """``Captured: Helsinki port (SPOTLIGHT)``; a rejection or failure says why."""
    text = notification.title
    if notification.reason and notification.kind in ("rejected", "failed"):
        text = f"{text} — {notification.reason}"
    return plain(text)


def toast_new(unread: Sequence[Notification]) -> int:
    """Toast each notification this session has not seen (newest first in ``unread``). The first
    run of a session only notes what is already there: a session is told what happens while it
    is open, never the same notification twice. Returns how many were new."""
    seen = keys.NOTIFICATIONS_SEEN.get()
    if seen is None:
        keys.NOTIFICATIONS_SEEN.set({n.id for n in unread})
        return 0
    new = [n for n in reversed(unread) if n.id not in seen]  # oldest first
    for notification in new[:TOASTS_PER_RUN]:
        st.toast(toast_text(notification), icon=KIND_ICONS.get(notification.kind, OTHER_ICON))
    if len(new) > TOASTS_PER_RUN:
        st.toast(f"…and {len(new) - TOASTS_PER_RUN} more: see Notifications", icon=OTHER_ICON)
    seen.update(n.id for n in new)
    if len(seen) > 20 * max(len(unread), 1):
        # A read notification never becomes unread again: forgetting it cannot toast it twice.
        seen.intersection_update(n.id for n in unread)
    return len(new)


def deliveries_by_notification(
    pairs: Iterable[tuple[Delivery, Notification]],
) -> dict[str, list[Delivery]]:
    grouped: dict[str, list[Delivery]] = defaultdict(list)
    for delivery, notification in pairs:
        grouped[notification.id].append(delivery)
    for deliveries in grouped.values():
        deliveries.sort(key=lambda d: d.channel)
    return dict(grouped)


def delivery_line(delivery: Delivery) -> str:
    """``email: sent 22:35:49 UTC``, ``webhook: failed after 8 attempts: <error>`` (Markdown)."""
    channel = plain(delivery.channel)
    tries = f"{delivery.attempts} attempt{'' if delivery.attempts == 1 else 's'}"
    error = f": {plain(delivery.last_error)}" if delivery.last_error else ""
    if delivery.state == DeliveryState.SENT:
        return f":green[:material/check_circle:] {channel}: sent {clock_time(delivery.sent_at)}"
    if delivery.state == DeliveryState.FAILED:
        return f":red[:material/error:] {channel}: **failed** after {tries}{error}"
    if delivery.state == DeliveryState.SENDING:
        return f":blue[:material/send:] {channel}: sending ({tries} so far)"
    retry = f"; next try {clock_time(delivery.next_attempt_at)}" if delivery.attempts else ""
    last = f"; last error{error}" if error else ""
    return f":orange[:material/schedule:] {channel}: pending ({tries}{retry}{last})"


def show_notification(notification: Notification, deliveries: Sequence[Delivery]) -> None:
    """One notification: unread mark, title, text, times, a link to its task, its deliveries."""
    unread = notification.read_at is None
    icon = KIND_ICONS.get(notification.kind, OTHER_ICON)
    with st.container(border=True):
        text, link = st.columns([5, 1.4], vertical_alignment="top")
        with text:
            mark = " :blue-badge[unread]" if unread else ""
            title = f"**{plain(notification.title)}**" if unread else plain(notification.title)
            st.markdown(f"{icon} {title}{mark}")
            st.markdown(plain(notification.text))
            st.caption(
                f"{plain(notification.status)} · happened {when(notification.occurred_at)} "
                f"(backend time) · noted {when(notification.created_at, seconds=True)}"
            )
            if deliveries:
                st.markdown("  \n".join(delivery_line(d) for d in deliveries))
            else:
                st.caption("Shown here only: no delivery channel (email, webhook) was configured.")
        with link:
            st.page_link(
                state.PAGE_MONITOR,
                label="Open in Monitor",
                icon=":material/monitoring:",
                query_params={state.TASK_PARAM: notification.task_id},
            )
