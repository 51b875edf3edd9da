"""``python -m bot.desk.hash_password``: print a hash for a ``DESK_AGENTS`` entry.

Reads the password without echo from the terminal, or one line from stdin when piped, and
prints the hash to paste after ``name:`` in ``DESK_AGENTS`` (unquoted in ``.env``).
"""

from __future__ import annotations

import argparse
import getpass
import sys

from bot.desk.passwords import hash_password


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bot.desk.hash_password",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="example: printf '%s\\n' 'a long passphrase' | python -m bot.desk.hash_password",
    )
    parser.parse_args(argv)  # no options: --help explains, anything else is refused
    password = getpass.getpass("Password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    if not password:
        raise SystemExit("empty password")
    print(hash_password(password))


if __name__ == "__main__":
    main()
