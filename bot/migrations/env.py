"""Alembic's environment: the connection ``runner`` or ``bot.migrate`` hands over, batch mode for SQLite.

Nothing here imports the tables: ``bot.migrate`` passes ``target_metadata`` only to
autogenerate, so a store that upgrades does not load every connector.
"""

from alembic import context

from bot.migrations.runner import include_name

config = context.config
options = {
    "target_metadata": config.attributes.get("target_metadata"),
    "include_name": include_name,
    "render_as_batch": True,  # SQLite alters a table by copying it; batch mode does that
    "compare_type": True,
}

if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True, **options)
else:
    context.configure(connection=config.attributes["connection"], **options)
with context.begin_transaction():
    context.run_migrations()
