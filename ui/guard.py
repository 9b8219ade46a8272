"""One error guard for every fragment and dialog body.

Streamlit handles an exception raised inside ``st.fragment`` or ``st.dialog`` itself, so the page's
``try`` (and app.py's last resort) never sees it. Every fragment and dialog body is therefore wrapped:
``@st.fragment`` / ``@st.dialog`` outside, ``@guarded("<what it does>")`` inside. A ``TaskingError``
is shown like on a page (``ui.errors.show_error``); anything else is a bug: logged with its traceback
on the ``ui.guard`` logger and shown as a readable message, never as a traceback. Streamlit's own
control flow (``st.rerun``, ``st.stop``) derives from ``BaseException`` and passes through.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import ParamSpec

import streamlit as st

from tasking.errors import TaskingError
from ui.errors import show_error

__all__ = ["GUARDED", "guarded", "show_unexpected"]

log = logging.getLogger("ui.guard")

P = ParamSpec("P")

GUARDED: dict[str, str] = {}
"""Qualified name of each guarded body → what it does (tests check every fragment is in here)."""


def show_unexpected(error: Exception, action: str) -> None:
    """A bug, in words: what failed and what the user can do (nothing they entered is lost)."""
    log.error("unexpected error while trying to %s", action, exc_info=error)
    st.error(
        f"**Could not {action}**: the app hit an unexpected problem "
        f"({type(error).__name__}). It has been logged.\n\n"
        "*What you can do:* what you entered is kept; retry, or reload the page.",
        icon=":material/bug_report:",
    )


def guarded(action: str) -> Callable[[Callable[P, None]], Callable[P, None]]:
    """Wrap a fragment or dialog body so that no exception leaves it unexplained."""

    def decorate(body: Callable[P, None]) -> Callable[P, None]:
        @functools.wraps(body)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> None:
            try:
                body(*args, **kwargs)
            except TaskingError as error:
                show_error(error, action)
            except Exception as error:
                show_unexpected(error, action)

        GUARDED[f"{body.__module__}.{body.__qualname__}"] = action
        return wrapper

    return decorate
