"""The background worker (``python -m tasking.worker``): follows every open task in the shared
store, by webhook callbacks when the backend can reach it and by polling within a request budget
otherwise, and notifies people. See ``tasking.worker.core``."""

from tasking.worker.core import CALLBACK_PATH, CALLBACK_USER, Worker, WorkerConfig

__all__ = ["CALLBACK_PATH", "CALLBACK_USER", "Worker", "WorkerConfig"]
