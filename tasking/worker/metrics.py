"""The worker's Prometheus metrics, in a registry of its own (``GET /metrics`` on the receiver).

One registry per worker, so several workers in one process (tests, an app instance and a bench)
never share counters.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

__all__ = ["WorkerMetrics"]

# The *_created series (one per label set) double the exposition for nothing the worker needs.
disable_created_metrics()  # type: ignore[no-untyped-call]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
_LAG_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


class WorkerMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.active = Gauge(
            "tasking_worker_active", "1 while this worker holds the store's lease", registry=r
        )
        self.tasks_followed = Gauge(
            "tasking_worker_tasks_followed",
            "Tasks in the shared store by status",
            ["status"],
            registry=r,
        )
        self.iceye_requests = Counter(
            "tasking_worker_iceye_requests",
            "ICEYE requests made by the worker (retries and token requests included)",
            ["operation"],
            registry=r,
        )
        self.iceye_errors = Counter(
            "tasking_worker_iceye_errors",
            "ICEYE operations that failed, by error class",
            ["operation", "error"],
            registry=r,
        )
        self.iceye_latency = Histogram(
            "tasking_worker_iceye_seconds",
            "Duration of ICEYE operations",
            ["operation"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.callbacks = Counter(
            "tasking_worker_callbacks",
            "Webhook callbacks received, by outcome",
            ["outcome"],
            registry=r,
        )
        self.notifications = Counter(
            "tasking_worker_notifications",
            "Notification deliveries, by channel and outcome (sent, retry, failed)",
            ["channel", "outcome"],
            registry=r,
        )
        self.status_lag = Histogram(
            "tasking_worker_status_lag_seconds",
            "Real seconds the store lagged: from a callback's arrival (fetch) or the previous look "
            "that saw the old status (sweep, an upper bound) to the change recorded",
            ["source"],
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.sweeps = Counter("tasking_worker_sweeps", "Sweeps of the task list", registry=r)
        self.budget_tokens = Gauge(
            "tasking_worker_budget_tokens",
            "ICEYE requests the worker may still make now under its budget",
            registry=r,
        )
        self.unconfirmed_orders = Gauge(
            "tasking_worker_open_orders",
            "Orders of the journal whose outcome is not known yet",
            registry=r,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
