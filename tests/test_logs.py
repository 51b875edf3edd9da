"""The one logging configuration (logging.yml): JSON or text lines with the process, the request id, no secrets."""

from __future__ import annotations

import json
import logging
import logging.config

import pytest
import yaml

from bot.runtime import log_context, logs

TOKEN = "7012345678:AAF1kq9ZxY3bV7nT0pLmW2cR5sD8eH4jKuQ"
WEBHOOK_SECRET = "whsec_5b1d0c7e9f2a4c6b8d0e"


@pytest.fixture
def configured(monkeypatch, capsys):
    """Apply logging.yml as a process does; put the logging set-up back afterwards."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    monkeypatch.setenv("ALERT_WEBHOOK_SECRET", WEBHOOK_SECRET)
    # dictConfig closes every handler the process ever made, pytest's capture handlers among
    # them (their buffers, once closed, fail every later test); a process configures once, at start.
    monkeypatch.setattr(logging.config, "_clearExistingHandlers", lambda: None)
    names = [None, *yaml.safe_load(logs.LOG_CONFIG.read_text())["loggers"]]
    saved = {name: _state(logging.getLogger(name)) for name in names}
    logs.set_service("desk")

    def configure(log_format: str) -> None:
        monkeypatch.setenv("LOG_FORMAT", log_format)
        logs.configure()

    yield configure
    logs.set_service("support")
    logging.captureWarnings(False)
    for name, (handlers, level, propagate) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:], logger.level, logger.propagate = handlers, level, propagate


def _state(logger: logging.Logger) -> tuple[list[logging.Handler], int, bool]:
    return list(logger.handlers), logger.level, logger.propagate


def _lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_a_json_line_parses_and_carries_the_process_the_id_and_no_secret(configured, capsys):
    configured("json")
    log = logging.getLogger("connectors.telegram.runtime")
    with log_context.bound("tg-4242"):
        log.info("polling https://api.telegram.org/bot%s/getUpdates", TOKEN, extra={"signature": WEBHOOK_SECRET})
        try:
            raise RuntimeError(f"send via https://api.telegram.org/bot{TOKEN}/sendMessage failed")
        except RuntimeError:
            log.exception("send failed")
    log.warning("outside any request")
    first, failed, outside = (json.loads(line) for line in _lines(capsys))
    assert first["request_id"] == "tg-4242" and first["service"] == "desk" and first["level"] == "INFO"
    assert first["logger"] == "connectors.telegram.runtime" and first["message"].startswith("polling https://")
    assert first["signature"] == "***", "extra fields are masked too"
    assert failed["request_id"] == "tg-4242" and "RuntimeError" in failed["exception"]
    assert "request_id" not in outside
    text = json.dumps([first, failed, outside])
    assert TOKEN not in text and TOKEN.split(":")[1] not in text and WEBHOOK_SECRET not in text


def test_text_lines_for_a_terminal_carry_the_same_fields(configured, capsys):
    configured("text")
    with log_context.bound("rest-1a2b"):
        logging.getLogger("bot.desk").warning("token %s", TOKEN)
    (line,) = _lines(capsys)
    assert " WARNING desk bot.desk [rest-1a2b] token ***" in line and TOKEN not in line


def test_sanic_loggers_write_through_the_same_handler(configured, capsys):
    configured("json")
    sanic_error = logging.getLogger("sanic.error")
    sanic_error.propagate = False  # as rasa_sdk leaves it
    sanic_error.error("Exception occurred while handling uri")
    (line,) = _lines(capsys)
    assert json.loads(line)["logger"] == "sanic.error"


def test_an_unknown_format_is_refused_with_the_variables_name(configured):
    with pytest.raises(ValueError, match="LOG_FORMAT must be 'json' or 'text'"):
        configured("xml")
