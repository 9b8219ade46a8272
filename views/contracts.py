"""Step 1 — Contracts: the user's contracts as cards; choosing one leads to New task."""

from __future__ import annotations

import streamlit as st

from ui import keys, state
from ui.contract_view import budget_of, contract_card
from ui.service import get_service

service = get_service()
st.title("Contracts")
st.caption(
    "A contract is your menu: the imaging modes, priorities, SLAs and exclusivity you may order. "
    "Every option of a new task comes from the contract you choose here."
)

contracts = state.contracts(service)
if contracts is None:
    st.stop()
if st.button("Reload contracts", icon=":material/refresh:"):
    state.forget_contracts()
    keys.BUDGETS.pop()
    st.rerun()
if not contracts:
    st.info("This account has no contracts: ask ICEYE to set one up.", icon=":material/info:")
    st.stop()

now = state.needed("read the backend's clock", service.now)
if now is None:
    st.stop()

# Budgets are read once per session (one request per contract), like the contracts themselves.
budgets = keys.BUDGETS.setdefault({})
for contract in contracts:
    if contract.id not in budgets:
        budgets[contract.id] = budget_of(service.client, contract.id)

chosen = keys.CONTRACT_ID.get()
columns = st.columns(2, gap="medium")
for index, contract in enumerate(contracts):
    with columns[index % 2]:
        if contract_card(
            contract, now, chosen=contract.id == chosen, budget=budgets.get(contract.id)
        ):
            state.choose_contract(contract.id)
            st.switch_page(state.PAGE_NEW_TASK)
