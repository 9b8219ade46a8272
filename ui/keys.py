"""Every session-state key of the app, typed by the value it holds: the one place a key is spelled.

A ``Key[T]`` names one entry of ``st.session_state`` and reads and writes it as a ``T``; widgets
take ``key=keys.X.name``. This module is the only one that touches ``st.session_state`` (a test
holds that line), so a key cannot be misspelt on one side and a value cannot change type unseen.

The names are fixed: widget values persisted with ``persist_state="session"`` live under them, and
the page tests seed and read them (``poi_lat``, ``nt_reference``, ``contract_id``, ...). Keys made
per item (a Retry button per failed action, a button per contract or product asset) come from the
functions at the end, never from strings in the pages.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar, overload

import streamlit as st

if TYPE_CHECKING:
    from tasking.errors import TaskingError
    from tasking.models import Contract, FeasibilityResponse, TaskRequest
    from tasking.places import Place
    from tasking.watch import Watch
    from ui.campaign_data import Fetched
    from ui.contract_view import Budget
    from ui.task_table import TaskList

T = TypeVar("T")


@dataclass(frozen=True)
class Key(Generic[T]):
    """One entry of session state holding a ``T`` (or nothing yet)."""

    name: str
    doc: str

    @overload
    def get(self) -> T | None: ...
    @overload
    def get(self, default: T) -> T: ...
    def get(self, default: T | None = None) -> T | None:
        value: T | None = st.session_state.get(self.name, default)
        return value

    def set(self, value: T) -> None:
        st.session_state[self.name] = value

    def pop(self) -> T | None:
        """Forget the value (nothing happens when there is none); return what it was."""
        value: T | None = st.session_state.pop(self.name, None)
        return value

    def is_set(self) -> bool:
        return self.name in st.session_state

    def setdefault(self, default: T) -> T:
        """The value, after storing ``default`` if there was none (mutable values stay shared)."""
        value: T = st.session_state.setdefault(self.name, default)
        return value

    def ensure(self, default: T, options: Collection[T] | None = None) -> None:
        """Give the key ``default`` unless it holds a value that is still one of ``options``."""
        if not self.is_set() or (options is not None and self.get() not in options):
            self.set(default)


Button: TypeAlias = Key[bool]
"""A button's key: True during the one run that follows its click (its value is also returned)."""

# --- the journey, shared by the pages ---------------------------------------------------------

CONTRACT_ID: Key[str] = Key("contract_id", "The contract chosen on Contracts (step 1).")
TASK_ID: Key[str] = Key(
    "task_id", "The task on the Monitor (step 3); mirrored into the URL as ``?task=<id>``."
)
CONTRACTS: Key[list[Contract]] = Key(
    "contracts", "The user's contracts, loaded once per session (ICEYE's demo: once)."
)
BUDGETS: Key[dict[str, Budget]] = Key(
    "contract_budgets",
    "Contract id → its budget, read once per session; forgotten when an order changes them.",
)
LAST_ORDER: Key[str] = Key(
    "nt_order", "Journal key of this session's last order, while New task shows where it stands."
)
AWAITING_BACKEND: Key[bool] = Key(
    "awaiting_backend",
    "Set when a page could not load what it needs: the sidebar's health check reruns the page "
    "as soon as the backend answers (recovery without Retry).",
)

# --- sidebar: the simulation clock ------------------------------------------------------------

SIM_SPEED: Key[float] = Key("sim_speed", "Speed selectbox: the simulation clock's speed.")
SIM_JUMP: Button = Key("sim_jump", "Jump to next event.")
CLOCK_ERROR: Key[Exception] = Key(
    "sim_clock_error", "A failed speed change or jump, shown once by the clock panel."
)
CLOCK_CHANGED: Key[bool] = Key(
    "sim_clock_changed", "The clock was moved by a callback: the page reruns to follow it."
)

# --- sidebar: the demo scenario (sandbox only) ------------------------------------------------

SCENARIO_OPEN: Button = Key("demo_scenario", "Load demo scenario… (opens the confirmation).")
SCENARIO_CONFIRMING: Key[bool] = Key(
    "demo_scenario_confirming",
    "Set while the demo scenario's confirmation is open: a dialog exists only in the runs that "
    "call it.",
)
SCENARIO_CONFIRM: Button = Key("demo_scenario_confirm", "Load the demo scenario, in the dialog.")
SCENARIO_KEEP: Button = Key("demo_scenario_keep", "Keep the tasks, in the dialog.")
SCENARIO_LOADED: Key[str] = Key(
    "demo_scenario_loaded",
    "What the demo scenario loaded, said by the sidebar until the next demo action.",
)

# --- New task: the point of interest ----------------------------------------------------------

LAT: Key[float | None] = Key("poi_lat", "Latitude input (°): set by a map click, search or typing.")
LON: Key[float | None] = Key("poi_lon", "Longitude input (°): set like the latitude.")
POI_MAP: Key[dict[str, Any] | None] = Key(
    "poi_map", "st_folium's value of the point map (``last_clicked``), read in its on_change."
)
CENTER: Key[tuple[float, float]] = Key(
    "nt_center", "Where the point map centres after a typed or searched point (lat, lon)."
)
ZOOM: Key[int] = Key("nt_zoom", "The point map's zoom after a typed or searched point.")
PLACE_QUERY: Key[str] = Key("nt_place_query", "Find a place: the text searched.")
PLACE_PICK: Key[Place | None] = Key("nt_place_pick", "The place chosen among the matches.")
COORDS: Key[str] = Key("nt_coords", "Coordinates typed as text (decimal or DMS).")
COORDS_ERROR: Key[str] = Key("nt_coords_error", "Why the typed coordinates could not be read.")

# --- New task: the options --------------------------------------------------------------------

DRAFT_CONTRACT: Key[str] = Key(
    "nt_draft_contract", "The contract the form was prepared for (another one resets it)."
)
MODE: Key[str | None] = Key("nt_mode", "Imaging mode selectbox.")
PRIORITY: Key[str | None] = Key("nt_priority", "Priority selectbox.")
SLA: Key[str | None] = Key("nt_sla", "Delivery SLA selectbox (None: the contract lists none).")
EXCLUSIVITY: Key[str | None] = Key("nt_exclusivity", "Exclusivity selectbox.")
EULA: Key[str | None] = Key("nt_eula", "EULA selectbox (None: the contract lists none).")
START: Key[datetime | None] = Key("nt_start", "Window start input (naive UTC).")
END: Key[datetime | None] = Key("nt_end", "Window end input (naive UTC).")
WINDOW_AUTO: Key[bool] = Key(
    "nt_window_auto", "True until the user edits the window: it then follows the clock."
)
DEFAULT_WINDOW: Button = Key("nt_default_window", "Use a valid default window.")
INCIDENCE: Key[str] = Key(
    "nt_incidence", "Incidence choice: ``any``, ``range`` or a preset (PERFORMANT, FULL_RANGE)."
)
INC_MIN: Key[float | str | None] = Key("nt_inc_min", "Minimum incidence (°) of a range.")
INC_MAX: Key[float | str | None] = Key("nt_inc_max", "Maximum incidence (°) of a range.")
LOOK: Key[str] = Key("nt_look", "Look side radio: ANY, LEFT or RIGHT.")
PASS: Key[str] = Key("nt_pass", "Pass direction radio: ANY, ASCENDING or DESCENDING.")
PRODUCTS: Key[list[str]] = Key("nt_products", "Product types chosen (empty: the mode's default).")
DERIVATIVES: Key[list[str]] = Key("nt_derivatives", "Derivative product types chosen.")
DURATION: Key[int | None] = Key("nt_duration", "Imaging duration input (s; None: mode default).")
REFERENCE: Key[str] = Key("nt_reference", "The user's reference for the order.")

# --- New task: hints and errors, the predicted passes -----------------------------------------

TOUCHED: Key[set[str]] = Key(
    "nt_touched",
    "Form fields (TaskDraft names) the user has changed: their broken rules show as errors, the "
    "others' as neutral hints.",
)
REVEAL: Key[bool] = Key(
    "nt_reveal",
    "Check feasibility or Create was pressed while rules were broken: every one shows as an error "
    "until the form is valid.",
)
ADVANCED_OPEN: Key[bool] = Key(
    "nt_advanced",
    "Whether Advanced options is open (the expander's tracked state; opened for an error inside "
    "it and never closed by the page while the user fixes it).",
)
PASS_TABLE: Key[Any] = Key(
    "nt_pass_table", "The predicted passes table's selection state (one row: the selected pass)."
)
PASS_CHART: Key[Any] = Key(
    "nt_pass_chart", "The pass chart's selection state (a click on a pass selects its row)."
)
SELECTED_PASS: Key[str] = Key(
    "nt_selected_pass",
    "Id (satellite@time) of the selected predicted pass, highlighted on map and chart.",
)
PASS_LIST: Key[str] = Key(
    "nt_pass_list",
    "Signature of the pass list the table was drawn with: a new list moves the selection to the "
    "same pass (or clears it) instead of keeping a row number that now means another pass.",
)
AIMED: Key[Any] = Key(
    "nt_aimed",
    "The pass the form was aimed at (``ui.passes_view.Aim``), shown with the passes that still "
    "qualify while the form keeps its settings.",
)
AIM: Button = Key("nt_aim", "Aim for this pass: set look side, direction and incidence from it.")
PASS_CSV: Button = Key("nt_pass_csv", "Download the predicted passes as CSV.")
PAIR_PRIORITY: Key[None] = Key(
    "nt_pair_priority",
    "Layout container (no value): Priority and SLA side by side, stacked where both do not fit.",
)
PAIR_WINDOW: Key[None] = Key(
    "nt_pair_window", "Layout container (no value): window start and end, side by side or stacked."
)
PAGE_COLUMNS: Key[None] = Key(
    "nt_columns",
    "Layout container (no value): the map and the order side by side, stacked where both do not "
    "fit (a 1024 px screen with the sidebar open, a phone).",
)
ORDER_PANEL: Key[None] = Key(
    "nt_order_panel", "Layout container (no value): the live order summary and its actions."
)
POINT_FULL_RERUN: Key[bool] = Key(
    "nt_point_full_rerun",
    "Set by a callback inside New task's point fragment whose change shows outside it (Create "
    "task…, Aim for this pass, Check feasibility with rules broken): the fragment then reruns the "
    "whole page; the page clears it when it runs.",
)

# --- New task: checking and ordering ----------------------------------------------------------

FEASIBILITY: Key[tuple[str, FeasibilityResponse]] = Key(
    "nt_feasibility",
    "The last feasibility verdict, with the fingerprint of the request it is for (to mark it "
    "stale when the options change).",
)
CONFIRMING: Key[bool] = Key(
    "nt_confirming",
    "Set while the confirmation dialog is open: a dialog exists only in the runs that call it.",
)
ORDER_REQUEST: Key[TaskRequest] = Key(
    "nt_order_request",
    "The exact request the confirmation shows, prices and sends: frozen when the dialog first "
    "draws, so a window that follows the clock cannot change between what was shown and sent.",
)
CONFIRM_CREATE: Button = Key("nt_confirm", "Create task, in the confirmation dialog.")
CONFIRM_BACK: Button = Key("nt_back", "Back to the form, in the confirmation dialog.")
EXISTING_OPEN: Button = Key("nt_existing_open", "Open the identical, already placed task.")
ORDER_OPEN: Button = Key("nt_order_open", "Open the order just placed in Monitor.")
ORDER_DISMISS: Button = Key("nt_order_dismiss", "Dismiss the outcome of the last order.")

# --- Monitor ----------------------------------------------------------------------------------

WATCHES: Key[dict[str, Watch]] = Key(
    "mon_watches", "Task id → what this session has seen of it (the Monitor's refresh state)."
)
CANCELLING: Key[str] = Key(
    "mon_cancelling", "Task id whose cancellation is being confirmed (the dialog is open)."
)
TYPED_TASK_ID: Key[str] = Key("mon_typed_id", "A task ID typed into the Monitor's picker.")
OPEN_TYPED: Button = Key("mon_open_typed", "Open the typed task ID.")
CLONE_TASK: Button = Key("mon_clone", "Clone the monitored task into a new task.")
CANCEL: Button = Key("mon_cancel", "Cancel task… (opens the confirmation).")
CANCEL_CONFIRM: Button = Key("mon_cancel_confirm", "Cancel the task, in the dialog.")
CANCEL_KEEP: Button = Key("mon_cancel_keep", "Keep the task, in the dialog.")
MONITOR_MAP: Key[Any] = Key("monitor_map", "The Monitor's map (nothing is read back from it).")
HINTED: Key[set[str]] = Key(
    "mon_hinted",
    "Task ids this session asked the worker to fetch (``desk.hint``, once per task and session).",
)
FAST_FORWARD_NEXT: Button = Key(
    "mon_ff_next", "Next event for this task (sandbox demo control: moves the global clock)."
)
FAST_FORWARD_FINAL: Button = Key(
    "mon_ff_final", "Fast-forward to the end (sandbox demo control: moves the global clock)."
)
FAST_FORWARDED: Key[tuple[str, str]] = Key(
    "mon_ff_done",
    "Task id and what its last fast-forward did, toasted once by the run after the click.",
)
FAST_FORWARD_ERROR: Key[tuple[str, TaskingError]] = Key(
    "mon_ff_error", "Task id and why its last fast-forward failed, shown until the next click."
)
MONITOR_PANEL = "mon_"
"""Scope of the Retry keys of the Monitor's live panel, apart from the page's own."""

# --- All tasks --------------------------------------------------------------------------------

TASK_LIST: Key[TaskList] = Key(
    "tl_list", "The tasks loaded for the current filters, page by page (Load more)."
)
LIST_CONTRACT: Key[str] = Key("tl_contract", "Contract filter ('' for all contracts).")
LIST_STATUS: Key[list[str]] = Key("tl_status", "Status filter (empty: any status).")
LIST_SEARCH: Key[str] = Key("tl_search", "Search text: task ID or reference.")
LIST_SORT: Key[str] = Key("tl_sort", "Sort order, one of ``ui.task_table.SORTS``.")
LIST_FROM: Key[date | None] = Key("tl_from", "Created from (date filter, UTC).")
LIST_UNTIL: Key[date | None] = Key("tl_until", "Created until (date filter, UTC, inclusive).")
LIST_TABLE: Key[Any] = Key("tl_table", "The task table's selection state (rows open the Monitor).")
LIST_CLONE: Key[str | None] = Key("tl_clone", "The task chosen to clone.")
TASKS_MAP: Key[Any] = Key("tasks_map", "The All tasks map (nothing is read back from it).")
LIST_CAMPAIGN: Key[str] = Key("tl_campaign", "Campaign filter: a campaign's id ('' for any).")
LIST_FILTERS: Key[Any] = Key(
    "tl_filters",
    "The folded filters' expander (contract, dates, sort): its identity while its label follows "
    "the values; it holds no state.",
)
CLONED_FROM: Key[tuple[str, str]] = Key(
    "nt_cloned_from",
    "Id and reference of the task the New task form was cloned from (All tasks or Monitor), "
    "named in a caption on New task.",
)

# --- Notifications (sidebar and page) -----------------------------------------------------------

NOTIFICATIONS_SEEN: Key[set[str]] = Key(
    "nf_seen",
    "Ids of the notifications this session has seen: present when it started, or toasted since "
    "(a notification is toasted once per session).",
)
UNREAD_ONLY: Key[bool] = Key("nf_unread_only", "Notifications page: show unread ones only.")
MARK_ALL_READ: Button = Key("nf_mark_all_read", "Mark all notifications as read.")
NOTIFICATIONS_CHANGED: Key[bool] = Key(
    "nf_changed", "Set by Mark all as read: the whole page reruns so the sidebar's count follows."
)
NOTIFICATIONS_ERROR: Key[Exception] = Key(
    "nf_error", "A failed Mark all as read (a callback), shown once by the notifications list."
)

# --- New campaign (ui/campaign_*.py); its options are New task's form (the keys above) ------

CAMPAIGN_FILE: Key[tuple[str, bytes]] = Key(
    "nc_file",
    "Name and bytes of the uploaded target file, kept when the uploader is not drawn (another "
    "page) so a page switch loses nothing.",
)
CAMPAIGN_UPLOAD: Key[Any] = Key("nc_upload", "The target file uploader (CSV or GeoJSON).")
CAMPAIGN_DRAWN: Key[list[dict[str, Any]]] = Key(
    "nc_drawn", "GeoJSON features drawn on the campaign map (points, lines, polygons), in order."
)
CAMPAIGN_MAP: Key[dict[str, Any] | None] = Key(
    "nc_map", "st_folium's value of the campaign map (``all_drawings``), read in its on_change."
)
CAMPAIGN_MAP_GENERATION: Key[int] = Key(
    "nc_map_generation",
    "Bumped when drawn shapes are cleared: a new map (re-mounted) without the old drawings.",
)
CAMPAIGN_CLEAR_DRAWN: Button = Key("nc_clear_drawn", "Clear the shapes drawn on the map.")
CAMPAIGN_CLEAR_FILE: Button = Key("nc_clear_file", "Forget the uploaded target file.")
CAMPAIGN_NAME: Key[str] = Key("nc_name", "The campaign's name (the start of each reference).")
CAMPAIGN_DRAFT_ID: Key[str] = Key(
    "nc_draft_id",
    "Id of the campaign being prepared: in every request's reference, so feasibility and "
    "creation send the same bodies; a new one after each created campaign.",
)
CAMPAIGN_CHECK: Button = Key("nc_check", "Check feasibility of every target (one batch).")
CAMPAIGN_BATCH: Key[Any] = Key(
    "nc_batch",
    "The last batch check (``ui.campaign_batch.BatchCheck``): the requests' fingerprint, one "
    "verdict per target, prices and the budget.",
)
CAMPAIGN_CONFIRMING: Key[bool] = Key(
    "nc_confirming", "Set while the campaign's confirmation dialog is open."
)
CAMPAIGN_ORDER: Key[Any] = Key(
    "nc_order",
    "The requests the confirmation shows and sends (``ui.campaign_create.Frozen``), frozen when "
    "it first draws.",
)
CAMPAIGN_OPEN_CONFIRM: Button = Key("nc_open_confirm", "Create campaign… (opens the confirmation).")
CAMPAIGN_CREATE: Button = Key("nc_create", "Create the campaign, in the confirmation dialog.")
CAMPAIGN_LAUNCH: Key[bool] = Key(
    "nc_launch",
    "Set by the dialog's Create: the page runs the creation (with its progress bar) in the next "
    "run, outside the closed dialog.",
)
CAMPAIGN_BACK: Button = Key("nc_back", "Back to the campaign, in the confirmation dialog.")
CAMPAIGN_RUN: Key[Any] = Key(
    "nc_run", "What the last create or resume did (``tasking.campaigns.CampaignRun``)."
)
CAMPAIGN_OPEN_VIEW: Button = Key("nc_open_view", "Open the created campaign's view.")
CAMPAIGN_SERIES: Key[Any] = Key(
    "nc_series",
    "The confirmation's recurrence (``tasking.series.Recurrence``) when the campaign is to be "
    "ordered as a recurring series; ``launch`` then creates the series.",
)
CAMPAIGN_REPEAT: Key[str] = Key(
    "nc_repeat", "The confirmation's choice: order the targets once, or as a recurring series."
)

# --- Campaigns: one campaign's view (ui/campaign_view.py) --------------------------------------

CAMPAIGN_VIEW_MAP: Key[Any] = Key(
    "cv_map", "The campaign's coverage map (nothing is read back from it)."
)
CAMPAIGN_VIEW_TABLE: Key[Any] = Key(
    "cv_table", "The campaign's per-target table's selection state (a row opens its task)."
)
CAMPAIGN_VIEW_RESUME: Button = Key(
    "cv_resume", "Resume: send the campaign's targets that were never sent or were refused."
)
CAMPAIGN_VIEW_DETAILS: Key[dict[str, Fetched]] = Key(
    "cv_details",
    "Task id → the scene and quicklook the campaign view fetched itself (no worker), with the "
    "status they are for.",
)
CAMPAIGN_VIEW_RESUMED: Key[tuple[str, str, bool]] = Key(
    "cv_resumed",
    "Campaign id, what its last Resume did and whether every target now has a task: said once "
    "after the page reruns.",
)

# --- keys made per item -----------------------------------------------------------------------


def retry(action: str, scope: str = "") -> Button:
    """The Retry button shown when ``action`` failed: a page that reacts to Retry asks for the same
    key ``ui.errors.attempt`` / ``show_error`` used. ``scope`` keeps a fragment's apart."""
    return Key(f"{scope}retry:{action}", f"Retry after failing to {action}.")


def use_contract(contract_id: str) -> Button:
    """The "Use this contract" button of one contract card."""
    return Key(f"use_contract:{contract_id}", f"Use contract {contract_id}.")


def resume_campaign(campaign_id: str) -> Button:
    """The Resume button of one campaign whose creation stopped half-way."""
    return Key(f"nc_resume:{campaign_id}", f"Resume creating campaign {campaign_id}.")


def download(product_id: str, asset_key: str) -> Button:
    """The download button of one asset of one product on the Monitor."""
    return Key(f"dl:{product_id}:{asset_key}", f"Download {asset_key} of {product_id}.")


# --- Recurring series (ui/series_view.py) ------------------------------------------------------

SERIES_CANCELLING: Key[str] = Key(
    "sr_cancelling", "Id of the series whose cancel dialog is open (the page calls the dialog)."
)
SERIES_CANCEL_CONFIRM: Button = Key("sr_cancel_confirm", "Cancel the series, in the dialog.")
SERIES_CANCEL_KEEP: Button = Key("sr_cancel_keep", "Keep the series, in the dialog.")
SERIES_CANCEL_OPEN: Button = Key("sr_cancel_open", "Cancel series… (opens the confirmation).")
SERIES_PAUSE: Button = Key("sr_pause", "Pause the series: nothing more is ordered until resumed.")
SERIES_RESUME: Button = Key("sr_resume", "Resume a paused series.")
SERIES_CANCELED: Key[list[Any]] = Key(
    "sr_canceled",
    "What the last cancel of a series did (``tasking.series.CancelOutcome`` per task), shown "
    "once after the dialog closed.",
)


def recurrence_field(prefix: str, name: str) -> Key[Any]:
    """One widget of the recurrence form ``ui.series_view.recurrence_input(prefix)``."""
    return Key(f"{prefix}recurrence:{name}", f"Recurrence form {prefix!r}: {name}.")


def registered() -> tuple[Key[Any], ...]:
    """Every fixed key above (the per-item ones are made by the functions)."""
    return tuple(value for value in globals().values() if isinstance(value, Key))
