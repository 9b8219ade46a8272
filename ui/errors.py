"""Readable errors: any ``TaskingError`` as a message the user can act on, with a Retry button.

Pages catch the ``tasking.errors`` tree and nothing else (STYLE.md); a bug elsewhere is a bug and
should surface as one. What is shown: what failed, ICEYE's code and message where there is one, the
HTTP status, and what the user can do (PRODUCT.md, "Bad input and faults"). Server text is escaped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

import streamlit as st

from tasking.errors import (
    ApiError,
    BadRequest,
    ConfigurationError,
    Forbidden,
    InputError,
    InsufficientFunds,
    NotFound,
    RateLimited,
    RequestTimeout,
    ServerError,
    TaskingError,
    TransportError,
    Unauthorized,
)
from tasking import rules
from ui import keys
from ui.format import plain

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class Explanation:
    """An error in the user's terms."""

    headline: str
    status: str  # "HTTP 400 · ERR_INSUFFICIENT_FUNDS", "" when there was no HTTP answer
    message: str
    hint: str


def _hint(error: TaskingError) -> str:
    if isinstance(error, ConfigurationError):
        return (
            "Fix the configuration (environment variables, `.env` or `.streamlit/secrets.toml`) "
            "and restart the app."
        )
    if isinstance(error, InputError):
        return "Correct the options named above; nothing was sent."
    if isinstance(error, RequestTimeout):
        return (
            "The backend did not answer in time and may still have acted. If you were creating a "
            "task, look for it in All tasks before ordering again; otherwise retry."
        )
    if isinstance(error, TransportError):
        return "The backend cannot be reached. Check that it is running and reachable, then retry."
    if isinstance(error, InsufficientFunds):
        return (
            "The order costs more than the contract's available funds. Choose cheaper options "
            "(priority, SLA, exclusivity) or another contract."
        )
    if isinstance(error, Unauthorized):
        return "The API refused the credentials. Check ICEYE_CLIENT_ID and ICEYE_CLIENT_SECRET."
    if isinstance(error, Forbidden):
        return "Your account may not do this with this contract or resource (dates, rules)."
    if isinstance(error, NotFound):
        return "It does not exist for your account, or it is not available yet."
    if isinstance(error, RateLimited):
        wait = f"about {error.retry_after:.0f} s" if error.retry_after else "a moment"
        return f"Too many requests: wait {wait}, then retry."
    if isinstance(error, ServerError):
        return "The API failed on its side. Retry in a moment."
    if isinstance(error, BadRequest):
        return "The API refused the request. Adjust the options and retry."
    return "Retry; if it keeps failing, check the backend in the sidebar."


def explain(error: TaskingError, action: str) -> Explanation:
    """``action`` says what was attempted, e.g. "load the contracts"."""
    status = ""
    message = error.message
    if isinstance(error, ApiError):
        status = f"HTTP {error.status_code}" + (f" · {error.code}" if error.code else "")
        if error.details and error.details not in message:
            message = f"{message} ({error.details})"
    elif isinstance(error, TransportError):
        status = "no answer"
    return Explanation(f"Could not {action}", status, message, _hint(error))


def show_error(error: TaskingError, action: str, *, retry_key: keys.Button | None = None) -> None:
    """Render an error readably; with ``retry_key`` (``keys.retry(...)``), a Retry button that
    reruns the page."""
    info = explain(error, action)
    log.warning("%s failed: %s %s", action, type(error).__name__, info.status)
    status = f" — {info.status}" if info.status else ""
    lines = [f"**{plain(info.headline)}**{plain(status)}", plain(info.message)]
    if isinstance(error, InputError):
        lines = [
            f"**{plain(info.headline)}**",
            *(f"- {plain(rules.user_message(v))}" for v in error.violations),
        ]
    lines.append(f"*What you can do:* {info.hint}")
    st.error("\n\n".join(lines), icon=":material/error:")
    if retry_key is not None:
        # A click reruns the script (or the fragment the button is in), which repeats the call.
        st.button("Retry", key=retry_key.name, icon=":material/refresh:")


def attempt(
    action: str,
    call: Callable[P, T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T | None:
    """Run one call of ``tasking``; on a TaskingError show it (with Retry) and return None."""
    try:
        return call(*args, **kwargs)
    except TaskingError as error:
        show_error(error, action, retry_key=keys.retry(action))
        return None
