"""The reports page and its figures (JSON for the charts, CSV to download)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from bot.desk import inputs
from bot.desk.context import DESK
from bot.desk.reports import MAX_DAYS, build_report, report_csv
from bot.desk.views import STATIC, routing_in_force

DEFAULT_REPORT_DAYS = 30


async def reports_page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "reports.html")


async def reports(request: web.Request) -> web.StreamResponse:
    """GET /api/reports?days=30 (JSON) and /api/reports.csv?days=30 (a download)."""
    context = request.app[DESK]
    days = _days(request.query.get("days", str(DEFAULT_REPORT_DAYS)))
    routing = await routing_in_force(request)
    report = await asyncio.to_thread(build_report, context.engine, routing, context.settings.sla_minutes, days)
    if request.path.endswith(".csv"):
        return web.Response(
            text=report_csv(report),
            content_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="desk-report-{days}d.csv"'},
        )
    return web.json_response(report)


def _days(raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_DAYS:
        raise inputs.bad_request(f"days must be a whole number from 1 to {MAX_DAYS}")
    return int(raw)
