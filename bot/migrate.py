"""``python -m bot.migrate``: bring the database (``DATABASE_URL``) to the newest schema revision.

``make migrate`` and ``make run`` do this before anything else starts. ``current`` prints
the database's revision, ``--sql`` prints an empty database's upgrade as SQL instead of
running it, and ``revision -m "what changes" [--autogenerate]`` starts the next revision
in ``bot/migrations/versions``.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from alembic import command
from sqlalchemy.engine import make_url

from bot.cases.database import DATABASE_UNAVAILABLE, make_engine
from bot.migrations import runner
from bot.runtime import logs
from bot.runtime.configuration import load_env_file, require_valid_environment
from bot.settings import Settings

UPGRADE_STATEMENT_SECONDS = 600.0  # one statement of an upgrade (a copy of a big table) may take long


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", nargs="?", choices=("upgrade", "current", "revision"), default="upgrade")
    parser.add_argument("--sql", action="store_true", help="print the upgrade of an empty database as SQL")
    parser.add_argument("-m", "--message", help="what the new revision changes")
    parser.add_argument("--autogenerate", action="store_true", help="fill the new revision from the models")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    if args.action == "revision":
        if not args.message:
            parser.error("revision needs -m MESSAGE")
        _revision(settings, args.message, args.autogenerate)
    elif args.sql:
        config = runner.alembic_config()
        config.set_main_option("sqlalchemy.url", settings.database_url.replace("%", "%%"))
        command.upgrade(config, "head", sql=True)
    else:
        timeouts = replace(settings.database_timeouts, statement=UPGRADE_STATEMENT_SECONDS)
        engine = make_engine(settings.database_url, timeouts=timeouts)
        try:
            if args.action == "upgrade":
                runner.upgrade(engine)
            with engine.connect() as conn:
                print(f"database at revision {runner.current_revision(conn) or 'none'}")
        except DATABASE_UNAVAILABLE as error:
            raise SystemExit(unreachable(settings.database_url, error)) from None
        finally:
            engine.dispose()


def unreachable(database_url: str, error: Exception) -> str:
    """One line for an operator instead of a driver traceback; the URL without its password."""
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    shown = repr(make_url(database_url))  # SQLAlchemy masks the password here
    return f"bot.migrate: the database {shown} did not answer: {reason}. Is it running, and is DATABASE_URL right?"


def _revision(settings: Settings, message: str, autogenerate: bool) -> None:
    """A new revision file numbered after the head; ``autogenerate`` compares the database with the models."""
    rev_id = f"{int(runner.head_revision() or 0) + 1:04d}"
    if not autogenerate:
        command.revision(runner.alembic_config(), message=message, rev_id=rev_id)
        return
    from bot.migrations.tables import METADATA  # every connector's tables: only when comparing

    engine = make_engine(settings.database_url, timeouts=settings.database_timeouts)
    try:
        with engine.connect() as conn:
            config = runner.alembic_config(connection=conn, target_metadata=METADATA)
            command.revision(config, message=message, autogenerate=True, rev_id=rev_id)
    finally:
        engine.dispose()


if __name__ == "__main__":
    load_env_file()
    require_valid_environment()
    logs.set_service("migrate")
    logs.configure()  # JSON lines like the three processes (compose and systemd run this step too)
    main()
