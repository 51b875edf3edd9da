"""The text and buttons of a case alert in the agents' group (HTML parse mode)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.cases.agents import OnDuty
from bot.cases.priorities import label
from bot.cases.store import Case

MARKERS = {1: "\U0001f534", 2: "\U0001f7e0", 3: "\U0001f7e1", 4: "\u26aa"}  # red, orange, yellow, white


def mention(agent: str, telegram_user_id: int | None) -> str:
    if telegram_user_id is None:
        return escape(agent)
    return f'<a href="tg://user?id={telegram_user_id}">{escape(agent)}</a>'


def alert_text(
    case: Case,
    attachments: Sequence[dict[str, Any]],
    *,
    mentions: Iterable[str] = (),
    headline: str | None = None,
    case_url: str | None = None,
) -> str:
    """Everything an agent needs to act without opening anything else."""
    lines = []
    if headline:
        lines.append(f"<b>{escape(headline)}</b>")
    lines.append(
        f"{MARKERS.get(case.priority, '')} <b>{label(case.priority)}</b> \u00b7 <code>{case.id}</code> \u00b7 "
        f"{escape(case.intent)} \u00b7 {escape(case.channel)}"
    )
    lines.append(escape(case.summary))
    if case.details:
        lines.append("")
        lines.append("<b>Details</b>")
        lines.extend(f"\u2022 {escape(str(k).replace('_', ' '))}: {escape(str(v))}" for k, v in case.details.items())
    if attachments:
        lines.append("")
        lines.append("<b>Attachments</b>: " + ", ".join(escape(str(a["name"])) for a in attachments))
    lines.append(f"Waiting since {case.created_at:%H:%M} UTC, status {case.status}")
    if case_url:
        lines.append(f'<a href="{escape(case_url)}">Open on the desk</a>')
    tags = list(mentions)
    if tags:
        lines.append("")
        lines.append("On duty: " + " ".join(tags))
    lines.append("Reply to this message to answer the customer.")
    return "\n".join(lines)


def alert_buttons(case_id: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Claim", callback_data=f"claim:{case_id}"),
                InlineKeyboardButton("Resolve", callback_data=f"resolve:{case_id}"),
            ]
        ]
    )


def on_duty_mentions(agents: Iterable[OnDuty]) -> list[str]:
    return [mention(a.agent, a.telegram_user_id) for a in agents]
