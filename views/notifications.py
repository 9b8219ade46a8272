"""Notifications: what the background worker told about the tasks (scheduled, rejected, captured,
products ready, failed, canceled), newest first, unread marked, each with a link to its task in the
Monitor and how each channel (email, webhook) delivered it. Refreshed every 5 s."""

from __future__ import annotations

import streamlit as st

from tasking.desk import CHANNELS, Desk
from tasking.errors import TaskingError
from ui import keys
from ui.desk_view import deliveries_by_notification, show_notification
from ui.errors import show_error
from ui.guard import guarded, show_unexpected
from ui.service import get_service

# The newest notifications listed (older ones stay in the store). A comment, not a docstring:
# Streamlit's magic would draw a bare string of a page on it.
SHOWN = 100


def mark_all_read(desk: Desk) -> None:
    try:
        desk.mark_read(None)
    except Exception as error:  # a callback runs outside the list's guard: shown by the list
        keys.NOTIFICATIONS_ERROR.set(error)
    keys.NOTIFICATIONS_CHANGED.set(True)


service = get_service()
st.title("Notifications")
desk = service.desk
if desk is None:
    st.info("This app has no store for notifications.", icon=":material/info:")
    st.stop()
if not service.worker_active():
    st.caption("No background worker is running, so no new notifications are made: see Work queue.")


@st.fragment(run_every=5)
@guarded("list the notifications")
def notification_list(desk: Desk) -> None:
    if keys.NOTIFICATIONS_CHANGED.pop() and not keys.NOTIFICATIONS_ERROR.is_set():
        st.rerun()  # the whole page, so that the sidebar's unread count follows at once
    error = keys.NOTIFICATIONS_ERROR.pop()
    if isinstance(error, TaskingError):
        show_error(error, "mark the notifications as read")
    elif error is not None:
        show_unexpected(error, "mark the notifications as read")
    unread = desk.unread_count()
    with st.container(horizontal=True, vertical_alignment="center"):
        st.markdown(f"**{unread} unread**" if unread else "Nothing unread.")
        st.toggle("Unread only", key=keys.UNREAD_ONLY.name)
        st.button(
            "Mark all as read",
            key=keys.MARK_ALL_READ.name,
            icon=":material/done_all:",
            on_click=mark_all_read,
            args=(desk,),
            disabled=unread == 0,
        )
    shown = desk.notifications(limit=SHOWN, unread_only=keys.UNREAD_ONLY.get(False))
    if not shown:
        st.caption(
            "No notifications yet: the worker makes one when a task is scheduled, rejected, "
            "captured, has its products ready, fails or is cancelled."
        )
        return
    deliveries = deliveries_by_notification(desk.deliveries(limit=len(CHANNELS) * SHOWN))
    for notification in shown:
        show_notification(notification, deliveries.get(notification.id, []))
    if len(shown) == SHOWN:
        st.caption(f"The newest {SHOWN} are shown.")


notification_list(desk)
