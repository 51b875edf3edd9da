"""The reports page's figures: response and resolution times, CSAT and its comments, SLA breaches, cases by intent.

Computed from the cases opened in the last ``days`` days, with the same SLA rule the queue
shows (``bot.desk.sla``) and the same team routing; medians in seconds.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.cases.queue import ReplyTimes, reply_times
from bot.cases.routing import Routing
from bot.cases.schema import cases
from bot.cases.store import RESOLVED, Case, utcnow
from bot.desk.sla import BREACHED, OVERDUE, sla_state_at

MAX_DAYS = 366
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Timing:
    """Cases of one group, and the medians of their first response and resolution (None: none yet)."""

    cases: int
    first_response_seconds: float | None
    resolution_seconds: float | None


def build_report(engine: Engine, routing: Routing, sla_minutes: dict[int, int], days: int) -> dict[str, Any]:
    now = utcnow()
    since = now - timedelta(days=days)
    with engine.connect() as conn:
        opened = [Case.from_row(r) for r in conn.execute(select(cases).where(cases.c.created_at >= since)).all()]
    firsts = {case_id: t.first_reply_at for case_id, t in reply_times(engine, [c.id for c in opened]).items()}
    by_priority: dict[str, list[Case]] = defaultdict(list)
    by_team: dict[str, list[Case]] = defaultdict(list)
    breaches: Counter[str] = Counter()
    for case in opened:
        by_priority[f"P{case.priority}"].append(case)
        by_team[routing.team_of(case)].append(case)
        if _breached(case, firsts.get(case.id), sla_minutes, now):
            breaches[case.created_at.date().isoformat()] += 1
    ratings = Counter(c.rating for c in opened if c.rating is not None)
    return {
        "days": days,
        "since": since.isoformat(),
        "cases": len(opened),
        "by_priority": {key: _timing(group, firsts).__dict__ for key, group in sorted(by_priority.items())},
        "by_team": {team: _timing(by_team.get(team, []), firsts).__dict__ for team in routing.teams},
        "csat": {str(score): ratings.get(score, 0) for score in range(1, 6)},
        "csat_comments": [
            {"case_id": c.id, "rating": c.rating, "comment": c.rating_comment}
            for c in sorted(opened, key=lambda c: c.rated_at or c.created_at, reverse=True)
            if c.rating is not None and c.rating_comment
        ],
        "sla_breaches_per_day": dict(sorted(breaches.items())),
        "cases_by_intent": dict(Counter(c.intent for c in opened).most_common()),
    }


def report_csv(report: dict[str, Any]) -> str:
    """The report as one CSV table: section, group, measure, value."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["section", "group", "measure", "value"])
    for section in ("by_priority", "by_team"):
        for group, timing in report[section].items():
            for measure, value in timing.items():
                writer.writerow([section, group, measure, "" if value is None else value])
    for section, measure in (("csat", "ratings"), ("sla_breaches_per_day", "breaches"), ("cases_by_intent", "cases")):
        for group, value in report[section].items():
            writer.writerow([section, group, measure, value])
    for comment in report["csat_comments"]:
        writer.writerow(["csat_comments", comment["case_id"], f"rating_{comment['rating']}", _cell(comment["comment"])])
    return out.getvalue()


def _cell(text: str) -> str:
    """Customer text as a CSV cell a spreadsheet shows and never runs: a leading = + - @ would start a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _breached(case: Case, first_reply_at: datetime | None, sla_minutes: dict[int, int], now: datetime) -> bool:
    """The SLA the queue shows: breached, or still running past its due time."""
    return sla_state_at(case, ReplyTimes(first_reply_at, None), sla_minutes, now) in (BREACHED, OVERDUE)


def _timing(group: Iterable[Case], firsts: dict[str, datetime | None]) -> Timing:
    members = list(group)
    responses = [(first - c.created_at).total_seconds() for c in members if (first := firsts.get(c.id))]
    resolutions = [
        (c.resolved_at - c.created_at).total_seconds() for c in members if c.status == RESOLVED and c.resolved_at
    ]
    return Timing(len(members), _median(responses), _median(resolutions))


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None
