"""Alembic's environment for the local store, run by ``tasking.store.migrate``: it passes the
connection (inside its transaction and lock) in ``config.attributes``; nothing here reads a URL or
an ini file."""

from alembic import context
from sqlalchemy.engine import Connection

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("the store's migrations run through tasking.store.migrate(engine)")
context.configure(connection=connection)
with context.begin_transaction():
    context.run_migrations()
