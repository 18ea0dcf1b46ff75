"""Alembic environment for the state database.

``StateStore`` runs ``upgrade head`` with its own connection (passed in
``config.attributes["connection"]``) inside a transaction it holds, so the upgrade commits
or rolls back as one unit. Without a connection (the ``alembic`` command line with a
``sqlalchemy.url`` option), it opens one. Must never configure logging or echo SQL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from taxmatch.store.models import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    given = config.attributes.get("connection")
    if given is not None:
        _run(given)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection given and no sqlalchemy.url configured")
    engine = create_engine(url, hide_parameters=True)
    try:
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
    finally:
        engine.dispose()


_main()
