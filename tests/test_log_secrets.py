"""Log masking: tokens and secrets never reach a log line, whatever logs them and however."""

from __future__ import annotations

import logging

import pytest

from bot.runtime import log_secrets

CUSTOMER_TOKEN = "7012345678:AAF1kq9ZxY3bV7nT0pLmW2cR5sD8eH4jKuQ"
AGENT_TOKEN = "7098765432:AAH5yT2wQ9eR1tY6uI3oP8aS4dF7gJ0kLzX"
X_SECRET = "Zq8vB2nM4kL6jH9gF1dS3aP5oI7uY0tR"


@pytest.fixture
def captured(caplog):
    saved = logging.getLogRecordFactory()
    log_secrets.install({"TELEGRAM_BOT_TOKEN": CUSTOMER_TOKEN, "X_CONSUMER_SECRET": X_SECRET, "X_ACCESS_TOKEN": "ab"})
    caplog.set_level(logging.DEBUG)
    yield caplog
    logging.setLogRecordFactory(saved)


def _logged(caplog) -> str:
    return "\n".join(caplog.text.splitlines())


def test_a_request_url_with_the_token_is_masked(captured):
    logging.getLogger("httpx").warning('HTTP Request: POST %s "HTTP/1.1 200 OK"',
                                       f"https://api.telegram.org/bot{CUSTOMER_TOKEN}/getUpdates")  # fmt: skip
    assert CUSTOMER_TOKEN not in _logged(captured) and CUSTOMER_TOKEN.split(":")[1] not in _logged(captured)
    assert "/bot***/getUpdates" in _logged(captured)


def test_token_halves_unknown_tokens_and_url_passwords_are_masked(captured):
    log = logging.getLogger("anything")
    log.info("secret half %s", CUSTOMER_TOKEN.split(":")[1])
    log.info("a token nobody configured: %s", AGENT_TOKEN)
    log.info("database postgresql://support:p4ss-w0rd@db.internal:5432/support")
    log.error("X said no for consumer secret %s", X_SECRET)
    text = _logged(captured)
    for secret in (CUSTOMER_TOKEN.split(":")[1], AGENT_TOKEN, "p4ss-w0rd", X_SECRET):
        assert secret not in text
    assert "postgresql://support:***@db.internal" in text


def test_tracebacks_are_masked(captured):
    try:
        raise RuntimeError(f"connection to https://api.telegram.org/bot{CUSTOMER_TOKEN}/sendMessage failed")
    except RuntimeError:
        logging.getLogger("ptb").exception("send failed")
    assert "RuntimeError" in captured.text and CUSTOMER_TOKEN not in captured.text


def test_short_values_and_ordinary_text_are_left_alone(captured):
    logging.getLogger("anything").info("about 2 BTC, order ab12, case CX-7K3M9Q at 12:30")
    assert "about 2 BTC, order ab12, case CX-7K3M9Q at 12:30" in captured.text


def test_installing_twice_does_not_stack_factories(captured):
    log_secrets.install({"TELEGRAM_BOT_TOKEN": AGENT_TOKEN})
    factory = logging.getLogRecordFactory()
    assert factory.unmasked_factory is logging.LogRecord or not hasattr(factory.unmasked_factory, "unmasked_factory")
    logging.getLogger("x").info("token %s", AGENT_TOKEN)
    assert AGENT_TOKEN not in captured.text
