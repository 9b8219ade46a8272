"""The New campaign page's work (issue 12): targets, tiles, batch feasibility, create.

1. The contract and the options every order shares: New task's own form (``ui.task_form``, the
   same session keys), so the same rules are checked before any call and a page switch keeps them.
2. Targets from a file or drawn on the map (``ui.campaign_targets``); areas tiled with the mode's
   scenes, the tiles on the map with their count and covered area.
3. One batch check of feasibility and price (``ui.campaign_batch``): verdicts coloured in a table
   and on the map, every target's predicted passes on one timeline.
4. A name, a confirmation, the creation with a progress bar, and Resume for a run that stopped
   (``ui.campaign_create``).

The layout is made first and filled out of order: the check runs before the map is drawn (the map
shows this run's verdicts) though its button sits below the map.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

import streamlit as st

from tasking import rules
from tasking.campaigns import CampaignStatus, campaign_requests
from tasking.errors import InputError, TaskingError, Violation
from tasking.models import Contract, TaskRequest
from tasking.rules import TaskDraft
from tasking.service import TaskingService
from tasking.targets import name_violations
from ui import campaign_batch as batch
from ui import campaign_create as create
from ui import campaign_targets as sources
from ui import keys, passes_view, state
from ui import task_form as form
from ui.elements import Constellation, Unavailable, constellation
from ui.errors import attempt, show_error
from ui.format import plain

CHECK = "check the campaign's feasibility"
# The point the shared options are checked at while there is no target yet (the rules of a point
# are each target's own; those of the options do not depend on where).
_ANYWHERE = (0.0, 0.0)
_PER_TARGET_FIELDS = frozenset({"lat", "lon", "reference"})


def _draft(contract: Contract, now: datetime) -> TaskDraft:
    """The form's draft; a window the user has not edited follows the clock (as on New task)."""
    draft = form.draft(contract)
    if keys.WINDOW_AUTO.get():
        priority = rules.effective_priority(draft.priority, contract)
        start, end = rules.default_window(now, priority)
        draft = dataclasses.replace(draft, window_start=start, window_end=end)
    return dataclasses.replace(draft, reference=None)


def _option_violations(
    draft: TaskDraft, contract: Contract, now: datetime, targets: sources.Targets
) -> list[Violation]:
    """The shared options' broken rules (each target's point is checked on its own)."""
    lat, lon = (targets.targets[0].lat, targets.targets[0].lon) if targets.targets else _ANYWHERE
    probe = dataclasses.replace(draft, lat=lat, lon=lon)
    return [v for v in rules.check_draft(probe, contract, now) if v.field not in _PER_TARGET_FIELDS]


def _name_problems(name: str) -> list[Violation]:
    if not name.strip():
        return [
            Violation(
                "name",
                rules.RULE_REQUIRED,
                f"Name the campaign: each task's reference starts with it "
                f"({rules.RULE_REQUIRED} rule).",
            )
        ]
    return name_violations(name.strip())


def _requests(
    service: TaskingService,
    name: str,
    draft: TaskDraft,
    found: sources.Targets,
    contract: Contract,
    now: datetime,
) -> tuple[str, list[TaskRequest]] | InputError:
    """The campaign's id and one request per target, or why not (nothing is sent)."""
    campaign_id = keys.CAMPAIGN_DRAFT_ID.get()
    if campaign_id is None:
        campaign_id = service.campaigns.new_id()
        keys.CAMPAIGN_DRAFT_ID.set(campaign_id)
    try:
        made = campaign_requests(
            campaign_id,
            name.strip(),
            draft,
            found.targets,
            contract,
            now,
        )
    except InputError as error:
        return error
    return campaign_id, made


def _contract_picker(names: dict[str, str], problems: dict[str, list[Violation]]) -> None:
    st.selectbox(
        "Contract",
        list(names),
        key=keys.CONTRACT_ID.name,
        format_func=names.__getitem__,
        persist_state="session",
        help="Every order of the campaign uses this contract and its allowed options.",
    )
    form.show_problems(problems.get("contract_id", []))


def _options_panel(
    contract: Contract, names: dict[str, str], now: datetime, problems: dict[str, list[Violation]]
) -> None:
    with st.container(border=True):
        st.markdown("##### Every order of the campaign")
        _contract_picker(names, problems)
        form.option_widgets(contract, problems)
        form.window_widgets(contract, now, problems)
        with st.expander(
            "Advanced options",
            key=keys.ADVANCED_OPEN.name,
            on_change="rerun",
            icon=":material/tune:",
        ):
            form.advanced_widgets(contract, problems)
        st.text_input(
            "Campaign name",
            key=keys.CAMPAIGN_NAME.name,
            placeholder="e.g. 'Baltic ports, December'",
            persist_state="session",
            help="Starts the reference of every task; the Campaigns page lists it.",
        )
        form.show_problems(problems.get("name", []))


def _batch_section(
    service: TaskingService,
    contract: Contract,
    found: sources.Targets,
    built: tuple[str, list[TaskRequest]] | InputError | None,
    blocked: str | None,
) -> batch.BatchCheck | None:
    """The Check button and, when a check is for exactly these requests, its result (returned)."""
    requests = built[1] if isinstance(built, tuple) else None
    st.markdown("#### Feasibility and price")
    if blocked:
        st.caption(f":material/info: {blocked}")
    if isinstance(built, InputError):
        show_error(built, "prepare the campaign's orders")
    clicked = st.button(
        f"Check feasibility of {len(found.targets)} targets"
        if found.targets
        else "Check feasibility",
        icon=":material/radar:",
        key=keys.CAMPAIGN_CHECK.name,
        disabled=requests is None,
        help="One feasibility request for the whole batch (ICEYE's array form), and the price.",
    ) or (requests is not None and bool(keys.retry(CHECK).get()))
    if clicked and requests is not None:
        keys.CAMPAIGN_BATCH.pop()
        with st.spinner(f"Asking the constellation about {len(requests)} targets…"):
            check = attempt(CHECK, batch.check_batch, service, requests, contract)
        if check is not None:
            keys.CAMPAIGN_BATCH.set(check)
    check = keys.CAMPAIGN_BATCH.get()
    if not isinstance(check, batch.BatchCheck) or len(check.items) != len(found.targets):
        return None
    stale = requests is None or check.fingerprint != batch.batch_fingerprint(requests)
    batch.show_check(found.targets, check, stale=stale)
    return None if stale else check


def _timeline(
    service: TaskingService, draft: TaskDraft, found: sources.Targets, has_window: bool
) -> None:
    st.markdown("#### Predicted passes")
    if not found.targets:
        st.caption("Add targets to see when satellites can image them.")
        return
    elements = constellation(service)
    window = form.preview_window(draft)
    if isinstance(elements, Unavailable):
        st.info(elements.message, icon=":material/satellite_alt:")
    elif window is None or not has_window:
        st.caption("Fix the acquisition window to see the passes inside it.")
    elif isinstance(elements, Constellation):
        try:
            batch.show_timeline(
                elements, found.targets, *window, passes_view.constraints_for(draft)
            )
        except TaskingError as error:
            show_error(error, "predict the passes")


def _create_section(
    service: TaskingService,
    contract: Contract,
    name: str,
    draft: TaskDraft,
    found: sources.Targets,
    built: tuple[str, list[TaskRequest]] | InputError | None,
) -> None:
    st.markdown("#### Create")
    create.launch(service, contract)
    run = keys.CAMPAIGN_RUN.get()
    ready = isinstance(built, tuple)
    # Once a campaign is made, opening it is what the page suggests; ordering again is not.
    done = run is not None and run.campaign.status is CampaignStatus.PLACED
    st.button(
        f"Create campaign of {len(found.targets)} tasks…" if ready else "Create campaign…",
        type="secondary" if done else "primary",
        icon=":material/send:",
        key=keys.CAMPAIGN_OPEN_CONFIRM.name,
        disabled=not ready,
        on_click=create.open_confirmation,
    )
    if run is not None:
        create.show_run(run)
    create.show_unfinished(service)
    if keys.CAMPAIGN_CONFIRMING.get():
        if not isinstance(built, tuple):
            create.close_confirmation()
            return
        campaign_id, requests = built
        frozen = create.Frozen(
            campaign_id, name.strip(), draft, tuple(found.targets), tuple(requests)
        )
        create.confirm_campaign(service, contract, frozen)


def render_builder(service: TaskingService) -> None:
    st.title("New campaign")
    st.caption(
        "Many targets ordered in one go with the same options: upload a file of points or areas, "
        "or draw on the map; areas are covered with scenes of the chosen mode."
    )
    form.layout_style()
    names, contract, now = state.ordering_contract(
        service, "This account has no contracts, so nothing can be ordered."
    )
    form.prepare(contract, now)
    keys.CAMPAIGN_NAME.ensure("")

    draft = _draft(contract, now)
    found = sources.gather(draft.imaging_mode)
    name = keys.CAMPAIGN_NAME.get("")
    violations = _option_violations(draft, contract, now, found)
    problems = form.by_field([*violations, *(_name_problems(name) if name else [])])

    left, right = form.columns()
    below = st.container()
    with right:
        _options_panel(contract, names, now, problems)

    blocked = None
    built: tuple[str, list[TaskRequest]] | InputError | None = None
    if not found.targets:
        blocked = "Add targets first: upload a file or draw on the map."
    elif violations:
        blocked = "Fix the options marked on the right first."
    elif _name_problems(name):
        blocked = plain(rules.user_message(_name_problems(name)[0]))
    else:
        built = _requests(service, name, draft, found, contract, now)

    with below:
        check = _batch_section(service, contract, found, built, blocked)

    with left:
        st.markdown("**Targets** — upload a file, or draw points, a line or a polygon on the map.")
        sources.source_widgets()
        colours = labels = None
        if check is not None:
            colours = [batch.verdict_colour(item.verdict) for item in check.items]
            labels = [
                f"{t.name}: {i.verdict}" for t, i in zip(found.targets, check.items, strict=True)
            ]
        layer = sources.marks_layer(found, colours, labels or [t.name for t in found.targets])
        sources.campaign_map(layer, found)
        sources.show_counts(found, draft.imaging_mode)
        sources.show_refusals(found)

    with below:
        _timeline(service, draft, found, not any(v.field.startswith("window") for v in violations))
        _create_section(service, contract, name, draft, found, built)
