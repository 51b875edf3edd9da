"""The gate every customer message passes before Rasa sees it, on every channel.

It redacts secrets (so the tracker, logs and cases never hold them), decides whether the
bot or a human owns the conversation, and keeps the open case's transcript.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from bot.cases.redaction import Redaction, redact
from bot.cases.store import RATING_CHOICES, Case, CaseStore, TranscriptLine
from bot.language.script import detect
from bot.metrics import cases as case_metrics
from bot.metrics import messages

logger = logging.getLogger(__name__)

SECRET_NOTICE = "utter_secret_redacted"
AMBIGUOUS_HASH_NOTICE = "utter_ambiguous_hash"
RATING_THANKS = "utter_rating_thanks"  # asks for an optional comment, with a "Skip" button
RATING_COMMENT_THANKS = "utter_rating_comment_thanks"
RATING_COMMENT_SKIPPED = "utter_rating_comment_skipped"
RATING_WINDOW = timedelta(days=2)  # a bare 1-5 this soon after resolution answers the rating question
SKIP_COMMENT = "/skip_comment"  # the payload of the thanks' "Skip" button
TXID_SLOT = "txid"


@dataclass(frozen=True)
class Admission:
    """What to do with one customer message.

    ``text`` is the redacted text, the only form anything may store or forward.
    ``notices`` are domain response names to send the customer first (rotate a secret,
    resend a hash). ``human_case`` is set when an agent owns the conversation: the bot
    stays silent and the message has already been forwarded to the case. ``rated_case``
    is set when the message was the 1-5 rating of a just-resolved case; ``comment_answered``
    when it was the "Skip" button of the comment question, or the comment an earlier try of
    the same message kept (thanked again). ``comment_case`` is set when the
    message may be the comment on a rating just given: the channel asks the NLU whether it
    is a new problem before it is kept (``rasa_bridge.rating_comment``). ``language`` is the
    language the message makes clear (None when it does not: a txid, an amount, "ok"); for an
    answer to the rating question that makes none clear ("4", Skip), the rated case's language.
    ``agent_resolved`` is the customer's latest case when an agent worked and resolved it
    recently: a form the bot was in when the agent took over is over (``rasa_bridge``).
    ``message_id``: the channel's id of the message, which keys its line on a case.
    """

    text: str
    redaction: Redaction
    notices: tuple[str, ...]
    human_case: Case | None
    rated_case: Case | None = None
    language: str | None = None
    comment_case: Case | None = None
    comment_answered: bool = False
    agent_resolved: Case | None = None
    message_id: str | None = None

    @property
    def for_bot(self) -> bool:
        return self.human_case is None and self.rated_case is None and not self.comment_answered


class ConversationGate:
    """Redaction, handoff check and transcript, in one place shared by all channels.

    ``comment_window``: how long after a rating the customer's next message may be its comment.
    """

    def __init__(self, store: CaseStore, *, comment_window: timedelta = timedelta(minutes=10)) -> None:
        self._store = store
        self._comment_window = comment_window

    @property
    def store(self) -> CaseStore:
        return self._store

    async def admit(
        self,
        *,
        channel: str,
        sender_id: str,
        text: str,
        txid_expected: bool = False,
        redacted_before: tuple[str, ...] = (),
        message_id: str | None = None,
    ) -> Admission:
        """Redact ``text`` and record it on the customer's active case, if any.

        One trip off the event loop for all of it (the redaction is CPU work, the rest
        database calls): on a busy server each trip waits for the loop to let it start and
        to take its result back, which took longer than the work itself.
        ``redacted_before`` are kinds of secret the channel took out of the message before
        storing it (Telegram's inbox): the customer is warned about them as well.
        ``message_id`` (the channel's, as Rasa gets it) keeps the line once when the message is tried again.
        """
        messages.received(channel)
        admission = await asyncio.to_thread(
            self._admit, channel, sender_id, text, txid_expected, redacted_before, message_id
        )
        if admission.redaction.kinds:
            logger.info("redacted %s from %s message of %s", ",".join(admission.redaction.kinds), channel, sender_id)
        return admission

    def _admit(
        self,
        channel: str,
        sender_id: str,
        text: str,
        txid_expected: bool,
        redacted_before: tuple[str, ...],
        message_id: str | None,
    ) -> Admission:
        redaction = redact(valid_unicode(text), txid_expected=txid_expected)
        if redacted_before:
            redaction = replace(redaction, kinds=tuple(dict.fromkeys((*redacted_before, *redaction.kinds))))
        notices: list[str] = []
        if redaction.found_secret:
            notices.append(SECRET_NOTICE)
        if redaction.ambiguous_hash:
            notices.append(AMBIGUOUS_HASH_NOTICE)
        language = detect(redaction.text)
        case = self._store.active_case(channel, sender_id)
        comment_case = agent_resolved = None
        if case is None:
            latest = self._store.latest_case(channel, sender_id)
            answer = self._rating_answer(latest, sender_id, redaction, notices, language, message_id)
            if answer is not None:
                return answer
            if latest is not None and self._awaits_comment(latest):
                comment_case = latest
            if latest is not None and _resolved_by_agent(latest):
                agent_resolved = latest
        else:
            line = TranscriptLine(role="customer", text=redaction.text, author=sender_id, key=message_id)
            self._store.record_message(case.id, line)
            if language is not None and language != case.language:  # notices on the agent's behalf follow it
                self._store.set_language(case.id, language)
        return Admission(
            text=redaction.text,
            redaction=redaction,
            notices=tuple(notices),
            human_case=case if case is not None and case.status == "claimed" else None,
            language=language,
            comment_case=comment_case,
            agent_resolved=agent_resolved,
            message_id=message_id,
        )

    def _rating_answer(
        self,
        latest: Case | None,
        sender_id: str,
        redaction: Redaction,
        notices: list[str],
        language: str | None,
        message_id: str | None,
    ) -> Admission | None:
        """The admission of a 1-5 rating or the comment's Skip (thanked in the case's language: "4" names none)."""
        answer_language = language or (latest.language if latest is not None else None)
        if redaction.text.strip() == SKIP_COMMENT:
            if latest is not None and self._awaits_comment(latest):
                self._store.comment_on_rating(latest.id, "")
            skipped = (*notices, RATING_COMMENT_SKIPPED)
            return Admission(redaction.text, redaction, skipped, None, language=answer_language, comment_answered=True)
        if self._kept_as_comment(latest, message_id):
            thanks = (*notices, RATING_COMMENT_THANKS)
            return Admission(redaction.text, redaction, thanks, None, language=answer_language, comment_answered=True)
        rated = self._take_rating(latest, sender_id, redaction.text, message_id)
        if rated is None:
            return None
        thanks = (*notices, RATING_THANKS)
        return Admission(redaction.text, redaction, thanks, None, rated_case=rated, language=answer_language)

    async def keep_comment(self, case: Case, sender_id: str, text: str, message_id: str | None = None) -> bool:
        """Store ``text`` (redacted already) as the comment on the case's rating, and on its transcript.

        False when another message was taken as the answer first. The line keyed by
        ``message_id`` tells a try of the same message run again that it was kept.
        """
        line = TranscriptLine(role="customer", text=text, author=sender_id, key=message_id)
        return await asyncio.to_thread(self._store.comment_on_rating, case.id, text, line)

    async def pass_over_comment(self, case: Case) -> None:
        """The message after the rating was not a comment (a new problem, a command): the question is closed."""
        await asyncio.to_thread(self._store.comment_on_rating, case.id, "")

    def _kept_as_comment(self, case: Case | None, message_id: str | None) -> bool:
        """An earlier try of this message was kept as the comment on the case's recent rating (asked only then)."""
        if case is None or message_id is None or not case.rating_comment or not self._rated_lately(case):
            return False
        return self._store.holds_line(case.id, message_id)

    def _awaits_comment(self, case: Case) -> bool:
        """True while the case's rating is this recent and its comment question is unanswered."""
        if case.status != "resolved" or case.rating is None or case.rating_comment is not None:
            return False
        return self._rated_lately(case)

    def _rated_lately(self, case: Case) -> bool:
        """Rated within the comment window: the customer's next message may still be about the rating."""
        return case.rated_at is not None and datetime.now(timezone.utc) - case.rated_at <= self._comment_window

    def _take_rating(self, case: Case | None, sender_id: str, text: str, message_id: str | None) -> Case | None:
        """Store a bare 1-5 answer as the rating of the customer's recently resolved (latest), unrated ``case``.

        A try of the same message run again (a crash, a database blip before the thanks went
        out) finds its own rating: it is thanked again, not taken for the rating's comment.
        """
        answer = text.strip().rstrip(".!")
        if answer not in RATING_CHOICES:
            return None
        if case is None or not _recently_resolved(case):
            return None
        if case.rating is not None:
            return case if message_id is not None and self._store.holds_line(case.id, message_id) else None
        line = TranscriptLine(role="customer", text=answer, author=sender_id, key=message_id)
        self._store.rate(case.id, int(answer), line)
        case_metrics.rated(int(answer))
        return case

    async def record_bot_reply(self, *, channel: str, sender_id: str, text: str, key: str | None = None) -> None:
        """Keep what the bot said on the customer's active case, so agents see both sides (and count it).

        ``key`` (``line_keys``) keeps it once when its turn runs again.
        """
        messages.sent(channel, "bot")
        await asyncio.to_thread(self._record_bot_line, channel, sender_id, text, key)

    def _record_bot_line(self, channel: str, sender_id: str, text: str, key: str | None) -> None:
        """Look the case up and record the line in one trip off the event loop (timed when it is recorded)."""
        case = self._store.active_case(channel, sender_id)
        if case is not None:
            self._store.record_message(case.id, TranscriptLine(role="bot", text=text, key=key))


def valid_unicode(text: str) -> str:
    """``text`` with lone surrogates (JSON may escape one alone) as U+FFFD and NUL characters as spaces.

    Nothing downstream can encode the first, and PostgreSQL stores no NUL: a theft report
    with one opened no case, at every try. A space, not nothing: words a NUL parted stay
    apart, so redaction still sees "code is 482913" as a code and a seed phrase as words.
    """
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace").replace("\x00", " ")


def valid_strings(value: Any) -> Any:
    """``value`` (parsed JSON, a dataclass's fields) with every string in it, keys too, made ``valid_unicode``."""
    if isinstance(value, str):
        return valid_unicode(value)
    if isinstance(value, dict):
        return {valid_strings(key): valid_strings(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(valid_strings(item) for item in value)
    return value


def _recently_resolved(case: Case) -> bool:
    """Resolved within the rating window: the rating question and the bot's first turn after it concern it."""
    if case.status != "resolved" or case.resolved_at is None:
        return False
    return datetime.now(timezone.utc) - case.resolved_at <= RATING_WINDOW


def _resolved_by_agent(case: Case) -> bool:
    """An agent owned the case and resolved it recently (the bot's later turns are newer)."""
    return case.assignee is not None and _recently_resolved(case)
