"""``python -m bot.desk.hash_password``: print a hash for a ``DESK_AGENTS`` entry.

Reads the password without echo from the terminal, or one line from stdin when piped.
"""

from __future__ import annotations

import getpass
import sys

from bot.desk.passwords import hash_password


def main() -> None:
    password = getpass.getpass("Password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    if not password:
        raise SystemExit("empty password")
    print(hash_password(password))


if __name__ == "__main__":
    main()
