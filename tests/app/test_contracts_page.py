"""Contracts page: cards driven by the user's contracts; choosing one leads to New task."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from tasking.sandbox import seed
from tests.app.conftest import no_exception, texts

# The app's entry point opens on Contracts (its default page), with the sidebar and the progress.
CONTRACTS = None


def test_each_contract_is_a_card_with_its_allowed_options_and_defaults(
    open_app: Callable[..., AppTest],
) -> None:
    at = open_app(CONTRACTS)

    no_exception(at)
    shown = texts(at)
    subheaders = [s.value for s in at.subheader]
    assert any("Constellation Tasking" in s for s in subheaders), subheaders
    assert len(subheaders) == 2  # the demo company's two contracts
    assert "**Spot \\(SPOTLIGHT\\)** (default)" in shown
    assert "**SLA\\_8H** (default)" in shown
    assert "**COMMERCIAL** (default), BACKGROUND" in shown
    assert "Valid " in shown


def test_use_this_contract_opens_new_task_with_that_contract(
    open_app: Callable[..., AppTest],
) -> None:
    at = open_app(CONTRACTS)

    at.button(key=f"use_contract:{seed.PRICED_CONTRACT_ID}").click().run()

    no_exception(at)
    assert at.session_state["contract_id"] == seed.PRICED_CONTRACT_ID
    assert [t.value for t in at.title] == ["New task"]
    assert at.selectbox(key="contract_id").value == seed.PRICED_CONTRACT_ID


def test_sidebar_names_the_sandbox_and_shows_its_clock(open_app: Callable[..., AppTest]) -> None:
    at = open_app(CONTRACTS)

    sidebar = "\n".join(str(m.value) for m in at.sidebar.markdown)
    assert "Sandbox \\(simulated constellation\\)" in sidebar
    assert "online" in sidebar
    assert "Simulation clock" in sidebar
    assert at.sidebar.selectbox(key="sim_speed").options == [
        "real time (1×)",
        "60×",
        "600×",
        "3600×",
    ]
    assert at.sidebar.button(key="sim_jump").label == "Jump to next event"


def test_speed_selector_changes_the_sandbox_clock_speed(
    open_app: Callable[..., AppTest], control
) -> None:  # type: ignore[no-untyped-def]
    at = open_app(CONTRACTS)

    at.sidebar.selectbox(key="sim_speed").select(600.0).run()

    no_exception(at)
    assert control.clock().speed == 600.0
    control.set_speed(1.0)
