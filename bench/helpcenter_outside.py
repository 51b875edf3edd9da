"""The help-center search on questions written from the article titles alone (issue 14's outside review).

`bench/data/helpcenter_outside_questions.yml` holds 60 customer-style questions (20 each in
English, Korean and Chinese) written by someone who had seen only the article titles, each
labelled with the article its writer expected. They are asked of the search the bot uses
(`bot.actions.help_access.help_search`: BM25 fused with the sentence embeddings), in the
question's language, as a customer's message is. Top-1: the bot's first link is the expected
article; top-3: it is among the three links; no answer: the search found nothing.

    python -m bench.helpcenter_outside      # a table per language, then every miss
"""
from pathlib import Path

import yaml

from bot.actions.help_access import help_search
from bot.helpcenter.articles import LANGUAGES

QUESTIONS = Path(__file__).resolve().parent / "data" / "helpcenter_outside_questions.yml"


def questions() -> dict[str, list[dict[str, str]]]:
    """Per language: the questions as ``{"q": text, "expect": article id}``."""
    return yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))


def answers(asked: dict[str, list[dict[str, str]]]) -> dict[str, list[tuple[dict[str, str], list[str]]]]:
    """Per language: each question with the ids of the (up to three) articles the bot links."""
    search = help_search()
    return {language: [(q, [hit.article.id for hit in search.search(q["q"], language)]) for q in asked[language]]
            for language in LANGUAGES}


def report(answered: dict[str, list[tuple[dict[str, str], list[str]]]]) -> str:
    lines = ["| language | questions | top-1 | top-3 | no answer |", "|---|---|---|---|---|"]
    for language, rows in answered.items():
        top1 = sum(ids[:1] == [q["expect"]] for q, ids in rows)
        top3 = sum(q["expect"] in ids for q, ids in rows)
        empty = sum(not ids for _, ids in rows)
        lines.append(f"| {language} | {len(rows)} | {top1 / len(rows):.2f} ({top1}) | {top3 / len(rows):.2f} ({top3}) "
                     f"| {empty} |")
    lines += ["", "Misses (expected article not first): question -> expected; linked"]
    for language, rows in answered.items():
        lines += [f"- {language}: {q['q']!r} -> {q['expect']}; {', '.join(ids) or 'nothing'}"
                  for q, ids in rows if ids[:1] != [q["expect"]]]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(answers(questions())))
