"""Price and budget, issue 5: the confirmation shows the order's price and the funds left where
the contract has pricing, refuses clearly when funds are short, and says so where it has none;
the contract cards show the budget."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from streamlit.testing.v1 import AppTest

from tasking import rules
from tasking.client import TaskingClient
from tasking.rules import TaskDraft
from tasking.sandbox import seed
from tasking.sandbox.control import SandboxControl
from tests.app.conftest import no_exception, texts

NEW_TASK = "views/new_task.py"
POINT = {"poi_lat": 50.0, "poi_lon": 10.0}


def shown(at: AppTest) -> str:
    return texts(at).replace("\\", "")


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def confirm(open_app: Callable[..., AppTest], **state: object) -> AppTest:
    at = open_app(NEW_TASK, **POINT, **state)
    next(b for b in at.button if b.label == "Create task…").click().run()
    no_exception(at)
    return at


def test_a_contract_without_pricing_says_so_in_the_confirmation(
    open_app: Callable[..., AppTest],
) -> None:
    at = confirm(open_app, contract_id=seed.BROAD_CONTRACT_ID)

    assert "This contract has no pricing" in shown(at)
    assert not at.button(key="nt_confirm").disabled


def test_a_priced_contract_shows_the_price_and_the_funds_left(
    open_app: Callable[..., AppTest],
) -> None:
    at = confirm(open_app, contract_id=seed.PRICED_CONTRACT_ID)

    shown_metrics = metrics(at)
    assert shown_metrics["Price of this order"].startswith("USD ")
    assert shown_metrics["Available funds"].startswith("USD ")
    assert shown_metrics["Spend limit"] == "USD 20,000.00"
    assert not at.button(key="nt_confirm").disabled


def test_contract_cards_show_the_budget_or_no_pricing(open_app: Callable[..., AppTest]) -> None:
    at = open_app()

    text = shown(at)
    assert "No pricing plan" in text
    assert "available of USD 20,000.00" in text


def _spend(client: TaskingClient, control: SandboxControl) -> None:
    """Put most of the priced contract's budget on hold with expensive orders."""
    contract = client.get_contract(seed.PRICED_CONTRACT_ID)
    for _ in range(4):
        now = control.clock().now
        start = now + timedelta(days=2)
        draft = TaskDraft(
            contract_id=contract.id,
            lat=50.0,
            lon=10.0,
            window_start=start,
            window_end=start + timedelta(days=2),
            imaging_mode="SPOTLIGHT",
            exclusivity="PRIVATE",
        )
        client.create_task(rules.build_task_request(draft, contract, now))


def test_short_funds_are_refused_before_ordering(
    open_app: Callable[..., AppTest], client: TaskingClient, control: SandboxControl
) -> None:
    _spend(client, control)

    at = confirm(open_app, contract_id=seed.PRICED_CONTRACT_ID, nt_exclusivity="PRIVATE")

    assert "Funds are short" in shown(at)
    assert at.button(key="nt_confirm").disabled
