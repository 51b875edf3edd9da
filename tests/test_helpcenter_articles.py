"""Reading articles and the facts file: what is accepted, what is refused and why."""

import pytest

from bot.helpcenter.articles import parse_article
from bot.helpcenter.errors import HelpCenterError
from bot.helpcenter.facts import load_facts

ARTICLE = """---
id: {id}
title: Withdrawal fees
language: {language}
intents: [fees_and_limits]
keywords: [fee, 429]
updated: 2026-12-02
summary: >-
  Bitcoin costs {{{{ withdrawal.BTC.fee }}}} to withdraw; only trust {{{{ official_domains }}}}.
---
## Fees

Sent by {{{{ email.sender }}}}.
"""


@pytest.fixture
def facts_file(tmp_path):
    path = tmp_path / "exchange.yml"
    path.write_text(
        "example_values: true\n"
        "exchange_name: Demo\n"
        "email: {sender: 'no-reply@{{ primary_domain }}'}\n"
        "withdrawal: {BTC: {fee: '0.0002 BTC'}}\n"
        "networks: [ERC20, TRC20]\n",
        encoding="utf-8",
    )
    return path


def facts(path):
    return load_facts(path, ("demo.example", "app.demo.example"), ("@DemoHelp",))


def write_article(tmp_path, text, language="en", name="withdrawal-fees.md"):
    path = tmp_path / language / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_facts_are_flattened_and_may_quote_the_official_domain(facts_file):
    loaded = facts(facts_file)
    assert loaded.example_values is True
    assert loaded.values["withdrawal.BTC.fee"] == "0.0002 BTC"
    assert loaded.values["networks"] == "ERC20, TRC20"
    assert loaded.values["email.sender"] == "no-reply@demo.example"
    assert loaded.values["official_domains"] == "demo.example, app.demo.example"
    assert loaded.fill("{{support_handles}} / {{ primary_domain }}") == "@DemoHelp / demo.example"
    with pytest.raises(HelpCenterError, match=r"unknown placeholder.*fees\.ETH"):
        loaded.fill("{{ fees.ETH }}")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("official_domains: [x.example]\n", "come from OFFICIAL_DOMAINS"),
        ("link: 'https://{{ withdrawal.BTC }}'\n", "may quote only"),
        ("example_values: maybe\n", "true or false"),
        ("fee:\n", "needs a value"),
        ("- just a list\n", "must be a mapping"),
    ],
)
def test_a_facts_file_that_would_mislead_is_refused(tmp_path, content, reason):
    path = tmp_path / "exchange.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(HelpCenterError, match=reason):
        facts(path)


def test_an_article_is_read_with_its_placeholders_filled(tmp_path, facts_file):
    path = write_article(tmp_path, ARTICLE.format(id="withdrawal-fees", language="en"))
    article = parse_article(path, facts(facts_file))
    assert article.id == "withdrawal-fees" and article.language == "en"
    assert article.intents == ("fees_and_limits",)
    assert article.keywords == ("fee", "429")
    assert article.summary == "Bitcoin costs 0.0002 BTC to withdraw; only trust demo.example, app.demo.example."
    assert article.body == "## Fees\n\nSent by no-reply@demo.example."
    assert article.updated.isoformat() == "2026-12-02"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("no front matter\n", "must start with front matter"),
        (ARTICLE.format(id="withdrawal-fees", language="en").replace("summary:", "summmary:"), "missing summary"),
        (ARTICLE.format(id="other-id", language="en"), "differs from the file name"),
        (ARTICLE.format(id="withdrawal-fees", language="ko"), "differs from its folder"),
        (ARTICLE.format(id="withdrawal-fees", language="fr"), "must be one of en, ko, zh"),
        (ARTICLE.format(id="withdrawal-fees", language="en").replace("{{ email.sender }}", "{{ email.from }}"),
         "unknown placeholder.*email.from"),
        (ARTICLE.format(id="withdrawal-fees", language="en").replace("2026-12-02", "soon"), "must be a date"),
        (ARTICLE.format(id="withdrawal-fees", language="en").replace("[fee, 429]", "[]"), "keywords must be"),
        (ARTICLE.format(id="withdrawal-fees", language="en").replace("intents: [fees_and_limits]", "intents: fees"),
         "intents must be"),
    ],
)
def test_a_broken_article_is_refused_with_the_reason(tmp_path, facts_file, text, reason):
    with pytest.raises(HelpCenterError, match=reason):
        parse_article(write_article(tmp_path, text), facts(facts_file))


def test_line_breaks_inside_chinese_sentences_do_not_become_spaces(tmp_path, facts_file):
    text = ARTICLE.format(id="withdrawal-fees", language="zh").replace(
        "Bitcoin costs {{ withdrawal.BTC.fee }} to withdraw; only trust {{ official_domains }}.",
        "比特币提现手续费为 {{ withdrawal.BTC.fee }}，\n  以网络为准。",
    ).replace("Sent by {{ email.sender }}.", "第一行，\n第二行。\n\n- 列表\n- 第二项")
    article = parse_article(write_article(tmp_path, text, language="zh"), facts(facts_file))
    assert article.summary == "比特币提现手续费为 0.0002 BTC，以网络为准。"
    assert article.body == "## Fees\n\n第一行，第二行。\n\n- 列表\n- 第二项"
