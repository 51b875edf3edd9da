"""The agents' alert text: complete, escaped and always within Telegram's 4096 characters."""

from datetime import datetime, timezone

from bot.cases.agents import OnDuty
from bot.cases.store import Case
from bot.desk.alerts import alert_buttons, alert_text, digest_buttons, digest_text, mention, on_duty_mentions
from bot.desk.destinations import update_line

NOW = datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc)


def _case(**overrides) -> Case:
    values = {
        "id": "CX-7K3M9Q",
        "intent": "suspected_theft",
        "priority": 1,
        "status": "open",
        "channel": "telegram",
        "sender_id": "tg:1:1",
        "summary": "Someone withdrew my <b>USDT</b>",
        "details": {"coin": "USDT", "network": "TRC20"},
        "assignee": None,
        "rating": None,
        "created_at": NOW,
        "updated_at": NOW,
        "claimed_at": None,
        "resolved_at": None,
    }
    values.update(overrides)
    return Case(**values)


def test_alert_has_everything_an_agent_needs_and_escapes_customer_text():
    on_duty = [OnDuty("@alice", "telegram", 42, NOW), OnDuty("bob", "desk", None, NOW)]
    text = alert_text(_case(), [{"name": "<img>.png"}], mentions=on_duty_mentions(on_duty))
    assert text.startswith("\U0001f534 <b>P1</b> \u00b7 <code>CX-7K3M9Q</code> \u00b7 suspected_theft")
    assert "Someone withdrew my &lt;b&gt;USDT&lt;/b&gt;" in text
    assert "\u2022 coin: USDT\n\u2022 network: TRC20" in text
    assert "<b>Attachments</b>: &lt;img&gt;.png" in text
    assert 'On duty: <a href="tg://user?id=42">@alice</a> bob' in text
    assert "Waiting since 03:04 UTC" in text
    buttons = alert_buttons("CX-7K3M9Q").inline_keyboard[0]
    assert [(b.text, b.callback_data) for b in buttons] == [
        ("Claim", "claim:CX-7K3M9Q"),
        ("Resolve", "resolve:CX-7K3M9Q"),
    ]


def test_a_huge_case_still_fits_one_telegram_message():
    details = {f"field_{i}": "x" * 1000 for i in range(60)}
    attachments = [{"name": "y" * 300 + ".png"} for _ in range(80)]
    text = alert_text(_case(summary="z" * 10_000, details=details), attachments, mentions=["@a"] * 5)
    assert len(text) < 4096
    assert "40 more on the desk" in text and "and 70 more" in text


def test_update_lines():
    case = _case(status="claimed", assignee="@alice")
    assert update_line(case, "customer_message", {"text": "hurry"}) == "Customer on CX-7K3M9Q: hurry"
    assert update_line(case, "case_claimed", {"agent": "@alice"}) == "CX-7K3M9Q claimed by @alice"
    assert update_line(case, "case_updated", {"priority": 2}) == "CX-7K3M9Q priority is now P2"
    assert update_line(case, "case_updated", {"details": {"txid": "ab"}}) == "New details on CX-7K3M9Q: txid: ab"
    assert update_line(case, "something_else", {}) is None


def test_attachment_links_and_desk_link_when_the_desk_address_is_known():
    text = alert_text(_case(), [{"id": 3, "name": "a.png"}], desk_origin="https://desk.example")
    assert '<a href="https://desk.example/api/cases/CX-7K3M9Q/attachments/3">a.png</a>' in text
    assert '<a href="https://desk.example/#case=CX-7K3M9Q">Open on the desk</a>' in text


def test_a_digest_of_ten_huge_cases_fits_one_message_with_a_claim_button_each():
    cases = [_case(id=f"CX-00000{i}", summary="<i>" + "z" * 5000, priority=1 + i % 2) for i in range(10)]
    digest = digest_text(cases, mentions=["@alice"], desk_origin="https://desk.example")
    text = digest.text
    assert len(text) < 4096 and text.startswith("<b>10 new cases at once</b>")
    assert digest.new == 10 and 0 < digest.detailed < 10  # the first in full, the rest by id in the other half
    assert "\U0001f534 <b>P1</b> \u00b7 <code>CX-000000</code>" in text
    assert "\U0001f7e0 <b>P2</b> \u00b7 <code>CX-000001</code>" in text
    assert "&lt;i&gt;zzz" in text and "<i>" not in text
    assert '<a href="https://desk.example/#case=CX-000000">desk</a>' in text and "On duty: @alice" in text
    assert all(case.id in text for case in cases)
    buttons = digest_buttons([c.id for c in cases[: digest.detailed]]).inline_keyboard
    assert [(row[0].text, row[0].callback_data) for row in buttons][:2] == [
        ("Claim CX-000000", "claim:CX-000000"),
        ("Claim CX-000001", "claim:CX-000001"),
    ]


def test_a_flood_digest_names_as_many_cases_as_one_message_holds_then_stops():
    cases = [_case(id=f"CX-{i:06d}", summary="z" * 5000, priority=1 if i < 250 else 3) for i in range(400)]
    unclaimed = [_case(id="CX-UNCLMD")]
    digest = digest_text(cases, unclaimed, ["Customer on CX-000001: hurry"], mentions=["@alice"])
    assert len(digest.text) <= 4096
    assert 150 < digest.new < 400 and digest.unclaimed == digest.updates == 0  # new cases first; the rest waits
    named = [case.id for case in cases if case.id in digest.text]
    assert named == [case.id for case in cases[: digest.new]], "a prefix, most urgent first, each named"
    assert "\U0001f534 <b>P1</b> also new: CX-0000" in digest.text
    assert digest.text.startswith(f"<b>{digest.new} new cases at once</b>")


def test_a_digest_adds_unclaimed_p1_cases_and_update_lines_after_the_new_cases():
    new = [_case(id="CX-NEW001", priority=2)]
    unclaimed = [_case(id="CX-OLD001"), _case(id="CX-OLD002")]
    updates = [f"New details on CX-UPD{i:03d}: txid: " + "ab" * 40 for i in range(100)]
    digest = digest_text(new, unclaimed, updates, desk_origin="https://desk.example")
    assert (digest.detailed, digest.new, digest.unclaimed) == (1, 1, 2) and 10 < digest.updates < 100
    assert len(digest.text) <= 4096
    assert "<b>Still unclaimed, everyone please look</b>: CX-OLD001, CX-OLD002" in digest.text
    assert f"\u2022 New details on CX-UPD{digest.updates - 1:03d}" in digest.text
    assert f"CX-UPD{digest.updates:03d}" not in digest.text
    assert digest.text.startswith(f"<b>1 new case, 2 still unclaimed, {digest.updates} updates at once</b>")


def test_the_help_center_articles_tried_read_as_a_list():
    details = {"description": "withdrawal fee", "articles_tried": ["withdrawal-fees", "trading-fees"]}
    text = alert_text(_case(intent="fees_and_limits", priority=4, details=details), [])
    assert "\u2022 articles tried: withdrawal-fees, trading-fees" in text


def test_a_long_list_of_agents_is_cut_and_counted_so_the_alert_and_the_digest_still_fit():
    everyone = [mention(f"agent {uid}", uid) for uid in range(1_000_000_000, 1_000_000_080)]
    digest = digest_text([_case(id="CX-NEW001", priority=2)], [_case(id="CX-OLD001")], mentions=everyone)
    assert (digest.new, digest.unclaimed) == (1, 1) and len(digest.text) <= 4096
    details = {f"field {i}": "x" * 200 for i in range(30)}
    alert = alert_text(_case(summary="y" * 600, details=details), [{"name": "z" * 60}] * 12, mentions=everyone)
    assert len(alert) <= 4096 and alert.count("tg://user?id=") < 80
    assert f"and {80 - alert.count('tg://user?id=')} more" in alert
