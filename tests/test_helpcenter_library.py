"""The live library rereads its files when one changes, and keeps serving when a change is broken."""

import logging

import pytest

from bot.helpcenter.errors import HelpCenterError
from bot.helpcenter.library import LiveLibrary
from tests.auxil.helpcenter import copied_help_center, rewrite, write_later


def test_an_edited_added_or_removed_article_shows_without_a_restart(tmp_path):
    settings = copied_help_center(tmp_path)
    live = LiveLibrary(settings)
    first = live.current()
    assert live.current() is first  # nothing changed: not reread

    rewrite(settings.directory / "en" / "listings.md", "title: How new coins", "title: How fresh coins")
    new_article = (settings.directory / "en" / "listings.md").read_text(encoding="utf-8").replace(
        "id: listings", "id: staking"
    )
    write_later(settings.directory / "en" / "staking.md", new_article)
    (settings.directory / "ko" / "delistings.md").unlink()
    second = live.current()

    listings = second.get("en", "listings")
    assert listings is not None and listings.title.startswith("How fresh coins")
    assert second.get("en", "staking") is not None
    assert second.get("ko", "delistings") is None and first.get("ko", "delistings") is not None
    assert live.generation == 2


def test_a_changed_fact_reaches_every_article_quoting_it(tmp_path):
    settings = copied_help_center(tmp_path)
    live = LiveLibrary(settings)
    assert "0.0002 BTC" in live.current().get("zh", "withdrawal-fees").summary
    rewrite(settings.facts_file, 'BTC: {fee: "0.0002 BTC"', 'BTC: {fee: "0.0003 BTC"')
    assert "0.0003 BTC" in live.current().get("zh", "withdrawal-fees").summary


def test_files_are_looked_at_no_more_often_than_configured(tmp_path):
    settings = copied_help_center(tmp_path, reload_check_seconds=3600.0)
    live = LiveLibrary(settings)
    first = live.current()
    rewrite(settings.directory / "en" / "listings.md", "title: How new coins", "title: How fresh coins")
    assert live.current() is first


def test_a_broken_edit_keeps_the_last_good_articles_and_says_why(tmp_path, caplog):
    settings = copied_help_center(tmp_path)
    live = LiveLibrary(settings)
    first = live.current()
    good_facts = settings.facts_file.read_text(encoding="utf-8")
    write_later(settings.facts_file, "example_values: [half-saved\n")
    rewrite(settings.directory / "en" / "maintenance.md", "---\nid:", "--\nid:")
    with caplog.at_level(logging.WARNING, logger="bot.helpcenter.library"):
        assert live.current() is first
    assert "still serving the articles read before" in caplog.text

    write_later(settings.facts_file, good_facts)
    with caplog.at_level(logging.WARNING, logger="bot.helpcenter.library"):
        repaired = live.current()
    assert repaired is not first
    assert repaired.get("en", "maintenance") is None and repaired.get("ko", "maintenance") is not None
    assert "help-center article left out" in caplog.text and "en/maintenance.md" in caplog.text


def test_without_a_readable_facts_file_nothing_is_served(tmp_path):
    settings = copied_help_center(tmp_path)
    settings.facts_file.unlink()
    with pytest.raises(HelpCenterError, match="cannot read the facts file"):
        LiveLibrary(settings).current()
