"""``python -m bot.admin``: operators' data commands.

``erase --customer <key>`` removes one customer's data everywhere (``bot.lifecycle.erase``);
``export --output <file>`` writes every case, with its transcript, as JSON lines.
Settings come from the environment and ``.env``, like every process of the product.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from bot.cases.database import make_engine
from bot.environment import SettingsError
from bot.lifecycle.erase import USAGE, NothingStored, UnknownCustomer, check_customer_key, erase_customer
from bot.lifecycle.export import ExportTargetError, export_cases
from bot.lifecycle.salt import SALT_FILE, erasure_salt
from bot.lifecycle.settings import LifecycleSettings
from bot.runtime.configuration import INVALID_SETTINGS_STATUS, load_env_file
from bot.settings import Settings

USAGE_STATUS = 2
NOTHING_STORED_STATUS = 3  # a well-formed key with no data: nothing erased, nothing audited


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.admin", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    erase = commands.add_parser("erase", help="remove one customer's data everywhere, Rasa's tracker included")
    erase.add_argument("--customer", required=True, help=f"the customer's conversation key: {USAGE}")
    export = commands.add_parser("export", help="write every case and its transcript as JSON lines")
    export.add_argument("--output", required=True, type=Path, help="the file to write (replaced)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    load_env_file()
    try:
        settings = Settings.from_env()
        lifecycle = LifecycleSettings.from_env()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return INVALID_SETTINGS_STATUS
    engine = make_engine(settings.database_url, timeouts=settings.database_timeouts)
    try:
        if args.command == "export":
            try:
                count = export_cases(engine, args.output)
            except ExportTargetError as error:
                print(error, file=sys.stderr)
                return USAGE_STATUS
            print(f"exported {count} cases to {args.output}")
            return 0
        try:
            check_customer_key(args.customer)
        except UnknownCustomer as error:
            print(error, file=sys.stderr)
            return USAGE_STATUS
        if not lifecycle.erasure_salt and not SALT_FILE.exists():
            print(f"ERASURE_SALT is unset: a random salt is kept in {SALT_FILE}; back it up", file=sys.stderr)
        try:
            erasure = erase_customer(engine, args.customer, erasure_salt(lifecycle.erasure_salt))
        except NothingStored as error:
            print(error, file=sys.stderr)
            return NOTHING_STORED_STATUS
        report = {"customer_hash": erasure.customer_hash, "rows": erasure.counts, "files": erasure.files}
        if erasure.wal_cleared is not None:
            report["sqlite_wal_cleared"] = erasure.wal_cleared
        print(json.dumps(report))
        return 0
    finally:
        engine.dispose()


if __name__ == "__main__":
    raise SystemExit(main())
