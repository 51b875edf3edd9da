"""Agent password hashes: ``pbkdf2_sha256$<iterations>$<salt>$<hash>`` (standard library only)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from typing import Protocol

ALGORITHM = "pbkdf2_sha256"
DEFAULT_ITERATIONS = 600_000


def hash_password(password: str, *, iterations: int = DEFAULT_ITERATIONS) -> str:
    salt = secrets.token_urlsafe(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"{ALGORITHM}${iterations}${salt}${base64.b64encode(digest).decode()}"


def check_password(password: str, encoded: str) -> bool:
    """Constant-time check; a malformed hash never matches."""
    parsed = _parse(encoded)
    if parsed is None:
        return False
    rounds, salt, expected = parsed
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), rounds)
    return hmac.compare_digest(base64.b64encode(digest).decode(), expected)


def is_password_hash(encoded: str) -> bool:
    """True when ``encoded`` has the shape ``hash_password`` gives (a ``$`` lost on the way breaks it)."""
    return _parse(encoded) is not None


def dummy_hash(real_hashes: Iterable[str]) -> str:
    """A hash of a random password that costs as much to check as the costliest real one."""
    rounds = [parsed[0] for parsed in map(_parse, real_hashes) if parsed is not None]
    return hash_password(secrets.token_urlsafe(16), iterations=max(rounds, default=DEFAULT_ITERATIONS))


class PasswordHashes(Protocol):
    """Where the agents' hashes live (the agents table)."""

    def password_hash(self, name: str) -> str | None: ...

    def password_hashes(self) -> list[str]: ...


class Credentials:
    """The agents' hashes, and a dummy checked for any other name, so timing does not tell which names exist."""

    def __init__(self, hashes: PasswordHashes) -> None:
        self._hashes = hashes
        self._dummy = dummy_hash(hashes.password_hashes())  # once, at start: it costs as much as a sign-in

    def check(self, name: str, password: str) -> bool:
        """Only an active agent's name with its password; read from the table each time, so changes count at once."""
        stored = self._hashes.password_hash(name)
        ok = check_password(password, stored or self._dummy)
        return ok and stored is not None


def _parse(encoded: str) -> tuple[int, str, str] | None:
    """Iterations, salt and expected digest; None when ``encoded`` is not one of our hashes."""
    try:
        algorithm, iterations, salt, expected = encoded.split("$", 3)
        rounds = int(iterations)
    except ValueError:
        return None
    if algorithm != ALGORITHM or rounds < 1:
        return None
    return rounds, salt, expected
