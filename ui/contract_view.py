"""A contract as a card: what it allows, its defaults, its validity (step 1 of the journey)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import streamlit as st

from tasking import modes
from tasking.client import TaskingClient
from tasking.errors import NotFound, TaskingError
from tasking.models import Contract, ContractSummary, OptionGroup, to_utc
from ui import keys
from ui.format import code, money, plain, when


def options_markdown(group: OptionGroup, label: Callable[[str], str] = str) -> str:
    """``SPOTLIGHT **(default)**, SCAN`` — allowed values with the default marked."""
    if not group.allowed:
        return "*not restricted by the contract*"
    default = group.resolved_default()
    parts = []
    for value in group.allowed:
        text = plain(label(value))
        parts.append(f"**{text}** (default)" if value == default else text)
    return ", ".join(parts)


def _mode_label(name: str) -> str:
    info = modes.mode_info(name)
    return name if info.label == name else f"{info.label} ({name})"


def validity(contract: Contract, now: datetime) -> tuple[bool, str]:
    """Whether tasks may be ordered now, and the period as text."""
    span = f"{when(contract.start)} → {when(contract.end)}"
    now = to_utc(now)
    if contract.start is not None and now < contract.start:
        return False, f"Not valid yet: {span}"
    if contract.end is not None and now > contract.end:
        return False, f"Expired: {span}"
    return True, f"Valid {span}"


@dataclass(frozen=True)
class Budget:
    """A contract's funds: a summary, "no pricing" (summary None), or why it could not be read."""

    summary: ContractSummary | None
    problem: str | None = None


def budget_of(client: TaskingClient, contract_id: str) -> Budget:
    try:
        return Budget(client.get_contract_summary(contract_id))
    except NotFound:
        return Budget(None)
    except TaskingError as error:
        return Budget(None, error.message)


def _show_budget(budget: Budget) -> None:
    if budget.problem:
        st.caption(f"Budget unavailable: {plain(budget.problem)}")
        return
    summary = budget.summary
    if summary is None:
        st.caption("No pricing plan: orders on this contract have no price or budget.")
        return
    if summary.spendLimit is None or summary.available is None:
        st.markdown(
            f"**Budget:** spent {money(summary.consolidatedSpent, summary.currency)}, no limit"
        )
        return
    used = summary.spendLimit - summary.available
    st.markdown(
        f"**Budget:** {money(summary.available, summary.currency)} available of "
        f"{money(summary.spendLimit, summary.currency)}"
    )
    st.progress(
        min(1.0, max(0.0, used / summary.spendLimit)) if summary.spendLimit else 1.0,
        text=(
            f"Spent {money(summary.consolidatedSpent, summary.currency)} · on hold "
            f"{money(summary.onHold, summary.currency)}"
        ),
    )


def contract_card(
    contract: Contract, now: datetime, *, chosen: bool, budget: Budget | None = None
) -> bool:
    """Render one card; returns True when "Use this contract" was clicked."""
    valid, period = validity(contract, now)
    with st.container(border=True):
        st.subheader(contract.name or contract.id, anchor=False)
        st.caption(f"Contract ID {code(contract.id)}")
        st.badge(period, icon=":material/event:", color="green" if valid else "red")
        rows = [
            ("Imaging modes", options_markdown(contract.imagingModes, _mode_label)),
            ("Priorities", options_markdown(contract.priority)),
            ("SLAs", options_markdown(contract.sla)),
            ("Exclusivity", options_markdown(contract.exclusivity)),
            ("EULA", options_markdown(contract.eula)),
        ]
        if contract.derivatives_allowed:
            rows.append(("Derivatives", plain(", ".join(contract.derivatives_allowed))))
        st.markdown("\n".join(f"- **{name}:** {text}" for name, text in rows))
        if budget is not None:
            _show_budget(budget)
        if contract.productTypes:
            with st.expander("Product types per imaging mode"):
                st.markdown(
                    "\n".join(
                        f"- **{plain(mode)}:** {plain(', '.join(types))}"
                        for mode, types in contract.productTypes.items()
                    )
                )
        label = "Continue with this contract" if chosen else "Use this contract"
        return st.button(
            label,
            key=keys.use_contract(contract.id).name,
            type="primary",
            disabled=not valid,
            help=None if valid else "Tasks can only be ordered while the contract is valid.",
            icon=":material/arrow_forward:",
        )
