"""Canned replies: per team, in every language with the same variables, filled in for the case."""

import re
import string
from pathlib import Path

import pytest

from bot.desk.canned import CannedFileError, load_canned
from bot.desk.teams import load_routing
from bot.language import LANGUAGES
from tests.auxil.desk_app import context_of, running_desk, signed_in

TEAMS = load_routing().teams
SCRIPTS = {"ko": re.compile(r"[\uac00-\ud7a3]"), "zh": re.compile(r"[\u4e00-\u9fff]")}


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_canned_reply_is_in_every_language_with_the_same_variables():
    replies = load_canned(TEAMS)
    assert {team for r in replies for team in r.teams} == {"Security", "Funds", "KYC"}
    for reply in replies:
        assert sorted(reply.texts) == sorted(LANGUAGES), reply.id
        english = _placeholders(reply.texts["en"])
        for language, script in SCRIPTS.items():
            assert _placeholders(reply.texts[language]) == english, (reply.id, language)
            assert script.search(reply.texts[language]), (reply.id, language)


@pytest.mark.parametrize(
    "text, problem",
    [
        ("replies:\n  - id: a\n    title: A\n    text: {en: 'hi {password}'}\n", "unknown"),
        ("replies:\n  - id: a\n    title: A\n    teams: [Sales]\n    text: {en: hi}\n", "teams"),
        ("replies:\n  - id: a\n    title: A\n    text: {ko: 안녕}\n", "English"),
        ("replies:\n  - id: a\n    title: A\n    text: {en: 'hi {'}\n", "a"),
        ("replies:\n  - {id: a, title: A, text: {en: hi}}\n  - {id: a, title: B, text: {en: yo}}\n", "unique"),
    ],
)
def test_a_canned_reply_that_breaks_a_rule_is_refused_at_start(tmp_path: Path, text: str, problem: str):
    path = tmp_path / "canned.yml"
    path.write_text(text)
    with pytest.raises(CannedFileError, match=problem):
        load_canned(TEAMS, path)


async def test_the_desk_offers_the_cases_team_replies_in_the_customers_language(sqlite_url):
    async with running_desk(sqlite_url) as server, signed_in(server, "alice") as alice:
        case = context_of(server).store.open_case(
            intent="withdrawal_stuck",
            priority=2,
            channel="rest",
            sender_id="web-kim",
            summary="출금이 멈췄어요",
            details={},
            language="ko",
        )
        offered = await (await alice.get(f"/api/cases/{case.id}/canned")).json()
        assert offered["team"] == "Funds" and offered["language"] == "ko"
        ids = [r["id"] for r in offered["replies"]]
        assert ids == ["follow_up", "send_txid", "transfer_arrived"]  # every team's and Funds', not Security's
        txid = next(r for r in offered["replies"] if r["id"] == "send_txid")
        asked = "건을 추적할 수 있도록 거래 ID(txid)와 사용하신 네트워크를 보내 주세요."
        assert txid["text"] == f"web-kim님, 문의 {case.id} {asked}"
        assert (await alice.get("/api/cases/CX-000000/canned")).status == 404
        jin = context_of(server).store.open_case(
            intent="withdrawal_stuck", priority=2, channel="telegram", sender_id="tg:88:88", summary="s",
            details={"customer_name": "Jin Park (@jin_trader)"},
        )  # fmt: skip
        follow_up = (await (await alice.get(f"/api/cases/{jin.id}/canned")).json())["replies"][0]["text"]
        assert follow_up.startswith("Hello Jin Park, ")  # greeted by name, the @username stays on the page
