"""The pass preview applies the same incidence defaults as the sandbox's scheduler."""

from __future__ import annotations

from datetime import UTC, datetime

from tasking import modes
from tasking.rules import TaskDraft
from ui.passes_view import constraints_for


def _draft(mode: str, low: int | str | None = None, high: int | str | None = None) -> TaskDraft:
    start = datetime(2026, 11, 23, tzinfo=UTC)
    return TaskDraft(
        contract_id="c", lat=60.0, lon=25.0, window_start=start, window_end=start,
        imaging_mode=mode, incidence_min=low, incidence_max=high,
    )  # fmt: skip


def test_unset_incidence_previews_the_modes_performant_range():
    for mode in ("SPOTLIGHT", "STRIPMAP", "SCAN", "SPOTLIGHT_EXTENDED_DWELL_PRECISE"):
        c = constraints_for(_draft(mode))
        assert (c.incidence_min, c.incidence_max) == tuple(map(float, modes.MODES[mode].performant))


def test_full_range_and_numbers_preview_what_was_asked():
    c = constraints_for(_draft("SPOTLIGHT", "FULL_RANGE", "FULL_RANGE"))
    assert (c.incidence_min, c.incidence_max) == (10.0, 45.0)
    c = constraints_for(_draft("SPOTLIGHT", 12, 44))
    assert (c.incidence_min, c.incidence_max) == (12.0, 44.0)
