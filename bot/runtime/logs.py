"""One log format for the Rasa server, the action server and the desk: JSON lines, or text for a terminal.

``logging.yml`` is that one configuration: Rasa and rasa_sdk load it with
``--logging-config-file`` (``make run`` passes it), the desk with ``configure``. Its
formatter comes from ``formatter_from_env``: ``LOG_FORMAT=json`` (the default) writes one
JSON object a line, for a log collector; ``LOG_FORMAT=text`` a line a person reads. Both
carry the process (``service``) and the request or update id (``log_context``), and both
mask secrets as the very last step, whoever logged them and in whichever field
(``log_secrets.SecretMasker``, the same masking the record factory applies).
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from bot.runtime import log_context
from bot.runtime.log_secrets import SecretMasker
from bot.settings import PROJECT_ROOT

LOG_CONFIG = PROJECT_ROOT / "logging.yml"
JSON, TEXT = "json", "text"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(service)s %(name)s [%(request_id)s] %(message)s"
_STANDARD_FIELDS = frozenset(
    {*logging.LogRecord("", 0, "", 0, "", (), None).__dict__, "message", "asctime", "service", "request_id"}
)
_service = "support"


def log_format(env: Mapping[str, str] | None = None) -> str:
    """``LOG_FORMAT``: ``json`` (default) or ``text``."""
    value = (os.environ if env is None else env).get("LOG_FORMAT", "").strip().lower() or JSON
    if value not in (JSON, TEXT):
        raise ValueError(f"LOG_FORMAT must be 'json' or 'text', not {value!r}")
    return value


def set_service(name: str) -> None:
    """Name this process in every line (``rasa``, ``actions``, ``desk``); called once by its entry point."""
    global _service
    _service = name


def formatter_from_env() -> logging.Formatter:
    """The formatter ``logging.yml`` builds (its ``()`` factory)."""
    masker = SecretMasker.from_env()
    return JsonFormatter(masker) if log_format() == JSON else TextFormatter(masker)


def configure(path: Path = LOG_CONFIG) -> None:
    """Apply the logging configuration (the desk's entry point; Rasa's CLI does this from its flag)."""
    log_format()  # a wrong LOG_FORMAT stops the process here, with the variable's name
    logging.config.dictConfig(yaml.safe_load(path.read_text()))
    logging.captureWarnings(True)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, service, logger, message, request id, exception, extra fields."""

    def __init__(self, masker: SecretMasker) -> None:
        super().__init__()
        self._masker = masker

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "service": _service,
            "pid": record.process,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = log_context.current()
        if request_id is not None:
            entry["request_id"] = request_id
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        for key, value in record.__dict__.items():
            if key not in _STANDARD_FIELDS and not key.startswith("_"):
                entry[key] = value if isinstance(value, (bool, int, float, type(None))) else str(value)
        masked = {key: self._masker.mask(value) if isinstance(value, str) else value for key, value in entry.items()}
        return json.dumps(masked, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``time level service logger [request id] message``, masked."""

    def __init__(self, masker: SecretMasker) -> None:
        super().__init__(TEXT_FORMAT)
        self._masker = masker

    def format(self, record: logging.LogRecord) -> str:
        record.service = _service
        record.request_id = log_context.current() or "-"
        return self._masker.mask(super().format(record))
