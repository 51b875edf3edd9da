"""``action_answer_from_help_center``: the best article's short answer and link, and up to two more links.

It answers fees, limits and listings questions, the first reply to a login or 2FA problem
(the spec's "help-center steps, then ticket"), and ``/search <words>``, always in the
customer's language (the ``language`` slot). Then the dialogue asks "Did this solve it?"
(``help_found``); the articles shown are kept for the case (``help_articles``) and the
best one for the helpful record (``help_article``). A question asked in the middle of the
details form is answered and no article is recorded for its case: the form goes on.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.families import SEARCH_INTENT, ProblemTurn, latest_problem_turn
from bot.actions.help_access import help_search
from bot.helpcenter.errors import HelpCenterError
from bot.helpcenter.search import Hit
from bot.language import SLOT, known
from bot.nlu_components.errors import EmbeddingModelError

logger = logging.getLogger(__name__)

ANSWER = "utter_help_center_answer"
RELATED = "utter_help_center_related"
NOTHING_FOUND = "utter_help_center_nothing_found"  # to a search, or to a question during the form
NO_ARTICLE = "utter_help_center_no_article"  # to a problem: its details are asked next
SEARCH_USAGE = "utter_search_usage"  # "/search" with no words


def question_of(turn: ProblemTurn | None) -> str:
    """What to search for: the customer's words; for a problem they only chose by button, its name."""
    if turn is None:
        return ""
    if turn.description:
        return turn.description
    return "" if turn.intent == SEARCH_INTENT else turn.intent.replace("_", " ")


def related_links(hits: list[Hit]) -> str:
    """One line per further article: its title and page."""
    return "\n".join(f"\u2022 {hit.article.title}: {hit.url}" for hit in hits)


class ActionAnswerFromHelpCenter(Action):
    """Searches the help center for the customer's question and sends what it found."""

    def name(self) -> str:
        return "action_answer_from_help_center"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        turn = latest_problem_turn(tracker)
        question = question_of(turn)
        in_form = tracker.active_loop_name is not None
        searched = turn is not None and turn.intent == SEARCH_INTENT
        hits = await asyncio.to_thread(_search, question, known(tracker.get_slot(SLOT))) if question else []
        if hits:
            best = hits[0].article
            dispatcher.utter_message(response=ANSWER, title=best.title, summary=best.summary, url=hits[0].url)
            if len(hits) > 1:
                dispatcher.utter_message(response=RELATED, links=related_links(hits[1:]))
        elif searched and not question:
            dispatcher.utter_message(response=SEARCH_USAGE)
        else:
            dispatcher.utter_message(response=NOTHING_FOUND if searched or in_form else NO_ARTICLE)
        if in_form:
            return [SlotSet("help_found", bool(hits))]
        shown = [hit.article.id for hit in hits]
        tried = list(dict.fromkeys([*(tracker.get_slot("help_articles") or []), *shown]))
        return [
            SlotSet("help_found", bool(hits)),
            SlotSet("help_article", shown[0] if shown else None),
            SlotSet("help_articles", tried),
        ]


def _search(question: str, language: str) -> list[Hit]:
    """The search's hits; none while the help center or its encoder cannot be read (logged: an operator fixes it)."""
    try:
        return help_search().search(question, language)
    except (HelpCenterError, EmbeddingModelError):
        logger.exception("help-center search failed; answering without an article")
        return []
