"""`make helpcenter-check`: every problem an editor can make is reported, and the command fails on it."""

import os
import subprocess
import sys

from bot.helpcenter.check import domain_intents, problems
from bot.helpcenter.library import read_library
from bot.settings import PROJECT_ROOT
from tests.auxil.helpcenter import copied_help_center, rewrite


def test_editing_mistakes_are_each_reported(tmp_path):
    settings = copied_help_center(tmp_path)
    (settings.directory / "zh" / "delistings.md").unlink()
    rewrite(settings.directory / "en" / "listings.md", "intents: [listing_info]", "intents: [listing_info, coin_news]")
    rewrite(settings.directory / "ko" / "maintenance.md", "(deposit-not-credited)", "(deposit-missing)")
    rewrite(settings.directory / "en" / "trading-fees.md", "{{ trading_fees.maker }}", "{{ trading_fees.maker_fee }}")
    rewrite(settings.directory / "ko" / "kyc-steps.md", "language: ko", "language: kr")
    rewrite(settings.directory / "zh" / "api-timestamp.md", "intents: [api_issue]", "intents: [app_technical]")

    found = problems(read_library(settings), domain_intents())

    assert "delistings: missing in zh" in found
    assert "en/listings: intent 'coin_news' is not in the domain" in found
    assert "ko/maintenance: links to 'deposit-missing', which is no article" in found
    assert any("en/trading-fees.md" in p and "trading_fees.maker_fee" in p for p in found)
    assert any("ko/kyc-steps.md" in p and "language 'kr'" in p for p in found)
    assert "zh/api-timestamp: intents differ from en/api-timestamp" in found
    assert "trading-fees: missing in en" in found and "kyc-steps: missing in ko" in found
    assert "24 articles exist in every language; at least 25 are needed" in found


def test_an_intent_without_any_article_is_reported(tmp_path):
    settings = copied_help_center(tmp_path)
    for language in ("en", "ko", "zh"):
        (settings.directory / language / "order-problems.md").unlink()
    assert "no article for intent 'trade_issue'" in problems(read_library(settings), domain_intents())


def test_the_command_fails_on_a_problem_and_passes_on_the_shipped_files(tmp_path):
    settings = copied_help_center(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    passed = subprocess.run(
        [sys.executable, "-m", "bot.helpcenter.check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert passed.returncode == 0 and "help center OK: 27 articles" in passed.stdout
    (settings.directory / "ko" / "listings.md").unlink()
    failed = subprocess.run(
        [sys.executable, "-m", "bot.helpcenter.check"],
        env={**env, "HELPCENTER_DIR": str(settings.directory)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert failed.returncode == 1 and "listings: missing in ko" in failed.stderr
