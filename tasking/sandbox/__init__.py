"""The ICEYE-compatible sandbox: a tasking API served from a simulated SAR constellation.

Kept import-light on purpose (no FastAPI here): import ``tasking.sandbox.app`` for ``create_app``,
``tasking.sandbox.server`` for ``start_in_background`` and ``tasking.sandbox.control`` for the clock
controls. Credentials of the seeded companies are in ``tasking.sandbox.seed``; the model of the world
and its knobs are described in ``tasking/sandbox/README.md``.
"""
