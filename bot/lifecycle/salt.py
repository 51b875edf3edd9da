"""The salt that names an erased customer in the audit log without naming them.

The audit line keeps ``HMAC-SHA256(salt, customer key)``: whoever holds the salt can later
check "was this customer erased, and when?", while the audit log alone (a backup, a
database dump) does not reveal who it was. ``ERASURE_SALT`` sets the salt; without it, a
random one is made on the first erasure and kept in ``var/erasure-salt`` (mode 0600),
outside the database so a dump of the database never carries it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from bot.settings import PROJECT_ROOT

SALT_FILE = PROJECT_ROOT / "var" / "erasure-salt"


def erasure_salt(configured: str | None, salt_file: Path = SALT_FILE) -> str:
    """``configured`` when set; otherwise the salt of ``salt_file``, made (once, race-free) if missing."""
    if configured:
        return configured
    salt_file.parent.mkdir(parents=True, exist_ok=True)
    if not salt_file.exists():
        draft = salt_file.with_name(f"{salt_file.name}.{secrets.token_hex(4)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(secrets.token_hex(32) + "\n")
        try:
            with contextlib.suppress(FileExistsError):  # another process's salt, made first, wins
                os.link(draft, salt_file)  # the file appears whole or not at all
        finally:
            draft.unlink()
    return salt_file.read_text(encoding="ascii").strip()


def customer_hash(salt: str, customer: str) -> str:
    """The customer as the audit log names them."""
    return hmac.new(salt.encode(), customer.encode(), hashlib.sha256).hexdigest()
