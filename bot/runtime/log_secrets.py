"""Keep bot tokens and API secrets out of every log line, whoever logs them.

httpx logs each request URL, and a Bot API URL carries the token (``/bot<token>/getUpdates``);
exceptions from any client may quote one too. Masking at the handlers would miss handlers
Rasa or Sanic add later, so the log record factory masks each record as it is made: its
message, its traceback and its stack. Known secrets come from the environment; anything
shaped like a Telegram token or a password inside a URL is masked even when unknown.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"
SECRET_VARIABLES = (
    "TELEGRAM_BOT_TOKEN",
    "TELEGRAM_AGENT_BOT_TOKEN",
    "TELEGRAM_WEBHOOK_SECRET",
    "X_BEARER_TOKEN",
    "X_CONSUMER_KEY",
    "X_CONSUMER_SECRET",
    "X_ACCESS_TOKEN",
    "X_ACCESS_TOKEN_SECRET",
    "ALERT_WEBHOOK_SECRET",
    "ERASURE_SALT",
)
MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words; no real token is that short
_TELEGRAM_TOKEN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{30,}")
_URL_PASSWORD = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]+)@")
_NOISY_LOGGERS = ("httpx", "httpcore")  # one INFO line per request: noise, and it carried the token


class SecretMasker:
    """Replace known secret values and token-shaped strings with ``***``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        known = sorted({s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
        self._known = re.compile("|".join(map(re.escape, known))) if known else None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SecretMasker:
        """The secrets this deployment holds (every variable of ``SECRET_VARIABLES`` that is set)."""
        env = os.environ if env is None else env
        values = [env.get(name, "").strip() for name in SECRET_VARIABLES]
        # A Telegram token's secret half is enough to take the bot over: mask it alone too.
        halves = [value.split(":", 1)[1] for value in values if ":" in value]
        return cls([*values, *halves])

    def mask(self, text: str) -> str:
        if self._known is not None:
            text = self._known.sub(MASK, text)
        text = _TELEGRAM_TOKEN.sub(MASK, text)
        return _URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)


def install(env: Mapping[str, str] | None = None) -> SecretMasker:
    """Mask every log record this process makes from now on (idempotent: the newest secrets win)."""
    masker = SecretMasker.from_env(env)
    current = logging.getLogRecordFactory()
    base = getattr(current, "unmasked_factory", current)

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return _masked(base(*args, **kwargs), masker)

    factory.unmasked_factory = base  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)
    for name in _NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return masker


def _masked(record: logging.LogRecord, masker: SecretMasker) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: the handler reports it; mask what can be masked
        record.msg = masker.mask(str(record.msg))
        return record
    record.msg, record.args = masker.mask(message), ()
    if record.exc_info and not record.exc_text:
        record.exc_text = masker.mask(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = masker.mask(record.stack_info)
    return record
