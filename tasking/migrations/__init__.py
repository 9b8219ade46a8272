"""Alembic revisions of the local store (``tasking.store``): the only code that creates or changes
its tables. ``tasking.store.migrate`` applies them at start-up; there is no ``alembic.ini``.

To change a table: change its ``Table`` in ``tasking/history.py`` or ``tasking/journal.py`` and add
a revision to ``versions/`` by hand, following ``0001_initial.py`` (``down_revision`` = the latest
revision). ``tests/test_store.py`` checks, on SQLite and PostgreSQL, that the revisions build
exactly the tables the modules declare.
"""
