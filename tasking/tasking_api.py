"""``TaskingAPI``: ICEYE's Tasking API v2 (``reference/iceye-api.md`` §4) over a shared ``Session``.

Price, feasibility, tasks, scenes, products and cancelling are idempotent and retried as
``tasking.http`` describes, except that a feasibility check whose answer timed out is not retried
(one wait of up to 120 s is the most a user should sit through).

Creating a task is not idempotent, so it is split in three:

* ``send_create`` sends the POST once, retrying only what the server certainly did not process
  (a connection that failed before sending, a 429); any other failure is raised as it is, with
  ``outcome_unknown`` telling whether a task may nevertheless exist;
* ``find_created`` looks for the task a request made (same contract, reference, mode, point and
  window, created since a given server time);
* ``create_task``, the convenience for a shell, does both: after a failure with an unknown outcome
  it looks for the task and returns it, or raises saying that the task may or may not exist. It
  never sends the create a second time: a delayed first request could still arrive and make a
  second task. The app's order journal reconciles instead (``tasking.service``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

import httpx

from tasking import rules
from tasking.errors import BadRequest, InputError, TaskingError
from tasking.http import (
    Session,
    check_text,
    page_params,
    paginate,
    parse,
    retry_unless_timed_out,
    retry_unprocessed,
    segment,
)
from tasking.models import (
    Contract,
    FeasibilityItem,
    FeasibilityResponse,
    Page,
    Price,
    Product,
    Scene,
    Task,
    TaskRequest,
    TaskStatus,
    TaskUpdateRequest,
)
from tasking.times import format_rfc3339

__all__ = [
    "CREATE_LOOKUP_SKEW",
    "FEASIBILITY_MAX_ITEMS",
    "FEASIBILITY_TIMEOUT_S",
    "POINT_TOLERANCE_DEG",
    "TASKING",
    "TaskingAPI",
]

log = logging.getLogger(__name__)

TASKING = "/tasking/v2"
# ICEYE's demo gives feasibility a 120 s timeout: it is synchronous and may be slow (§4.10).
FEASIBILITY_TIMEOUT_S = 120.0
# ICEYE publishes no limit on the feasibility array (§4.10); this is the sandbox's own
# (``tasking.sandbox.feasibility.MAX_ITEMS``), and a batch above it is sent in several requests.
FEASIBILITY_MAX_ITEMS = 1000
# How long before "sending" (by the server's clock) a lookup starts: the server stamps createdAt
# when it gets the request, and the Date header we correct our clock by has 1 s resolution.
CREATE_LOOKUP_SKEW = timedelta(minutes=5)
# Tolerance when matching a listed task's point to the one we sent (JSON float round trip).
POINT_TOLERANCE_DEG = 1e-7


class TaskingAPI:
    """Tasking API v2 operations; thread-safe (the session is)."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get_price(self, request: TaskRequest, contract: Contract | None = None) -> Price:
        """getPrice: ``GET /tasking/v2/price``. Every query field is required by the API: the
        request must carry exclusivity, priority, sla and eula, unless ``contract`` is given to
        resolve the ones it leaves unset from the contract's defaults."""
        # The query carries only some fields; the whole request is checked so that text that
        # cannot be sent is refused here as it would be by feasibility and create.
        check_text(request.to_wire())
        return self._session.get(f"{TASKING}/price", Price, rules.price_query(request, contract))

    def check_feasibility(self, requests: Sequence[TaskRequest]) -> FeasibilityResponse:
        """checkFeasibility: ``POST /tasking/v2/feasibility`` with a JSON array of task requests;
        not retried after a read timeout (429, 5xx and failed connections are)."""
        if not requests:
            raise InputError(
                "A feasibility check needs at least one request", field="requests", rule="required"
            )
        priorities = {r.priority for r in requests if r.priority is not None}
        if len(priorities) > 1:
            raise InputError(rules.check_batch(requests, {}))
        response = self._session.request(
            "POST",
            f"{TASKING}/feasibility",
            json=[r.to_wire() for r in requests],
            timeout=max(self._session.timeout, FEASIBILITY_TIMEOUT_S),
            retry=retry_unless_timed_out,
        )
        return parse(FeasibilityResponse, response)

    def check_feasibility_batch(
        self, requests: Sequence[TaskRequest], *, max_items: int = FEASIBILITY_MAX_ITEMS
    ) -> list[FeasibilityItem]:
        """checkFeasibility for many targets: one verdict per request, in order. One
        ``POST /tasking/v2/feasibility`` per priority (the batch rule, ``rules.check_batch``) and
        per ``max_items`` requests. A verdict the server leaves out comes back as ``UNKNOWN``."""
        groups: dict[str | None, list[int]] = {}
        for index, request in enumerate(requests):
            key = request.priority.value if request.priority is not None else None
            groups.setdefault(key, []).append(index)
        verdicts: list[FeasibilityItem | None] = [None] * len(requests)
        for indices in groups.values():
            for start in range(0, len(indices), max_items):
                part = indices[start : start + max_items]
                response = self.check_feasibility([requests[i] for i in part])
                for index, item in zip(
                    part, _in_order(response.feasibility, len(part)), strict=True
                ):
                    verdicts[index] = item
        return [v if v is not None else FeasibilityItem(result="UNKNOWN") for v in verdicts]

    # --- creating a task ---------------------------------------------------------------------

    def send_create(self, request: TaskRequest) -> Task:
        """createTask: one ``POST /tasking/v2/tasks`` (201), retried only when the server
        certainly did not process it (connecting failed; 429 within the Retry-After cap). Any
        other failure is raised as is; its ``outcome_unknown`` says whether a task may exist."""
        response = self._session.request(
            "POST", f"{TASKING}/tasks", json=request.to_wire(), retry=retry_unprocessed
        )
        return parse(Task, response)

    def matching_tasks(self, request: TaskRequest, since: datetime) -> list[Task]:
        """Every task getTasks (``GET /tasking/v2/tasks?contractID=…&createdAfter=since``, every
        page) lists that ``request`` could have made: same reference, mode, point and window, and
        the same value for every other option the request set. ``since`` is by the server's clock.
        Raises the lookup's error."""
        return [
            task
            for task in self.iter_tasks(contract_id=request.contractID, created_after=since)
            if _same_task(task, request)
        ]

    def find_created(self, request: TaskRequest, since: datetime) -> Task | None:
        """The task ``request`` made, when exactly one task matches it (``matching_tasks``); None
        when none or several do (then which one is ours cannot be told)."""
        found = self.matching_tasks(request, since)
        return found[0] if len(found) == 1 else None

    def create_task(self, request: TaskRequest) -> Task:
        """createTask for a shell: ``send_create``; after a failure whose outcome is unknown,
        ``find_created`` since the server's time at sending minus ``CREATE_LOOKUP_SKEW``. Never
        sends twice: a task not found (or a failed lookup) raises the create's error, saying the
        task may or may not have been created."""
        sent_locally = self._session.local_now()
        try:
            return self.send_create(request)
        except TaskingError as error:
            if not error.outcome_unknown:
                raise
            # The offset as known now: the first response of the process may have come during
            # the attempt (the token request), so this is the best estimate of "when we sent".
            since = self._session.server_time(sent_locally) - CREATE_LOOKUP_SKEW
            try:
                task = self.find_created(request, since)
            except TaskingError as lookup_error:
                raise _unconfirmed(
                    error, f"looking for it failed too ({lookup_error.message})"
                ) from lookup_error
            if task is None:
                raise _unconfirmed(error, "it is not in the task list yet") from error
            log.info("create_task: found the task made by the failed attempt")
            return task

    # --- reading and cancelling tasks --------------------------------------------------------

    def list_tasks(
        self,
        contract_id: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Page[Task]:
        """getTasks: ``GET /tasking/v2/tasks`` (one page; filters omitted unless given)."""
        params = page_params(limit, cursor)
        if contract_id:
            params["contractID"] = contract_id
        if created_after is not None:
            params["createdAfter"] = format_rfc3339(created_after)
        if created_before is not None:
            params["createdBefore"] = format_rfc3339(created_before)
        return self._session.get(f"{TASKING}/tasks", Page[Task], params)

    def iter_tasks(
        self,
        contract_id: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        limit: int | None = None,
    ) -> Iterator[Task]:
        """getTasks, every page: each task matching the filters (a missing or empty cursor ends)."""
        return paginate(
            lambda cursor: self.list_tasks(
                contract_id, created_after, created_before, limit=limit, cursor=cursor
            )
        )

    def get_task(self, task_id: str) -> Task:
        """getTask: ``GET /tasking/v2/tasks/{taskID}``."""
        return self._session.get(f"{TASKING}/tasks/{segment(task_id)}", Task)

    def cancel_task(self, task_id: str) -> Task:
        """cancelTask: ``PATCH /tasking/v2/tasks/{taskID}`` with ``{"status": "CANCELED"}``."""
        path = f"{TASKING}/tasks/{segment(task_id)}"
        body = TaskUpdateRequest().to_wire()
        attempts = 0

        def patch() -> httpx.Response:
            nonlocal attempts
            attempts += 1
            return self._session.attempt("PATCH", path, json=body)

        try:
            response = self._session.retrying()(patch)
        except BadRequest:
            # A retried PATCH whose earlier attempt was cancelled but whose answer was lost is
            # refused ("cannot cancel a CANCELED task"): the cancel did happen, so say so.
            if attempts > 1:
                task = self.get_task(task_id)
                if task.status == TaskStatus.CANCELED:
                    return task
            raise
        return parse(Task, response)

    def get_scene(self, task_id: str) -> Scene:
        """getTaskScene: ``GET /tasking/v2/tasks/{taskID}/scene`` (404 until ACTIVE)."""
        return self._session.get(f"{TASKING}/tasks/{segment(task_id)}/scene", Scene)

    def list_products(self, task_id: str, product_type: str | None = None) -> list[Product]:
        """listTaskProducts / getTaskProduct: ``GET /tasking/v2/tasks/{taskID}/products[/{type}]``,
        all pages (404 until FULFILLED)."""
        path = f"{TASKING}/tasks/{segment(task_id)}/products"
        if product_type:
            path += f"/{segment(product_type)}"

        def page(cursor: str | None) -> Page[Product]:
            return self._session.get(path, Page[Product], page_params(None, cursor))

        return list(paginate(page))


# Options a task echoes as they were ordered: when the request set one, the task must carry it.
_ECHOED = ("priority", "sla", "exclusivity", "eula", "lookSide", "passDirection", "imagingDuration")


def _same_task(task: Task, request: TaskRequest) -> bool:
    """Could ``task`` be the one ``request`` made? Contract, reference, mode, point and window, and
    every echoed option the request set (an unset one takes a default the request does not know)."""
    return (
        task.contractID == request.contractID
        and task.reference == request.reference
        and task.imagingMode == request.imagingMode
        and abs(task.pointOfInterest.lat - request.pointOfInterest.lat) <= POINT_TOLERANCE_DEG
        and abs(task.pointOfInterest.lon - request.pointOfInterest.lon) <= POINT_TOLERANCE_DEG
        and task.acquisitionWindow.start == request.acquisitionWindow.start
        and task.acquisitionWindow.end == request.acquisitionWindow.end
        and all(
            getattr(request, name) is None
            or _wire(getattr(task, name)) == _wire(getattr(request, name))
            for name in _ECHOED
        )
        and (request.incidenceAngle is None or task.incidenceAngle == request.incidenceAngle)
    )


def _in_order(items: Sequence[FeasibilityItem], count: int) -> list[FeasibilityItem | None]:
    """The verdicts by request position: by their ids when they are the indexes "0".."n-1" (the
    stand-in's form, §4.10), else in the order given; missing ones are None."""
    by_id: dict[int, FeasibilityItem] = {}
    for item in items:
        if item.id is None or not item.id.isdigit() or int(item.id) >= count:
            by_id = {}
            break
        by_id[int(item.id)] = item
    if len(by_id) == len(items) and by_id:
        return [by_id.get(i) for i in range(count)]
    listed: list[FeasibilityItem | None] = list(items[:count])
    return listed + [None] * (count - len(listed))


def _wire(value: object) -> object:
    """An option as it travels (enum members as their values)."""
    return getattr(value, "value", value)


def _unconfirmed(error: TaskingError, why: str) -> TaskingError:
    """The create's own error (same class and fields), saying its outcome is unknown."""
    return error.with_message(
        f"{error.message}; the task may or may not have been created ({why}): check the task "
        "list before ordering again"
    )
