"""The text and buttons of a case alert in the agents' group (HTML parse mode)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.cases.agents import OnDuty
from bot.cases.priorities import label
from bot.cases.store import Case
from bot.language import NAMES

MARKERS = {1: "\U0001f534", 2: "\U0001f7e0", 3: "\U0001f7e1", 4: "\u26aa"}  # red, orange, yellow, white
# Telegram takes 4096 characters a message: cap what the customer wrote, never the structure.
SUMMARY_CHARS, DETAIL_CHARS, MAX_DETAILS, MAX_ATTACHMENTS, LINE_CHARS = 500, 100, 20, 10, 3500
DIGEST_SUMMARY_CHARS = 200  # a digest's summaries and update lines
DIGEST_DETAILED = 10  # new cases a digest shows in two lines; later ones by id
DIGEST_CHARS, HEADER_CHARS = 4000, 160  # a digest stays within Telegram's 4096 characters
MENTION_CHARS = 600  # agents called by name in one message (about 10 of them); the rest are counted


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marked when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def shown(value: Any) -> str:
    """A detail as the alert shows it: a list (the help-center articles tried) as its items, comma-separated."""
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def mention(agent: str, telegram_user_id: int | None) -> str:
    if telegram_user_id is None:
        return escape(agent)
    return f'<a href="tg://user?id={telegram_user_id}">{escape(agent)}</a>'


def case_header(case: Case) -> str:
    """Priority, id, problem, channel and language: the line an agent triages by."""
    return (
        f"{MARKERS.get(case.priority, '')} <b>{label(case.priority)}</b> \u00b7 <code>{case.id}</code> \u00b7 "
        f"{escape(case.intent)} \u00b7 {escape(case.channel)} \u00b7 {NAMES.get(case.language, case.language)}"
    )


def alert_text(
    case: Case,
    attachments: Sequence[dict[str, Any]],
    *,
    mentions: Iterable[str] = (),
    headline: str | None = None,
    desk_origin: str | None = None,
) -> str:
    """Everything an agent needs to act without opening anything else."""
    lines = []
    if headline:
        lines.append(f"<b>{escape(headline)}</b>")
    lines.append(case_header(case))
    lines.append(escape(clip(case.summary, SUMMARY_CHARS)))
    if case.details:
        lines.append("")
        lines.append("<b>Details</b>")
        items = list(case.details.items())
        lines.extend(
            f"\u2022 {escape(clip(str(k).replace('_', ' '), 30))}: {escape(clip(shown(v), DETAIL_CHARS))}"
            for k, v in items[:MAX_DETAILS]
        )
        if len(items) > MAX_DETAILS:
            lines.append(f"\u2022 \u2026 {len(items) - MAX_DETAILS} more on the desk")
    if attachments:
        lines.append("")
        names = [_attachment(case.id, a, desk_origin) for a in attachments[:MAX_ATTACHMENTS]]
        more = f" and {len(attachments) - MAX_ATTACHMENTS} more" if len(attachments) > MAX_ATTACHMENTS else ""
        lines.append("<b>Attachments</b>: " + ", ".join(names) + more)
    lines.append(f"Waiting since {case.created_at:%H:%M} UTC, status {case.status}")
    if desk_origin:
        lines.append(f'<a href="{escape(desk_origin)}/#case={case.id}">Open on the desk</a>')
    return "\n".join([*lines, *_closing(mentions, "Reply to this message to answer the customer.")])


def _attachment(case_id: str, attachment: dict[str, Any], desk_origin: str | None) -> str:
    """The file's name, linked to its download on the desk when the desk's address is known."""
    name = escape(clip(str(attachment["name"]), 40))
    if not desk_origin or "id" not in attachment:
        return name
    return f'<a href="{escape(desk_origin)}/api/cases/{case_id}/attachments/{attachment["id"]}">{name}</a>'


def alert_buttons(case_id: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Claim", callback_data=f"claim:{case_id}"),
                InlineKeyboardButton("Resolve", callback_data=f"resolve:{case_id}"),
            ]
        ]
    )


@dataclass(frozen=True)
class Digest:
    """One message of what waited for the budget, and how much of each kind it names (a prefix of each)."""

    text: str
    detailed: int  # the first new cases, in two lines and with a Claim button each
    new: int
    unclaimed: int
    updates: int


def digest_text(
    new: Sequence[Case],
    unclaimed: Sequence[Case] = (),
    updates: Sequence[str] = (),
    *,
    mentions: Iterable[str] = (),
    desk_origin: str | None = None,
) -> Digest:
    """New cases, P1 cases still unclaimed, then update lines: as much as one message holds.

    The first new cases get two lines each (priority, id, problem, channel, language,
    summary, desk link), later ones their ids by priority, so during a flood every waiting
    case is named within a message or two; what does not fit waits for the next message.
    """
    closing = _closing(mentions, "Press Claim on a case; reply to its claim notice to answer the customer.")
    room = DIGEST_CHARS - HEADER_CHARS - len("\n".join(closing))
    message = _Lines(room)
    detailed = 0
    for case in new[:DIGEST_DETAILED]:  # in at most half the message: the other half names the rest
        summary = escape(clip(case.summary, DIGEST_SUMMARY_CHARS))
        if desk_origin:
            summary += f' <a href="{escape(desk_origin)}/#case={case.id}">desk</a>'
        if not message.add("", case_header(case), summary, keep=room // 2):
            break
        detailed += 1
    shown = detailed + message.ids(new[detailed:], _also_new)
    still = message.ids(unclaimed, lambda _: "<b>Still unclaimed, everyone please look</b>") if shown == len(new) else 0
    lines = 0
    if shown == len(new) and still == len(unclaimed):
        for line in updates:
            if not message.add(*([""] if lines == 0 else []), "\u2022 " + escape(clip(line, DIGEST_SUMMARY_CHARS))):
                break
            lines += 1
    counted = [
        f"{n} {one if n == 1 else many}"
        for n, one, many in ((shown, "new case", "new cases"), (still, "still unclaimed", "still unclaimed"),
                             (lines, "update", "updates"))
        if n
    ]  # fmt: skip
    header = f"<b>{', '.join(counted)} at once</b> (the bot may post about 20 messages a minute here; the desk has all)"
    return Digest("\n".join([header, *message.lines, *closing]), detailed, shown, still, lines)


def _also_new(case: Case) -> str:
    return f"{MARKERS.get(case.priority, '')} <b>{label(case.priority)}</b> also new"


class _Lines:
    """A message's lines, kept within ``room`` characters."""

    def __init__(self, room: int) -> None:
        self.lines: list[str] = []
        self._room = room

    def add(self, *lines: str, keep: int = 0) -> bool:
        """Add the lines if they fit, leaving ``keep`` characters free."""
        size = sum(len(line) + 1 for line in lines)
        if size > self._room - keep:
            return False
        self.lines.extend(lines)
        self._room -= size
        return True

    def ids(self, cases: Sequence[Case], title: Callable[[Case], str]) -> int:
        """Cases as ``title: CX-.., CX-..``, a new line where the title changes; how many fitted."""
        previous = None
        for count, case in enumerate(cases):
            heading = title(case)
            if heading == previous:
                more = f", {case.id}"
                if len(more) > self._room:
                    return count
                self.lines[-1] += more
                self._room -= len(more)
            elif not self.add("", f"{heading}: {case.id}"):
                return count
            previous = heading
        return len(cases)


def _closing(mentions: Iterable[str], how_to_answer: str) -> list[str]:
    """Who is called (on duty), then how an agent answers from the group.

    A large team is named up to ``MENTION_CHARS``, then counted: the alert itself must fit.
    """
    tags = list(mentions)
    named: list[str] = []
    for tag in tags:
        if sum(len(t) + 1 for t in named) + len(tag) > MENTION_CHARS:
            break
        named.append(tag)
    more = f" and {len(tags) - len(named)} more" if len(named) < len(tags) else ""
    return [*(["", "On duty: " + " ".join(named) + more] if tags else []), how_to_answer]


def digest_buttons(case_ids: Sequence[str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(f"Claim {case_id}", callback_data=f"claim:{case_id}")] for case_id in case_ids]
    )


def on_duty_mentions(agents: Iterable[OnDuty]) -> list[str]:
    return [mention(a.agent, a.telegram_user_id) for a in agents]
